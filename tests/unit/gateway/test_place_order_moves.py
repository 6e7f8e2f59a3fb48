"""PlaceOrder when the order's partition moves to another gateway instance
mid-call: before the write, this instance writes nothing (the new owner is
the one that serializes placements of the order); after it, the call that
wrote the order answers that it created it.

The gateway is built by bootstrap and served by a real grpc.aio server,
reached over a channel; only the ports are stood in for (an in-memory log
that acknowledges at once, an in-memory read model). No other instance
answers, so a call sent on to the new owner gets no answer here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc

from oms.orders.v1 import command_service_pb2, command_service_pb2_grpc, order_pb2
from streams.partitioning import partition_for
from tests.support.fakes import PARTITIONS, InMemoryEventLog, InMemoryReadModel
from tests.support.gateway import serving
from topology.topics import Topics

TOPICS = Topics()
ORDER_ID = "order-that-moves"
TP = (TOPICS.orders, partition_for(ORDER_ID.encode(), PARTITIONS))
REQUEST = command_service_pb2.PlaceOrderRequest(
    order_id=ORDER_ID, customer_id=7, product="JUMPERS", quantity=2, price=10.0
)


def place(
    arrange: Callable[[InMemoryEventLog, InMemoryReadModel], None],
) -> tuple[command_service_pb2.PlaceOrderResponse | grpc.aio.AioRpcError, list[bytes]]:
    """One PlaceOrder at an instance that holds every partition at first and
    whose view has not caught up since (so it asks the log's end first).
    Records are acknowledged at offset 41 and not applied to the view."""

    async def scenario() -> tuple[command_service_pb2.PlaceOrderResponse | grpc.aio.AioRpcError, list[bytes]]:
        log = InMemoryEventLog(start_offset=41)
        reads = InMemoryReadModel(log)
        reads.auto_apply = False
        reads.behind = {(TOPICS.orders, p) for p in range(PARTITIONS)}
        arrange(log, reads)
        answer: command_service_pb2.PlaceOrderResponse | grpc.aio.AioRpcError
        async with serving(log, reads) as (_gateway, channel):
            try:
                answer = await command_service_pb2_grpc.OrderCommandServiceStub(channel).PlaceOrder(REQUEST, timeout=2)
            except grpc.aio.AioRpcError as error:
                answer = error
        return answer, log.written(TOPICS.orders)

    return asyncio.run(scenario())


def test_the_call_that_wrote_the_order_answers_created_when_the_partition_moves() -> None:
    def move_on_publish(log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        log.on_publish = lambda: reads.move_away(TP)

    answer, written = place(move_on_publish)

    assert isinstance(answer, command_service_pb2.PlaceOrderResponse), answer
    assert answer.created
    assert answer.order.order_id == ORDER_ID
    assert answer.order.state == order_pb2.ORDER_STATE_CREATED
    assert (answer.position.partition, answer.position.offset) == (TP[1], 41)
    assert written == [ORDER_ID.encode()]


def test_nothing_is_written_when_the_partition_moves_before_the_write() -> None:
    def move_while_asking_the_log_end(log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        reads.on_caught_up = lambda tp: reads.move_away(TP)

    answer, written = place(move_while_asking_the_log_end)

    assert isinstance(answer, grpc.aio.AioRpcError), answer
    # Sent on to the new owner, of which there is none here: no answer in time.
    assert answer.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), answer
    assert written == []
