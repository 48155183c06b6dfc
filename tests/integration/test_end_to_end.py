"""Both functions in one process against moto, the Jira stand-in and the local Sentry sink."""

from __future__ import annotations

import json

import boto3
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from handlers.local.report import span_to_dict
from handlers.local.runner import LocalRun
from handlers.state_store import DEFAULT_TABLE_NAME
from telemetry import attributes as attrs
from tests.canaries import leaked
from tests.examples import load_event


def run_example(run: LocalRun, name: str) -> list:
    event = load_event(name)
    run.seed_jira_from_event(event)
    return run.invoke("clinisight-orchestrator", event)


def server_span(spans: list[ReadableSpan], service: str) -> ReadableSpan:
    matches = [s for s in spans if s.kind is SpanKind.SERVER and s.resource.attributes["service.name"] == service]
    assert len(matches) == 1, f"expected one server span for {service}, got {len(matches)}"
    return matches[0]


def sentry_events(run: LocalRun, level: str | None = None) -> list[dict]:
    assert run.sentry_sink is not None
    events = [item.json() for item in run.sentry_sink.items("event")]
    return [e for e in events if level is None or e.get("level") == level]


def stored_state(issue_key: str) -> dict:
    item = boto3.client("dynamodb").get_item(
        TableName=DEFAULT_TABLE_NAME, Key={"agent_name": {"S": "tasksmith"}, "entity_id": {"S": issue_key}}
    )["Item"]
    return item


def test_one_trace_spans_both_functions(local_run: LocalRun) -> None:
    results = run_example(local_run, "epic_created_direct.json")
    assert [r.error for r in results] == [None, None]
    spans = local_run.spans()

    assert len({s.context.trace_id for s in spans}) == 1
    orchestrator = server_span(spans, "clinisight-orchestrator")
    tasksmith = server_span(spans, "clinisight-tasksmith")
    invoke = next(s for s in spans if s.name == "Lambda.Invoke")
    assert invoke.parent.span_id != 0
    assert tasksmith.parent.span_id == invoke.context.span_id
    assert orchestrator.parent is None
    assert orchestrator.attributes["faas.trigger"] == "other"
    assert orchestrator.attributes[attrs.JIRA_ISSUE_KEY] == "CLIN-42"
    assert tasksmith.resource.attributes["faas.name"] == "clinisight-tasksmith"
    assert tasksmith.resource.attributes["cloud.provider"] == "aws"


def test_dynamodb_and_jira_spans_present(local_run: LocalRun) -> None:
    run_example(local_run, "epic_created_direct.json")
    names = [s.name for s in local_run.spans()]
    assert names.count("DynamoDB.GetItem") == 1
    # One claim, one record per created subtask, one completion.
    assert names.count("DynamoDB.UpdateItem") == 5
    assert names.count("GET") == 1
    assert names.count("POST") == 3
    jira_get = next(s for s in local_run.spans() if s.name == "GET")
    assert jira_get.attributes["http.status_code"] == 200


def test_subtasks_created_and_state_saved(local_run: LocalRun) -> None:
    results = run_example(local_run, "epic_created_apigw_v1.json")
    tasksmith_result = results[1].response
    assert tasksmith_result["status"] == "completed"
    subtasks = local_run.jira.subtasks_of("CLIN-42")
    assert [s["fields"]["summary"] for s in subtasks] == [
        "Load active prescriptions from the pharmacy service",
        "Flag duplicate and conflicting medications",
        "Show the reconciled list on the discharge screen",
    ]
    assert all(s["fields"]["issuetype"]["name"] == "Subtask" for s in subtasks)
    state = stored_state("CLIN-42")
    assert state["status"]["S"] == "completed"
    assert [key["S"] for key in state["subtask_keys"]["L"]] == tasksmith_result["subtasks"]


def test_retried_epic_creates_no_duplicates(local_run: LocalRun) -> None:
    first = run_example(local_run, "epic_created_sqs.json")
    second = run_example(local_run, "epic_created_sqs.json")
    assert first[0].response["batchItemFailures"] == []
    assert second[1].response["status"] == "already_completed"
    assert len(local_run.jira.subtasks_of("CLIN-43")) == 3


def test_api_gateway_response_shape(local_run: LocalRun) -> None:
    results = run_example(local_run, "epic_created_apigw_v2_base64.json")
    response = results[0].response
    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body["routed"] == [{"agent": "tasksmith", "issue_key": "CLIN-42"}]
    orchestrator = server_span(local_run.spans(), "clinisight-orchestrator")
    assert orchestrator.attributes["faas.trigger"] == "http"


def test_slow_calls_flagged_and_warned(local_run: LocalRun) -> None:
    local_run.aws.dynamodb_latency_ms = 150
    run_example(local_run, "epic_created_with_fake_phi.json")
    dynamodb_spans = [s for s in local_run.spans() if s.name.startswith("DynamoDB.")]
    assert len(dynamodb_spans) == 6
    assert all(s.attributes[attrs.DYNAMODB_SLOW] is True for s in dynamodb_spans)
    assert all(s.attributes[attrs.DYNAMODB_SLOW_THRESHOLD_MS] == 100 for s in dynamodb_spans)

    warnings = [e for e in sentry_events(local_run, "warning") if e.get("fingerprint", [""])[0] == "slow-dynamodb"]
    assert len(warnings) == 6
    assert {tuple(w["fingerprint"]) for w in warnings} == {
        ("slow-dynamodb", "GetItem", DEFAULT_TABLE_NAME),
        ("slow-dynamodb", "UpdateItem", DEFAULT_TABLE_NAME),
    }
    trace_id = format_trace_id(dynamodb_spans[0].context.trace_id)
    assert all(w["contexts"]["trace"]["trace_id"] == trace_id for w in warnings)
    assert warnings[0]["message"].startswith("Slow DynamoDB call: ")


