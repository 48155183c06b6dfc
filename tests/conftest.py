"""Shared fixtures.

One local run serves the whole session, because handler modules set up their telemetry once
per process at import. It starts before collection, so no test module can initialise
sentry-sdk before the local sink's DSN is in the environment.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from handlers.local.runner import LocalRun
from telemetry.guard import GuardPolicy
from tests import session as local_session


def pytest_sessionstart(session: pytest.Session) -> None:
    # A fault swallowed by the telemetry guard must fail the suite, not pass silently.
    GuardPolicy.reraise = True
    local_session.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    local_session.stop()


@pytest.fixture
def local_run() -> Iterator[LocalRun]:
    """The session's local run, reset before each test."""
    run = local_session.fresh_run()
    yield run
    run.aws.dynamodb_latency_ms = 0.0


@pytest.fixture
def refusing_endpoint() -> str:
    """An OTLP traces URL on 127.0.0.1 where nothing listens, so connections are refused."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}/v1/traces"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never responds."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                accepted.append(connection)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(1)
    for connection in accepted:
        connection.close()
    server.close()


@pytest.fixture
def aws_endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1: a real AWS endpoint URL, as LocalStack provides one.

    It shares its backends with the session's in-process moto.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    """An OTLP/HTTP protobuf receiver on 127.0.0.1 that keeps every export request."""
    received: list[ExportTraceServiceRequest] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.append(request)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature fixed
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def guard_swallows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the telemetry guard swallow faults, as it does in production."""
    monkeypatch.setattr(GuardPolicy, "reraise", False)
