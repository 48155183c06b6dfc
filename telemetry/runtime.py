"""The set-up call that each handler module makes once at import, and what it returns."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from telemetry import sentry_bridge
from telemetry.config import DEFAULT_OTLP_TIMEOUT_S, Settings
from telemetry.export import InvocationSpanBatch
from telemetry.flush import DeadlineWatchdog, flush_budget_s
from telemetry.guard import guarded
from telemetry.lambda_wrapper import wrap_handler
from telemetry.log_redaction import install_log_redaction
from telemetry.losses import CountingSpanExporter
from telemetry.otlp import OtlpHttpSpanExporter
from telemetry.phi import redact_attributes
from telemetry.processor import TelemetrySpanProcessor
from telemetry.routing import RoutingTracerProvider, provider_in_use
from telemetry.secrets import SecretUnavailableError, read_ssm_parameter

logger = logging.getLogger(__name__)

R = TypeVar("R")


class Telemetry:
    """One function's tracer provider, span pipeline and Lambda handler decorator."""

    def __init__(self, settings: Settings, provider: TracerProvider, processor: TelemetrySpanProcessor) -> None:
        self.settings = settings
        self.tracer_provider = provider
        self.tracer = provider.get_tracer("clinisight.telemetry")
        self._processor = processor
        self._span_batch: InvocationSpanBatch | None = None
        self.watchdog = DeadlineWatchdog()
        self._cold_start = True
        self._cold_start_lock = threading.Lock()

    def lambda_handler(self, handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
        """Decorate a Lambda handler: trace, report errors to Sentry and flush each call."""
        return wrap_handler(self, handler)

    def add_span_processor(self, processor: SpanProcessor) -> None:
        """Add a processor behind the redaction step, so it receives redacted spans only."""
        self._processor.add_downstream(processor)

    def use_otlp_exporter(self, endpoint: str, timeout_s: float) -> None:
        settings = self.settings
        exporter = CountingSpanExporter(OtlpHttpSpanExporter(
            endpoint, timeout_s=timeout_s, headers=settings.otlp_headers,
            compression=settings.otlp_compression, certificate=settings.otlp_certificate,
        ))
        self._span_batch = InvocationSpanBatch(exporter, export_timeout_s=timeout_s)
        self._processor.add_downstream(self._span_batch)

    @contextmanager
    def activate(self) -> Iterator[None]:
        """Route spans started in this context, by any instrumentation, to this function."""
        with provider_in_use(self.tracer_provider):
            yield

    def take_cold_start(self) -> bool:
        """Return True for the first invocation in this process only."""
        with self._cold_start_lock:
            cold, self._cold_start = self._cold_start, False
            return cold

    def flush(self, *, remaining_ms: int | None) -> bool:
        """Send this invocation's spans and Sentry events within the invocation's budget.

        Sentry's worker thread began sending when the invocation's transaction ended, so it
        works while the spans are exported here. Then the flush waits for it with what is left.
        """
        budget_s = flush_budget_s(
            budget_ms=self.settings.flush_budget_ms,
            margin_ms=self.settings.flush_margin_ms,
            remaining_ms=remaining_ms,
        )
        if budget_s <= 0:
            logger.warning("No time left to flush telemetry before the deadline; skipped")
            return False
        deadline = time.monotonic() + budget_s
        # Each result stays False when its step fails inside the guard.
        spans_sent = self._span_batch is None
        if self._span_batch is not None:
            with guarded("flush otlp"):
                spans_sent = self._span_batch.export_pending(budget_s)
        left_s = deadline - time.monotonic()
        if left_s <= 0:
            logger.warning("Telemetry flush used its %.0f ms budget before Sentry's turn", budget_s * 1000)
            return False
        events_sent = False
        with guarded("flush sentry"):
            events_sent = sentry_bridge.flush(left_s)
        return spans_sent and events_sent


class _Process:
    """Set-up that happens once per process, whatever the number of functions in it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.router = RoutingTracerProvider()
        self.functions: dict[str, Telemetry] = {}
        self.instrumented = False


_process = _Process()


def setup_telemetry(function: str, **overrides: Any) -> Telemetry:
    """Set up tracing and Sentry for `function`, reading settings from the environment.

    Call it once at module import. Repeated calls for the same function return the first
    result, and the instrumentations and sentry-sdk are initialised once per process.
    Keyword arguments override fields of `Settings`.
    """
    with _process.lock:
        existing = _process.functions.get(function)
        if existing is not None:
            return existing

        settings = _with_sentry_dsn(Settings.from_env(function, **overrides))
        sentry_bridge.init_sentry(settings)
        telemetry = build_telemetry(settings)
        _process.functions[function] = telemetry
        _process.router.register(telemetry.tracer_provider)
        if not _process.instrumented:
            _instrument(_process.router)
            _process.instrumented = True
        install_log_redaction()
        return telemetry


def _with_sentry_dsn(settings: Settings) -> Settings:
    """Read the DSN from SSM when `SENTRY_DSN` is unset and `SENTRY_DSN_SSM_PARAMETER` names it.

    A failed read leaves Sentry disabled and the handler working; the warning names the
    parameter, never its value.
    """
    parameter = os.environ.get("SENTRY_DSN_SSM_PARAMETER", "").strip()
    if settings.sentry_dsn or not parameter:
        return settings
    try:
        return replace(settings, sentry_dsn=read_ssm_parameter(parameter))
    except SecretUnavailableError as error:
        logger.warning("Sentry is disabled: %s", error)
        return settings


def build_telemetry(settings: Settings) -> Telemetry:
    """Build a function's provider and pipeline without registering or instrumenting anything.

    `setup_telemetry` is the entry point for handlers; this is its building block.
    """
    resource_attributes = {
        "service.name": settings.service_name,
        "cloud.provider": "aws",
        "cloud.platform": "aws_lambda",
        "cloud.region": settings.region,
        "faas.name": settings.faas_name,
        "deployment.environment": settings.environment,
    }
    resource = Resource.create(resource_attributes)
    # Resource attributes can come from OTEL_RESOURCE_ATTRIBUTES, so they pass the policy too.
    redacted_resource = redact_attributes(resource.attributes)
    if redacted_resource is not None:
        resource = Resource(redacted_resource, resource.schema_url)

    processor = TelemetrySpanProcessor(
        slow_dynamodb_ms=settings.slow_dynamodb_ms,
        on_slow_call=sentry_bridge.report_slow_call,
        downstream=[sentry_bridge.span_processor()],
    )
    provider = TracerProvider(
        resource=resource,
        sampler=ParentBased(TraceIdRatioBased(settings.traces_sample_rate)),
    )
    provider.add_span_processor(processor)

    telemetry = Telemetry(settings, provider, processor)
    if settings.otlp_traces_endpoint:
        timeout_s = settings.otlp_timeout_s or min(DEFAULT_OTLP_TIMEOUT_S, settings.flush_budget_ms / 1000.0)
        try:
            telemetry.use_otlp_exporter(settings.otlp_traces_endpoint, timeout_s=timeout_s)
        except ValueError as error:
            # A bad endpoint must not stop the handler from loading; Sentry still gets its spans.
            logger.warning("OTLP export is disabled: %s", error)
    return telemetry


def _instrument(router: RoutingTracerProvider) -> None:
    trace.set_tracer_provider(router)
    # The dependency check reads every installed distribution's metadata, a cold-start cost;
    # pyproject.toml and the deployment constraints already fix compatible versions.
    if not BotocoreInstrumentor().is_instrumented_by_opentelemetry:
        BotocoreInstrumentor().instrument(tracer_provider=router, skip_dep_check=True)
    if not RequestsInstrumentor().is_instrumented_by_opentelemetry:
        RequestsInstrumentor().instrument(tracer_provider=router, skip_dep_check=True)
