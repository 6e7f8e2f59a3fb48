"""PlaceOrder when the order's partition moves to another gateway instance
between the write and the view showing it: the call that wrote the order
answers that it created it, and nothing is written twice.

The servicer runs in a real grpc.aio server, reached over a channel; only
the log is stood in for (a publisher that acknowledges at once).
"""

from __future__ import annotations

import asyncio
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
from streams.topics import Topics

TOPICS = Topics()
PARTITIONS = 3
ORDER_ID = "order-that-moves"
TP = (TOPICS.orders, partition_for(ORDER_ID.encode(), PARTITIONS))
INPUTS = frozenset({TOPICS.orders})


class MovingPublisher:
    """Acknowledges each write at offset 41 and, at that moment, hands the
    written partition to another instance, as a rebalance would."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.written: list[tuple[str, bytes]] = []

    def publish(self, topic: str, key: bytes, value: bytes) -> Future[tuple[int, int]]:
        self.written.append((topic, key))
        partition = partition_for(key, PARTITIONS)
        self.notifier.assigned_threadsafe(INPUTS, self.notifier.held - {(topic, partition)})
        acknowledged: Future[tuple[int, int]] = Future()
        acknowledged.set_result((partition, 41))
        return acknowledged


def test_the_call_that_wrote_the_order_answers_created_when_the_partition_moves(tmp_path: Path) -> None:
    async def scenario() -> tuple[command_service_pb2.PlaceOrderResponse, list[tuple[str, bytes]]]:
        notifier = Notifier(asyncio.get_running_loop())
        notifier.assigned_threadsafe(INPUTS, frozenset((TOPICS.orders, p) for p in range(PARTITIONS)))
        view = View(tmp_path / "view")
        reads = ReadModel(
            view, notifier, TOPICS, PARTITIONS,
            end_offsets=lambda tps: {tp: 0 for tp in tps},
            is_ready=lambda: True,
            current=lambda: notifier.held,
        )
        # No other instance answers for the partition once it has moved.
        router = Router("localhost:0", PARTITIONS, owned=lambda: notifier.held, members=lambda: [])
        publisher = MovingPublisher(notifier)
        server = grpc.aio.server(interceptors=[RequestErrors()])
        command_service_pb2_grpc.add_OrderCommandServiceServicer_to_server(
            OrderCommandService(reads, publisher, router), server  # type: ignore[arg-type]
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                response = await command_service_pb2_grpc.OrderCommandServiceStub(channel).PlaceOrder(
                    command_service_pb2.PlaceOrderRequest(
                        order_id=ORDER_ID, customer_id=7, product="JUMPERS", quantity=2, price=10.0
                    ),
                    timeout=3,
                )
        finally:
            await server.stop(0)
            await router.close()
            view.close()
        return response, publisher.written

    response, written = asyncio.run(scenario())

    assert response.created
    assert response.order.order_id == ORDER_ID
    assert response.order.state == order_pb2.ORDER_STATE_CREATED
    assert (response.position.partition, response.position.offset) == (TP[1], 41)
    assert written == [(TOPICS.orders, ORDER_ID.encode())]
