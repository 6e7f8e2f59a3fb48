"""What a topic to create is: the application names its topics itself, and
the configs each must have (its retention and cleanup policy, for example)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class TopicSpec:
    """A topic and the configs it is created with. `ensure_topics` also
    checks that an existing topic has them (`TopicDrift` when not)."""

    name: str
    compacted: bool = False
    configs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def wanted_configs(self) -> dict[str, str]:
        """Every config the topic must have: its own, and the cleanup policy
        `compacted` implies unless it names one."""
        wanted = {"cleanup.policy": "compact"} if self.compacted else {}
        wanted.update(self.configs)
        return wanted


@dataclass(frozen=True)
class TopicDrift:
    """An existing topic whose configs are not its spec's: for each config
    that differs, (the topic's value, the spec's value)."""

    name: str
    differences: Mapping[str, tuple[str | None, str]]

    def __str__(self) -> str:
        shown = ", ".join(f"{key}={have} (wanted {want})" for key, (have, want) in sorted(self.differences.items()))
        return f"{self.name}: {shown}"
