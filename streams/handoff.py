"""Local hand-off: a runner's output that is also its own input goes straight
on to the processors, in the same transaction, instead of a round trip
through Kafka and a transaction per hop.

Such a record (a re-key, a check's answer, a verdict) is still produced, so
the log stays the whole truth and other readers see it; only a re-key no
one else reads (`private`) is not: handing it off makes two steps one. It is handed off only
when this runner owns its partition: then it would be the one to consume it.
When it is consumed later, it is skipped. Which offsets to skip is committed
with the consumer offsets, as their metadata, in the same transaction as the
work done on them: a crash, an abort or a rebalance never loses the list nor
lets the work count twice; a new owner reads it with the committed offsets.

Order per partition holds: once an own record to a partition was not handed
off (too many skips pending), none to that partition is, until the consumer
has read past it. Records of other producers interleave as they would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streams.partitioning import partition_for
from streams.records import Output

TopicPartitionKey = tuple[str, int]

# The skip list rides in the offset commit's metadata, which the broker caps
# (offset.metadata.max.bytes, 4 KiB by default): at most this many offsets
# of a partition wait to be skipped.
MAX_PENDING = 150
# A chain of hand-offs (re-key, answer, verdict, ...) stops after this many
# rounds; what the last round produces goes through Kafka.
MAX_ROUNDS = 8


def encode(offsets: Iterable[int]) -> str:
    """Offsets as ranges: "5-7,9"."""
    ranges: list[list[int]] = []
    for offset in sorted(offsets):
        if ranges and offset == ranges[-1][1] + 1:
            ranges[-1][1] = offset
        else:
            ranges.append([offset, offset])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def decode(metadata: str) -> set[int]:
    """The offsets of encode's text; anything else (another client's
    metadata) means none."""
    offsets: set[int] = set()
    try:
        for part in filter(None, metadata.split(",")):
            first, _, last = part.partition("-")
            offsets.update(range(int(first), int(last or first) + 1))
    except ValueError:
        return set()
    return offsets


class HandOffs:
    """What one runner handed off and still has to skip, per input partition
    it owns; changed only by committed batches."""

    def __init__(self, inputs: Iterable[str], partition_counts: Mapping[str, int], private: Iterable[str] = ()) -> None:
        self._counts = {topic: partition_counts[topic] for topic in inputs}
        # Inputs no one but this runner reads: a record handed off there is
        # not written at all (nothing to skip), as if two steps were one.
        self.private = frozenset(private) & set(self._counts)
        # The group's committed offset of each owned input partition.
        self._committed: dict[TopicPartitionKey, int] = {}
        # Offsets at or past it that were handed off: skip them when consumed.
        self._skips: dict[TopicPartitionKey, set[int]] = {}
        # An own record there went through Kafka: no hand-off to the partition
        # until the committed offset is past it.
        self._held_until: dict[TopicPartitionKey, int] = {}

    def assigned(self, committed: Mapping[TopicPartitionKey, tuple[int, str]]) -> None:
        """Partitions this runner now owns, with the group's committed offsets and metadata."""
        for tp, (offset, metadata) in committed.items():
            if offset >= 0:
                self._committed[tp] = offset
                self._skips[tp] = {o for o in decode(metadata) if o >= offset}

    def revoked(self, partitions: set[int]) -> None:
        for table in (self._committed, self._skips, self._held_until):
            for tp in [tp for tp in table if tp[1] in partitions]:
                del table[tp]

    def skipped(self, topic: str, partition: int, offset: int) -> bool:
        """Whether this consumed record was handed off when it was produced."""
        return offset in self._skips.get((topic, partition), ())

    def target(self, output: Output) -> TopicPartitionKey | None:
        """The input partition an output lands in, if it is one of ours and
        its partition is known before it is produced."""
        count = self._counts.get(output.topic)
        if count is None:
            return None
        if output.partition is not None:
            return (output.topic, output.partition)
        if output.key is None:
            return None
        return (output.topic, partition_for(output.key, count))

    def batch(self) -> HandOffBatch:
        return HandOffBatch(self)

    def commit_plan(
        self, following: Mapping[TopicPartitionKey, int], batch: HandOffBatch
    ) -> tuple[dict[TopicPartitionKey, int], dict[TopicPartitionKey, str]]:
        """The offsets to commit with the batch and each one's skip list."""
        offsets = dict(following)
        for tp in batch.handed:
            offsets.setdefault(tp, self._committed[tp])
        metadata = {tp: encode(self._pending(tp, offset, batch)) for tp, offset in offsets.items()}
        return offsets, metadata

    def committed_batch(
        self,
        offsets: Mapping[TopicPartitionKey, int],
        batch: HandOffBatch,
        delivered: Iterable[tuple[str, int, int]],
        owned: set[int],
    ) -> None:
        """The batch's transaction committed: its offsets and skips hold now,
        and own records that went through Kafka hold their partitions back."""
        for tp, offset in offsets.items():
            self._skips[tp] = self._pending(tp, offset, batch)
            self._committed[tp] = offset
        for topic, partition, offset in delivered:
            tp = (topic, partition)
            if topic in self._counts and partition in owned and offset not in batch.handed.get(tp, ()):
                self._held_until[tp] = max(offset, self._held_until.get(tp, -1))

    def _pending(self, tp: TopicPartitionKey, offset: int, batch: HandOffBatch) -> set[int]:
        return {o for o in (*self._skips.get(tp, ()), *batch.handed.get(tp, ())) if o >= offset}

    def may_hand_off(self, tp: TopicPartitionKey, batch: HandOffBatch) -> bool:
        committed = self._committed.get(tp)
        held = self._held_until.get(tp)
        if tp in batch.held or (held is not None and (committed is None or held >= committed)):
            return False
        if tp[0] in self.private:
            return True
        if committed is None:
            return False
        return len(self._skips.get(tp, ())) + len(batch.handed.get(tp, ())) + batch.sending.get(tp, 0) < MAX_PENDING


class HandOffBatch:
    """The hand-offs of one batch (one transaction), until it commits."""

    def __init__(self, owner: HandOffs) -> None:
        self._owner = owner
        self.handed: dict[TopicPartitionKey, list[int]] = {}
        # Handed off, not yet delivered (offset unknown), per partition.
        self.sending: dict[TopicPartitionKey, int] = {}
        # Own input partitions an output of this batch went to through Kafka.
        self.held: set[TopicPartitionKey] = set()

    def decide(self, output: Output, owned: set[int], last_round: bool) -> TopicPartitionKey | None:
        """Whether to hand this output off (its partition), or let it go
        through Kafka (None); call in the order outputs are produced."""
        tp = self._owner.target(output)
        if tp is None:
            return None
        if tp[1] in owned and not last_round and self._owner.may_hand_off(tp, self):
            if tp[0] not in self._owner.private:
                self.sending[tp] = self.sending.get(tp, 0) + 1
            return tp
        if tp[1] in owned:
            self.held.add(tp)
        return None

    def delivered(self, tp: TopicPartitionKey, offset: int) -> None:
        self.sending[tp] -= 1
        if not self.sending[tp]:
            del self.sending[tp]
        self.handed.setdefault(tp, []).append(offset)
