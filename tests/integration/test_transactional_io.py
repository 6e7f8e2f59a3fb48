"""streams.kafka.TransactionalIO against the real broker: a transaction that
goes wrong is aborted, and the next one commits. Under overload a flush can
time out with thousands of records queued; the abort that follows purges
them, and each purged record reports an error on the way out."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from streams.kafka import TransactionAborted, TransactionalIO
from streams.records import Output, Record
from tests.support.orders import read_topic

pytestmark = pytest.mark.kafka


@pytest.fixture
def topic(bootstrap: str) -> str:
    name = f"test-txio-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=-1)])[name].result(timeout=30)
    return name


def transactional_io(bootstrap: str, topic: str) -> TransactionalIO:
    io = TransactionalIO(
        bootstrap, f"g-{uuid.uuid4().hex[:8]}", f"tx-{uuid.uuid4().hex[:8]}", [topic], lambda _p: None, lambda _p: None
    )
    io.start()
    return io


def test_an_abort_with_records_still_queued_aborts_and_the_next_transaction_commits(bootstrap: str, topic: str) -> None:
    io = transactional_io(bootstrap, topic)
    delivered: list[Record] = []
    try:
        io.begin()
        for n in range(20_000):
            io.send(Output(topic, b"k", f"dropped-{n}".encode(), partition=0), on_delivered=delivered.append)
        io.abort()  # most of them still queued: purged, each reporting an error

        io.begin()
        io.send(Output(topic, b"k", b"kept", partition=0), on_delivered=delivered.append)
        io.flush()
        io.commit({})
    finally:
        io.close()

    assert [r.value for r in delivered if r.value == b"kept"] == [b"kept"]
    assert [value for _key, value in read_topic(bootstrap, topic)] == [b"kept"]


def test_a_record_the_broker_refuses_fails_the_flush_and_only_its_transaction(bootstrap: str, topic: str) -> None:
    io = transactional_io(bootstrap, topic)
    try:
        io.begin()
        io.send(Output(topic, b"k", b"lost", partition=7), on_delivered=lambda _r: None)  # no partition 7
        with pytest.raises(TransactionAborted, match="produce"):
            io.flush()
        io.abort()

        io.begin()
        io.send(Output(topic, b"k", b"kept", partition=0))
        io.commit({})
    finally:
        io.close()
    assert [value for _key, value in read_topic(bootstrap, topic)] == [b"kept"]
