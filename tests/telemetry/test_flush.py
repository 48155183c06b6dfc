"""End-of-invocation flushing stays within its budget when a backend is silent or refusing."""

from __future__ import annotations

import threading
import time

import pytest

from telemetry.config import Settings
from telemetry.flush import BudgetedFlusher, flush_budget_s
from telemetry.runtime import build_telemetry


def test_budget_cut_by_remaining_time() -> None:
    assert flush_budget_s(budget_ms=2000, margin_ms=500, remaining_ms=None) == 2.0
    assert flush_budget_s(budget_ms=2000, margin_ms=500, remaining_ms=1500) == 1.0
    assert flush_budget_s(budget_ms=2000, margin_ms=500, remaining_ms=400) == 0.0


def test_flusher_returns_at_budget_when_task_blocks() -> None:
    release = threading.Event()
    flusher = BudgetedFlusher()
    started = time.monotonic()
    finished = flusher.flush([("blocked", lambda timeout_s: release.wait(5))], budget_s=0.2)
    elapsed = time.monotonic() - started
    release.set()
    assert finished is False
    assert elapsed < 1.0


def test_flusher_skips_task_still_running() -> None:
    release = threading.Event()
    flusher = BudgetedFlusher()
    flusher.flush([("blocked", lambda timeout_s: release.wait(5))], budget_s=0.05)
    calls: list[float] = []
    finished = flusher.flush([("blocked", calls.append)], budget_s=0.05)
    release.set()
    assert finished is False
    assert calls == []


def test_flusher_reports_success() -> None:
    calls: list[float] = []
    assert BudgetedFlusher().flush([("quick", calls.append)], budget_s=1.0) is True
    assert calls == [1.0]


@pytest.mark.parametrize("endpoint_fixture", ["silent_server", "refusing_endpoint"])
def test_dead_collector_bounded_by_budget(endpoint_fixture: str, request: pytest.FixtureRequest) -> None:
    endpoint = request.getfixturevalue(endpoint_fixture)
    if endpoint_fixture == "silent_server":
        endpoint += "/v1/traces"
    # The exporter alone would wait 10 s for the silent server; the budget is 300 ms.
    settings = Settings.from_env("flush-test", environ={}, otlp_traces_endpoint=endpoint,
                                 otlp_timeout_s=10.0, flush_budget_ms=300)
    telemetry = build_telemetry(settings)
    for index in range(20):
        telemetry.tracer.start_span(f"work-{index}").end()

    started = time.monotonic()
    finished = telemetry.flush(remaining_ms=None)
    elapsed = time.monotonic() - started
    # The slack over 300 ms covers thread start-up on a loaded 2-core machine.
    assert elapsed < 1.0
    if endpoint_fixture == "silent_server":
        assert finished is False
