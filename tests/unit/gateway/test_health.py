"""The gateway's health: SERVING once caught up, NOT_SERVING while the Kafka
cluster does not answer, SERVING again when it does."""

from __future__ import annotations

import asyncio

from grpc_health.v1 import health, health_pb2

from gateway.bootstrap import Gateway


async def _status(servicer: health.aio.HealthServicer) -> int:
    class Context:
        async def abort(self, *_: object) -> None:
            raise AssertionError("no such service")

    reply = await servicer.Check(health_pb2.HealthCheckRequest(), Context())
    return reply.status


def test_health_follows_catching_up_and_the_cluster() -> None:
    async def scenario() -> list[int]:
        servicer = health.aio.HealthServicer()
        await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        state = {"ready": False, "reachable": True}
        gateway = Gateway(
            server=None,  # type: ignore[arg-type]
            port=0,
            address="here",
            health=servicer,
            app=None,  # type: ignore[arg-type]
            router=None,  # type: ignore[arg-type]
            ready=lambda: state["ready"],
            reachable=lambda: state["reachable"],
        )
        keeping = asyncio.create_task(gateway.keep_health(interval_s=0.01))
        seen = []

        async def step(**change: bool) -> None:
            state.update(change)
            await asyncio.sleep(0.05)
            seen.append(await _status(servicer))

        await step()
        await step(ready=True)
        await step(reachable=False)
        await step(reachable=True)
        keeping.cancel()
        return seen

    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    assert asyncio.run(scenario()) == [not_serving, serving, not_serving, serving]
