"""TaskSmith: decompose a Jira epic into subtasks.

The orchestrator invokes this function asynchronously with `{"event_type", "issue_key",
"project_key"}`; the botocore instrumentation adds the trace context as `headers`. TaskSmith
reads the epic, derives subtasks from its description (see `handlers.subtasks`), creates them
in Jira and records its progress in the agent state table.

On failure it saves a `failed` state with the error type and re-raises, so both Lambda's
retries and Sentry see the error.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace

from handlers.jira_client import JiraClient, JiraConfig
from handlers.state_store import ClaimLostError, StateStore
from handlers.subtasks import derive_subtasks
from handlers.webhook import ISSUE_KEY, PROJECT_KEY, InvalidEventError
from telemetry import annotate_invocation, capture_warning, setup_telemetry
from telemetry import attributes as attrs

telemetry = setup_telemetry("tasksmith")
tracer = trace.get_tracer(__name__)
logger = logging.getLogger(__name__)

AGENT_NAME = "tasksmith"
# Lambda's maximum timeout is 15 minutes, so a claim older than that belongs to an invocation
# that crashed or timed out.
CLAIM_LEASE_S = 15 * 60
# Time kept free at the end of an invocation for the state write and the telemetry flush.
RETRY_RESERVE_S = 5.0


@dataclass(frozen=True)
class EpicRequest:
    """The orchestrator's instruction: which epic to decompose."""

    event_type: str
    issue_key: str
    project_key: str


@functools.cache
def jira_client() -> JiraClient:
    """Return the process-wide Jira client, built from the environment on first use."""
    return JiraClient(JiraConfig.from_env())


@functools.cache
def state_store() -> StateStore:
    """Return the process-wide state store, built on first use."""
    return StateStore()


@telemetry.lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        request = parse_request(event)
    except InvalidEventError as error:
        # An async retry cannot fix a malformed payload, so it is reported and not raised.
        logger.warning("Rejected TaskSmith payload: %s", error)
        capture_warning(f"TaskSmith payload rejected: {error}", fingerprint=["invalid-payload", error.field])
        return {"status": "rejected", "field": error.field, "message": str(error)}

    annotate_invocation(
        event_type=request.event_type, issue_key=request.issue_key, project_key=request.project_key
    )
    owner = str(getattr(context, "aws_request_id", "") or uuid.uuid4())
    jira = jira_client()
    jira.retry_deadline = _retry_deadline(context)
    return decompose_epic(request, jira=jira, store=state_store(), owner=owner)


def _retry_deadline(context: Any) -> float | None:
    """Return the monotonic time after which Jira retries stop, leaving time to record state."""
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    if get_remaining is None:
        return None
    return time.monotonic() + max(get_remaining() / 1000.0 - RETRY_RESERVE_S, 0.0)


def parse_request(event: Any) -> EpicRequest:
    """Validate the payload; the `headers` key added by trace propagation is ignored."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event", "must be a JSON object")
    values: dict[str, str] = {}
    for name in ("event_type", "issue_key", "project_key"):
        value = event.get(name)
        if value is None:
            raise InvalidEventError(name, "is missing")
        if not isinstance(value, str):
            raise InvalidEventError(name, "must be a string")
        values[name] = value
    if not ISSUE_KEY.match(values["issue_key"]):
        raise InvalidEventError("issue_key", "is not a Jira issue key such as PROJ-123")
    if not PROJECT_KEY.match(values["project_key"]):
        raise InvalidEventError("project_key", "is not a Jira project key")
    return EpicRequest(**values)


def decompose_epic(request: EpicRequest, *, jira: JiraClient, store: StateStore,
                   owner: str) -> dict[str, Any]:
    """Create one subtask per derived item and record the outcome in the state table.

    Lambda retries a failed async invocation, and Jira can deliver the same webhook twice, so
    the work is claimed with a conditional write first (see `StateStore.claim`). Each created
    subtask is recorded at once, and a retry skips the subtasks an earlier attempt created.
    """
    previous = store.get(AGENT_NAME, request.issue_key)
    if previous is not None and previous.status == "completed":
        logger.info("Epic %s was already decomposed; nothing to do", request.issue_key)
        return {"status": "already_completed", "issue_key": request.issue_key,
                "subtasks": list(previous.subtask_keys)}
    if not store.claim(AGENT_NAME, request.issue_key, owner=owner, lease_s=CLAIM_LEASE_S):
        logger.info("Epic %s is being decomposed by another invocation; skipped", request.issue_key)
        return {"status": "in_progress_elsewhere", "issue_key": request.issue_key}

    created = list(previous.subtask_keys) if previous is not None else []
    try:
        _create_missing_subtasks(request, jira=jira, store=store, owner=owner, created=created)
        store.finish(AGENT_NAME, request.issue_key, owner=owner, status="completed")
    except ClaimLostError:
        # The claim expired and another invocation took the epic over; its state wins.
        logger.warning("Epic %s was taken over by another invocation; its state is kept", request.issue_key)
        return {"status": "superseded", "issue_key": request.issue_key, "subtasks": created}
    except Exception as exc:
        _save_failure(store, request, owner, exc)
        raise
    logger.info("Epic %s decomposed into %d subtasks", request.issue_key, len(created))
    return {"status": "completed", "issue_key": request.issue_key, "subtasks": created}


def _create_missing_subtasks(request: EpicRequest, *, jira: JiraClient, store: StateStore, owner: str,
                             created: list[str]) -> None:
    """Create the subtasks that `created` does not have yet, recording each one at once."""
    with tracer.start_as_current_span("tasksmith.decompose_epic") as span:
        span.set_attribute(attrs.JIRA_ISSUE_KEY, request.issue_key)
        epic = jira.get_issue(request.issue_key)
        fields = epic.get("fields") if isinstance(epic.get("fields"), Mapping) else {}
        summaries = derive_subtasks(fields.get("description"))
        span.set_attribute(attrs.SUBTASK_COUNT, len(summaries))
        # NOTE: earlier attempts are matched by position, so an epic whose description
        # changed between attempts can end with a missing or an extra subtask.
        for summary in summaries[len(created):]:
            key = jira.create_subtask(project_key=request.project_key, parent_key=request.issue_key,
                                      summary=summary)
            store.record_subtask(AGENT_NAME, request.issue_key, owner=owner, subtask_key=key)
            created.append(key)


def _save_failure(store: StateStore, request: EpicRequest, owner: str, exc: Exception) -> None:
    """Record the error type; the message is left out. Created subtasks are already recorded."""
    try:
        store.finish(AGENT_NAME, request.issue_key, owner=owner, status="failed", error_type=type(exc).__name__)
    except Exception as store_error:  # noqa: BLE001 - the original error is re-raised by the caller
        logger.error("Could not save the failure state of epic %s: %s", request.issue_key,
                     type(store_error).__name__)
