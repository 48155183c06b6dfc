"""A catalogue of bad deliveries: each gets its expected outcome, none crashes or leaks PHI."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from botocore.stub import Stubber

from handlers.local.runner import LocalRun
from tests.canaries import leaked
from tests.examples import load_event


def valid_body() -> dict[str, Any]:
    return load_event("epic_created_direct.json")


def apigw(body: Any, *, encoded: bool = False) -> dict[str, Any]:
    return {"httpMethod": "POST", "headers": {"Content-Type": "application/json"}, "requestContext": {},
            "body": body, "isBase64Encoded": encoded}


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"nested": value}
    return value


def with_issue(**changes: Any) -> dict[str, Any]:
    body = valid_body()
    body["issue"].update(changes)
    return body


# (case, event, expected status code, expected rejected field or None)
CATALOGUE = [
    ("not a mapping", "just text", 400, "event"),
    ("a list", [1, 2, 3], 400, "event"),
    ("empty body", apigw(""), 400, "body"),
    ("invalid JSON", apigw("{not json"), 400, "body"),
    ("invalid base64", apigw("%%%not base64", encoded=True), 400, "body"),
    ("JSON array body", apigw("[1, 2]"), 400, "body"),
    ("deeply nested JSON body", apigw("[" * 100_000 + "]" * 100_000), 400, "body"),
    ("deeply nested direct event", {**valid_body(), "extra": nested(5_000)}, 202, None),
    ("6 MB payload", {**valid_body(), "padding": "x" * (6 * 1024 * 1024)}, 202, None),
    ("unknown webhookEvent", {**valid_body(), "webhookEvent": "jira:something_new"}, 202, None),
    ("missing webhookEvent", {k: v for k, v in valid_body().items() if k != "webhookEvent"}, 400, "webhookEvent"),
    ("missing issue", {k: v for k, v in valid_body().items() if k != "issue"}, 400, "issue"),
    ("issue key a number", with_issue(key=42), 400, "issue.key"),
    ("issue key not a key", with_issue(key="Jane Roe 000-12-3456"), 400, "issue.key"),
    ("fields not an object", with_issue(fields="x"), 400, "issue.fields"),
    ("project key a number", with_issue(fields={"project": {"key": 7}}), 400, "issue.fields.project.key"),
    ("unicode in free text", with_issue(fields={**valid_body()["issue"]["fields"],
                                                "summary": "Zoë \u200b\ud83d\ude00 \u202e reversed \u0000 nul"}),
     202, None),
    ("timestamp as text and extra keys", {**valid_body(), "timestamp": "2026-12-04T09:30:00Z",
                                          "unexpected": {"anything": [1, 2]}}, 202, None),
    ("unknown custom fields", with_issue(fields={**valid_body()["issue"]["fields"],
                                                 "customfield_99999": {"value": "Jane Roe"}}), 202, None),
]


@pytest.mark.parametrize(("case", "event", "status", "field"), CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_delivery_outcome(local_run: LocalRun, case: str, event: Any, status: int, field: str | None) -> None:
    if isinstance(event, dict):
        local_run.seed_jira_from_event(event)
    results = local_run.invoke("clinisight-orchestrator", event)
    assert all(result.error is None for result in results)
    response = results[0].response
    body = json.loads(response["body"]) if "body" in response and isinstance(response["body"], str) else response
    assert response["statusCode"] == status
    if field is not None:
        assert body["rejected"][0]["field"] == field
    exported = "\n".join(json.dumps(s.attributes and dict(s.attributes), default=str) for s in local_run.spans())
    assert leaked(exported + json.dumps(body)) == []
    assert local_run.sentry_sink is not None
    assert all(leaked(e.raw.decode("utf-8", "replace")) == [] for e in local_run.sentry_sink.envelopes())


def test_sqs_batch_keeps_good_records(local_run: LocalRun) -> None:
    good = valid_body()
    other = copy.deepcopy(good)
    other["issue"]["key"] = "CLIN-77"
    records = [
        {"messageId": "good", "eventSource": "aws:sqs", "body": json.dumps(good)},
        {"messageId": "not-json", "eventSource": "aws:sqs", "body": "{broken"},
        {"messageId": "wrong-type", "eventSource": "aws:sqs", "body": json.dumps(with_issue(key=5))},
        {"messageId": "other-good", "eventSource": "aws:sqs", "body": json.dumps(other)},
    ]
    local_run.seed_jira_from_event({"Records": records})
    results = local_run.invoke("clinisight-orchestrator", {"Records": records})
    response = results[0].response
    assert [r["issue_key"] for r in response["routed"]] == ["CLIN-42", "CLIN-77"]
    assert [r["field"] for r in response["rejected"]] == ["Records[1].body", "Records[2].body.issue.key"]
    # Invalid records are acknowledged, not retried: a retry cannot fix them.
    assert response["batchItemFailures"] == []
    assert [r.response["status"] for r in results[1:]] == ["completed", "completed"]


def test_sqs_failed_invoke_reported_for_retry(local_run: LocalRun) -> None:
    from handlers.orchestrator import lambda_client

    records = [{"messageId": "m1", "eventSource": "aws:sqs", "body": json.dumps(valid_body())}]
    # moto accepts async invokes of any name, so botocore's Stubber supplies Lambda's error.
    with Stubber(lambda_client()) as stubber:
        stubber.add_client_error("invoke", service_error_code="ResourceNotFoundException", http_status_code=404)
        results = local_run.invoke("clinisight-orchestrator", {"Records": records})
    assert len(results) == 1
    response = results[0].response
    assert response["statusCode"] == 502
    assert response["failed"][0]["error"] == "ResourceNotFoundException"
    assert response["batchItemFailures"] == [{"itemIdentifier": "m1"}]


def test_base64_body_round_trip(local_run: LocalRun) -> None:
    body = base64.b64encode(json.dumps(valid_body()).encode()).decode()
    local_run.seed_jira_from_event(valid_body())
    results = local_run.invoke("clinisight-orchestrator", apigw(body, encoded=True))
    assert results[0].response["statusCode"] == 202
