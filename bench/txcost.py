"""python -m bench.txcost [RATE PARTITIONS SECONDS]: the broker's CPU per
transaction, on a broker of its own (localkafka, as the benchmark starts it).

A transactional producer commits RATE transactions a second, each with one
small record on each of PARTITIONS partitions; the broker JVM's CPU time over
SECONDS (after 5 s of the same, unmeasured) divided by the transactions is
what one costs the broker. It explains why the platform's cost per order is
paid per transaction (bench/analysis.md)."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench.common import CLK_TCK, REPO
from localkafka import KafkaCluster
from tests.support.ports import free_port_block


def _jiffies(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def measure(bootstrap: str, broker_pid: int, rate: float, partitions: int, seconds: float) -> float:
    """Broker CPU milliseconds per transaction."""
    topic = f"txcost-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, max(partitions, 1), 1)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": topic, "linger.ms": 0})
    producer.init_transactions(30)

    def commit(count: int) -> None:
        for _ in range(count):
            began = time.perf_counter()
            producer.begin_transaction()
            for partition in range(partitions):
                producer.produce(topic, b"x" * 100, b"k", partition=partition)
            producer.commit_transaction(30)
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - began)))

    commit(int(rate * 5))
    before, at = _jiffies(broker_pid), time.monotonic()
    commit(int(rate * seconds))
    cores = (_jiffies(broker_pid) - before) / CLK_TCK / (time.monotonic() - at)
    return cores * 1000 / rate


def main() -> None:
    rate, partitions, seconds = (float(a) for a in (sys.argv[1:] or ["60", "15", "10"]))
    kafka = KafkaCluster(brokers=1, port=free_port_block(2), data_dir=REPO / ".oms-data", num_partitions=3)
    kafka.start()
    try:
        pid = kafka.nodes[0].pid
        assert pid is not None
        # The JVM compiles its hot paths first: the first figure is start-up.
        measure(kafka.bootstrap_servers, pid, rate, int(partitions), seconds)
        for count in sorted({1, int(partitions)}):
            ms = measure(kafka.bootstrap_servers, pid, rate, count, seconds)
            print(f"{rate:.0f} transactions/s, {count} partition(s) each: {ms:.1f} ms of broker CPU per transaction")
    finally:
        kafka.stop()


if __name__ == "__main__":
    main()
