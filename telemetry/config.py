"""Settings for the telemetry pipeline, read once from the environment.

An explicit keyword argument beats the environment, which beats the default. An invalid
value logs a warning that names the variable (never its value) and falls back to the default.

| variable | meaning | default |
|---|---|---|
| `SENTRY_DSN` | where Sentry events go; unset disables Sentry | unset |
| `SENTRY_ENVIRONMENT`, then `ENVIRONMENT` | Sentry environment and `deployment.environment` | `local` |
| `SENTRY_RELEASE` | Sentry release | unset |
| `SENTRY_SPOTLIGHT` | also send Sentry events to this Spotlight URL | unset |
| `SENTRY_TRACES_SAMPLE_RATE` | share of traces sampled, 0.0 to 1.0, for Sentry and OTel | `1.0` |
| `OTEL_SERVICE_NAME` | `service.name` resource attribute | `clinisight-<function>` |
| `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | full OTLP/HTTP traces URL | unset |
| `OTEL_EXPORTER_OTLP_ENDPOINT` | OTLP/HTTP base URL; `/v1/traces` is appended | unset: no OTLP export |
| `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, then `..._OTLP_TIMEOUT` | export timeout, in s | 0.5 or the budget if less |
| `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, then `..._OTLP_HEADERS` | `name=value,...` sent with each export | none |
| `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`, then `..._OTLP_COMPRESSION` | `gzip` or `none` | `none` |
| `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`, then `..._OTLP_CERTIFICATE` | CA bundle for an https endpoint | certifi's |
| `AWS_REGION`, then `AWS_DEFAULT_REGION` | `cloud.region` | `us-east-1` |
| `AWS_LAMBDA_FUNCTION_NAME` | `faas.name` | the service name |
| `CLINISIGHT_SLOW_DYNAMODB_MS` | a DynamoDB call strictly longer than this is slow, in ms | `100` |
| `CLINISIGHT_FLUSH_BUDGET_MS` | longest end-of-invocation flush, in ms | `2000` |
| `CLINISIGHT_FLUSH_MARGIN_MS` | time kept free before the Lambda deadline, in ms | `500` |
| `CLINISIGHT_TIMEOUT_WARNING_MS` | warn Sentry and flush this long before the deadline, in ms; 0 disables | `1500` |
| `CLINISIGHT_TRACE_PROPAGATION_TARGETS` | comma-separated hosts that receive trace headers | empty |
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import unquote

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_ENVIRONMENT = "local"
DEFAULT_REGION = "us-east-1"
DEFAULT_SLOW_DYNAMODB_MS = 100.0
DEFAULT_FLUSH_BUDGET_MS = 2000
DEFAULT_FLUSH_MARGIN_MS = 500
# A collector in the function (the Lambda layer) or in the region responds well within this. A
# refused connection fails at once, and the exporter does not retry past its timeout, so a
# dead collector costs about one connection attempt per invocation instead of the whole budget.
DEFAULT_OTLP_TIMEOUT_S = 0.5
# Sentry's AwsLambdaIntegration warns 1.5 s before the deadline (sentry-sdk 2.76); the same here.
DEFAULT_TIMEOUT_WARNING_MS = 1500


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Configuration of one function's telemetry."""

    function: str
    service_name: str
    faas_name: str
    environment: str = DEFAULT_ENVIRONMENT
    release: str | None = None
    sentry_dsn: str | None = None
    spotlight_url: str | None = None
    traces_sample_rate: float = 1.0
    otlp_traces_endpoint: str | None = None
    otlp_timeout_s: float | None = None
    # Headers often carry a collector's API key, so they stay out of the settings' repr.
    otlp_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    otlp_compression: str | None = None
    otlp_certificate: str | None = None
    region: str = DEFAULT_REGION
    slow_dynamodb_ms: float = DEFAULT_SLOW_DYNAMODB_MS
    flush_budget_ms: int = DEFAULT_FLUSH_BUDGET_MS
    flush_margin_ms: int = DEFAULT_FLUSH_MARGIN_MS
    timeout_warning_ms: int = DEFAULT_TIMEOUT_WARNING_MS
    propagation_targets: tuple[str, ...] = field(default=())

    @classmethod
    def from_env(
        cls, function: str, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> Settings:
        """Build settings for `function` from `environ` (default `os.environ`) and overrides."""
        env = os.environ if environ is None else environ
        service_name = _text(env, "OTEL_SERVICE_NAME") or f"clinisight-{function}"
        settings = cls(
            function=function,
            service_name=service_name,
            faas_name=_text(env, "AWS_LAMBDA_FUNCTION_NAME") or service_name,
            environment=_text(env, "SENTRY_ENVIRONMENT")
            or _text(env, "ENVIRONMENT")
            or DEFAULT_ENVIRONMENT,
            release=_text(env, "SENTRY_RELEASE"),
            sentry_dsn=_text(env, "SENTRY_DSN"),
            spotlight_url=_text(env, "SENTRY_SPOTLIGHT"),
            traces_sample_rate=_parse(
                env, "SENTRY_TRACES_SAMPLE_RATE", _sample_rate, 1.0
            ),
            otlp_traces_endpoint=_otlp_endpoint(env),
            otlp_timeout_s=_parse(env, _otlp_variable(env, "TIMEOUT"), _positive_float, None),
            otlp_headers=_parse(env, _otlp_variable(env, "HEADERS"), _headers, ()),
            otlp_compression=_parse(env, _otlp_variable(env, "COMPRESSION"), _compression, None),
            otlp_certificate=_text(env, _otlp_variable(env, "CERTIFICATE")),
            region=_text(env, "AWS_REGION")
            or _text(env, "AWS_DEFAULT_REGION")
            or DEFAULT_REGION,
            slow_dynamodb_ms=_parse(
                env, "CLINISIGHT_SLOW_DYNAMODB_MS", _non_negative_float, DEFAULT_SLOW_DYNAMODB_MS
            ),
            flush_budget_ms=_parse(
                env, "CLINISIGHT_FLUSH_BUDGET_MS", _non_negative_int, DEFAULT_FLUSH_BUDGET_MS
            ),
            flush_margin_ms=_parse(
                env, "CLINISIGHT_FLUSH_MARGIN_MS", _non_negative_int, DEFAULT_FLUSH_MARGIN_MS
            ),
            timeout_warning_ms=_parse(
                env, "CLINISIGHT_TIMEOUT_WARNING_MS", _non_negative_int, DEFAULT_TIMEOUT_WARNING_MS
            ),
            propagation_targets=_hosts(env.get("CLINISIGHT_TRACE_PROPAGATION_TARGETS", "")),
        )
        return replace(settings, **overrides) if overrides else settings


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _parse(env: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError:
        logger.warning("Invalid value in %s; using the default %s", name, default)
        return default


def _sample_rate(raw: str) -> float:
    rate = float(raw)
    if not 0.0 <= rate <= 1.0:
        raise ValueError("sample rate out of range")
    return rate


def _non_negative_float(raw: str) -> float:
    number = float(raw)
    if number < 0 or number != number:  # NaN compares unequal to itself
        raise ValueError("negative or NaN")
    return number


def _positive_float(raw: str) -> float:
    number = float(raw)
    if not number > 0:
        raise ValueError("not positive")
    return number


def _non_negative_int(raw: str) -> int:
    number = int(raw)
    if number < 0:
        raise ValueError("negative")
    return number


def _otlp_endpoint(env: Mapping[str, str]) -> str | None:
    traces = _text(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = _text(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
    if base:
        return base.rstrip("/") + "/v1/traces"
    return None


def _otlp_variable(env: Mapping[str, str], suffix: str) -> str:
    """Name the traces-specific OTLP variable when it is set, else the generic one."""
    specific = f"OTEL_EXPORTER_OTLP_TRACES_{suffix}"
    return specific if _text(env, specific) else f"OTEL_EXPORTER_OTLP_{suffix}"


def _headers(raw: str) -> tuple[tuple[str, str], ...]:
    """Parse `name=value,...` with percent-encoded values, as the OTLP exporter spec defines it."""
    headers = []
    for pair in raw.split(","):
        if not pair.strip():
            continue
        name, separator, value = pair.partition("=")
        if not separator or not name.strip():
            raise ValueError("a header is not name=value")
        headers.append((name.strip().lower(), unquote(value.strip())))
    return tuple(headers)


def _compression(raw: str) -> str | None:
    choice = raw.lower()
    if choice not in ("gzip", "none"):
        raise ValueError("unsupported compression")
    return None if choice == "none" else choice


def _hosts(raw: str) -> tuple[str, ...]:
    return tuple(host.strip().lower() for host in raw.split(",") if host.strip())
