"""streams.kafka.GroupProgress on the real broker: how far a consumer group
has read, transaction markers included, and what it remembers."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.kafka import GroupProgress
from tests.support.orders import commit_offset

pytestmark = pytest.mark.kafka


def _topic(bootstrap: str) -> str:
    name = f"test-progress-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=-1)])[name].result(timeout=30)
    return name


def _write_transaction(producer: Producer, topic: str, count: int) -> None:
    producer.begin_transaction()
    for i in range(count):
        producer.produce(topic, key=b"k", value=str(i).encode())
    producer.commit_transaction(30)


def _end(bootstrap: str, topic: str) -> int:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ends-{uuid.uuid4().hex}"})
    try:
        _low, high = probe.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        return int(high)
    finally:
        probe.close()


def test_a_group_that_read_every_record_has_read_up_to_the_markers_and_no_further(bootstrap: str) -> None:
    topic, group = _topic(bootstrap), f"test-progress-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"progress-{uuid.uuid4().hex}"})
    producer.init_transactions(30)
    _write_transaction(producer, topic, 3)
    first_end = _end(bootstrap, topic)  # 3 records and a commit marker: 4
    commit_offset(bootstrap, group, topic, 3)  # what a consumer of every record commits
    progress = GroupProgress(bootstrap, group)
    try:
        ends = {(topic, 0): first_end}
        assert progress.reached(ends)
        assert progress.reached(ends)  # remembered: still read
        _write_transaction(producer, topic, 2)
        later = {(topic, 0): _end(bootstrap, topic)}
        assert not progress.reached(later), "two records the group has not read"
        assert progress.reached(ends), "what it had read stays read"
        commit_offset(bootstrap, group, topic, later[(topic, 0)] - 1)
        assert progress.reached(later)
    finally:
        progress.close()
        producer.flush(10)


def test_a_group_with_a_transaction_in_flight_answers_with_its_last_committed_offsets(bootstrap: str) -> None:
    """A processor commits its offsets in transactions without pause: one is
    nearly always pending. Progress is what was committed before it, answered
    at once, not a wait for a stable moment that may never come."""
    topic, group = _topic(bootstrap), f"test-progress-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"progress-{uuid.uuid4().hex}"})
    producer.init_transactions(30)
    _write_transaction(producer, topic, 3)
    ends = {(topic, 0): _end(bootstrap, topic)}
    member = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    progress = GroupProgress(bootstrap, group)
    try:
        producer.begin_transaction()
        producer.send_offsets_to_transaction([TopicPartition(topic, 0, 3)], member.consumer_group_metadata(), 30)
        # Pending: not yet the group's progress, and no error either.
        assert not progress.reached(ends, timeout_s=5.0)
        producer.commit_transaction(30)
        # The coordinator applies the commit marker to the offsets shortly after.
        deadline = time.monotonic() + 30
        while not progress.reached(ends, timeout_s=5.0):
            assert time.monotonic() < deadline, "the committed transaction's offsets never became the group's"
            time.sleep(0.1)
    finally:
        progress.close()
        member.close()
        producer.flush(10)
