"""An in-process fake of the oms platform, for your own unit tests.

    from oms_client import OmsClient
    from oms_client.testing import FakeOms

    def test_my_shop():
        with FakeOms() as oms, OmsClient(oms.target) as client:
            client.set_stock("JUMPERS", 10)
            placed = client.place_order(customer_id=42, product="JUMPERS", quantity=2, price=12.5)
            assert client.wait_for_terminal(placed.order.order_id).state == OrderState.ORDER_STATE_VALIDATED

It is a real gRPC server (on 127.0.0.1, a free port, its own threads) that
holds everything in memory and answers every call of the API with the
platform's validation, status codes, error details and lifecycle rules:
idempotent PlaceOrder (ALREADY_EXISTS for a reused id), NOT_FOUND with
ResourceInfo, INVALID_ARGUMENT with BadRequest naming each field, cancel
and ship with FAILED_PRECONDITION and PreconditionFailure, stock
reservation and release, idempotent payments, ListOrders with opaque page
tokens, ListOrderEvents, WatchOrder and WatchOrders.

What it simplifies (see client/README.md): the checks decide at once, in
the PlaceOrder call (the answer still shows the order as placed, CREATED;
pass `auto_decide=False` and call `decide(order_id)` to hold them); a
customer's fraud session is every order it placed within an hour of the
previous one; there is one partition (positions are (0, n)); bearer tokens
and TLS are not checked (every call is an admin's); nothing is lost or
retried, so UNAVAILABLE and RESOURCE_EXHAUSTED never happen; no emails.
"""

from __future__ import annotations

from concurrent import futures
from types import TracebackType

import grpc

from oms_client._gen.customers.v1 import customers_pb2_grpc
from oms_client._gen.deadletter.v1 import dead_letter_service_pb2_grpc
from oms_client._gen.inventory.v1 import inventory_pb2_grpc
from oms_client._gen.orders.v1 import command_service_pb2_grpc, order_pb2, query_service_pb2_grpc
from oms_client._gen.payments.v1 import payments_pb2_grpc
from oms_client.testing._services import (
    Commands,
    Customers,
    DeadLetters,
    Inventory,
    LenientRequests,
    Payments,
    Queries,
)
from oms_client.testing._state import FRAUD_LIMIT, State

__all__ = ["FakeOms"]


class FakeOms:
    """A fake oms server: `start()` (or `with FakeOms() as oms:`) listens on
    `oms.target`; `stop()` ends it. `auto_decide=False` keeps placed orders
    CREATED until `decide(order_id)`; `fraud_limit=None` turns the fraud
    check off."""

    def __init__(
        self,
        *,
        auto_decide: bool = True,
        fraud_limit: float | None = FRAUD_LIMIT,
        currency: str = "EUR",
        max_workers: int = 32,
    ) -> None:
        self.state = State(auto_decide=auto_decide, fraud_limit=fraud_limit, currency=currency)
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fake-oms"),
            interceptors=[LenientRequests()],
        )
        state = self.state
        command_service_pb2_grpc.add_OrderCommandServiceServicer_to_server(Commands(state), self._server)
        query_service_pb2_grpc.add_OrderQueryServiceServicer_to_server(Queries(state), self._server)
        inventory_pb2_grpc.add_InventoryServiceServicer_to_server(Inventory(state), self._server)
        customers_pb2_grpc.add_CustomerServiceServicer_to_server(Customers(state), self._server)
        payments_pb2_grpc.add_PaymentServiceServicer_to_server(Payments(state), self._server)
        dead_letter_service_pb2_grpc.add_DeadLetterServiceServicer_to_server(DeadLetters(), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"

    def start(self) -> FakeOms:
        self._server.start()
        return self

    def stop(self, grace: float | None = 0.5) -> None:
        with self.state.lock:
            self.state.closing = True
            self.state.changed.notify_all()
        self._server.stop(grace).wait()

    def __enter__(self) -> FakeOms:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def decide(self, order_id: str) -> order_pb2.Order:
        """Runs the checks of a CREATED order now (with `auto_decide=False`)."""
        return self.state.decide(order_id)
