"""The front door's trust (issue 11), against the real platform: two
instances of every service on six partitions, TLS with client certificates
(mTLS) and bearer tokens, certificates made here by a test CA.

Refused: plaintext, no client certificate, a client certificate from
another CA; no, forged, expired and malformed tokens (UNAUTHENTICATED). A
customer cannot place, read, watch or pay another customer's order, nor call
admin RPCs, nor get around scoping with a forged forwarding header, at
either instance. The whole workflow passes over TLS with tokens, with
forwarding between the instances; bad min_position calls answer at once and
the gateway stays healthy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import jwt
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from oms.customers.v1 import customers_pb2, customers_pb2_grpc
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.orders.v1 import (
    command_service_pb2,
    command_service_pb2_grpc,
    order_pb2,
    query_service_pb2,
    query_service_pb2_grpc,
)
from oms.payments.v1 import payments_pb2, payments_pb2_grpc
from oms_client import OmsClient
from tests.e2e.test_readme import readme_grpcurl_commands
from tests.support.certs import Authority, Pair
from tests.support.orders import unique, unique_customer
from tests.support.platform import Platform

OMS = str(Path(sys.executable).with_name("oms"))
pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SECRET = "test-secret-of-at-least-32-bytes-for-hs256"


def token(secret: str = SECRET, expires_in_s: float = 600, **claims: object) -> str:
    return jwt.encode({"sub": "tester", "exp": int(time.time() + expires_in_s), **claims}, secret, algorithm="HS256")


def admin() -> str:
    return token(scope="oms:admin")


def customer(customer_id: int) -> str:
    return token(scope="oms:customer", customer_id=customer_id)


def bearer(value: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {value}"),)


def tls(ca: Path, client: Pair | None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None,
    )


class Certificates:
    def __init__(self, directory: Path) -> None:
        self.ca = Authority(directory / "ca")
        self.server = self.ca.issue("gateway", "oms gateway", server=True)
        self.client = self.ca.issue("client", "oms client")
        self.stranger = Authority(directory / "other-ca", "another CA").issue("client", "someone else")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory, certs: Certificates) -> Iterator[Platform]:
    env = {
        "OMS_TLS_CERT": str(certs.server.cert),
        "OMS_TLS_KEY": str(certs.server.key),
        "OMS_TLS_CLIENT_CA": str(certs.ca.cert),
        "OMS_AUTH_JWT_SECRET": SECRET,
    }
    running = Platform(
        bootstrap,
        tmp_path_factory.mktemp("secure"),
        env=env,
        instances=2,
        partitions=6,
        credentials=tls(certs.ca.cert, certs.client),
    ).start(timeout_s=120)
    yield running
    running.stop()


def instance_targets(platform: Platform) -> list[str]:
    """The front door and each instance's own port (calls there for a key
    another instance owns are forwarded)."""
    return [f"localhost:{platform.port + i}" for i in range(3)]


def code_of(method: Callable[..., object], request: object, **kwargs: object) -> grpc.StatusCode:
    """The status a call fails with (a stream is read to its end)."""
    with pytest.raises(grpc.RpcError) as raised:
        result = method(request, **kwargs)
        if hasattr(result, "__next__"):
            list(result)  # type: ignore[call-overload]
    return raised.value.code()  # type: ignore[attr-defined]


def set_stock(platform: Platform, product: str, quantity: int) -> None:
    platform.inventory.SetStock(
        inventory_pb2.SetStockRequest(product=product, quantity=quantity), timeout=30, metadata=bearer(admin())
    )


def place(platform: Platform, customer_id: int, product: str, as_token: str | None = None) -> order_pb2.Order:
    return platform.commands.PlaceOrder(
        command_service_pb2.PlaceOrderRequest(
            order_id=unique("order"), customer_id=customer_id, product=product, quantity=1, price=10.0
        ),
        timeout=30,
        metadata=bearer(as_token or customer(customer_id)),
    ).order


def test_plaintext_is_refused(platform: Platform) -> None:
    with grpc.insecure_channel(f"localhost:{platform.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert code_of(health.Check, health_pb2.HealthCheckRequest(), timeout=5) == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("who", ["no client certificate", "a certificate from another CA"])
def test_a_client_without_a_certificate_from_the_ca_is_refused(
    platform: Platform, certs: Certificates, who: str
) -> None:
    client = None if who == "no client certificate" else certs.stranger
    for target in instance_targets(platform):
        with grpc.secure_channel(target, tls(certs.ca.cert, client)) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert code_of(health.Check, health_pb2.HealthCheckRequest(), timeout=5) == grpc.StatusCode.UNAVAILABLE


def test_health_answers_without_a_token(platform: Platform) -> None:
    health = health_pb2_grpc.HealthStub(platform.channel)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param((), id="no-token"),
        pytest.param(bearer(token("a-forged-secret-of-at-least-32-bytes!", scope="oms:admin")), id="forged"),
        pytest.param(bearer(token(expires_in_s=-60, scope="oms:admin")), id="expired"),
        pytest.param(bearer("not.a.jwt"), id="malformed"),
        pytest.param((("authorization", admin()),), id="no-bearer-scheme"),
        pytest.param(bearer(jwt.encode({"sub": "x", "scope": "oms:admin"}, SECRET, algorithm="HS256")), id="no-exp"),
        pytest.param(bearer(token(scope="oms:customer")), id="customer-without-id"),
        pytest.param(
            bearer(jwt.encode({"sub": "x", "scope": "oms:admin", "exp": 2**31}, "", algorithm="none")), id="alg-none"
        ),
    ],
)
def test_a_missing_or_bad_token_is_unauthenticated(platform: Platform, metadata: tuple[tuple[str, str], ...]) -> None:
    stock = inventory_pb2.GetStockRequest(product="JUMPERS")
    assert code_of(platform.inventory.GetStock, stock, timeout=10, metadata=metadata) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    reflection = reflection_pb2_grpc.ServerReflectionStub(platform.channel)
    listing = iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    assert code_of(reflection.ServerReflectionInfo, listing, timeout=10, metadata=metadata) == (
        grpc.StatusCode.UNAUTHENTICATED
    )


def test_the_whole_workflow_over_tls_with_tokens_on_two_instances(platform: Platform, certs: Certificates) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 100)
    customer_id = unique_customer()
    own = bearer(customer(customer_id))
    record = customers_pb2.Customer(customer_id=customer_id, email="jo@example.com", first_name="Jo")
    platform.customers.UpsertCustomer(customers_pb2.UpsertCustomerRequest(customer=record), timeout=30, metadata=own)
    orders = [place(platform, customer_id, product) for _ in range(6)]
    for target in instance_targets(platform):
        with platform.connect(target) as channel:
            queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            for order in orders:
                watched = list(
                    queries.WatchOrder(
                        query_service_pb2.WatchOrderRequest(order_id=order.order_id), timeout=60, metadata=own
                    )
                )
                assert watched[-1].order.state == order_pb2.ORDER_STATE_VALIDATED
            got = customers_pb2_grpc.CustomerServiceStub(channel).GetCustomer(
                customers_pb2.GetCustomerRequest(customer_id=customer_id), timeout=30, metadata=own
            )
            assert got.customer.email == "jo@example.com"
            stock = inventory_pb2_grpc.InventoryServiceStub(channel).GetStock(
                inventory_pb2.GetStockRequest(product=product), timeout=30, metadata=own
            )
            assert stock.stock.product == product
    for order in orders:
        paid = platform.payments.RecordPayment(
            payments_pb2.RecordPaymentRequest(
                payment_id=unique("pay"), order_id=order.order_id, amount=10.0, currency="EUR"
            ),
            timeout=30,
            metadata=own,
        )
        assert paid.payment.order_id == order.order_id


def test_a_customer_reaches_only_its_own_orders_and_record(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 100)
    victim, intruder = unique_customer(), unique_customer()
    theirs = [place(platform, victim, product) for _ in range(4)]
    mine = bearer(customer(intruder))
    forged = (("x-oms-forwarded", "127.0.0.1:1"),)
    for target in instance_targets(platform):
        with platform.connect(target) as channel:
            queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
            commands = command_service_pb2_grpc.OrderCommandServiceStub(channel)
            payments = payments_pb2_grpc.PaymentServiceStub(channel)
            for metadata in (mine, mine + forged):
                # With a forged forwarding marker, an instance that does not own the
                # order neither serves nor forwards the call: UNAVAILABLE, never more.
                expected = {grpc.StatusCode.NOT_FOUND} | ({grpc.StatusCode.UNAVAILABLE} if metadata != mine else set())
                for order in theirs:
                    get = query_service_pb2.GetOrderRequest(order_id=order.order_id)
                    assert code_of(queries.GetOrder, get, timeout=10, metadata=metadata) in expected
                    watch = query_service_pb2.WatchOrderRequest(order_id=order.order_id)
                    assert code_of(queries.WatchOrder, watch, timeout=10, metadata=metadata) in expected
                    pay = payments_pb2.RecordPaymentRequest(
                        payment_id=unique("pay"), order_id=order.order_id, amount=1.0, currency="EUR"
                    )
                    assert code_of(payments.RecordPayment, pay, timeout=10, metadata=metadata) in expected
                for_them = command_service_pb2.PlaceOrderRequest(
                    order_id=unique("order"), customer_id=victim, product=product, quantity=1, price=1.0
                )
                assert code_of(commands.PlaceOrder, for_them, timeout=10, metadata=metadata) in (
                    expected - {grpc.StatusCode.NOT_FOUND}
                ) | {grpc.StatusCode.PERMISSION_DENIED}
            # The answer for another's order is the answer for no order at all.
            absent = query_service_pb2.GetOrderRequest(order_id=unique("never-placed"))
            present = query_service_pb2.GetOrderRequest(order_id=theirs[0].order_id)
            with pytest.raises(grpc.RpcError) as none:
                queries.GetOrder(absent, timeout=10, metadata=mine)
            with pytest.raises(grpc.RpcError) as other:
                queries.GetOrder(present, timeout=10, metadata=mine)
            assert none.value.code() == other.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    customers = platform.customers
    other_record = customers_pb2.Customer(customer_id=victim, email="evil@example.com")
    denied = grpc.StatusCode.PERMISSION_DENIED
    upsert = customers_pb2.UpsertCustomerRequest(customer=other_record)
    assert code_of(customers.UpsertCustomer, upsert, timeout=10, metadata=mine) == denied
    read = customers_pb2.GetCustomerRequest(customer_id=victim)
    assert code_of(customers.GetCustomer, read, timeout=10, metadata=mine) == denied
    stock = inventory_pb2.SetStockRequest(product=product, quantity=1)
    assert code_of(platform.inventory.SetStock, stock, timeout=10, metadata=mine) == (grpc.StatusCode.PERMISSION_DENIED)
    # The orders stay the victim's, and the victim still sees them.
    for order in theirs:
        got = platform.queries.GetOrder(
            query_service_pb2.GetOrderRequest(order_id=order.order_id), timeout=10, metadata=bearer(customer(victim))
        )
        assert got.order.customer_id == victim


def test_bad_min_positions_answer_at_once_and_the_gateway_stays_healthy(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    customer_id = unique_customer()
    placed = platform.commands.PlaceOrder(
        command_service_pb2.PlaceOrderRequest(
            order_id=unique("order"), customer_id=customer_id, product=product, quantity=1, price=1.0
        ),
        timeout=30,
        metadata=bearer(customer(customer_id)),
    )
    health = health_pb2_grpc.HealthStub(platform.channel)
    for partition, offset, timeout, code in [
        (99, 0, 10, grpc.StatusCode.INVALID_ARGUMENT),
        ((placed.position.partition + 1) % 6, 0, 10, grpc.StatusCode.INVALID_ARGUMENT),
        (placed.position.partition, 10**12, 2, grpc.StatusCode.DEADLINE_EXCEEDED),
    ]:
        request = query_service_pb2.GetOrderRequest(
            order_id=placed.order.order_id, min_position={"partition": partition, "offset": offset}
        )
        futures = [
            platform.queries.GetOrder.future(request, timeout=timeout, metadata=bearer(admin())) for _ in range(4)
        ]
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == (
            health_pb2.HealthCheckResponse.SERVING
        )
        for future in futures:
            assert future.exception().code() == code  # type: ignore[union-attr]
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == (
            health_pb2.HealthCheckResponse.SERVING
        )


def test_the_sdk_and_cli_speak_tls_with_tokens(platform: Platform, certs: Certificates) -> None:
    customer_id = unique_customer()
    env = {
        **os.environ,
        "OMS_AUTH_JWT_SECRET": SECRET,
        "OMS_TARGET": f"localhost:{platform.port}",
        "OMS_TLS_CA": str(certs.ca.cert),
        "OMS_TLS_CLIENT_CERT": str(certs.client.cert),
        "OMS_TLS_CLIENT_KEY": str(certs.client.key),
    }
    env.pop("OMS_TOKEN", None)

    def oms(*argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([OMS, *argv], capture_output=True, text=True, timeout=120, env={**env, **extra})

    admin_token = oms("token", "--admin").stdout.strip()
    customer_token = oms("token", "--customer", str(customer_id)).stdout.strip()
    product = unique("JUMPERS")
    assert oms("stock", "set", product, "10", "--token", admin_token).returncode == 0
    placed = oms(
        "--json",
        "place",
        "--customer",
        str(customer_id),
        "--product",
        product,
        "--quantity",
        "1",
        "--price",
        "2",
        OMS_TOKEN=customer_token,
    )
    assert placed.returncode == 0, placed.stderr
    order_id = json.loads(placed.stdout.splitlines()[0])["order"]["order_id"]
    denied = oms("stock", "set", product, "99", OMS_TOKEN=customer_token)
    assert denied.returncode == 1 and "PERMISSION_DENIED" in denied.stderr
    anonymous = oms("get", order_id)
    assert anonymous.returncode == 1 and "UNAUTHENTICATED" in anonymous.stderr
    with OmsClient(
        f"localhost:{platform.port}",
        token=customer_token,
        ca=certs.ca.cert,
        cert=certs.client.cert,
        key=certs.client.key,
    ) as client:
        assert client.wait_for_terminal(order_id).state == order_pb2.ORDER_STATE_VALIDATED
        # The streams carry the token too: a customer watches its own orders.
        watch = client.watch_orders(customer_id, timeout=30)
        assert next(watch).resume_token
        watch.close()


def test_the_readme_tls_examples_work(platform: Platform, certs: Certificates, tmp_path: Path) -> None:
    commands = readme_grpcurl_commands(tls=True)
    assert len(commands) >= 2
    assert shutil.which("grpcurl"), "grpcurl is not on the PATH: `make test` installs it into .venv/bin"
    (tmp_path / "certs").symlink_to(certs.ca.directory)  # certs/ca.crt, certs/client.crt, certs/client.key
    env = {**os.environ, "OMS_AUTH_JWT_SECRET": SECRET, "PATH": f"{Path(OMS).parent}{os.pathsep}{os.environ['PATH']}"}
    outputs = []
    for command in commands:
        local = command.replace("localhost:50051", f"localhost:{platform.port}")
        run = subprocess.run(["bash", "-c", local], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
        assert run.returncode == 0, f"{command}\n{run.stderr}"
        outputs.append(json.loads(run.stdout))
    assert outputs[0]["stock"]["product"] == "JUMPERS"
    assert outputs[1]["order"]["customer_id"] == "42" and outputs[1]["created"] is True
    # The same line without the client certificate, or without a token, is refused.
    for weakened in (
        commands[1].replace("-cert certs/client.crt -key certs/client.key ", ""),
        commands[1].split(" -H ")[0] + " -d " + commands[1].split(" -d ", 1)[1],
    ):
        local = weakened.replace("localhost:50051", f"localhost:{platform.port}")
        run = subprocess.run(["bash", "-c", local], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
        assert run.returncode != 0
