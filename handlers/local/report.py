"""Rendering a local run: the trace tree, the summary, and the JSON-lines files."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode, format_span_id, format_trace_id

from handlers.local.sentry_sink import Envelope
from telemetry import attributes as attrs


def span_to_dict(span: ReadableSpan) -> dict[str, Any]:
    """Return an exported span as JSON-ready data; times are Unix epoch nanoseconds."""
    context = span.context
    return {
        "trace_id": format_trace_id(context.trace_id) if context else None,
        "span_id": format_span_id(context.span_id) if context else None,
        "parent_span_id": format_span_id(span.parent.span_id) if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "attributes": _json_ready(dict(span.attributes or {})),
        "events": [
            {"name": event.name, "time_unix_nano": event.timestamp,
             "attributes": _json_ready(dict(event.attributes or {}))}
            for event in span.events
        ],
        "status": {"code": span.status.status_code.name, "description": span.status.description},
        "resource": _json_ready(dict(span.resource.attributes)),
    }


def envelope_item_records(envelopes: Sequence[Envelope]) -> Iterable[dict[str, Any]]:
    """Yield one record per envelope item, with the item's payload as it was sent."""
    for index, envelope in enumerate(envelopes):
        for item in envelope.items:
            try:
                payload: Any = item.json()
            except ValueError:
                payload = item.payload.decode("utf-8", "replace")
            yield {"envelope": index, "envelope_headers": envelope.headers,
                   "item_headers": item.headers, "payload": payload}


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as output:
        for record in records:
            output.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            count += 1
    return count


def render_trees(spans: Sequence[ReadableSpan]) -> str:
    """Render each trace as an indented tree of spans with durations and flags."""
    by_trace: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        if span.context is not None:
            by_trace[span.context.trace_id].append(span)

    lines: list[str] = []
    for trace_id, trace_spans in by_trace.items():
        services = sorted({str(s.resource.attributes.get("service.name")) for s in trace_spans})
        lines.append(f"Trace {format_trace_id(trace_id)}  ({count_of(len(trace_spans), 'span')}; "
                     f"services: {', '.join(services)})")
        ids = {s.context.span_id for s in trace_spans if s.context}
        children: dict[int | None, list[ReadableSpan]] = defaultdict(list)
        for span in trace_spans:
            parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
            children[parent].append(span)
        for group in children.values():
            group.sort(key=lambda s: s.start_time or 0)
        _render_children(children, None, "", lines)
    return "\n".join(lines)


def _render_children(children: dict[int | None, list[ReadableSpan]], parent: int | None,
                     prefix: str, lines: list[str]) -> None:
    group = children.get(parent, [])
    for index, span in enumerate(group):
        last = index == len(group) - 1
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{_describe(span)}")
        if span.context is not None:
            _render_children(children, span.context.span_id, prefix + ("   " if last else "│  "), lines)


def _describe(span: ReadableSpan) -> str:
    duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    text = f"{span.name}  {span.kind.name}  {duration_ms:.1f} ms"
    flags = span_flags(span)
    if span.kind.name == "SERVER":
        flags.insert(0, f"service {span.resource.attributes.get('service.name')}")
    return text + "".join(f"  [{flag}]" for flag in flags)


def span_flags(span: ReadableSpan) -> list[str]:
    flags: list[str] = []
    span_attributes = span.attributes or {}
    if span_attributes.get(attrs.DYNAMODB_SLOW):
        flags.append(f"SLOW DynamoDB > {span_attributes.get(attrs.DYNAMODB_SLOW_THRESHOLD_MS):g} ms")
    if span.status.status_code is StatusCode.ERROR:
        flags.append(f"ERROR {span.status.description or ''}".rstrip())
    return flags


def render_summary(spans: Sequence[ReadableSpan], envelopes: Sequence[Envelope] | None) -> str:
    """Summarise spans, traces and flags, and the Sentry items that the local sink received.

    `envelopes` is None when events went to another DSN, where they cannot be counted.
    """
    traces = {s.context.trace_id for s in spans if s.context}
    flagged = sum(1 for s in spans if span_flags(s))
    lines = [f"Spans: {count_of(len(spans), 'span')} in {count_of(len(traces), 'trace')}; {flagged} flagged"]
    if envelopes is None:
        lines.append("Sentry: events went to the transport for the DSN given; the local sink did not see them")
        return "\n".join(lines)
    counts = sentry_counts(envelopes)
    sentry_items = ", ".join([
        count_of(counts["transactions"], "transaction"),
        count_of(counts["warnings"], "warning"),
        count_of(counts["errors"], "error"),
    ])
    lines.append(f"Sentry: {sentry_items} ({count_of(len(envelopes), 'envelope')} received by the local sink)")
    return "\n".join(lines)


def sentry_counts(envelopes: Sequence[Envelope]) -> dict[str, int]:
    """Count transactions, warnings and errors among the envelopes' items."""
    counts = {"transactions": 0, "warnings": 0, "errors": 0, "other": 0}
    for envelope in envelopes:
        for item in envelope.items:
            if item.type == "transaction":
                counts["transactions"] += 1
            elif item.type == "event":
                level = _event_level(item.json())
                if level == "warning":
                    counts["warnings"] += 1
                elif level in ("error", "fatal"):
                    counts["errors"] += 1
                else:
                    counts["other"] += 1
            else:
                counts["other"] += 1
    return counts


def _event_level(payload: Any) -> str:
    return str(payload.get("level", "error")) if isinstance(payload, dict) else "error"


def count_of(number: int, noun: str) -> str:
    """Return `number` with `noun`, adding a plural s unless the number is 1."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    return value
