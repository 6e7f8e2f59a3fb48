"""Which gateway instance owns a partition, and channels to the others.

Each gateway instance projects only the partitions its view consumer is
assigned. Instances find each other through that consumer group itself:
every view consumer carries its instance's gRPC address as its client id, so
describing the group tells which address owns which partition. No host list
is configured anywhere. The api layer (gateway/api/routing.py) forwards a
call to the owner this finds, and waits out rebalances with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import grpc

from gateway.app.errors import Unavailable
from streams.kafka import GroupMember

log = logging.getLogger(__name__)

NOT_OWNER = "not the owner"

TopicPartition = tuple[str, int]


class Router:
    def __init__(
        self,
        address: str,
        owns: Callable[[TopicPartition], bool],
        members: Callable[[], list[GroupMember]],
    ) -> None:
        self.address = address
        self._owns = owns
        self._members = members
        self._owners: dict[TopicPartition, str] = {}
        self._refreshed_at = 0.0
        self._channels: dict[str, grpc.aio.Channel] = {}

    def owns(self, tp: TopicPartition) -> bool:
        return self._owns(tp)

    async def _refresh(self) -> None:
        if time.monotonic() - self._refreshed_at < 0.2:
            return
        self._refreshed_at = time.monotonic()
        try:
            members = await asyncio.to_thread(self._members)
        except Exception as exc:  # the group may be rebalancing or the broker moving
            log.info("cannot describe the view group yet: %s", exc)
            return
        self._owners = {tp: m.client_id for m in members for tp in m.partitions}

    async def owner(self, tp: TopicPartition, forwarded: bool, deadline: float) -> str | None:
        """None to serve here; else the owner's address. Waits out rebalances
        until `deadline` (time.monotonic()). A forwarded call is never
        forwarded again."""
        while True:
            if self.owns(tp):
                return None
            if forwarded:
                raise Unavailable(f"{NOT_OWNER} of {tp[0]}[{tp[1]}] any more", retry_after_s=0.1)
            owner = self._owners.get(tp)
            if owner and owner != self.address:
                return owner
            if time.monotonic() > deadline:
                raise Unavailable(f"no gateway owns {tp[0]}[{tp[1]}] yet", retry_after_s=1)
            await self._refresh()
            if self._owners.get(tp) in (None, self.address):
                # No owner yet, or the group still names this instance: wait
                # (without it, a stale entry would spin the loop until the
                # next refresh).
                await asyncio.sleep(0.1)

    def forget(self, tp: TopicPartition) -> None:
        """The owner last found did not answer: ask the group again."""
        self._owners.pop(tp, None)

    def channel(self, address: str) -> grpc.aio.Channel:
        if address not in self._channels:
            self._channels[address] = grpc.aio.insecure_channel(address)
        return self._channels[address]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
