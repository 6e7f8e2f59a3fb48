"""The event log on Kafka: the gateway's writes go through streams.kafka's
idempotent, acks=all Publisher."""

from __future__ import annotations

import asyncio

from gateway.app.ports import EventLog, EventLogError, Position
from streams.kafka import Publisher, StreamsError


class KafkaEventLog(EventLog):
    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    async def publish(self, topic: str, key: bytes, value: bytes) -> Position:
        try:
            partition, offset = await asyncio.wrap_future(self._publisher.publish(topic, key, value))
        except StreamsError as exc:
            raise EventLogError(str(exc)) from exc
        return Position(topic, partition, offset)

    def close(self) -> None:
        self._publisher.close()
