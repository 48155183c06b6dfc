"""The logging filter redacts messages, arguments and exception text."""

from __future__ import annotations

import io
import logging

from telemetry.log_redaction import install_log_redaction
from telemetry.phi import PLACEHOLDER


def capture_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger(name)
    logger.handlers = [logging.StreamHandler(stream)]
    logger.propagate = False
    install_log_redaction(logger)
    return logger, stream


def test_message_and_args_redacted() -> None:
    logger, stream = capture_logger("tests.log_redaction.args")
    logger.warning("Patient %s reachable at %s", "SSN 000-12-3456", "jane.roe@example.com")
    assert stream.getvalue() == f"Patient SSN {PLACEHOLDER} reachable at {PLACEHOLDER}\n"


def test_exception_text_redacted() -> None:
    logger, stream = capture_logger("tests.log_redaction.exception")
    try:
        raise ValueError("MRN 00123456 not found")
    except ValueError:
        logger.exception("Lookup failed")
    output = stream.getvalue()
    assert "00123456" not in output
    assert "ValueError" in output
    assert output.startswith("Lookup failed\n")


def test_child_logger_records_redacted_by_parent_handler() -> None:
    logger, stream = capture_logger("tests.log_redaction.parent")
    logging.getLogger("tests.log_redaction.parent.child").error("call 555-010-1234")
    assert stream.getvalue() == f"call {PLACEHOLDER}\n"


def test_install_is_idempotent() -> None:
    logger, _ = capture_logger("tests.log_redaction.twice")
    install_log_redaction(logger)
    assert len(logger.handlers[0].filters) == 1
