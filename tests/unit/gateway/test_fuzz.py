"""Property-based: every RPC of the gateway, driven with random and
adversarial requests (any text, control and bidi characters, extreme and
non-finite numbers, positions anywhere, malformed protobuf bytes) and random
tokens, answers only with documented status codes, never UNKNOWN or
INTERNAL, and the gateway stays healthy. A real grpc.aio server built by
gateway.bootstrap over in-memory ports, with authentication on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import jwt
import pytest
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.customers.v1 import customers_pb2
from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import command_service_pb2, query_service_pb2
from oms.payments.v1 import payments_pb2
from tests.support.fakes import in_memory
from tests.support.gateway import serving

SECRET = "fuzz-secret-of-at-least-32-bytes-long"
# What the gateway's API documents (README, docs/security.md); never UNKNOWN or INTERNAL.
DOCUMENTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}
TIMEOUT_S = 0.5

INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
ADVERSARIAL_TEXT = st.sampled_from(
    [
        "",
        "order-1",
        "JUMPERS",
        "EUR",
        "a" * 300,
        "\u202eevil",
        "x\u200by",
        "\x00",
        "\x85",
        "\r\nBcc: x",
        "jo@example.com",
    ]
)
TEXT = st.one_of(st.text(max_size=80), ADVERSARIAL_TEXT)
NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e308, -1e308, 5e-324, 0.0]))
POSITION = st.one_of(st.none(), st.fixed_dictionaries({"partition": INT32, "offset": INT64}))


def _with_position(request: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if not (k == "min_position" and v is None)}


RPCS: dict[str, tuple[str, type[Message], st.SearchStrategy[dict[str, Any]]]] = {
    "PlaceOrder": (
        "/oms.orders.v1.OrderCommandService/PlaceOrder",
        command_service_pb2.PlaceOrderRequest,
        st.fixed_dictionaries(
            {"order_id": TEXT, "customer_id": INT64, "product": TEXT, "quantity": INT32, "price": NUMBER}
        ),
    ),
    "GetOrder": (
        "/oms.orders.v1.OrderQueryService/GetOrder",
        query_service_pb2.GetOrderRequest,
        st.fixed_dictionaries({"order_id": TEXT, "min_position": POSITION}).map(_with_position),
    ),
    "WatchOrder": (
        "/oms.orders.v1.OrderQueryService/WatchOrder",
        query_service_pb2.WatchOrderRequest,
        st.fixed_dictionaries({"order_id": TEXT, "min_position": POSITION}).map(_with_position),
    ),
    "SetStock": (
        "/oms.inventory.v1.InventoryService/SetStock",
        inventory_pb2.SetStockRequest,
        st.fixed_dictionaries({"product": TEXT, "quantity": INT32}),
    ),
    "GetStock": (
        "/oms.inventory.v1.InventoryService/GetStock",
        inventory_pb2.GetStockRequest,
        st.fixed_dictionaries({"product": TEXT}),
    ),
    "UpsertCustomer": (
        "/oms.customers.v1.CustomerService/UpsertCustomer",
        customers_pb2.UpsertCustomerRequest,
        st.fixed_dictionaries(
            {
                "customer": st.fixed_dictionaries(
                    {
                        "customer_id": INT64,
                        "first_name": TEXT,
                        "last_name": TEXT,
                        "email": TEXT,
                        "address": TEXT,
                        "level": st.integers(-5, 10),
                    }
                )
            }
        ),
    ),
    "GetCustomer": (
        "/oms.customers.v1.CustomerService/GetCustomer",
        customers_pb2.GetCustomerRequest,
        st.fixed_dictionaries({"customer_id": INT64}),
    ),
    "RecordPayment": (
        "/oms.payments.v1.PaymentService/RecordPayment",
        payments_pb2.RecordPaymentRequest,
        st.fixed_dictionaries({"payment_id": TEXT, "order_id": TEXT, "currency": TEXT, "amount": NUMBER}),
    ),
    "ListPayments": (
        "/oms.payments.v1.PaymentService/ListPayments",
        payments_pb2.ListPaymentsRequest,
        st.fixed_dictionaries({"order_id": TEXT}),
    ),
}


def _token(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode({"sub": "fuzz", "exp": int(time.time()) + 600, **claims}, secret, algorithm="HS256")


TOKENS = st.one_of(
    st.just(None),
    st.just("Bearer " + _token({"scope": "oms:admin"})),
    st.builds(lambda c: "Bearer " + _token({"scope": "oms:customer", "customer_id": c}), st.integers(1, 5)),
    st.builds(lambda c: "Bearer " + _token({"scope": "oms:customer", "customer_id": c}), st.one_of(TEXT, NUMBER)),
    st.just("Bearer " + _token({"scope": "oms:admin"}, "another-secret-of-at-least-32-bytes")),
    st.builds(lambda t: f"Bearer {t}", st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126))),
)


class Driver:
    """One gateway on one event loop for every example."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # grpc.aio looks the loop up as the current one.
        asyncio.set_event_loop(self.loop)
        log, reads = in_memory()
        self._serving = serving(log, reads, auth_jwt_secret=SECRET, max_watches=20)
        self.gateway, self.channel = self.loop.run_until_complete(self._serving.__aenter__())

    def call(self, method: str, payload: bytes, token: str | None, stream: bool) -> grpc.StatusCode:
        metadata = () if token is None else (("authorization", token),)

        async def run() -> grpc.StatusCode:
            identity: Callable[[bytes], bytes] = lambda b: b  # noqa: E731
            try:
                if stream:
                    async for _ in self.channel.unary_stream(method, identity, identity)(
                        payload, timeout=TIMEOUT_S, metadata=metadata
                    ):
                        pass
                else:
                    await self.channel.unary_unary(method, identity, identity)(
                        payload, timeout=TIMEOUT_S, metadata=metadata
                    )
            except grpc.aio.AioRpcError as error:
                return error.code()
            return grpc.StatusCode.OK

        return self.loop.run_until_complete(run())

    def healthy(self) -> bool:
        health = health_pb2_grpc.HealthStub(self.channel)
        answer = self.loop.run_until_complete(health.Check(health_pb2.HealthCheckRequest(), timeout=5))
        return answer.status == health_pb2.HealthCheckResponse.SERVING

    def close(self) -> None:
        self.loop.run_until_complete(self._serving.__aexit__(None, None, None))
        self.loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture(scope="module")
