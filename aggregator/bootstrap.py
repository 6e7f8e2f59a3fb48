"""Composition root of the aggregator."""

from __future__ import annotations

from aggregator.processor import AggregatorProcessor
from topology.config import Config
from streams.topics import Topics


def build_aggregator(settings: Config) -> AggregatorProcessor:
    return AggregatorProcessor(Topics(settings.namespace), settings.validation_timeout_ms)
