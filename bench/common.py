"""What every benchmark phase shares: the machine's facts, its load, process
memory, percentiles, and the broker the run owns."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


# Percentiles ------------------------------------------------------------------
def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of an ascending sequence; nan if empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary_ms(values_s: Iterable[float]) -> dict[str, float]:
    ordered = sorted(values_s)
    return {f"p{p:g}": percentile(ordered, p) * 1000 for p in (50, 95, 99, 99.9)} | {
        "max": (ordered[-1] * 1000) if ordered else math.nan,
        "count": len(ordered),
    }


# Memory -------------------------------------------------------------------------
def proc_status_kib(pid: int | str, field_name: str) -> int | None:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM), or None if gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def memory_mib(pid: int | str = "self") -> dict[str, float | None]:
    rss, hwm = proc_status_kib(pid, "VmRSS"), proc_status_kib(pid, "VmHWM")
    return {"rss_mib": None if rss is None else rss / 1024, "peak_rss_mib": None if hwm is None else hwm / 1024}


# Load -------------------------------------------------------------------------
def loadavg() -> float:
    return os.getloadavg()[0]


def _cpu_busy_jiffies() -> int:
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def _tree_jiffies(root: int) -> dict[int, int]:
    """utime+stime of every live process in root's tree (root included)."""
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        rest = text[text.rindex(")") + 2 :].split()
        pid = int(entry)
        parents[pid] = int(rest[1])
        times[pid] = int(rest[11]) + int(rest[12])
    ours = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in ours and pid not in ours:
                ours.add(pid)
                changed = True
    return {pid: times[pid] for pid in ours if pid in times}


def process_label(pid: int) -> str:
    """What a process of the run is, for the CPU breakdown."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    words = [a.decode(errors="replace") for a in argv if a]
    if any("kafka.Kafka" in w for w in words):
        return "kafka broker (JVM)"
    if any("multiprocessing" in w for w in words):
        return "load generator"
    if words and words[0].endswith("py-spy"):
        return "py-spy"
    if any(w.endswith("quix_fraud.py") for w in words):
        return "quixstreams fraud check"
    if "-m" in words:
        module = words[words.index("-m") + 1 :]
        if module and module[0] == "validators" and len(module) > 1:
            return f"{module[1]} check"
        return module[0] if module else "python"
    return "harness"


# The run's own processes that are not the platform (its services and the
# broker): what an order's CPU cost leaves out.
NOT_PLATFORM = frozenset({"bench", "harness", "load generator", "py-spy"})


def platform_cores(cores_by_process: dict[str, float]) -> float:
    """Cores the platform used, from a CpuWatch's breakdown by kind of process."""
    return round(sum(cores for label, cores in cores_by_process.items() if label not in NOT_PLATFORM), 2)


