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
def guard_swallows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the telemetry guard swallow faults, as it does in production."""
    monkeypatch.setattr(GuardPolicy, "reraise", False)
