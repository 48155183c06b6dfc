"""The benchmark runner still runs. It asserts the shape of its output, never timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_writes_json(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--json", str(output)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(output.read_text())
    assert set(figures["processor_cost_per_span"]) == {"5", "20", "100"}
    for row in figures["processor_cost_per_span"].values():
        assert set(row) == {"bare_us", "sentry_us", "ours_us", "ours_over_sentry"}
        assert row["ours_us"] > 0
