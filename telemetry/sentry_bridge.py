"""Everything that touches sentry-sdk: initialisation, PHI hooks, scopes and captures.

Checked against sentry-sdk 2.76. The OpenTelemetry bridge (`SentrySpanProcessor`,
`SentryPropagator`) exists in the 2.x line only, which is why the dependency is pinned below 3.
A later move to another bridge touches this module alone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sentry_sdk
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagate import set_global_textmap
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import format_span_id
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.opentelemetry import SentryPropagator, SentrySpanProcessor

from telemetry.config import Settings
from telemetry.guard import guarded
from telemetry.losses import CountingHttpTransport
from telemetry.phi import (
    PLACEHOLDER,
    redact_exception_message,
    redact_text,
    scrub_mapping,
    scrub_value,
)
from telemetry.processor import SlowCall
from telemetry.propagation import TargetedPropagator

logger = logging.getLogger(__name__)

# Top-level event fields that sentry-sdk fills with SDK and runtime metadata only.
_METADATA_FIELDS = frozenset(
    {
        "event_id", "timestamp", "start_timestamp", "platform", "level", "logger",
        "server_name", "release", "dist", "environment", "sdk", "modules", "type",
        "fingerprint", "transaction_info", "measurements", "_meta",
    }
)
# Sentry rejects events over 1 MB decompressed or 200 KB compressed
# (https://docs.sentry.io/concepts/data-management/size-limits). The budget leaves headroom
# for the envelope headers and for JSON that compresses worse than usual.
MAX_EVENT_BYTES = 800_000
# Reductions applied in order until an event fits the budget.
_KEPT_BREADCRUMBS = 20
_KEPT_FRAMES = 30

# Context sections that describe the runtime, not the request.
_METADATA_CONTEXTS = frozenset({"runtime", "os", "device", "app", "cloud_resource"})


class InvocationTransport(CountingHttpTransport):
    """sentry-sdk's HTTP transport, with loss counting, that skips a flush with nothing to wait for.

    A flush waits for a round trip to the transport's worker thread even when the queue is
    empty: about 0.16 ms of every invocation that sends nothing (measured with `bench/run.py`
    on a 2-core machine, at `SENTRY_TRACES_SAMPLE_RATE=0`). The flag below is set by every
    envelope and every lost event, whose client report a flush sends, and cleared by a flush.
    A flush that times out clears it too, so a later invocation with nothing of its own does not
    wait for that backlog. The worker keeps sending it all the same.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self._queued_since_flush = True
        super().__init__(options)

    def capture_envelope(self, envelope: Any) -> None:
        self._queued_since_flush = True
        super().capture_envelope(envelope)

    def record_lost_event(self, reason: str, data_category: Any = None, item: Any = None, *,
                          quantity: int = 1) -> None:
        self._queued_since_flush = True
        super().record_lost_event(reason, data_category, item, quantity=quantity)

    def flush(self, timeout: float, callback: Any = None) -> None:
        if timeout <= 0 or not self._queued_since_flush:
            return
        self._queued_since_flush = False
        super().flush(timeout, callback)


def init_sentry(settings: Settings) -> None:
    """Initialise sentry-sdk once per process with the OpenTelemetry instrumenter.

    Default integrations are off: the standard-library HTTP integration would add a second,
    conflicting `sentry-trace` header to every request, and the others cost start-up time.
    """
    if sentry_sdk.get_client().is_active():
        return
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        release=settings.release,
        traces_sample_rate=settings.traces_sample_rate,
        instrumenter="otel",
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[
            DedupeIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        # Local variables held the whole Lambda event, PHI included, in every stack frame.
        include_local_variables=False,
        trace_propagation_targets=[],
        max_request_body_size="never",
        before_send=_before_send,
        before_send_transaction=_before_send,
        before_breadcrumb=_before_breadcrumb,
        spotlight=settings.spotlight_url,
        transport=InvocationTransport,
    )
    set_global_textmap(
        TargetedPropagator(
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator(), SentryPropagator()]),
            settings.propagation_targets,
        )
    )


def span_processor() -> SpanProcessor:
    """Return Sentry's span processor (sentry-sdk keeps one instance per process)."""
    return SentrySpanProcessor()


