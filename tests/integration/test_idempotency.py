"""Retried and repeated TaskSmith invocations: no duplicate subtasks, no overwritten state."""

from __future__ import annotations

import time

import boto3
import pytest

from handlers.local.runner import LocalRun
from handlers.state_store import DEFAULT_TABLE_NAME, ClaimLostError, StateStore
from tests.examples import load_event

REQUEST = {"event_type": "jira:issue_created", "issue_key": "CLIN-42", "project_key": "CLIN"}


def seeded(run: LocalRun) -> None:
    run.jira.seed_issue(load_event("epic_created_direct.json")["issue"])


def invoke_tasksmith(run: LocalRun) -> object:
    return run.invoke("clinisight-tasksmith", dict(REQUEST))[0]


def state_item() -> dict:
    return boto3.client("dynamodb").get_item(
        TableName=DEFAULT_TABLE_NAME, Key={"agent_name": {"S": "tasksmith"}, "entity_id": {"S": "CLIN-42"}},
        ConsistentRead=True,
    )["Item"]


def test_retry_after_partial_failure_creates_only_the_rest(local_run: LocalRun) -> None:
    seeded(local_run)
    failing = invoke_after_creates(local_run, succeed=1)
    assert type(failing.error).__name__ == "JiraError"
    assert state_item()["status"]["S"] == "failed"
    assert len(state_item()["subtask_keys"]["L"]) == 1

    retried = invoke_tasksmith(local_run)
    assert retried.error is None
    assert retried.response["status"] == "completed"
    subtasks = local_run.jira.subtasks_of("CLIN-42")
    assert len(subtasks) == 3
    assert [s["fields"]["summary"] for s in subtasks] == [
        "Load active prescriptions from the pharmacy service",
        "Flag duplicate and conflicting medications",
        "Show the reconciled list on the discharge screen",
    ]
    assert [k["S"] for k in state_item()["subtask_keys"]["L"]] == retried.response["subtasks"]
    assert state_item()["attempts"]["N"] == "2"


def invoke_after_creates(run: LocalRun, *, succeed: int) -> object:
    """Invoke TaskSmith with Jira failing the create call after `succeed` successful ones."""
    original = run.jira._create_issue
    calls = {"count": 0}

    def create_then_fail(body: object) -> tuple[int, dict]:
        calls["count"] += 1
        if calls["count"] > succeed:
            return 500, {"errorMessages": ["Internal server error"], "errors": {}}
        return original(body)

    run.jira._create_issue = create_then_fail  # type: ignore[method-assign]
    try:
        return invoke_tasksmith(run)
    finally:
        run.jira._create_issue = original  # type: ignore[method-assign]


def test_repeated_delivery_while_in_progress_is_skipped(local_run: LocalRun) -> None:
    seeded(local_run)
    store = StateStore()
    assert store.claim("tasksmith", "CLIN-42", owner="other-invocation", lease_s=600)

    result = invoke_tasksmith(local_run)
    assert result.response == {"status": "in_progress_elsewhere", "issue_key": "CLIN-42"}
    assert local_run.jira.subtasks_of("CLIN-42") == []
    assert state_item()["owner"]["S"] == "other-invocation"


def test_expired_claim_is_taken_over(local_run: LocalRun) -> None:
    seeded(local_run)
    store = StateStore()
    assert store.claim("tasksmith", "CLIN-42", owner="crashed-invocation", lease_s=-1)
    time.sleep(1.1)

    result = invoke_tasksmith(local_run)
    assert result.response["status"] == "completed"
    assert len(local_run.jira.subtasks_of("CLIN-42")) == 3


def test_stale_invocation_cannot_overwrite_newer_state(local_run: LocalRun) -> None:
    seeded(local_run)
    store = StateStore()
    assert store.claim("tasksmith", "CLIN-42", owner="old", lease_s=-1)
    time.sleep(1.1)
    assert store.claim("tasksmith", "CLIN-42", owner="new", lease_s=600)

    with pytest.raises(ClaimLostError):
        store.finish("tasksmith", "CLIN-42", owner="old", status="completed")
    assert state_item()["status"]["S"] == "in_progress"
    assert state_item()["owner"]["S"] == "new"


def test_repeated_webhook_for_completed_epic(local_run: LocalRun) -> None:
    event = load_event("epic_created_direct.json")
    local_run.seed_jira_from_event(event)
    local_run.invoke("clinisight-orchestrator", event)
    results = local_run.invoke("clinisight-orchestrator", event)
    assert results[1].response["status"] == "already_completed"
    assert len(local_run.jira.subtasks_of("CLIN-42")) == 3


def test_lost_claim_keeps_newer_state(local_run: LocalRun) -> None:
    from handlers.tasksmith import state_store

    seeded(local_run)
    store = state_store()
    original_record = store.record_subtask

    def take_over_after_first(*args: object, **kwargs: object) -> None:
        original_record(*args, **kwargs)
        # Another invocation takes the epic over, as after an expired lease.
        boto3.client("dynamodb").update_item(
            TableName=DEFAULT_TABLE_NAME, Key={"agent_name": {"S": "tasksmith"}, "entity_id": {"S": "CLIN-42"}},
            UpdateExpression="SET #owner = :other", ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":other": {"S": "newer-invocation"}})

    store.record_subtask = take_over_after_first  # type: ignore[method-assign]
    try:
        result = invoke_tasksmith(local_run)
    finally:
        del store.record_subtask
    assert result.error is None
    assert result.response["status"] == "superseded"
    assert state_item()["owner"]["S"] == "newer-invocation"
    assert state_item()["status"]["S"] == "in_progress"
