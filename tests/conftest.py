"""Shared fixtures.

One local run serves the whole session, because handler modules set up their telemetry once
per process at import. It starts before collection, so no test module can initialise
sentry-sdk before the local sink's DSN is in the environment.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handlers.local.runner import LocalRun
from telemetry.guard import GuardPolicy

_local_run: LocalRun | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _local_run
    # A fault swallowed by the telemetry guard must fail the suite, not pass silently.
    GuardPolicy.reraise = True
    _local_run = LocalRun().__enter__()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _local_run is not None:
        _local_run.__exit__(None, None, None)


@pytest.fixture
def local_run() -> Iterator[LocalRun]:
    """The session's local run, reset before each test."""
    assert _local_run is not None
    _local_run.reset()
    _local_run.aws.dynamodb_latency_ms = 0.0
    yield _local_run
    _local_run.aws.dynamodb_latency_ms = 0.0


@pytest.fixture
def guard_swallows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the telemetry guard swallow faults, as it does in production."""
    monkeypatch.setattr(GuardPolicy, "reraise", False)
