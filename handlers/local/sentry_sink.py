"""A local Sentry envelope receiver on 127.0.0.1, for runs and tests with no Sentry account.

sentry-sdk posts envelopes to `/api/<project>/envelope/`, gzip-compressed by default. The sink
keeps each envelope's decompressed bytes exactly as sent, and parses its items.
Envelope format: https://develop.sentry.dev/sdk/data-model/envelopes/
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from handlers.local.loopback import JsonHandler, LoopbackServer

logger = logging.getLogger(__name__)

PUBLIC_KEY = "0123456789abcdef0123456789abcdef"
PROJECT_ID = "1"


class EnvelopeFormatError(ValueError):
    """The bytes are not a Sentry envelope."""


@dataclass(frozen=True)
class EnvelopeItem:
    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers.get("type", ""))

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass(frozen=True)
class Envelope:
    raw: bytes
    headers: dict[str, Any]
    items: list[EnvelopeItem] = field(default_factory=list)


def parse_envelope(raw: bytes) -> Envelope:
    """Split an envelope into its header and items."""
    header_line, _, rest = raw.partition(b"\n")
    try:
        headers = json.loads(header_line or b"{}")
    except json.JSONDecodeError:
        raise EnvelopeFormatError("envelope header is not JSON") from None
    items: list[EnvelopeItem] = []
    while rest.strip():
        item_header_line, _, rest = rest.partition(b"\n")
        if not item_header_line.strip():
            continue
        try:
            item_headers = json.loads(item_header_line)
        except json.JSONDecodeError:
            raise EnvelopeFormatError("item header is not JSON") from None
        length = item_headers.get("length")
        if isinstance(length, int):
            payload, rest = rest[:length], rest[length:]
            rest = rest[1:] if rest.startswith(b"\n") else rest
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append(EnvelopeItem(item_headers, payload))
    return Envelope(raw, headers, items)


class SentrySink(LoopbackServer):
    """Receive Sentry envelopes over HTTP on 127.0.0.1; use as a context manager."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self._lock = threading.Lock()
        self._envelopes: list[Envelope] = []
        self.otlp_requests = 0
        super().__init__(_handler_class(self), port=port, name="sentry-sink", host=host)

    @property
    def dsn(self) -> str:
        return f"http://{PUBLIC_KEY}@{self.address}/{PROJECT_ID}"

    def envelopes(self) -> list[Envelope]:
        with self._lock:
            return list(self._envelopes)

    def items(self, item_type: str | None = None) -> list[EnvelopeItem]:
        return [
            item for envelope in self.envelopes() for item in envelope.items
            if item_type is None or item.type == item_type
        ]

    def clear(self) -> None:
        with self._lock:
            self._envelopes.clear()

    def _store(self, envelope: Envelope) -> None:
        with self._lock:
            self._envelopes.append(envelope)


def _handler_class(sink: SentrySink) -> type[BaseHTTPRequestHandler]:
    class EnvelopeHandler(JsonHandler):
        def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
            if self.path.split("?", 1)[0].endswith("/integration/otlp/v1/traces"):
                # The gateway collector's Sentry exporter in the compose stack; counted, not kept.
                self.read_body()
                sink.otlp_requests += 1
                self.reply(200, {})
                return
            if not self.path.split("?", 1)[0].rstrip("/").endswith("/envelope"):
                self.reply(404, {"detail": "only envelope endpoints are served"})
                return
            body = self.read_body()
            try:
                raw = _decompress(body, self.headers.get("Content-Encoding", ""))
                envelope = parse_envelope(raw)
            except (OSError, zlib.error, EnvelopeFormatError, ValueError) as exc:
                self.reply(400, {"detail": f"invalid envelope: {type(exc).__name__}"})
                return
            sink._store(envelope)
            self.reply(200, {"id": envelope.headers.get("event_id")})

    return EnvelopeHandler


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # type: ignore[import-not-found]  # only when sentry-sdk found brotli

        return brotli.decompress(body)
    raise ValueError("unsupported content encoding")
