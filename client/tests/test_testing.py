"""oms_client.testing.FakeOms beyond the contract suite (tests/contract,
which it shares with the platform): the README's example, held verdicts,
the streams, and a clean stop."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from oms_client import InvalidArgument, OmsClient, OrderState
from oms_client._gen.orders.v1 import query_service_pb2, query_service_pb2_grpc
from oms_client.testing import FakeOms
from oms_client.types import OrderEventKind

README = Path(__file__).resolve().parents[1] / "README.md"
CREATED = OrderState.ORDER_STATE_CREATED
VALIDATED = OrderState.ORDER_STATE_VALIDATED
CANCELLED = OrderState.ORDER_STATE_CANCELLED


@pytest.fixture
def oms() -> Iterator[FakeOms]:
    with FakeOms() as fake:
        yield fake


@pytest.fixture
def client(oms: FakeOms) -> Iterator[OmsClient]:
    with OmsClient(oms.target, timeout=10) as connected:
        yield connected


def test_the_readme_example_runs() -> None:
    section = README.read_text().split("## Testing your code")[1]
    (example,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)[:1]
    exec(compile(example, str(README), "exec"), {"__name__": "readme_example"})


def test_held_verdicts_let_a_cancel_race_the_checks() -> None:
    with FakeOms(auto_decide=False) as oms, OmsClient(oms.target, timeout=10) as client:
        client.set_stock("JUMPERS", 5)
        placed = client.place_order(customer_id=7, product="JUMPERS", quantity=5, price=1.0).order
        assert client.get_order(placed.order_id).state == CREATED
        assert client.cancel_order(placed.order_id).order.state == CANCELLED
        assert oms.decide(placed.order_id).state == CANCELLED  # a late verdict changes nothing
        assert (client.get_stock("JUMPERS").quantity, client.get_stock("JUMPERS").reserved) == (5, 0)
        second = client.place_order(customer_id=7, product="JUMPERS", quantity=5, price=1.0).order
        assert oms.decide(second.order_id).state == VALIDATED
        assert client.get_stock("JUMPERS").reserved == 5


def test_the_fraud_limit_fails_a_big_session(client: OmsClient) -> None:
    client.set_stock("GOLD", 100)
    first = client.place_order(customer_id=9, product="GOLD", quantity=1, price=1500.0).order
    second = client.place_order(customer_id=9, product="GOLD", quantity=1, price=600.0).order
    assert client.wait_for_terminal(first.order_id).state == VALIDATED
    failed = client.wait_for_terminal(second.order_id)
    assert failed.state == OrderState.ORDER_STATE_FAILED
    assert any("limit is 2000" in check.reason for check in failed.checks)


def test_watch_order_until_closed_follows_the_order_to_its_end(oms: FakeOms, client: OmsClient) -> None:
    client.set_stock("JUMPERS", 5)
    order_id = client.place_order(customer_id=7, product="JUMPERS", quantity=1, price=1.0).order.order_id
    queries = query_service_pb2_grpc.OrderQueryServiceStub(client.channel)
    stream = queries.WatchOrder(query_service_pb2.WatchOrderRequest(order_id=order_id, until_closed=True), timeout=10)
    assert next(stream).order.state == VALIDATED
    client.cancel_order(order_id)
    assert [r.order.state for r in stream] == [CANCELLED]  # and the stream ends


def test_the_sdk_watches_until_closed_when_asked_and_until_the_verdict_otherwise(client: OmsClient) -> None:
    client.set_stock("JUMPERS", 5)
    order_id = client.place_order(customer_id=7, product="JUMPERS", quantity=1, price=1.0).order.order_id
    assert [o.state for o in client.watch_order(order_id, timeout=10)] == [VALIDATED]
    watch = client.watch_order(order_id, until_closed=True, timeout=10)
    assert next(watch).state == VALIDATED
    client.cancel_order(order_id)
    assert [o.state for o in watch] == [CANCELLED]


def test_the_async_sdk_watches_until_closed(oms: FakeOms) -> None:
    import asyncio

    from oms_client import AsyncOmsClient

    async def scenario() -> list[int]:
        async with AsyncOmsClient(oms.target) as client:
            await client.set_stock("JUMPERS", 5)
            placed = await client.place_order(customer_id=7, product="JUMPERS", quantity=1, price=1.0)
            states = []
            async for order in client.watch_order(placed.order.order_id, until_closed=True, timeout=10):
                states.append(order.state)
                if order.state == VALIDATED:
                    await client.cancel_order(order.order_id)
            return states

    assert asyncio.run(scenario()) == [VALIDATED, CANCELLED]


def test_watch_orders_sees_each_change_and_resumes_after_a_token(client: OmsClient) -> None:
    client.set_stock("JUMPERS", 5)
    changes = client.watch_orders(11, timeout=10)
    start = next(changes)
    assert not start.HasField("order") and start.resume_token
    order_id = client.place_order(customer_id=11, product="JUMPERS", quantity=1, price=1.0).order.order_id
    placed, validated = next(changes), next(changes)
    changes.close()
    assert [placed.kind, validated.kind] == [
        OrderEventKind.ORDER_EVENT_KIND_PLACED,
        OrderEventKind.ORDER_EVENT_KIND_VALIDATED,
    ]
    assert placed.order.order_id == order_id
    client.cancel_order(order_id)
    resumed = client.watch_orders(11, resume_token=placed.resume_token, timeout=10)
    assert [next(resumed).kind, next(resumed).kind] == [
        OrderEventKind.ORDER_EVENT_KIND_VALIDATED,
        OrderEventKind.ORDER_EVENT_KIND_CANCELLED,
    ]
    resumed.close()


def test_stop_ends_open_streams() -> None:
    oms = FakeOms().start()
    channel = grpc.insecure_channel(oms.target)
    queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
    stream = queries.WatchOrders(query_service_pb2.WatchOrdersRequest(customer_id=5), timeout=30)
    assert next(stream).resume_token  # the server watches
    ended = threading.Event()

    def drain() -> None:
        try:
            for _ in stream:
                pass
        except grpc.RpcError:
            pass  # how it ends does not matter, that it ends does
        ended.set()

    threading.Thread(target=drain, daemon=True).start()
    oms.stop()
    assert ended.wait(15)
    channel.close()


def test_a_stopped_fake_refuses_calls() -> None:
    oms = FakeOms().start()
    oms.stop()
    channel = grpc.insecure_channel(oms.target)
    queries = query_service_pb2_grpc.OrderQueryServiceStub(channel)
    with pytest.raises(grpc.RpcError):
        queries.GetOrder(query_service_pb2.GetOrderRequest(order_id="x"), timeout=2)
    channel.close()


def test_the_fake_never_dead_letters_and_checks_the_list_request(client: OmsClient) -> None:
    assert list(client.list_dead_letters()) == []
    with pytest.raises(InvalidArgument) as bad:
        client.list_dead_letters_page(page_token="forged")
    assert [v.field for v in bad.value.field_violations] == ["page_token"]
