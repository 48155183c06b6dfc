"""Outgoing trace headers: sent only to configured hosts, with baggage passed through the policy.

The requests instrumentation injects `traceparent`, `sentry-trace` and `baggage` into every
call, and Sentry's baggage carries the project's public key and the transaction name. The
instrumentation injects while its client span is current, and that span's `http.url` (or
`url.full`) names the destination. So the global propagator checks the destination host
against the propagation targets and injects nothing for any other host. Injections with no
HTTP destination, such as the botocore instrumentation's into a Lambda invoke payload, go
ahead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    DefaultGetter,
    DefaultSetter,
    Getter,
    Setter,
    TextMapPropagator,
)

from telemetry.guard import guarded
from telemetry.phi import PLACEHOLDER, redact_value

TRACE_HEADERS = ("traceparent", "tracestate", "sentry-trace", "baggage")
_default_getter: Getter[Any] = DefaultGetter()
_default_setter: Setter[Any] = DefaultSetter()


class TargetedPropagator(TextMapPropagator):
    """Wrap a propagator so that it injects only toward `targets` and scrubs baggage."""

    def __init__(self, inner: TextMapPropagator, targets: Iterable[str]) -> None:
        self._inner = inner
        self._targets = frozenset(target.lower() for target in targets)

    def extract(self, carrier: CarrierT, context: Context | None = None,
                getter: Getter[CarrierT] = _default_getter) -> Context:
        return self._inner.extract(carrier, context=context, getter=getter)

    def inject(self, carrier: CarrierT, context: Context | None = None,
               setter: Setter[CarrierT] = _default_setter) -> None:
        destination = _http_destination(context)
        if destination is not None and destination not in self._targets:
            return
        headers: dict[str, str] = {}
        self._inner.inject(headers, context=context)
        if "baggage" in headers:
            with guarded("scrub baggage"):
                headers["baggage"] = scrub_baggage(headers["baggage"])
        for name, value in headers.items():
            setter.set(carrier, name, value)

    @property
    def inner(self) -> TextMapPropagator:
        return self._inner

    @property
    def fields(self) -> set[str]:
        return self._inner.fields


def _http_destination(context: Context | None) -> str | None:
    """Return the host of the current HTTP client span, or None when there is none."""
    span = trace.get_current_span(context)
    if getattr(span, "kind", None) is not trace.SpanKind.CLIENT:
        return None
    span_attributes = getattr(span, "attributes", None) or {}
    url = span_attributes.get("http.url") or span_attributes.get("url.full")
    if not isinstance(url, str):
        return None
    return (urlsplit(url).hostname or "").lower()


def scrub_baggage(header: str) -> str:
    """Apply the PHI policy to each baggage member's value (W3C Baggage format)."""
    members: list[str] = []
    for member in header.split(","):
        key_value, separator, properties = member.partition(";")
        key, equals, value = key_value.partition("=")
        if not equals:
            continue
        name = key.strip()
        decoded = unquote(value.strip())
        redacted = redact_value(name, decoded)
        encoded = value.strip() if redacted == decoded else quote(str(redacted) or PLACEHOLDER, safe="")
        members.append(f"{name}={encoded}{separator}{properties}")
    return ",".join(members)
