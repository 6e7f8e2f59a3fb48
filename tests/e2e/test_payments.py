"""ListPayments against the real platform (two gateway instances, tokens on):
an order's payments, recorded at either instance, are read back at once at
either instance, oldest first, with their total; a customer reads only its
own order's payments (another's order answers as one that does not exist)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import jwt
import pytest

from oms.orders.v1 import command_service_pb2
from oms.payments.v1 import payments_pb2, payments_pb2_grpc
from tests.support.orders import unique, unique_customer
from tests.support.platform import Platform

pytestmark = [pytest.mark.kafka]

SECRET = "payments-test-secret-of-at-least-32-bytes"


def bearer(**claims: object) -> tuple[tuple[str, str], ...]:
    value = jwt.encode({"sub": "payments-test", "exp": int(time.time() + 600), **claims}, SECRET, algorithm="HS256")
    return (("authorization", f"Bearer {value}"),)


def customer(customer_id: int) -> tuple[tuple[str, str], ...]:
    return bearer(scope="oms:customer", customer_id=customer_id)


ADMIN = bearer(scope="oms:admin")


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(
        bootstrap, tmp_path_factory.mktemp("payments"), env={"OMS_AUTH_JWT_SECRET": SECRET}, instances=2, partitions=4
    ).start(timeout_s=120)
    yield running
    running.stop()


def instance_targets(platform: Platform) -> list[str]:
    """Each instance's own port (a call for a key the other owns is forwarded)."""
    return [f"localhost:{platform.port + i}" for i in (1, 2)]


def list_code(stub: payments_pb2_grpc.PaymentServiceStub, order_id: str, metadata: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        stub.ListPayments(payments_pb2.ListPaymentsRequest(order_id=order_id), timeout=10, metadata=metadata)
    return raised.value.code()  # type: ignore[attr-defined]


def test_payments_recorded_at_either_instance_are_listed_at_either_with_their_total(platform: Platform) -> None:
    owner, stranger = unique_customer(), unique_customer()
    order_id = unique("order")
    platform.commands.PlaceOrder(
        command_service_pb2.PlaceOrderRequest(
            order_id=order_id, customer_id=owner, product=unique("PAID").upper(), quantity=2, price=10.0
        ),
        timeout=30,
        metadata=customer(owner),
    )
    recorded = []
    for target, amount in zip(instance_targets(platform), (12.5, 2.25), strict=True):
        with platform.connect(target) as channel:
            pay = payments_pb2.RecordPaymentRequest(
                payment_id=unique("pay"), order_id=order_id, amount=amount, currency="EUR"
            )
            answer = payments_pb2_grpc.PaymentServiceStub(channel).RecordPayment(
                pay, timeout=30, metadata=customer(owner)
            )
            recorded.append(answer.payment)

    for target in instance_targets(platform):
        with platform.connect(target) as channel:
            stub = payments_pb2_grpc.PaymentServiceStub(channel)
            for metadata in (customer(owner), ADMIN):
                # Read your writes: both payments, at once, at either instance.
                listed = stub.ListPayments(
                    payments_pb2.ListPaymentsRequest(order_id=order_id), timeout=30, metadata=metadata
                )
                assert list(listed.payments) == sorted(
                    recorded, key=lambda p: (p.recorded_at.ToMilliseconds(), p.payment_id)
                )
                assert listed.paid == 14.75
            # Another customer's order is answered as one that does not exist.
            assert list_code(stub, order_id, customer(stranger)) == grpc.StatusCode.NOT_FOUND
            assert list_code(stub, unique("never-placed"), customer(stranger)) == grpc.StatusCode.NOT_FOUND
            assert list_code(stub, "not/an/order/id", ADMIN) == grpc.StatusCode.INVALID_ARGUMENT
            assert list_code(stub, order_id, ()) == grpc.StatusCode.UNAUTHENTICATED
            # An admin reads any order id's payments: none for an order never paid.
            none = stub.ListPayments(
                payments_pb2.ListPaymentsRequest(order_id=unique("never-paid")), timeout=30, metadata=ADMIN
            )
            assert (list(none.payments), none.paid) == ([], 0)
