"""The checks as stream processors: decode -> pure rule -> encode.

Fraud and inventory keep state keyed by what it is about (customer,
product): each first re-keys orders through an internal topic, so that the
state of one customer or product lives in one partition and moves with it.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import events_pb2
from oms.validation.v1 import state_pb2
from orders import codec
from orders.domain import CheckOutcome, OrderDetails
from streams.records import Output, PoisonRecord, Record
from streams.state import PartitionState
from streams.topics import Topics
from validators import fraud, inventory
from validators.order_details import check_order_details


def _order_event(record: Record) -> events_pb2.OrderEvent:
    try:
        return codec.decode_event(record.value)
    except codec.UndecodableEvent as exc:
        raise PoisonRecord(str(exc)) from exc


def _parse(message_type: type, record: Record):  # type: ignore[no-untyped-def]
    try:
        return message_type.FromString(record.value or b"")
    except DecodeError as exc:
        raise PoisonRecord(f"not a {message_type.__name__}: {exc}") from exc


def validation(topics: Topics, order_id: str, outcome: CheckOutcome) -> Output:
    record = events_pb2.OrderValidation(order_id=order_id, outcome=codec.outcome_to_pb(outcome))
    return Output(topics.order_validations, order_id.encode(), record.SerializeToString())


class OrderDetailsProcessor:
    name = "order-details-check"
    stateful = False

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.inputs = (topics.orders,)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        event = _order_event(record)
        if event.WhichOneof("kind") != "placed":
            return
        order = event.order
        details = OrderDetails(order.order_id, order.customer_id, order.product, order.quantity, order.price)
        yield validation(self.topics, order.order_id, check_order_details(details))

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterator[Output]:
        return iter(())


class FraudProcessor:
    name = "fraud-check"
    stateful = True

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.inputs = (topics.orders, topics.fraud_check_orders)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if record.topic == self.topics.orders:
            yield from self._rekey(_order_event(record))
        else:
            yield from self._check(_parse(state_pb2.FraudCandidate, record), state)

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
        customer = str(candidate.customer_id).encode()
        # One key per counted order, so that a redelivered order is neither
        # counted nor answered twice, at a cost that does not grow with the
        # session; its value is when the order was placed.
        counted_prefix = b"counted/" + customer + b"/"
        counted_key = counted_prefix + candidate.order_id.encode()
        if state.get(counted_key) is not None:
            return
        key = b"sessions/" + customer
        stored = state_pb2.FraudSessions.FromString(state.get(key) or b"")
        sessions = tuple(fraud.Session(s.start.ToMilliseconds(), s.end.ToMilliseconds(), s.total) for s in stored.sessions)
        at_ms = candidate.placed_at.ToMilliseconds()
        outcome, after = fraud.check_fraud(sessions, candidate.customer_id, candidate.amount, at_ms)
        state.put(counted_key, str(at_ms).encode())
        if any(not fraud.held(after, s.start_ms) for s in sessions):
            # A session was forgotten: so are its orders.
            for marker, placed_ms in state.scan(counted_prefix):
                if not fraud.held(after, int(placed_ms)):
                    state.delete(marker)
        state.put(key, _sessions_pb(after).SerializeToString())
        yield validation(self.topics, candidate.order_id, outcome)

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterator[Output]:
        return iter(())


def _ms(ms: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def _sessions_pb(sessions: tuple[fraud.Session, ...]) -> state_pb2.FraudSessions:
    return state_pb2.FraudSessions(
        sessions=[
            state_pb2.FraudSession(start=_ms(s.start_ms), end=_ms(s.end_ms), total=s.total)
            for s in sessions
        ]
    )


_HOLD_TO_PB = {
    inventory.HoldState.HELD: state_pb2.HOLD_STATE_HELD,
    inventory.HoldState.RELEASED: state_pb2.HOLD_STATE_RELEASED,
    inventory.HoldState.REFUSED: state_pb2.HOLD_STATE_REFUSED,
}
_HOLD_FROM_PB = {v: k for k, v in _HOLD_TO_PB.items()}


class InventoryProcessor:
    """Reserves stock per product; publishes each product's level for queries."""

    name = "inventory-check"
    stateful = True

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.inputs = (topics.orders, topics.inventory_check_orders, topics.warehouse_inventory)

    def process(self, record: Record, state: PartitionState) -> Iterator[Output]:
        if record.topic == self.topics.orders:
            yield from self._rekey(_order_event(record))
        elif record.topic == self.topics.warehouse_inventory:
            yield from self._set_stock(_parse(inventory_pb2.StockLevel, record), state)
        else:
            yield from self._claim(_parse(state_pb2.InventoryClaim, record), state)

    def _rekey(self, event: events_pb2.OrderEvent) -> Iterator[Output]:
        kind = event.WhichOneof("kind")
        order = event.order
        if kind == "placed":
            claim = state_pb2.InventoryClaim(order_id=order.order_id, product=order.product, quantity=order.quantity, reserve=True)
        elif kind == "failed":
            claim = state_pb2.InventoryClaim(order_id=order.order_id, product=order.product, quantity=order.quantity, release=True)
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
        hold_key = b"hold/" + claim.product.encode() + b"/" + claim.order_id.encode()
        raw_hold = state.get(hold_key)
        hold = None
        if raw_hold is not None:
            stored = state_pb2.Hold.FromString(raw_hold)
            hold = inventory.Hold(stored.quantity, _HOLD_FROM_PB[stored.state])
        if claim.WhichOneof("kind") == "reserve":
            outcome, after, new_hold = inventory.reserve(stock, hold, claim.product, claim.quantity)
            if outcome is not None:
                yield validation(self.topics, claim.order_id, outcome)
        else:
            after, new_hold = inventory.release(stock, hold, claim.quantity)
        if new_hold != hold:
            state.put(hold_key, state_pb2.Hold(quantity=new_hold.quantity, state=_HOLD_TO_PB[new_hold.state]).SerializeToString())
        if after != stock:
            yield from self._store_stock(state, claim.product, after)

    @staticmethod
    def _stock(state: PartitionState, product: str) -> inventory.Stock:
        raw = state.get(b"stock/" + product.encode())
        if raw is None:
            return inventory.Stock()
        stored = state_pb2.ProductInventory.FromString(raw)
        return inventory.Stock(stored.stocked, stored.quantity, stored.reserved, stored.update_id)

    def _store_stock(self, state: PartitionState, product: str, stock: inventory.Stock) -> Iterator[Output]:
        stored = state_pb2.ProductInventory(
            stocked=stock.stocked, quantity=stock.quantity, reserved=stock.reserved, update_id=stock.update_id
        )
        state.put(b"stock/" + product.encode(), stored.SerializeToString())
        level = inventory_pb2.InventoryLevel(
            product=product,
            stocked=stock.stocked,
            quantity=stock.quantity,
            reserved=stock.reserved,
            update_id=stock.update_id,
        )
        yield Output(self.topics.inventory_levels, product.encode(), level.SerializeToString())

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterator[Output]:
        return iter(())
