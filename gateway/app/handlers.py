"""The use cases: command and query handlers over the ports. Each reads,
decides and writes; errors are raised as gateway.app.errors."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from gateway.app.access import UNAUTHENTICATED_ADMIN, Principal, require_admin, require_customer
from gateway.app.commands import (
    CancelOrder,
    GetCustomer,
    GetOrder,
    GetStock,
    ListDeadLetters,
    ListOrderEvents,
    ListOrders,
    ListPayments,
    PlaceOrder,
    RecordPayment,
    SetStock,
    ShipOrder,
    UpsertCustomer,
    WatchOrder,
    WatchOrders,
)
from gateway.app.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidRequest,
    NotFound,
    Precondition,
    Unavailable,
)
from gateway.app.paging import Tokens, merge, page_size
from gateway.app.ports import (
    DeadLetterCursor,
    EventLog,
    HistoryEntry,
    Position,
    ReadModel,
    TopicPartition,
    Updates,
)
from gateway.app.writes import IdempotentWrites, Record, Written, record
from oms.customers.v1 import customers_pb2
from oms.deadletter.v1 import dead_letter_service_pb2
from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import events_pb2, order_pb2, query_service_pb2
from oms.payments.v1 import payments_pb2
from orders import codec
from orders.domain import Order, OrderDetails, cents
from topology.topics import Topics

# The longest a read waits for its min_position when the call has no earlier deadline.
MAX_POSITION_WAIT_S = 30.0


def _details_of(order: order_pb2.Order) -> OrderDetails:
    return OrderDetails(order.order_id, order.customer_id, order.product, order.quantity, order.price)


class Orders:
    """Places orders (the instance owning the order's partition writes them)
    and answers from the view of that instance."""

    # How long CancelOrder and ShipOrder wait for the lifecycle processor.
    APPLY_TIMEOUT_S = 15.0

    def __init__(
        self,
        reads: ReadModel,
        writes: IdempotentWrites,
        topics: Topics,
        placed: Callable[[], None] = lambda: None,
        tokens: Tokens | None = None,
    ) -> None:
        self._reads = reads
        self._writes = writes
        self._topics = topics
        self.tokens = tokens or Tokens(b"oms-page-token-key-for-tests-only")
        # Called once per OrderPlaced written (the orders placed metric).
        self._placed = placed

    def partition(self, order_id: str) -> TopicPartition:
        return self._reads.partition_of(self._topics.orders, order_id.encode())

    def _require_ready(self) -> None:
        if not self._reads.orders_ready():
            raise Unavailable("the order view is still catching up with the log")

    async def place(
        self, command: PlaceOrder, principal: Principal = UNAUTHENTICATED_ADMIN
    ) -> Written[order_pb2.Order]:
        require_customer(principal, command.customer_id, "placing an order")
        self._require_ready()
        details = command.details

        def make() -> Record[order_pb2.Order]:
            order = Order.place(details)
            (event,) = codec.events_to_pb(order, order.collect_events())
            return Record(self._topics.orders, details.order_id.encode(), event.SerializeToString(), event.order)

        async def settle(position: Position, placed: Record[order_pb2.Order]) -> order_pb2.Order:
            self._placed()
            await self._reads.reached(position)
            # The order as placed: by now the view may already show a
            # verdict, which WatchOrder reports as the change it is.
            assert placed.as_written is not None
            return placed.as_written

        return await self._writes.write(
            "order",
            details.order_id,
            self.partition(details.order_id),
            make,
            settle,
            find=lambda: self._before_placing(details.order_id),
            same=lambda existing: _details_of(existing) == details,
            reused=lambda: AlreadyExists(
                f"order {details.order_id} was already placed with other content",
                "ORDER_ID_REUSED",
                order_id=details.order_id,
            ),
        )

    async def _before_placing(self, order_id: str) -> order_pb2.Order | None:
        """The order, or None if it was never placed, for the partition's owner.

        Once the view has caught up with its partition since it was assigned,
        every placement goes through this instance, so the view is enough; the
        log's end is asked only until then.
        """
        order = self._reads.order(order_id)
        if order is None and not self._reads.current(self.partition(order_id)):
            return await self._when_known(order_id)
        return order

    async def _when_known(self, order_id: str) -> order_pb2.Order | None:
        """The order, or None once the view has caught up and still lacks it."""
        order = self._reads.order(order_id)
        if order is None:
            await self._reads.caught_up(self.partition(order_id))
            order = self._reads.order(order_id)
        return order

    async def get(self, query: GetOrder, principal: Principal = UNAUTHENTICATED_ADMIN) -> order_pb2.Order:
        """The order; NotFound alike if it does not exist or is not the
        principal's (a denied read leaks nothing)."""
        self._require_ready()
        if query.min_position is not None:
            await self._reached(query.order_id, query.min_position)
        order = await self._when_known(query.order_id)
        if order is None or not principal.may_see(order.customer_id):
            raise NotFound("order", query.order_id, f"no order {query.order_id}")
        return order

    async def _reached(self, order_id: str, min_position: tuple[int, int]) -> None:
        """Waits until the view holds min_position, a position in the order's
        own partition (any other one is refused: nothing here would ever
        reach it). A position beyond the log's end is waited for at most
        MAX_POSITION_WAIT_S (or the call's deadline, whichever comes first)."""
        partition, offset = min_position
        topic, own = self.partition(order_id)
        if partition != own:
            raise InvalidRequest(
                [FieldViolation("min_position.partition", f"must be the order's partition ({own}), not {partition}")]
            )
        try:
            await asyncio.wait_for(self._reads.reached(Position(topic, partition, offset)), MAX_POSITION_WAIT_S)
        except TimeoutError:
            raise Unavailable(
                f"the view has not reached offset {offset} of partition {partition} within {MAX_POSITION_WAIT_S:.0f}s",
                retry_after_s=1,
            ) from None

    async def watch(
        self, query: WatchOrder, principal: Principal = UNAUTHENTICATED_ADMIN
    ) -> AsyncIterator[order_pb2.Order]:
        """The order now, then each change, until it is terminal (or, with
        until_closed, closed)."""
        ends = codec.CLOSED_STATES_PB if query.until_closed else codec.TERMINAL_STATES_PB
        # Registered before the first read, so no change can slip in between.
        with self._reads.watch_order(query.order_id, self.partition(query.order_id)) as updates:
            order = await self.get(query, principal)
            yield order
            while order.state not in ends:
                newer = await updates.get()
                if newer.version > order.version:
                    order = newer
                    yield order

    async def events(self, query: ListOrderEvents, principal: Principal = UNAUTHENTICATED_ADMIN) -> list[HistoryEntry]:
        """The order's history, oldest first."""
        await self.get(query, principal)  # NOT_FOUND, read-your-writes and access, as GetOrder
        return self._reads.order_events(query.order_id)

    async def cancel(self, command: CancelOrder, principal: Principal = UNAUTHENTICATED_ADMIN) -> Changed:
        """CREATED or VALIDATED -> CANCELLED, through the order's lifecycle
        processor (the aggregator): the one writer of an order's events after
        its placement, so a verdict and a cancel can never both be written."""

        def check(order: order_pb2.Order) -> None:
            if order.state not in _CANCELLABLE:
                raise _not_allowed(order, "cancelled")

        def request(_order: order_pb2.Order) -> events_pb2.OrderCommand:
            return events_pb2.OrderCommand(
                order_id=command.order_id,
                cancel=events_pb2.CancelRequested(order_id=command.order_id, reason=command.reason),
            )

        return await self._change(
            "cancel", command.order_id, order_pb2.ORDER_STATE_CANCELLED, check, request, principal
        )

    async def ship(self, command: ShipOrder, principal: Principal = UNAUTHENTICATED_ADMIN) -> Changed:
        """VALIDATED and paid in full -> SHIPPED, through the lifecycle processor.
        The shop ships: an admin's call."""
        require_admin(principal, "shipping an order")
        paid_now: dict[str, float] = {}

        async def check(order: order_pb2.Order) -> None:
            paid = await self._paid(order)
            missing = codec.rehydrate(order).missing_for_shipment(paid)
            if missing:
                raise FailedPrecondition(
                    f"order {order.order_id} cannot be shipped: " + "; ".join(m.description for m in missing),
                    [Precondition(m.what, f"order/{order.order_id}", m.description) for m in missing],
                )
            paid_now["paid"] = paid

        def request(_order: order_pb2.Order) -> events_pb2.OrderCommand:
            return events_pb2.OrderCommand(
                order_id=command.order_id,
                ship=events_pb2.ShipRequested(order_id=command.order_id, paid=paid_now["paid"]),
            )

        return await self._change("shipment", command.order_id, order_pb2.ORDER_STATE_SHIPPED, check, request)

    async def _paid(self, order: order_pb2.Order) -> float:
        """What was paid for the order. Payments never decrease, so only a
        total short of the amount needs the payments table caught up with
        every partition (a payment acknowledged by another instance)."""
        paid = self._reads.paid(order.order_id)
        if cents(paid) < cents(order.quantity * order.price):
            topic = self._topics.payments
            await asyncio.gather(
                *(self._reads.caught_up((topic, p)) for p in range(self._reads.partition_count(topic)))
            )
            paid = self._reads.paid(order.order_id)
        return paid

    async def _change(
        self,
        what: str,
        order_id: str,
        target: int,
        check: Callable[[order_pb2.Order], Awaitable[None] | None],
        request: Callable[[order_pb2.Order], events_pb2.OrderCommand],
        principal: Principal = UNAUTHENTICATED_ADMIN,
    ) -> Changed:
        """Asks the lifecycle processor for a change: NOT_FOUND for an unknown
        order; the order unchanged if it already is in `target`; the domain's
        refusal as FAILED_PRECONDITION; otherwise writes the command to
        `order-commands` and answers once the view shows the order closed
        (in `target`, or refused by a verdict or change that came first)."""
        self._require_ready()
        tp = self.partition(order_id)
        found: dict[str, order_pb2.Order] = {}

        async def find() -> order_pb2.Order | None:
            await self._reads.caught_up(tp)
            order = self._reads.order(order_id)
            if order is None or not principal.may_see(order.customer_id):
                # Another customer's order is answered as one that does not exist.
                raise NotFound("order", order_id, f"no order {order_id}")
            if order.state == target:
                return order
            checked = check(order)
            if checked is not None:
                await checked
            found["order"] = order
            return None

        def make() -> Record[order_pb2.Order]:
            command = request(found["order"])
            command.order.CopyFrom(found["order"])
            value = command.SerializeToString()
            return Record(self._topics.order_commands, order_id.encode(), value)

        # Registered before the write, so the change cannot slip by.
        with self._reads.watch_order(order_id, tp) as updates:

            async def settle(_position: Position, _record: Record[order_pb2.Order]) -> order_pb2.Order:
                try:
                    return await asyncio.wait_for(self._closed(order_id, updates), self.APPLY_TIMEOUT_S)
                except TimeoutError:
                    raise Unavailable(
                        f"the {what} is recorded but the order's processor has not applied it yet", retry_after_s=2
                    ) from None

            written = await self._writes.write(what, order_id, tp, make, settle, find=find)
        order = written.value
        if order.state != target:
            raise _not_allowed(order, "cancelled" if target == order_pb2.ORDER_STATE_CANCELLED else "shipped")
        if not written.created:
            return Changed(order, None, changed=False)
        history = self._reads.order_events(order_id)
        position = next((h.position for h in history if h.event.version == order.version), None)
        return Changed(order, position, changed=True)

    async def _closed(self, order_id: str, updates: Updates[order_pb2.Order]) -> order_pb2.Order:
        order = self._reads.order(order_id)
        while order is None or order.state not in codec.CLOSED_STATES_PB:
            newer = await updates.get()
            if order is None or newer.version > order.version:
                order = newer
        return order

    # -- lists of orders (ListOrders) and a customer's changes (WatchOrders)
    @property
    def partition_topic(self) -> str:
        return self._topics.orders

    @property
    def order_partitions(self) -> int:
        return self._reads.partition_count(self._topics.orders)

    def customer_partition(self, customer_id: int) -> TopicPartition:
        return self._reads.partition_of(self._topics.customer_orders, str(customer_id).encode())

    @staticmethod
    def may_list(query: ListOrders, principal: Principal) -> None:
        """A customer lists its own orders; every customer's are an admin's."""
        if query.customer_id:
            require_customer(principal, query.customer_id, "listing a customer's orders")
        else:
            require_admin(principal, "listing every customer's orders")

    @staticmethod
    def may_watch(query: WatchOrders, principal: Principal) -> None:
        require_customer(principal, query.customer_id, "watching a customer's orders")

    async def partition_page(self, query: ListOrders, partition: int) -> list[order_pb2.Order]:
        """Up to page size + 1 orders of one partition of `orders`, held here,
        after the query's page token: one part of a list without a customer.
        Everything committed to the partition before the call is in it."""
        self._require_ready()
        cursor = self.tokens.cursor(query.scope, query.page_token)
        await self._reads.caught_up((self._topics.orders, partition))
        return self._reads.orders_page(partition, query.state, query.product, cursor, page_size(query.page_size) + 1)

    def merged(self, query: ListOrders, parts: list[list[order_pb2.Order]]) -> query_service_pb2.ListOrdersResponse:
        """A page from every partition's part, and the token of the next."""
        orders, cursor = merge(parts, page_size(query.page_size))
        token = "" if cursor is None else self.tokens.page(query.scope, cursor)
        return query_service_pb2.ListOrdersResponse(orders=orders, next_page_token=token)

    async def customer_page(self, query: ListOrders) -> query_service_pb2.ListOrdersResponse:
        """A page of one customer's orders, from the customer-keyed view (on
        the owner of the customer's partition: no fan-out). Every order event
        committed before the call is in it: the routing processor has
        re-keyed it and the view has caught up with the partition."""
        self._require_ready()
        cursor = self.tokens.cursor(query.scope, query.page_token)
        try:
            await asyncio.wait_for(self._reads.rekeyed(), self.APPLY_TIMEOUT_S)
        except TimeoutError:
            raise Unavailable("the order routing has not re-keyed the latest orders by customer yet") from None
        await self._reads.caught_up(self.customer_partition(query.customer_id))
        orders = self._reads.customer_orders_page(
            query.customer_id, query.state, query.product, cursor, page_size(query.page_size) + 1
        )
        return self.merged(query, [orders])

    async def watch_customer(self, query: WatchOrders) -> AsyncIterator[query_service_pb2.WatchOrdersResponse]:
        """Every change to the customer's orders after the call (first, a
        response with only a resume token: the position at the call) or
        after the resume token; each carries the token to resume after it."""
        self._require_ready()
        after = self.tokens.resumed_after(query.customer_id, query.resume_token)
        with self._reads.watch_customer(query.customer_id, self.customer_partition(query.customer_id)) as updates:
            if after is None:
                after = self._reads.customer_latest(query.customer_id)
                yield query_service_pb2.WatchOrdersResponse(resume_token=self.tokens.resume(query.customer_id, after))
            while True:
                for offset, change in self._reads.customer_changes(query.customer_id, after):
                    change.resume_token = self.tokens.resume(query.customer_id, offset)
                    yield change
                    after = offset
                await updates.get()

    def resume_offset(self, query: WatchOrders, response: query_service_pb2.WatchOrdersResponse) -> int:
        """The offset a response's token resumes after."""
        offset = self.tokens.resumed_after(query.customer_id, response.resume_token)
        assert offset is not None
        return offset


_CANCELLABLE = frozenset({order_pb2.ORDER_STATE_CREATED, order_pb2.ORDER_STATE_VALIDATED})


def _not_allowed(order: order_pb2.Order, done: str) -> FailedPrecondition:
    state = order_pb2.OrderState.Name(order.state).removeprefix("ORDER_STATE_")
    description = f"the order is {state}"
    return FailedPrecondition(
        f"order {order.order_id} is {state} and cannot be {done}",
        [Precondition("STATE", f"order/{order.order_id}", description)],
    )


@dataclass(frozen=True)
class Changed:
    """What CancelOrder and ShipOrder answer: the order, where its change is
    in `orders` (None if the call found it already changed), and whether
    this call changed it."""

    order: order_pb2.Order
    position: Position | None
    changed: bool


class Inventory:
    # How long SetStock waits for the inventory check to apply a new level.
    APPLY_TIMEOUT_S = 15.0

    def __init__(self, reads: ReadModel, writes: IdempotentWrites, topics: Topics) -> None:
        self._reads = reads
        self._writes = writes
        self._topics = topics

    def partition(self, product: str) -> TopicPartition:
        return self._reads.partition_of(self._topics.inventory_levels, product.encode())

    async def set(
        self, command: SetStock, principal: Principal = UNAUTHENTICATED_ADMIN
    ) -> inventory_pb2.InventoryLevel:
        require_admin(principal, "setting stock")
        update_id = uuid.uuid4().hex
        level = inventory_pb2.StockLevel(product=command.product, quantity=command.quantity, update_id=update_id)
        tp = self.partition(command.product)
        # Watched before writing: the level the inventory check applies comes
        # back on inventory-levels, not at the written position.
        with self._reads.watch_stock(command.product, tp) as updates:

            async def settle(_position: Position, _level: object) -> inventory_pb2.InventoryLevel:
                try:
                    return await asyncio.wait_for(_applied(updates, update_id), self.APPLY_TIMEOUT_S)
                except TimeoutError:
                    raise Unavailable(
                        "the stock level is recorded but the inventory check has not applied it yet", retry_after_s=5
                    ) from None

            written = await self._writes.write(
                "stock level",
                command.product,
                tp,
                lambda: Record(self._topics.warehouse_inventory, command.product.encode(), level.SerializeToString()),
                settle,
            )
        return written.value

    async def get(self, query: GetStock) -> inventory_pb2.InventoryLevel:
        if not self._reads.orders_ready():
            raise Unavailable("the order view is still catching up with the log")
        level = self._reads.stock(query.product)
        if level is None or not level.stocked:
            raise NotFound("product", query.product, f"no stock record for product {query.product}")
        return level


async def _applied(updates: Updates[inventory_pb2.InventoryLevel], update_id: str) -> inventory_pb2.InventoryLevel:
    level = None
    while level is None or level.update_id != update_id:
        level = await updates.get()
    return level


def _require_tables(reads: ReadModel) -> None:
    if not reads.tables_healthy():
        raise Unavailable("the customers and payments tables are not being updated")


def customer_record_key(customer_id: int) -> bytes:
    """The key of a customer on the `customers` topic."""
    return str(customer_id).encode()


def normalized(customer: customers_pb2.Customer) -> customers_pb2.Customer:
    """The record as stored: an unspecified level is bronze."""
    stored = customers_pb2.Customer()
    stored.CopyFrom(customer)
    if stored.level == customers_pb2.CUSTOMER_LEVEL_UNSPECIFIED:
        stored.level = customers_pb2.CUSTOMER_LEVEL_BRONZE
    return stored


class Customers:
    """Customers go to the compacted `customers` topic (key: customer id) and
    are read back from the customers table, which every instance holds."""

    def __init__(self, reads: ReadModel, log: EventLog, topics: Topics) -> None:
        self._reads = reads
        self._log = log
        self._topics = topics

    async def upsert(
        self, command: UpsertCustomer, principal: Principal = UNAUTHENTICATED_ADMIN
    ) -> customers_pb2.Customer:
        require_customer(principal, command.customer.customer_id, "updating a customer")
        _require_tables(self._reads)
        stored = normalized(command.customer)
        position = await record(
            self._log,
            "customer",
            self._topics.customers,
            customer_record_key(stored.customer_id),
            stored.SerializeToString(),
        )
        # Read your writes: a GetCustomer after this answer sees the customer.
        await self._reads.reached(position)
        return stored

    async def get(self, query: GetCustomer, principal: Principal = UNAUTHENTICATED_ADMIN) -> customers_pb2.Customer:
        require_customer(principal, query.customer_id, "reading a customer")
        _require_tables(self._reads)
        # The customer as the log has it now: the table first catches up with
        # the customer's partition, so that any gateway instance answers with
        # the latest upsert acknowledged before the call.
        await self._reads.caught_up(
            self._reads.partition_of(self._topics.customers, customer_record_key(query.customer_id))
        )
        customer = self._reads.customer(query.customer_id)
        if customer is None:
            raise NotFound("customer", str(query.customer_id), f"no customer {query.customer_id}")
        return customer


def _same_payment(stored: payments_pb2.Payment, command: RecordPayment) -> bool:
    return (stored.order_id, stored.currency, stored.amount) == (command.order_id, command.currency, command.amount)


class Payments:
    """Payments go to `payments` (key: payment id), idempotently: as for
    PlaceOrder, every call for one payment id is served by one instance (the
    id picks an owner as an order id would), which looks the id up in the
    payments table (once caught up with the id's partition) before writing.
    Prices are in the shop's currency, so payments are too: a total of
    amounts in several currencies would say nothing about being paid."""

    def __init__(
        self, reads: ReadModel, writes: IdempotentWrites, topics: Topics, orders: Orders, currency: str = "EUR"
    ) -> None:
        self._reads = reads
        self._writes = writes
        self._topics = topics
        self._orders = orders
        self.currency = currency

    def partition(self, payment_id: str) -> TopicPartition:
        return self._reads.partition_of(self._topics.orders, payment_id.encode())

    def order_partition(self, order_id: str) -> TopicPartition:
        """Where ListPayments is served: the owner of the order's partition,
        whose order view says whose order it is."""
        return self._orders.partition(order_id)

    async def for_order(
        self, query: ListPayments, principal: Principal = UNAUTHENTICATED_ADMIN
    ) -> payments_pb2.ListPaymentsResponse:
        """The order's payments, oldest first, and their total. An admin may
        read any order id's; a customer only its own order's (another
        customer's order is NOT_FOUND alike, as GetOrder answers)."""
        if not principal.admin:
            await self._orders.get(GetOrder(query.order_id), principal)
        _require_tables(self._reads)
        # Read your writes: every payment acknowledged before the call, by
        # any instance, is in the table once it has caught up with the log.
        topic = self._topics.payments
        await asyncio.gather(*(self._reads.caught_up((topic, p)) for p in range(self._reads.partition_count(topic))))
        payments = sorted(
            self._reads.order_payments(query.order_id),
            key=lambda payment: (payment.recorded_at.ToMilliseconds(), payment.payment_id),
        )
        # The total of the payments listed (in cents, as the paid total is kept).
        paid = sum(cents(payment.amount) for payment in payments) / 100
        return payments_pb2.ListPaymentsResponse(payments=payments, paid=paid)

    async def record(
        self, command: RecordPayment, principal: Principal = UNAUTHENTICATED_ADMIN, payer: int | None = None
    ) -> Written[payments_pb2.Payment]:
        """`payer`: the customer of the paid order (looked up at the order's
        owner by the api layer), which a customer principal must be."""
        if not principal.admin and (payer is None or not principal.may_see(payer)):
            raise NotFound("order", command.order_id, f"no order {command.order_id}")
        if command.currency != self.currency:
            raise InvalidRequest(
                [FieldViolation("currency", f"must be {self.currency}, the shop's currency, not {command.currency}")]
            )
        _require_tables(self._reads)
        payment_id = command.payment_id

        def make() -> Record[payments_pb2.Payment]:
            payment = payments_pb2.Payment(
                payment_id=payment_id, order_id=command.order_id, currency=command.currency, amount=command.amount
            )
            payment.recorded_at.FromMilliseconds(int(time.time() * 1000))
            return Record(self._topics.payments, payment_id.encode(), payment.SerializeToString(), payment)

        async def settle(position: Position, recorded: Record[payments_pb2.Payment]) -> payments_pb2.Payment:
            await self._reads.reached(position)
            found = self._reads.payment(payment_id)
            if found is None:
                assert recorded.as_written is not None
                return recorded.as_written
            return found

        return await self._writes.write(
            "payment",
            payment_id,
            self.partition(payment_id),
            make,
            settle,
            find=lambda: self._when_known(payment_id),
            same=lambda existing: _same_payment(existing, command),
            reused=lambda: AlreadyExists(
                f"payment {payment_id} was already recorded with other content",
                "PAYMENT_ID_REUSED",
                payment_id=payment_id,
            ),
        )

    async def _when_known(self, payment_id: str) -> payments_pb2.Payment | None:
        found = self._reads.payment(payment_id)
        if found is None:
            await self._reads.caught_up(self._reads.partition_of(self._topics.payments, payment_id.encode()))
            found = self._reads.payment(payment_id)
        return found


class DeadLetters:
    """What the processors gave up on, for admins: every instance holds the
    whole `dead-letters` topic (with the tables), so any instance lists it."""

    def __init__(self, reads: ReadModel, topics: Topics, tokens: Tokens) -> None:
        self._reads = reads
        self._topics = topics
        self._tokens = tokens

    async def list(
        self, query: ListDeadLetters, principal: Principal = UNAUTHENTICATED_ADMIN
    ) -> dead_letter_service_pb2.ListDeadLettersResponse:
        """A page, newest first. Everything dead-lettered before the call is in it."""
        require_admin(principal, "reading dead letters")
        _require_tables(self._reads)
        after = self._tokens.dead_letter_cursor(query.scope, query.page_token)
        topic = self._topics.dead_letters
        await asyncio.gather(
            *(self._reads.caught_up((topic, partition)) for partition in range(self._reads.partition_count(topic)))
        )
        size = page_size(query.page_size)
        found = self._reads.dead_letters_page(query.processor, after, size + 1)
        token = ""
        if len(found) > size:
            found = found[:size]
            last = found[-1]
            cursor = DeadLetterCursor(last.dead_letter.failed_at.ToMilliseconds(), last.partition, last.offset)
            token = self._tokens.dead_letters_page(query.scope, cursor)
        return dead_letter_service_pb2.ListDeadLettersResponse(dead_letters=found, next_page_token=token)


@dataclass(frozen=True)
class App:
    """Every handler of the gateway, as bootstrap wires them."""

    orders: Orders
    inventory: Inventory
    customers: Customers
    payments: Payments
    dead_letters: DeadLetters


def build_app(
    reads: ReadModel,
    log: EventLog,
    topics: Topics,
    placed: Callable[[], None] = lambda: None,
    tokens: Tokens | None = None,
    currency: str = "EUR",
) -> App:
    writes = IdempotentWrites(log, reads)
    orders = Orders(reads, writes, topics, placed, tokens)
    return App(
        orders,
        Inventory(reads, writes, topics),
        Customers(reads, log, topics),
        Payments(reads, writes, topics, orders, currency),
        DeadLetters(reads, topics, orders.tokens),
    )
