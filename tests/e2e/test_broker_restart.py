"""`make run` keeps its broker: kill -9 of the broker under the launcher, with
orders in flight. The launcher starts it again on its data, the gateway says
NOT_SERVING while the cluster is gone and SERVING once it is back, and the
exactly-once audit holds: every accepted order decided once, reservations
exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from oms.inventory.v1 import inventory_pb2_grpc
from oms.orders.v1 import command_service_pb2_grpc, query_service_pb2_grpc
from tests.support.invariants import PlacedOrders, audit, place_until_accepted
from tests.support.orders import eventually, set_stock, unique
from tests.support.ports import free_port_block
from topology.config import Config

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ORDERS = 80
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Launched:
    """`python -m launcher` as a user runs it, and the stubs the audit uses."""

    process: subprocess.Popen[bytes]
    port: int
    kafka_port: int
    data_dir: Path
    settings: Config
    channel: grpc.Channel

    def __post_init__(self) -> None:
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.commands = command_service_pb2_grpc.OrderCommandServiceStub(self.channel)
        self.queries = query_service_pb2_grpc.OrderQueryServiceStub(self.channel)
        self.inventory = inventory_pb2_grpc.InventoryServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def status(self) -> int | None:
        try:
            return self.health.Check(health_pb2.HealthCheckRequest(), timeout=2).status
        except grpc.RpcError:
            return None

    def broker_pid(self) -> int:
        pid_file = self.data_dir / "kafka" / str(self.kafka_port) / "node-1" / "kafka.pid"
        return int(pid_file.read_text().split()[0])


@pytest.fixture()
def launched(tmp_path: Path) -> Iterator[Launched]:
    port, kafka_port = free_port_block(2), free_port_block(2)
    env = {key: value for key, value in os.environ.items() if key != "OMS_KAFKA_BOOTSTRAP"}
    env |= {
        "OMS_DATA_DIR": str(tmp_path),
        "OMS_KAFKA_PORT": str(kafka_port),
        "OMS_GRPC_PORT": str(port),
        "OMS_METRICS_PORT": "0",
        "OMS_COMMIT_INTERVAL_MS": "10",
        "PYTHONPATH": f"{REPO}:{REPO / 'gen'}",
    }
    log = (tmp_path / "launcher.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "launcher"], env=env, cwd=REPO, stdout=log, stderr=log)
    channel = grpc.insecure_channel(f"localhost:{port}")
    running = Launched(process, port, kafka_port, tmp_path, Config.load(env), channel)
    try:
        eventually(lambda: running.status() == SERVING, timeout_s=180, what="the platform serving")
        yield running
    finally:
        channel.close()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_a_killed_broker_comes_back_and_nothing_is_lost(launched: Launched) -> None:
    product = unique("P")
    set_stock(launched, product, 10_000)  # type: ignore[arg-type]
    placed = PlacedOrders()

    def placer() -> None:
        for _ in range(ORDERS):
            order_id = unique("b")
            place_until_accepted(launched, product, order_id, price=1.0, timeout_s=240)  # type: ignore[arg-type]
            placed.add(order_id, product, 1)
            time.sleep(0.05)

    placing = threading.Thread(target=placer)
    placing.start()
    eventually(lambda: len(placed.orders) >= 10, timeout_s=60, what="orders in flight")

    os.kill(launched.broker_pid(), signal.SIGKILL)
    eventually(lambda: launched.status() == NOT_SERVING, timeout_s=30, what="NOT_SERVING while the broker is gone")
    eventually(lambda: launched.status() == SERVING, timeout_s=180, what="SERVING once the broker is back")

    placing.join(timeout=300)
    assert not placing.is_alive(), "placing did not finish"
    counts = audit(launched, placed, settle_s=120)  # type: ignore[arg-type]
    print(f"\nafter the broker's kill -9: {counts}")
    assert counts["orders"] == ORDERS
