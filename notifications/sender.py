"""The email sender: reads the outbox topic and mails each request once.

Per batch: for each request not sent before (the sent log, LevelDB), send it
over SMTP and record it sent; one that fails goes to the sent log's retry
queue with a growing delay instead of holding up the rest. Only when every
request of the batch is recorded (sent, given up or queued) does the sender
commit its position in the outbox, so a crash makes it read them again, and
the sent log makes it skip what it already sent.
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


class EmailSender:
    def __init__(
        self,
        outbox: Outbox,
        sent: SentLog,
        mailer: Mailer,
        mail_from: str,
        clock: Callable[[], float] = time.time,
        retry_base_ms: int = 1_000,
        retry_max_ms: int = 60_000,
        poll_timeout_s: float = 0.1,
    ) -> None:
        self._outbox = outbox
        self._sent = sent
        self._mailer = mailer
        self._mail_from = mail_from
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
            log.error(
                "skipping undecodable email request at %s[%d]@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
            return
        if not request.email_id:
            log.error(
                "skipping email request without an id at %s[%d]@%d", record.topic, record.partition, record.offset
            )
            return
        if self._sent.outcome(request.email_id) is not None or self._sent.waiting(request.email_id) is not None:
            log.info("email %s was handled before; not sending it again", request.email_id)
            return
        self._attempt(request, 0)

    def _attempt(self, request: email_pb2.EmailRequested, attempts: int) -> None:
        now_ms = self._now_ms()
        if now_ms < self._paused_until_ms:
            self._retry(request, attempts, self._paused_until_ms, "the mail server was unreachable")
            return
        try:
            self._mailer.send(confirmation(request, self._mail_from))
        except SendFailed as failure:
            if failure.permanent:
                log.error("giving up on email %s to %s: %s", request.email_id, request.customer.email, failure)
                self._sent.give_up(request.email_id, str(failure))
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
