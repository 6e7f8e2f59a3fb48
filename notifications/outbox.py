"""What the email sender has done, durably: emails sent or given up, and
emails waiting for another attempt. One LevelDB database per process.

Every change is one synchronous WriteBatch, so an email recorded here as
sent stays recorded across a crash (kill -9, power loss) before the sender
commits its position in the outbox topic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from oms.notifications.v1 import email_pb2
from streams.leveldb import open_db

_DONE = b"done/"
_RETRY = b"retry/"
_DUE = b"due/"

SENT = b"sent"


def _due_key(due_ms: int, email_id: str) -> bytes:
    return _DUE + b"%015d/" % due_ms + email_id.encode()


class SentLog(Protocol):
    def outcome(self, email_id: str) -> bytes | None:
        """b"sent", or why it was given up; None while not done."""
        ...

    def waiting(self, email_id: str) -> email_pb2.EmailAttempt | None: ...

    def mark_sent(self, email_id: str) -> None: ...

    def give_up(self, email_id: str, reason: str) -> None: ...

    def schedule(self, attempt: email_pb2.EmailAttempt) -> None:
        """Stores (or moves) an email's next attempt."""
        ...

    def due(self, now_ms: int, limit: int) -> list[email_pb2.EmailAttempt]: ...

    def close(self) -> None: ...


class LevelDbSentLog:
    def __init__(self, path: Path) -> None:
        self._db = open_db(path)

    def outcome(self, email_id: str) -> bytes | None:
        return self._db.get(_DONE + email_id.encode())

    def waiting(self, email_id: str) -> email_pb2.EmailAttempt | None:
        raw = self._db.get(_RETRY + email_id.encode())
        return None if raw is None else email_pb2.EmailAttempt.FromString(raw)

    def _finish(self, email_id: str, outcome: bytes) -> None:
        previous = self.waiting(email_id)
        with self._db.write_batch(transaction=True, sync=True) as batch:
            batch.put(_DONE + email_id.encode(), outcome)
            if previous is not None:
                batch.delete(_RETRY + email_id.encode())
                batch.delete(_due_key(previous.next_attempt_at.ToMilliseconds(), email_id))

    def mark_sent(self, email_id: str) -> None:
        self._finish(email_id, SENT)

    def give_up(self, email_id: str, reason: str) -> None:
        self._finish(email_id, b"failed: " + reason.encode())

    def schedule(self, attempt: email_pb2.EmailAttempt) -> None:
        email_id = attempt.request.email_id
        previous = self.waiting(email_id)
        with self._db.write_batch(transaction=True, sync=True) as batch:
            if previous is not None:
                batch.delete(_due_key(previous.next_attempt_at.ToMilliseconds(), email_id))
            batch.put(_RETRY + email_id.encode(), attempt.SerializeToString())
            batch.put(_due_key(attempt.next_attempt_at.ToMilliseconds(), email_id), b"")

    def due(self, now_ms: int, limit: int) -> list[email_pb2.EmailAttempt]:
        found = []
        for key, _ in self._db.iterator(prefix=_DUE):
            if int(key[len(_DUE) : len(_DUE) + 15]) > now_ms or len(found) >= limit:
                break
            attempt = self.waiting(key[len(_DUE) + 16 :].decode())
            if attempt is not None:
                found.append(attempt)
        return found

    def close(self) -> None:
        self._db.close()
