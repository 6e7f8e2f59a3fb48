"""The whole workflow on a broker that serves SASL/SCRAM with ACLs
(OMS_KAFKA_SASL=1's), every kind of service logged in as its own user with
least privilege: an order is validated, and a customer's paid order gets its
email, through every service and topic of the platform."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import localkafka
from launcher.mailsink import MailSink
from notifications.message import email_id, message_id
from oms.customers.v1 import customers_pb2
from oms.orders.v1 import order_pb2
from oms.payments.v1 import payments_pb2
from tests.support.orders import eventually, final_state, place, set_stock, unique, unique_customer
from tests.support.platform import Platform
from topology.registry import services

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def platform(
    sasl_kafka: localkafka.KafkaCluster, tmp_path_factory: pytest.TempPathFactory, mail: MailSink
) -> Iterator[Platform]:
    env = {"OMS_SMTP_HOST": mail.host, "OMS_SMTP_PORT": str(mail.port)}
    running = Platform(
        sasl_kafka.bootstrap_servers,
        tmp_path_factory.mktemp("sasl-platform"),
        env=env,
        sasl=True,
        admin=sasl_kafka.client_properties,
    ).start(timeout_s=120)
    yield running
    running.stop()


def test_every_service_runs_as_its_own_user(platform: Platform) -> None:
    users = {name: env["OMS_KAFKA_SASL_USERNAME"] for name, env in platform.kafka_users.items()}

    assert len(set(users.values())) == len(users) == len(services(platform.settings.layout))
    for process, pid in platform.supervisor.pids().items():  # "pipeline-0": the pipeline's instance 0
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"OMS_KAFKA_SASL_USERNAME={users[process.rsplit('-', 1)[0]]}".encode() in environ, process


def test_an_order_is_validated_with_every_service_as_its_own_user(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 5)

    placed = place(platform, product, quantity=1, price=12.5)

    assert final_state(platform, placed.order.order_id, timeout_s=60).state == order_pb2.ORDER_STATE_VALIDATED


def test_a_paid_order_of_a_customer_gets_its_email(platform: Platform, mail: MailSink) -> None:
    buyer = customers_pb2.Customer(
        customer_id=unique_customer(),
        first_name="Sam",
        last_name="Doe",
        email=f"sam.{unique('c')}@example.com",
        level=customers_pb2.CUSTOMER_LEVEL_GOLD,
    )
    platform.customers.UpsertCustomer(customers_pb2.UpsertCustomerRequest(customer=buyer), timeout=15)
    product = unique("SHOES")
    set_stock(platform, product, 5)
    order_id = place(platform, product, quantity=1, price=5.0, customer_id=buyer.customer_id).order.order_id
    platform.payments.RecordPayment(
        payments_pb2.RecordPaymentRequest(payment_id=unique("pay"), order_id=order_id, currency="EUR", amount=5.0),
        timeout=15,
    )

    emails = eventually(
        lambda: mail.with_message_id(message_id(email_id(order_id))), timeout_s=60, what=f"email of {order_id}"
    )

    assert [email["To"] for email in emails] == [buyer.email]  # type: ignore[attr-defined]
