"""Naive wiring: sentry-sdk, the OpenTelemetry SDK and both instrumentations with default settings.

Sentry's span processor and an OTLP batch exporter sit side by side on one provider, and the
handler flushes both at the end of every invocation, one after the other.
"""

from __future__ import annotations

import os
from typing import Any

import sentry_sdk
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sentry_sdk.integrations.opentelemetry import SentryPropagator, SentrySpanProcessor

from bench.setups import workload

sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], traces_sample_rate=1.0, instrumenter="otel")
provider = TracerProvider()
provider.add_span_processor(SentrySpanProcessor())
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
propagate.set_global_textmap(SentryPropagator())
BotocoreInstrumentor().instrument()
RequestsInstrumentor().instrument()
tracer = trace.get_tracer(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        with tracer.start_as_current_span(context.function_name, kind=trace.SpanKind.SERVER):
            return workload.decompose(event, tracer.start_as_current_span)
    finally:
        flush()


def flush() -> None:
    provider.force_flush()
    sentry_sdk.flush()


def time_flushes(wrap: Any) -> None:
    global flush
    flush = wrap(flush)
