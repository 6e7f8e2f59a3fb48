"""Local hand-off on the real broker: a runner processes its own outputs that
are its own inputs in the same transaction, and whoever reads them back later
(itself, or a new owner after it stopped) skips them: one answer per input."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.records import Output, Record
from streams.runner import Hosted, ProcessorRunner
from streams.state import PartitionState
from tests.support.orders import read_topic
from topology.deadletters import DeadLetters

pytestmark = pytest.mark.kafka

PARTITIONS = 2
INPUTS = 40


class Rekeying:
    """Re-keys each input (through its own topic), then answers it."""

    name = "rekeying"
    stateful = False

    def __init__(self, prefix: str, on_rekeyed: threading.Event | None = None) -> None:
        self.inputs = (f"{prefix}in", f"{prefix}rekeyed")
        self.outputs = (f"{prefix}rekeyed", f"{prefix}answers")
        self.answers = f"{prefix}answers"
        self.on_rekeyed = on_rekeyed

    def process(self, record: Record, state: PartitionState) -> Iterable[Output]:
        if record.topic == self.inputs[0]:
            return [Output(self.inputs[1], b"re-" + (record.value or b""), record.value)]
        if self.on_rekeyed is not None:
            self.on_rekeyed.set()  # the runner stops after this batch
        return [Output(self.answers, record.key, record.value)]

    def punctuate(self, now_ms: int, state: PartitionState) -> Iterable[Output]:
        return ()


def _runner(bootstrap: str, processor: Rekeying, group: str) -> ProcessorRunner:
    return ProcessorRunner(
        [Hosted(processor)],  # type: ignore[arg-type]
        bootstrap,
        group_id=group,
        transactional_id=f"{group}-0",
        dead_letter=DeadLetters(f"{group}.dead-letters"),
        commit_interval_ms=10,
    )


def _committed(bootstrap: str, group: str, topic: str) -> list[TopicPartition]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=30)
    finally:
        consumer.close()


def test_handed_off_records_are_answered_once_even_by_a_new_owner(bootstrap: str) -> None:
    prefix = f"h{uuid.uuid4().hex[:8]}."
    group = f"{prefix}group"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = {f"{prefix}in": PARTITIONS, f"{prefix}rekeyed": PARTITIONS, f"{prefix}answers": 1}
    for future in admin.create_topics(
        [NewTopic(n, num_partitions=c, replication_factor=-1) for n, c in names.items()]
    ).values():
        future.result(timeout=30)
    # Hand-off needs the group's committed offset of the partition it hands off to.
    starter = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    starter.commit(
        offsets=[TopicPartition(t, p, 0) for t in list(names)[:2] for p in range(PARTITIONS)], asynchronous=False
    )
    starter.close()
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(INPUTS):
        producer.produce(f"{prefix}in", value=f"v{i}".encode(), key=f"k{i}".encode())
    producer.flush(30)

    # The first owner answers one batch, handing off its re-keys, then stops
    # before it reads them back.
    rekeyed = threading.Event()
    first = Rekeying(prefix, on_rekeyed=rekeyed)
    thread = threading.Thread(target=_runner(bootstrap, first, group).run, args=(rekeyed,))
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    skips = [tp.metadata for tp in _committed(bootstrap, group, f"{prefix}rekeyed") if tp.metadata]
    assert skips, "the first owner handed nothing off: the test proves nothing"
    answered_first = len(read_topic(bootstrap, f"{prefix}answers"))
    assert 0 < answered_first <= INPUTS

    # A new owner reads every re-key back, skipping what was answered already.
    stop = threading.Event()
    second = threading.Thread(target=_runner(bootstrap, Rekeying(prefix), group).run, args=(stop,))
    second.start()
    try:
        for _ in range(300):
            if len(read_topic(bootstrap, f"{prefix}answers")) >= INPUTS:
                break
            stop.wait(0.2)
    finally:
        stop.set()
        second.join(timeout=60)
    answers = read_topic(bootstrap, f"{prefix}answers")
    assert sorted(value or b"" for _key, value in answers) == sorted(f"v{i}".encode() for i in range(INPUTS))
