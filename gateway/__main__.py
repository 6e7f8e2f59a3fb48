"""python -m gateway: the front door on OMS_GRPC_PORT."""

import asyncio
import signal

from gateway.bootstrap import run
from streams.service import configure_logging, create_topics, die_with_parent
from streams.settings import Settings


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


die_with_parent()
configure_logging("gateway")
settings = Settings.from_env()
create_topics(settings)
raise SystemExit(asyncio.run(run(settings, _stop_on_signals)))
