"""The whole validation pipeline in memory: the real processors on the TestDriver."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from aggregator.processor import DECIDED_RETENTION_MS, AggregatorProcessor
from oms.deadletter.v1.dead_letter_pb2 import DeadLetter
from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import events_pb2, order_pb2
from orders import codec
from orders.domain import Check, CheckOutcome, Order, OrderDetails, Result
from streams.testing import TestDriver
from topology.deadletters import DeadLetters
from topology.topics import Topics
from validators.processors import FraudProcessor, InventoryProcessor, OrderDetailsProcessor

TOPICS = Topics()
TIMEOUT_MS = 30_000
TERMINAL_KINDS = ("validated", "failed")


class Pipeline:
    """The validators and the aggregator wired on one in-memory driver."""

    def __init__(self, *, with_fraud: bool = True, timeout_ms: int = TIMEOUT_MS) -> None:
        processors = [
            OrderDetailsProcessor(TOPICS),
            InventoryProcessor(TOPICS),
            AggregatorProcessor(TOPICS, timeout_ms),
        ]
        self.aggregator = processors[-1]
        if with_fraud:
            processors.insert(1, FraudProcessor(TOPICS))
        self.driver = TestDriver(processors, DeadLetters(TOPICS.dead_letters), partitions=3)
        # Deadlines count from the orders' placed_at (wall clock): run the driver's clock from now.
        self.driver.now_ms = int(time.time() * 1000)
        self._placed = 0

    def stock(self, **levels: int) -> None:
        for product, quantity in levels.items():
            level = inventory_pb2.StockLevel(product=product, quantity=quantity, update_id=f"set-{product}")
            self.driver.pipe(TOPICS.warehouse_inventory, product.encode(), level.SerializeToString())
        self.driver.run()

    def placed_record(
        self, product: str = "JUMPERS", quantity: int = 1, price: float = 10.0, customer_id: int = 1, order_id: str = ""
    ) -> tuple[str, bytes]:
        """The OrderPlaced record of a new order, as the gateway would write it."""
        self._placed += 1
        order_id = order_id or f"order-{self._placed}"
        order = Order.place(OrderDetails(order_id, customer_id, product, quantity, price))
        (event,) = codec.events_to_pb(order, order.collect_events())
        return order_id, event.SerializeToString()

    def pipe_order(self, order_id: str, value: bytes) -> None:
        self.driver.pipe(TOPICS.orders, order_id.encode(), value)

    def place(self, **details: object) -> str:
        order_id, value = self.placed_record(**details)  # type: ignore[arg-type]
        self.pipe_order(order_id, value)
        self.driver.run()
        return order_id

    def command(self, order_id: str, command: events_pb2.OrderCommand, run: bool = True) -> None:
        command.order_id = order_id
        self.driver.pipe(TOPICS.order_commands, order_id.encode(), command.SerializeToString())
        if run:
            self.driver.run()

    def cancel(self, order_id: str, reason: str = "changed my mind", run: bool = True) -> None:
        request = events_pb2.OrderCommand(cancel=events_pb2.CancelRequested(order_id=order_id, reason=reason))
        self.command(order_id, request, run)

    def ship(self, order_id: str, paid: float) -> None:
        self.command(order_id, events_pb2.OrderCommand(ship=events_pb2.ShipRequested(order_id=order_id, paid=paid)))

    def kinds(self, order_id: str) -> list[tuple[str, int]]:
        """What happened to an order, in the log: (kind, version) per event."""
        return [(e.WhichOneof("kind"), e.version) for e in self.events(order_id)]

    def let_timeouts_pass(self) -> None:
        """Moves the clock well past every pending order's deadline."""
        self.driver.advance(2 * TIMEOUT_MS)

    def events(self, order_id: str) -> list[events_pb2.OrderEvent]:
        return [codec.decode_event(r.value) for r in self.driver.records(TOPICS.orders) if r.key == order_id.encode()]

    def terminal_events(self, order_id: str) -> list[events_pb2.OrderEvent]:
        return [e for e in self.events(order_id) if e.WhichOneof("kind") in TERMINAL_KINDS]

    def verdict(self, order_id: str) -> events_pb2.OrderEvent:
        """The order's one terminal event (fails if there is none or more than one)."""
        (terminal,) = self.terminal_events(order_id)
        return terminal

    def state(self, order_id: str) -> int:
        return self.verdict(order_id).order.state

    def outcome(self, order_id: str, check: int) -> order_pb2.CheckOutcome:
        (outcome,) = [c for c in self.verdict(order_id).order.checks if c.check_type == check]
        return outcome

    def answers(self, order_id: str, check: int) -> int:
        """How many validations a check published for an order."""
        validations = [
            events_pb2.OrderValidation.FromString(r.value) for r in self.driver.records(TOPICS.order_validations)
        ]
        return sum(1 for v in validations if v.order_id == order_id and v.outcome.check_type == check)

    def level(self, product: str) -> inventory_pb2.InventoryLevel:
        """The last published inventory level of a product."""
        levels = [r for r in self.driver.records(TOPICS.inventory_levels) if r.key == product.encode()]
        assert levels, f"no inventory level published for {product}"
        return inventory_pb2.InventoryLevel.FromString(levels[-1].value)

    def dead_letters(self) -> list[DeadLetter]:
        return [DeadLetter.FromString(r.value) for r in self.driver.records(TOPICS.dead_letters)]


