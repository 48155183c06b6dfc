"""The Lambda handler decorator: one FaaS server span and one Sentry scope per invocation."""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode

from telemetry import attributes as attrs
from telemetry import sentry_bridge
from telemetry.guard import guarded

if TYPE_CHECKING:
    from telemetry.runtime import Telemetry

R = TypeVar("R")

_invocation_span: ContextVar[trace.Span | None] = ContextVar("clinisight_invocation_span", default=None)


class LambdaContext(Protocol):
    """The parts of the Lambda context object that telemetry reads."""

    aws_request_id: str
    invoked_function_arn: str

    def get_remaining_time_in_millis(self) -> int: ...


def wrap_handler(
    telemetry: Telemetry, handler: Callable[[Any, Any], R]
) -> Callable[[Any, Any], R]:
    """Wrap `handler` so each call is traced, reported to Sentry and flushed."""

    @functools.wraps(handler)
    def traced_handler(event: Any, context: Any) -> R:
        with telemetry.activate(), sentry_bridge.invocation_scope(telemetry.settings):
            span = _start_invocation_span(telemetry, event, context)
            token = _invocation_span.set(span)
            try:
                with trace.use_span(
                    span, end_on_exit=False, record_exception=False, set_status_on_exception=False
                ):
                    _arm_timeout_warning(telemetry, context)
                    try:
                        return _call_reporting_errors(handler, event, context, span)
                    finally:
                        telemetry.watchdog.disarm()
            finally:
                _invocation_span.reset(token)
                with guarded("forget unended spans"):
                    sentry_bridge.forget_unended_spans(span.get_span_context().span_id)
                span.end()
                telemetry.flush(remaining_ms=_remaining_ms(context))

    return traced_handler


def _arm_timeout_warning(telemetry: Telemetry, context: Any) -> None:
    """Arrange a Sentry warning and a flush shortly before the Lambda deadline.

    Lambda stops a timed-out function without running any more of its code, so the warning
    and the spans finished so far must leave before that. The callback runs in a copy of the
    invocation's context, so the warning carries the invocation's trace.
    """
    remaining_ms = _remaining_ms(context)
    margin_ms = telemetry.settings.timeout_warning_ms
    # An invocation that starts with less time than the margin would warn every time; skip it.
    if remaining_ms is None or margin_ms <= 0 or remaining_ms <= margin_ms:
        return
    invocation_context = contextvars.copy_context()
    telemetry.watchdog.arm(
        time.monotonic() + (remaining_ms - margin_ms) / 1000.0,
        lambda: invocation_context.run(_warn_before_timeout, telemetry, margin_ms),
    )


def _warn_before_timeout(telemetry: Telemetry, margin_ms: int) -> None:
    with guarded("warn before Lambda timeout"):
        name = telemetry.settings.faas_name
        sentry_bridge.capture_warning(
            f"Lambda invocation of {name} is about to time out: {margin_ms} ms or less left",
            fingerprint=["lambda-timeout", name],
        )
    with guarded("flush before Lambda timeout"):
        telemetry.flush(remaining_ms=margin_ms)


def _call_reporting_errors(handler: Callable[[Any, Any], R], event: Any, context: Any, span: trace.Span) -> R:
    try:
        return handler(event, context)
    except Exception as exc:
        # Captured while the invocation span is current, so the event carries its trace id.
        with guarded("capture exception to Sentry"):
            sentry_bridge.capture_exception(exc)
        with guarded("record exception on span"):
            span.record_exception(exc, escaped=True)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise


def _start_invocation_span(telemetry: Telemetry, event: Any, context: Any) -> trace.Span:
    parent = Context()
    with guarded("extract trace context"):
        parent = extract(_carrier(event), context=Context())

    span_attributes: dict[str, Any] = {
        "faas.trigger": _trigger(event),
        "faas.coldstart": telemetry.take_cold_start(),
    }
    request_id = getattr(context, "aws_request_id", None)
    if isinstance(request_id, str):
        span_attributes["faas.invocation_id"] = request_id
    function_arn = getattr(context, "invoked_function_arn", None)
    if isinstance(function_arn, str):
        span_attributes["cloud.resource_id"] = function_arn

    return telemetry.tracer.start_span(
        telemetry.settings.faas_name,
        context=parent,
        kind=SpanKind.SERVER,
        attributes=span_attributes,
    )


def _carrier(event: Any) -> dict[str, str]:
    """Return the lower-cased string headers of an async-invoke or API Gateway event."""
    if not isinstance(event, Mapping):
        return {}
    headers = event.get("headers")
    if not isinstance(headers, Mapping):
        return {}
    return {
        str(key).lower(): value for key, value in headers.items() if isinstance(value, str)
    }


def _trigger(event: Any) -> str:
    if not isinstance(event, Mapping):
        return "other"
    if isinstance(event.get("requestContext"), Mapping):
        return "http"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        source = records[0].get("eventSource")
        if source == "aws:sqs":
            return "pubsub"
        if source in ("aws:dynamodb", "aws:s3"):
            return "datasource"
    return "other"


def _remaining_ms(context: Any) -> int | None:
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    if get_remaining is None:
        return None
    remaining: int | None = None
    with guarded("read remaining time"):
        remaining = int(get_remaining())
    return remaining


def annotate_invocation(
    *, event_type: str | None = None, issue_key: str | None = None, project_key: str | None = None
) -> None:
    """Record the Jira event's routing facts on the invocation span and in Sentry's context.

    Only operational values belong here: the event type and the issue and project keys.
    """
    span = _invocation_span.get()
    if span is not None:
        for key, value in (
            (attrs.JIRA_EVENT_TYPE, event_type),
            (attrs.JIRA_ISSUE_KEY, issue_key),
            (attrs.JIRA_PROJECT_KEY, project_key),
        ):
            if value is not None:
                span.set_attribute(key, value)
    with guarded("set Sentry Jira context"):
        sentry_bridge.set_jira_context(
            event_type=event_type, issue_key=issue_key, project_key=project_key
        )


def invocation_span() -> trace.Span:
    """Return the current invocation's server span, or a non-recording span outside one."""
    return _invocation_span.get() or trace.INVALID_SPAN
