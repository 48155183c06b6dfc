"""Settings from the environment: precedence, defaults and invalid values."""

from __future__ import annotations

import logging

import pytest

from telemetry.config import DEFAULT_SLOW_DYNAMODB_MS, Settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env("tasksmith", environ={})
    assert settings.service_name == "clinisight-tasksmith"
    assert settings.faas_name == "clinisight-tasksmith"
    assert settings.environment == "local"
    assert settings.sentry_dsn is None
    assert settings.otlp_traces_endpoint is None
    assert settings.slow_dynamodb_ms == 100.0
    assert settings.traces_sample_rate == 1.0
    assert settings.propagation_targets == ()


def test_environment_read() -> None:
    settings = Settings.from_env("tasksmith", environ={
        "SENTRY_DSN": "http://key@127.0.0.1:9/1",
        "ENVIRONMENT": "staging",
        "SENTRY_RELEASE": "clinisight@1.2.3",
        "SENTRY_TRACES_SAMPLE_RATE": "0.25",
        "OTEL_SERVICE_NAME": "tasksmith-svc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318/",
        "AWS_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": "clinisight-tasksmith-prod",
        "CLINISIGHT_SLOW_DYNAMODB_MS": "250",
        "CLINISIGHT_FLUSH_BUDGET_MS": "800",
        "CLINISIGHT_TRACE_PROPAGATION_TARGETS": "api.example.com, Internal.Example.com",
    })
    assert settings.sentry_dsn == "http://key@127.0.0.1:9/1"
    assert settings.environment == "staging"
    assert settings.release == "clinisight@1.2.3"
    assert settings.traces_sample_rate == 0.25
    assert settings.service_name == "tasksmith-svc"
    assert settings.faas_name == "clinisight-tasksmith-prod"
    assert settings.otlp_traces_endpoint == "http://localhost:4318/v1/traces"
    assert settings.region == "eu-west-1"
    assert settings.slow_dynamodb_ms == 250.0
    assert settings.flush_budget_ms == 800
    assert settings.propagation_targets == ("api.example.com", "internal.example.com")


def test_sentry_environment_beats_environment() -> None:
    settings = Settings.from_env("x", environ={"SENTRY_ENVIRONMENT": "prod", "ENVIRONMENT": "dev"})
    assert settings.environment == "prod"


def test_traces_endpoint_beats_base_endpoint() -> None:
    settings = Settings.from_env("x", environ={
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom",
    })
    assert settings.otlp_traces_endpoint == "http://b:4318/custom"


def test_explicit_argument_beats_environment() -> None:
    settings = Settings.from_env("x", environ={"CLINISIGHT_SLOW_DYNAMODB_MS": "250"}, slow_dynamodb_ms=50.0)
    assert settings.slow_dynamodb_ms == 50.0


@pytest.mark.parametrize("raw", ["fast", "-5", "nan"])
def test_invalid_threshold_warns_and_defaults(raw: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="telemetry.config"):
        settings = Settings.from_env("x", environ={"CLINISIGHT_SLOW_DYNAMODB_MS": raw})
    assert settings.slow_dynamodb_ms == DEFAULT_SLOW_DYNAMODB_MS
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["Invalid value in CLINISIGHT_SLOW_DYNAMODB_MS; using the default 100.0"]


def test_sample_rate_out_of_range_defaults() -> None:
    assert Settings.from_env("x", environ={"SENTRY_TRACES_SAMPLE_RATE": "1.5"}).traces_sample_rate == 1.0


def test_otlp_headers_compression_and_certificate_read() -> None:
    settings = Settings.from_env("tasksmith", environ={
        "OTEL_EXPORTER_OTLP_HEADERS": "x-generic=1",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "Authorization=Bearer%20fake-token, x-team = clinical ",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "GZIP",
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "/etc/ssl/collector-ca.pem",
    })
    # The traces-specific variable wins over the generic one, as the OTLP exporter spec defines.
    assert settings.otlp_headers == (("authorization", "Bearer fake-token"), ("x-team", "clinical"))
    assert settings.otlp_compression == "gzip"
    assert settings.otlp_certificate == "/etc/ssl/collector-ca.pem"
    assert "fake-token" not in repr(settings)


@pytest.mark.parametrize(("variable", "raw"), [
    ("OTEL_EXPORTER_OTLP_HEADERS", "no-equals-sign"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "=value-without-name"),
    ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
])
def test_invalid_otlp_option_warns_without_value(variable: str, raw: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="telemetry.config"):
        settings = Settings.from_env("tasksmith", environ={variable: raw})
    assert settings.otlp_headers == ()
    assert settings.otlp_compression is None
    assert variable in caplog.text
    assert raw not in caplog.text