@pytest.fixture
def pipeline() -> Pipeline:
    return Pipeline()


def test_ten_orders_within_stock_are_all_validated_once(pipeline: Pipeline) -> None:
    pipeline.stock(UNDERPANTS=75, JUMPERS=10)

    order_ids = [pipeline.place(product="JUMPERS", quantity=1, customer_id=i) for i in range(1, 11)]
    pipeline.let_timeouts_pass()

    assert [pipeline.state(o) for o in order_ids] == [order_pb2.ORDER_STATE_VALIDATED] * 10
    assert pipeline.level("JUMPERS").reserved == 10
    assert pipeline.dead_letters() == []


def test_ten_orders_placed_at_once_are_all_validated(pipeline: Pipeline) -> None:
    pipeline.stock(UNDERPANTS=75, JUMPERS=10)

    records = [pipeline.placed_record(product="JUMPERS", customer_id=i) for i in range(1, 11)]
    for order_id, value in records:
        pipeline.pipe_order(order_id, value)
    pipeline.driver.run()

    assert [pipeline.state(o) for o, _ in records] == [order_pb2.ORDER_STATE_VALIDATED] * 10


def test_a_validated_order_lists_three_passed_checks(pipeline: Pipeline) -> None:
    pipeline.stock(JUMPERS=1)

    order_id = pipeline.place(product="JUMPERS")

    verdict = pipeline.verdict(order_id)
    assert verdict.WhichOneof("kind") == "validated"
    assert verdict.version == 2
    assert sorted((c.check_type, c.result) for c in verdict.validated.checks) == [
        (order_pb2.CHECK_TYPE_ORDER_DETAILS, order_pb2.CHECK_RESULT_PASS),
        (order_pb2.CHECK_TYPE_FRAUD, order_pb2.CHECK_RESULT_PASS),
        (order_pb2.CHECK_TYPE_INVENTORY, order_pb2.CHECK_RESULT_PASS),
    ]


def test_orders_without_stock_left_all_fail(pipeline: Pipeline) -> None:
    pipeline.stock(UNDERPANTS=75, JUMPERS=0)

    order_ids = [pipeline.place(product="JUMPERS", customer_id=i) for i in range(1, 11)]

    assert [pipeline.state(o) for o in order_ids] == [order_pb2.ORDER_STATE_FAILED] * 10
    assert pipeline.level("JUMPERS").reserved == 0


def test_a_failed_order_gives_its_reservation_back(pipeline: Pipeline) -> None:
    pipeline.stock(JUMPERS=10)
    pipeline.place(product="JUMPERS", quantity=2)
    assert pipeline.level("JUMPERS").reserved == 2

    # Inventory passes and reserves, but the fraud check fails the order.
    order_id = pipeline.place(product="JUMPERS", quantity=3, price=1000.0, customer_id=99)

    assert pipeline.state(order_id) == order_pb2.ORDER_STATE_FAILED
    assert pipeline.outcome(order_id, order_pb2.CHECK_TYPE_INVENTORY).result == order_pb2.CHECK_RESULT_PASS
    assert pipeline.level("JUMPERS").reserved == 2


