"""The orchestrator: route Jira webhook events to agent Lambdas.

It accepts a webhook directly, through API Gateway (v1 or v2), EventBridge or an SQS batch
(see `handlers.webhook`). An epic creation goes to TaskSmith, invoked asynchronously with only
the event type, the issue key and the project key. Other event types are acknowledged and
reported as ignored. Invalid deliveries get a 400-style result that names the field.

Responses: `statusCode` is 202 when everything was routed or ignored, 400 when every delivery
was invalid, and 502 when an agent could not be invoked. API Gateway receives the summary as a
JSON body; an SQS batch also receives `batchItemFailures` for the records to retry.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from opentelemetry import trace

from handlers.webhook import Delivery, JiraWebhook, split_event
from telemetry import (
    annotate_invocation,
    capture_exception,
    capture_warning,
    invocation_span,
    setup_telemetry,
)
from telemetry import attributes as attrs

telemetry = setup_telemetry("orchestrator")
tracer = trace.get_tracer(__name__)
logger = logging.getLogger(__name__)

# (webhook event, issue type) -> agent. Issue types compare case-insensitively.
ROUTES = {("jira:issue_created", "epic"): "tasksmith"}
DEFAULT_AGENT_FUNCTIONS = {"tasksmith": "clinisight-tasksmith"}

LAMBDA_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})


@dataclass(frozen=True)
class Outcome:
    """The outcome of one delivery."""

    kind: str  # routed, ignored, rejected or failed
    detail: dict[str, Any]
    record_id: str | None = None


@functools.cache
def lambda_client() -> Any:
    """Return the process-wide Lambda client, built on first use."""
    return boto3.client("lambda", config=LAMBDA_CLIENT_CONFIG)


def agent_function_name(agent: str) -> str:
    """Return the Lambda function of `agent`, from `<AGENT>_FUNCTION_NAME` or the default."""
    return os.environ.get(f"{agent.upper()}_FUNCTION_NAME") or DEFAULT_AGENT_FUNCTIONS[agent]


def route_for(webhook: JiraWebhook) -> str | None:
    return ROUTES.get((webhook.event_type, (webhook.issue_type or "").lower()))


@telemetry.lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    source, deliveries = split_event(event)
    invocation_span().set_attribute(attrs.EVENT_SOURCE, source)
    if len(deliveries) == 1 and deliveries[0].webhook is not None:
        webhook = deliveries[0].webhook
        annotate_invocation(
            event_type=webhook.event_type, issue_key=webhook.issue_key, project_key=webhook.project_key
        )
    outcomes = [handle_delivery(delivery) for delivery in deliveries]
    return build_response(source, outcomes)


def handle_delivery(delivery: Delivery) -> Outcome:
    if delivery.error is not None:
        error = delivery.error
        logger.warning("Rejected a %s delivery: %s", delivery.source, error)
        capture_warning(f"Webhook event rejected: {error}", fingerprint=["invalid-event", error.field])
        return Outcome("rejected", {"field": error.field, "message": str(error)}, delivery.record_id)

    webhook = delivery.webhook
    assert webhook is not None  # a Delivery contains either a webhook or an error
    agent = route_for(webhook)
    if agent is None:
        logger.info("Ignored Jira event %s for %s: no agent handles it", webhook.event_type, webhook.issue_key)
        return Outcome("ignored", {"event_type": webhook.event_type, "issue_key": webhook.issue_key,
                                   "reason": "no agent handles this event type"}, delivery.record_id)

    try:
        invoke_agent(agent, webhook)
    except (ClientError, BotoCoreError) as exc:
        capture_exception(exc)
        logger.warning("Could not invoke agent %s for %s: %s", agent, webhook.issue_key, type(exc).__name__)
        return Outcome("failed", {"agent": agent, "issue_key": webhook.issue_key,
                                  "error": type(exc).__name__}, delivery.record_id)
    return Outcome("routed", {"agent": agent, "issue_key": webhook.issue_key}, delivery.record_id)


def invoke_agent(agent: str, webhook: JiraWebhook) -> None:
    """Invoke the agent asynchronously; the botocore instrumentation adds the trace headers."""
    payload = {"event_type": webhook.event_type, "issue_key": webhook.issue_key,
               "project_key": webhook.project_key}
    with tracer.start_as_current_span("orchestrator.route") as span:
        span.set_attribute(attrs.ROUTING_AGENT, agent)
        span.set_attribute(attrs.JIRA_ISSUE_KEY, webhook.issue_key)
        lambda_client().invoke(
            FunctionName=agent_function_name(agent),
            InvocationType="Event",
            Payload=json.dumps(payload).encode("utf-8"),
        )


def build_response(source: str, outcomes: list[Outcome]) -> dict[str, Any]:
    summary: dict[str, Any] = {kind: [o.detail for o in outcomes if o.kind == kind]
                               for kind in ("routed", "ignored", "rejected", "failed")}
    if summary["failed"]:
        status_code, status = 502, "failed"
    elif outcomes and len(summary["rejected"]) == len(outcomes):
        status_code, status = 400, "rejected"
    else:
        status_code, status = 202, "accepted"
    summary = {"status": status, **summary}
    invocation_span().set_attribute(attrs.ROUTING_OUTCOME, status)

    if source == "api_gateway":
        return {"statusCode": status_code, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(summary)}
    response = {"statusCode": status_code, **summary}
    if source == "sqs":
        response["batchItemFailures"] = [
            {"itemIdentifier": o.record_id} for o in outcomes if o.kind == "failed" and o.record_id
        ]
    return response
