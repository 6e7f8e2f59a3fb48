"""What the email sender has done, durably: emails sent or given up, emails
waiting for another attempt, and the email being handed to the mail server
right now. One LevelDB database per process.

Every change is one synchronous WriteBatch, so an email recorded here as
sent stays recorded across a crash (kill -9, power loss) before the sender
commits its position in the outbox topic. `begin_sending` is recorded before
the email goes to SMTP and cleared in the same write as its outcome: a
process that finds it set knows a predecessor stopped while that email was
with the server, accepted or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from oms.notifications.v1 import email_pb2
from streams.leveldb import KeyValueDb
from streams.stores import TimerKeys

_DONE = b"done/"
_RETRY = b"retry/"
_SENDING = b"sending/"
# Email ids by the time of their next attempt.
_DUE = TimerKeys(b"due/")

SENT = b"sent"


def _due_key(attempt: email_pb2.EmailAttempt) -> bytes:
    return _DUE.key(attempt.next_attempt_at.ToMilliseconds(), attempt.request.email_id.encode())


class SentLog(Protocol):
    def outcome(self, email_id: str) -> bytes | None:
        """b"sent", or why it was given up; None while not done."""
        ...

    def waiting(self, email_id: str) -> email_pb2.EmailAttempt | None: ...

    def begin_sending(self, email_id: str) -> None:
        """Records, durably, that the email is about to go to the server."""
        ...

    def was_sending(self, email_id: str) -> bool:
        """Whether the email went to the server without an outcome recorded."""
        ...

    def mark_sent(self, email_id: str) -> None: ...

    def give_up(self, email_id: str, reason: str) -> None: ...

    def schedule(self, attempt: email_pb2.EmailAttempt) -> None:
        """Stores (or moves) an email's next attempt."""
        ...

    def due(self, now_ms: int, limit: int) -> list[email_pb2.EmailAttempt]: ...

    def close(self) -> None: ...


class LevelDbSentLog:
    """Damaged, it starts empty: what it knew cannot be rebuilt from Kafka.
    Requests whose outbox position is committed are not read again, so they
    are not resent; requests not yet committed (the last batch before the
    damage) are read again and may be sent a second time (same Message-ID);
    retries that were waiting are lost unless still uncommitted."""

    def __init__(self, path: Path) -> None:
        self._db = KeyValueDb(
            path, "nothing: emails after the committed outbox position are handled again, earlier ones not"
        )

    def outcome(self, email_id: str) -> bytes | None:
        return self._db.get(_DONE + email_id.encode())

    def waiting(self, email_id: str) -> email_pb2.EmailAttempt | None:
        raw = self._db.get(_RETRY + email_id.encode())
        return None if raw is None else email_pb2.EmailAttempt.FromString(raw)

    def begin_sending(self, email_id: str) -> None:
        self._db.write(puts={_SENDING + email_id.encode(): b""})

    def was_sending(self, email_id: str) -> bool:
        return self._db.get(_SENDING + email_id.encode()) is not None

    def _finish(self, email_id: str, outcome: bytes) -> None:
        previous = self.waiting(email_id)
        stale = [_SENDING + email_id.encode()]
        if previous is not None:
            stale += [_RETRY + email_id.encode(), _due_key(previous)]
        self._db.write(puts={_DONE + email_id.encode(): outcome}, deletes=stale)

    def mark_sent(self, email_id: str) -> None:
        self._finish(email_id, SENT)

    def give_up(self, email_id: str, reason: str) -> None:
        self._finish(email_id, b"failed: " + reason.encode())

    def schedule(self, attempt: email_pb2.EmailAttempt) -> None:
        previous = self.waiting(attempt.request.email_id)
        self._db.write(
            puts={_RETRY + attempt.request.email_id.encode(): attempt.SerializeToString(), _due_key(attempt): b""},
            deletes=[_SENDING + attempt.request.email_id.encode()] + ([] if previous is None else [_due_key(previous)]),
        )

    def due(self, now_ms: int, limit: int) -> list[email_pb2.EmailAttempt]:
        found: list[email_pb2.EmailAttempt] = []
        for key, _ in self._db.scan(_DUE.prefix, until=_DUE.until(now_ms)):
            due_ms, email_id = _DUE.parse(key)
            if due_ms > now_ms or len(found) >= limit:
                break
            attempt = self.waiting(email_id.decode())
            if attempt is not None:
                found.append(attempt)
        return found

    def close(self) -> None:
        self._db.close()
