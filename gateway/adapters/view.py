"""The read models (orders, stock, each order's history) and the log
positions they reflect.

One LevelDB database per gateway instance. Each projected batch writes its
view changes and the consumed positions in one WriteBatch, so the view and
its position never disagree, and a restart resumes exactly where it was.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from pathlib import Path

from oms.inventory.v1 import inventory_pb2
from oms.orders.v1 import order_pb2, query_service_pb2
from streams.leveldb import open_db

_ORDER = b"o/"
_STOCK = b"s/"
_POSITION = b"p/"
# An order's history: h/<order id>/<version, 8 bytes big-endian> -> where the
# event is in `orders` (partition, offset) and the event (OrderHistoryEvent).
# Order ids hold no "/", so one order's prefix never covers another's.
_HISTORY = b"h/"
_WHERE = struct.Struct(">Iq")


def order_key(order_id: str) -> bytes:
    return _ORDER + order_id.encode()


def stock_key(product: str) -> bytes:
    return _STOCK + product.encode()


def history_prefix(order_id: str) -> bytes:
    return _HISTORY + order_id.encode() + b"/"


def history_key(order_id: str, version: int) -> bytes:
    return history_prefix(order_id) + struct.pack(">Q", version)


def history_value(partition: int, offset: int, event: query_service_pb2.OrderHistoryEvent) -> bytes:
    return _WHERE.pack(partition, offset) + event.SerializeToString()


def decode_history(value: bytes) -> tuple[int, int, query_service_pb2.OrderHistoryEvent]:
    partition, offset = _WHERE.unpack_from(value)
    return partition, offset, query_service_pb2.OrderHistoryEvent.FromString(value[_WHERE.size :])


def _upper_bound(prefix: bytes) -> bytes | None:
    """The least key above every key under prefix (None: there is none)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def _position_key(topic: str, partition: int) -> bytes:
    return _POSITION + topic.encode() + b"/" + struct.pack(">I", partition)


class View:
    def __init__(self, path: Path) -> None:
        # No position stored: the projector reads its topics from offset 0.
        self._db = open_db(path, "the orders and inventory topics (the projector reads them from offset 0)")

    def order(self, order_id: str) -> order_pb2.Order | None:
        raw = self._db.get(order_key(order_id))
        return None if raw is None else order_pb2.Order.FromString(raw)

    def get_raw(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def history(self, order_id: str) -> list[tuple[int, int, query_service_pb2.OrderHistoryEvent]]:
        """(partition, offset, event) of each event of the order, oldest first."""
        return [decode_history(value) for _key, value in self._db.iterator(prefix=history_prefix(order_id))]

    def scan(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Entries under prefix in key order, from start (a key under prefix) on."""
        if start is None or start <= prefix:
            return iter(self._db.iterator(prefix=prefix))
        stop = _upper_bound(prefix)
        return iter(self._db.iterator(start=start) if stop is None else self._db.iterator(start=start, stop=stop))

    def stock(self, product: str) -> inventory_pb2.InventoryLevel | None:
        raw = self._db.get(stock_key(product))
        return None if raw is None else inventory_pb2.InventoryLevel.FromString(raw)

    def position(self, topic: str, partition: int) -> int | None:
        raw = self._db.get(_position_key(topic, partition))
        return None if raw is None else struct.unpack(">q", raw)[0]

    def apply(self, changes: Mapping[bytes, bytes], positions: Mapping[tuple[str, int], int]) -> None:
        with self._db.write_batch(transaction=True) as batch:
            for key, value in changes.items():
                batch.put(key, value)
            for (topic, partition), offset in positions.items():
                batch.put(_position_key(topic, partition), struct.pack(">q", offset))

    def close(self) -> None:
        self._db.close()
