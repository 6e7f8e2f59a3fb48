"""Dynamic routing: placed orders joined with the customers table, in memory."""

from __future__ import annotations

import pytest

from oms.customers.v1 import customers_pb2
from oms.deadletter.v1.dead_letter_pb2 import DeadLetter
from oms.routing.v1 import order_enriched_pb2, state_pb2
from orders import codec
from orders.domain import Order, OrderDetails
from routing.processor import OrderRoutingProcessor, customer_key
from streams.testing import TestDriver
from topology.deadletters import DeadLetters
from topology.topics import CUSTOMER_LEVELS, Topics

TOPICS = Topics()
GRACE_MS = 5_000


class Routing:
    def __init__(self) -> None:
        self.processor = OrderRoutingProcessor(TOPICS, GRACE_MS, DeadLetters(TOPICS.dead_letters))
        self.driver = TestDriver([self.processor], DeadLetters(TOPICS.dead_letters), partitions=3)

    def customer(
        self, customer_id: int, level: int = customers_pb2.CUSTOMER_LEVEL_GOLD, email: str = "a@example.com"
    ) -> None:
        customer = customers_pb2.Customer(customer_id=customer_id, email=email, level=level)
        self.driver.pipe(TOPICS.customers, customer_key(customer_id), customer.SerializeToString())
        self.driver.run()

    def place(self, order_id: str, customer_id: int) -> Order:
        order = Order.place(OrderDetails(order_id, customer_id, "JUMPERS", 2, 12.5))
        for event in codec.events_to_pb(order, order.collect_events()):
            self.driver.pipe(TOPICS.orders, order_id.encode(), event.SerializeToString())
        self.driver.run()
        return order

    def validate(self, order: Order) -> None:
        """A later state change of the same order."""
        order.validate(checks=())
        for event in codec.events_to_pb(order, order.collect_events()):
            self.driver.pipe(TOPICS.orders, order.order_id.encode(), event.SerializeToString())
        self.driver.run()

    def routed(self) -> dict[str, list[order_enriched_pb2.OrderEnriched]]:
        return {
            level: [
                order_enriched_pb2.OrderEnriched.FromString(r.value) for r in self.driver.records(TOPICS.level(level))
            ]
            for level in CUSTOMER_LEVELS
        }

    def routed_ids(self) -> dict[str, list[str]]:
        return {level: [e.order_id for e in found] for level, found in self.routed().items()}

    def enriched(self) -> list[state_pb2.CustomerOrder]:
        return [state_pb2.CustomerOrder.FromString(r.value) for r in self.driver.records(TOPICS.enriched_orders)]

    def dead_letters(self) -> list[DeadLetter]:
        return [DeadLetter.FromString(r.value) for r in self.driver.records(TOPICS.dead_letters)]


def only(level: str, *order_ids: str) -> dict[str, list[str]]:
    return {name: list(order_ids) if name == level else [] for name in CUSTOMER_LEVELS}


@pytest.mark.parametrize(
    ("level", "topic"),
    [
        (customers_pb2.CUSTOMER_LEVEL_PLATINUM, "platinum"),
        (customers_pb2.CUSTOMER_LEVEL_GOLD, "gold"),
        (customers_pb2.CUSTOMER_LEVEL_SILVER, "silver"),
        (customers_pb2.CUSTOMER_LEVEL_BRONZE, "bronze"),
        (customers_pb2.CUSTOMER_LEVEL_UNSPECIFIED, "bronze"),
    ],
)
def test_an_order_goes_to_the_topic_of_its_customers_level(level: int, topic: str) -> None:
    routing = Routing()
    routing.customer(42, level)

    routing.place("o1", 42)

    assert routing.routed_ids() == only(topic, "o1")
    (enriched,) = routing.routed()[topic]
    assert (enriched.customer_id, enriched.order.order_id, enriched.order.product) == (42, "o1", "JUMPERS")
    assert enriched.customer_level == (level or customers_pb2.CUSTOMER_LEVEL_BRONZE)


def test_the_record_is_keyed_by_order_id_on_the_level_topic() -> None:
    routing = Routing()
    routing.customer(7)

    routing.place("order-77", 7)

    (record,) = routing.driver.records(TOPICS.level("gold"))
    assert record.key == b"order-77"


def test_each_order_is_routed_once_whatever_its_later_state_changes() -> None:
    routing = Routing()
    routing.customer(42)

    order = routing.place("o1", 42)
    routing.validate(order)

    assert routing.routed_ids() == only("gold", "o1")
    assert [e.order.order_id for e in routing.enriched()] == ["o1"]


def test_the_enriched_order_for_the_email_join_carries_the_customer() -> None:
    routing = Routing()
    routing.customer(42, email="jo@example.com")

    routing.place("o1", 42)

    (joined,) = routing.enriched()
    assert joined.customer.email == "jo@example.com" and joined.order.order_id == "o1"
    (record,) = routing.driver.records(TOPICS.enriched_orders)
    assert record.key == b"o1"


