"""Unwrapping and validating webhook deliveries."""

from __future__ import annotations

import base64
import json

import pytest

from handlers.webhook import JiraWebhook, split_event
from tests.examples import load_event

EXPECTED = JiraWebhook(event_type="jira:issue_created", issue_key="CLIN-42", project_key="CLIN", issue_type="Epic")


@pytest.mark.parametrize(
    ("example", "source"),
    [
        ("epic_created_direct.json", "direct"),
        ("epic_created_apigw_v1.json", "api_gateway"),
        ("epic_created_apigw_v2_base64.json", "api_gateway"),
    ],
)
def test_envelopes_parse_to_same_webhook(example: str, source: str) -> None:
    parsed_source, deliveries = split_event(load_event(example))
    assert parsed_source == source
    assert [d.webhook for d in deliveries] == [EXPECTED]


def test_sqs_batch_parses_each_record() -> None:
    event = load_event("epic_created_sqs.json")
    event["Records"].append({**event["Records"][0], "messageId": "second", "body": "not json"})
    source, deliveries = split_event(event)
    assert source == "sqs"
    assert deliveries[0].webhook is not None
    assert deliveries[0].webhook.issue_key == "CLIN-43"
    assert deliveries[1].error is not None
    assert deliveries[1].error.field == "Records[1].body"
    assert deliveries[1].record_id == "second"


def test_eventbridge_detail_parses() -> None:
    event = {"detail-type": "Jira webhook", "source": "jira", "detail": load_event("epic_created_direct.json")}
    source, deliveries = split_event(event)
    assert source == "eventbridge"
    assert deliveries[0].webhook == EXPECTED


def apigw(body: object, *, encoded: bool = False) -> dict:
    return {"httpMethod": "POST", "headers": {}, "requestContext": {}, "body": body, "isBase64Encoded": encoded}


@pytest.mark.parametrize(
    ("event", "field", "problem"),
    [
        ("a string", "event", "must be a JSON object"),
        ([1, 2], "event", "must be a JSON object"),
        (apigw(""), "body", "is missing or empty"),
        (apigw("{not json"), "body", "is not valid JSON"),
        (apigw("[1]"), "body", "must be a JSON object"),
        (apigw("%%%", encoded=True), "body", "is not valid base64-encoded UTF-8"),
        ({"issue": {"key": "CLIN-1"}}, "webhookEvent", "is missing"),
        ({"webhookEvent": "jira:issue_created"}, "issue", "is missing"),
        ({"webhookEvent": "jira:issue_created", "issue": "CLIN-1"}, "issue", "must be an object"),
        ({"webhookEvent": "jira:issue_created", "issue": {"key": 45}}, "issue.key", "must be a string, not a number"),
        ({"webhookEvent": "jira:issue_created", "issue": {"key": "not a key"}}, "issue.key",
         "is not a Jira issue key such as PROJ-123"),
        ({"webhookEvent": 7, "issue": {"key": "CLIN-1"}}, "webhookEvent", "must be a string, not a number"),
    ],
)
def test_invalid_events_name_the_field(event: object, field: str, problem: str) -> None:
    _, deliveries = split_event(event)
    error = deliveries[0].error
    assert error is not None
    assert error.field == field
    assert error.problem == problem
    assert str(error) == f"Invalid event: field '{field}' {problem}"


def test_error_message_never_echoes_value() -> None:
    body = {"webhookEvent": "jira:issue_created", "issue": {"key": "Jane Roe 000-12-3456"}}
    _, deliveries = split_event(apigw(base64.b64encode(json.dumps(body).encode()).decode(), encoded=True))
    error = deliveries[0].error
    assert error is not None
    assert "Jane" not in str(error)
    assert "000-12-3456" not in str(error)


def test_bundled_invalid_example_rejected() -> None:
    _, deliveries = split_event(load_event("invalid_issue_key_number.json"))
    assert deliveries[0].error is not None
    assert deliveries[0].error.field == "issue.key"
