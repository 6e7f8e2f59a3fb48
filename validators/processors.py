"""The checks as stream processors: decode -> pure rule -> encode.

Fraud and inventory keep state keyed by what it is about (customer,
product): each first re-keys orders through an internal topic, so that the
state of one customer or product lives in one partition and moves with it.
"""

from __future__ import annotations

from collections.abc import Iterator

from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import events_pb2
from oms.validation.v1 import state_pb2
from orders import codec
from orders.codec import ORDER_EVENTS
from orders.domain import CheckOutcome, OrderDetails
from streams.codecs import INT, STR, PartsCodec, protobuf
from streams.processor import Processor, decode
from streams.records import Output, PoisonRecord, Record
from streams.state import PartitionState
from streams.stores import Store
from topology.topics import Topics
from validators import fraud, inventory
from validators.order_details import check_order_details

FRAUD_CANDIDATES = protobuf(state_pb2.FraudCandidate)
INVENTORY_CLAIMS = protobuf(state_pb2.InventoryClaim)
STOCK_LEVELS = protobuf(inventory_pb2.StockLevel)


def validation(topics: Topics, order_id: str, outcome: CheckOutcome) -> Output:
    record = events_pb2.OrderValidation(order_id=order_id, outcome=codec.outcome_to_pb(outcome))
    return Output(topics.order_validations, order_id.encode(), record.SerializeToString())


class OrderDetailsProcessor(Processor):
    name = "order-details-check"

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.inputs = (topics.orders,)
        self.outputs = (topics.order_validations,)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        event = decode(record, ORDER_EVENTS)
        if event.WhichOneof("kind") != "placed":
            return
        order = event.order
        details = OrderDetails(order.order_id, order.customer_id, order.product, order.quantity, order.price)
        yield validation(self.topics, order.order_id, check_order_details(details))


class FraudProcessor(Processor):
    name = "fraud-check"
    stateful = True

    # A customer's sessions (customer id -> FraudSessions).
    sessions = Store("sessions", STR, protobuf(state_pb2.FraudSessions))
    # One key per counted order, so that a redelivered order is neither
    # counted nor answered twice, at a cost that does not grow with the
    # session; its value is when the order was placed (ms).
    counted = Store("counted", PartsCodec(2), INT)

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.inputs = (topics.orders, topics.fraud_check_orders)
        self.outputs = (topics.fraud_check_orders, topics.order_validations)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if record.topic == self.topics.orders:
            yield from self._rekey(decode(record, ORDER_EVENTS))
        else:
            yield from self._check(decode(record, FRAUD_CANDIDATES), state)

    def _rekey(self, event: events_pb2.OrderEvent) -> Iterator[Output]:
        if event.WhichOneof("kind") != "placed":
            return
        order = event.order
        candidate = state_pb2.FraudCandidate(
            order_id=order.order_id,
            customer_id=order.customer_id,
            amount=order.quantity * order.price,
            placed_at=order.placed_at,
        )
        yield Output(self.topics.fraud_check_orders, str(order.customer_id).encode(), candidate.SerializeToString())

    def _check(self, candidate: state_pb2.FraudCandidate, state: PartitionState) -> Iterator[Output]:
        customer = str(candidate.customer_id)
        if self.counted.has(state, (customer, candidate.order_id)):
            return
        stored = self.sessions.get(state, customer) or state_pb2.FraudSessions()
        sessions = tuple(
            fraud.Session(s.start.ToMilliseconds(), s.end.ToMilliseconds(), s.total) for s in stored.sessions
        )
        at_ms = candidate.placed_at.ToMilliseconds()
        outcome, after = fraud.check_fraud(sessions, candidate.customer_id, candidate.amount, at_ms)
        self.counted.put(state, (customer, candidate.order_id), at_ms)
        if fraud.forgets(sessions, after):
            # A session was forgotten: so are its orders.
            for counted, placed_ms in self.counted.scan(state, customer):
                if not fraud.held(after, placed_ms):
                    self.counted.delete(state, counted)
        self.sessions.put(state, customer, _sessions_pb(after))
        yield validation(self.topics, candidate.order_id, outcome)


def _sessions_pb(sessions: tuple[fraud.Session, ...]) -> state_pb2.FraudSessions:
    stored = state_pb2.FraudSessions()
    for session in sessions:  # filled in place: no Timestamp made only to be copied
        added = stored.sessions.add(total=session.total)
        added.start.FromMilliseconds(session.start_ms)
        added.end.FromMilliseconds(session.end_ms)
    return stored


