"""Order confirmation emails over real SMTP: every service as its own process,
a real SMTP server (aiosmtpd) on a free port, and kill -9 of the email
service while an email is on its way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from launcher.mailsink import MailSink
from notifications.message import email_id, message_id
from oms.customers.v1 import customers_pb2
from oms.notifications.v1 import email_pb2
from oms.orders.v1 import order_pb2
from oms.payments.v1 import payments_pb2
from tests.support.orders import eventually, final_state, place, read_topic, set_stock, unique, unique_customer
from tests.support.platform import Platform

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory, mail: MailSink) -> Iterator[Platform]:
    env = {"OMS_SMTP_HOST": mail.host, "OMS_SMTP_PORT": str(mail.port), "OMS_MAIL_FROM": "shop@example.com"}
    running = Platform(bootstrap, tmp_path_factory.mktemp("email"), env=env).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def accepting(mail: MailSink) -> Iterator[None]:
    mail.refusing = False
    yield
    mail.refusing = False


def customer(platform: Platform, first_name: str = "Jo") -> customers_pb2.Customer:
    written = customers_pb2.Customer(
        customer_id=unique_customer(),
        first_name=first_name,
        last_name="Doe",
        email=f"{first_name.lower()}.{unique('c')}@example.com",
        level=customers_pb2.CUSTOMER_LEVEL_GOLD,
    )
    return platform.customers.UpsertCustomer(customers_pb2.UpsertCustomerRequest(customer=written), timeout=15).customer


def pay(platform: Platform, order_id: str, amount: float = 25.0, payment_id: str | None = None) -> payments_pb2.Payment:
    request = payments_pb2.RecordPaymentRequest(
        payment_id=payment_id or unique("pay"), order_id=order_id, currency="EUR", amount=amount
    )
    return platform.payments.RecordPayment(request, timeout=15).payment


def emails_of(mail: MailSink, order_id: str) -> list[EmailMessage]:
    return mail.with_message_id(message_id(email_id(order_id)))


def paid_order(platform: Platform, mail: MailSink, buyer: customers_pb2.Customer | None = None) -> str:
    """A placed and paid order, once its email has arrived."""
    buyer = buyer or customer(platform)
    order_id = place(platform, unique("JUMPERS"), quantity=1, price=5.0, customer_id=buyer.customer_id).order.order_id
    pay(platform, order_id, amount=5.0)
    eventually(lambda: emails_of(mail, order_id), timeout_s=30, what=f"email of {order_id}")
    return order_id


def outbox_drained(platform: Platform) -> bool:
    """The sender has committed its position past the last request of the outbox."""
    topic = platform.settings.topic("email-requests")
    partitions = [TopicPartition(topic, p) for p in range(platform.settings.partitions)]
    admin = AdminClient({"bootstrap.servers": platform.bootstrap})
    request = ConsumerGroupTopicPartitions(platform.settings.topic("email-sender"), partitions)
    (future,) = admin.list_consumer_group_offsets([request], request_timeout=10).values()
    committed = {tp.partition: tp.offset for tp in future.result(timeout=15).topic_partitions}
    # The log ends with transaction markers: compare with the last request's offset.
    following = last_offsets(platform.bootstrap, topic, len(partitions))
    return all(committed.get(p, -1) >= offset for p, offset in following.items())


def last_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """The offset after the last committed record of each non-empty partition."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("reader"),
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    following: dict[int, int] = {}
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        remaining = partitions
        while remaining:
            message = consumer.poll(10)
            assert message is not None, f"reading {topic} stalled"
            if message.error():
                remaining -= 1
            else:
                following[message.partition()] = message.offset() + 1
    finally:
        consumer.close()
    return following


def settled(platform: Platform, mail: MailSink) -> None:
    """Waits until anything still on its way would have arrived: the outbox is
    drained and a fresh order's email went through after it."""
    eventually(lambda: outbox_drained(platform), timeout_s=30, what="outbox drained")
    paid_order(platform, mail)


def email_requests(platform: Platform, order_id: str) -> list[email_pb2.EmailRequested]:
    records = read_topic(platform.bootstrap, platform.settings.topic("email-requests"))
    return [email_pb2.EmailRequested.FromString(v) for k, v in records if k == order_id.encode()]


