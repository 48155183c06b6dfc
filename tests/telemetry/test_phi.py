"""The redaction policy: patterns, key classes and the values that must survive."""

from __future__ import annotations

import pytest

from telemetry.phi import (
    PLACEHOLDER,
    KeyClass,
    classify_key,
    redact_attributes,
    redact_text,
    redact_value,
    scrub_url,
    scrub_value,
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("SSN 000-12-3456 on file", "000-12-3456"),
        ("SSN 000 12 3456 on file", "000 12 3456"),
        ("mail jane.roe@example.com now", "jane.roe@example.com"),
        ("call (555) 010-1234", "(555) 010-1234"),
        ("call 555-010-1234", "555-010-1234"),
        ("call +1 555 010 1234", "555 010 1234"),
        ("call 555.010.1234", "555.010.1234"),
        ("MRN 00123456 admitted", "00123456"),
        ("mrn: A-99887766", "A-99887766"),
        ("medical record number 7654321", "7654321"),
        ("born 1980-02-29", "1980-02-29"),
        ("born 02/29/1980", "02/29/1980"),
        ("born 29.02.1980", "29.02.1980"),
        ("born Feb 29, 1980", "Feb 29, 1980"),
    ],
)
def test_patterns_redact_identifier(text: str, secret: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted
    assert PLACEHOLDER in redacted


@pytest.mark.parametrize(
    "value",
    [
        "CLIN-42",
        "ClinisightAgentState",
        "clinisight-tasksmith",
        "arn:aws:lambda:us-east-1:123456789012:function:clinisight-tasksmith",
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "DynamoDB.PutItem",
        "GET",
        "/rest/api/3/issue/CLIN-42",
        "jira:issue_created",
        "1.45.2",
        "2026",
        "Pharmacy API rate limits apply.",
        "Zoë’s café — naïve résumé ✓",
    ],
)
def test_operational_text_survives(value: str) -> None:
    assert redact_text(value) == value


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("http.status_code", 201),
        ("faas.coldstart", True),
        ("clinisight.dynamodb.duration_ms", 153.25),
        ("aws.dynamodb.table_names", ("ClinisightAgentState",)),
        ("aws.request_id", "YviEzRHDDMLYmyHPOY1Jv82KES1CSQEKYHt9YMFLVRqp"),
        ("clinisight.jira.issue_key", "CLIN-42"),
        ("service.name", "clinisight-orchestrator"),
        ("faas.name", "clinisight-tasksmith"),
        ("rpc.method", "GetItem"),
    ],
)
def test_safe_keys_keep_values(key: str, value: object) -> None:
    assert classify_key(key) is KeyClass.SAFE
    assert redact_value(key, value) == value


@pytest.mark.parametrize(
    "key",
    [
        "patient", "name", "first_name", "lastName", "patient.full_name", "user.email",
        "emailAddress", "dob", "date_of_birth", "phone", "ssn", "mrn", "summary",
        "issue.fields.description", "comment", "body", "authorization", "jira.api_token",
        "aws.dynamodb.item_collection_metrics", "aws.dynamodb.projection",
    ],
)
@pytest.mark.parametrize("value", ["Jane Roe", 1980, 3.5, ["Jane", "Roe"], b"Jane Roe", {"given": "Jane"}])
def test_phi_keys_lose_any_value(key: str, value: object) -> None:
    assert classify_key(key) is KeyClass.PHI
    assert redact_value(key, value) == PLACEHOLDER


def test_unknown_keys_are_scanned() -> None:
    assert classify_key("custom.note_ref") is KeyClass.UNKNOWN
    assert redact_value("custom.note_ref", "ref for jane.roe@example.com") == f"ref for {PLACEHOLDER}"
    assert redact_value("custom.count", 7) == 7


def test_url_query_values_and_credentials_scrubbed() -> None:
    url = "https://agent:s3cret@jira.example.com/rest/api/3/search?jql=reporter%3Djane.roe%40example.com&maxResults=5#frag"
    scrubbed = scrub_url(url)
    assert "s3cret" not in scrubbed
    assert "jane.roe" not in scrubbed
    assert "frag" not in scrubbed
    assert scrubbed.startswith(f"https://{PLACEHOLDER}@jira.example.com/rest/api/3/search?")
    assert f"jql={PLACEHOLDER}" in scrubbed
    assert f"maxResults={PLACEHOLDER}" in scrubbed


def test_url_inside_text_is_scrubbed() -> None:
    text = "GET http://127.0.0.1:8080/rest/api/3/issue/CLIN-1?token=abc123 failed"
    assert redact_text(text) == f"GET http://127.0.0.1:8080/rest/api/3/issue/CLIN-1?token={PLACEHOLDER} failed"


def test_nested_values_are_walked() -> None:
    scrubbed = scrub_value({"outer": {"patient_name": "Jane Roe", "ref": ["SSN 000-12-3456", 3]}})
    assert scrubbed == {"outer": {"patient_name": PLACEHOLDER, "ref": [f"SSN {PLACEHOLDER}", 3]}}


def test_redact_attributes_returns_none_when_clean() -> None:
    assert redact_attributes({"rpc.method": "GetItem", "http.status_code": 200}) is None
    assert redact_attributes(None) is None


def test_redact_attributes_returns_changed_copy() -> None:
    original = {"rpc.method": "GetItem", "patient": "Jane Roe"}
    redacted = redact_attributes(original)
    assert redacted == {"rpc.method": "GetItem", "patient": PLACEHOLDER}
    assert original["patient"] == "Jane Roe"
