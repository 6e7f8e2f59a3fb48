"""One processor, the fraud check, as the library runs it (topology.service's
runner) against the real broker: exactly one answer per order, and state that
survives the loss or corruption of its local store, restored from the changelog."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import Producer

from oms.orders.v1 import events_pb2
from orders import codec
from orders.domain import Order, OrderDetails
from tests.support.orders import eventually, read_topic, unique_customer
from topology.config import Config
from topology.registry import FRAUD
from topology.service import build_runner, create_topics
from topology.topics import Topics

pytestmark = pytest.mark.kafka


@pytest.fixture
def config(bootstrap: str, tmp_path: Path) -> Config:
    config = Config.load({}, kafka_bootstrap=bootstrap, namespace=f"p{uuid.uuid4().hex[:8]}.", data_dir=tmp_path)
    create_topics(config)
    return config


@contextmanager
def running(config: Config) -> Iterator[None]:
    """The fraud check's runner on a thread, as `python -m validators fraud` runs it."""
    runner = build_runner([FRAUD.build(config)], config)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the runner did not stop"


def place(config: Config, customer_id: int, amount: float) -> str:
    order = Order.place(OrderDetails(f"order-{uuid.uuid4().hex[:8]}", customer_id, "JUMPERS", 1, amount))
    (event,) = codec.events_to_pb(order, order.collect_events())
    producer = Producer({"bootstrap.servers": config.bootstrap_servers})
    producer.produce(Topics(config.namespace).orders, event.SerializeToString(), order.order_id.encode())
    assert producer.flush(10) == 0
    return order.order_id


def verdicts(config: Config) -> dict[str, list[str]]:
    """Every fraud answer written so far, per order."""
    found: dict[str, list[str]] = {}
    for _, value in read_topic(config.bootstrap_servers, Topics(config.namespace).order_validations):
        validation = events_pb2.OrderValidation.FromString(value or b"")
        found.setdefault(validation.order_id, []).append(codec.outcome_from_pb(validation.outcome).result.value)
    return found


def test_each_order_is_answered_once_and_the_session_survives_a_lost_store(config: Config, tmp_path: Path) -> None:
    customer = unique_customer()
    with running(config):
        # One after the other: orders of different partitions of `orders` reach
        # the check, re-keyed by customer, in no fixed order.
        first = place(config, customer, 1500.0)
        eventually(lambda: first in verdicts(config), timeout_s=60, what="the first answer")
        second = place(config, customer, 600.0)
        eventually(lambda: len(verdicts(config)) == 2, timeout_s=60, what="two answers")

    # The local store is gone (a new disk, a moved partition): the session's
    # total must come back from the changelog, or the next order would pass.
    moved = config.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    with running(moved):
        third = place(moved, customer, 100.0)
        eventually(lambda: third in verdicts(moved), timeout_s=60, what="the third answer")

    assert verdicts(config) == {first: ["PASS"], second: ["FAIL"], third: ["FAIL"]}


def test_a_corrupt_store_is_moved_aside_and_restored_from_the_changelog(
    config: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    customer = unique_customer()
    with running(config):
        first = place(config, customer, 1500.0)
        eventually(lambda: first in verdicts(config), timeout_s=60, what="the first answer")

    (store,) = (tmp_path / "state").iterdir()
    (store / "CURRENT").write_text("garbage\n")
    with running(config):
        second = place(config, customer, 600.0)
        eventually(lambda: second in verdicts(config), timeout_s=60, what="the second answer")

    # The session's 1500 came back from the changelog: 2100 is over the limit.
    assert verdicts(config) == {first: ["PASS"], second: ["FAIL"]}
    assert list((tmp_path / "state").glob(f"{store.name}.broken-*"))
    assert any("will not open" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
