"""Outgoing trace headers: sent only to the hosts configured as propagation targets.

The requests instrumentation injects `traceparent`, `sentry-trace` and `baggage` into every
call after its request hook has run, and Sentry's baggage carries the project's public key and
the transaction name. A transport adapter is the last code to handle the request before it is
sent, so it removes those headers for any other host.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

TRACE_HEADERS = ("traceparent", "tracestate", "sentry-trace", "baggage")


class PropagationFilterAdapter(HTTPAdapter):
    """An `HTTPAdapter` that drops trace headers unless the host is a propagation target."""

    def __init__(self, targets: Iterable[str], **kwargs: Any) -> None:
        self._targets = frozenset(target.lower() for target in targets)
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        host = (urlsplit(request.url or "").hostname or "").lower()
        if host not in self._targets:
            for header in TRACE_HEADERS:
                request.headers.pop(header, None)
        return super().send(request, **kwargs)


def restrict_trace_propagation(session: requests.Session, targets: Iterable[str]) -> requests.Session:
    """Mount the filtering adapter on `session` for http and https, and return the session."""
    adapter = PropagationFilterAdapter(targets)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
