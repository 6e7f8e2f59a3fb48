"""The benchmark harness runs: tiny versions of its phases complete and
their report renders. No speed is asserted here; figures live in bench/."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import e2e, raw, report, stages
from bench.common import Log

pytestmark = pytest.mark.kafka


def test_a_tiny_run_of_each_cheap_phase_completes(bootstrap: str, tmp_path: Path) -> None:
    log = Log()
    results = {
        "mode": "tiny",
        "raw": raw.run_raw(bootstrap, 200, log),
        "stages": {
            name: stages.run_stage(name, bootstrap, tmp_path, 200, log) for name in ("order-details", "projector")
        },
        "ceiling": e2e.generator_ceiling([50], 1, log),
    }

    assert {r["records"] for r in results["raw"].values()} == {200}
    assert all(s["orders"] == 200 and s["orders_per_s"] > 0 for s in results["stages"].values())
    assert results["ceiling"]["steps"][0]["sent"] == 50
    rendered = report.render(results, "")
    assert "## Per stage" in rendered and "## The limit" in rendered
