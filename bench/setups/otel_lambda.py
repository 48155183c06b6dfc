"""opentelemetry-instrumentation-aws-lambda with the botocore and requests instrumentations.

Configured as the OpenTelemetry Lambda layer's wrapper does: an SDK provider with an OTLP batch
exporter, the instrumentations, then `AwsLambdaInstrumentor`, which wraps the function that
`_HANDLER` names and force-flushes the provider after every invocation. It needs its own
virtual environment (see `bench/requirements-otel-lambda.txt`).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from bench.setups import workload

provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
BotocoreInstrumentor().instrument()
RequestsInstrumentor().instrument()
tracer = trace.get_tracer(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return workload.decompose(event, tracer.start_as_current_span)


# Wraps `handler` above, found through `_HANDLER=bench.setups.otel_lambda.handler`.
AwsLambdaInstrumentor().instrument()


def time_flushes(wrap: Any) -> None:
    provider.force_flush = wrap(provider.force_flush)
