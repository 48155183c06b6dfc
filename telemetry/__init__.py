"""Tracing for Python AWS Lambda handlers: OpenTelemetry spans bridged into Sentry, with PHI
redacted before anything leaves the process.

A handler module sets up once at import and decorates its handler::

    from telemetry import setup_telemetry

    telemetry = setup_telemetry("orchestrator")

    @telemetry.lambda_handler
    def handler(event, context): ...
"""

from __future__ import annotations

from telemetry.config import Settings
from telemetry.lambda_wrapper import annotate_invocation, invocation_span
from telemetry.phi import PLACEHOLDER, PhiSafeError, redact_text
from telemetry.runtime import Telemetry, setup_telemetry
from telemetry.sentry_bridge import capture_exception, capture_warning

__all__ = [
    "PLACEHOLDER",
    "PhiSafeError",
    "Settings",
    "Telemetry",
    "annotate_invocation",
    "capture_exception",
    "capture_warning",
    "invocation_span",
    "redact_text",
    "setup_telemetry",
]
