"""Operational values that the policy must leave intact: over-redaction makes traces useless."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, format_trace_id

from handlers.local.runner import LocalRun
from telemetry.phi import redact_text, redact_value
from tests.examples import load_event

# (attribute key, value) pairs as the instrumentations and handlers emit them.
OPERATIONAL = [
    ("clinisight.jira.issue_key", "CLIN-42"),
    ("clinisight.jira.project_key", "CLIN"),
    ("clinisight.jira.event_type", "jira:issue_created"),
    ("aws.dynamodb.table_names", ("ClinisightAgentState",)),
    ("faas.name", "clinisight-tasksmith"),
    ("faas.invoked_name", "clinisight-tasksmith"),
    ("cloud.resource_id", "arn:aws:lambda:us-east-1:123456789012:function:clinisight-tasksmith"),
    ("aws.lambda.invoked_arn", "arn:aws:lambda:eu-west-1:210987654321:function:clinisight-orchestrator:live"),
    ("aws.request_id", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
    ("aws.request_id", "YviEzRHDDMLYmyHPOY1Jv82KES1CSQEKYHt9YMFLVRqpzYvoewm6"),
    ("faas.invocation_id", "4c8ba0f2-52a5-4a8e-9b7b-6c0a5e3b2f11"),
    ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
    ("span_id", "00f067aa0ba902b7"),
    ("http.status_code", 201),
    ("http.status_code", 429),
    ("http.method", "POST"),
    ("http.route", "/rest/api/3/issue/{issueIdOrKey}"),
    ("http.url", "https://example.atlassian.net/rest/api/3/issue/CLIN-42"),
    ("server.address", "dynamodb.us-east-1.amazonaws.com"),
    ("server.port", 443),
    ("rpc.method", "PutItem"),
    ("rpc.service", "DynamoDB"),
    ("db.operation", "Query"),
    ("clinisight.dynamodb.duration_ms", 153.125),
    ("clinisight.dynamodb.slow_threshold_ms", 100.0),
    ("retry_attempts", 2),
    ("faas.coldstart", True),
    ("service.name", "clinisight-orchestrator"),
    ("telemetry.sdk.version", "1.45.2"),
    ("cloud.region", "us-east-1"),
    ("deployment.environment", "production"),
    ("error.type", "ConditionalCheckFailedException"),
    ("exception.type", "botocore.exceptions.ClientError"),
]


@pytest.mark.parametrize(("key", "value"), OPERATIONAL)
def test_operational_value_survives(key: str, value: object) -> None:
    assert redact_value(key, value) == value
    if isinstance(value, str):
        assert redact_text(value) == value


def test_operational_values_survive_end_to_end(local_run: LocalRun) -> None:
    event = load_event("epic_created_direct.json")
    local_run.seed_jira_from_event(event)
    results = local_run.invoke("clinisight-orchestrator", event)
    spans = local_run.spans()

    tasksmith = next(s for s in spans if s.kind is SpanKind.SERVER and s.name == "clinisight-tasksmith")
    assert tasksmith.attributes["clinisight.jira.issue_key"] == "CLIN-42"
    assert tasksmith.attributes["faas.invocation_id"] == results[1].request_id
    assert tasksmith.attributes["cloud.resource_id"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:clinisight-tasksmith")
    put = next(s for s in spans if s.name == "DynamoDB.UpdateItem")
    assert put.attributes["aws.dynamodb.table_names"] == ("ClinisightAgentState",)
    assert put.attributes["http.status_code"] == 200
    assert put.attributes["aws.request_id"]
    post = next(s for s in spans if s.name == "POST")
    assert post.attributes["http.method"] == "POST"
    assert post.attributes["http.url"].endswith("/rest/api/3/issue")
    assert post.attributes["http.status_code"] == 201
    get = next(s for s in spans if s.name == "GET")
    assert "/rest/api/3/issue/CLIN-42?fields=" in get.attributes["http.url"]

    assert local_run.sentry_sink is not None
    transactions = [item.json() for item in local_run.sentry_sink.items("transaction")]
    assert sorted(t["transaction"] for t in transactions) == ["clinisight-orchestrator", "clinisight-tasksmith"]
    tasksmith_transaction = next(t for t in transactions if t["transaction"] == "clinisight-tasksmith")
    assert tasksmith_transaction["contexts"]["trace"]["trace_id"] == format_trace_id(tasksmith.context.trace_id)
    assert tasksmith_transaction["tags"]["service"] == "clinisight-tasksmith"
    assert tasksmith_transaction["contexts"]["jira"]["issue_key"] == "CLIN-42"
    descriptions = {span["description"] for span in tasksmith_transaction["spans"]}
    assert {"DynamoDB.GetItem", "DynamoDB.UpdateItem", "tasksmith.decompose_epic"} <= descriptions
