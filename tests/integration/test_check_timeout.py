"""A check that never answers: the order fails with a timeout reason, and
watchers' deadlines are honoured meanwhile. The fraud check is left out."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from oms.orders.v1 import order_pb2, query_service_pb2
from tests.support.orders import final_state, outcome, place, rpc_error, set_stock, unique
from tests.support.platform import Platform

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(
        bootstrap,
        tmp_path_factory.mktemp("no-fraud"),
        services=["gateway-0", "order-details-0", "inventory-0", "aggregator-0"],
        env={"OMS_VALIDATION_TIMEOUT_MS": "3000", "OMS_LAYOUT": "separate"},
    ).start()
    yield running
    running.stop()


def test_an_unanswered_check_fails_the_order_after_the_timeout(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)

    final = final_state(platform, place(platform, product).order.order_id)

    assert final.state == order_pb2.ORDER_STATE_FAILED
    fraud = outcome(final, order_pb2.CHECK_TYPE_FRAUD)
    assert fraud.result == order_pb2.CHECK_RESULT_TIMEOUT
    assert "3000 ms" in fraud.reason
    assert outcome(final, order_pb2.CHECK_TYPE_INVENTORY).result == order_pb2.CHECK_RESULT_PASS


def test_a_watch_ends_with_the_clients_deadline(platform: Platform) -> None:
    product = unique("JUMPERS")
    set_stock(platform, product, 10)
    order_id = place(platform, product).order.order_id  # stays CREATED for 3 s
    seen: list[int] = []

    def watch() -> None:
        request = query_service_pb2.WatchOrderRequest(order_id=order_id)
        for update in platform.queries.WatchOrder(request, timeout=0.5):
            seen.append(update.order.state)

    error = rpc_error(watch)

    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert seen == [order_pb2.ORDER_STATE_CREATED]
