"""DynamoDB faults seen by TaskSmith: throttling with retries, missing tables, error shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from handlers.local.runner import LocalRun
from tests.canaries import leaked
from tests.examples import load_event

REQUEST = {"event_type": "jira:issue_created", "issue_key": "CLIN-42", "project_key": "CLIN"}


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@contextmanager
def dynamodb_errors(operation: str, count: int, error_type: str, message_key: str = "message",
                    message: str = "Rate of requests exceeds the allowed throughput") -> Iterator[list[int]]:
    """Return a DynamoDB error for the first `count` calls of `operation`, before moto gets them.

    The error travels through botocore's real parsing and retry handling; `message_key` picks
    between the `message` and `Message` shapes that DynamoDB uses.
    """
    from handlers.tasksmith import state_store

    events = state_store().client.meta.events
    answered: list[int] = []

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        if len(answered) >= count:
            return None
        answered.append(1)
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{error_type}", message_key: message})
        return AWSResponse(request.url, 400, {"x-amzn-RequestId": "test"}, _Body(body.encode()))

    event_name = f"before-send.dynamodb.{operation}"
    events.register_first(event_name, answer)
    try:
        yield answered
    finally:
        events.unregister(event_name, answer)


def seeded(run: LocalRun) -> None:
    run.jira.seed_issue(load_event("epic_created_direct.json")["issue"])


def test_throttled_call_retried_and_counted(local_run: LocalRun) -> None:
    seeded(local_run)
    with dynamodb_errors("GetItem", 2, "ProvisionedThroughputExceededException") as answered:
        result = local_run.invoke("clinisight-tasksmith", dict(REQUEST))[0]
    assert result.error is None
    assert result.response["status"] == "completed"
    assert len(answered) == 2
    get_item = next(s for s in local_run.spans() if s.name == "DynamoDB.GetItem")
    assert get_item.attributes["retry_attempts"] == 2


@pytest.mark.parametrize("message_key", ["message", "Message"])
def test_persistent_throttling_reported_without_echo(local_run: LocalRun, message_key: str) -> None:
    seeded(local_run)
    with dynamodb_errors("GetItem", 10, "ProvisionedThroughputExceededException", message_key,
                         message="Throughput exceeded for key Jane Roe 000-12-3456"):
        result = local_run.invoke("clinisight-tasksmith", dict(REQUEST))[0]
    assert type(result.error).__name__ == "ProvisionedThroughputExceededException"
    assert local_run.sentry_sink is not None
    errors = [item.json() for item in local_run.sentry_sink.items("event") if item.json().get("level") == "error"]
    assert len(errors) == 1
    value = errors[0]["exception"]["values"][-1]["value"]
    assert value.startswith("An error occurred (ProvisionedThroughputExceededException) when calling the GetItem")
    assert value.endswith(": [REDACTED]")
    assert errors[0]["contexts"]["jira"]["issue_key"] == "CLIN-42"
    for envelope in local_run.sentry_sink.envelopes():
        assert leaked(envelope.raw.decode("utf-8", "replace")) == []


def test_failure_during_work_saves_failed_state(local_run: LocalRun) -> None:
    import boto3

    seeded(local_run)
    # Claim and the first record succeed; the second record write fails for good.
    calls = {"count": 0}
    from handlers.tasksmith import state_store

    original = state_store().record_subtask

    def record_then_fail(*args: Any, **kwargs: Any) -> None:
        calls["count"] += 1
        if calls["count"] == 2:
            raise RuntimeError("state write failed")
        original(*args, **kwargs)

    state_store().record_subtask = record_then_fail  # type: ignore[method-assign]
    try:
        result = local_run.invoke("clinisight-tasksmith", dict(REQUEST))[0]
    finally:
        del state_store().record_subtask
    assert type(result.error).__name__ == "RuntimeError"
    item = boto3.client("dynamodb").get_item(
        TableName="ClinisightAgentState", Key={"agent_name": {"S": "tasksmith"}, "entity_id": {"S": "CLIN-42"}},
        ConsistentRead=True)["Item"]
    assert item["status"]["S"] == "failed"
    assert item["error_type"]["S"] == "RuntimeError"
    assert len(item["subtask_keys"]["L"]) == 1


def test_missing_table_reported(local_run: LocalRun, monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers.tasksmith import state_store

    seeded(local_run)
    monkeypatch.setattr(state_store(), "table_name", "NoSuchTable")
    result = local_run.invoke("clinisight-tasksmith", dict(REQUEST))[0]
    assert type(result.error).__name__ == "ResourceNotFoundException"
    assert local_run.sentry_sink is not None
    errors = [item.json() for item in local_run.sentry_sink.items("event") if item.json().get("level") == "error"]
    assert errors[0]["exception"]["values"][-1]["type"] == "ResourceNotFoundException"
    assert local_run.jira.subtasks_of("CLIN-42") == []
