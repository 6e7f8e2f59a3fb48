"""A partition that moves to another gateway instance mid-call: the call goes
on at the new owner, transparently to the client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.__main__ import service_specs
from launcher.supervisor import Supervisor
from oms.orders.v1 import order_pb2
from tests.support.orders import final_state, outcome, place, set_stock, unique
from tests.support.platform import Platform

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

# No fraud check runs, so every order waits this long for its verdict.
VERDICT_TIMEOUT_MS = 15_000


@pytest.fixture()
def platform(bootstrap: str, tmp_path: Path) -> Iterator[Platform]:
    """Two instances of everything but the fraud check, with gateway-1 not started yet."""
    specs = service_specs(2, "separate")
    names = [s.name for s in specs if s.name != "gateway-1" and not s.name.startswith("fraud-")]
    env = {"OMS_VALIDATION_TIMEOUT_MS": str(VERDICT_TIMEOUT_MS), "OMS_LAYOUT": "separate"}
    running = Platform(bootstrap, tmp_path, services=names, env=env, instances=2, partitions=6).start()
    yield running
    running.stop()


def test_watches_go_on_when_their_partition_moves_to_a_new_gateway(platform: Platform) -> None:
    product = unique("MOVES")
    set_stock(platform, product, 100)
    ids = [place(platform, product).order.order_id for _ in range(12)]  # over all 6 partitions, most likely
    finals: dict[str, order_pb2.Order] = {}
    errors: list[BaseException] = []

    def watch(order_id: str) -> None:
        try:
            finals[order_id] = final_state(platform, order_id, timeout_s=VERDICT_TIMEOUT_MS / 1000 + 45)
        except BaseException as error:  # reported below, with the order it happened to
            errors.append(error)

    watchers = [threading.Thread(target=watch, args=(order_id,)) for order_id in ids]
    for watcher in watchers:
        watcher.start()
    # gateway-1 joins the view group: about half of gateway-0's partitions move to it.
    newcomer = Supervisor([s for s in service_specs(2, "separate") if s.name == "gateway-1"], platform.env)
    newcomer.start()
    try:
        for watcher in watchers:
            watcher.join()
    finally:
        newcomer.stop()

    assert not errors, f"watches failed: {errors[:3]}"
    for order_id in ids:
        assert finals[order_id].state == order_pb2.ORDER_STATE_FAILED
        assert outcome(finals[order_id], order_pb2.CHECK_TYPE_FRAUD).result == order_pb2.CHECK_RESULT_TIMEOUT
