"""The quix phase (issue 13): the fraud check's drain rate against the same
check written on quixstreams 3.x, on the same broker in the same run.

Ours drains N pre-filled OrderPlaced events as the stages phase drains it
(bench.stages); then bench/quix_fraud.py drains another N made the same way,
in a venv of its own (bench/out/quix-venv, made on demand from the hashed
pins of bench/quix-requirements.txt), since quixstreams pins another
confluent-kafka than the project's.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from bench import stages
from bench.common import REPO, CpuWatch, Log, loadavg, run_json
from topology.config import Config
from topology.service import create_topics
from topology.topics import Topics

VENV = REPO / "bench" / "out" / "quix-venv"
REQUIREMENTS = REPO / "bench" / "quix-requirements.txt"
SCRIPT = REPO / "bench" / "quix_fraud.py"
# quixstreams commits a checkpoint (its transaction) every commit_interval
# seconds. Its default, 5 s, holds each re-keyed order back up to that long
# under exactly-once (read_committed): a 20,000-order drain then mostly
# waits (a third of the rate measured at 0.25 s). At 0.25 s it commits about
# as many transactions per drain as ours (up to 5,000 records each under a
# backlog); at 100,000 orders, 0.1 to 5 s gave the same rate within the noise.
QUIX_COMMIT_INTERVAL_S = 0.25
# Drains per side, alternating; each side's best counts (the machine is shared).
ROUNDS = 2


class QuixUnavailable(RuntimeError):
    """quixstreams could not be installed (no network, say) or its drain failed."""


def quix_python(log: Log) -> Path:
    """The python of quixstreams' venv, made (again, if the pins changed) on demand."""
    python = VENV / "bin" / "python"
    stamp = VENV / "installed-requirements.sha256"
    pins = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == pins:
        return python
    log(f"quix: making {VENV} from {REQUIREMENTS.name}")
    shutil.rmtree(VENV, ignore_errors=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes"]
    steps = (
        [sys.executable, "-m", "venv", str(VENV)],
        [*pip, "--retries", "1", "--timeout", "15", "-r", str(REQUIREMENTS)],
    )
    for argv in steps:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            raise QuixUnavailable(f"{' '.join(argv)} took more than 900 s") from None
        if done.returncode != 0:
            raise QuixUnavailable(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    stamp.write_text(pins)
    return python


def run_quix(
    python: Path, bootstrap: str, work_dir: Path, orders: int, log: Log, partitions: int = 3, timeout_s: float = 1800
) -> dict:
    """quix_fraud.py drains `orders` OrderPlaced events, pre-filled as
    bench.stages pre-fills ours, from topics made as ours are."""
    namespace = f"q{uuid.uuid4().hex[:8]}."
    settings = Config.load(kafka_bootstrap=bootstrap, namespace=namespace, partitions=partitions, data_dir=work_dir)
    create_topics(settings)
    topics = Topics(namespace)
    filled = stages.prefill("fraud", bootstrap, topics, orders)
    log(f"quix: pre-filled {filled}; draining")
    state_dir = work_dir / f"quix-{namespace.rstrip('.')}"
    load = loadavg()
    with CpuWatch() as cpu:
        try:
            result = run_json(
                [
                    "-I",  # its own venv only: no PYTHONPATH, no user site
                    str(SCRIPT),
                    "--bootstrap",
                    bootstrap,
                    "--orders-topic",
                    topics.orders,
                    "--validations-topic",
                    topics.order_validations,
                    "--consumer-group",
                    topics.group("quix-fraud-check"),
                    "--state-dir",
                    str(state_dir),
                    "--orders",
                    str(orders),
                    "--commit-interval",
                    str(QUIX_COMMIT_INTERVAL_S),
                    "--timeout",
                    str(timeout_s),
                ],
                timeout_s=timeout_s + 300,
                python=python,
            )
        except RuntimeError as error:
            raise QuixUnavailable(f"the quixstreams drain failed: {error}") from None
    shutil.rmtree(state_dir, ignore_errors=True)
    result |= {"loadavg": round(load, 2), **cpu.summary()}
    log(
        f"quix fraud{'' if result['drained'] else ' (out of time: partial)'}: {result['orders_per_s']:.0f} orders/s"
        f" ({result['records_per_s']:.0f} records/s), peak RSS {result.get('peak_rss_mib')} MiB, load {load:.2f}"
    )
    return result


def compare(bootstrap: str, work_dir: Path, orders: int, log: Log, settle: Callable[[], object], command: str) -> dict:
    """ROUNDS drains of `orders` orders by each side; each side's best
    counts. `settle` waits for a quiet machine before each round. A
    quixstreams that cannot be installed or run is an `error` here, not a
    failed benchmark."""
    out: dict = {"orders": orders, "command": command}
    try:
        python = quix_python(log)
        drains = {
            "ours": lambda: stages.run_stage("fraud", bootstrap, work_dir, orders, log),
            "quix": lambda: run_quix(python, bootstrap, work_dir, orders, log),
        }
        runs: dict[str, list[dict]] = {"ours": [], "quix": []}
        for round_ in range(ROUNDS):
            settle()
            # Each side goes first in turn: a machine getting busier or quieter favours neither.
            for side in ("ours", "quix") if round_ % 2 == 0 else ("quix", "ours"):
                runs[side].append(drains[side]())
    except QuixUnavailable as error:
        log(f"quix: {error}")
        return out | {"error": str(error)}
    ours, theirs = (max(runs[side], key=lambda run: run["orders_per_s"]) for side in ("ours", "quix"))
    ours.pop("rss_samples", None)
    ratio = ours["orders_per_s"] / theirs["orders_per_s"]
    log(f"quix: ours {ours['orders_per_s']:.0f} / quixstreams {theirs['orders_per_s']:.0f} orders/s = {ratio:.2f}×")
    return out | {
        "ours_per_s": ours["orders_per_s"],
        "quix_per_s": theirs["orders_per_s"],
        "ratio": round(ratio, 2),
        "quixstreams": theirs["quixstreams"],
        "rounds": {side: [run["orders_per_s"] for run in runs[side]] for side in runs},
        "ours": ours,
        "quix": theirs,
    }
