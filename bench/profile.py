"""Sampling profiles of running services with py-spy (optional: skipped when
py-spy is not on the PATH), summed up as their top frames."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def available() -> bool:
    return shutil.which("py-spy") is not None


def start(pid: int, out: Path, duration_s: int | None = None, rate: int = 200) -> subprocess.Popen[bytes]:
    """py-spy record of one process into a collapsed-stack file; it ends with
    the process, after duration_s, or on stop()."""
    # --gil: only the thread holding the GIL, i.e. where Python's one core goes.
    argv = [
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--rate",
        str(rate),
        "--gil",
        "--nonblocking",
        "-o",
        str(out),
    ]
    if duration_s is not None:
        argv += ["--duration", str(duration_s)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(recorder: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    if recorder.poll() is None:
        os.kill(recorder.pid, signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        recorder.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        recorder.kill()
        recorder.wait()


def _frame(label: str) -> str:
    """'function (path/to/file.py:123)' -> 'function (to/file.py)'."""
    label = _LINE.sub(")", label.strip())
    if "(" in label:
        name, where = label.split("(", 1)
        parts = where.rstrip(")").split("/")
        label = f"{name.strip()} ({'/'.join(parts[-2:])})"
    return label


def top_frames(collapsed: Path, count: int = 12, focus: tuple[str, ...] = ()) -> dict:
    """Top functions by own samples and by inclusive samples; with `focus`,
    only of the stacks through one of those functions (a service's work
    loop, say, leaving out its start-up)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    try:
        lines = collapsed.read_text().splitlines()
    except OSError:
        return {"samples": 0, "self": [], "inclusive": []}
    for line in lines:
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        samples = int(number)
        frames = [_frame(f) for f in stack.split(";")]
        # py-spy puts the thread first: "process 123:\"python -m x\";thread (0x..);frames..."
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames or (focus and not any(f.startswith(focus) for f in frames)):
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(count)] if total else []

    return {"samples": total, "self": share(own), "inclusive": share(inclusive)}
