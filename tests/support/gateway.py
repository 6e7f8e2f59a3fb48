"""A gateway built by gateway.bootstrap over in-memory ports (tests/support/
fakes.py), served on free ports in the test's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from gateway.bootstrap import Gateway, bootstrap
from streams.metrics import Metrics
from tests.support.fakes import InMemoryEventLog, InMemoryReadModel, InMemoryWorkflowBacklog
from topology.config import Config


@asynccontextmanager
async def serving(
    event_log: InMemoryEventLog,
    read_model: InMemoryReadModel,
    max_calls: int = 100,
    workflow_backlog: InMemoryWorkflowBacklog | None = None,
    metrics: Metrics | None = None,
    **settings: object,
) -> AsyncIterator[tuple[Gateway, grpc.aio.Channel]]:
    """`settings`: Config fields besides the ports (auth, limits). The order
    workflow is not behind unless `workflow_backlog` says so."""
    gateway = await bootstrap(
        Config.load({}, grpc_port=0, peer_port=0, max_calls=max_calls, **settings),
        metrics=metrics or Metrics(),
        event_log=event_log,
        read_model=read_model,
        workflow_backlog=workflow_backlog or InMemoryWorkflowBacklog(),
    )
    # Health as `python -m gateway` keeps it: SERVING once caught up.
    health = asyncio.create_task(gateway.keep_health(interval_s=0.01))
    try:
        for _ in range(500):
            if gateway.serving:
                break
            await asyncio.sleep(0.01)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
            yield gateway, channel
    finally:
        health.cancel()
        await gateway.stop(0)