_HOLD_TO_PB = {
    inventory.HoldState.HELD: state_pb2.HOLD_STATE_HELD,
    inventory.HoldState.RELEASED: state_pb2.HOLD_STATE_RELEASED,
    inventory.HoldState.REFUSED: state_pb2.HOLD_STATE_REFUSED,
    inventory.HoldState.SHIPPED: state_pb2.HOLD_STATE_SHIPPED,
}
_HOLD_FROM_PB = {v: k for k, v in _HOLD_TO_PB.items()}


class InventoryProcessor(Processor):
    """Reserves stock per product; publishes each product's level for queries."""

    name = "inventory-check"
    stateful = True

    stock = Store("stock", STR, protobuf(state_pb2.ProductInventory))
    # An order's hold on a product's stock: (product, order id) -> Hold.
    holds = Store("hold", PartsCodec(2), protobuf(state_pb2.Hold))

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.inputs = (topics.orders, topics.inventory_check_orders, topics.warehouse_inventory)
        self.outputs = (topics.inventory_check_orders, topics.order_validations, topics.inventory_levels)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if record.topic == self.topics.orders:
            yield from self._rekey(decode(record, ORDER_EVENTS))
        elif record.topic == self.topics.warehouse_inventory:
            yield from self._set_stock(decode(record, STOCK_LEVELS), state)
        else:
            yield from self._claim(decode(record, INVENTORY_CLAIMS), state)

    def _rekey(self, event: events_pb2.OrderEvent) -> Iterator[Output]:
        kind = event.WhichOneof("kind")
        order = event.order
        if kind == "placed":
            claim = state_pb2.InventoryClaim(
                order_id=order.order_id, product=order.product, quantity=order.quantity, reserve=True
            )
        elif kind in ("failed", "cancelled"):
            claim = state_pb2.InventoryClaim(
                order_id=order.order_id, product=order.product, quantity=order.quantity, release=True
            )
        elif kind == "shipped":
            claim = state_pb2.InventoryClaim(
                order_id=order.order_id, product=order.product, quantity=order.quantity, ship=True
            )
        else:
            return
        yield Output(self.topics.inventory_check_orders, order.product.encode(), claim.SerializeToString())

    def _set_stock(self, level: inventory_pb2.StockLevel, state: PartitionState) -> Iterator[Output]:
        if not level.product:
            raise PoisonRecord("stock level without a product")
        stock = inventory.set_stock(self._stock(state, level.product), level.quantity, level.update_id)
        yield from self._store_stock(state, level.product, stock)

    def _claim(self, claim: state_pb2.InventoryClaim, state: PartitionState) -> Iterator[Output]:
        stock = self._stock(state, claim.product)
        hold_key = (claim.product, claim.order_id)
        stored = self.holds.get(state, hold_key)
        hold = None if stored is None else inventory.Hold(stored.quantity, _HOLD_FROM_PB[stored.state])
        kind = claim.WhichOneof("kind")
        new_hold: inventory.Hold | None
        if kind == "reserve":
            outcome, after, new_hold = inventory.reserve(stock, hold, claim.product, claim.quantity)
            if outcome is not None:
                yield validation(self.topics, claim.order_id, outcome)
        elif kind == "ship":
            after, new_hold = inventory.ship(stock, hold)
        else:
            after, new_hold = inventory.release(stock, hold, claim.quantity)
        if new_hold is not None and new_hold != hold:
            self.holds.put(
                state, hold_key, state_pb2.Hold(quantity=new_hold.quantity, state=_HOLD_TO_PB[new_hold.state])
            )
        if after != stock:
            yield from self._store_stock(state, claim.product, after)

    def _stock(self, state: PartitionState, product: str) -> inventory.Stock:
        stored = self.stock.get(state, product)
        if stored is None:
            return inventory.Stock()
        return inventory.Stock(stored.stocked, stored.quantity, stored.reserved, stored.update_id)

    def _store_stock(self, state: PartitionState, product: str, stock: inventory.Stock) -> Iterator[Output]:
        stored = state_pb2.ProductInventory(
            stocked=stock.stocked, quantity=stock.quantity, reserved=stock.reserved, update_id=stock.update_id
        )
        self.stock.put(state, product, stored)
        level = inventory_pb2.InventoryLevel(
            product=product,
            stocked=stock.stocked,
            quantity=stock.quantity,
            reserved=stock.reserved,
            update_id=stock.update_id,
        )
        yield Output(self.topics.inventory_levels, product.encode(), level.SerializeToString())
