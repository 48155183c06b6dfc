"""A local stand-in for the Jira Cloud REST API v3, on 127.0.0.1.

It serves the two endpoints TaskSmith uses, with Jira's response shapes:
`GET /rest/api/3/issue/{key}` and `POST /rest/api/3/issue`. Requests need HTTP basic auth
with the configured email and API token, as Jira Cloud does. Tests can queue failures.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from handlers.local.loopback import JsonHandler, LoopbackServer

LOCAL_EMAIL = "agent@example.com"
LOCAL_TOKEN = "local-jira-token"  # noqa: S105 - a fixed credential for the local stand-in only

# Not a Jira endpoint: the compose stack seeds issues over HTTP through it.
SEED_PATH = "/_standin/issues"
_ISSUE_PATH = re.compile(r"^/rest/api/3/issue/(?P<key>[^/]+)$")


@dataclass
class Failure:
    """A queued failure: the next matching request gets this status (or a delay)."""

    method: str
    path_prefix: str
    status: int
    body: dict[str, Any]
    delay_s: float = 0.0
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class JiraStandIn(LoopbackServer):
    """An in-memory Jira on 127.0.0.1; use as a context manager."""

    def __init__(self, *, email: str = LOCAL_EMAIL, api_token: str = LOCAL_TOKEN, port: int = 0,
                 host: str = "127.0.0.1") -> None:
        self.email = email
        self.api_token = api_token
        self._lock = threading.Lock()
        self._issues: dict[str, dict[str, Any]] = {}
        self._next_id = 10000
        self._failures: list[Failure] = []
        self.requests: list[RecordedRequest] = []
        super().__init__(_handler_class(self), port=port, name="jira-standin", host=host)

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"

    def reset(self) -> None:
        """Forget every issue, queued failure and recorded request."""
        with self._lock:
            self._issues.clear()
            self._failures.clear()
            self.requests.clear()

    def seed_issue(self, issue: Mapping[str, Any]) -> None:
        """Store an issue as a webhook carries it (`key` and `fields`); ignore one without a key."""
        key = issue.get("key")
        if not isinstance(key, str):
            return
        with self._lock:
            stored = copy.deepcopy(dict(issue))
            stored.setdefault("id", str(self._allocate_id()))
            stored["self"] = f"{self.base_url}/rest/api/3/issue/{stored['id']}"
            stored.setdefault("fields", {})
            self._issues[key] = stored

    def issue(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._issues.get(key)
            return copy.deepcopy(found) if found else None

    def subtasks_of(self, parent_key: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(issue) for issue in self._issues.values()
                if issue["fields"].get("parent", {}).get("key") == parent_key
            ]

    def fail_next(self, method: str, path_prefix: str, *, status: int = 500,
                  body: dict[str, Any] | None = None, delay_s: float = 0.0,
                  headers: dict[str, str] | None = None) -> None:
        """Make the next request matching `method` and `path_prefix` fail or wait."""
        with self._lock:
            self._failures.append(Failure(method, path_prefix, status,
                                          body or {"errorMessages": ["Internal server error"], "errors": {}},
                                          delay_s, headers))

    def _allocate_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _take_failure(self, method: str, path: str) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.method == method and path.startswith(failure.path_prefix):
                    self._failures.remove(failure)
                    return failure
        return None

    def _authorised(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
        return header == f"Basic {expected}"

    def _get_issue(self, key: str) -> tuple[int, dict[str, Any]]:
        issue = self.issue(key)
        if issue is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                         "errors": {}}
        return 200, issue

    def _create_issue(self, body: Any) -> tuple[int, dict[str, Any]]:
        fields = body.get("fields") if isinstance(body, Mapping) else None
        if not isinstance(fields, Mapping):
            return 400, {"errorMessages": ["Request body must contain fields."], "errors": {}}
        errors: dict[str, str] = {}
        project_key = (fields.get("project") or {}).get("key")
        if not isinstance(project_key, str):
            errors["project"] = "Specify a valid project ID or key"
        if not isinstance(fields.get("summary"), str) or not fields["summary"].strip():
            errors["summary"] = "You must specify a summary of the issue."
        if not isinstance((fields.get("issuetype") or {}).get("name"), str):
            errors["issuetype"] = "Specify an issue type"
        parent_key = (fields.get("parent") or {}).get("key")
        if parent_key is not None and self.issue(parent_key) is None:
            errors["parent"] = "Could not find issue by id or key."
        if errors:
            return 400, {"errorMessages": [], "errors": errors}

        with self._lock:
            issue_id = self._allocate_id()
            numbers = [int(key.rsplit("-", 1)[1]) for key in self._issues
                       if key.startswith(f"{project_key}-") and key.rsplit("-", 1)[1].isdigit()]
            key = f"{project_key}-{max(numbers, default=0) + 1}"
            stored = {"id": str(issue_id), "key": key,
                      "self": f"{self.base_url}/rest/api/3/issue/{issue_id}",
                      "fields": copy.deepcopy(dict(fields))}
            self._issues[key] = stored
        return 201, {"id": stored["id"], "key": key, "self": stored["self"]}

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _handler_class(jira: JiraStandIn) -> type[BaseHTTPRequestHandler]:
    class JiraHandler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
            self._serve("POST")

        def _serve(self, method: str) -> None:
            path = urlsplit(self.path).path
            body: Any = None
            raw = self.read_body()
            if raw:
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    self._reply(400, {"errorMessages": ["Request body is not valid JSON."], "errors": {}})
                    return
            jira._record(RecordedRequest(method, path, {k.lower(): v for k, v in self.headers.items()}, body))

            if not jira._authorised(self.headers.get("Authorization")):
                self._reply(401, {"errorMessages": ["Authentication required."], "errors": {}})
                return
            failure = jira._take_failure(method, path)
            if failure is not None:
                time.sleep(failure.delay_s)
                if failure.status:
                    self._reply(failure.status, failure.body, failure.headers)
                    return

            match = _ISSUE_PATH.match(path)
            if method == "POST" and path == SEED_PATH:
                jira.seed_issue(body if isinstance(body, dict) and isinstance(body.get("key"), str) else {})
                self._reply(201, {"seeded": True})
            elif method == "GET" and match:
                self._reply(*jira._get_issue(unquote(match.group("key"))))
            elif method == "POST" and path == "/rest/api/3/issue":
                self._reply(*jira._create_issue(body))
            else:
                self._reply(404, {"errorMessages": ["No such endpoint in the Jira stand-in."], "errors": {}})

        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            self.reply(status, body, content_type="application/json;charset=UTF-8", headers=headers)

    return JiraHandler
