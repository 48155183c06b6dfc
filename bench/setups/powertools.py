"""Powertools for AWS Lambda's `Tracer`: X-Ray segments sent over UDP, nothing to flush.

The tracer patches botocore and requests itself. It is active only where `LAMBDA_TASK_ROOT` is
set, and it reads each invocation's trace header from `_X_AMZN_TRACE_ID`. The benchmark child
sets both, and points `AWS_XRAY_DAEMON_ADDRESS` at a UDP socket on 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Tracer

from bench.setups import workload

tracer = Tracer(service="bench")


@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return workload.decompose(event, tracer.provider.in_subsegment)
