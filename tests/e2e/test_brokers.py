"""The workflow on a 3-broker KRaft cluster, replication factor 3 and min ISR
2, survives kill -9 of one broker mid-stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import localkafka
from tests.support.invariants import PlacedOrders, audit, place_until_accepted
from tests.support.orders import set_stock, unique
from tests.support.platform import Platform
from tests.support.ports import free_port_block

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster() -> Iterator[localkafka.KafkaCluster]:
    with localkafka.KafkaCluster(
        brokers=3, port=free_port_block(6), data_dir=REPO / ".oms-data", num_partitions=3
    ) as running:
        yield running


@pytest.fixture()
def platform(cluster: localkafka.KafkaCluster, tmp_path: Path) -> Iterator[Platform]:
    # Recovering from a broker's loss can stall a check for longer than the
    # default 30 s verdict timeout; this test is about losing nothing.
    env = {"OMS_REPLICATION_FACTOR": "3", "OMS_VALIDATION_TIMEOUT_MS": "600000"}
    running = Platform(cluster.bootstrap_servers, tmp_path, env=env).start(timeout_s=120)
    yield running
    running.stop()


@pytest.mark.timeout(900)
def test_losing_a_broker_mid_stream_loses_no_order(cluster: localkafka.KafkaCluster, platform: Platform) -> None:
    product = unique("B")
    set_stock(platform, product, 100_000)
    placed = PlacedOrders()

    def placer(index: int) -> None:
        for _ in range(50):
            order_id = unique(f"b{index}")
            place_until_accepted(platform, product, order_id, price=1.0, timeout_s=180)
            placed.add(order_id, product, 1)
            time.sleep(0.05)

    threads = [threading.Thread(target=placer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    cluster.kill(2)
    for thread in threads:
        thread.join(timeout=240)
        platform.supervise()

    # A processor whose transaction got stuck while leadership moved restarts
    # and catches up: give it time.
    counts = audit(platform, placed, settle_s=300)

    print(f"\n3 brokers, one killed: {counts}")
    assert counts["validated"] == 200
