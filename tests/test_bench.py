"""The benchmark runner still runs. It asserts the shape of its output, never timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SETUPS = {"bare", "ours", "naive", "otel_lambda", "sentry_lambda", "powertools", "bare@otel-lambda"}
HEADLINE = {"cold_start_overhead_ms", "warm_overhead_us", "span_overhead_ratio_vs_sentry", "flush_ms_healthy",
            "flush_ms_dead_backend"}


def test_quick_run_writes_json(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    # The first run creates two virtual environments for the compared set-ups.
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--json", str(output)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(output.read_text())
    assert HEADLINE <= set(figures)
    assert all(isinstance(figures[name], float | int) for name in HEADLINE)

    side_by_side = figures["side_by_side"]
    assert set(side_by_side["cold_start"]) == SETUPS
    assert set(side_by_side["warm"]) == SETUPS | {"ours_unsampled"}
    assert side_by_side["cold_start"]["bare"]["overhead_ms"] == 0
    for row in side_by_side["warm"].values():
        assert row["invocation_us"] > 0
        assert row["rss_mib_after"] > 0
    # Set-ups that flush report a flush time; the bare handler and Powertools do not flush.
    assert side_by_side["warm"]["ours"]["flush_ms"] > 0
    assert side_by_side["warm"]["powertools"]["flush_ms"] is None
    assert set(side_by_side["dead_backends"]) == {"ours", "naive", "otel_lambda", "sentry_lambda"}
    assert [row["step"] for row in side_by_side["cold_start_steps"]][0] == "bare handler"

    assert set(figures["processor_cost_per_span"]) == {"5", "20", "100"}
    for row in figures["processor_cost_per_span"].values():
        assert set(row) == {"bare_us", "sentry_us", "ours_us", "ours_over_sentry"}
        assert row["ours_us"] > 0
