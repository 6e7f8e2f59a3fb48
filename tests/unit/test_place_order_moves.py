"""PlaceOrder when the order's partition moves to another gateway instance
mid-call: before the write, this instance writes nothing (the new owner is
the one that serializes placements of the order); after it, the call that
wrote the order answers that it created it.

The servicer runs in a real grpc.aio server, reached over a channel; only
the log is stood in for (a publisher that acknowledges at once, a scripted
end offset). No other instance answers, so a call sent on to the new owner
gets no answer here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path

import grpc

from gateway.errors import RequestErrors
from gateway.forwarding import Router
from gateway.notifier import Notifier
from gateway.read_model import ReadModel
from gateway.services import OrderCommandService
from gateway.view import View
from oms.orders.v1 import command_service_pb2, command_service_pb2_grpc, order_pb2
from streams.partitioning import partition_for
from topology.topics import Topics
from tests.support.grpc_server import channel_to_server

TOPICS = Topics()
PARTITIONS = 3
ORDER_ID = "order-that-moves"
TP = (TOPICS.orders, partition_for(ORDER_ID.encode(), PARTITIONS))
INPUTS = frozenset({TOPICS.orders})
REQUEST = command_service_pb2.PlaceOrderRequest(order_id=ORDER_ID, customer_id=7, product="JUMPERS", quantity=2, price=10.0)


def move_away(notifier: Notifier) -> None:
    """A rebalance gives the order's partition to another instance."""
    notifier.assigned_threadsafe(INPUTS, notifier.held - {TP})


class Publisher:
    """Acknowledges each write at offset 41; `on_publish` runs as it does."""

    def __init__(self, on_publish: Callable[[], None] = lambda: None) -> None:
        self.on_publish = on_publish
        self.written: list[tuple[str, bytes]] = []

    def publish(self, topic: str, key: bytes, value: bytes) -> Future[tuple[int, int]]:
        self.written.append((topic, key))
        self.on_publish()
        acknowledged: Future[tuple[int, int]] = Future()
        acknowledged.set_result((partition_for(key, PARTITIONS), 41))
        return acknowledged


def place(
    tmp_path: Path,
    publisher: Callable[[Notifier], Publisher],
    end_offsets: Callable[[Notifier], Callable[[Iterable[tuple[str, int]]], dict[tuple[str, int], int]]],
) -> tuple[command_service_pb2.PlaceOrderResponse | grpc.aio.AioRpcError, list[tuple[str, bytes]]]:
    """One PlaceOrder at an instance that holds every partition at first and
    whose view has not caught up since (so it asks the log's end first)."""

    async def scenario() -> tuple[command_service_pb2.PlaceOrderResponse | grpc.aio.AioRpcError, list[tuple[str, bytes]]]:
        notifier = Notifier(asyncio.get_running_loop())
        notifier.assigned_threadsafe(INPUTS, frozenset((TOPICS.orders, p) for p in range(PARTITIONS)))
        view = View(tmp_path / "view")
        reads = ReadModel(
            view, notifier, TOPICS, PARTITIONS, end_offsets(notifier), is_ready=lambda: True, current=frozenset
        )
        router = Router("localhost:0", PARTITIONS, owned=lambda: notifier.held, members=lambda: [])
        writes = publisher(notifier)

        def register(server: grpc.aio.Server) -> None:
            service = OrderCommandService(reads, writes, router)  # type: ignore[arg-type]
            command_service_pb2_grpc.add_OrderCommandServiceServicer_to_server(service, server)

        answer: command_service_pb2.PlaceOrderResponse | grpc.aio.AioRpcError
        try:
            async with channel_to_server(register, [RequestErrors()]) as channel:
                try:
                    answer = await command_service_pb2_grpc.OrderCommandServiceStub(channel).PlaceOrder(REQUEST, timeout=2)
                except grpc.aio.AioRpcError as error:
                    answer = error
        finally:
            await router.close()
            view.close()
        return answer, writes.written

    return asyncio.run(scenario())


def empty_log(notifier: Notifier) -> Callable[[Iterable[tuple[str, int]]], dict[tuple[str, int], int]]:
    return lambda tps: {tp: 0 for tp in tps}


def test_the_call_that_wrote_the_order_answers_created_when_the_partition_moves(tmp_path: Path) -> None:
    answer, written = place(tmp_path, lambda notifier: Publisher(lambda: move_away(notifier)), empty_log)

    assert isinstance(answer, command_service_pb2.PlaceOrderResponse), answer
    assert answer.created
    assert answer.order.order_id == ORDER_ID
    assert answer.order.state == order_pb2.ORDER_STATE_CREATED
    assert (answer.position.partition, answer.position.offset) == (TP[1], 41)
    assert written == [(TOPICS.orders, ORDER_ID.encode())]


def test_nothing_is_written_when_the_partition_moves_before_the_write(tmp_path: Path) -> None:
    def end_offsets_then_move(notifier: Notifier) -> Callable[[Iterable[tuple[str, int]]], dict[tuple[str, int], int]]:
        def ends(tps: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
            move_away(notifier)  # while the call waits for the log's end
            return {tp: 0 for tp in tps}

        return ends

    answer, written = place(tmp_path, lambda notifier: Publisher(), end_offsets_then_move)

    assert isinstance(answer, grpc.aio.AioRpcError), answer
    # Sent on to the new owner, of which there is none here: no answer in time.
    assert answer.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), answer
    assert written == []
