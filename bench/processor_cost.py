"""Per-span cost of the project's span processor against Sentry's processor alone.

Three set-ups run side by side, interleaved in every repetition, on spans with 5, 20 and 100
attributes: the bare SDK (no processor), Sentry's `SentrySpanProcessor` alone, and ours
(redaction and slow-call flagging) in front of Sentry's. Each measured span is a child of an
open root span, as instrumentation spans are inside an invocation.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import sentry_sdk
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sentry_sdk.integrations.opentelemetry import SentrySpanProcessor
from sentry_sdk.transport import Transport

from telemetry.processor import TelemetrySpanProcessor

ATTRIBUTE_COUNTS = (5, 20, 100)


class DiscardingTransport(Transport):
    """A Sentry transport that drops envelopes, so only processing cost is measured."""

    def capture_envelope(self, envelope: Any) -> None:
        return None


def attributes(count: int) -> dict[str, Any]:
    """Return `count` attributes shaped like instrumentation output: mostly semantic-convention
    keys, some free-form keys with short values, a few PHI keys."""
    base: dict[str, Any] = {
        "rpc.system": "aws-api",
        "rpc.service": "DynamoDB",
        "rpc.method": "GetItem",
        "http.status_code": 200,
        "aws.request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    }
    for index in range(len(base), count):
        kind = index % 10
        if kind < 6:
            base[f"aws.extra.field_{index}"] = f"value-{index}" if kind % 2 else index
        elif kind < 9:
            base[f"custom.field_{index}"] = "ok" if kind == 6 else f"ref {index}"
        else:
            base[f"patient.note_{index}"] = "routine check"
    return dict(list(base.items())[:count])


def build(setup: str) -> TracerProvider:
    provider = TracerProvider()
    if setup == "sentry":
        provider.add_span_processor(SentrySpanProcessor())
    elif setup == "ours":
        provider.add_span_processor(
            TelemetrySpanProcessor(slow_dynamodb_ms=100, downstream=[SentrySpanProcessor()])
        )
    return provider


def time_spans(provider: TracerProvider, span_attributes: list[dict[str, Any]]) -> float:
    """Return microseconds per child span, started with attributes and ended."""
    tracer = provider.get_tracer("bench")
    root = tracer.start_span("invocation")
    with trace.use_span(root, end_on_exit=True):
        started = time.perf_counter_ns()
        for attributes_of_span in span_attributes:
            tracer.start_span("DynamoDB.GetItem", attributes=attributes_of_span).end()
        elapsed = time.perf_counter_ns() - started
    return elapsed / len(span_attributes) / 1000


def per_span_attributes(count: int, spans: int) -> list[dict[str, Any]]:
    """Return one attribute set per span; the request id differs per span, as in real calls."""
    template = attributes(count)
    return [{**template, "aws.request_id": str(uuid.UUID(int=index + 1))} for index in range(spans)]


def run(*, repetitions: int, spans: int, report: Callable[[str], None] = print) -> dict[str, Any]:
    sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", instrumenter="otel", traces_sample_rate=1.0,
                    default_integrations=False, transport=DiscardingTransport)
    setups = ("bare", "sentry", "ours")
    providers = {setup: build(setup) for setup in setups}
    results: dict[str, Any] = {}
    for count in ATTRIBUTE_COUNTS:
        span_attributes = per_span_attributes(count, spans)
        samples: dict[str, list[float]] = {setup: [] for setup in setups}
        for repetition in range(repetitions):
            # Rotate the order, so no set-up always runs first in a repetition.
            for setup in setups[repetition % 3:] + setups[: repetition % 3]:
                samples[setup].append(time_spans(providers[setup], span_attributes))
        medians = {setup: statistics.median(values) for setup, values in samples.items()}
        ratio = medians["ours"] / medians["sentry"]
        results[str(count)] = {**{f"{setup}_us": round(value, 2) for setup, value in medians.items()},
                               "ours_over_sentry": round(ratio, 3)}
        report(f"{count:>4} attributes: bare {medians['bare']:7.1f} µs  sentry {medians['sentry']:7.1f} µs  "
               f"ours {medians['ours']:7.1f} µs  ours/sentry {ratio:5.2f}")
    return results
