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


class _Guard:
    """A context manager that swallows and logs exceptions for one named step.

    A class, not a generator-based context manager: it runs several times per span, and this
    costs a fraction of what `contextlib.contextmanager` does per use.
    """

    __slots__ = ("step",)

    def __init__(self, step: str) -> None:
        self.step = step

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if exc_type is None or not issubclass(exc_type, Exception):
            return False
        if GuardPolicy.reraise:
            return False
        suppressed = _limiter.admit(self.step)
        if suppressed is not None:
            logger.warning(
                "Telemetry step %s failed with %s; the handler was not affected "
                "(%d repeats suppressed in the last %.0f s)",
                self.step,
                exc_type.__name__,
                suppressed,
                LOG_WINDOW_S,
            )
        return True


_guards: dict[str, _Guard] = {}


def guarded(step: str) -> _Guard:
    """Return a context manager that logs and swallows any exception its body raises."""
    guard = _guards.get(step)
    if guard is None:
        guard = _guards.setdefault(step, _Guard(step))
    return guard
