"""The keys of the order lists in the gateway's view database, written by
the order projector in the same WriteBatch as the view and its positions.

Per partition of `orders` (so a partition's entries are read only while it
is held here), newest first:

    x/t/<partition><inverted placed_at><order id>          every order
    x/s/<partition><state><inverted placed_at><order id>    by state
    x/p/<partition><len><product><inverted placed_at><order id>  by product

The values are empty: the order is read from its view entry. An order leaves
a state's list lazily: a read skips an entry whose order has moved on (an
order has at most one entry per state it went through).

Per customer, from `customer-orders` (every order event re-keyed by customer
id), on the instance owning the customer's partition:

    c/o/<customer><inverted placed_at><order id>  -> the order (latest version)
    c/e/<customer><offset>                        -> the change (WatchOrders)
    c/l/<customer>                                -> the offset of the latest change

Fixed-width integers are big-endian, so key order is newest first, then by
order id (order ids hold no NUL byte).
"""

from __future__ import annotations

import struct

from oms.orders.v1 import order_pb2

MAX_MS = 2**63 - 1
_PARTITION = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_BY_TIME = b"x/t/"
_BY_STATE = b"x/s/"
_BY_PRODUCT = b"x/p/"
_CUSTOMER_ORDER = b"c/o/"
_CUSTOMER_CHANGE = b"c/e/"
_CUSTOMER_LATEST = b"c/l/"

# (placed_at in ms, order id): where a page of a newest-first list ends.
Cursor = tuple[int, str]


def _newest_first(placed_ms: int, order_id: str) -> bytes:
    return _U64.pack(MAX_MS - placed_ms) + order_id.encode()


def placed_ms(order: order_pb2.Order) -> int:
    return int(order.placed_at.ToMilliseconds())


def time_prefix(partition: int) -> bytes:
    return _BY_TIME + _PARTITION.pack(partition)


def state_prefix(partition: int, state: int) -> bytes:
    return _BY_STATE + _PARTITION.pack(partition) + bytes([state])


def product_prefix(partition: int, product: str) -> bytes:
    name = product.encode()
    return _BY_PRODUCT + _PARTITION.pack(partition) + struct.pack(">H", len(name)) + name


def customer_prefix(customer_id: int) -> bytes:
    return _CUSTOMER_ORDER + _U64.pack(customer_id)


def customer_change_prefix(customer_id: int) -> bytes:
    return _CUSTOMER_CHANGE + _U64.pack(customer_id)


def customer_change_key(customer_id: int, offset: int) -> bytes:
    return customer_change_prefix(customer_id) + _U64.pack(offset)


def customer_latest_key(customer_id: int) -> bytes:
    return _CUSTOMER_LATEST + _U64.pack(customer_id)


def encode_offset(offset: int) -> bytes:
    return _U64.pack(offset)


def decode_offset(raw: bytes) -> int:
    return int(_U64.unpack(raw[-8:])[0])


def entry(prefix: bytes, order: order_pb2.Order) -> bytes:
    return prefix + _newest_first(placed_ms(order), order.order_id)


def order_id_of(prefix: bytes, key: bytes) -> str:
    return key[len(prefix) + 8 :].decode()


def start_after(prefix: bytes, cursor: Cursor | None) -> bytes:
    """The first key of a list to read for the page after `cursor`."""
    if cursor is None:
        return prefix
    return prefix + _newest_first(*cursor) + b"\x00"


def index_entries(partition: int, order: order_pb2.Order) -> dict[bytes, bytes]:
    """The list entries of an order as it now stands (puts of the same keys
    for every change but its state's)."""
    return {
        entry(time_prefix(partition), order): b"",
        entry(state_prefix(partition, order.state), order): b"",
        entry(product_prefix(partition, order.product), order): b"",
    }
