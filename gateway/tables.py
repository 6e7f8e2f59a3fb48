"""The customers and payments tables of the gateway.

Unlike the order view, which may be split by partition between gateway
instances, every gateway instance reads every partition of `customers` and
`payments` (a consumer group of its own per instance: a global table), so
any instance answers GetCustomer and checks a payment id without forwarding.
The tables live in the gateway's view database under their own key
prefixes, each batch written together with its read positions, and the
projector reports progress to the same Notifier as the order projector, so
requests wait for a log position the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from google.protobuf.message import DecodeError

from gateway.errors import unavailable
from gateway.notifier import Notifier, TopicPartition
from gateway.projector import Changes, Projector
from gateway.view import View
from oms.customers.v1 import customers_pb2
from oms.payments.v1 import payments_pb2
from streams.kafka import ViewConsumer, partition_count
from streams.partitioning import partition_for
from streams.records import Record
from streams.settings import Settings
from topology.topics import Topics

log = logging.getLogger(__name__)

_CUSTOMER = b"customer/"
_PAYMENT = b"payment/"



def customer_record_key(customer_id: int) -> bytes:
    """The key of a customer on the `customers` topic."""
    return str(customer_id).encode()


def customer_key(customer_id: int) -> bytes:
    return _CUSTOMER + customer_record_key(customer_id)


def payment_key(payment_id: str) -> bytes:
    return _PAYMENT + payment_id.encode()


def project_tables(records: Iterable[Record], topics: Topics) -> Changes:
    """The view entries a batch changes: the latest record per key wins."""
    changes: Changes = {}
    for record in records:
        if not record.key:
            continue
        if record.value is None:
            # Nothing deletes customers or payments yet; a tombstone is left alone.
            log.warning("ignoring a tombstone at %s[%d]@%d", record.topic, record.partition, record.offset)
            continue
        if record.topic == topics.customers:
            message_type, key = customers_pb2.Customer, _CUSTOMER + record.key
        elif record.topic == topics.payments:
            message_type, key = payments_pb2.Payment, _PAYMENT + record.key
        else:
            continue
        try:
            message_type.FromString(record.value)
        except DecodeError:
            log.warning("skipping an undecodable record at %s[%d]@%d", record.topic, record.partition, record.offset)
            continue
        changes[key] = record.value
    return changes


class Tables:
    """What the customer and payment services read, and how long they wait."""

    def __init__(
        self,
        view: View,
        notifier: Notifier,
        topics: Topics,
        partitions: dict[str, int],
        projector: Projector,
    ) -> None:
        self.view = view
        self.notifier = notifier
        self.topics = topics
        self._partitions = partitions
        self.projector = projector

    def require_healthy(self) -> None:
        if self.projector.failed.is_set():
            raise unavailable("the customers and payments tables are not being updated")

    def customer(self, customer_id: int) -> customers_pb2.Customer | None:
        raw = self.view.get_raw(customer_key(customer_id))
        return None if raw is None else customers_pb2.Customer.FromString(raw)

    def payment(self, payment_id: str) -> payments_pb2.Payment | None:
        raw = self.view.get_raw(payment_key(payment_id))
        return None if raw is None else payments_pb2.Payment.FromString(raw)

    def _partition(self, topic: str, key: bytes) -> TopicPartition:
        return (topic, partition_for(key, self._partitions[topic]))

    async def reached(self, topic: str, partition: int, offset: int) -> None:
        """Returns once the tables hold the record at offset."""
        await self.notifier.reached((topic, partition), offset + 1)

    async def _caught_up(self, tp: TopicPartition) -> None:
        await self.notifier.caught_up(tp, self.projector.end_offsets)

    async def customer_now(self, customer_id: int) -> customers_pb2.Customer | None:
        """The customer as the log has it now: the table first catches up with
        the customer's partition, so that any gateway instance answers with the
        latest upsert acknowledged before the call (None: no such customer)."""
        await self._caught_up(self._partition(self.topics.customers, customer_record_key(customer_id)))
        return self.customer(customer_id)

    async def payment_when_known(self, payment_id: str) -> payments_pb2.Payment | None:
        found = self.payment(payment_id)
        if found is None:
            await self._caught_up(self._partition(self.topics.payments, payment_id.encode()))
            found = self.payment(payment_id)
        return found


async def build_tables(settings: Settings, view: View, notifier: Notifier) -> Tables:
    """The tables and their projector (not started yet)."""
    topics = Topics(settings.namespace)
    # A group per instance: each instance is assigned every partition.
    member = topics.group(f"tables-view-{settings.instance_id}")

    def consumer(**kwargs: object) -> ViewConsumer:
        return ViewConsumer(
            settings.bootstrap_servers, member, group_instance_id=member, extra=settings.extra_kafka, **kwargs  # type: ignore[arg-type]
        )

    projector = Projector(
        "tables-projector",
        consumer,
        view,
        (topics.customers, topics.payments),
        lambda records, _caught_up: project_tables(records, topics),
        notifier.progress_threadsafe,
    )
    partitions = {
        topic: await asyncio.to_thread(partition_count, settings.bootstrap_servers, topic)
        for topic in (topics.customers, topics.payments)
    }
    return Tables(view, notifier, topics, partitions, projector)
