"""The OTLP/HTTP exporter against a receiver on 127.0.0.1: what it sends and how it fails."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from handlers.local.loopback import LoopbackServer
from telemetry.losses import CountingSpanExporter, LossCounter
from telemetry.otlp import OtlpHttpSpanExporter


@dataclass
class Receiver:
    status: int = 200
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def decoded(self, index: int) -> ExportTraceServiceRequest:
        headers, body = self.requests[index]
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        return request


@pytest.fixture
def receiver() -> Iterator[tuple[str, Receiver]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.requests.append(({name.lower(): value for name, value in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature fixed
            pass

    with LoopbackServer(Handler, name="otlp-receiver") as server:
        yield f"http://{server.address}/v1/traces", state


def finished_spans(count: int) -> list[ReadableSpan]:
    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    spans = []
    for index in range(count):
        span = tracer.start_span(f"work-{index}", attributes={"jira.issue_key": f"CLIN-{index}", "retries": index})
        span.end()
        spans.append(span)
    return spans


def test_export_sends_what_the_sdk_encoder_makes(receiver: tuple[str, Receiver]) -> None:
    endpoint, state = receiver
    spans = finished_spans(3)
    exporter = OtlpHttpSpanExporter(endpoint, timeout_s=2.0)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert exporter.export(finished_spans(1)) is SpanExportResult.SUCCESS
    assert len(state.requests) == 2
    headers, _ = state.requests[0]
    assert headers["content-type"] == "application/x-protobuf"
    assert state.decoded(0) == encode_spans(spans)


def test_headers_and_gzip_from_settings(receiver: tuple[str, Receiver]) -> None:
    endpoint, state = receiver
    exporter = OtlpHttpSpanExporter(endpoint, timeout_s=2.0, headers=[("authorization", "Bearer fake-token")],
                                    compression="gzip")
    spans = finished_spans(2)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    headers, _ = state.requests[0]
    assert headers["authorization"] == "Bearer fake-token"
    assert headers["content-encoding"] == "gzip"
    assert state.decoded(0) == encode_spans(spans)


def test_rejected_export_is_counted_once_and_not_retried(receiver: tuple[str, Receiver]) -> None:
    endpoint, state = receiver
    state.status = 503
    counter = LossCounter()
    exporter = CountingSpanExporter(OtlpHttpSpanExporter(endpoint, timeout_s=2.0), counter)
    assert exporter.export(finished_spans(4)) is SpanExportResult.FAILURE
    assert len(state.requests) == 1
    assert counter.totals == {("collector", "spans", "HTTP 503"): 4}


def test_refused_connection_fails_at_once(refusing_endpoint: str) -> None:
    counter = LossCounter()
    exporter = CountingSpanExporter(OtlpHttpSpanExporter(refusing_endpoint, timeout_s=5.0), counter)
    started = time.monotonic()
    assert exporter.export(finished_spans(2)) is SpanExportResult.FAILURE
    # The SDK exporter would back off about a second and try again within its 5 s timeout.
    assert time.monotonic() - started < 0.5
    assert counter.totals == {("collector", "spans", "NewConnectionError"): 2}


def test_silent_collector_bounded_by_timeout(silent_server: str) -> None:
    counter = LossCounter()
    exporter = CountingSpanExporter(OtlpHttpSpanExporter(silent_server + "/v1/traces", timeout_s=0.3), counter)
    started = time.monotonic()
    assert exporter.export(finished_spans(1)) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 1.5
    assert counter.totals == {("collector", "spans", "ReadTimeoutError"): 1}


@pytest.mark.parametrize("endpoint", ["ftp://127.0.0.1/v1/traces", "not a url", "http:///v1/traces"])
def test_unusable_endpoint_rejected(endpoint: str) -> None:
    with pytest.raises(ValueError, match="OTLP traces endpoint"):
        OtlpHttpSpanExporter(endpoint, timeout_s=1.0)


def test_shut_down_exporter_sends_nothing(receiver: tuple[str, Receiver]) -> None:
    endpoint, state = receiver
    exporter = OtlpHttpSpanExporter(endpoint, timeout_s=1.0)
    exporter.shutdown()
    assert exporter.export(finished_spans(1)) is SpanExportResult.FAILURE
    assert state.requests == []
