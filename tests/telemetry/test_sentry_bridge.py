"""The Sentry side of the PHI policy, and the options sentry-sdk runs with."""

from __future__ import annotations

import json

import pytest
import sentry_sdk
from sentry_sdk.transport import HttpTransport

import handlers.jira_client  # noqa: F401 - defines JiraError, a project exception type
from handlers.local.sentry_sink import SentrySink
from telemetry.phi import MAX_VALUE_CHARS, PLACEHOLDER, TRUNCATION_MARKER
from telemetry.sentry_bridge import MAX_EVENT_BYTES, InvocationTransport, limit_event_size, scrub_event


def sample_event() -> dict:
    return {
        "event_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "level": "error",
        "platform": "python",
        "sdk": {"name": "sentry.python", "version": "2.76.0"},
        "release": "clinisight@1.0.0",
        "message": "lookup for jane.roe@example.com failed",
        "transaction": "clinisight-tasksmith",
        "exception": {"values": [{
            "type": "ValueError",
            "value": "SSN 000-12-3456 rejected",
            "stacktrace": {"frames": [{
                "function": "handler",
                "vars": {"event": {"patient": "Jane Roe"}},
                "context_line": "    raise ValueError(f'SSN {ssn} rejected')  # 000-12-3456",
                "pre_context": ["# caller (555) 010-1234"],
            }]},
        }]},
        "breadcrumbs": {"values": [
            {"category": "log", "message": "patient MRN 00123456 loaded", "data": {"email": "jane.roe@example.com"}},
        ]},
        "extra": {"patient_name": "Jane Roe", "count": 3},
        "user": {"id": "000000:0000", "email": "jane.roe@example.com", "ip_address": "192.0.2.10"},
        "request": {"url": "https://example.atlassian.net/rest/api/3/search?jql=summary~Roe", "headers": {
            "Authorization": "Basic abc", "Accept": "application/json"}},
        "tags": {"service": "clinisight-tasksmith", "aws.region": "us-east-1"},
        "contexts": {
            "runtime": {"name": "CPython", "version": "3.11.7"},
            "trace": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7",
                      "op": "function", "description": "clinisight-tasksmith",
                      "data": {"summary": "Jane Roe follow-up", "rpc.method": "GetItem"}},
            "jira": {"event_type": "jira:issue_created", "issue_key": "CLIN-42", "project_key": "CLIN"},
            "otel": {"attributes": {"faas.coldstart": True, "custom.note": "DOB 02/29/1980"}},
        },
        "spans": [{"description": "DynamoDB.GetItem", "op": "db",
                   "data": {"aws.dynamodb.table_names": ["ClinisightAgentState"], "patient": "Jane Roe"}}],
    }


