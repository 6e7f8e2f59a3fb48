"""Composition root of the validators: which processor runs under which name."""

from __future__ import annotations

from streams.processor import Processor
from topology.config import Config
from streams.topics import Topics
from validators.processors import FraudProcessor, InventoryProcessor, OrderDetailsProcessor

CHECKS = {
    "order-details": OrderDetailsProcessor,
    "fraud": FraudProcessor,
    "inventory": InventoryProcessor,
}


def build_check(check: str, settings: Config) -> Processor:
    return CHECKS[check](Topics(settings.namespace))
