"""The project's span processor: redaction and slow-DynamoDB flagging in front of every sink.

It is the only processor registered on each tracer provider. Sentry's `SentrySpanProcessor`
and the exporters' processors sit behind it as its downstream, so they only ever see the
redacted span.

Contract: the SDK calls `on_start` and `on_end` on the thread that starts or ends the span.
Both run synchronously. Every step, including each downstream processor, runs inside
`guarded`, so no fault reaches the caller (tests set `GuardPolicy.reraise` to see faults).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Link, Status

from telemetry import attributes as attrs
from telemetry.guard import guarded
from telemetry.phi import (
    redact_attributes,
    redact_exception_attributes,
    redact_status_description,
    redact_text,
)

NS_PER_MS = 1_000_000
_NAME_GUARD = guarded("redact span name")
_SPAN_GUARD = guarded("redact span")


@dataclass(frozen=True)
class SlowCall:
    """A DynamoDB call whose duration exceeded the threshold. Holds no keys or values."""

    operation: str
    table: str
    duration_ms: float
    threshold_ms: float


def is_dynamodb_span(span_attributes: Any) -> bool:
    if not span_attributes:
        return False
    return (
        span_attributes.get("db.system") == "dynamodb"
        or span_attributes.get("rpc.service") == "DynamoDB"
    )


class TelemetrySpanProcessor(SpanProcessor):
    """Redact PHI from spans and flag slow DynamoDB calls, then hand spans downstream.

    `on_start` fixes the span name before any downstream processor reads it, because Sentry's
    processor uses the name at start for the transaction name and baggage. `on_end` builds a
    redacted `ReadableSpan` copy, or passes the original on when nothing needs to change.
    """

    def __init__(
        self,
        *,
        slow_dynamodb_ms: float,
        on_slow_call: Callable[[SlowCall], None] | None = None,
        downstream: Sequence[SpanProcessor] = (),
    ) -> None:
        self._slow_threshold_ms = slow_dynamodb_ms
        self._slow_threshold_ns = round(slow_dynamodb_ms * NS_PER_MS)
        self._on_slow_call = on_slow_call
        self._downstream: list[SpanProcessor] = list(downstream)

    def add_downstream(self, processor: SpanProcessor) -> None:
        self._downstream.append(processor)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        with _NAME_GUARD:
            name = redact_text(span.name)
            if name != span.name:
                span.update_name(name)
        for processor in self._downstream:
            with guarded(type(processor).__name__ + ".on_start"):
                processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        outgoing = None
        with _SPAN_GUARD:
            outgoing = self._prepare(span)
        if outgoing is None:
            # Redaction failed, so nothing of this span may leave the process.
            return
        for processor in self._downstream:
            with guarded(type(processor).__name__ + ".on_end"):
                processor.on_end(outgoing)

    def shutdown(self) -> None:
        for processor in self._downstream:
            with guarded(f"{type(processor).__name__}.shutdown"):
                processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        flushed = True
        for processor in self._downstream:
            with guarded(f"{type(processor).__name__}.force_flush"):
                flushed = processor.force_flush(timeout_millis) and flushed
        return flushed

    def _prepare(self, span: ReadableSpan) -> ReadableSpan:
        new_attributes = redact_attributes(plain_mapping(span.attributes))
        slow_call = self._slow_call(span)
        if slow_call is not None:
            new_attributes = dict(new_attributes or span.attributes or {})
            new_attributes[attrs.DYNAMODB_SLOW] = True
            new_attributes[attrs.DYNAMODB_SLOW_THRESHOLD_MS] = slow_call.threshold_ms
            new_attributes[attrs.DYNAMODB_DURATION_MS] = round(slow_call.duration_ms, 3)
            if self._on_slow_call is not None:
                with guarded("report slow DynamoDB call"):
                    self._on_slow_call(slow_call)

        new_events = _redact_events(span.events) if span.events else None
        new_links = _redact_links(span.links) if span.links else None
        new_status = _redact_status(span.status)
        if new_attributes is None and new_events is None and new_links is None and new_status is None:
            return span

        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=new_attributes if new_attributes is not None else span.attributes,
            events=new_events if new_events is not None else span.events,
            links=new_links if new_links is not None else span.links,
            kind=span.kind,
            status=new_status if new_status is not None else span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def _slow_call(self, span: ReadableSpan) -> SlowCall | None:
        if span.start_time is None or span.end_time is None:
            return None
        duration_ns = span.end_time - span.start_time
        if duration_ns <= self._slow_threshold_ns or not is_dynamodb_span(span.attributes):
            return None
        span_attributes = span.attributes or {}
        tables = span_attributes.get("aws.dynamodb.table_names") or ()
        if isinstance(tables, str):
            tables = (tables,)
        return SlowCall(
            operation=str(span_attributes.get("rpc.method") or span_attributes.get("db.operation") or span.name),
            table=",".join(str(table) for table in tables) or "unknown",
            duration_ms=duration_ns / NS_PER_MS,
            threshold_ms=self._slow_threshold_ms,
        )


def plain_mapping(attributes: Any) -> Any:
    """Return the plain dict behind the SDK's `BoundedAttributes`, or `attributes` itself.

    Checked against opentelemetry-sdk 1.45, where `BoundedAttributes` keeps its items in
    `_dict`. Iterating that dict skips a Python-level lookup per attribute on every span; any
    other mapping is used through its public interface.
    """
    inner = getattr(attributes, "_dict", None)
    return inner if type(inner) is dict else attributes


def _redact_events(events: Sequence[Event]) -> list[Event] | None:
    changed = False
    redacted: list[Event] = []
    for event in events:
        name = redact_text(event.name)
        if event.name == "exception" and event.attributes:
            event_attributes: dict[str, Any] | None = redact_exception_attributes(dict(event.attributes))
            if event_attributes == dict(event.attributes):
                event_attributes = None
        else:
            event_attributes = redact_attributes(event.attributes)
        if name == event.name and event_attributes is None:
            redacted.append(event)
            continue
        changed = True
        redacted.append(
            Event(
                name,
                event_attributes if event_attributes is not None else event.attributes,
                timestamp=event.timestamp,
            )
        )
    return redacted if changed else None


def _redact_links(links: Sequence[Link]) -> list[Link] | None:
    changed = False
    redacted: list[Link] = []
    for link in links:
        link_attributes = redact_attributes(link.attributes)
        if link_attributes is None:
            redacted.append(link)
            continue
        changed = True
        redacted.append(Link(link.context, link_attributes))
    return redacted if changed else None


def _redact_status(status: Status) -> Status | None:
    if not status.description:
        return None
    description = redact_status_description(status.description)
    if description == status.description:
        return None
    return Status(status.status_code, description)