def test_an_order_for_a_product_without_stock_record_fails_with_an_inventory_reason(pipeline: Pipeline) -> None:
    pipeline.stock(JUMPERS=10)

    order_id = pipeline.place(product="STOCKINGS")

    assert pipeline.state(order_id) == order_pb2.ORDER_STATE_FAILED
    inventory = pipeline.outcome(order_id, order_pb2.CHECK_TYPE_INVENTORY)
    assert inventory.result == order_pb2.CHECK_RESULT_FAIL
    assert "no stock record" in inventory.reason


def test_a_malformed_order_fails_with_a_details_reason(pipeline: Pipeline) -> None:
    pipeline.stock(JUMPERS=10)

    order_id = pipeline.place(product="JUMPERS", quantity=-1)

    assert pipeline.state(order_id) == order_pb2.ORDER_STATE_FAILED
    details = pipeline.outcome(order_id, order_pb2.CHECK_TYPE_ORDER_DETAILS)
    assert details.result == order_pb2.CHECK_RESULT_FAIL
    assert "quantity" in details.reason


def test_an_undecodable_order_record_becomes_a_dead_letter_and_processing_goes_on(pipeline: Pipeline) -> None:
    pipeline.stock(JUMPERS=10)
    garbage = b"\xff\xfenot an order event"
    pipeline.driver.pipe(TOPICS.orders, b"bad-order", garbage)

    order_id = pipeline.place(product="JUMPERS")

    letters = pipeline.dead_letters()
    assert letters, "the bad record was not dead-lettered"
    assert all(letter.value == garbage and letter.key == b"bad-order" for letter in letters)
    assert all(letter.source_topic == TOPICS.orders and letter.reason for letter in letters)
    # Every processor that reads `orders` gives up on it once, under its own name.
    assert sorted(letter.processor for letter in letters) == sorted(
        ["order-details-check", "fraud-check", "inventory-check", "validation-aggregator"]
    )
    assert pipeline.state(order_id) == order_pb2.ORDER_STATE_VALIDATED


def test_an_empty_order_record_becomes_a_dead_letter(pipeline: Pipeline) -> None:
    pipeline.driver.pipe(TOPICS.orders, b"empty", b"")
    pipeline.driver.run()

    assert pipeline.dead_letters()
    assert all(letter.value == b"" and "empty" in letter.reason for letter in pipeline.dead_letters())


def test_a_duplicated_order_placed_record_is_decided_once_and_reserved_once(pipeline: Pipeline) -> None:
    pipeline.stock(JUMPERS=10)
    order_id, value = pipeline.placed_record(product="JUMPERS", quantity=4)

    pipeline.pipe_order(order_id, value)
    pipeline.pipe_order(order_id, value)
    pipeline.driver.run()
    pipeline.let_timeouts_pass()

    assert pipeline.state(order_id) == order_pb2.ORDER_STATE_VALIDATED
    assert pipeline.level("JUMPERS").reserved == 4
    # The stateful checks recognise the duplicate; the stateless details check answers twice, harmlessly.
    assert pipeline.answers(order_id, order_pb2.CHECK_TYPE_FRAUD) == 1
    assert pipeline.answers(order_id, order_pb2.CHECK_TYPE_INVENTORY) == 1


def test_a_duplicate_redelivered_after_the_verdict_changes_nothing(pipeline: Pipeline) -> None:
    pipeline.stock(JUMPERS=10)
    order_id, value = pipeline.placed_record(product="JUMPERS", quantity=4)
    pipeline.pipe_order(order_id, value)
    pipeline.driver.run()

    pipeline.pipe_order(order_id, value)
    pipeline.driver.run()
    pipeline.let_timeouts_pass()

    assert pipeline.state(order_id) == order_pb2.ORDER_STATE_VALIDATED
    assert pipeline.level("JUMPERS").reserved == 4


