"""Local stand-ins for every backend the set-ups talk to, all on 127.0.0.1.

One HTTP/1.1 server with kept-alive connections serves Jira's issue GET and accepts every POST
(Sentry envelopes, OTLP exports) with an empty 200. A bound UDP socket takes X-Ray segments.
`dead_address()` gives a port where nothing listens, so connections are refused.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SENTRY_KEY = "0123456789abcdef0123456789abcdef"
ISSUE = json.dumps({"key": "CLIN-1", "fields": {"summary": "Medication reconciliation epic"}}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes. With Nagle's algorithm on, the client's delayed
    # ACK would hold the body back for about 40 ms on every kept-alive request.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._reply(ISSUE)

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(b"{}")

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Children end with kept-alive connections open; their resets are expected.
        pass


def dead_address() -> str:
    """Return `127.0.0.1:PORT` for a port that was free a moment ago and has no listener."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


class Backends:
    """Start the stand-ins; `environment(dead=...)` gives the variables that point set-ups at them."""

    def __init__(self) -> None:
        self._http = _Server(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, name="bench-backends", daemon=True)
        # X-Ray's emitter only sends; datagrams past the socket's buffer are dropped by the kernel.
        self._xray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._xray.bind(("127.0.0.1", 0))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._http.server_address[1]}"

    def environment(self, *, dead: bool) -> dict[str, str]:
        """Return the variables that point a set-up at the stand-ins.

        Jira always responds. With `dead`, Sentry and the collector refuse connections.
        """
        telemetry = dead_address() if dead else self.address
        return {
            "BENCH_JIRA_URL": f"http://{self.address}",
            "SENTRY_DSN": f"http://{SENTRY_KEY}@{telemetry}/1",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://{telemetry}/v1/traces",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{self._xray.getsockname()[1]}",
        }

    def __enter__(self) -> Backends:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._xray.close()