def test_a_customer_changes_level_for_later_orders() -> None:
    routing = Routing()
    routing.customer(42, customers_pb2.CUSTOMER_LEVEL_SILVER)
    routing.place("o1", 42)

    routing.customer(42, customers_pb2.CUSTOMER_LEVEL_PLATINUM)
    routing.place("o2", 42)

    ids = routing.routed_ids()
    assert (ids["silver"], ids["platinum"]) == (["o1"], ["o2"])


def test_an_order_of_an_unknown_customer_is_dead_lettered_after_the_grace() -> None:
    routing = Routing()
    routing.place("o1", 99)
    routing.driver.advance(GRACE_MS - 1000)
    assert routing.dead_letters() == []

    routing.driver.advance(2000)

    (letter,) = routing.dead_letters()
    assert "customer 99 is unknown" in letter.reason and "o1" in letter.reason
    assert letter.processor == "order-routing"
    assert letter.source_topic == TOPICS.orders_by_customer
    assert routing.routed_ids() == {level: [] for level in CUSTOMER_LEVELS}


def test_a_customer_upserted_just_after_the_order_gets_it_routed() -> None:
    routing = Routing()
    routing.place("o1", 42)
    routing.driver.advance(1000)

    routing.customer(42, customers_pb2.CUSTOMER_LEVEL_PLATINUM)
    routing.driver.advance(2 * GRACE_MS)

    assert routing.routed_ids() == only("platinum", "o1")
    assert routing.dead_letters() == []


def test_a_customer_after_the_grace_does_not_bring_back_a_dead_lettered_order() -> None:
    routing = Routing()
    routing.place("o1", 42)
    routing.driver.advance(2 * GRACE_MS)

    routing.customer(42)

    assert len(routing.dead_letters()) == 1
    assert routing.routed_ids() == {level: [] for level in CUSTOMER_LEVELS}


def test_a_deleted_customer_is_unknown_again() -> None:
    routing = Routing()
    routing.customer(42)
    routing.driver.pipe(TOPICS.customers, customer_key(42), None)
    routing.place("o1", 42)

    routing.driver.advance(2 * GRACE_MS)

    assert len(routing.dead_letters()) == 1


def test_a_customer_with_a_level_nobody_knows_is_a_dead_letter_itself() -> None:
    routing = Routing()
    routing.customer(42, level=17)

    (letter,) = routing.dead_letters()
    assert letter.source_topic == TOPICS.customers and "unknown customer level 17" in letter.reason
    routing.place("o1", 42)
    routing.driver.advance(2 * GRACE_MS)
    assert len(routing.dead_letters()) == 2


def test_undecodable_records_are_dead_letters() -> None:
    routing = Routing()
    routing.driver.pipe(TOPICS.customers, b"5", b"\xff\xff")
    routing.driver.pipe(TOPICS.orders, b"o1", b"\xff\xff")
    routing.driver.run()

    assert sorted(d.source_topic for d in routing.dead_letters()) == sorted([TOPICS.customers, TOPICS.orders])


def test_an_order_stamped_beyond_any_grace_deadline_is_a_dead_letter_and_routing_goes_on() -> None:
    routing = Routing()
    order = Order.place(OrderDetails("far-future", 7, "JUMPERS", 2, 12.5))
    (event,) = codec.events_to_pb(order, order.collect_events())
    # A producer's clock gone wild: the order's grace deadline cannot be indexed.
    routing.driver.pipe(TOPICS.orders_by_customer, customer_key(7), event.order.SerializeToString(), 10**15)
    routing.driver.run()
    routing.customer(7)
    routing.place("next", 7)

    (letter,) = routing.dead_letters()
    assert (letter.source_topic, letter.processor) == (TOPICS.orders_by_customer, "order-routing")
    assert letter.reason.startswith("ValueError: Timestamp is not valid")
    assert routing.routed_ids() == only("gold", "next")


def test_every_order_event_is_re_keyed_by_customer_for_the_customer_view() -> None:
    from orders.domain import Check, CheckOutcome, Result

    order = Order.place(OrderDetails("o-77", 42, "JUMPERS", 1, 2.0))
    order.validate(checks=tuple(CheckOutcome(c, Result.PASS) for c in Check))
    order.cancel(reason="no")
    driver = TestDriver(
        [OrderRoutingProcessor(TOPICS, 5_000, DeadLetters(TOPICS.dead_letters))], DeadLetters(TOPICS.dead_letters)
    )
    for event in codec.events_to_pb(order, order.collect_events()):
        driver.pipe(TOPICS.orders, b"o-77", event.SerializeToString())
    driver.run()

    rekeyed = driver.records(TOPICS.customer_orders)
    assert {r.key for r in rekeyed} == {b"42"}
    assert [codec.decode_event(r.value).WhichOneof("kind") for r in rekeyed] == ["placed", "validated", "cancelled"]


def test_the_gateway_names_the_routing_group_it_waits_for_as_the_processor_and_the_pipeline_are_named() -> None:
    from gateway.bootstrap import PIPELINE_RUNNER, ROUTING_PROCESSOR
    from topology.registry import PIPELINE, ROUTING, service

    assert ROUTING_PROCESSOR == OrderRoutingProcessor.name
    assert service("routing").runner == ROUTING_PROCESSOR
    assert PIPELINE_RUNNER == PIPELINE == service(PIPELINE).runner
    assert ROUTING in service(PIPELINE).processors
