"""Cold start, warm overhead, flush time and memory of the six set-ups, measured side by side.

Every sample comes from a fresh interpreter (`bench/child.py`), and each round runs the set-ups
in a rotated order, so drift in the machine's speed spreads over all of them. Overheads are
differences of medians against the bare handler measured in the same environment and run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import environments
from bench.backends import Backends

REPO_ROOT = Path(__file__).resolve().parent.parent
CHILD = REPO_ROOT / "bench" / "child.py"


@dataclass(frozen=True)
class Setup:
    """A module in `bench/setups/`, the environment it runs in, and extra variables for a variant."""

    name: str
    environment: str
    flushes: bool = True
    variant: str = ""
    overrides: tuple[tuple[str, str], ...] = ()


SETUPS = [
    Setup("bare", "runtime", flushes=False),
    Setup("ours", "runtime"),
    Setup("naive", "runtime"),
    Setup("otel_lambda", "otel-lambda"),
    Setup("sentry_lambda", "runtime"),
    Setup("powertools", "runtime", flushes=False),
]
# The bare handler again, in the other environment, as that environment's baseline.
BARE_OTEL_LAMBDA = Setup("bare", "otel-lambda", flushes=False)
# Ours for an invocation that is not sampled: the fixed cost that sampling cannot remove.
OURS_UNSAMPLED = Setup("ours", "runtime", variant="unsampled", overrides=(("SENTRY_TRACES_SAMPLE_RATE", "0"),))

# Our cold start built up one dependency at a time in the runtime environment: each step
# imports everything before it too, so the increments show what each part adds to the bare handler.
IMPORT_STEPS = [
    ("bare handler", "bench.setups.bare"),
    ("+ sentry_sdk", "sentry_sdk"),
    ("+ OpenTelemetry SDK", "opentelemetry.sdk.trace"),
    ("+ botocore and requests instrumentations",
     "opentelemetry.instrumentation.botocore,opentelemetry.instrumentation.requests"),
    ("+ the telemetry package (redaction, Sentry bridge, OTLP encoder and sender)", "telemetry"),
    ("+ set-up (ours, complete)", "bench.setups.ours"),
]

BASE_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Stubber returns every response, so these credentials are never used. They keep botocore
    # from looking for credentials anywhere else.
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "LAMBDA_TASK_ROOT": str(REPO_ROOT),
    "_HANDLER": "bench.setups.otel_lambda.handler",
    "CLINISIGHT_SLOW_DYNAMODB_MS": "100",
    # Without a release sentry-sdk runs `git rev-parse` at init. Lambda has no git, and a
    # deployment names its release, so every Sentry set-up gets one here.
    "SENTRY_RELEASE": "clinisight@bench",
}


@dataclass(frozen=True)
class Plan:
    cold_runs: int
    warm_rounds: int
    warm_invocations: int
    warm_up: int
    dead_invocations: int

    @classmethod
    def for_run(cls, quick: bool) -> Plan:
        if quick:
            return cls(cold_runs=2, warm_rounds=1, warm_invocations=30, warm_up=5, dead_invocations=1)
        return cls(cold_runs=15, warm_rounds=3, warm_invocations=1000, warm_up=20, dead_invocations=3)


class Runner:
    def __init__(self, pythons: dict[str, Path], backends: Backends) -> None:
        self.pythons = pythons
        self.backends = backends

    def child(self, setup: Setup, *args: str, dead: bool = False, timeout_s: float = 600) -> dict[str, Any]:
        environment = {**BASE_ENVIRONMENT, **self.backends.environment(dead=dead), **dict(setup.overrides)}
        command = [str(self.pythons[setup.environment]), str(CHILD), setup.name, *args]
        result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout_s,
                                check=False, cwd=REPO_ROOT)
        if result.returncode != 0:
            raise RuntimeError(f"{setup.name} ({setup.environment}) {' '.join(args)} failed:\n{result.stderr[-2000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])


def rotated(items: list[Any], by: int) -> list[Any]:
    by %= len(items)
    return items[by:] + items[:by]


def key(setup: Setup) -> str:
    if setup.variant:
        return f"{setup.name}_{setup.variant}"
    return setup.name if setup.environment == "runtime" or setup.name != "bare" else f"bare@{setup.environment}"


def baseline(setup: Setup) -> str:
    return "bare" if setup.environment == "runtime" else key(BARE_OTEL_LAMBDA)


def cold_start(runner: Runner, plan: Plan) -> dict[str, Any]:
    setups = [*SETUPS, BARE_OTEL_LAMBDA]
    samples: dict[str, list[float]] = {key(setup): [] for setup in setups}
    for round_number in range(plan.cold_runs):
        for setup in rotated(setups, round_number):
            samples[key(setup)].append(runner.child(setup, "cold")["cold_ms"])
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        key(setup): {
            "cold_ms": round(medians[key(setup)], 1),
            "overhead_ms": round(medians[key(setup)] - medians[baseline(setup)], 1),
            "runs": len(samples[key(setup)]),
        }
        for setup in setups
    }


def warm(runner: Runner, plan: Plan) -> dict[str, Any]:
    setups = [*SETUPS, BARE_OTEL_LAMBDA, OURS_UNSAMPLED]
    rounds: dict[str, list[dict[str, Any]]] = {key(setup): [] for setup in setups}
    for round_number in range(plan.warm_rounds):
        for setup in rotated(setups, round_number):
            rounds[key(setup)].append(
                runner.child(setup, "warm", str(plan.warm_invocations), str(plan.warm_up)))
    medians = {name: statistics.median(r["median_us"] for r in results) for name, results in rounds.items()}
    figures: dict[str, Any] = {}
    for setup in setups:
        results = rounds[key(setup)]
        flushes = [r["flush_ms"] for r in results if r["flush_ms"] is not None]
        figures[key(setup)] = {
            "invocation_us": round(medians[key(setup)], 1),
            "overhead_us": round(medians[key(setup)] - medians[baseline(setup)], 1),
            "flush_ms": round(statistics.median(flushes), 2) if flushes else None,
            "rss_mib_after": round(statistics.median(r["rss_kib_after_all"] for r in results) / 1024, 1),
            "rss_growth_kib": round(statistics.median(
                r["rss_kib_after_all"] - r["rss_kib_after_warm_up"] for r in results)),
            "invocations": plan.warm_invocations,
            "rounds": plan.warm_rounds,
        }
    return figures


def dead_backends(runner: Runner, plan: Plan) -> dict[str, Any]:
    """Flush time per invocation when Sentry and the collector refuse connections."""
    figures: dict[str, Any] = {}
    for setup in SETUPS:
        if not setup.flushes:
            continue
        result = runner.child(setup, "warm", str(plan.dead_invocations), "1", dead=True)
        figures[setup.name] = {"flush_ms": round(result["flush_ms"], 1),
                               "invocation_ms": round(result["median_us"] / 1000, 1)}
    return figures


def floors(runner: Runner, plan: Plan) -> list[dict[str, Any]]:
    """Cold import time of our set-up, built up one dependency at a time."""
    probe = Setup("bare", "runtime")
    steps = [(label, ",".join(module for _, modules in IMPORT_STEPS[: index + 1] for module in modules.split(",")))
             for index, (label, _) in enumerate(IMPORT_STEPS)]
    samples: dict[str, list[float]] = {label: [] for label, _ in steps}
    for round_number in range(plan.cold_runs):
        for label, modules in rotated(steps, round_number):
            samples[label].append(runner.child(probe, "import", modules)["cold_ms"])
    rows, previous = [], None
    for label, _ in steps:
        median = statistics.median(samples[label])
        rows.append({"step": label, "cold_ms": round(median, 1),
                     "added_ms": round(median - previous, 1) if previous is not None else None})
        previous = median
    return rows


def run(*, quick: bool, report: Callable[[str], object] = print) -> dict[str, Any]:
    plan = Plan.for_run(quick)
    pythons = {
        "runtime": environments.ensure("runtime", environments.runtime_requirements(), report),
        "otel-lambda": environments.ensure("otel-lambda", environments.otel_lambda_requirements(), report),
    }
    with Backends() as backends:
        runner = Runner(pythons, backends)
        report(f"Cold start: import and set-up in a fresh interpreter, {plan.cold_runs} runs each")
        cold = cold_start(runner, plan)
        report(f"Warm invocations: {plan.warm_rounds} rounds x {plan.warm_invocations} invocations each")
        hot = warm(runner, plan)
        report(f"Dead backends: {plan.dead_invocations} invocations each")
        dead = dead_backends(runner, plan)
        report("Cold import of each dependency alone")
        floor = floors(runner, plan)
    print_tables(cold, hot, dead, floor, report)
    return {
        "cold_start": cold,
        "warm": hot,
        "dead_backends": dead,
        "cold_start_steps": floor,
        "versions": {
            "runtime": environments.versions(pythons["runtime"], VERSIONED),
            "otel-lambda": environments.versions(pythons["otel-lambda"], VERSIONED),
        },
    }


VERSIONED = ["boto3", "requests", "sentry-sdk", "opentelemetry-sdk", "opentelemetry-instrumentation-botocore",
             "opentelemetry-instrumentation-requests", "opentelemetry-instrumentation-aws-lambda",
             "opentelemetry-exporter-otlp-proto-http", "aws-lambda-powertools", "aws-xray-sdk"]


def print_tables(cold: dict[str, Any], hot: dict[str, Any], dead: dict[str, Any], floor: list[dict[str, Any]],
                 report: Callable[[str], object]) -> None:
    report(f"{'set-up':<20} {'cold ms':>8} {'over bare':>10} {'warm us':>9} {'over bare':>10} "
           f"{'flush ms':>9} {'dead flush ms':>14} {'RSS MiB':>8} {'growth KiB':>11}")
    for name in cold:
        row_cold, row_warm = cold[name], hot[name]
        flush = "-" if row_warm["flush_ms"] is None else f"{row_warm['flush_ms']:.2f}"
        dead_flush = f"{dead[name]['flush_ms']:.1f}" if name in dead else "-"
        report(f"{name:<20} {row_cold['cold_ms']:>8.1f} {row_cold['overhead_ms']:>+10.1f} "
               f"{row_warm['invocation_us']:>9.0f} {row_warm['overhead_us']:>+10.0f} {flush:>9} {dead_flush:>14} "
               f"{row_warm['rss_mib_after']:>8.1f} {row_warm['rss_growth_kib']:>11}")
    unsampled = hot[key(OURS_UNSAMPLED)]
    report(f"ours, invocation not sampled (SENTRY_TRACES_SAMPLE_RATE=0): {unsampled['invocation_us']:.0f} us, "
           f"{unsampled['overhead_us']:+.0f} over bare")
    report("Our cold start, one dependency at a time:")
    for row in floor:
        added = "" if row["added_ms"] is None else f" ({row['added_ms']:+.1f})"
        report(f"  {row['step']:<80} {row['cold_ms']:>7.1f} ms{added}")


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    print(json.dumps(run(quick=True), indent=2))
