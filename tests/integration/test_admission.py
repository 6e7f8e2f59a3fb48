"""Admission on the real broker (issue 13): the order workflow's backlog on
`orders`, read from its consumer groups' committed offsets, sheds PlaceOrder
and nothing else once it passes OMS_MAX_WORKFLOW_BACKLOG; and
streams.kafka.GroupLag, which reads it, on its own."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from oms.orders.v1 import query_service_pb2
from streams.kafka import GroupLag, admin_client, last_stable_offsets
from tests.support.orders import commit_offset, eventually, place, unique
from tests.support.platform import Platform

pytestmark = pytest.mark.kafka

MAX_BACKLOG = 5


def test_with_the_workflow_stopped_place_order_is_shed_once_the_backlog_passes_the_limit_and_reads_answer(
    bootstrap: str, tmp_path: Path
) -> None:
    platform = Platform(
        bootstrap, tmp_path, services=["gateway-0"], env={"OMS_MAX_WORKFLOW_BACKLOG": str(MAX_BACKLOG)}
    ).start()
    try:
        product, placed = unique("A"), []
        refusals: list[grpc.RpcError] = []

        def place_until_refused() -> bool:
            try:
                placed.append(place(platform, product).order.order_id)
            except grpc.RpcError as error:
                refusals.append(error)
            return bool(refusals)

        # The gateway measures the backlog on a thread of its own, every
        # 200 ms once its first measurement is in (seconds on a loaded
        # machine): orders go on being taken until then.
        eventually(place_until_refused, timeout_s=60, what="a PlaceOrder shed")
        refused = refusals[0]
        assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, refused
        # Nothing decides them: every order placed is a record of `orders` left to read.
        assert len(placed) > MAX_BACKLOG, "shed before the backlog passed the limit"

        status = rpc_status.from_call(refused)  # type: ignore[arg-type]
        assert status is not None
        info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
        assert any(detail.Unpack(info) for detail in status.details)
        assert any(detail.Unpack(retry) for detail in status.details)
        assert info.reason == "WORKFLOW_BEHIND" and info.metadata["max_backlog"] == str(MAX_BACKLOG)
        assert int(info.metadata["backlog"]) > MAX_BACKLOG
        assert retry.retry_delay.ToMilliseconds() > 0

        # Reads are no new work: still answered.
        got = platform.queries.GetOrder(query_service_pb2.GetOrderRequest(order_id=placed[0]), timeout=15)
        assert got.order.order_id == placed[0]
        with pytest.raises(grpc.RpcError) as again:
            place(platform, product)
        assert again.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, "the workflow has not moved"
    finally:
        platform.stop()


def test_a_group_that_read_everything_is_not_behind_and_one_that_never_read_is_behind_by_every_record(
    bootstrap: str,
) -> None:
    topic, group = f"test-lag-{uuid.uuid4().hex[:12]}", f"test-lag-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=-1)])[topic].result(timeout=30)
    lag = GroupLag(bootstrap, group)
    ends = admin_client(bootstrap)
    try:
        plain = Producer({"bootstrap.servers": bootstrap})
        for n in range(5):
            plain.produce(topic, value=str(n).encode())
        assert plain.flush(30) == 0
        end = last_stable_offsets(ends, [(topic, 0)])
        assert end == {(topic, 0): 5}
        assert lag.behind(end) == {(topic, 0): 4}, "never committed: every record but one"

        transactional = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"lag-{uuid.uuid4().hex}"})
        transactional.init_transactions(30)
        transactional.begin_transaction()
        for n in range(3):
            transactional.produce(topic, value=str(n).encode())
        transactional.commit_transaction(30)
        # 8 records and a commit marker, which the coordinator writes just after.
        end = {(topic, 0): 9}
        eventually(lambda: last_stable_offsets(ends, [(topic, 0)]) == end, what="the commit marker written")
        commit_offset(bootstrap, group, topic, 8)  # what a consumer of every record commits: the marker's offset
        assert lag.behind(end) == {(topic, 0): 0}
        commit_offset(bootstrap, group, topic, 6)
        assert lag.behind(end) == {(topic, 0): 2}
    finally:
        lag.close()
