"""python -m gateway: the front door on OMS_GRPC_PORT."""

import asyncio
import signal

from gateway.bootstrap import run
from streams.service import exit_if_stuck
from topology.config import load_or_exit
from topology.registry import service
from topology.service import begin, create_topics_or_exit, start_metrics


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


settings = load_or_exit()
begin("gateway", settings)
start_metrics("gateway", settings)
create_topics_or_exit(settings, service=service("gateway"))
raise SystemExit(asyncio.run(run(settings, _stop_on_signals)))
