"""A real grpc.aio server in the test's own event loop, and a channel to it:
for servicers and interceptors tested without the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import grpc


@asynccontextmanager
async def channel_to_server(
    register: Callable[[grpc.aio.Server], None],
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> AsyncIterator[grpc.aio.Channel]:
    """`register` adds the servicers; the server stops when the block ends."""
    server = grpc.aio.server(interceptors=list(interceptors))
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await server.stop(0)
