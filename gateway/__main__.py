"""python -m gateway: the front door on OMS_GRPC_PORT."""

import asyncio
import signal

from gateway.bootstrap import run
from streams.service import begin_service, exit_if_stuck
from streams.settings import Settings
from topology.service import create_topics, start_metrics


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        if not stop.is_set():
            stop.set()
            exit_if_stuck()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop)
    return stop


begin_service("gateway")
settings = Settings.from_env()
start_metrics("gateway", settings)
create_topics(settings)
raise SystemExit(asyncio.run(run(settings, _stop_on_signals)))
