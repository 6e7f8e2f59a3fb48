"""The gateway's handlers over in-memory ports (tests/support/fakes.py):
idempotent writes, lookups, validation, and the same answers through the
gRPC edge of a gateway built by bootstrap."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway.app.commands import (
    GetCustomer,
    GetOrder,
    GetStock,
    PlaceOrder,
    RecordPayment,
    SetStock,
    UpsertCustomer,
    WatchOrder,
)
from gateway.app.errors import AlreadyExists, InvalidRequest, NotFound, PartitionMoved, Unavailable
from gateway.app.handlers import App
from oms.customers.v1 import customers_pb2
from oms.orders.v1 import command_service_pb2, command_service_pb2_grpc, order_pb2
from oms.payments.v1 import payments_pb2, payments_pb2_grpc
from orders import codec
from orders.domain import Order
from tests.support.fakes import AppScenario, InMemoryEventLog, InMemoryReadModel, run_app
from tests.support.gateway import serving
from topology.topics import Topics

TOPICS = Topics()
PLACE = PlaceOrder("order-1", 7, "JUMPERS", 2, 9.5)
PAY = RecordPayment("pay-1", "order-1", 10.0, "EUR")


def run(scenario: AppScenario) -> None:
    run_app(scenario, TOPICS)


def test_placing_an_order_writes_it_once_and_a_retry_finds_it() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        first = await app.orders.place(PLACE)
        again = await app.orders.place(PLACE)

        assert first.created and first.position is not None
        assert first.value.state == order_pb2.ORDER_STATE_CREATED
        assert not again.created and again.position is None
        assert again.value.order_id == "order-1"
        assert log.written(TOPICS.orders) == [b"order-1"]

    run(scenario)


def test_concurrent_placements_of_one_order_write_it_once() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        results = await asyncio.gather(*(app.orders.place(PLACE) for _ in range(5)))

        assert sorted(r.created for r in results) == [False] * 4 + [True]
        assert log.written(TOPICS.orders) == [b"order-1"]

    run(scenario)


def test_an_order_id_reused_with_other_content_is_refused() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        await app.orders.place(PLACE)
        with pytest.raises(AlreadyExists) as raised:
            await app.orders.place(PlaceOrder("order-1", 7, "JUMPERS", 3, 9.5))

        assert raised.value.reason == "ORDER_ID_REUSED"
        assert raised.value.metadata == {"order_id": "order-1"}
        assert log.written(TOPICS.orders) == [b"order-1"]

    run(scenario)


def test_an_order_placed_before_the_view_caught_up_is_found_in_the_log() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        order = Order.place(PLACE.details)
        (event,) = codec.events_to_pb(order, order.collect_events())
        reads.auto_apply = False
        position = await log.publish(TOPICS.orders, b"order-1", event.SerializeToString())
        reads.behind = {position.tp}
        reads.on_caught_up = lambda _tp: reads.apply_pending()

        placed = await app.orders.place(PLACE)

        assert not placed.created
        assert reads.caught_up_calls == [position.tp]
        assert log.written(TOPICS.orders) == [b"order-1"]

    run(scenario)


def test_a_failed_write_answers_unavailable_and_a_retry_writes() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        log.failure = "no broker"
        with pytest.raises(Unavailable, match="the order could not be recorded: no broker"):
            await app.orders.place(PLACE)
        log.failure = None

        assert (await app.orders.place(PLACE)).created

    run(scenario)


def test_nothing_is_written_for_a_partition_that_is_not_here() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        reads.move_away(app.orders.partition("order-1"))
        with pytest.raises(PartitionMoved):
            await app.orders.place(PLACE)
        with pytest.raises(PartitionMoved):
            await app.payments.record(RecordPayment("order-1", "order-1", 1.0, "EUR"))

        assert log.records == []

    run(scenario)


def test_a_cancelled_placement_still_settles_its_write() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        reads.auto_apply = False
        call = asyncio.ensure_future(app.orders.place(PLACE))
        while not log.records:
            await asyncio.sleep(0.001)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # The lock is still held by the write, until the view has it.
        retry = asyncio.ensure_future(app.orders.place(PLACE))
        await asyncio.sleep(0.01)
        assert not retry.done()
        reads.apply_pending()

        assert not (await retry).created
        assert log.written(TOPICS.orders) == [b"order-1"]

    run(scenario)


def test_orders_are_read_and_watched_until_terminal() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        with pytest.raises(NotFound) as missing:
            await app.orders.get(GetOrder("order-1"))
        assert (missing.value.kind, missing.value.name) == ("order", "order-1")

        placed = await app.orders.place(PLACE)
        assert placed.position is not None
        got = await app.orders.get(GetOrder("order-1", (placed.position.partition, placed.position.offset)))
        assert got.state == order_pb2.ORDER_STATE_CREATED

        seen: list[int] = []

        async def watch() -> None:
            async for order in app.orders.watch(WatchOrder("order-1")):
                seen.append(order.state)

        watching = asyncio.ensure_future(watch())
        while not seen:
            await asyncio.sleep(0.001)
        validated = order_pb2.Order()
        validated.CopyFrom(got)
        validated.version, validated.state = got.version + 1, order_pb2.ORDER_STATE_VALIDATED
        reads.orders["order-1"] = validated
        reads._notify(("order", "order-1"), validated)
        await watching

        assert seen == [order_pb2.ORDER_STATE_CREATED, order_pb2.ORDER_STATE_VALIDATED]

    run(scenario)


def test_reads_wait_for_the_view() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        reads.ready = False
        with pytest.raises(Unavailable, match="catching up"):
            await app.orders.get(GetOrder("order-1"))
        with pytest.raises(Unavailable, match="catching up"):
            await app.orders.place(PLACE)

    run(scenario)


def test_set_stock_answers_the_level_the_inventory_check_applied() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        with pytest.raises(NotFound):
            await app.inventory.get(GetStock("JUMPERS"))

        level = await app.inventory.set(SetStock("JUMPERS", 12))

        assert (level.product, level.quantity, level.stocked) == ("JUMPERS", 12, True)
        assert (await app.inventory.get(GetStock("JUMPERS"))).quantity == 12
        assert log.written(TOPICS.warehouse_inventory) == [b"JUMPERS"]

    run(scenario)


def test_set_stock_goes_on_elsewhere_if_the_partition_moves_after_the_write() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        reads.auto_apply = False
        log.on_publish = lambda: reads.move_away(app.inventory.partition("JUMPERS"))
        with pytest.raises(PartitionMoved):
            await app.inventory.set(SetStock("JUMPERS", 12))

    run(scenario)


def test_payments_are_recorded_once() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        first = await app.payments.record(PAY)
        again = await app.payments.record(PAY)
        with pytest.raises(AlreadyExists) as raised:
            await app.payments.record(RecordPayment("pay-1", "order-1", 11.0, "EUR"))

        assert first.created and not again.created
        assert again.value == first.value
        assert first.value.recorded_at.ToMilliseconds() > 0
        assert raised.value.reason == "PAYMENT_ID_REUSED"
        assert log.written(TOPICS.payments) == [b"pay-1"]

    run(scenario)


def test_customers_are_upserted_and_read_back() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        with pytest.raises(NotFound) as missing:
            await app.customers.get(GetCustomer(7))
        assert (missing.value.kind, missing.value.name) == ("customer", "7")

        stored = await app.customers.upsert(
            UpsertCustomer(customers_pb2.Customer(customer_id=7, email="jo@example.com"))
        )

        assert stored.level == customers_pb2.CUSTOMER_LEVEL_BRONZE
        assert await app.customers.get(GetCustomer(7)) == stored
        reads.healthy = False
        with pytest.raises(Unavailable, match="tables"):
            await app.customers.get(GetCustomer(7))

    run(scenario)


def test_malformed_commands_cannot_be_made() -> None:
    with pytest.raises(InvalidRequest) as raised:
        RecordPayment("", "order-1", -1.0, "eur")
    assert {v.field for v in raised.value.violations} == {"payment_id", "amount", "currency"}
    with pytest.raises(InvalidRequest):
        SetStock("JUMPERS", -1)
    with pytest.raises(InvalidRequest):
        UpsertCustomer(customers_pb2.Customer(customer_id=0))
    with pytest.raises(InvalidRequest):
        GetCustomer(0)


def test_through_the_grpc_edge_errors_carry_their_details() -> None:
    async def scenario() -> None:
        log = InMemoryEventLog()
        async with serving(log, InMemoryReadModel(log)) as (_gateway, channel):
            orders = command_service_pb2_grpc.OrderCommandServiceStub(channel)
            request = command_service_pb2.PlaceOrderRequest(
                order_id="o-1", customer_id=7, product="P", quantity=1, price=1.0
            )
            assert (await orders.PlaceOrder(request, timeout=5)).created
            assert not (await orders.PlaceOrder(request, timeout=5)).created
            request.quantity = 2
            with pytest.raises(grpc.aio.AioRpcError) as reused:
                await orders.PlaceOrder(request, timeout=5)
            assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
            info = error_details_pb2.ErrorInfo()
            status = rpc_status.from_call(reused.value)
            assert status is not None and status.details[0].Unpack(info)
            assert (info.reason, dict(info.metadata)) == ("ORDER_ID_REUSED", {"order_id": "o-1"})

            payments = payments_pb2_grpc.PaymentServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await payments.RecordPayment(
                    payments_pb2.RecordPaymentRequest(payment_id="p 1", currency="EUR"), timeout=5
                )
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            violations = error_details_pb2.BadRequest()
            status = rpc_status.from_call(bad.value)
            assert status is not None and status.details[0].Unpack(violations)
            assert {v.field for v in violations.field_violations} == {"payment_id", "order_id", "amount"}
        assert log.written(TOPICS.payments) == []

    asyncio.run(asyncio.wait_for(scenario(), 20))
