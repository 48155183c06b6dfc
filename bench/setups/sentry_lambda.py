"""Sentry's `AwsLambdaIntegration` alone, with sentry-sdk's default integrations.

The integration patches Lambda's runtime bootstrap: it wraps the handler, which starts a
transaction per invocation, and drains Sentry's queue before the response is posted. That
bootstrap cannot run here, so the module applies the same two functions (`_wrap_handler`,
`_drain_queue`) around the handler directly.
"""

from __future__ import annotations

import os
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration, _drain_queue, _wrap_handler

from bench.setups import workload

sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], traces_sample_rate=1.0, integrations=[AwsLambdaIntegration()])


def _span(name: str) -> Any:
    return sentry_sdk.start_span(op="function", name=name)


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return workload.decompose(event, _span)


_wrapped = _wrap_handler(_handler)
drain = _drain_queue


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return _wrapped(event, context)
    finally:
        drain()


def time_flushes(wrap: Any) -> None:
    global drain
    drain = wrap(drain)
