"""Benchmark runner: `python bench/run.py [--quick] [--json FILE]`.

Prints one table per benchmark; `--json` also writes the figures. Every comparison is measured
side by side in the same process and run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import artifact, processor_cost  # noqa: E402 - the path above makes the repository importable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the telemetry pipeline's costs.")
    parser.add_argument("--quick", action="store_true", help="a smoke run with few repetitions")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--artifact", type=Path, metavar="ZIP",
                        help="also measure the size and cold import time of this deployment artifact "
                        "(build it with `clinisight-trace build`)")
    args = parser.parse_args(argv)

    repetitions, spans = (3, 200) if args.quick else (15, 2000)
    print(f"Processor cost per span ({repetitions} repetitions x {spans} spans, medians)")
    results = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "processor_cost_per_span": processor_cost.run(repetitions=repetitions, spans=spans),
    }
    if args.artifact is not None:
        print("Deployment artifact")
        results["artifact"] = artifact.run(args.artifact, repetitions=3 if args.quick else 15)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"Wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
