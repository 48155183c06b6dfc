"""Counting telemetry that could not be sent, and logging it once per window.

Spans dropped by the OTLP exporter and Sentry items dropped by sentry-sdk's transport are
counted per sink, kind and reason. A warning sums them up at most once per window, so a dead
backend produces one log line a minute, not one per invocation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from sentry_sdk.transport import HttpTransport

logger = logging.getLogger(__name__)

LOG_WINDOW_S = 60.0


class LossCounter:
    """Totals of lost telemetry since start, and a warning at most once per window."""

    def __init__(self, window_s: float = LOG_WINDOW_S) -> None:
        self.totals: Counter[tuple[str, str, str]] = Counter()
        self._unreported: Counter[tuple[str, str, str]] = Counter()
        self._window_s = window_s
        self._last_report = float("-inf")
        self._lock = threading.Lock()

    def record(self, sink: str, kind: str, reason: str, quantity: int = 1) -> None:
        with self._lock:
            self.totals[sink, kind, reason] += quantity
            self._unreported[sink, kind, reason] += quantity
            now = time.monotonic()
            if now - self._last_report < self._window_s:
                return
            self._last_report = now
            summary = ", ".join(
                f"{count} {kind} to {sink} ({reason})"
                for (sink, kind, reason), count in sorted(self._unreported.items())
            )
            self._unreported.clear()
        logger.warning("Telemetry could not be sent: %s; the next report comes after %.0f s", summary,
                       self._window_s)


losses = LossCounter()


class ExportFailed(Exception):
    """An export that did not reach its backend. Its `reason` is short and contains no telemetry data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CountingSpanExporter(SpanExporter):
    """Wrap a span exporter and count the spans of every failed export."""

    def __init__(self, inner: SpanExporter, counter: LossCounter = losses) -> None:
        self._inner = inner
        self._counter = counter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
        except Exception as error:  # noqa: BLE001 - an exporter fault must not reach the handler
            reason = error.reason if isinstance(error, ExportFailed) else type(error).__name__
            self._counter.record("collector", "spans", reason, len(spans))
            return SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._counter.record("collector", "spans", "export failed", len(spans))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class CountingHttpTransport(HttpTransport):
    """sentry-sdk's HTTP transport, counting what it drops (network errors, rate limits, a
    full queue). Overrides `record_lost_event`, checked against sentry-sdk 2.76."""

    def record_lost_event(self, reason: str, data_category: Any = None, item: Any = None, *,
                          quantity: int = 1) -> None:
        category = item.data_category if item is not None else data_category
        if category in ("error", "transaction", "default"):
            losses.record("Sentry", f"{category} events", reason, 1 if item is not None else quantity)
        super().record_lost_event(reason, data_category, item, quantity=quantity)
