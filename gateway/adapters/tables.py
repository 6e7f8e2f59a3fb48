"""The customers and payments tables of the gateway, and its list of dead letters.

Unlike the order view, which may be split by partition between gateway
instances, every gateway instance reads every partition of `customers` and
`payments` (a consumer group of its own per instance: a global table), so
any instance answers GetCustomer and checks a payment id without forwarding;
and of `dead-letters`, so any instance lists them.
The tables live in the gateway's view database under their own key
prefixes, each batch written together with its read positions, and the
projector reports progress to the same Notifier as the order projector, so
requests wait for a log position the same way (gateway/adapters/read_model.py).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable

from google.protobuf.message import DecodeError

from gateway.adapters.notifier import Notifier
from gateway.adapters.order_index import MAX_MS
from gateway.adapters.projector import Changes, Projector
from gateway.adapters.view import View
from gateway.app.ports import DeadLetterCursor
from oms.customers.v1 import customers_pb2
from oms.deadletter.v1 import dead_letter_pb2
from oms.payments.v1 import payments_pb2
from orders.domain import cents
from streams.kafka import ViewConsumer
from streams.records import Record
from topology.config import Config
from topology.topics import Topics

log = logging.getLogger(__name__)

_CUSTOMER = b"customer/"
_PAYMENT = b"payment/"
# The total paid per order id, in cents (8 bytes big-endian), kept with the payments.
_PAID = b"paid/"
# The payment ids of each order: order-payments/<order id>/<payment id> -> b"",
# kept with the payments (ids hold no "/", so one order's prefix covers no other's).
_ORDER_PAYMENTS = b"order-payments/"


# Dead letters, newest first (by failed_at), then by where they are on `dead-letters`:
#   dl/a/<inverted failed_at ms><partition><offset>                   every one
#   dl/p/<processor length><processor><inverted failed_at ms><partition><offset>  by processor
# -> the DeadLetter. Fixed-width integers, big-endian: key order is list order.
_DEAD_LETTERS = b"dl/a/"
_DEAD_LETTERS_BY_PROCESSOR = b"dl/p/"
_DEAD_LETTER_AT = struct.Struct(">QIq")


def dead_letters_prefix(processor: str) -> bytes:
    """The list of one processor's dead letters, or ("") everyone's."""
    if not processor:
        return _DEAD_LETTERS
    name = processor.encode()
    return _DEAD_LETTERS_BY_PROCESSOR + struct.pack(">H", len(name)) + name


def dead_letter_key(prefix: bytes, at: DeadLetterCursor) -> bytes:
    return prefix + _DEAD_LETTER_AT.pack(MAX_MS - at.failed_ms, at.partition, at.offset)


def dead_letter_at(prefix: bytes, key: bytes) -> DeadLetterCursor:
    inverted, partition, offset = _DEAD_LETTER_AT.unpack(key[len(prefix) :])
    return DeadLetterCursor(MAX_MS - inverted, partition, offset)


def customer_key(customer_id: int) -> bytes:
    # Keyed as on the `customers` topic: the customer id in decimal.
    return _CUSTOMER + str(customer_id).encode()


def payment_key(payment_id: str) -> bytes:
    return _PAYMENT + payment_id.encode()


def paid_key(order_id: str) -> bytes:
    return _PAID + order_id.encode()


def order_payments_prefix(order_id: str) -> bytes:
    return _ORDER_PAYMENTS + order_id.encode() + b"/"


def order_payment_key(order_id: str, payment_id: bytes) -> bytes:
    return order_payments_prefix(order_id) + payment_id


def payment_id_of(order_id: str, key: bytes) -> str:
    """The payment id an order-payments key holds."""
    return key[len(order_payments_prefix(order_id)) :].decode()


def decode_paid(raw: bytes | None) -> int:
    """The total paid in cents."""
    return 0 if raw is None else int(struct.unpack(">q", raw)[0])


def project_tables(
    records: Iterable[Record], topics: Topics, current: Callable[[bytes], bytes | None] = lambda _key: None
) -> Changes:
    """The view entries a batch changes: the latest record per key wins. A
    payment id seen for the first time adds its amount to its order's total
    (a payment id is recorded once; a repeat adds nothing) and joins its
    order's index of payment ids."""
    changes: Changes = {}
    for record in records:
        if record.topic == topics.dead_letters:
            changes.update(_dead_letter_entries(record))
            continue
        if not record.key:
            continue
        if record.value is None:
            # Nothing deletes customers or payments yet; a tombstone is left alone.
            log.warning("ignoring a tombstone at %s[%d]@%d", record.topic, record.partition, record.offset)
            continue
        message_type: type[customers_pb2.Customer] | type[payments_pb2.Payment]
        if record.topic == topics.customers:
            message_type, key = customers_pb2.Customer, _CUSTOMER + record.key
        elif record.topic == topics.payments:
            message_type, key = payments_pb2.Payment, _PAYMENT + record.key
        else:
            continue
        try:
            message = message_type.FromString(record.value)
        except DecodeError:
            log.warning("skipping an undecodable record at %s[%d]@%d", record.topic, record.partition, record.offset)
            continue
        if isinstance(message, payments_pb2.Payment) and message.order_id:
            if key not in changes and current(key) is None:
                total = paid_key(message.order_id)
                before = decode_paid(changes.get(total) or current(total))
                changes[total] = struct.pack(">q", before + cents(message.amount))
                changes[order_payment_key(message.order_id, record.key)] = b""
        changes[key] = record.value
    return changes


def _dead_letter_entries(record: Record) -> Changes:
    """A dead letter's entries in both lists (none for a record that is no dead letter)."""
    try:
        letter = dead_letter_pb2.DeadLetter.FromString(record.value or b"")
    except DecodeError:
        letter = None
    if letter is None or not letter.processor:
        log.warning(
            "skipping a record that is no dead letter at %s[%d]@%d", record.topic, record.partition, record.offset
        )
        return {}
    at = DeadLetterCursor(letter.failed_at.ToMilliseconds(), record.partition, record.offset)
    value = record.value or b""
    return {
        dead_letter_key(dead_letters_prefix(""), at): value,
        dead_letter_key(dead_letters_prefix(letter.processor), at): value,
    }


def tables_projector(settings: Config, view: View, notifier: Notifier) -> Projector:
    """The tables' projector (not started yet)."""
    topics = Topics(settings.namespace)
    # A group per instance: each instance is assigned every partition.
    member = topics.group(f"tables-view-{settings.instance_id}")

    def consumer(**kwargs: object) -> ViewConsumer:
        return ViewConsumer(
            settings.kafka,
            member,
            group_instance_id=member,
            **kwargs,  # type: ignore[arg-type]
        )

    return Projector(
        "tables-projector",
        consumer,
        view,
        (topics.customers, topics.payments, topics.dead_letters),
        lambda records, _caught_up: project_tables(records, topics, view.get_raw),
        notifier.progress_threadsafe,
    )
