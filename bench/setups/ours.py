"""This project's telemetry, set up as the handlers in `handlers/` set it up."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

from bench.setups import workload
from telemetry import setup_telemetry

telemetry = setup_telemetry("bench")
tracer = trace.get_tracer(__name__)


@telemetry.lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return workload.decompose(event, tracer.start_as_current_span)


def time_flushes(wrap: Any) -> None:
    telemetry.flush = wrap(telemetry.flush)
