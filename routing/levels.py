"""Which topic an order goes to: the name of its customer's level. Pure."""

from __future__ import annotations

from typing import cast

from oms.customers.v1 import customers_pb2

LEVEL_NAMES = {
    customers_pb2.CUSTOMER_LEVEL_PLATINUM: "platinum",
    customers_pb2.CUSTOMER_LEVEL_GOLD: "gold",
    customers_pb2.CUSTOMER_LEVEL_SILVER: "silver",
    customers_pb2.CUSTOMER_LEVEL_BRONZE: "bronze",
}


class UnknownLevel(ValueError):
    """A level this code does not know (a newer writer's, or garbage)."""


def effective_level(level: int) -> customers_pb2.CustomerLevel:
    """Unspecified means bronze, as in the reference."""
    if level == customers_pb2.CUSTOMER_LEVEL_UNSPECIFIED:
        return customers_pb2.CUSTOMER_LEVEL_BRONZE
    return cast(customers_pb2.CustomerLevel, level)


def level_name(level: int) -> str:
    try:
        return LEVEL_NAMES[effective_level(level)]
    except KeyError:
        raise UnknownLevel(f"unknown customer level {level}") from None