def test_a_paid_order_gets_one_confirmation_email(platform: Platform, mail: MailSink) -> None:
    buyer = customer(platform, "Ada")
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    order_id = place(platform, product, quantity=2, price=12.5, customer_id=buyer.customer_id).order.order_id

    payment = pay(platform, order_id, amount=25.0)

    (message,) = eventually(lambda: emails_of(mail, order_id), timeout_s=30, what="the email")
    assert message["To"] == buyer.email and message["From"] == "shop@example.com"
    assert order_id in message["Subject"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Dear Ada Doe" in body and "25.00 EUR" in body and f"2 x {product} at 12.50" in body
    assert payment.payment_id in body
    # The order goes on to VALIDATED: a state change sends no second email.
    assert final_state(platform, order_id).state == order_pb2.ORDER_STATE_VALIDATED
    settled(platform, mail)
    assert len(emails_of(mail, order_id)) == 1
    assert len(email_requests(platform, order_id)) == 1


def test_a_payment_before_its_order_still_gets_the_email(platform: Platform, mail: MailSink) -> None:
    buyer = customer(platform)
    order_id = unique("order")
    pay(platform, order_id, amount=7.5)

    place(platform, unique("JUMPERS"), quantity=1, price=7.5, customer_id=buyer.customer_id, order_id=order_id)

    (message,) = eventually(lambda: emails_of(mail, order_id), timeout_s=30, what="the email")
    assert message["To"] == buyer.email and "7.50 EUR" in message.get_body(preferencelist=("plain",)).get_content()


def test_a_second_payment_of_the_same_order_sends_no_second_email(platform: Platform, mail: MailSink) -> None:
    order_id = paid_order(platform, mail)

    pay(platform, order_id, amount=1.0)

    settled(platform, mail)
    assert len(emails_of(mail, order_id)) == 1


def test_an_unpaid_order_gets_no_email(platform: Platform, mail: MailSink) -> None:
    buyer = customer(platform)
    order_id = place(platform, unique("JUMPERS"), customer_id=buyer.customer_id).order.order_id

    settled(platform, mail)

    assert emails_of(mail, order_id) == []


def test_a_refused_send_is_retried_and_other_orders_are_not_held_up(platform: Platform, mail: MailSink) -> None:
    refused = mail.refused
    mail.refusing = True
    order_id = unique("order")
    buyer = customer(platform)
    place(platform, unique("JUMPERS"), customer_id=buyer.customer_id, order_id=order_id)
    pay(platform, order_id)
    eventually(lambda: mail.refused > refused, timeout_s=30, what="a refused attempt")

    mail.refusing = False

    eventually(lambda: emails_of(mail, order_id), timeout_s=30, what="the email after the retry")
    settled(platform, mail)
    assert len(emails_of(mail, order_id)) == 1


def test_a_crash_between_the_join_and_the_send_sends_the_email_once(platform: Platform, mail: MailSink) -> None:
    mail.refusing = True
    refused = mail.refused
    buyer = customer(platform)
    order_id = place(platform, unique("JUMPERS"), customer_id=buyer.customer_id).order.order_id
    pay(platform, order_id)
    # Joined (the request is committed to the outbox), tried, not sent.
    eventually(lambda: email_requests(platform, order_id), timeout_s=30, what="the email request")
    eventually(lambda: mail.refused > refused, timeout_s=30, what="a refused attempt")

    kill_and_restart(platform, "notifications-0", before_restart=lambda: setattr(mail, "refusing", False))

    eventually(lambda: emails_of(mail, order_id), timeout_s=60, what="the email after the restart")
    settled(platform, mail)
    assert len(emails_of(mail, order_id)) == 1


def test_a_crash_after_the_send_does_not_send_it_again(platform: Platform, mail: MailSink) -> None:
    order_id = paid_order(platform, mail)

    kill_and_restart(platform, "notifications-0")

    settled(platform, mail)
    assert len(emails_of(mail, order_id)) == 1


def kill_and_restart(platform: Platform, name: str, before_restart: Callable[[], object] = lambda: None) -> None:
    """kill -9, then the supervisor starts it again (after its back-off)."""
    killed = platform.supervisor.pids()[name]
    platform.kill(name)
    before_restart()

    def restarted() -> bool:
        platform.supervise()
        return platform.supervisor.pids().get(name, killed) != killed

    eventually(restarted, timeout_s=30, what=f"{name} restarted")
