"""A thousand warm invocations in one process: no growth in bookkeeping, memory or latency."""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc

import sentry_sdk
from opentelemetry import trace
from sentry_sdk.integrations.opentelemetry import SentrySpanProcessor

from handlers.local import runner
from handlers.local.runner import LocalContext, LocalRun

INVOCATIONS = 1000
# Library code only: the local run's own captured spans and received envelopes are cleared as
# the test goes, and the stand-ins' server threads are not the library's memory.
LIBRARY_FILES = ("*/telemetry/*", "*/sentry_sdk/*", "*/opentelemetry/*", "*/botocore/*", "*/threading.py")


def library_bytes() -> int:
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, pattern) for pattern in LIBRARY_FILES])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def test_thousand_warm_invocations(local_run: LocalRun) -> None:
    from handlers.orchestrator import telemetry

    tracer = trace.get_tracer("tests.warm")

    @telemetry.lambda_handler
    def handler(event: dict, context: object) -> str:
        with tracer.start_as_current_span("work"):
            pass
        if event["index"] % 10 == 0:
            tracer.start_span("left open")
        if event["index"] % 7 == 0:
            raise ValueError("failed on purpose")
        return "ok"

    processors_before = len(sentry_sdk.scope.global_event_processors)
    span_map_before = len(SentrySpanProcessor().otel_span_map)
    durations: list[float] = []
    tracemalloc.start()
    try:
        for index in range(INVOCATIONS):
            started = time.perf_counter()
            try:
                handler({"index": index}, LocalContext("clinisight-orchestrator"))
            except ValueError:
                pass
            durations.append(time.perf_counter() - started)
            if index % 100 == 99:
                runner._captured_spans.clear()
                assert local_run.sentry_sink is not None
                local_run.sentry_sink.clear()
            if index == 199:
                memory_at_200 = library_bytes()
        memory_at_1000 = library_bytes()
    finally:
        tracemalloc.stop()

    assert len(SentrySpanProcessor().otel_span_map) == span_map_before
    assert len(sentry_sdk.scope.global_event_processors) == processors_before
    # Bounded caches still fill between invocation 200 and 1000; 1 MiB covers them with room.
    assert memory_at_1000 - memory_at_200 < 1024 * 1024
    early = statistics.median(durations[40:60])
    late = statistics.median(durations[INVOCATIONS - 50:])
    assert late < 2 * early, f"invocation 1,000 took {late * 1000:.1f} ms against {early * 1000:.1f} ms at 50"
