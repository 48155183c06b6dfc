"""A logging filter that applies the PHI policy to every record a handler writes."""

from __future__ import annotations

import logging

from telemetry.guard import guarded
from telemetry.phi import PLACEHOLDER, redact_text, redact_traceback


class RedactingFilter(logging.Filter):
    """Render each record's message and exception text, then redact both.

    Installed on handlers rather than loggers, because a logger's filters do not see records
    that propagate up from child loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = PLACEHOLDER
        with guarded("redact log record"):
            message = redact_text(record.getMessage())
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact_traceback(record.exc_text)
        record.msg = message
        record.args = None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of `logger` (default: the root logger), once each."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())
