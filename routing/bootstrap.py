"""Composition root of the order routing."""

from __future__ import annotations

from routing.processor import OrderRoutingProcessor
from routing.settings import RoutingSettings
from streams.settings import Settings
from streams.topics import Topics


def build_routing(settings: Settings, routing: RoutingSettings) -> OrderRoutingProcessor:
    return OrderRoutingProcessor(Topics(settings.namespace), routing.customer_grace_ms)
