"""The session's local run, started by conftest before collection."""

from __future__ import annotations

from handlers.local.runner import LocalRun

_run: LocalRun | None = None


def start() -> None:
    global _run
    _run = LocalRun().__enter__()


def stop() -> None:
    if _run is not None:
        _run.__exit__(None, None, None)


def fresh_run() -> LocalRun:
    """Return the session's local run, reset: no spans, envelopes, issues or state."""
    assert _run is not None, "the local run starts in pytest_sessionstart"
    _run.reset()
    _run.aws.dynamodb_latency_ms = 0.0
    return _run
