"""Log lines: JSON or text, naming the service and the order they concern."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator

import pytest

from streams import logs
from tests.support.clock import FakeClock


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Where the logs go; the root logger's handlers and level are restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_name_the_service_its_instance_and_the_order(stream: io.StringIO) -> None:
    logs.configure("fraud-check", log_format="json", instance="1", stream=stream)
    log = logging.getLogger("oms.test")

    log.info("placed %s", "o-1", extra={"order_id": "o-1", "partition": 2})
    log.warning("no order here")

    first, second = json_lines(stream)
    assert first["service"] == "fraud-check" and first["instance"] == "1"
    assert (first["level"], first["logger"], first["message"]) == ("INFO", "oms.test", "placed o-1")
    assert first["order_id"] == "o-1" and first["partition"] == 2
    assert first["ts"].endswith("Z")  # type: ignore[union-attr]
    assert second["level"] == "WARNING" and "order_id" not in second


def test_an_order_context_names_the_order_on_every_line_inside_it(stream: io.StringIO) -> None:
    logs.configure("gateway", log_format="json", stream=stream)
    log = logging.getLogger("oms.test")

    with logs.order_context("o-7"):
        log.info("inside")
        log.info("explicit wins", extra={"order_id": "o-8"})
    log.info("after")

    inside, explicit, after = json_lines(stream)
    assert inside["order_id"] == "o-7"
    assert explicit["order_id"] == "o-8"
    assert "order_id" not in after


def test_order_contexts_of_concurrent_tasks_stay_apart(stream: io.StringIO) -> None:
    logs.configure("gateway", log_format="json", stream=stream)
    log = logging.getLogger("oms.test")

    async def handle(order_id: str) -> None:
        with logs.order_context(order_id):
            await asyncio.sleep(0)
            log.info("handling")
            await asyncio.sleep(0)
            log.info("handled")

    async def main() -> None:
        await asyncio.gather(handle("o-1"), handle("o-2"))

    asyncio.run(main())

    seen = [(line["order_id"], line["message"]) for line in json_lines(stream)]
    assert sorted(seen) == [("o-1", "handled"), ("o-1", "handling"), ("o-2", "handled"), ("o-2", "handling")]


def test_a_traceback_stays_inside_its_one_json_line(stream: io.StringIO) -> None:
    logs.configure("aggregator", log_format="json", stream=stream)
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("oms.test").exception("it failed")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"] == "it failed" and entry["level"] == "ERROR"
    assert "ValueError: broken" in entry["exc_info"]  # type: ignore[operator]


def test_values_json_cannot_encode_are_written_as_text(stream: io.StringIO) -> None:
    logs.configure("gateway", log_format="json", stream=stream)

    logging.getLogger("oms.test").info("odd", extra={"where": frozenset({3})})

    assert json_lines(stream)[0]["where"] == "frozenset({3})"


def test_text_lines_are_readable_and_name_service_and_order(stream: io.StringIO) -> None:
    logs.configure("inventory-check", log_format="text", instance="0", stream=stream)
    log = logging.getLogger("oms.test")

    log.info("reserved", extra={"order_id": "o-3"})
    log.info("restored")

    reserved, restored = stream.getvalue().splitlines()
    assert " inventory-check-0 INFO oms.test: reserved [order=o-3]" in reserved
    assert restored.endswith(" inventory-check-0 INFO oms.test: restored")
    with pytest.raises(json.JSONDecodeError):
        json.loads(reserved)


def test_configuring_again_replaces_the_handler_and_sets_the_level(stream: io.StringIO) -> None:
    logs.configure("gateway", log_format="json", stream=io.StringIO())
    logs.configure("gateway", level="warning", log_format="json", stream=stream)
    log = logging.getLogger("oms.test")

    log.info("too low")
    log.warning("once")

    assert [line["message"] for line in json_lines(stream)] == ["once"]


def test_unknown_formats_fall_back_to_text() -> None:
    assert isinstance(logs.formatter("JSON "), logs.JsonFormatter)
    assert isinstance(logs.formatter("text"), logs.TextFormatter)
    assert isinstance(logs.formatter("yaml"), logs.TextFormatter)


def test_alike_lines_are_let_through_once_per_window_saying_how_many_they_stood_for() -> None:
    clock = FakeClock()
    alike = logs.RepeatFilter(every_s=30, clock=clock)

    def line(message: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord("librdkafka", level, __file__, 1, message, args, None)

    first = line("Connect to %s failed (after %dms)", "127.0.0.1:9092", 0)
    assert alike.filter(first) and first.getMessage() == "Connect to 127.0.0.1:9092 failed (after 0ms)"
    clock.now = 10
    assert not any(alike.filter(line("Connect to %s failed (after %dms)", "127.0.0.1:9093", n)) for n in range(50))
    assert alike.filter(line("Broker went down")), "another kind of line"
    assert alike.filter(line("Connect to %s failed (after %dms)", "127.0.0.1:9092", 0, level=logging.WARNING))

    clock.now = 31
    later = line("Connect to %s failed (after %dms)", "127.0.0.1:9092", 3)
    assert alike.filter(later)
    assert later.getMessage() == "Connect to 127.0.0.1:9092 failed (after 3ms) (50 more like it in the last 31 s)"
    clock.now = 62
    quiet = line("Connect to %s failed (after %dms)", "127.0.0.1:9092", 3)
    assert alike.filter(quiet) and "more like it" not in quiet.getMessage()


def test_a_client_that_cannot_reach_its_broker_logs_its_retries_once() -> None:
    from confluent_kafka import Consumer

    from streams import kafka

    caught: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(record.getMessage())

    handler = Catch()
    kafka.LIBRDKAFKA_LOG.addHandler(handler)
    unreachable = Consumer({"bootstrap.servers": "127.0.0.1:1", "group.id": "g", "logger": kafka.LIBRDKAFKA_LOG})
    try:
        unreachable.subscribe(["t"])
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            unreachable.poll(0.2)
    finally:
        unreachable.close()
        kafka.LIBRDKAFKA_LOG.removeHandler(handler)
    refused = [m for m in caught if "Connect to" in m]
    # librdkafka retries many times a second (dozens of lines in 3 s
    # unfiltered). None at all if this process logged one in the last 30 s.
    assert len(refused) <= 1, caught
