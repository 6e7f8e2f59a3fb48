"""Admission at the gateway: a call it would not serve in good time is
answered RESOURCE_EXHAUSTED at once, with an ErrorInfo reason and a
RetryInfo. Past its limit of unary calls in flight (OVERLOADED), while its
event loop lags (SATURATED), and PlaceOrder alone while the order workflow
is behind (WORKFLOW_BEHIND); streams are only counted, health checks never
shed. Through a real grpc.aio server: the interceptor alone, or the gateway
built by gateway.bootstrap over in-memory ports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from gateway.api.admission import Admission, LoopLag
from gateway.api.errors import ErrorStatuses
from oms.orders.v1 import (
    command_service_pb2,
    command_service_pb2_grpc,
    order_pb2,
    query_service_pb2,
    query_service_pb2_grpc,
)
from oms.payments.v1 import payments_pb2, payments_pb2_grpc
from streams.metrics import Metrics
from tests.support.fakes import InMemoryWorkflowBacklog, in_memory
from tests.support.gateway import serving
from tests.support.grpc_server import channel_to_server

LIMIT = 2


class Stalled(query_service_pb2_grpc.OrderQueryServiceServicer):
    """Holds every call until `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    async def GetOrder(
        self, request: query_service_pb2.GetOrderRequest, context: object
    ) -> query_service_pb2.GetOrderResponse:
        self.started += 1
        await self.release.wait()
        return query_service_pb2.GetOrderResponse(order=order_pb2.Order(order_id=request.order_id))

    async def WatchOrder(
        self, request: query_service_pb2.WatchOrderRequest, context: object
    ) -> AsyncIterator[query_service_pb2.WatchOrderResponse]:
        yield query_service_pb2.WatchOrderResponse(order=order_pb2.Order(order_id=request.order_id))
        await self.release.wait()


async def until(condition: object, timeout_s: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout_s)


def test_calls_past_the_limit_are_shed_at_once_and_the_rest_still_served() -> None:
    async def scenario() -> None:
        servicer = Stalled()

        def register(server: grpc.aio.Server) -> None:
            query_service_pb2_grpc.add_OrderQueryServiceServicer_to_server(servicer, server)
            health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)

        async with channel_to_server(register, [ErrorStatuses(), Admission(LIMIT)]) as channel:
            queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            # Streams do not count: two of them, then the limit's worth of unary calls.
            streams = [queries.WatchOrder(query_service_pb2.WatchOrderRequest(order_id=f"w{i}")) for i in range(2)]
            for stream in streams:
                await stream.read()
            held = [
                asyncio.ensure_future(queries.GetOrder(query_service_pb2.GetOrderRequest(order_id=f"o{i}"), timeout=10))
                for i in range(LIMIT)
            ]
            await until(lambda: servicer.started == LIMIT)

            try:
                await queries.GetOrder(query_service_pb2.GetOrderRequest(order_id="one-too-many"), timeout=2)
                raise AssertionError("the call past the limit was served")
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                status = rpc_status.from_call(error)
            assert servicer.started == LIMIT
            assert status is not None
            info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
            assert status.details[0].Unpack(info) and info.reason == "OVERLOADED"
            assert status.details[1].Unpack(retry) and retry.retry_delay.ToMilliseconds() > 0

            health_stub = health_pb2_grpc.HealthStub(channel)
            checked = await health_stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
            assert checked.status == health_pb2.HealthCheckResponse.SERVING

            servicer.release.set()
            assert [r.order.order_id for r in await asyncio.gather(*held)] == ["o0", "o1"]
            # Capacity is back once the held calls are done.
            servicer.release = asyncio.Event()
            servicer.release.set()
            again = await queries.GetOrder(query_service_pb2.GetOrderRequest(order_id="later"), timeout=2)
            assert again.order.order_id == "later"
            for stream in streams:
                stream.cancel()

    asyncio.run(scenario())


def shed(error: grpc.aio.AioRpcError) -> tuple[str, dict[str, str], int]:
    """A shed call's ErrorInfo reason and metadata, and its RetryInfo delay (ms)."""
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    status = rpc_status.from_call(error)
    assert status is not None, "the rich status is missing from the trailers"
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert any(detail.Unpack(info) for detail in status.details)
    assert any(detail.Unpack(retry) for detail in status.details)
    return info.reason, dict(info.metadata), retry.retry_delay.ToMilliseconds()


def place(order_id: str) -> command_service_pb2.PlaceOrderRequest:
    return command_service_pb2.PlaceOrderRequest(
        order_id=order_id, customer_id=7, product="JUMPERS", quantity=1, price=2.0
    )


def test_place_order_is_shed_while_the_workflow_is_behind_and_every_other_call_is_served() -> None:
    async def scenario() -> None:
        log, reads = in_memory()
        backlog = InMemoryWorkflowBacklog(records=5)
        metrics = Metrics()
        async with serving(log, reads, workflow_backlog=backlog, max_workflow_backlog=5, metrics=metrics) as (
            _,
            channel,
        ):
            commands = command_service_pb2_grpc.OrderCommandServiceStub(channel)
            queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            payments = payments_pb2_grpc.PaymentServiceStub(channel)
            await commands.PlaceOrder(place("o-1"), timeout=5)  # at the limit: still taken on

            backlog.records = 6
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await commands.PlaceOrder(place("o-2"), timeout=5)
            reason, metadata, retry_ms = shed(refused.value)
            assert (reason, metadata) == ("WORKFLOW_BEHIND", {"backlog": "6", "max_backlog": "5"})
            assert retry_ms > 0
            assert log.written(reads.topics.orders) == [b"o-1"], "the order shed was not written"
            assert metrics.registry.get_sample_value("oms_calls_shed_total", {"reason": "WORKFLOW_BEHIND"}) == 1
            assert metrics.registry.get_sample_value("oms_workflow_backlog") == 6

            # Reads, payments and streams of placed orders are no new work for the workflow.
            got = await queries.GetOrder(query_service_pb2.GetOrderRequest(order_id="o-1"), timeout=5)
            assert got.order.order_id == "o-1"
            watch = queries.WatchOrder(query_service_pb2.WatchOrderRequest(order_id="o-1"), timeout=5)
            assert (await watch.read()).order.order_id == "o-1"
            watch.cancel()
            paid = await payments.RecordPayment(
                payments_pb2.RecordPaymentRequest(payment_id="p-1", order_id="o-1", currency="EUR", amount=2.0),
                timeout=5,
            )
            assert paid.payment.payment_id == "p-1"

            backlog.records = None  # not known (the cluster does not answer): not shed for it
            await commands.PlaceOrder(place("o-3"), timeout=5)
            backlog.records = 0
            await commands.PlaceOrder(place("o-2"), timeout=5)
            assert log.written(reads.topics.orders) == [b"o-1", b"o-3", b"o-2"]

    asyncio.run(scenario())


def test_while_the_event_loop_lags_unary_calls_are_shed_and_streams_and_health_checks_served() -> None:
    async def scenario() -> None:
        servicer = Stalled()
        servicer.release.set()
        lag_s = [0.25]
        reasons: list[str] = []

        def register(server: grpc.aio.Server) -> None:
            query_service_pb2_grpc.add_OrderQueryServiceServicer_to_server(servicer, server)
            health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)

        admission = Admission(LIMIT, loop_lag=lambda: lag_s[0], max_loop_lag_ms=100, on_shed=reasons.append)
        async with channel_to_server(register, [ErrorStatuses(), admission]) as channel:
            queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await queries.GetOrder(query_service_pb2.GetOrderRequest(order_id="o-1"), timeout=5)
            reason, metadata, retry_ms = shed(refused.value)
            assert (reason, metadata) == ("SATURATED", {"loop_lag_ms": "250", "max_loop_lag_ms": "100"})
            assert retry_ms > 0
            assert servicer.started == 0, "the shed call did no work"
            assert reasons == ["SATURATED"]

            watch = queries.WatchOrder(query_service_pb2.WatchOrderRequest(order_id="o-1"), timeout=5)
            assert (await watch.read()).order.order_id == "o-1"
            watch.cancel()
            checked = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert checked.status == health_pb2.HealthCheckResponse.SERVING

            lag_s[0] = 0.09  # drained below the limit: served again
            got = await queries.GetOrder(query_service_pb2.GetOrderRequest(order_id="o-1"), timeout=5)
            assert got.order.order_id == "o-1"
            assert reasons == ["SATURATED"]

    asyncio.run(scenario())


def test_one_late_wake_up_is_smoothed_away_and_a_loop_that_stays_late_is_seen_within_a_few_samples() -> None:
    lag = LoopLag(weight=0.3)
    lag.observe(0.2)
    assert lag.seconds < 0.1, "one slow callback sheds nothing"
    for _ in range(3):
        lag.observe(0.2)
    assert lag.seconds > 0.1
    for _ in range(6):
        lag.observe(0.001)
    assert lag.seconds < 0.1, "drained: calls are taken on again"


def test_the_loop_lag_is_how_late_a_sleep_wakes_up() -> None:
    samples: list[float] = []

    class Recorded(LoopLag):
        def observe(self, late_s: float) -> None:
            samples.append(late_s)
            super().observe(late_s)

    async def scenario() -> None:
        lag = Recorded(interval_s=0.01)
        follow = asyncio.create_task(lag.follow())
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # a callback that holds the loop
        await asyncio.sleep(0.05)
        follow.cancel()

    asyncio.run(scenario())
    assert max(samples) >= 0.25, samples
