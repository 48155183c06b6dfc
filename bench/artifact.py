"""Cold import and set-up time of each handler from the deployment artifact.

Each run starts a fresh interpreter that can import only the standard library and the unpacked
artifact (`-S -E`), imports the handler module (which sets up telemetry, as Lambda's init
phase does) and reports the time. No AWS call is made at import.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

PROBE = """
import sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import importlib
importlib.import_module(sys.argv[2])
print((time.perf_counter() - started) * 1000)
"""
MODULES = {"orchestrator": "handlers.orchestrator", "tasksmith": "handlers.tasksmith"}
ENVIRONMENT = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
               "AWS_LAMBDA_FUNCTION_NAME": "bench"}


def cold_import_ms(folder: Path, module: str) -> float:
    result = subprocess.run([sys.executable, "-S", "-E", "-B", "-c", PROBE, str(folder), module], env=ENVIRONMENT,
                            capture_output=True, text=True, timeout=120, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def run(artifact: Path, *, repetitions: int, report: Any = print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(artifact) as archive:
            archive.extractall(folder)
        results: dict[str, Any] = {"artifact_bytes": artifact.stat().st_size}
        for name, module in MODULES.items():
            samples = [cold_import_ms(Path(folder), module) for _ in range(repetitions)]
            results[f"{name}_cold_import_ms"] = round(statistics.median(samples), 1)
    report(f"artifact {results['artifact_bytes'] / 1_048_576:.1f} MiB; cold import + set-up (median of "
           f"{repetitions}): orchestrator {results['orchestrator_cold_import_ms']} ms, "
           f"tasksmith {results['tasksmith_cold_import_ms']} ms")
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), repetitions=15)))
