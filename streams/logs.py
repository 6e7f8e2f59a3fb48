"""Log lines of every service: readable text, or one JSON object per line.

Every line names its service (and instance) and, where there is one, the
order it concerns: from `extra={"order_id": ...}` on the call, or else from
`order_context`, which the code handling one order (a gRPC call, for
example) enters so that every line logged inside it carries the id.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

_order_id: ContextVar[str | None] = ContextVar("oms_order_id", default=None)

# What every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "service",
    "instance",
    "order_id",
    "taskName",
    "who",
    "about",
}


@contextmanager
def order_context(order_id: str | None) -> Iterator[None]:
    """Lines logged inside (in this thread or asyncio task) name the order."""
    token = _order_id.set(order_id or None)
    try:
        yield
    finally:
        try:
            _order_id.reset(token)
        except ValueError:  # an async generator closed from another context
            pass


class ServiceFilter(logging.Filter):
    """Stamps each record with the service, its instance and the current order."""

    def __init__(self, service: str, instance: str | None = None) -> None:
        super().__init__()
        self.service = service
        self.instance = instance

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.instance = self.instance
        if not getattr(record, "order_id", None):
            record.order_id = _order_id.get()
        return True


_NUMBERS = re.compile(r"\d+")


class RepeatFilter(logging.Filter):
    """Lets the first of a run of alike lines through, then at most one per
    `every_s`, which says how many it stood for. Alike: the same level and
    the same text but for its numbers (ports, client ids, durations).

    A client that cannot reach its broker retries at once, and librdkafka
    logs every attempt: a dozen lines a second per client, hundreds for a
    platform, while the outage they all report is one fact."""

    MAX_KINDS = 1000

    def __init__(self, every_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every_s = every_s
        self._clock = clock
        self._lock = threading.Lock()
        # kind -> (when one was last let through, how many held back since)
        self._seen: dict[tuple[int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.levelno, _NUMBERS.sub("#", record.getMessage()))
        now = self._clock()
        with self._lock:
            last = self._seen.get(kind)
            if last is not None and now - last[0] < self.every_s:
                self._seen[kind] = (last[0], last[1] + 1)
                return False
            if len(self._seen) >= self.MAX_KINDS:
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.every_s}
            self._seen[kind] = (now, 0)
        if last is not None and last[1]:
            record.msg = f"{record.getMessage()} ({last[1]} more like it in the last {now - last[0]:.0f} s)"
            record.args = ()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, service, instance, logger,
    message, order_id (when there is one), any other `extra` fields, and
    the traceback as `exc_info`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "service": getattr(record, "service", None),
            "instance": getattr(record, "instance", None),
            "logger": record.name,
            "message": record.getMessage(),
        }
        order_id = getattr(record, "order_id", None) or _order_id.get()
        if order_id:
            entry["order_id"] = order_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps({k: v for k, v in entry.items() if v is not None}, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`<time> <service>[-<instance>] <LEVEL> <logger>: <message> [order=<id>]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(who)s %(levelname)s %(name)s: %(message)s%(about)s")

    def format(self, record: logging.LogRecord) -> str:
        service = getattr(record, "service", None) or "-"
        instance = getattr(record, "instance", None)
        record.who = service if instance is None else f"{service}-{instance}"
        order_id = getattr(record, "order_id", None) or _order_id.get()
        record.about = f" [order={order_id}]" if order_id else ""
        return super().format(record)


def formatter(log_format: str) -> logging.Formatter:
    """`json` for JSON lines; anything else (`text`, unset) for readable text."""
    return JsonFormatter() if log_format.strip().lower() == "json" else TextFormatter()


def configure(
    service: str,
    level: str = "INFO",
    log_format: str = "text",
    instance: str | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Sends every logger's records to one stream handler, in the chosen format."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(ServiceFilter(service, instance))
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_oms", False)]:
        root.removeHandler(old)
    handler._oms = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
