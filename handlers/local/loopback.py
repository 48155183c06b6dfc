"""The HTTP server shared by the local stand-ins: threaded, on 127.0.0.1, JSON replies."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

ServerT = TypeVar("ServerT", bound="LoopbackServer")


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that replies with JSON and logs requests at DEBUG level only."""

    def reply(self, status: int, body: dict[str, Any], content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed
        logger.debug("%s: " + format, type(self).__name__, *args)


class LoopbackServer:
    """Serve `handler_class` in a daemon thread, on 127.0.0.1 by default; use as a context manager.

    Port 0 picks a free ephemeral port, so runs never collide with each other.
    """

    def __init__(self, handler_class: type[BaseHTTPRequestHandler], *, port: int = 0, name: str,
                 host: str = "127.0.0.1") -> None:
        # Only the compose stack passes another host, inside its own container network.
        self._server = ThreadingHTTPServer((host, port), handler_class)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def address(self) -> str:
        """Return `host:port` of the listening socket."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self: ServerT) -> ServerT:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted, for the compose stack's services."""
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self: ServerT) -> ServerT:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
