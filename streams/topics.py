"""What a topic to create is: the application names its topics itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    compacted: bool = False
