"""Lost telemetry is counted per sink and reported once per window."""

from __future__ import annotations

import logging
import socket

import pytest
import sentry_sdk
from opentelemetry import trace

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


def test_sentry_rate_limit_counted() -> None:
    """A Sentry that replies 429 with Retry-After: the event is dropped and counted, not retried."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class RateLimited(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(429)
            self.send_header("Retry-After", "60")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature fixed
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), RateLimited)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = sentry_sdk.Client(dsn=f"http://publickey@127.0.0.1:{server.server_address[1]}/1",
                                   transport=CountingHttpTransport, default_integrations=False)
        first_before = losses.totals[("Sentry", "error events", "network_error")]
        backoff_before = losses.totals[("Sentry", "error events", "ratelimit_backoff")]
        client.capture_event({"message": "first", "level": "error"})
        client.flush(timeout=5)
        client.capture_event({"message": "second", "level": "error"})
        client.flush(timeout=5)
        client.close(timeout=1)
    finally:
        server.shutdown()
        server.server_close()
    # The first event got HTTP 429; the second is dropped locally during the back-off.
    assert losses.totals[("Sentry", "error events", "network_error")] - first_before == 0
    assert losses.totals[("Sentry", "error events", "ratelimit_backoff")] - backoff_before == 1


def test_dead_collector_memory_bounded() -> None:
    """Spans for a collector that never responds queue up to the SDK's bound, then are dropped."""
    import gc
    import tracemalloc

    settings = Settings.from_env("bounded-test", environ={}, flush_budget_ms=20,
                                 otlp_traces_endpoint=f"http://127.0.0.1:{free_port()}/v1/traces", otlp_timeout_s=0.2)
    telemetry = build_telemetry(settings)
    # Children of one open root: as root spans, each would become a Sentry transaction and
    # flood the session's Sentry queue for the tests that follow.
    root = telemetry.tracer.start_span("invocation")
    tracemalloc.start()
    try:
        with trace.use_span(root, end_on_exit=True):
            for invocation in range(20):
                for index in range(300):
                    telemetry.tracer.start_span(f"work-{index}", attributes={"custom.index": index}).end()
                telemetry.flush(remaining_ms=None)
                if invocation == 9:
                    gc.collect()
                    at_10 = tracemalloc.get_traced_memory()[0]
            gc.collect()
            at_20 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # 3,000 more spans were created; the queue (2,048 spans) was already full, so memory stays.
    assert at_20 - at_10 < 2 * 1024 * 1024


def test_silent_sentry_queue_bounded(silent_server: str) -> None:
    """Events for a Sentry that never responds fill the transport's bounded queue, then are
    dropped and counted, so memory does not grow with them."""
    client = sentry_sdk.Client(dsn=silent_server.replace("http://", "http://publickey@") + "/1",
                               transport=CountingHttpTransport, default_integrations=False)
    before = losses.totals[("Sentry", "error events", "queue_overflow")]
    for index in range(500):
        client.capture_event({"message": f"event {index}", "level": "error"})
    dropped = losses.totals[("Sentry", "error events", "queue_overflow")] - before
    client.close(timeout=0.1)
    assert dropped >= 350