@contextmanager
def invocation_scope(settings: Settings) -> Iterator[None]:
    """Open a fresh isolation scope for one invocation, so nothing leaks between warm calls."""
    with sentry_sdk.isolation_scope() as scope:
        scope.set_tag("service", settings.service_name)
        scope.set_tag("environment", settings.environment)
        scope.set_tag("aws.region", settings.region)
        scope.set_transaction_name(settings.faas_name)
        yield


def set_jira_context(*, event_type: str | None, issue_key: str | None, project_key: str | None) -> None:
    """Attach the routing facts of a Jira event to the current invocation's Sentry events."""
    sentry_sdk.get_isolation_scope().set_context(
        "jira", {"event_type": event_type, "issue_key": issue_key, "project_key": project_key}
    )


def capture_exception(exc: BaseException) -> None:
    """Send `exc` to Sentry; the caller keeps its span current so the trace ids match."""
    sentry_sdk.capture_exception(exc)


def capture_warning(message: str, *, fingerprint: list[str]) -> None:
    """Send a warning message. `message` must be built from operational facts only."""
    sentry_sdk.capture_message(message, level="warning", fingerprint=fingerprint)


def report_slow_call(call: SlowCall) -> None:
    """Send one warning for a slow DynamoDB call, grouped by operation and table."""
    capture_warning(
        f"Slow DynamoDB call: {call.operation} on {call.table} took "
        f"{call.duration_ms:.1f} ms (threshold {call.threshold_ms:g} ms)",
        fingerprint=["slow-dynamodb", call.operation, call.table],
    )


def forget_unended_spans(root_span_id: int) -> int:
    """Drop Sentry's bookkeeping of spans under an invocation's root that were never ended.

    `SentrySpanProcessor` keeps every started span in a class-level map until the span ends,
    and prunes leftovers only after 10 minutes, so a handler that leaves spans open grows it on
    every warm invocation. Call this just before the root span ends. Reads the processor's
    `otel_span_map` and `open_spans`, checked against sentry-sdk 2.76.
    """
    processor = SentrySpanProcessor()
    span_map = processor.otel_span_map
    root_id = format_span_id(root_span_id)
    root = span_map.get(root_id)
    if root is None:
        return 0
    stale = [
        span_id for span_id, sentry_span in list(span_map.items())
        if span_id != root_id and getattr(sentry_span, "containing_transaction", None) is root
    ]
    for span_id in stale:
        span_map.pop(span_id, None)
        for bucket in processor.open_spans.values():
            bucket.discard(span_id)
    return len(stale)


def flush(timeout_s: float) -> bool:
    """Wait at most `timeout_s` for queued events to be sent; True when the queue emptied."""
    client = sentry_sdk.get_client()
    if not client.is_active():
        return True
    deadline = time.monotonic() + timeout_s
    client.flush(timeout=timeout_s)
    return time.monotonic() < deadline


def _before_send(event: dict[str, Any], hint: Any) -> dict[str, Any] | None:
    scrubbed: dict[str, Any] | None = None
    with guarded("scrub Sentry event"):
        scrubbed = limit_event_size(scrub_event(event))
    # When scrubbing fails the event is dropped: an unscrubbed event must never be sent.
    return scrubbed


def _before_breadcrumb(crumb: dict[str, Any], hint: Any) -> dict[str, Any] | None:
    scrubbed: dict[str, Any] | None = None
    with guarded("scrub Sentry breadcrumb"):
        scrubbed = _scrub_breadcrumb(crumb)
    return scrubbed


def scrub_event(event: dict[str, Any]) -> dict[str, Any]:
    """Apply the PHI policy to a Sentry error or transaction event, in place."""
    for field in list(event):
        value = event[field]
        if field in _METADATA_FIELDS or value is None:
            continue
        if field in ("exception", "threads"):
            _scrub_exceptions(value)
        elif field == "breadcrumbs":
            _scrub_breadcrumbs(value)
        elif field == "spans":
            event[field] = [_scrub_span(span) for span in value]
        elif field == "contexts":
            event[field] = _scrub_contexts(value)
        elif field in ("message", "transaction"):
            event[field] = redact_text(str(value))
        elif field == "logentry":
            event[field] = _scrub_logentry(value)
        else:
            # extra, tags, user, request and anything newer: the key policy decides.
            event[field] = scrub_value(value)
    return event


