"""`clinisight-trace invoke` as a user runs it: a fresh process per run, real files out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from handlers.local.runner import LocalRun
from tests.canaries import leaked
from tests.examples import EVENTS_DIR

REPO_ROOT = EVENTS_DIR.parent.parent
SPAN_KEYS = {"trace_id", "span_id", "parent_span_id", "name", "kind", "start_time_unix_nano",
             "end_time_unix_nano", "attributes", "events", "status", "resource"}


# The session's local run exports these into this process's environment. A user's shell has
# none of them, and SENTRY_DSN would send the child's events to this session's sink.
ENV_PREFIXES = ("SENTRY_", "JIRA_", "OTEL_", "CLINISIGHT_", "AWS_", "TASKSMITH_", "STATE_TABLE")


def run_cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIXES)}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "handlers.local.cli", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_epic_example_prints_one_tree_over_both_functions(tmp_path: Path) -> None:
    result = run_cli("invoke", "orchestrator", "examples/events/epic_created_direct.json", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(1 for line in lines if line.startswith("Trace ")) == 1
    assert "services: clinisight-orchestrator, clinisight-tasksmith" in lines[0]
    assert any("clinisight-tasksmith  SERVER" in line for line in lines)
    assert any("DynamoDB.UpdateItem  CLIENT" in line for line in lines)
    assert "Sentry: 2 transactions, 0 warnings, 0 errors (2 envelopes received" in result.stdout
    assert "Spans: 15 spans in 1 trace; 0 flagged" in result.stdout

    spans = [json.loads(line) for line in (tmp_path / "spans.jsonl").read_text().splitlines()]
    assert len(spans) == 15
    assert all(set(span) == SPAN_KEYS for span in spans)
    assert {span["kind"] for span in spans} == {"SERVER", "CLIENT", "INTERNAL"}
    items = [json.loads(line) for line in (tmp_path / "sentry.jsonl").read_text().splitlines()]
    assert [item["item_headers"]["type"] for item in items] == ["transaction", "transaction"]


def test_phi_example_flags_slow_calls_and_leaks_nothing(tmp_path: Path) -> None:
    result = run_cli("invoke", "orchestrator", "examples/events/epic_created_with_fake_phi.json",
                     "--out", str(tmp_path), "--dynamodb-latency-ms", "120")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("[SLOW DynamoDB > 100 ms]") == 6
    assert "6 warnings" in result.stdout
    for output in (result.stdout, result.stderr, (tmp_path / "spans.jsonl").read_text(),
                   (tmp_path / "sentry.jsonl").read_text()):
        assert leaked(output) == []


def test_otlp_endpoint_receives_redacted_spans(
    tmp_path: Path, otlp_receiver: tuple[str, list[ExportTraceServiceRequest]]
) -> None:
    endpoint, received = otlp_receiver
    result = run_cli("invoke", "orchestrator", "examples/events/epic_created_with_fake_phi.json",
                     "--otlp-endpoint", endpoint)
    assert result.returncode == 0, result.stderr
    names = [span.name for request in received for resource_spans in request.resource_spans
             for scope_spans in resource_spans.scope_spans for span in scope_spans.spans]
    assert sorted(names) == sorted([
        "clinisight-orchestrator", "orchestrator.route", "Lambda.Invoke", "clinisight-tasksmith",
        "DynamoDB.GetItem", *["DynamoDB.UpdateItem"] * 5, "tasksmith.decompose_epic",
        "GET", "POST", "POST", "POST",
    ])
    for request in received:
        assert leaked(request.SerializeToString().decode("utf-8", "replace")) == []


def test_eventbridge_example_routes_epic() -> None:
    result = run_cli("invoke", "orchestrator", "examples/events/epic_created_eventbridge.json")
    assert result.returncode == 0, result.stderr
    assert '"routed": [{"agent": "tasksmith", "issue_key": "CLIN-42"}]' in result.stdout
    assert "clinisight-tasksmith: returned" in result.stdout


def test_invalid_example_exits_zero_with_400(tmp_path: Path) -> None:
    result = run_cli("invoke", "orchestrator", "examples/events/invalid_issue_key_number.json")
    assert result.returncode == 0, result.stderr
    assert '"statusCode": 400' in result.stdout
    assert "field 'issue.key' must be a string, not a number" in result.stdout
    assert "1 warning," in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "event file not found"), ("{not json", "is not valid JSON (line 1, column 2)")],
)
def test_bad_event_file_clear_error(tmp_path: Path, content: str | None, message: str) -> None:
    event_file = tmp_path / "event.json"
    if content is not None:
        event_file.write_text(content)
    result = run_cli("invoke", "orchestrator", str(event_file))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_negative_latency_rejected() -> None:
    result = run_cli("invoke", "orchestrator", "examples/events/epic_created_direct.json",
                     "--dynamodb-latency-ms", "-1")
    assert result.returncode == 2
    assert "expected a number of milliseconds, 0 or more" in result.stderr


EXAMPLES = sorted(path.name for path in EVENTS_DIR.glob("*.json"))


@pytest.mark.parametrize("example", EXAMPLES)
def test_scan_clean_on_own_output(example: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    invoked = run_cli("invoke", "orchestrator", f"examples/events/{example}", "--out", str(out),
                      "--dynamodb-latency-ms", "110")
    assert invoked.returncode == 0, invoked.stderr
    log_file = tmp_path / "run.log"
    log_file.write_text(invoked.stdout + invoked.stderr)

    scanned = run_cli("scan", str(out), str(log_file))
    assert scanned.stdout == ""
    assert scanned.returncode == 0, scanned.stdout


def test_scan_finds_planted_phi(tmp_path: Path) -> None:
    out = tmp_path / "out"
    invoked = run_cli("invoke", "orchestrator", "examples/events/epic_created_direct.json", "--out", str(out))
    assert invoked.returncode == 0, invoked.stderr
    spans_file = out / "spans.jsonl"
    span = json.loads(spans_file.read_text().splitlines()[0])
    span["attributes"]["patient.email"] = "jane.roe@example.com"
    span["attributes"]["custom.ref"] = "MRN 00123456"
    with spans_file.open("a") as output:
        output.write(json.dumps(span) + "\n")
    log_file = tmp_path / "app.log"
    log_file.write_text("2026-12-04 20:40:00,123 INFO ok\n2026-12-04 20:40:01,000 WARNING SSN 000-12-3456\n")

    result = run_cli("scan", str(out), str(log_file))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"{log_file}:2: ssn" in lines
    span_line = len(spans_file.read_text().splitlines())
    assert f"{spans_file}:{span_line}: phi_key in attributes.patient.email" in lines
    assert f"{spans_file}:{span_line}: mrn in attributes.custom.ref" in lines
    assert len(lines) == 3
    assert leaked(result.stdout + result.stderr) == []


def test_scan_missing_path_exits_two() -> None:
    result = run_cli("scan", "no/such/file.jsonl")
    assert result.returncode == 2
    assert "not found: no/such/file.jsonl" in result.stderr


def test_endpoint_url_runs_against_real_endpoint(aws_endpoint: str, local_run: LocalRun, tmp_path: Path) -> None:
    # moto's server shares its backends with the session's in-process moto; `local_run` has
    # just emptied the state table there.
    result = run_cli("invoke", "orchestrator", "examples/events/epic_created_direct.json",
                     "--endpoint-url", aws_endpoint, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "services: clinisight-orchestrator, clinisight-tasksmith" in result.stdout
    spans = [json.loads(line) for line in (tmp_path / "spans.jsonl").read_text().splitlines()]
    dynamodb = [s for s in spans if s["name"].startswith("DynamoDB.")]
    assert len(dynamodb) == 6
    assert all(s["attributes"]["server.address"] == "127.0.0.1" for s in dynamodb)

    import boto3

    client = boto3.client("dynamodb", endpoint_url=aws_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    item = client.get_item(TableName="ClinisightAgentState",
                           Key={"agent_name": {"S": "tasksmith"}, "entity_id": {"S": "CLIN-42"}})["Item"]
    assert item["status"]["S"] == "completed"


def test_silent_backends_bounded_by_flush_budget(silent_server: str, tmp_path: Path) -> None:
    """With Sentry and the collector accepting connections and never responding, each of the two
    invocations waits at most the flush budget, and the run still succeeds."""
    started = time.monotonic()
    healthy = run_cli("invoke", "orchestrator", "examples/events/epic_created_direct.json")
    healthy_s = time.monotonic() - started
    assert healthy.returncode == 0, healthy.stderr

    dsn = silent_server.replace("http://", "http://publickey@") + "/1"
    started = time.monotonic()
    silent = run_cli("invoke", "orchestrator", "examples/events/epic_created_direct.json",
                     "--sentry-dsn", dsn, "--otlp-endpoint", silent_server,
                     env_extra={"CLINISIGHT_FLUSH_BUDGET_MS": "500"})
    silent_s = time.monotonic() - started
    assert silent.returncode == 0, silent.stderr
    assert "services: clinisight-orchestrator, clinisight-tasksmith" in silent.stdout
    # Two invocations x 500 ms budget, plus at most 1.5 s for start-up jitter on a busy machine.
    assert silent_s - healthy_s < 2 * 0.5 + 1.5
