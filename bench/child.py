"""One benchmark measurement in a fresh interpreter: `python bench/child.py SETUP MODE [ARGS]`.

MODE `cold` imports the set-up module (its init phase) and prints the milliseconds taken;
MODE `import` does the same for the comma-separated modules in the next argument, in order.
MODE `warm` imports it, then runs COUNT invocations after WARM_UP more and prints, as JSON, the
median time per invocation, the flush times where the set-up flushes, and the resident memory.
Botocore's `Stubber` returns the DynamoDB responses. Lambda's context object is a small
stand-in, since Lambda's runtime cannot run here.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class LambdaContext:
    """The attributes and method of Lambda's context object that the set-ups read."""

    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "2026/12/04/[$LATEST]0123456789abcdef"

    def __init__(self, request_number: int) -> None:
        self.aws_request_id = f"00000000-0000-4000-8000-{request_number:012d}"
        self._deadline = time.monotonic() + 30.0

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("VmRSS missing from /proc/self/status")


def timed(durations: list[float]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(flush: Callable[..., Any]) -> Callable[..., Any]:
        def timed_flush(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return flush(*args, **kwargs)
            finally:
                durations.append((time.perf_counter() - started) * 1000)

        return timed_flush

    return wrap


def trace_header(number: int) -> str:
    """Return an X-Ray trace header as Lambda sets it in `_X_AMZN_TRACE_ID` for each invocation."""
    return f"Root=1-6751a8c0-{number:024x};Parent={number + 1:016x};Sampled=1"


def warm(module: Any, count: int, warm_up: int) -> dict[str, Any]:
    from botocore.stub import Stubber

    from bench.setups import workload

    flushes: list[float] = []
    if hasattr(module, "time_flushes"):
        module.time_flushes(timed(flushes))
    stubber = Stubber(workload.dynamodb)
    stubber.activate()
    samples: list[float] = []
    rss_after_warm_up = 0
    for number in range(warm_up + count):
        if number == warm_up:
            rss_after_warm_up = rss_kib()
            flushes.clear()
        workload.stub_responses(stubber)
        os.environ["_X_AMZN_TRACE_ID"] = trace_header(number + 1)
        event = {"event_type": "epic_created", "issue_key": f"CLIN-{number + 1}", "project_key": "CLIN"}
        context = LambdaContext(number)
        started = time.perf_counter()
        result = module.handler(event, context)
        samples.append((time.perf_counter() - started) * 1_000_000)
        if result.get("status") != "completed":
            raise RuntimeError(f"the handler returned {result!r}")
    measured = samples[warm_up:]
    return {
        "invocations": count,
        "median_us": statistics.median(measured),
        "flush_ms": statistics.median(flushes) if flushes else None,
        "rss_kib_after_warm_up": rss_after_warm_up,
        "rss_kib_after_all": rss_kib(),
    }


def main() -> None:
    setup, mode = sys.argv[1], sys.argv[2]
    if mode not in ("cold", "warm", "import"):
        raise SystemExit(f"unknown mode {mode!r}; expected cold, warm or import")
    started = time.perf_counter()
    names = sys.argv[3].split(",") if mode == "import" else [f"bench.setups.{setup}"]
    for name in names:
        module = importlib.import_module(name)
    if mode in ("cold", "import"):
        print(json.dumps({"cold_ms": (time.perf_counter() - started) * 1000}))
    else:
        print(json.dumps(warm(module, count=int(sys.argv[3]), warm_up=int(sys.argv[4]))))
    sys.stdout.flush()
    # Skip exit handlers: every set-up has flushed already, and a dead backend would only
    # make the exporters' shutdown wait for their time-outs.
    os._exit(0)


if __name__ == "__main__":
    main()
