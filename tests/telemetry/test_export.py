"""The per-invocation span batch: what it keeps, what it counts as lost, and when it waits."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from telemetry.config import Settings
from telemetry.export import InvocationSpanBatch
from telemetry.losses import LossCounter
from telemetry.runtime import build_telemetry


class RecordingExporter(SpanExporter):
    """Records every batch. When `gate` is given, each export waits until it is set."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[list[str]] = []
        self.gate = gate

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.gate is not None:
            self.gate.wait(5)
        self.batches.append([span.name for span in spans])
        return SpanExportResult.SUCCESS


def batch_with(exporter: SpanExporter, **options: object) -> tuple[InvocationSpanBatch, TracerProvider]:
    batch = InvocationSpanBatch(exporter, **{"export_timeout_s": 0.5, **options})
    provider = TracerProvider()
    provider.add_span_processor(batch)
    return batch, provider


def test_spans_exported_once_in_the_flushing_thread() -> None:
    exporter = RecordingExporter()
    batch, provider = batch_with(exporter)
    tracer = provider.get_tracer("test")
    for name in ("a", "b"):
        tracer.start_span(name).end()
    assert batch.export_pending(budget_s=2.0) is True
    assert batch.export_pending(budget_s=2.0) is True
    assert exporter.batches == [["a", "b"]]


def test_overflow_counted_as_lost() -> None:
    counter = LossCounter()
    exporter = RecordingExporter()
    batch, provider = batch_with(exporter, max_spans=3, counter=counter)
    tracer = provider.get_tracer("test")
    for index in range(5):
        tracer.start_span(f"span-{index}").end()
    assert batch.pending() == 3
    assert counter.totals == {("collector", "spans", "span buffer full"): 2}
    batch.export_pending(budget_s=2.0)
    assert exporter.batches == [["span-0", "span-1", "span-2"]]


def test_short_budget_bounds_the_wait() -> None:
    gate = threading.Event()
    exporter = RecordingExporter(gate)
    batch, provider = batch_with(exporter, export_timeout_s=5.0)
    tracer = provider.get_tracer("test")
    tracer.start_span("first").end()

    started = time.monotonic()
    assert batch.export_pending(budget_s=0.1) is False
    assert time.monotonic() - started < 1.0

    # The first export still waits on the collector: the next flush keeps its spans for later.
    tracer.start_span("second").end()
    assert batch.export_pending(budget_s=0.1) is False
    assert batch.pending() == 1
    gate.set()
    deadline = time.monotonic() + 5
    while not exporter.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batch.export_pending(budget_s=6.0) is True
    assert exporter.batches == [["first"], ["second"]]


def test_bad_endpoint_disables_export_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env("export-test", environ={}, otlp_traces_endpoint="ftp://user:secret@127.0.0.1/x")
    with caplog.at_level(logging.WARNING, logger="telemetry.runtime"):
        telemetry = build_telemetry(settings)
    telemetry.tracer.start_span("still traced").end()
    assert telemetry.flush(remaining_ms=None) is True
    assert "OTLP export is disabled" in caplog.text
    assert "secret" not in caplog.text


def test_flush_sends_spans_to_a_healthy_collector(otlp_receiver: tuple[str, list]) -> None:
    endpoint, received = otlp_receiver
    settings = Settings.from_env("export-test", environ={}, otlp_traces_endpoint=endpoint + "/v1/traces")
    telemetry = build_telemetry(settings)
    telemetry.tracer.start_span("invocation").end()
    assert telemetry.flush(remaining_ms=None) is True
    assert [span.name for request in received for rs in request.resource_spans for scope in rs.scope_spans
            for span in scope.spans] == ["invocation"]


def test_flush_reports_a_failed_step(otlp_receiver: tuple[str, list], guard_swallows: None,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint, _ = otlp_receiver
    settings = Settings.from_env("export-test", environ={}, otlp_traces_endpoint=endpoint + "/v1/traces")
    telemetry = build_telemetry(settings)
    telemetry.tracer.start_span("invocation").end()

    def broken(budget_s: float) -> bool:
        raise RuntimeError("exporter fault")

    monkeypatch.setattr(telemetry._span_batch, "export_pending", broken)
    assert telemetry.flush(remaining_ms=None) is False


def test_span_after_shutdown_counted_as_lost() -> None:
    counter = LossCounter()
    exporter = RecordingExporter()
    batch, provider = batch_with(exporter, counter=counter)
    tracer = provider.get_tracer("test")
    tracer.start_span("before").end()
    batch.shutdown()
    tracer.start_span("after").end()
    assert exporter.batches == [["before"]]
    assert counter.totals == {("collector", "spans", "exporter shut down"): 1}