def test_a_customer_over_the_fraud_limit_fails_the_order_that_reaches_it(pipeline: Pipeline) -> None:
    pipeline.stock(UNDERPANTS=75)

    first = pipeline.place(product="UNDERPANTS", quantity=10, price=100.0, customer_id=2)
    second = pipeline.place(product="UNDERPANTS", quantity=10, price=100.0, customer_id=2)

    assert pipeline.state(first) == order_pb2.ORDER_STATE_VALIDATED
    assert pipeline.state(second) == order_pb2.ORDER_STATE_FAILED
    assert pipeline.outcome(second, order_pb2.CHECK_TYPE_FRAUD).result == order_pb2.CHECK_RESULT_FAIL
    assert pipeline.level("UNDERPANTS").reserved == 10


class TestAggregatorTimeout:
    """Without a fraud check, orders wait for it until the aggregator's timeout."""

    @staticmethod
    def start() -> tuple[Pipeline, str]:
        pipeline = Pipeline(with_fraud=False)
        pipeline.stock(JUMPERS=10)
        order_id, value = pipeline.placed_record(product="JUMPERS")
        # The deadline counts from the order's placed_at (wall clock): run the driver's clock from there.
        pipeline.driver.now_ms = codec.decode_event(value).order.placed_at.ToMilliseconds()  # exact, unlike Pipeline's
        pipeline.pipe_order(order_id, value)
        pipeline.driver.run()
        return pipeline, order_id

    def test_no_verdict_before_the_timeout(self) -> None:
        pipeline, order_id = self.start()

        pipeline.driver.advance(TIMEOUT_MS - 1)

        assert pipeline.terminal_events(order_id) == []

    def test_a_missing_check_fails_the_order_after_the_timeout(self) -> None:
        pipeline, order_id = self.start()

        pipeline.driver.advance(TIMEOUT_MS + 1)

        assert pipeline.state(order_id) == order_pb2.ORDER_STATE_FAILED
        fraud = pipeline.outcome(order_id, order_pb2.CHECK_TYPE_FRAUD)
        assert fraud.result == order_pb2.CHECK_RESULT_TIMEOUT
        assert str(TIMEOUT_MS) in fraud.reason
        assert pipeline.outcome(order_id, order_pb2.CHECK_TYPE_INVENTORY).result == order_pb2.CHECK_RESULT_PASS

    def test_a_timed_out_order_gives_its_reservation_back(self) -> None:
        pipeline, _ = self.start()
        assert pipeline.level("JUMPERS").reserved == 1

        pipeline.driver.advance(TIMEOUT_MS + 1)

        assert pipeline.level("JUMPERS").reserved == 0

    def test_a_late_validation_after_the_verdict_adds_no_second_verdict(self) -> None:
        pipeline, order_id = self.start()
        pipeline.driver.advance(TIMEOUT_MS + 1)

        late = events_pb2.OrderValidation(
            order_id=order_id, outcome=codec.outcome_to_pb(CheckOutcome(Check.FRAUD, Result.PASS))
        )
        pipeline.driver.pipe(TOPICS.order_validations, order_id.encode(), late.SerializeToString())
        pipeline.driver.run()
        pipeline.driver.advance(TIMEOUT_MS + 1)

        assert pipeline.state(order_id) == order_pb2.ORDER_STATE_FAILED  # still exactly one terminal event
        assert pipeline.dead_letters() == []


def test_a_failed_order_with_a_negative_price_does_not_open_a_fraud_loophole(pipeline: Pipeline) -> None:
    pipeline.stock(UNDERPANTS=75)
    decoy = pipeline.place(product="UNDERPANTS", quantity=1, price=-5000.0, customer_id=3)
    assert pipeline.state(decoy) == order_pb2.ORDER_STATE_FAILED

    big = pipeline.place(product="UNDERPANTS", quantity=30, price=100.0, customer_id=3)  # 3000 >= 2000 alone

    assert pipeline.state(big) == order_pb2.ORDER_STATE_FAILED


# Records that decode but that the code cannot process: each is dead-lettered
# with its error and place, and the pipeline goes on with the next order.


def _placed_variant(pipeline: Pipeline, change: Callable[[events_pb2.OrderEvent], None]) -> str:
    pipeline.stock(JUMPERS=100)
    order_id, value = pipeline.placed_record()
    event = codec.decode_event(value)
    change(event)
    pipeline.pipe_order(order_id, event.SerializeToString())
    pipeline.driver.run()
    return order_id


