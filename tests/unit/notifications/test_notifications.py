"""The email join (orders with payments and customers) in memory, and the
email sender with a fake outbox, sent log and mailer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from email.message import EmailMessage
from pathlib import Path

import pytest

from notifications.mailer import SendFailed
from notifications.message import confirmation, email_id, message_id
from notifications.outbox import SENT, LevelDbSentLog
from notifications.processor import LATE_ARRIVAL_GRACE_MS, EmailJoinProcessor
from notifications.sender import EmailSender
from oms.customers.v1 import customers_pb2
from oms.deadletter.v1.dead_letter_pb2 import DeadLetter
from oms.notifications.v1 import email_pb2
from oms.orders.v1 import order_pb2
from oms.payments.v1 import payments_pb2
from oms.routing.v1 import state_pb2
from orders import codec
from orders.domain import Order, OrderDetails
from routing.processor import OrderRoutingProcessor, customer_key
from streams.records import Record
from streams.testing import TestDriver
from topology.deadletters import DeadLetters
from topology.topics import Topics

TOPICS = Topics()
WINDOW_MS = 60_000
T0 = 1_700_000_000_000


def customer_order(order_id: str, placed_ms: int, customer_id: int = 42) -> state_pb2.CustomerOrder:
    order = order_pb2.Order(order_id=order_id, customer_id=customer_id, product="JUMPERS", quantity=2, price=12.5)
    order.placed_at.FromMilliseconds(placed_ms)
    customer = customers_pb2.Customer(customer_id=customer_id, first_name="Jo", last_name="Doe", email="jo@example.com")
    return state_pb2.CustomerOrder(order=order, customer=customer)


def payment(payment_id: str, order_id: str, recorded_ms: int, amount: float = 25.0) -> payments_pb2.Payment:
    paid = payments_pb2.Payment(payment_id=payment_id, order_id=order_id, currency="EUR", amount=amount)
    paid.recorded_at.FromMilliseconds(recorded_ms)
    return paid


class EmailJoin:
    def __init__(self) -> None:
        self.driver = TestDriver(
            [EmailJoinProcessor(TOPICS, WINDOW_MS)], DeadLetters(TOPICS.dead_letters), partitions=3
        )

    def order(self, order_id: str, placed_ms: int) -> None:
        self.driver.pipe(
            TOPICS.enriched_orders, order_id.encode(), customer_order(order_id, placed_ms).SerializeToString()
        )
        self.driver.run()

    def pay(self, payment_id: str, order_id: str, recorded_ms: int, amount: float = 25.0) -> None:
        paid = payment(payment_id, order_id, recorded_ms, amount)
        self.driver.pipe(TOPICS.payments, payment_id.encode(), paid.SerializeToString())
        self.driver.run()

    def requests(self) -> list[email_pb2.EmailRequested]:
        return [email_pb2.EmailRequested.FromString(r.value) for r in self.driver.records(TOPICS.email_requests)]

    def requested(self) -> list[str]:
        return [r.order_id for r in self.requests()]


def test_an_order_then_its_payment_requests_one_email() -> None:
    join = EmailJoin()

    join.order("o1", T0)
    join.pay("p1", "o1", T0 + 5_000)

    (request,) = join.requests()
    assert request.email_id == email_id("o1") and request.order_id == "o1"
    assert request.customer.email == "jo@example.com"
    assert (request.payment.payment_id, request.payment.amount) == ("p1", 25.0)
    (record,) = join.driver.records(TOPICS.email_requests)
    assert record.key == b"o1"


def test_a_payment_before_its_order_joins_too() -> None:
    join = EmailJoin()

    join.pay("p1", "o1", T0)
    assert join.requested() == []
    join.order("o1", T0 + 30_000)

    assert join.requested() == ["o1"]


def test_payments_are_rekeyed_by_order_id() -> None:
    join = EmailJoin()

    join.pay("p1", "o1", T0)

    (record,) = join.driver.records(TOPICS.payments_by_order)
    assert record.key == b"o1"


@pytest.mark.parametrize("offset_ms", [WINDOW_MS + 1, -(WINDOW_MS + 1)])
def test_a_payment_outside_the_window_does_not_join(offset_ms: int) -> None:
    join = EmailJoin()

    join.order("o1", T0)
    join.pay("p1", "o1", T0 + offset_ms)

    assert join.requested() == []


@pytest.mark.parametrize("offset_ms", [WINDOW_MS, -WINDOW_MS])
def test_the_window_includes_its_edges(offset_ms: int) -> None:
    join = EmailJoin()

    join.pay("p1", "o1", T0 + offset_ms)
    join.order("o1", T0)

    assert join.requested() == ["o1"]


def test_a_second_payment_of_a_paid_order_sends_no_second_email() -> None:
    join = EmailJoin()
    join.order("o1", T0)
    join.pay("p1", "o1", T0 + 1_000)

    join.pay("p2", "o1", T0 + 2_000)

    assert join.requested() == ["o1"]


def test_an_order_delivered_twice_sends_one_email() -> None:
    join = EmailJoin()
    join.pay("p1", "o1", T0)
    join.order("o1", T0)

    join.order("o1", T0)  # a duplicate placement upstream, say
    join.pay("p2", "o1", T0 + 1_000)

    assert join.requested() == ["o1"]
    assert not any(key.startswith((b"order/", b"payment/")) for key in state_keys(join))


def test_two_payments_before_the_order_give_one_email_with_the_earliest_in_the_window() -> None:
    join = EmailJoin()
    join.pay("p-late", "o1", T0 + 50_000)
    join.pay("p-early", "o1", T0 - 10_000)

    join.order("o1", T0)

    (request,) = join.requests()
    assert request.payment.payment_id == "p-early"


def test_orders_are_joined_independently() -> None:
    join = EmailJoin()
    for n in range(5):
        join.order(f"o{n}", T0 + n)
    for n in (3, 1, 4):
        join.pay(f"p{n}", f"o{n}", T0 + 2_000)

    assert sorted(join.requested()) == ["o1", "o3", "o4"]


def test_unjoined_sides_expire_with_stream_time_not_wall_time() -> None:
    join = EmailJoin()
    join.order("o1", T0)
    # Wall-clock time alone (an idle partition, a backlog) expires nothing.
    join.driver.advance(10 * LATE_ARRIVAL_GRACE_MS)
    join.pay("p1", "o1", T0 + 10_000)
    assert join.requested() == ["o1"]

    join.order("o2", T0)
    # A record on o2's partition moves its stream time past o2's window and grace.
    join.pay("p-other", "o2", T0 + WINDOW_MS + LATE_ARRIVAL_GRACE_MS + 1)
    join.driver.advance(1_000)

    assert b"order/o2" not in state_keys(join)
    join.pay("p2", "o2", T0 + 1_000)  # in o2's window, but far too late
    assert join.requested() == ["o1"]


def state_keys(join: EmailJoin) -> set[bytes]:
    backend = join.driver.state(join.driver._attached[0].processor)
    return {key for (_, key) in backend._data}


def test_state_is_dropped_after_the_join_and_the_retention() -> None:
    join = EmailJoin()
    join.order("o1", T0)
    join.pay("p1", "o1", T0 + 1_000)
    assert b"done/o1" in state_keys(join) and b"order/o1" not in state_keys(join)

    # Much later records on o1's partition move stream time past the retention.
    join.pay("p2", "o1", T0 + WINDOW_MS + LATE_ARRIVAL_GRACE_MS + 2_000)
    join.driver.advance(1_000)

    assert b"done/o1" not in state_keys(join)
    assert join.requested() == ["o1"]


def test_the_whole_path_from_order_event_and_customer_to_email_request() -> None:
    driver = TestDriver(
        [OrderRoutingProcessor(TOPICS, 5_000, DeadLetters(TOPICS.dead_letters)), EmailJoinProcessor(TOPICS, WINDOW_MS)],
        DeadLetters(TOPICS.dead_letters),
        partitions=3,
    )
    customer = customers_pb2.Customer(customer_id=42, first_name="Jo", email="jo@example.com")
    driver.pipe(TOPICS.customers, customer_key(42), customer.SerializeToString())
    order = Order.place(OrderDetails("o1", 42, "JUMPERS", 2, 12.5))
    (placed,) = codec.events_to_pb(order, order.collect_events())
    driver.pipe(TOPICS.orders, b"o1", placed.SerializeToString())
    order.validate(checks=())
    for event in codec.events_to_pb(order, order.collect_events()):
        driver.pipe(TOPICS.orders, b"o1", event.SerializeToString())
    paid = payment("p1", "o1", placed.order.placed_at.ToMilliseconds() + 1_000)
    driver.pipe(TOPICS.payments, b"p1", paid.SerializeToString())
    driver.run()

    (record,) = driver.records(TOPICS.email_requests)
    request = email_pb2.EmailRequested.FromString(record.value)
    assert (request.order_id, request.customer.email, request.payment.payment_id) == ("o1", "jo@example.com", "p1")


def test_the_confirmation_names_the_order_payment_and_customer() -> None:
    request = email_pb2.EmailRequested(
        email_id=email_id("order:1"),
        order_id="order:1",
        customer=customer_order("order:1", T0).customer,
        order=customer_order("order:1", T0).order,
        payment=payment("p1", "order:1", T0),
    )

    message = confirmation(request, "shop@example.com")

    assert message["To"] == "jo@example.com" and message["From"] == "shop@example.com"
    assert "order:1" in message["Subject"]
    assert message["Message-ID"] == message_id(email_id("order:1")) == "<order-confirmation%2Forder%3A1@oms.localhost>"
    body = message.get_content()
    assert "Dear Jo Doe" in body and "25.00 EUR" in body and "2 x JUMPERS at 12.50" in body and "p1" in body


# The sender ------------------------------------------------------------------


class FakeOutbox:
    def __init__(self) -> None:
        self.pending: list[Record] = []
        self.committed: dict[tuple[str, int], int] = {}
        self.next_offset = 0
        self.sent_at_commit: list[int] = []
        self.mailer: FakeMailer | None = None

    def add(self, request: email_pb2.EmailRequested) -> None:
        self.pending.append(
            Record(
                TOPICS.email_requests, 0, self.next_offset, request.order_id.encode(), request.SerializeToString(), T0
            )
        )
        self.next_offset += 1

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        batch, self.pending = self.pending[:max_records], self.pending[max_records:]
        return batch

    def commit(self, next_offsets: Mapping[tuple[str, int], int]) -> None:
        self.committed.update(next_offsets)
        if self.mailer is not None:
            self.sent_at_commit.append(len(self.mailer.sent))

    def close(self) -> None:
        pass


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.failures: dict[str, list[SendFailed]] = {}
        self.attempts: list[str] = []

    def send(self, message: EmailMessage) -> None:
        self.attempts.append(message["Message-ID"])
        queued = self.failures.get(message["Message-ID"])
        if queued:
            raise queued.pop(0)
        self.sent.append(message)


class Clock:
    def __init__(self) -> None:
        self.now_s = T0 / 1000

    def __call__(self) -> float:
        return self.now_s


def request_for(order_id: str) -> email_pb2.EmailRequested:
    joined = customer_order(order_id, T0)
    return email_pb2.EmailRequested(
        email_id=email_id(order_id),
        order_id=order_id,
        customer=joined.customer,
        order=joined.order,
        payment=payment("p", order_id, T0),
    )


class FakeDeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[Record, str]] = []

    def __call__(self, record: Record, reason: str) -> None:
        self.letters.append((record, reason))

    def reasons(self) -> list[str]:
        return [reason for _, reason in self.letters]


class Sending:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.outbox = FakeOutbox()
        self.mailer = FakeMailer()
        self.outbox.mailer = self.mailer
        self.clock = Clock()
        self.dead_letters = FakeDeadLetters()
        self.log = LevelDbSentLog(path)
        self.sender = self._sender()

    def _sender(self) -> EmailSender:
        return EmailSender(
            self.outbox,
            self.log,
            self.mailer,
            "shop@example.com",
            self.dead_letters,
            requests_topic=TOPICS.email_requests,
            clock=self.clock,
        )

    def restart(self) -> None:
        """A new process on the same local state (the old one died)."""
        self.log.close()
        self.log = LevelDbSentLog(self.path)
        self.sender = self._sender()

    def sent_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.mailer.sent]

    def fail(self, order_id: str, *failures: SendFailed) -> None:
        self.mailer.failures[message_id(email_id(order_id))] = list(failures)


@pytest.fixture()
def sending(tmp_path: Path) -> Sending:
    return Sending(tmp_path / "sent")


def mid(order_id: str) -> str:
    return message_id(email_id(order_id))


def test_each_request_is_sent_and_the_position_committed_after_it(sending: Sending) -> None:
    sending.outbox.add(request_for("o1"))
    sending.outbox.add(request_for("o2"))

    sending.sender.step()

    assert sending.sent_ids() == [mid("o1"), mid("o2")]
    assert sending.outbox.committed == {(TOPICS.email_requests, 0): 2}
    assert sending.outbox.sent_at_commit == [2]
    assert sending.log.outcome(email_id("o1")) == SENT


def test_a_request_read_again_after_a_crash_is_not_sent_again(sending: Sending) -> None:
    request = request_for("o1")
    sending.outbox.add(request)
    sending.sender.step()

    # The crash came after the send was recorded, before the commit: read again.
    sending.restart()
    sending.outbox.add(request)
    sending.sender.step()

    assert sending.sent_ids() == [mid("o1")]


def test_a_failed_send_is_retried_with_backoff_without_holding_up_others(sending: Sending) -> None:
    sending.fail("o1", SendFailed("451 busy"), SendFailed("451 busy"))
    sending.outbox.add(request_for("o1"))
    sending.outbox.add(request_for("o2"))

    sending.sender.step()
    assert sending.sent_ids() == [mid("o2")]
    assert sending.outbox.committed == {(TOPICS.email_requests, 0): 2}

    sending.clock.now_s += 0.5
    sending.sender.step()
    assert sending.mailer.attempts.count(mid("o1")) == 1  # not due yet: 1 s

    sending.clock.now_s += 0.6
    sending.sender.step()
    assert sending.mailer.attempts.count(mid("o1")) == 2
    sending.clock.now_s += 1.5
    sending.sender.step()
    assert sending.mailer.attempts.count(mid("o1")) == 2  # second delay: 2 s

    sending.clock.now_s += 1.0
    sending.sender.step()
    assert sending.sent_ids() == [mid("o2"), mid("o1")]
    sending.clock.now_s += 600
    sending.sender.step()
    assert sending.sent_ids() == [mid("o2"), mid("o1")]


def test_a_waiting_retry_survives_a_restart_and_is_sent_once(sending: Sending) -> None:
    sending.fail("o1", SendFailed("451 busy"))
    request = request_for("o1")
    sending.outbox.add(request)
    sending.sender.step()

    sending.restart()
    sending.outbox.add(request)  # and it is read again, too
    sending.clock.now_s += 2
    sending.sender.step()
    sending.clock.now_s += 600
    sending.sender.step()

    assert sending.sent_ids() == [mid("o1")]


def test_a_permanent_refusal_is_given_up_not_retried(sending: Sending) -> None:
    sending.fail("o1", SendFailed("550 no such user", permanent=True))
    sending.outbox.add(request_for("o1"))

    sending.sender.step()
    sending.clock.now_s += 3600
    sending.sender.step()

    assert sending.mailer.attempts == [mid("o1")]
    assert sending.log.outcome(email_id("o1")).startswith(b"failed: 550")


def test_an_unreachable_server_pauses_sending_instead_of_trying_each_email(sending: Sending) -> None:
    sending.fail("o1", SendFailed("connection refused", unreachable=True))
    for order_id in ("o1", "o2", "o3"):
        sending.outbox.add(request_for(order_id))

    sending.sender.step()
    assert sending.mailer.attempts == [mid("o1")]
    assert sending.outbox.committed == {(TOPICS.email_requests, 0): 3}

    sending.clock.now_s += 1.1
    sending.sender.step()
    assert sorted(sending.sent_ids()) == sorted([mid("o1"), mid("o2"), mid("o3")])


def test_an_undecodable_request_is_dead_lettered_and_the_next_is_sent(sending: Sending) -> None:
    sending.outbox.pending.append(Record(TOPICS.email_requests, 0, 0, b"x", b"\xff\xff", T0))
    sending.outbox.next_offset = 1
    sending.outbox.add(request_for("o1"))

    sending.sender.step()

    assert sending.sent_ids() == [mid("o1")]
    ((record, reason),) = sending.dead_letters.letters
    assert (record.offset, record.value) == (0, b"\xff\xff") and reason.startswith("undecodable email request")


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda r: setattr(r.customer, "email", "jo@example.com\r\nBcc: all@example.com"), "no address to send to"),
        (lambda r: setattr(r.order, "order_id", "o1\nBcc: all@example.com"), "cannot render: ValueError: Header"),
        (lambda r: setattr(r.customer, "email", ""), "no address to send to"),
    ],
)
def test_an_email_that_cannot_be_rendered_or_addressed_is_given_up_as_a_dead_letter(
    sending: Sending, spoil: Callable[[email_pb2.EmailRequested], None], reason: str
) -> None:
    bad = request_for("o1")
    spoil(bad)
    sending.outbox.add(bad)
    sending.outbox.add(request_for("o2"))

    sending.sender.step()
    sending.clock.now_s += 3600
    sending.sender.step()

    assert sending.mailer.attempts == [mid("o2")]
    assert sending.outbox.committed == {(TOPICS.email_requests, 0): 2}
    ((record, why),) = sending.dead_letters.letters
    assert (record.topic, record.offset, record.value) == (TOPICS.email_requests, 0, bad.SerializeToString())
    assert reason in why and why.startswith(f"email {email_id('o1')} given up: ")
    assert (sending.log.outcome(email_id("o1")) or b"").startswith(b"failed: ")


class CrashAfterAcceptance(LevelDbSentLog):
    """The process dies after the server accepted the email, before the sent log knows."""

    def mark_sent(self, email_id: str) -> None:
        raise SystemExit("killed")


def test_a_crash_after_the_server_accepted_an_email_does_not_send_it_again(sending: Sending) -> None:
    request = request_for("o1")
    sending.log.close()
    sending.log = CrashAfterAcceptance(sending.path)
    sending.sender = sending._sender()
    sending.outbox.add(request)
    with pytest.raises(SystemExit):
        sending.sender.step()
    assert sending.outbox.committed == {}

    for _ in range(3):  # restarts read the request again, and again
        sending.restart()
        sending.outbox.add(request)
        sending.sender.step()

    assert sending.sent_ids() == [mid("o1")]
    ((record, reason),) = sending.dead_letters.letters
    assert "uncertain" in reason and record.value == request.SerializeToString()
    assert (sending.log.outcome(email_id("o1")) or b"").startswith(b"failed: uncertain")


def test_a_permanent_refusal_is_a_dead_letter_too(sending: Sending) -> None:
    sending.fail("o1", SendFailed("550 no such user", permanent=True))
    sending.outbox.add(request_for("o1"))

    sending.sender.step()

    assert sending.dead_letters.reasons() == [f"email {email_id('o1')} given up: 550 no such user"]


def test_an_order_placed_beyond_the_expiry_index_is_a_dead_letter_and_the_join_goes_on() -> None:
    join = EmailJoin()
    # Placed in the year 33658: it decodes, but no time can be computed from it.
    broken = customer_order("far-future", T0)
    broken.order.placed_at.seconds = 10**12
    join.driver.pipe(TOPICS.enriched_orders, b"far-future", broken.SerializeToString())
    join.driver.run()
    join.order("next", T0)
    join.pay("p-1", "next", T0 + 1000)

    (letter,) = [DeadLetter.FromString(r.value) for r in join.driver.records(TOPICS.dead_letters)]
    assert (letter.source_topic, letter.processor, letter.key) == (TOPICS.enriched_orders, "email-join", b"far-future")
    assert letter.reason.startswith("ValueError: Timestamp is not valid")
    assert join.requested() == ["next"]


def test_a_corrupt_sent_log_is_moved_aside_and_starts_empty(sending: Sending) -> None:
    sending.outbox.add(request_for("o1"))
    sending.sender.step()
    sending.log.close()
    (sending.path / "CURRENT").write_text("garbage\n")

    sending.restart()

    # What it knew is gone: only committed outbox positions keep o1 from going again.
    assert sending.log.outcome(email_id("o1")) is None
    assert list(sending.path.parent.glob("sent.broken-*"))
