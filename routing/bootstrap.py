"""Composition root of the order routing."""

from __future__ import annotations

from routing.processor import OrderRoutingProcessor
from topology.config import Config
from streams.topics import Topics


def build_routing(settings: Config) -> OrderRoutingProcessor:
    return OrderRoutingProcessor(Topics(settings.namespace), settings.customer_grace_ms)
