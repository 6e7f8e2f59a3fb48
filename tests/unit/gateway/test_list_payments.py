"""ListPayments: the index of payment ids per order the tables keep (on a
real LevelDB view), and the handler's reads and access rules over the
in-memory ports."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.adapters.read_model import LevelDbReadModel
from gateway.adapters.tables import project_tables
from gateway.adapters.view import View
from gateway.app.access import Principal
from gateway.app.commands import ListPayments, PlaceOrder, RecordPayment
from gateway.app.errors import InvalidRequest, NotFound, Unavailable
from gateway.app.handlers import App
from oms.payments.v1 import payments_pb2
from streams.records import Record
from tests.support.fakes import AppScenario, InMemoryEventLog, InMemoryReadModel, run_app
from topology.topics import Topics

TOPICS = Topics()
ALICE, BOB = Principal("alice", customer_id=1), Principal("bob", customer_id=2)


def run(scenario: AppScenario) -> None:
    run_app(scenario, TOPICS)


def payment(payment_id: str, order_id: str, amount: float, at_ms: int = 0) -> payments_pb2.Payment:
    paid = payments_pb2.Payment(payment_id=payment_id, order_id=order_id, currency="EUR", amount=amount)
    paid.recorded_at.FromMilliseconds(at_ms)
    return paid


def test_the_tables_index_each_order_s_payment_ids_and_the_read_model_lists_them(tmp_path: Path) -> None:
    view = View(tmp_path / "view")
    reads = LevelDbReadModel(view, None, {}, None, lambda: True)  # type: ignore[arg-type]
    offset = 0

    def feed(*payments: payments_pb2.Payment) -> None:
        nonlocal offset
        records = []
        for paid in payments:
            records.append(Record(TOPICS.payments, 0, offset, paid.payment_id.encode(), paid.SerializeToString(), 0))
            offset += 1
        view.apply(project_tables(records, TOPICS, view.get_raw), {(TOPICS.payments, 0): offset})

    try:
        feed(payment("p1", "o1", 0.1), payment("p3", "o2", 5.0))
        feed(payment("p2", "o1", 0.2), payment("p1", "o1", 0.1))  # p1 again: listed once
        # "o" is a prefix of the other order ids, and has no payments of its own.
        assert sorted(p.payment_id for p in reads.order_payments("o1")) == ["p1", "p2"]
        assert [p.payment_id for p in reads.order_payments("o2")] == ["p3"]
        assert reads.order_payments("o") == []
        assert reads.paid("o1") == pytest.approx(0.3)
    finally:
        view.close()


def test_an_order_s_payments_are_listed_oldest_first_with_their_total() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        for paid in (payment("p-b", "o1", 0.2, 2000), payment("p-a", "o1", 0.1, 1000), payment("p-c", "o2", 9, 500)):
            await log.publish(TOPICS.payments, paid.payment_id.encode(), paid.SerializeToString())

        listed = await app.payments.for_order(ListPayments("o1"))

        assert [p.payment_id for p in listed.payments] == ["p-a", "p-b"]
        assert listed.paid == pytest.approx(0.3)
        assert listed.payments[0] == payment("p-a", "o1", 0.1, 1000)

    run(scenario)


def test_a_payment_acknowledged_before_the_call_is_listed() -> None:
    """Read your writes: the table catches up with the payments partitions
    (a payment another instance acknowledged) before answering."""

    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        reads.auto_apply = False
        for paid in (payment("p-1", "o1", 4.0), payment("p-2", "o1", 6.0)):
            await log.publish(TOPICS.payments, paid.payment_id.encode(), paid.SerializeToString())
        listing = asyncio.ensure_future(app.payments.for_order(ListPayments("o1")))
        await asyncio.sleep(0.01)
        assert not listing.done()

        reads.apply_pending()
        listed = await listing

        assert [p.payment_id for p in listed.payments] == ["p-1", "p-2"]
        assert listed.paid == 10.0
        assert {tp for tp in reads.caught_up_calls if tp[0] == TOPICS.payments} == {
            (TOPICS.payments, p) for p in range(reads.partitions)
        }

    run(scenario)


def test_an_admin_reads_any_order_id_s_payments_a_customer_only_its_own_order_s() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        await app.orders.place(PlaceOrder("alices", 1, "JUMPERS", 1, 10.0), ALICE)
        await app.payments.record(RecordPayment("pay-1", "alices", 10.0, "EUR"))
        await app.payments.record(RecordPayment("pay-2", "nowhere", 3.0, "EUR"))

        own = await app.payments.for_order(ListPayments("alices"), ALICE)
        by_admin = await app.payments.for_order(ListPayments("alices"))
        unplaced = await app.payments.for_order(ListPayments("nowhere"))
        with pytest.raises(NotFound) as other:
            await app.payments.for_order(ListPayments("alices"), BOB)
        with pytest.raises(NotFound) as unknown:
            await app.payments.for_order(ListPayments("nowhere"), ALICE)

        assert [p.payment_id for p in own.payments] == ["pay-1"] and own.paid == 10.0
        assert by_admin == own
        assert [p.payment_id for p in unplaced.payments] == ["pay-2"]
        # Another customer's order is answered as one that does not exist.
        assert str(other.value) == str(unknown.value).replace("nowhere", "alices")

    run(scenario)


def test_an_order_without_payments_lists_none() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        await app.orders.place(PlaceOrder("o1", 1, "JUMPERS", 1, 10.0), ALICE)

        listed = await app.payments.for_order(ListPayments("o1"), ALICE)

        assert list(listed.payments) == [] and listed.paid == 0

    run(scenario)


def test_a_malformed_order_id_is_refused_and_stale_tables_are_unavailable() -> None:
    with pytest.raises(InvalidRequest) as refused:
        ListPayments("no/slashes")
    assert [v.field for v in refused.value.violations] == ["order_id"]

    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        reads.healthy = False
        with pytest.raises(Unavailable):
            await app.payments.for_order(ListPayments("o1"))

    run(scenario)
