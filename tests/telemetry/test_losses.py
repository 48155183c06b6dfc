"""Lost telemetry is counted per sink and reported once per window."""

from __future__ import annotations

import logging
import socket

import pytest
import sentry_sdk

from telemetry.config import Settings
from telemetry.losses import CountingHttpTransport, LossCounter, losses
from telemetry.runtime import build_telemetry


def free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_counter_reports_once_per_window(caplog: pytest.LogCaptureFixture) -> None:
    counter = LossCounter(window_s=60)
    with caplog.at_level(logging.WARNING, logger="telemetry.losses"):
        counter.record("collector", "spans", "export failed", 5)
        counter.record("collector", "spans", "export failed", 3)
        counter.record("Sentry", "transaction events", "network_error")
    assert counter.totals[("collector", "spans", "export failed")] == 8
    assert [r.getMessage() for r in caplog.records] == [
        "Telemetry could not be sent: 5 spans to collector (export failed); the next report comes after 60 s"]


def test_dropped_spans_counted_for_refusing_collector() -> None:
    settings = Settings.from_env("losses-test", environ={}, flush_budget_ms=2000,
                                 otlp_traces_endpoint=f"http://127.0.0.1:{free_port()}/v1/traces", otlp_timeout_s=0.5)
    telemetry = build_telemetry(settings)
    before = sum(count for (sink, _, _), count in losses.totals.items() if sink == "collector")
    for index in range(4):
        telemetry.tracer.start_span(f"work-{index}").end()
    telemetry.flush(remaining_ms=None)
    after = sum(count for (sink, _, _), count in losses.totals.items() if sink == "collector")
    assert after - before == 4


def test_dropped_sentry_events_counted() -> None:
    client = sentry_sdk.Client(dsn=f"http://publickey@127.0.0.1:{free_port()}/1", transport=CountingHttpTransport,
                               default_integrations=False)
    before = losses.totals[("Sentry", "error events", "network_error")]
    client.capture_event({"message": "probe", "level": "error"})
    client.flush(timeout=5)
    client.close(timeout=1)
    assert losses.totals[("Sentry", "error events", "network_error")] - before == 1
