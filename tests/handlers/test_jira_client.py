"""The Jira client against the stand-in: retries, Retry-After, deadlines and clear errors."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from handlers.jira_client import JiraClient, JiraConfig, JiraError
from handlers.local.jira_standin import JiraStandIn
from tests.canaries import leaked


@pytest.fixture
def jira() -> Iterator[JiraStandIn]:
    with JiraStandIn() as standin:
        standin.seed_issue({"key": "CLIN-1", "fields": {"summary": "Epic", "project": {"key": "CLIN"}}})
        yield standin


def client_for(jira: JiraStandIn, *, timeout_s: float = 5.0) -> JiraClient:
    return JiraClient(JiraConfig(base_url=jira.base_url, email=jira.email, api_token=jira.api_token,
                                 timeout_s=timeout_s))


def test_rate_limit_honours_retry_after(jira: JiraStandIn) -> None:
    jira.fail_next("GET", "/rest/api/3/issue/", status=429, headers={"Retry-After": "1"})
    started = time.monotonic()
    issue = client_for(jira).get_issue("CLIN-1")
    assert issue["key"] == "CLIN-1"
    assert time.monotonic() - started >= 1.0
    assert len(jira.requests) == 2


def test_rate_limit_beyond_deadline_fails_at_once(jira: JiraStandIn) -> None:
    jira.fail_next("POST", "/rest/api/3/issue", status=429, headers={"Retry-After": "30"})
    client = client_for(jira)
    client.retry_deadline = time.monotonic() + 2.0
    started = time.monotonic()
    with pytest.raises(JiraError, match=r"^Jira create issue failed: HTTP 429$"):
        client.create_subtask(project_key="CLIN", parent_key="CLIN-1", summary="x")
    assert time.monotonic() - started < 1.0


def test_server_error_retried_for_get_only(jira: JiraStandIn) -> None:
    jira.fail_next("GET", "/rest/api/3/issue/", status=503)
    assert client_for(jira).get_issue("CLIN-1")["key"] == "CLIN-1"

    jira.requests.clear()
    jira.fail_next("POST", "/rest/api/3/issue", status=502)
    with pytest.raises(JiraError, match=r"HTTP 502"):
        client_for(jira).create_subtask(project_key="CLIN", parent_key="CLIN-1", summary="x")
    assert [r.method for r in jira.requests] == ["POST"]


def test_timeout_retried_then_reported(jira: JiraStandIn) -> None:
    for _ in range(3):
        jira.fail_next("GET", "/rest/api/3/issue/", status=0, delay_s=1.5)
    with pytest.raises(JiraError, match=r"^Jira get issue failed: timed out$"):
        client_for(jira, timeout_s=0.5).get_issue("CLIN-1")


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_clear(jira: JiraStandIn, status: int) -> None:
    jira.fail_next("GET", "/rest/api/3/issue/", status=status,
                   body={"errorMessages": ["You do not have permission, Jane Roe"], "errors": {}})
    with pytest.raises(JiraError) as raised:
        client_for(jira).get_issue("CLIN-1")
    assert str(raised.value) == f"Jira get issue failed: HTTP {status}"
    assert raised.value.status == status


def test_error_collection_names_fields_not_values(jira: JiraStandIn) -> None:
    jira.fail_next("POST", "/rest/api/3/issue", status=400, body={
        "errorMessages": ["Summary for Jane Roe, SSN 000-12-3456, is invalid"],
        "errors": {"summary": "Jane Roe is not allowed", "priority": "Field 'priority' is required"}})
    with pytest.raises(JiraError) as raised:
        client_for(jira).create_subtask(project_key="CLIN", parent_key="CLIN-1", summary="x")
    assert str(raised.value) == "Jira create issue failed: HTTP 400; rejected fields: priority, summary"
    assert raised.value.fields == ("priority", "summary")
    assert leaked(str(raised.value)) == []


def test_wrong_credentials_rejected_by_standin(jira: JiraStandIn) -> None:
    client = JiraClient(JiraConfig(base_url=jira.base_url, email=jira.email, api_token="wrong"))
    with pytest.raises(JiraError, match=r"HTTP 401"):
        client.get_issue("CLIN-1")


def test_rate_limit_retry_after_date_on_post(jira: JiraStandIn) -> None:
    retry_at = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    jira.fail_next("POST", "/rest/api/3/issue", status=429, headers={"Retry-After": retry_at})
    key = client_for(jira).create_subtask(project_key="CLIN", parent_key="CLIN-1", summary="x")
    assert key.startswith("CLIN-")
    assert [r.method for r in jira.requests] == ["POST", "POST"]


def test_connection_failure_retried_with_backoff() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    client = JiraClient(JiraConfig(base_url=f"http://127.0.0.1:{port}", email="agent@example.com", api_token="t"))
    started = time.monotonic()
    with pytest.raises(JiraError, match=r"^Jira get issue failed: ConnectionError$"):
        client.get_issue("CLIN-1")
    # Three attempts with 0.5 s and 1 s between them.
    assert 1.4 < time.monotonic() - started < 5.0
