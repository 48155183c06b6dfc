"""Benchmark runner: `python bench/run.py [--quick] [--json FILE] [--artifact ZIP]`.

Prints one table per benchmark; `--json` also writes the figures. Every comparison is measured
side by side in the same run: the six set-ups in fresh interpreters (`bench/side_by_side.py`),
the span processors in one process (`bench/processor_cost.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import artifact, processor_cost, side_by_side  # noqa: E402 - the path above makes the repository importable


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": model or platform.processor() or platform.machine()}


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """Return the figures to compare over time, for our set-up."""
    ratios = [row["ours_over_sentry"] for row in results["processor_cost_per_span"].values()]
    return {
        "cold_start_overhead_ms": results["side_by_side"]["cold_start"]["ours"]["overhead_ms"],
        "warm_overhead_us": results["side_by_side"]["warm"]["ours"]["overhead_us"],
        # The worst of the three span sizes, since the goal holds for each.
        "span_overhead_ratio_vs_sentry": max(ratios),
        "flush_ms_healthy": results["side_by_side"]["warm"]["ours"]["flush_ms"],
        "flush_ms_dead_backend": results["side_by_side"]["dead_backends"]["ours"]["flush_ms"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the telemetry pipeline's costs against the alternatives.")
    parser.add_argument("--quick", action="store_true", help="a smoke run with few repetitions; not for quoting")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--artifact", type=Path, metavar="ZIP",
                        help="also measure the size and cold import time of this deployment artifact "
                        "(build it with `clinisight-trace build`)")
    args = parser.parse_args(argv)
    if args.artifact is not None and not args.artifact.is_file():
        parser.error(f"--artifact: no such file: {args.artifact}")

    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    results["side_by_side"] = side_by_side.run(quick=args.quick, report=lambda line: print(line, flush=True))

    repetitions, spans = (3, 200) if args.quick else (15, 2000)
    print(f"Processor cost per span ({repetitions} repetitions x {spans} spans, medians)", flush=True)
    results["processor_cost_per_span"] = processor_cost.run(repetitions=repetitions, spans=spans)
    if args.artifact is not None:
        print("Deployment artifact", flush=True)
        results["artifact"] = artifact.run(args.artifact, repetitions=3 if args.quick else 15)

    results = {**headline(results), **results}
    print("Headline: " + ", ".join(f"{name} {results[name]}" for name in headline(results)))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"Wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
