"""CancelOrder, ShipOrder, ListOrderEvents and WatchOrder(until_closed) over
in-memory ports, with a stand-in for the order's lifecycle processor (the
aggregator): it applies each command of `order-commands` through the
domain's guards and writes the event to `orders`, or nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway.app.commands import CancelOrder, ListOrderEvents, PlaceOrder, RecordPayment, ShipOrder, WatchOrder
from gateway.app.errors import FailedPrecondition, InvalidRequest, NotFound
from gateway.app.handlers import App, build_app
from oms.orders.v1 import command_service_pb2, command_service_pb2_grpc, events_pb2, order_pb2, query_service_pb2
from orders import codec
from orders.domain import Check, CheckOutcome, OrderNotCancellable, OrderNotShippable, Result
from tests.support.fakes import InMemoryEventLog, InMemoryReadModel
from tests.support.gateway import serving
from topology.topics import Topics

TOPICS = Topics()
PLACE = PlaceOrder("order-1", 7, "JUMPERS", 2, 9.5)
ALL_PASSED = tuple(CheckOutcome(c, Result.PASS) for c in Check)


class Lifecycle:
    """The aggregator's part, in memory. `verdict_first` makes a verdict win
    the race with the next command."""

    def __init__(self, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        self.log = log
        self.reads = reads
        self.verdict_first: str | None = None
        self.tasks: list[asyncio.Task[None]] = []
        log.subscribers.append(self._received)

    def _received(self, topic: str, key: bytes, value: bytes, _position: object) -> None:
        if topic == TOPICS.order_commands:
            self.tasks.append(
                asyncio.get_running_loop().create_task(self._apply(events_pb2.OrderCommand.FromString(value)))
            )

    async def verdict(self, order_id: str, passed: bool = True) -> None:
        order = codec.rehydrate(self.reads.orders[order_id])
        order.validate(checks=ALL_PASSED) if passed else order.fail(checks=ALL_PASSED)
        await self._write(order)

    async def _apply(self, command: events_pb2.OrderCommand) -> None:
        if self.verdict_first is not None:
            await self.verdict(command.order_id, passed=self.verdict_first == "validated")
            self.verdict_first = None
        order = codec.rehydrate(self.reads.orders[command.order_id])
        try:
            if command.WhichOneof("kind") == "cancel":
                order.cancel(reason=command.cancel.reason)
            else:
                order.ship(paid=command.ship.paid)
        except (OrderNotCancellable, OrderNotShippable):
            return
        await self._write(order)

    async def _write(self, order: object) -> None:
        for event in codec.events_to_pb(order, order.collect_events()):  # type: ignore[attr-defined]
            await self.log.publish(TOPICS.orders, event.order_id.encode(), event.SerializeToString())


Scenario = Callable[[App, InMemoryEventLog, InMemoryReadModel, Lifecycle], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        log = InMemoryEventLog()
        reads = InMemoryReadModel(log)
        lifecycle = Lifecycle(log, reads)
        await asyncio.wait_for(scenario(build_app(reads, log, TOPICS), log, reads, lifecycle), 5)

    asyncio.run(main())


def commands_written(log: InMemoryEventLog) -> int:
    return len(log.written(TOPICS.order_commands))


def test_a_created_order_is_cancelled_once_and_a_retry_finds_it_cancelled() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel, lifecycle: Lifecycle) -> None:
        await app.orders.place(PLACE)

        first = await app.orders.cancel(CancelOrder("order-1", "changed my mind"))
        again = await app.orders.cancel(CancelOrder("order-1", "again"))

        assert (first.order.state, first.order.version, first.changed) == (order_pb2.ORDER_STATE_CANCELLED, 2, True)
        assert first.position is not None and first.position.topic == TOPICS.orders
        assert first.position.offset == 1  # placed at 0, cancelled at 1
        assert (again.order, again.position, again.changed) == (first.order, None, False)
        assert commands_written(log) == 1

    run(scenario)


def test_cancelling_an_unknown_order_is_not_found_and_writes_nothing() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel, lifecycle: Lifecycle) -> None:
        with pytest.raises(NotFound):
            await app.orders.cancel(CancelOrder("nobody"))
        assert commands_written(log) == 0

    run(scenario)


@pytest.mark.parametrize("closed", ["failed", "shipped"])
def test_a_failed_or_shipped_order_cannot_be_cancelled(closed: str) -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel, lifecycle: Lifecycle) -> None:
        await app.orders.place(PLACE)
        await lifecycle.verdict("order-1", passed=closed == "shipped")
        if closed == "shipped":
            await app.payments.record(RecordPayment("pay-1", "order-1", 19.0, "EUR"))
            await app.orders.ship(ShipOrder("order-1"))
        written = commands_written(log)

        with pytest.raises(FailedPrecondition) as refused:
            await app.orders.cancel(CancelOrder("order-1"))

        assert [(v.type, v.subject) for v in refused.value.violations] == [("STATE", "order/order-1")]
        assert closed.upper() in refused.value.message
        assert commands_written(log) == written

    run(scenario)


def test_a_verdict_that_wins_the_race_with_a_cancel_answers_failed_precondition() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel, lifecycle: Lifecycle) -> None:
        await app.orders.place(PLACE)
        lifecycle.verdict_first = "failed"

        with pytest.raises(FailedPrecondition) as refused:
            await app.orders.cancel(CancelOrder("order-1"))

        assert "FAILED" in refused.value.message
        assert reads.orders["order-1"].state == order_pb2.ORDER_STATE_FAILED

    run(scenario)


def test_a_validated_order_ships_only_once_paid_in_full() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel, lifecycle: Lifecycle) -> None:
        await app.orders.place(PLACE)  # 2 x 9.5 = 19.00
        await lifecycle.verdict("order-1")
        await app.payments.record(RecordPayment("pay-1", "order-1", 10.0, "EUR"))

        with pytest.raises(FailedPrecondition) as refused:
            await app.orders.ship(ShipOrder("order-1"))
        assert [v.type for v in refused.value.violations] == ["PAYMENT"]
        assert "10.00 of 19.00 paid" in refused.value.violations[0].description
        assert commands_written(log) == 0

        await app.payments.record(RecordPayment("pay-2", "order-1", 9.0, "EUR"))
        shipped = await app.orders.ship(ShipOrder("order-1"))
        again = await app.orders.ship(ShipOrder("order-1"))

        assert (shipped.order.state, shipped.order.version, shipped.changed) == (order_pb2.ORDER_STATE_SHIPPED, 3, True)
        assert (again.order.state, again.changed) == (order_pb2.ORDER_STATE_SHIPPED, False)
        (command,) = [events_pb2.OrderCommand.FromString(v) for t, _k, v in log.records if t == TOPICS.order_commands]
        assert command.ship.paid == 19.0

    run(scenario)


def test_an_unvalidated_unpaid_order_names_both_what_is_missing() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel, lifecycle: Lifecycle) -> None:
        await app.orders.place(PLACE)

        with pytest.raises(FailedPrecondition) as refused:
            await app.orders.ship(ShipOrder("order-1"))

        assert [v.type for v in refused.value.violations] == ["STATE", "PAYMENT"]

    run(scenario)


def test_a_cancel_reason_is_checked_for_shape() -> None:
    with pytest.raises(InvalidRequest):
        CancelOrder("order-1", "x" * 257)
    with pytest.raises(InvalidRequest):
        ShipOrder("bad id")


def test_watch_until_closed_goes_past_validated_and_history_lists_every_event() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel, lifecycle: Lifecycle) -> None:
        await app.orders.place(PLACE)
        seen: list[int] = []

        async def watch(until_closed: bool) -> list[int]:
            return [o.state async for o in app.orders.watch(WatchOrder("order-1", until_closed=until_closed))]

        closed = asyncio.create_task(watch(True))
        await asyncio.sleep(0)
        await lifecycle.verdict("order-1")
        seen = await watch(False)
        await app.orders.cancel(CancelOrder("order-1", "late"))

        assert seen == [order_pb2.ORDER_STATE_VALIDATED]
        assert await closed == [
            order_pb2.ORDER_STATE_CREATED,
            order_pb2.ORDER_STATE_VALIDATED,
            order_pb2.ORDER_STATE_CANCELLED,
        ]
        history = await app.orders.events(ListOrderEvents("order-1"))
        assert [(h.event.version, h.event.kind) for h in history] == [
            (1, query_service_pb2.ORDER_EVENT_KIND_PLACED),
            (2, query_service_pb2.ORDER_EVENT_KIND_VALIDATED),
            (3, query_service_pb2.ORDER_EVENT_KIND_CANCELLED),
        ]
        assert history[2].event.reason == "late"
        with pytest.raises(NotFound):
            await app.orders.events(ListOrderEvents("nobody"))

    run(scenario)


def test_the_grpc_edge_answers_failed_precondition_with_what_is_missing() -> None:
    async def main() -> None:
        log = InMemoryEventLog()
        reads = InMemoryReadModel(log)
        Lifecycle(log, reads)
        async with serving(log, reads) as (_gateway, channel):
            commands = command_service_pb2_grpc.OrderCommandServiceStub(channel)
            await commands.PlaceOrder(
                command_service_pb2.PlaceOrderRequest(
                    order_id="order-1", customer_id=7, product="JUMPERS", quantity=2, price=9.5
                )
            )
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await commands.ShipOrder(command_service_pb2.ShipOrderRequest(order_id="order-1"))
            cancelled = await commands.CancelOrder(command_service_pb2.CancelOrderRequest(order_id="order-1"))

        assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        status = rpc_status.from_call(refused.value)
        assert status is not None
        failure = error_details_pb2.PreconditionFailure()
        assert status.details[0].Unpack(failure)
        assert [v.type for v in failure.violations] == ["STATE", "PAYMENT"]
        assert (cancelled.order.state, cancelled.changed, cancelled.position.offset) == (
            order_pb2.ORDER_STATE_CANCELLED,
            True,
            1,
        )

    asyncio.run(asyncio.wait_for(main(), 10))
