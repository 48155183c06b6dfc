"""The guard around every internal telemetry step and third-party callback.

A fault in telemetry must never reach the handler. `guarded` catches it and logs the step
and the exception type once per window per step. It never logs the exception message or a
traceback, because either can carry the data being processed.

Tests set `GuardPolicy.reraise` so a swallowed bug fails the suite instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

LOG_WINDOW_S = 60.0


class GuardPolicy:
    """Process-wide switches for the guard."""

    reraise: bool = False


class _RateLimiter:
    def __init__(self, window_s: float) -> None:
        self._window_s = window_s
        self._last_logged: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, step: str) -> int | None:
        """Return the count of suppressed repeats when `step` may log now, else None."""
        now = time.monotonic()
        with self._lock:
            last = self._last_logged.get(step)
            if last is not None and now - last < self._window_s:
                self._suppressed[step] = self._suppressed.get(step, 0) + 1
                return None
            self._last_logged[step] = now
            return self._suppressed.pop(step, 0)


_limiter = _RateLimiter(LOG_WINDOW_S)


@contextmanager
def guarded(step: str) -> Iterator[None]:
    """Run the body, logging and swallowing any exception it raises."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the one broad handler; see the module docstring
        if GuardPolicy.reraise:
            raise
        suppressed = _limiter.admit(step)
        if suppressed is not None:
            logger.warning(
                "Telemetry step %s failed with %s; the handler was not affected "
                "(%d repeats suppressed in the last %.0f s)",
                step,
                type(exc).__name__,
                suppressed,
                LOG_WINDOW_S,
            )
