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
from collections import OrderedDict
from collections.abc import Callable

import grpc

from gateway.app.errors import Unavailable
from streams.kafka import GroupMember

log = logging.getLogger(__name__)

NOT_OWNER = "not the owner"
# Channels kept open to peers at most (least recently used closed first).
MAX_CHANNELS = 64

TopicPartition = tuple[str, int]


class Router:
    def __init__(
        self,
        address: str,
        owns: Callable[[TopicPartition], bool],
        members: Callable[[], list[GroupMember]],
        credentials: grpc.ChannelCredentials | None = None,
        max_channels: int = MAX_CHANNELS,
    ) -> None:
        """`credentials`: how to call peers (TLS, with this instance's own
        certificate as client certificate); None: plaintext."""
        self.address = address
        self._credentials = credentials
        self._max_channels = max_channels
        self._owns = owns
        self._members = members
        self._owners: dict[TopicPartition, str] = {}
        self._refreshed_at = 0.0
        # Least recently used first; bounded (peers come and go).
        self._channels: OrderedDict[str, grpc.aio.Channel] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

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
        if address in self._channels:
            self._channels.move_to_end(address)
            return self._channels[address]
        if self._credentials is None:
            channel = grpc.aio.insecure_channel(address)
        else:
            channel = grpc.aio.secure_channel(address, self._credentials)
        self._channels[address] = channel
        while len(self._channels) > self._max_channels:
            _, oldest = self._channels.popitem(last=False)
            # Calls still on it finish within the grace.
            task = asyncio.get_running_loop().create_task(oldest.close(grace=5))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return channel

    def open_channels(self) -> int:
        return len(self._channels)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
