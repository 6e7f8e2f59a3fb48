"""The email sender: reads the outbox topic and mails each request once.

Per batch: for each request not sent before (the sent log, LevelDB), send it
over SMTP and record it sent; one that fails goes to the sent log's retry
queue with a growing delay instead of holding up the rest. Only when every
request of the batch is recorded (sent, given up or queued) does the sender
commit its position in the outbox, so a crash makes it read them again, and
the sent log makes it skip what it already sent.

Faults, and what each costs:
- A request that cannot be decoded, has no id, cannot be rendered (a header
  with a line break, say) or has no address, and an email the server refuses
  for good: given up, as a dead letter on `dead-letters` (written and
  acknowledged first) and as `failed: ...` in the sent log. Never retried.
- The exact guarantee around SMTP: before an email goes to the server, the
  sent log records durably that it is being sent; its outcome (sent, retry,
  given up) clears that in the same write. If the process dies, or the
  sent-log write fails, after the server accepted the email (or while it was
  deciding), the next run finds the marker and does NOT send it again: the
  server may or may not have it, so the email is given up as "uncertain",
  with a dead letter carrying the request, for an operator to check and
  resend. So each email id reaches the SMTP server at most once per sent
  log; no crash makes it go out again and again. (A lost sent log forgets
  this: see docs/exactly-once.md, Faults.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from google.protobuf.message import DecodeError

from notifications.mailer import Mailer, SendFailed
from notifications.message import confirmation
from notifications.outbox import SentLog
from oms.notifications.v1 import email_pb2
from streams.kafka import StreamsError
from streams.records import Record

log = logging.getLogger(__name__)


class Outbox(Protocol):
    def poll(self, max_records: int, timeout_s: float) -> list[Record]: ...

    def commit(self, next_offsets: Mapping[tuple[str, int], int]) -> None: ...

    def close(self) -> None: ...


class DeadLetterSink(Protocol):
    def __call__(self, record: Record, reason: str) -> None:
        """Writes the dead letter of record; returns once it is durable."""
        ...


def addressable(address: str) -> bool:
    """An address SMTP can be asked to deliver to (the server judges the rest)."""
    return "@" in address and not any(c.isspace() or c in "<>,;" for c in address)


class EmailSender:
    def __init__(
        self,
        outbox: Outbox,
        sent: SentLog,
        mailer: Mailer,
        mail_from: str,
        dead_letters: DeadLetterSink,
        requests_topic: str = "email-requests",
        clock: Callable[[], float] = time.time,
        retry_base_ms: int = 1_000,
        retry_max_ms: int = 60_000,
        poll_timeout_s: float = 0.1,
    ) -> None:
        self._outbox = outbox
        self._sent = sent
        self._mailer = mailer
        self._mail_from = mail_from
        self._dead_letters = dead_letters
        self._requests_topic = requests_topic
        self._clock = clock
        self._retry_base_ms = retry_base_ms
        self._retry_max_ms = retry_max_ms
        self._poll_timeout_s = poll_timeout_s
        # While the server is unreachable, emails wait in the retry queue
        # rather than each waiting out its own connection attempt.
        self._paused_until_ms = 0
        self.sent_count = 0

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.step()
        finally:
            self._outbox.close()
            self._sent.close()

    def step(self) -> None:
        records = self._outbox.poll(100, self._poll_timeout_s)
        following: dict[tuple[str, int], int] = {}
        for record in records:
            self._on_request(record)
            following[(record.topic, record.partition)] = record.offset + 1
        if following:
            try:
                self._outbox.commit(following)
            except StreamsError as exc:
                # The partitions moved: their new owner reads these again.
                log.warning("could not commit the outbox position: %s", exc)
        for attempt in self._sent.due(self._now_ms(), limit=100):
            self._attempt(attempt.request, attempt.attempts)

    def _on_request(self, record: Record) -> None:
        try:
            request = email_pb2.EmailRequested.FromString(record.value or b"")
        except DecodeError as exc:
            self._dead_letter(record, f"undecodable email request: {exc}")
            return
        if not request.email_id:
            self._dead_letter(record, "email request without an email id")
            return
        if self._sent.outcome(request.email_id) is not None or self._sent.waiting(request.email_id) is not None:
            log.info("email %s was handled before; not sending it again", request.email_id)
            return
        self._attempt(request, 0, record)

    def _dead_letter(self, record: Record, reason: str) -> None:
        log.error("dead-lettering email request %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
        self._dead_letters(record, reason)

    def _give_up(self, request: email_pb2.EmailRequested, record: Record | None, reason: str) -> None:
        """A dead letter first, then the sent log: a crash in between gives a
        second dead letter, never a lost one."""
        if record is None:  # from the retry queue: its place in the outbox is not kept
            record = Record(self._requests_topic, -1, -1, request.order_id.encode(), None, self._now_ms())
        source = Record(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            request.SerializeToString(),
            record.timestamp_ms,
        )
        self._dead_letter(source, f"email {request.email_id} given up: {reason}")
        self._sent.give_up(request.email_id, reason)

    def _attempt(self, request: email_pb2.EmailRequested, attempts: int, record: Record | None = None) -> None:
        if self._sent.was_sending(request.email_id):
            self._give_up(
                request,
                record,
                "uncertain: an earlier run stopped while the email was with the mail server; "
                "it may have been delivered, so it is not sent again",
            )
            return
        try:
            if not addressable(request.customer.email):
                raise ValueError(f"no address to send to: {request.customer.email!r}")
            message = confirmation(request, self._mail_from)
        except Exception as exc:
            self._give_up(request, record, f"cannot render: {type(exc).__name__}: {exc}")
            return
        now_ms = self._now_ms()
        if now_ms < self._paused_until_ms:
            self._retry(request, attempts, self._paused_until_ms, "the mail server was unreachable")
            return
        self._sent.begin_sending(request.email_id)
        try:
            self._mailer.send(message)
        except SendFailed as failure:
            if failure.permanent:
                self._give_up(request, record, str(failure))
                return
            delay_ms = min(self._retry_max_ms, self._retry_base_ms * 2 ** min(attempts, 20))
            log.warning(
                "email %s not sent (attempt %d), retrying in %d ms: %s",
                request.email_id,
                attempts + 1,
                delay_ms,
                failure,
            )
            if failure.unreachable:
                self._paused_until_ms = now_ms + delay_ms
            self._retry(request, attempts + 1, now_ms + delay_ms, str(failure))
            return
        self._sent.mark_sent(request.email_id)
        self.sent_count += 1
        log.info("sent email %s to %s", request.email_id, request.customer.email)

    def _retry(self, request: email_pb2.EmailRequested, attempts: int, due_ms: int, error: str) -> None:
        attempt = email_pb2.EmailAttempt(request=request, attempts=attempts, last_error=error)
        attempt.next_attempt_at.FromMilliseconds(due_ms)
        self._sent.schedule(attempt)