def test_an_order_placed_with_version_2_is_dead_lettered_by_the_aggregator_and_the_next_order_is_decided(
    pipeline: Pipeline,
) -> None:
    bad = _placed_variant(pipeline, lambda event: setattr(event.order, "version", 2))
    good = pipeline.place()

    (letter,) = pipeline.dead_letters()
    assert (letter.processor, letter.source_topic) == ("validation-aggregator", TOPICS.orders)
    assert letter.reason == f"ValueError: order {bad} is not freshly placed"
    assert letter.key == bad.encode() and letter.source_offset == 0
    assert pipeline.terminal_events(bad) == []
    assert pipeline.state(good) == order_pb2.ORDER_STATE_VALIDATED


def test_an_order_placed_with_version_2_that_times_out_dead_letters_its_deadline_and_others_still_time_out() -> None:
    pipeline = Pipeline(with_fraud=False)
    bad = _placed_variant(pipeline, lambda event: setattr(event.order, "version", 2))
    good = pipeline.place()

    pipeline.let_timeouts_pass()
    pipeline.let_timeouts_pass()

    (letter,) = pipeline.dead_letters()
    assert letter.processor == "validation-aggregator"
    assert letter.reason == f"punctuation failed: ValueError: order {bad} is not freshly placed"
    assert letter.key.endswith(b"/" + bad.encode())
    assert pipeline.terminal_events(bad) == []
    assert pipeline.state(good) == order_pb2.ORDER_STATE_FAILED


def test_an_order_whose_time_breaks_the_fraud_rule_is_dead_lettered_by_the_check(pipeline: Pipeline) -> None:
    bad = _placed_variant(pipeline, lambda event: setattr(event.order.placed_at, "seconds", 10**15))
    good = pipeline.place()

    letters = {letter.processor: letter for letter in pipeline.dead_letters()}
    fraud = letters["fraud-check"]
    assert fraud.source_topic == TOPICS.fraud_check_orders
    assert fraud.reason.startswith("ValueError: Timestamp is not valid")
    assert pipeline.terminal_events(bad) == []
    assert pipeline.state(good) == order_pb2.ORDER_STATE_VALIDATED


# -- the order's life after its verdict: the aggregator as its one writer


def stocked_pipeline(with_fraud: bool = True) -> Pipeline:
    pipeline = Pipeline(with_fraud=with_fraud)
    pipeline.stock(JUMPERS=10)
    return pipeline


def stock_of(pipeline: Pipeline) -> tuple[int, int]:
    level = pipeline.level("JUMPERS")
    return level.quantity, level.reserved


def test_a_validated_order_is_cancelled_once_and_its_reservation_released_once() -> None:
    pipeline = stocked_pipeline()
    order_id = pipeline.place(quantity=3)
    assert stock_of(pipeline) == (10, 3)

    pipeline.cancel(order_id, reason="found it cheaper")
    pipeline.cancel(order_id, reason="again")

    assert pipeline.kinds(order_id) == [("placed", 1), ("validated", 2), ("cancelled", 3)]
    cancelled = pipeline.events(order_id)[-1]
    assert cancelled.cancelled.reason == "found it cheaper"
    assert cancelled.order.state == order_pb2.ORDER_STATE_CANCELLED
    assert [c.check_type for c in cancelled.order.checks] == [
        c.check_type for c in pipeline.verdict(order_id).order.checks
    ]
    assert stock_of(pipeline) == (10, 0)


def test_a_cancel_while_the_checks_run_cancels_and_no_verdict_follows() -> None:
    pipeline = stocked_pipeline(with_fraud=False)  # the fraud check never answers
    order_id = pipeline.place(quantity=4)
    assert pipeline.terminal_events(order_id) == []

    pipeline.cancel(order_id)
    pipeline.let_timeouts_pass()

    assert pipeline.kinds(order_id) == [("placed", 1), ("cancelled", 2)]
    assert stock_of(pipeline) == (10, 0)


