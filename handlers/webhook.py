"""Parsing Jira webhook deliveries in every envelope the orchestrator accepts.

A webhook reaches the orchestrator in one of four envelopes:
- directly, where the Lambda event is the webhook body;
- through API Gateway, as a REST v1 or HTTP v2 proxy event with a JSON body, possibly
  base64-encoded;
- through EventBridge, in `detail`;
- as an SQS batch whose record bodies are webhook bodies.

Parsing keeps only routing facts: the event type, the issue key, the project key and the issue
type. Errors name the field and the problem, never the value, because values can be PHI.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telemetry.phi import PhiSafeError

ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}$")
PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,254}$")


class InvalidEventError(PhiSafeError, ValueError):
    """A delivery that cannot be routed. The message names the field, never its value."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"Invalid event: field '{field}' {problem}")


@dataclass(frozen=True)
class JiraWebhook:
    """The routing facts of one Jira webhook delivery."""

    event_type: str
    issue_key: str
    project_key: str
    issue_type: str | None


@dataclass(frozen=True)
class Delivery:
    """One webhook from a Lambda event, or the reason it could not be parsed."""

    source: str
    webhook: JiraWebhook | None = None
    error: InvalidEventError | None = None
    record_id: str | None = None


@dataclass(frozen=True)
class Envelope:
    """One webhook body as unwrapped from a Lambda event, or the reason it could not be."""

    source: str
    body: Any = None
    field_prefix: str = ""
    error: InvalidEventError | None = None
    record_id: str | None = None


def unwrap_event(event: Any) -> tuple[str, list[Envelope]]:
    """Return the envelope name and the webhook bodies that a Lambda event carries."""
    if not isinstance(event, Mapping):
        return "unknown", [Envelope("unknown", error=InvalidEventError("event", "must be a JSON object"))]

    records = event.get("Records")
    if isinstance(records, list):
        return "sqs", [_sqs_envelope(index, record) for index, record in enumerate(records)]
    if "httpMethod" in event or _is_http_v2(event):
        try:
            return "api_gateway", [Envelope("api_gateway", body=_api_gateway_body(event))]
        except InvalidEventError as error:
            return "api_gateway", [Envelope("api_gateway", error=error)]
    if "detail" in event and "detail-type" in event:
        return "eventbridge", [Envelope("eventbridge", body=event["detail"], field_prefix="detail.")]
    return "direct", [Envelope("direct", body=event)]


def split_event(event: Any) -> tuple[str, list[Delivery]]:
    """Unwrap a Lambda event and parse each webhook body it carries."""
    source, envelopes = unwrap_event(event)
    return source, [_parse_envelope(envelope) for envelope in envelopes]


def _parse_envelope(envelope: Envelope) -> Delivery:
    if envelope.error is not None:
        return Delivery(envelope.source, error=envelope.error, record_id=envelope.record_id)
    try:
        webhook = parse_webhook(envelope.body, prefix=envelope.field_prefix)
    except InvalidEventError as error:
        return Delivery(envelope.source, error=error, record_id=envelope.record_id)
    return Delivery(envelope.source, webhook=webhook, record_id=envelope.record_id)


def _sqs_envelope(index: int, record: Any) -> Envelope:
    prefix = f"Records[{index}]"
    if not isinstance(record, Mapping):
        return Envelope("sqs", error=InvalidEventError(prefix, "must be an object"))
    record_id = record.get("messageId") if isinstance(record.get("messageId"), str) else None
    body = record.get("body")
    if not isinstance(body, str):
        return Envelope("sqs", error=InvalidEventError(f"{prefix}.body", "must be a string"), record_id=record_id)
    try:
        return Envelope("sqs", body=_json_object(body, f"{prefix}.body"), field_prefix=f"{prefix}.body.",
                        record_id=record_id)
    except InvalidEventError as error:
        return Envelope("sqs", error=error, record_id=record_id)


def _is_http_v2(event: Mapping[str, Any]) -> bool:
    request_context = event.get("requestContext")
    return isinstance(request_context, Mapping) and isinstance(request_context.get("http"), Mapping)


def _api_gateway_body(event: Mapping[str, Any]) -> dict[str, Any]:
    body = event.get("body")
    if body is None or body == "":
        raise InvalidEventError("body", "is missing or empty")
    if not isinstance(body, str):
        raise InvalidEventError("body", "must be a string")
    if event.get("isBase64Encoded") is True:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidEventError("body", "is not valid base64-encoded UTF-8") from None
    return _json_object(body, "body")


def _json_object(text: str, field: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise InvalidEventError(field, "is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidEventError(field, "must be a JSON object")
    return value


def parse_webhook(body: Any, *, prefix: str = "") -> JiraWebhook:
    """Extract the routing facts from a Jira webhook body."""
    if not isinstance(body, Mapping):
        raise InvalidEventError(prefix.rstrip(".") or "event", "must be a JSON object")

    event_type = _required_string(body, "webhookEvent", prefix)
    issue = body.get("issue")
    if issue is None:
        raise InvalidEventError(f"{prefix}issue", "is missing")
    if not isinstance(issue, Mapping):
        raise InvalidEventError(f"{prefix}issue", "must be an object")

    issue_key = _required_string(issue, "key", f"{prefix}issue.")
    if not ISSUE_KEY.match(issue_key):
        raise InvalidEventError(f"{prefix}issue.key", "is not a Jira issue key such as PROJ-123")

    fields = issue.get("fields")
    if fields is not None and not isinstance(fields, Mapping):
        raise InvalidEventError(f"{prefix}issue.fields", "must be an object")
    fields = fields or {}

    project_key = issue_key.rsplit("-", 1)[0]
    project = fields.get("project")
    if isinstance(project, Mapping) and "key" in project:
        project_key = _required_string(project, "key", f"{prefix}issue.fields.project.")
        if not PROJECT_KEY.match(project_key):
            raise InvalidEventError(f"{prefix}issue.fields.project.key", "is not a Jira project key")

    issue_type = None
    issuetype = fields.get("issuetype")
    if isinstance(issuetype, Mapping) and isinstance(issuetype.get("name"), str):
        issue_type = issuetype["name"]

    return JiraWebhook(
        event_type=event_type, issue_key=issue_key, project_key=project_key, issue_type=issue_type
    )


def _required_string(container: Mapping[str, Any], key: str, prefix: str) -> str:
    value = container.get(key)
    field = f"{prefix}{key}"
    if value is None:
        raise InvalidEventError(field, "is missing")
    if not isinstance(value, str):
        raise InvalidEventError(field, f"must be a string, not {_json_type(value)}")
    if not value.strip():
        raise InvalidEventError(field, "is empty")
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return "another type"