def test_scrub_event_removes_phi() -> None:
    event = scrub_event(sample_event())
    text = repr(event)
    for canary in ("Jane Roe", "000-12-3456", "jane.roe@example.com", "(555) 010-1234", "00123456",
                   "02/29/1980", "Basic abc", "192.0.2.10", "summary~Roe"):
        assert canary not in text, canary
    assert "vars" not in event["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert event["extra"]["patient_name"] == PLACEHOLDER
    assert event["user"]["email"] == PLACEHOLDER


def test_scrub_event_keeps_operational_data() -> None:
    event = scrub_event(sample_event())
    assert event["exception"]["values"][0]["type"] == "ValueError"
    assert event["transaction"] == "clinisight-tasksmith"
    assert event["tags"] == {"service": "clinisight-tasksmith", "aws.region": "us-east-1"}
    assert event["contexts"]["runtime"] == {"name": "CPython", "version": "3.11.7"}
    assert event["contexts"]["trace"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert event["contexts"]["trace"]["description"] == "clinisight-tasksmith"
    assert event["contexts"]["trace"]["data"]["rpc.method"] == "GetItem"
    assert event["contexts"]["jira"] == {"event_type": "jira:issue_created", "issue_key": "CLIN-42",
                                         "project_key": "CLIN"}
    assert event["spans"][0]["description"] == "DynamoDB.GetItem"
    assert event["spans"][0]["data"]["aws.dynamodb.table_names"] == ["ClinisightAgentState"]
    assert event["extra"]["count"] == 3
    assert event["sdk"] == {"name": "sentry.python", "version": "2.76.0"}


def test_sentry_options_keep_pii_out() -> None:
    options = sentry_sdk.get_client().options
    assert options["instrumenter"] == "otel"
    assert options["send_default_pii"] is not True
    assert options["include_local_variables"] is False
    assert options["trace_propagation_targets"] == []
    assert options["before_send"] is not None
    assert options["before_send_transaction"] is not None
    assert options["before_breadcrumb"] is not None


def test_oversized_event_shrunk_under_limit() -> None:
    event = sample_event()
    event["breadcrumbs"]["values"] = [{"category": "log", "message": "x" * 4000} for _ in range(400)]
    event["spans"] = [{"description": "DynamoDB.GetItem", "op": "db", "data": {"rpc.method": "y" * 4000}}
                      for _ in range(300)]
    assert len(json.dumps(event).encode()) > MAX_EVENT_BYTES

    shrunk = limit_event_size(scrub_event(event))
    assert len(json.dumps(shrunk, default=str).encode()) <= MAX_EVENT_BYTES
    assert shrunk["exception"]["values"][0]["type"] == "ValueError"
    assert shrunk["contexts"]["trace"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_long_values_truncated_with_marker() -> None:
    event = scrub_event({"extra": {"custom.blob": "a" * 10_000}})
    value = event["extra"]["custom.blob"]
    assert len(value) == MAX_VALUE_CHARS
    assert value.endswith(TRUNCATION_MARKER)


def test_foreign_exception_message_removed_project_message_kept() -> None:
    event = scrub_event({"exception": {"values": [
        {"type": "ValidationException", "module": "botocore.errorfactory", "value": "key Jane Roe invalid"},
        {"type": "ClientError", "module": "botocore.exceptions",
         "value": "An error occurred (ValidationException) when calling the PutItem operation: Jane Roe"},
        {"type": "JiraError", "module": "handlers.jira_client", "value": "Jira get issue failed: HTTP 404"},
    ]}})
    values = [v["value"] for v in event["exception"]["values"]]
    assert values == [
        PLACEHOLDER,
        f"An error occurred (ValidationException) when calling the PutItem operation: {PLACEHOLDER}",
        "Jira get issue failed: HTTP 404",
    ]


def test_transport_skips_flush_with_nothing_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    original_flush = HttpTransport.flush

    def counting_flush(self: HttpTransport, timeout: float, callback: object = None) -> None:
        waits.append(timeout)
        original_flush(self, timeout, callback)

    monkeypatch.setattr(HttpTransport, "flush", counting_flush)
    with SentrySink() as sink:
        client = sentry_sdk.Client(dsn=sink.dsn, transport=InvocationTransport, default_integrations=False)
        try:
            client.capture_event({"message": "first", "level": "error"})
            client.flush(timeout=5)
            assert [item.json()["message"] for item in sink.items("event")] == ["first"]
            assert len(waits) == 1

            # Nothing queued since the last flush: no wait on the worker thread.
            client.flush(timeout=5)
            assert len(waits) == 1

            client.capture_event({"message": "second", "level": "error"})
            client.flush(timeout=5)
            assert len(waits) == 2
            assert [item.json()["message"] for item in sink.items("event")] == ["first", "second"]
        finally:
            client.close(timeout=1)


def test_transport_flushes_after_a_lost_event() -> None:
    with SentrySink() as sink:
        client = sentry_sdk.Client(dsn=sink.dsn, transport=InvocationTransport, default_integrations=False)
        try:
            client.flush(timeout=5)
            transport = client.transport
            assert isinstance(transport, InvocationTransport)
            assert transport._queued_since_flush is False
            # A lost event leaves a client report to send, so the next flush must wait for it.
            transport.record_lost_event("queue_overflow", data_category="error")
            assert transport._queued_since_flush is True
        finally:
            client.close(timeout=1)
