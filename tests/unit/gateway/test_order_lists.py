"""ListOrders' parts: page tokens, the LevelDB lists the projector keeps
(per partition, per customer) and the merge of partial pages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.adapters.projector import project_batch
from gateway.adapters.read_model import LevelDbReadModel
from gateway.adapters.view import View
from gateway.app.commands import ListOrders, PlaceOrder, WatchOrders
from gateway.app.errors import InvalidRequest
from gateway.app.handlers import build_app
from gateway.app.paging import Tokens, merge
from oms.orders.v1 import order_pb2, query_service_pb2
from orders import codec
from orders.domain import Check, CheckOutcome, Order, OrderDetails, Result
from streams.records import Record
from tests.support.fakes import InMemoryEventLog, InMemoryReadModel
from topology.topics import Topics

TOPICS = Topics()
TOKENS = Tokens(b"0123456789abcdef-test-key")


def test_a_page_token_round_trips_and_is_bound_to_its_filters() -> None:
    token = TOKENS.page("orders/0/0/JUMPERS", (1_700_000_000_123, "o-9"))

    assert TOKENS.cursor("orders/0/0/JUMPERS", token) == (1_700_000_000_123, "o-9")
    with pytest.raises(InvalidRequest):
        TOKENS.cursor("orders/0/0/SOCKS", token)  # a token of another list


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: "x" + t,
        lambda t: t.split(".")[0] + "." + t.split(".")[0],
        lambda t: t.replace(t[3], "A" if t[3] != "A" else "B", 1),
        lambda t: "garbage",
        lambda t: Tokens(b"another-key-of-another-gateway").page("orders/0/0/", (1, "o")),
    ],
    ids=["prefixed", "resigned", "edited", "garbage", "other-key"],
)
def test_a_forged_or_foreign_page_token_is_refused(forge: object) -> None:
    token = TOKENS.page("orders/0/0/", (1, "o"))

    with pytest.raises(InvalidRequest) as refused:
        TOKENS.cursor("orders/0/0/", forge(token))  # type: ignore[operator]

    assert [v.field for v in refused.value.violations] == ["page_token"]


def test_a_resume_token_is_only_good_for_its_customer() -> None:
    token = TOKENS.resume(42, 17)

    assert TOKENS.resumed_after(42, token) == 17
    with pytest.raises(InvalidRequest):
        TOKENS.resumed_after(43, token)


def test_list_filters_are_checked_for_shape() -> None:
    with pytest.raises(InvalidRequest) as refused:
        ListOrders(customer_id=-1, state=99, product="x" * 65, page_size=-1)

    assert {v.field for v in refused.value.violations} == {"customer_id", "state", "product", "page_size"}


def events(order_id: str, customer_id: int, product: str, placed_ms: int, verdict: str = "") -> list[bytes]:
    order = Order.place(OrderDetails(order_id, customer_id, product, 1, 1.0))
    (placed,) = codec.events_to_pb(order, order.collect_events())
    placed.order.placed_at.FromMilliseconds(placed_ms)
    written = [placed]
    if verdict:
        again = codec.rehydrate(placed.order)
        checks = tuple(CheckOutcome(c, Result.PASS) for c in Check)
        again.validate(checks=checks) if verdict == "validated" else again.fail(checks=checks)
        written += codec.events_to_pb(again, again.collect_events())
    return [e.SerializeToString() for e in written]


class Lists:
    """A real view database fed through project_batch."""

    def __init__(self, path: Path) -> None:
        self.view = View(path)
        self.reads = LevelDbReadModel(self.view, None, {TOPICS.orders: 2}, None, lambda: True)  # type: ignore[arg-type]
        self.offsets: dict[tuple[str, int], int] = {}

    def feed(self, topic: str, partition: int, key: bytes, values: list[bytes]) -> None:
        records = []
        for value in values:
            offset = self.offsets.get((topic, partition), 0)
            self.offsets[(topic, partition)] = offset + 1
            records.append(Record(topic, partition, offset, key, value, 0))
        self.view.apply(project_batch(records, TOPICS, self.view.get_raw), {})

    def place(self, partition: int, order_id: str, customer_id: int, product: str, at: int, verdict: str = "") -> None:
        values = events(order_id, customer_id, product, at, verdict)
        self.feed(TOPICS.orders, partition, order_id.encode(), values)
        self.feed(TOPICS.customer_orders, 0, str(customer_id).encode(), values)


def ids(orders: list[order_pb2.Order]) -> list[str]:
    return [o.order_id for o in orders]


def test_a_partition_s_list_is_newest_first_and_goes_on_after_a_cursor(tmp_path: Path) -> None:
    lists = Lists(tmp_path)
    lists.place(0, "a", 1, "JUMPERS", 1000)
    lists.place(0, "b", 2, "SOCKS", 3000, verdict="validated")
    lists.place(0, "c", 1, "JUMPERS", 2000, verdict="failed")
    lists.place(0, "d", 1, "JUMPERS", 2000)
    lists.place(1, "e", 1, "JUMPERS", 5000)

    assert ids(lists.reads.orders_page(0, 0, "", None, 10)) == ["b", "c", "d", "a"]
    assert ids(lists.reads.orders_page(0, 0, "", (2000, "c"), 10)) == ["d", "a"]
    assert ids(lists.reads.orders_page(0, 0, "", None, 2)) == ["b", "c"]
    # A state's list skips the orders that moved on (c was CREATED, then FAILED).
    assert ids(lists.reads.orders_page(0, order_pb2.ORDER_STATE_CREATED, "", None, 10)) == ["d", "a"]
    assert ids(lists.reads.orders_page(0, order_pb2.ORDER_STATE_FAILED, "", None, 10)) == ["c"]
    assert ids(lists.reads.orders_page(0, order_pb2.ORDER_STATE_CREATED, "JUMPERS", None, 10)) == ["d", "a"]
    assert ids(lists.reads.orders_page(1, 0, "", None, 10)) == ["e"]


def test_a_customer_s_list_and_changes_come_from_the_customer_keyed_entries(tmp_path: Path) -> None:
    lists = Lists(tmp_path)
    lists.place(0, "a", 1, "JUMPERS", 1000)
    lists.place(1, "b", 2, "SOCKS", 3000)
    lists.place(1, "c", 1, "SOCKS", 2000, verdict="validated")

    assert ids(lists.reads.customer_orders_page(1, 0, "", None, 10)) == ["c", "a"]
    assert ids(lists.reads.customer_orders_page(1, 0, "SOCKS", None, 10)) == ["c"]
    assert ids(lists.reads.customer_orders_page(1, order_pb2.ORDER_STATE_CREATED, "", None, 10)) == ["a"]
    changes = lists.reads.customer_changes(1, -1)
    assert [(c.order.order_id, c.kind) for _o, c in changes] == [
        ("a", query_service_pb2.ORDER_EVENT_KIND_PLACED),
        ("c", query_service_pb2.ORDER_EVENT_KIND_PLACED),
        ("c", query_service_pb2.ORDER_EVENT_KIND_VALIDATED),
    ]
    assert lists.reads.customer_latest(1) == changes[-1][0]
    assert [c.order.order_id for _o, c in lists.reads.customer_changes(1, changes[0][0])] == ["c", "c"]
    assert lists.reads.customer_latest(99) == -1


def test_merged_pages_are_newest_first_and_say_where_to_go_on() -> None:
    def order(order_id: str, at: int) -> order_pb2.Order:
        o = order_pb2.Order(order_id=order_id)
        o.placed_at.FromMilliseconds(at)
        return o

    page, cursor = merge([[order("a", 3), order("c", 1)], [order("b", 2)]], 2)
    assert (ids(page), cursor) == (["a", "b"], (2, "b"))
    assert merge([[order("a", 3)]], 2) == ([order("a", 3)], None)


def test_paging_through_every_partition_is_stable_while_orders_keep_coming() -> None:
    async def main() -> None:
        log = InMemoryEventLog()
        reads = InMemoryReadModel(log)
        app = build_app(reads, log, TOPICS, tokens=TOKENS)
        before = [f"o-{n}" for n in range(25)]
        for order_id in before:
            await app.orders.place(PlaceOrder(order_id, 7, "JUMPERS", 1, 1.0))
            await asyncio.sleep(0.002)  # distinct placed_at, mostly
        seen: list[str] = []
        query = ListOrders(page_size=4)
        while True:
            parts = [await app.orders.partition_page(query, p) for p in range(app.orders.order_partitions)]
            page = app.orders.merged(query, parts)
            seen += [o.order_id for o in page.orders]
            await app.orders.place(PlaceOrder(f"late-{len(seen)}", 7, "JUMPERS", 1, 1.0))
            if not page.next_page_token:
                break
            query = ListOrders(page_size=4, page_token=page.next_page_token)

        assert seen == list(reversed(before))  # newest first, each once, none of the later ones

        by_customer = await app.orders.customer_page(ListOrders(customer_id=7, page_size=500))
        assert len(by_customer.orders) == len(reads.orders) and not by_customer.next_page_token
        with pytest.raises(InvalidRequest):
            await app.orders.customer_page(ListOrders(customer_id=8, page_token=page.next_page_token or "x.y"))

    asyncio.run(main())


def test_watch_orders_streams_a_customer_s_changes_from_the_call_or_after_a_resume_token() -> None:
    async def main() -> None:
        log = InMemoryEventLog()
        reads = InMemoryReadModel(log)
        app = build_app(reads, log, TOPICS, tokens=TOKENS)
        await app.orders.place(PlaceOrder("before", 7, "JUMPERS", 1, 1.0))
        stream = app.orders.watch_customer(WatchOrders(7))
        start = await anext(stream)
        await app.orders.place(PlaceOrder("other-customer", 8, "JUMPERS", 1, 1.0))
        await app.orders.place(PlaceOrder("after", 7, "JUMPERS", 1, 1.0))
        first = await asyncio.wait_for(anext(stream), 2)
        await app.orders.place(PlaceOrder("after-2", 7, "JUMPERS", 1, 1.0))
        await stream.aclose()

        assert not start.HasField("order") and start.resume_token
        assert (first.order.order_id, first.kind) == ("after", query_service_pb2.ORDER_EVENT_KIND_PLACED)
        resumed = app.orders.watch_customer(WatchOrders(7, first.resume_token))
        assert (await asyncio.wait_for(anext(resumed), 2)).order.order_id == "after-2"
        await resumed.aclose()
        with pytest.raises(InvalidRequest):
            await anext(app.orders.watch_customer(WatchOrders(8, first.resume_token)))

    asyncio.run(main())