def test_a_cancel_that_overtakes_its_order_cancels_it_before_any_verdict() -> None:
    pipeline = stocked_pipeline()
    order_id, placed = pipeline.placed_record(quantity=2)
    # The aggregator reads order-commands before orders here: the command comes first.
    pipeline.pipe_order(order_id, placed)
    pipeline.cancel(order_id, run=False)
    pipeline.driver.run()
    pipeline.let_timeouts_pass()

    assert pipeline.kinds(order_id) == [("placed", 1), ("cancelled", 2)]
    # Every check answered (and the inventory check reserved): swallowed, then given back.
    assert pipeline.answers(order_id, order_pb2.CHECK_TYPE_INVENTORY) == 1
    assert stock_of(pipeline) == (10, 0)


def test_a_validated_paid_order_ships_once_and_its_units_leave_stock_once() -> None:
    pipeline = stocked_pipeline()
    order_id = pipeline.place(quantity=3, price=2.5)

    pipeline.ship(order_id, paid=7.5)
    pipeline.ship(order_id, paid=7.5)

    assert pipeline.kinds(order_id) == [("placed", 1), ("validated", 2), ("shipped", 3)]
    assert pipeline.events(order_id)[-1].shipped.paid == 7.5
    assert stock_of(pipeline) == (7, 0)


@pytest.mark.parametrize(
    ("setup", "command"),
    [
        ("validated", "ship-unpaid"),
        ("created", "ship"),
        ("failed", "cancel"),
        ("failed", "ship"),
        ("shipped", "cancel"),
        ("cancelled", "ship"),
    ],
)
def test_a_command_the_domain_refuses_writes_nothing(setup: str, command: str) -> None:
    pipeline = stocked_pipeline(with_fraud=setup != "created")
    order_id = pipeline.place(quantity=50 if setup == "failed" else 2, price=1.0)
    if setup == "shipped":
        pipeline.ship(order_id, paid=2.0)
    elif setup == "cancelled":
        pipeline.cancel(order_id)
    before = pipeline.kinds(order_id)
    stock = stock_of(pipeline)

    if command == "cancel":
        pipeline.cancel(order_id)
    else:
        pipeline.ship(order_id, paid=1.99 if command == "ship-unpaid" else 2.0)

    assert pipeline.kinds(order_id) == before
    assert stock_of(pipeline) == stock


def test_a_validated_order_is_remembered_until_it_is_closed_then_forgotten() -> None:
    pipeline = stocked_pipeline()
    order_id = pipeline.place(quantity=1)

    pipeline.driver.advance(3 * DECIDED_RETENTION_MS)
    assert any(order_id.encode() in key for key in aggregator_keys(pipeline))
    pipeline.cancel(order_id)
    assert pipeline.kinds(order_id)[-1] == ("cancelled", 3)

    pipeline.driver.advance(2 * DECIDED_RETENTION_MS)
    assert not any(order_id.encode() in key for key in aggregator_keys(pipeline))


def aggregator_keys(pipeline: Pipeline) -> list[bytes]:
    backend = pipeline.driver.state(pipeline.aggregator)
    return [key for p in range(pipeline.driver.partitions) for key, _ in backend.scan(p, b"")]


def test_a_validated_order_it_has_no_snapshot_of_is_taken_from_the_command() -> None:
    """An order validated before the aggregator kept snapshots (its state
    holds only a marker, then nothing): the gateway's snapshot stands in."""
    pipeline = stocked_pipeline()
    order = Order.place(OrderDetails("legacy-1", 1, "JUMPERS", 1, 10.0))
    order.validate(checks=tuple(CheckOutcome(c, Result.PASS) for c in Check))
    snapshot = codec.order_to_pb(order)
    cancel = events_pb2.OrderCommand(cancel=events_pb2.CancelRequested(order_id="legacy-1"), order=snapshot)
    created = events_pb2.OrderCommand(cancel=events_pb2.CancelRequested(order_id="late-1"), order=snapshot)
    created.order.state = order_pb2.ORDER_STATE_CREATED

    pipeline.command("legacy-1", cancel)
    pipeline.command("late-1", created)
    pipeline.let_timeouts_pass()

    assert pipeline.kinds("legacy-1") == [("cancelled", 3)]
    assert pipeline.kinds("late-1") == []  # a CREATED snapshot is no proof: it waits for its order
