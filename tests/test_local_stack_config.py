"""Static checks of docker-compose.yml and collector-config/, since no collector binary or
Docker engine runs in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import re2
import yaml

from telemetry import collector
from telemetry.phi.keys import KeyClass, classify_key
from telemetry.phi.patterns import PATTERNS

REPO_ROOT = Path(__file__).resolve().parent.parent
COLLECTOR_DIR = REPO_ROOT / "collector-config"

# Components of otelcol-contrib 0.136.0 that these configurations may use. Source:
# open-telemetry/opentelemetry-collector-releases, distributions/otelcol-contrib/manifest.yaml
# (receivers, processors, exporters entries for v0.136.0). Keep the image tag in
# docker-compose.yml equal to this version.
CONTRIB_VERSION = "0.136.0"
CONTRIB_COMPONENTS = {
    "receivers": {"otlp", "nop", "jaeger", "zipkin", "prometheus", "filelog", "hostmetrics", "awsxray"},
    "processors": {
        "batch", "memory_limiter", "attributes", "filter", "probabilistic_sampler", "redaction", "resource",
        "span", "tail_sampling", "transform", "groupbytrace", "k8sattributes", "resourcedetection",
    },
    "exporters": {"debug", "nop", "otlp", "otlphttp", "file", "loadbalancing", "sentry", "zipkin", "awsxray"},
}
# Components of the OpenTelemetry Lambda layer's default collector build. Source:
# open-telemetry/opentelemetry-lambda, collector/lambdacomponents/default.go.
LAMBDA_LAYER_COMPONENTS = {
    "receivers": {"otlp", "telemetryapi"},
    "processors": {"attributes", "filter", "memory_limiter", "probabilistic_sampler", "resource", "span",
                   "coldstart", "decouple", "batch"},
    "exporters": {"debug", "otlp", "otlphttp", "prometheusremotewrite"},
}
CONFIGS = {
    "gateway.yaml": CONTRIB_COMPONENTS,
    "lambda-extension.yaml": LAMBDA_LAYER_COMPONENTS,
}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((COLLECTOR_DIR / name).read_text(encoding="utf-8"))


def component_type(name: str) -> str:
    """Return the type of a component id such as `otlphttp/sentry`."""
    return name.split("/", 1)[0]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_collector_file_parses(name: str) -> None:
    config = load(name)
    assert set(config) >= {"receivers", "exporters", "service"}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_components_exist_in_distribution(name: str) -> None:
    config = load(name)
    available = CONFIGS[name]
    for kind in ("receivers", "processors", "exporters"):
        for component in config.get(kind) or {}:
            assert component_type(component) in available[kind], f"{kind}: {component} is not in the distribution"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_pipelines_reference_defined_components(name: str) -> None:
    config = load(name)
    pipelines = config["service"]["pipelines"]
    assert pipelines
    for pipeline_name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in (config.get(kind) or {}), f"{pipeline_name} uses undefined {kind[:-1]} {component}"
        assert pipeline.get("receivers")
        assert pipeline.get("exporters")


def test_every_regex_compiles_under_re2() -> None:
    redaction = load("gateway.yaml")["processors"]["redaction"]
    patterns = redaction["blocked_values"] + redaction["blocked_key_patterns"]
    assert len(patterns) == len(PATTERNS) + 1
    for pattern in patterns:
        re2.compile(pattern)


def test_generated_block_is_current() -> None:
    path = COLLECTOR_DIR / "gateway.yaml"
    assert collector.render(path.read_text(encoding="utf-8")) == path.read_text(encoding="utf-8"), (
        "collector-config/gateway.yaml is out of date; run `clinisight-trace collector-config`"
    )


def test_patterns_equal_policy() -> None:
    redaction = load("gateway.yaml")["processors"]["redaction"]
    assert redaction["blocked_values"] == [pattern.re2 for pattern in PATTERNS]
    assert redaction["blocked_key_patterns"] == [collector.key_pattern()]


# One positive example per value pattern, in the policy's order.
EXAMPLES = [
    "jane.roe@example.com", "000-12-3456", "SSN 000123456", "(555) 010-1234", "+44 20 7946 0958",
    "MRN 00123456", "member id A1234567", "1980-02-29", "02/29/1980", "29.02.1980", "Feb 29, 1980",
    "29 February 1980", "203.0.113.7", "2001:db8::8a2e:370:7334", "4111 1111 1111 1111",
]


def test_re2_forms_match_like_python() -> None:
    assert len(EXAMPLES) == len(PATTERNS)
    for pattern, example in zip(PATTERNS, EXAMPLES, strict=True):
        assert pattern.regex.search(example), f"{pattern.kind} Python form misses {example!r}"
        assert re2.search(pattern.re2, f"x {example} y"), f"{pattern.kind} RE2 form misses {example!r}"
        assert not re2.search(pattern.re2, "CLIN-42 DynamoDB.PutItem clinisight-tasksmith")


def test_key_pattern_matches_policy_keys() -> None:
    key_pattern = re2.compile(collector.key_pattern())
    ignored = set(collector.ignored_keys())
    for key in ("patient_name", "user.email", "emailAddress", "first-name", "jira.api_token", "dob"):
        assert classify_key(key) is KeyClass.PHI
        assert key_pattern.search(key), key
    for key in ("service.name", "faas.name", "server.address", "telemetry.sdk.name", "rpc.method",
                "http.status_code", "clinisight.jira.issue_key", "aws.request_id"):
        assert classify_key(key) is KeyClass.SAFE
        assert key in ignored or not key_pattern.search(key), key


def test_sentry_otlp_settings_from_dsn() -> None:
    settings = collector.sentry_otlp_settings("https://abc123@o0.ingest.sentry.io/42")
    assert settings == {
        "SENTRY_OTLP_TRACES_ENDPOINT": "https://o0.ingest.sentry.io/api/42/integration/otlp/v1/traces",
        "SENTRY_OTLP_AUTH_HEADER": "sentry sentry_key=abc123",
    }
    prefixed = collector.sentry_otlp_settings(" https://abc@sentry.example.com/prefix/42 ")
    assert prefixed["SENTRY_OTLP_TRACES_ENDPOINT"] == (
        "https://sentry.example.com/prefix/api/42/integration/otlp/v1/traces")
    for invalid in ("not a dsn", "ftp://abc@host/42", "https://host/42", "https://abc@host/project"):
        with pytest.raises(ValueError, match="invalid Sentry DSN"):
            collector.sentry_otlp_settings(invalid)


def test_compose_file_valid() -> None:
    """Validate with Debian's docker-compose (1.29), which needs no engine for `config -q`."""
    executable = shutil.which("docker-compose")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing; .ci/run installs Debian's package")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    result = subprocess.run([executable, "-f", str(REPO_ROOT / "docker-compose.yml"), "config", "-q"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_compose_ports_bound_to_loopback() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    images = {name: service.get("image", "") for name, service in compose["services"].items()}
    assert images["otel-collector"].endswith(f":{CONTRIB_VERSION}")
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
