"""Composition root of the aggregator."""

from __future__ import annotations

from aggregator.processor import AggregatorProcessor
from streams.settings import Settings
from streams.topics import Topics


def build_aggregator(settings: Settings) -> AggregatorProcessor:
    return AggregatorProcessor(Topics(settings.namespace), settings.validation_timeout_ms)
