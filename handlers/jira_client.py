"""A small Jira Cloud REST API v3 client with a timeout on every call.

Errors carry the operation, the HTTP status and, for 400 responses, the names of the fields
that Jira rejected. They never carry response text, because Jira echoes issue content.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests

from telemetry.phi import PhiSafeError
from telemetry.secrets import SecretUnavailableError, read_secret

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 3.05
DEFAULT_SUBTASK_ISSUE_TYPE = "Subtask"
MAX_ATTEMPTS = 3
# First retry delay when Jira gives no Retry-After, doubled on each further retry.
BACKOFF_S = 0.5
# Only what TaskSmith reads: the description is decomposed, the project names the subtasks' home.
EPIC_FIELDS = "summary,description,project,issuetype"


class JiraConfigError(PhiSafeError, RuntimeError):
    """A required Jira setting is missing or invalid."""


class JiraError(PhiSafeError, RuntimeError):
    """A Jira call failed. The message names the operation and status, never content."""

    def __init__(self, operation: str, *, status: int | None = None, reason: str | None = None,
                 fields: tuple[str, ...] = ()) -> None:
        self.operation = operation
        self.status = status
        self.fields = fields
        detail = f"HTTP {status}" if status is not None else (reason or "failed")
        if fields:
            detail += f"; rejected fields: {', '.join(fields)}"
        super().__init__(f"Jira {operation} failed: {detail}")


@dataclass(frozen=True, kw_only=True)
class JiraConfig:
    """Jira connection settings. The API token is excluded from `repr`."""

    base_url: str
    email: str
    api_token: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    subtask_issue_type: str = DEFAULT_SUBTASK_ISSUE_TYPE

    def __repr__(self) -> str:
        return f"JiraConfig(base_url={self.base_url!r}, timeout_s={self.timeout_s})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JiraConfig:
        """Read `JIRA_BASE_URL`, `JIRA_EMAIL`, `JIRA_API_TOKEN` and optional settings."""
        env = os.environ if environ is None else environ
        token = env.get("JIRA_API_TOKEN") or _token_from_secret(env.get("JIRA_API_TOKEN_SECRET"))
        missing = [name for name in ("JIRA_BASE_URL", "JIRA_EMAIL") if not env.get(name)]
        if not token:
            missing.append("JIRA_API_TOKEN (or JIRA_API_TOKEN_SECRET)")
        if missing:
            raise JiraConfigError(f"Missing Jira settings: {', '.join(missing)}; set them in the environment")
        timeout_raw = env.get("JIRA_TIMEOUT_S", str(DEFAULT_TIMEOUT_S))
        try:
            timeout_s = float(timeout_raw)
        except ValueError:
            raise JiraConfigError("Invalid JIRA_TIMEOUT_S: expected a number of seconds") from None
        if not timeout_s > 0:
            raise JiraConfigError("Invalid JIRA_TIMEOUT_S: expected a positive number of seconds")
        return cls(
            base_url=env["JIRA_BASE_URL"].rstrip("/"),
            email=env["JIRA_EMAIL"],
            api_token=token,
            timeout_s=timeout_s,
            subtask_issue_type=env.get("JIRA_SUBTASK_ISSUE_TYPE") or DEFAULT_SUBTASK_ISSUE_TYPE,
        )


def _token_from_secret(secret_name: str | None) -> str | None:
    if not secret_name:
        return None
    try:
        return read_secret(secret_name)
    except SecretUnavailableError as error:
        raise JiraConfigError(f"Jira token unavailable: {error}") from None


class JiraClient:
    """Read issues and create subtasks through the Jira Cloud REST API v3."""

    def __init__(self, config: JiraConfig, *, session: requests.Session | None = None) -> None:
        # A monotonic time after which no retry may start; the handler sets it from the
        # invocation's remaining time. None allows retries without a deadline.
        self.retry_deadline: float | None = None
        self._config = config
        self._session = session or requests.Session()
        self._session.auth = (config.email, config.api_token)
        self._session.headers.update({"Accept": "application/json"})

    def get_issue(self, issue_key: str) -> dict[str, Any]:
        """Return the issue's JSON with the fields TaskSmith needs."""
        response = self._request(
            "GET", f"/rest/api/3/issue/{quote(issue_key, safe='')}", "get issue", params={"fields": EPIC_FIELDS}
        )
        return _json_object(response, "get issue")

    def create_subtask(self, *, project_key: str, parent_key: str, summary: str) -> str:
        """Create a subtask of `parent_key` and return the new issue key."""
        payload = {
            "fields": {
                "project": {"key": project_key},
                "parent": {"key": parent_key},
                "issuetype": {"name": self._config.subtask_issue_type},
                "summary": summary,
            }
        }
        response = self._request("POST", "/rest/api/3/issue", "create issue", json=payload)
        created = _json_object(response, "create issue")
        key = created.get("key")
        if not isinstance(key, str):
            raise JiraError("create issue", reason="response has no issue key")
        return key

    def _request(self, method: str, path: str, operation: str, **kwargs: Any) -> requests.Response:
        """Send one request, retrying what is safe to retry while time remains.

        HTTP 429 is retried for any method, after `Retry-After` when Jira sends it, because a
        rate-limited request was not processed. 5xx, timeouts and connection failures are
        retried for GET only: a failed POST may still have created the issue.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            failure: JiraError | None = None
            response: requests.Response | None = None
            try:
                response = self._session.request(
                    method,
                    self._config.base_url + path,
                    timeout=(CONNECT_TIMEOUT_S, self._config.timeout_s),
                    **kwargs,
                )
            except requests.Timeout:
                failure = JiraError(operation, reason="timed out")
            except requests.RequestException as exc:
                failure = JiraError(operation, reason=f"{type(exc).__name__}")
            if response is not None and response.status_code < 400:
                return response
            if response is not None:
                failure = JiraError(operation, status=response.status_code, fields=_rejected_fields(response))

            wait_s = self._retry_wait_s(method, response, attempt)
            if wait_s is None or attempt == MAX_ATTEMPTS:
                raise failure  # type: ignore[misc]  # set in every branch that reaches here
            logger.warning("Jira %s failed (%s); retrying in %.1f s, attempt %d of %d",
                           operation, str(failure).rsplit(": ", 1)[-1], wait_s, attempt + 1, MAX_ATTEMPTS)
            time.sleep(wait_s)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _retry_wait_s(self, method: str, response: requests.Response | None, attempt: int) -> float | None:
        """Return how long to wait before retrying, or None when the call must not be retried."""
        status = response.status_code if response is not None else None
        if status == 429:
            wait_s = _retry_after_s(response) or BACKOFF_S * 2 ** (attempt - 1)
        elif method == "GET" and (status is None or status >= 500):
            wait_s = BACKOFF_S * 2 ** (attempt - 1)
        else:
            return None
        if self.retry_deadline is not None and time.monotonic() + wait_s > self.retry_deadline:
            return None
        return wait_s


def _retry_after_s(response: requests.Response | None) -> float | None:
    """Return the seconds in a `Retry-After` header (seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def _json_object(response: requests.Response, operation: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise JiraError(operation, reason="response is not JSON") from None
    if not isinstance(body, dict):
        raise JiraError(operation, reason="response is not a JSON object")
    return body


def _rejected_fields(response: requests.Response) -> tuple[str, ...]:
    """Return the field names of a 400 ErrorCollection; its messages are left out."""
    if response.status_code != 400:
        return ()
    try:
        body = response.json()
    except ValueError:
        return ()
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return ()
    return tuple(sorted(str(name) for name in errors))[:20]