def limit_event_size(event: dict[str, Any], max_bytes: int = MAX_EVENT_BYTES) -> dict[str, Any]:
    """Shrink an event until its JSON fits `max_bytes`, dropping the least useful parts first.

    The order: older breadcrumbs, outer stack frames, then spans, extra, request data and
    non-trace contexts. Exception types and the trace context are kept.
    """
    reductions = (
        lambda: _keep_last_breadcrumbs(event, _KEPT_BREADCRUMBS),
        lambda: _keep_inner_frames(event, _KEPT_FRAMES),
        lambda: event.pop("spans", None),
        lambda: event.pop("extra", None),
        lambda: event.pop("request", None),
        lambda: event.pop("breadcrumbs", None),
        lambda: event.update(contexts={"trace": (event.get("contexts") or {}).get("trace", {})}),
    )
    for reduce in reductions:
        if _json_size(event) <= max_bytes:
            return event
        reduce()
    return event


def _json_size(event: dict[str, Any]) -> int:
    return len(json.dumps(event, default=str).encode("utf-8"))


def _keep_last_breadcrumbs(event: dict[str, Any], count: int) -> None:
    breadcrumbs = event.get("breadcrumbs")
    values = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else None
    if isinstance(values, list):
        breadcrumbs["values"] = values[-count:]


def _keep_inner_frames(event: dict[str, Any], count: int) -> None:
    for exception in (event.get("exception") or {}).get("values") or ():
        frames = (exception.get("stacktrace") or {}).get("frames")
        if isinstance(frames, list):
            exception["stacktrace"]["frames"] = frames[-count:]


def _scrub_exceptions(container: Mapping[str, Any]) -> None:
    for exception in container.get("values") or ():
        if exception.get("value") is not None:
            module = exception.get("module")
            type_name = f"{module}.{exception.get('type')}" if module else str(exception.get("type"))
            exception["value"] = redact_exception_message(type_name, str(exception["value"]))
        stacktrace = exception.get("stacktrace") or {}
        for frame in stacktrace.get("frames") or ():
            frame.pop("vars", None)
            for key in ("context_line", "pre_context", "post_context", "abs_path", "filename"):
                if key in frame:
                    frame[key] = scrub_value(frame[key])


def _scrub_breadcrumbs(container: Any) -> None:
    values = container.get("values") if isinstance(container, Mapping) else container
    if isinstance(values, list):
        values[:] = [_scrub_breadcrumb(crumb) for crumb in values]


def _scrub_breadcrumb(crumb: dict[str, Any]) -> dict[str, Any]:
    if crumb.get("message") is not None:
        crumb["message"] = redact_text(str(crumb["message"]))
    if isinstance(crumb.get("data"), Mapping):
        crumb["data"] = scrub_mapping(crumb["data"])
    return crumb


def _scrub_span(span: dict[str, Any]) -> dict[str, Any]:
    """Scrub a span inside a transaction. Its description is the span name, already redacted
    at span start, and its data contains the OpenTelemetry attributes."""
    for key in ("description", "op"):
        if isinstance(span.get(key), str):
            span[key] = redact_text(span[key])
    for key in ("data", "tags"):
        if isinstance(span.get(key), Mapping):
            span[key] = scrub_mapping(span[key])
    return span


def _scrub_contexts(contexts: Mapping[str, Any]) -> dict[str, Any]:
    scrubbed: dict[str, Any] = {}
    for name, section in contexts.items():
        if name in _METADATA_CONTEXTS:
            scrubbed[name] = section
        elif name == "trace" and isinstance(section, dict):
            scrubbed[name] = _scrub_span(section)
        elif isinstance(section, Mapping):
            scrubbed[name] = scrub_mapping(section)
        else:
            scrubbed[name] = PLACEHOLDER
    return scrubbed


def _scrub_logentry(logentry: Any) -> Any:
    if not isinstance(logentry, dict):
        return scrub_value(logentry)
    for key in ("message", "formatted"):
        if isinstance(logentry.get(key), str):
            logentry[key] = redact_text(logentry[key])
    if "params" in logentry:
        logentry["params"] = scrub_value(logentry["params"])
    return logentry