def driver() -> Iterator[Driver]:
    running = Driver()
    yield running
    running.close()


FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.mark.parametrize("rpc", sorted(RPCS))
def test_random_requests_get_only_documented_statuses(driver: Driver, rpc: str) -> None:
    method, request_type, fields = RPCS[rpc]

    @FUZZ
    @given(fields=fields, token=TOKENS)
    def check(fields: dict[str, Any], token: str | None) -> None:
        payload = request_type(**fields).SerializeToString()
        code = driver.call(method, payload, token, stream=rpc == "WatchOrder")
        assert code in DOCUMENTED, f"{rpc}({fields}) answered {code}"

    check()
    assert driver.healthy()


@pytest.mark.parametrize("rpc", sorted(RPCS))
def test_malformed_bytes_get_only_documented_statuses(driver: Driver, rpc: str) -> None:
    method = RPCS[rpc][0]
    admin = "Bearer " + _token({"scope": "oms:admin"})

    @FUZZ
    @given(payload=st.binary(max_size=200))
    def check(payload: bytes) -> None:
        code = driver.call(method, payload, admin, stream=rpc == "WatchOrder")
        assert code in DOCUMENTED, f"{rpc}({payload!r}) answered {code}"
        if not _parses(RPCS[rpc][1], payload):
            assert code == grpc.StatusCode.INVALID_ARGUMENT

    check()
    assert driver.healthy()


def _parses(request_type: type[Message], payload: bytes) -> bool:
    try:
        request_type.FromString(payload)
    except Exception:
        return False
    return True