@dataclass
class CpuWatch:
    """Samples, once a second, how many cores this run's process tree used and
    how many everything else on the machine used (other people's work)."""

    interval_s: float = 1.0
    ours: list[float] = field(default_factory=list)
    others: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    # Jiffies per kind of process of this run (broker, gateway, each check...).
    by_label: dict[str, int] = field(default_factory=dict)
    _labels: dict[int, str] = field(default_factory=dict)
    _elapsed: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> CpuWatch:
        self._thread = threading.Thread(target=self._run, name="cpu-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        root = os.getpid()
        # The harness itself, however it was started (python -m bench, pytest).
        self._labels[root] = "bench"
        busy, tree, at = _cpu_busy_jiffies(), _tree_jiffies(root), time.monotonic()
        while not self._stop.wait(self.interval_s):
            busy2, tree2, at2 = _cpu_busy_jiffies(), _tree_jiffies(root), time.monotonic()
            elapsed = (at2 - at) * CLK_TCK
            if elapsed > 0:
                ours = sum(t - tree[p] for p, t in tree2.items() if p in tree)
                self._elapsed += elapsed
                for pid, jiffies in tree2.items():
                    if pid in tree:
                        label = self._labels.get(pid) or self._labels.setdefault(pid, process_label(pid))
                        self.by_label[label] = self.by_label.get(label, 0) + jiffies - tree[pid]
                self.ours.append(ours / elapsed)
                self.others.append(max(0.0, (busy2 - busy - ours) / elapsed))
                self.loads.append(loadavg())
            busy, tree, at = busy2, tree2, at2

    def summary(self) -> dict:
        def mean(values: list[float]) -> float:
            return sum(values) / len(values) if values else math.nan

        breakdown = {
            label: round(jiffies / self._elapsed, 2)
            for label, jiffies in sorted(self.by_label.items(), key=lambda item: -item[1])
            if self._elapsed and jiffies
        }
        return {
            "cores_ours": round(mean(self.ours), 2),
            "cores_others": round(mean(self.others), 2),
            "load_max": round(max(self.loads), 2) if self.loads else math.nan,
            "cores_by_process": breakdown,
        }


def cores_used(window_s: float = 3.0) -> tuple[float, float]:
    """Cores that this run's process tree, and everything else, used over a short window."""
    root = os.getpid()
    busy, tree, at = _cpu_busy_jiffies(), _tree_jiffies(root), time.monotonic()
    time.sleep(window_s)
    busy2, tree2, at2 = _cpu_busy_jiffies(), _tree_jiffies(root), time.monotonic()
    ours = sum(t - tree[p] for p, t in tree2.items() if p in tree)
    elapsed = (at2 - at) * CLK_TCK
    return ours / elapsed, max(0.0, (busy2 - busy - ours) / elapsed)


# How long, in all, a run may still wait for a quiet machine.
_wait_budget = [float("inf")]


def set_wait_budget(seconds: float) -> None:
    _wait_budget[0] = seconds


def wait_for_quiet(max_load: float, max_wait_s: float, log: Log, max_others: float = 0.5) -> float:
    """Waits (bounded) until the machine is quiet: other people's processes
    use less than max_others cores and the 1-minute load average, less the
    cores this run itself keeps busy now, is below max_load. (The load
    average alone would count the benchmark's own broker and services.)"""
    began = time.monotonic()
    deadline = began + min(max_wait_s, _wait_budget[0])
    if deadline <= began:
        return loadavg()  # no waiting (the quick run): not worth cores_used()'s 3 s
    while True:
        ours, others = cores_used()
        load = loadavg()
        if others < max_others and load - ours < max_load:
            _wait_budget[0] -= time.monotonic() - began
            return load
        if time.monotonic() >= deadline:
            _wait_budget[0] -= time.monotonic() - began
            log(f"machine still busy (others use {others:.2f} cores, load {load:.2f}): going on anyway")
            return load
        log(f"machine busy (others use {others:.2f} cores, load {load:.2f}): waiting")
        time.sleep(10)


# Machine facts --------------------------------------------------------------
def _command_output(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout + done.stderr).strip()


def machine_facts() -> dict[str, str]:
    import confluent_kafka
    import google.protobuf
    import grpc

    from localkafka import settings as kafka_settings

    with open("/proc/meminfo") as meminfo:
        mem_kib = int(meminfo.readline().split()[1])
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    java = _command_output(["java", "-version"]).splitlines()
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu_model,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kafka": kafka_settings.kafka_version(),
        "java": java[0] if java else "unknown",
        "confluent-kafka": importlib.metadata.version("confluent-kafka"),
        "librdkafka": confluent_kafka.libversion()[0],
        "grpcio": grpc.__version__,
        "protobuf": google.protobuf.__version__,
    }


# Logging and results ----------------------------------------------------------
class Log:
    def __init__(self) -> None:
        self._start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[bench {time.monotonic() - self._start:6.0f}s] {message}", file=sys.stderr, flush=True)


def run_json(
    argv: Sequence[str],
    timeout_s: float,
    env: dict[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    python: str | Path = sys.executable,
) -> dict:
    """Runs `python -m ...` as a subprocess and returns the JSON of its last
    stdout line; on_start gets its pid (to profile it, say); `python` is
    another interpreter to run it with (another venv's)."""
    process = subprocess.Popen(
        [str(python), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
    if on_start is not None:
        on_start(process.pid)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuntimeError(f"{' '.join(argv)} took more than {timeout_s}s") from None
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}):\n{stderr[-3000:]}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])
