"""The OTLP pipeline: each invocation's spans kept in memory and exported when it ends.

Lambda freezes the process between invocations, so an exporter thread working on a schedule
buys nothing there, and flushing one at the end of every invocation costs two thread
hand-offs. This processor keeps finished spans in a bounded list and exports them in the
thread that flushes, while Sentry's own worker, which began sending when the invocation's
transaction ended, works alongside. The exporter's timeout bounds the export. When the flush
has less time than that, the export runs in a thread and the flush waits only its budget.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from telemetry.flush import BudgetedFlusher
from telemetry.guard import guarded
from telemetry.losses import LossCounter, losses

logger = logging.getLogger(__name__)

# The same size as the SDK's BatchSpanProcessor queue. An invocation that finishes more spans
# before a flush loses the rest, and the loss is counted.
DEFAULT_MAX_SPANS = 2048
_EXPORT_TASK = "otlp"


class InvocationSpanBatch(SpanProcessor):
    """Keep finished spans until `export_pending` sends them in one OTLP request."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        export_timeout_s: float,
        max_spans: int = DEFAULT_MAX_SPANS,
        counter: LossCounter = losses,
    ) -> None:
        self._exporter = exporter
        self._export_timeout_s = export_timeout_s
        self._max_spans = max_spans
        self._counter = counter
        self._spans: list[ReadableSpan] = []
        self._lock = threading.Lock()
        self._background = BudgetedFlusher()
        self._shut_down = False

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            if self._shut_down:
                reason = "exporter shut down"
            elif len(self._spans) >= self._max_spans:
                reason = "span buffer full"
            else:
                self._spans.append(span)
                return
        self._counter.record("collector", "spans", reason, 1)

    def pending(self) -> int:
        with self._lock:
            return len(self._spans)

    def export_pending(self, budget_s: float) -> bool:
        """Export the spans kept so far; return True when they were sent within `budget_s`."""
        if self._background.is_running(_EXPORT_TASK):
            # An earlier export is still waiting on the collector; these spans wait for the next flush.
            logger.warning("The previous OTLP export is still running; spans kept for the next flush")
            return False
        with self._lock:
            batch, self._spans = self._spans, []
        if not batch:
            return True
        if budget_s >= self._export_timeout_s:
            return self._export(batch)
        return self._background.flush([(_EXPORT_TASK, lambda _timeout_s: self._export(batch))], budget_s)

    def _export(self, batch: Sequence[ReadableSpan]) -> bool:
        result = SpanExportResult.FAILURE
        with guarded("export spans"):
            result = self._exporter.export(batch)
        return result is SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.export_pending(timeout_millis / 1000.0)

    def shutdown(self) -> None:
        self.export_pending(self._export_timeout_s)
        with self._lock:
            self._shut_down = True
        self._exporter.shutdown()
