"""The span processor: redaction before downstream processors, and the slow-DynamoDB flag."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from telemetry import attributes as attrs
from telemetry.phi import PLACEHOLDER, PhiSafeError
from telemetry.processor import SlowCall, TelemetrySpanProcessor

THRESHOLD_MS = 100
MS = 1_000_000
DYNAMODB_ATTRIBUTES = {
    "rpc.system": "aws-api",
    "rpc.service": "DynamoDB",
    "rpc.method": "PutItem",
    "db.system": "dynamodb",
    "aws.dynamodb.table_names": ("ClinisightAgentState",),
}


class NameAtStart(SpanProcessor):
    """Record the span name that a downstream processor receives at start, as Sentry's reads it."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.names.append(span.name)


def pipeline() -> tuple[TracerProvider, InMemorySpanExporter, list[SlowCall], NameAtStart]:
    exporter = InMemorySpanExporter()
    slow_calls: list[SlowCall] = []
    at_start = NameAtStart()
    processor = TelemetrySpanProcessor(
        slow_dynamodb_ms=THRESHOLD_MS,
        on_slow_call=slow_calls.append,
        downstream=[at_start, SimpleSpanProcessor(exporter)],
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider, exporter, slow_calls, at_start


def end_dynamodb_span(provider: TracerProvider, duration_ns: int, attributes: dict | None = None) -> None:
    tracer = provider.get_tracer("test")
    start = 1_700_000_000_000_000_000
    span = tracer.start_span("DynamoDB.PutItem", kind=SpanKind.CLIENT,
                             attributes=attributes or DYNAMODB_ATTRIBUTES, start_time=start)
    span.end(end_time=start + duration_ns)


def test_name_redacted_before_downstream_start() -> None:
    provider, exporter, _, at_start = pipeline()
    provider.get_tracer("test").start_span("lookup jane.roe@example.com").end()
    assert at_start.names == [f"lookup {PLACEHOLDER}"]
    assert exporter.get_finished_spans()[0].name == f"lookup {PLACEHOLDER}"


def test_attributes_events_links_status_redacted() -> None:
    provider, exporter, _, _ = pipeline()
    tracer = provider.get_tracer("test")
    linked = tracer.start_span("linked")
    linked.end()
    span = tracer.start_span(
        "work",
        attributes={"patient_name": "Jane Roe", "custom.ref": "SSN 000-12-3456", "rpc.method": "GetItem"},
        links=[Link(linked.get_span_context(), {"email": "jane.roe@example.com"})],
    )
    span.add_event("note", {"custom.context": "call 555-010-1234"})
    span.record_exception(ValueError("bad SSN 000-12-3456"))
    span.set_status(Status(StatusCode.ERROR, "ValueError: bad SSN 000-12-3456"))
    span.end()

    exported = exporter.get_finished_spans()[-1]
    assert exported.attributes["patient_name"] == PLACEHOLDER
    assert exported.attributes["custom.ref"] == f"SSN {PLACEHOLDER}"
    assert exported.attributes["rpc.method"] == "GetItem"
    assert exported.links[0].attributes["email"] == PLACEHOLDER
    assert exported.events[0].attributes["custom.context"] == f"call {PLACEHOLDER}"
    # ValueError comes from outside the project, so its whole message is removed.
    assert exported.events[1].attributes["exception.message"] == PLACEHOLDER
    assert exported.events[1].attributes["exception.type"] == "ValueError"
    assert "000-12-3456" not in exported.events[1].attributes["exception.stacktrace"]
    assert exported.events[1].attributes["exception.stacktrace"].endswith(f"ValueError: {PLACEHOLDER}")
    assert exported.status.description == f"ValueError: {PLACEHOLDER}"
    assert exported.status.status_code is StatusCode.ERROR


class LookupRejected(PhiSafeError):
    """A project exception: its message is kept after the pattern scan."""


def test_project_exception_message_kept() -> None:
    provider, exporter, _, _ = pipeline()
    span = provider.get_tracer("test").start_span("work")
    span.record_exception(LookupRejected("field 'issue.key' rejected for CLIN-42, SSN 000-12-3456"))
    span.end()
    event = exporter.get_finished_spans()[0].events[0]
    assert event.attributes["exception.message"] == f"field 'issue.key' rejected for CLIN-42, SSN {PLACEHOLDER}"
    assert event.attributes["exception.type"].endswith("LookupRejected")


def test_clean_span_passed_on_uncopied() -> None:
    received: list[ReadableSpan] = []

    class Keep(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            received.append(span)

    processor = TelemetrySpanProcessor(slow_dynamodb_ms=THRESHOLD_MS, downstream=[Keep()])
    clean = ReadableSpan(name="DynamoDB.GetItem", attributes={"rpc.method": "GetItem"},
                         start_time=0, end_time=5 * MS)
    processor.on_end(clean)
    assert received[0] is clean


def test_call_at_threshold_not_flagged() -> None:
    provider, exporter, slow_calls, _ = pipeline()
    end_dynamodb_span(provider, THRESHOLD_MS * MS)
    exported = exporter.get_finished_spans()[0]
    assert attrs.DYNAMODB_SLOW not in exported.attributes
    assert slow_calls == []


def test_call_just_over_threshold_flagged() -> None:
    provider, exporter, slow_calls, _ = pipeline()
    end_dynamodb_span(provider, THRESHOLD_MS * MS + 1)
    exported = exporter.get_finished_spans()[0]
    assert exported.attributes[attrs.DYNAMODB_SLOW] is True
    assert exported.attributes[attrs.DYNAMODB_SLOW_THRESHOLD_MS] == THRESHOLD_MS
    assert exported.attributes[attrs.DYNAMODB_DURATION_MS] == 100.0
    assert len(slow_calls) == 1
    assert slow_calls[0].operation == "PutItem"
    assert slow_calls[0].table == "ClinisightAgentState"


def test_slow_call_keeps_redaction() -> None:
    provider, exporter, slow_calls, _ = pipeline()
    end_dynamodb_span(provider, 250 * MS, {**DYNAMODB_ATTRIBUTES, "aws.dynamodb.projection": "ssn, name"})
    exported = exporter.get_finished_spans()[0]
    assert exported.attributes["aws.dynamodb.projection"] == PLACEHOLDER
    assert exported.attributes[attrs.DYNAMODB_SLOW] is True
    assert len(slow_calls) == 1


def test_slow_non_dynamodb_span_not_flagged() -> None:
    provider, exporter, slow_calls, _ = pipeline()
    end_dynamodb_span(provider, 500 * MS, {"rpc.service": "Lambda", "rpc.method": "Invoke"})
    assert attrs.DYNAMODB_SLOW not in exporter.get_finished_spans()[0].attributes
    assert slow_calls == []


def test_failing_downstream_does_not_stop_others(guard_swallows: None) -> None:
    class Broken(SpanProcessor):
        def on_start(self, span: Span, parent_context: Context | None = None) -> None:
            raise RuntimeError("broken on_start")

        def on_end(self, span: ReadableSpan) -> None:
            raise RuntimeError("broken on_end")

    exporter = InMemorySpanExporter()
    processor = TelemetrySpanProcessor(slow_dynamodb_ms=THRESHOLD_MS,
                                       downstream=[Broken(), SimpleSpanProcessor(exporter)])
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("test").start_span("work").end()
    assert [span.name for span in exporter.get_finished_spans()] == ["work"]


def test_guard_logs_fault_once_without_message(guard_swallows: None, caplog: pytest.LogCaptureFixture) -> None:
    class FaultyOnEnd(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            raise RuntimeError("contains jane.roe@example.com")

    processor = TelemetrySpanProcessor(slow_dynamodb_ms=THRESHOLD_MS, downstream=[FaultyOnEnd()])
    provider = TracerProvider()
    provider.add_span_processor(processor)
    with caplog.at_level(logging.WARNING, logger="telemetry.guard"):
        for _ in range(5):
            provider.get_tracer("test").start_span("work").end()
    messages = [record.getMessage() for record in caplog.records if "FaultyOnEnd.on_end" in record.getMessage()]
    assert len(messages) == 1
    assert all("jane.roe" not in message and "RuntimeError" in message for message in messages)