def test_fast_calls_not_flagged(local_run: LocalRun) -> None:
    run_example(local_run, "epic_created_direct.json")
    dynamodb_spans = [s for s in local_run.spans() if s.name.startswith("DynamoDB.")]
    assert dynamodb_spans
    assert not any(attrs.DYNAMODB_SLOW in s.attributes for s in dynamodb_spans)
    assert not [e for e in sentry_events(local_run) if e.get("fingerprint", [""])[0] == "slow-dynamodb"]


def test_fake_phi_absent_from_every_sink(local_run: LocalRun) -> None:
    local_run.aws.dynamodb_latency_ms = 120
    results = run_example(local_run, "epic_created_with_fake_phi.json")
    assert [r.error for r in results] == [None, None]
    # The PHI did reach Jira, where it belongs, so the run really carried it.
    assert any("Jane Roe" in s["fields"]["summary"] for s in local_run.jira.subtasks_of("CLIN-44"))

    exported = "\n".join(json.dumps(span_to_dict(s)) for s in local_run.spans())
    assert leaked(exported) == []
    assert local_run.sentry_sink is not None
    envelopes = local_run.sentry_sink.envelopes()
    assert envelopes
    for envelope in envelopes:
        assert leaked(envelope.raw.decode("utf-8", "replace")) == []


def test_jira_token_and_trace_headers_stay_local(local_run: LocalRun) -> None:
    run_example(local_run, "epic_created_direct.json")
    requests_to_jira = local_run.jira.requests
    assert requests_to_jira
    for request in requests_to_jira:
        assert "traceparent" not in request.headers
        assert "sentry-trace" not in request.headers
        assert "baggage" not in request.headers
    exported = "\n".join(json.dumps(span_to_dict(s)) for s in local_run.spans())
    assert local_run.jira.api_token not in exported
    assert local_run.sentry_sink is not None
    assert all(local_run.jira.api_token.encode() not in e.raw for e in local_run.sentry_sink.envelopes())


def test_tasksmith_error_shares_trace_id(local_run: LocalRun) -> None:
    event = load_event("epic_created_direct.json")
    event["issue"]["key"] = "ERR-7"
    event["issue"]["fields"]["project"]["key"] = "ERR"
    local_run.jira.fail_next("POST", "/rest/api/3/issue", status=500)
    local_run.seed_jira_from_event(event)
    results = local_run.invoke("clinisight-orchestrator", event)

    assert results[0].error is None
    assert type(results[1].error).__name__ == "JiraError"
    tasksmith = server_span(local_run.spans(), "clinisight-tasksmith")
    assert tasksmith.status.status_code is StatusCode.ERROR
    assert tasksmith.status.description == "JiraError"

    errors = sentry_events(local_run, "error")
    assert len(errors) == 1
    error = errors[0]
    assert error["exception"]["values"][-1]["type"] == "JiraError"
    assert error["contexts"]["trace"]["trace_id"] == format_trace_id(tasksmith.context.trace_id)
    assert error["contexts"]["trace"]["span_id"] == format_span_id(tasksmith.context.span_id)
    assert error["contexts"]["jira"]["issue_key"] == "ERR-7"
    assert error["tags"]["service"] == "clinisight-tasksmith"

    state = stored_state("ERR-7")
    assert state["status"]["S"] == "failed"
    assert state["error_type"]["S"] == "JiraError"


@pytest.mark.parametrize(
    ("example", "field"),
    [("invalid_issue_key_number.json", "issue.key")],
)
def test_bad_input_gets_400(local_run: LocalRun, example: str, field: str) -> None:
    results = run_example(local_run, example)
    assert len(results) == 1
    response = results[0].response
    assert response["statusCode"] == 400
    assert response["rejected"][0]["field"] == field
    assert field in response["rejected"][0]["message"]
    warnings = sentry_events(local_run, "warning")
    assert [w["fingerprint"] for w in warnings] == [["invalid-event", field]]


def test_unknown_event_type_acknowledged(local_run: LocalRun) -> None:
    results = run_example(local_run, "issue_updated_ignored.json")
    assert len(results) == 1
    assert results[0].response["statusCode"] == 202
    assert results[0].response["ignored"][0]["event_type"] == "jira:issue_updated"
    assert not [s for s in local_run.spans() if s.name == "Lambda.Invoke"]


def test_non_object_event_rejected(local_run: LocalRun) -> None:
    results = local_run.invoke("clinisight-orchestrator", ["not", "an", "object"])
    assert results[0].response["statusCode"] == 400
    assert results[0].response["rejected"][0]["field"] == "event"


def test_tasksmith_rejects_bad_payload(local_run: LocalRun) -> None:
    results = local_run.invoke("clinisight-tasksmith", {"event_type": "jira:issue_created", "issue_key": 42,
                                                         "project_key": "CLIN", "headers": "garbage"})
    assert results[0].error is None
    assert results[0].response == {"status": "rejected", "field": "issue_key",
                                   "message": "Invalid event: field 'issue_key' must be a string"}
    tasksmith = server_span(local_run.spans(), "clinisight-tasksmith")
    assert tasksmith.parent is None


@pytest.mark.parametrize("payload", ["plain text", [1, 2, 3], None, 42])
def test_tasksmith_rejects_non_object_payload(local_run: LocalRun, payload: object) -> None:
    results = local_run.invoke("clinisight-tasksmith", payload)
    assert results[0].error is None
    assert results[0].response == {"status": "rejected", "field": "event",
                                   "message": "Invalid event: field 'event' must be a JSON object"}
