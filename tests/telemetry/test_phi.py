"""The redaction policy: patterns, key classes and the values that must survive."""

from __future__ import annotations

import pytest

from telemetry.phi import (
    MAX_VALUE_CHARS,
    PLACEHOLDER,
    TRUNCATION_MARKER,
    KeyClass,
    classify_key,
    redact_attributes,
    redact_text,
    redact_value,
    scrub_url,
    scrub_value,
    truncate,
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
        ("born 29 February 1980", "29 February 1980"),
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


@pytest.mark.parametrize(
    ("disguised", "kept"),
    [
        ("SSN \uff10\uff10\uff10-\uff11\uff12-\uff13\uff14\uff15\uff16 on file", ("SSN ", " on file")),
        ("SSN 000\u200b-12-3456 on file", ("SSN ", " on file")),
        ("SSN 000-12\u00ad-3456 on file", ("SSN ", " on file")),
        ("SSN 000\u201312\u20133456 on file", ("SSN ", " on file")),
        ("call (555)\u00a0010-1234 now", ("call ", " now")),
        ("mail JANE.ROE@EXAMPLE.COM now", ("mail ", " now")),
        ("q=jane.roe%40example.com&x=1", ("q=", "&x=1")),
        ("q=555+010+1234", ("q=",)),
        ('{"ssn": "000\\u002d12\\u002d3456"}', ('{"ssn": "', '"}')),
        ('{"email": "jane.roe\\u0040example.com"}', ('{"email": "', '"}')),
    ],
)
def test_disguised_identifier_redacted_in_original(disguised: str, kept: tuple[str, ...]) -> None:
    redacted = redact_text(disguised)
    assert PLACEHOLDER in redacted
    for digits in ("3456", "\uff13\uff14\uff15\uff16", "1234", "jane", "JANE"):
        assert digits not in redacted
    for part in kept:
        assert part in redacted


def test_harmless_unicode_byte_for_byte() -> None:
    text = "Zoë’s café — naïve résumé ✓ ﬁle ① \u00a0 \u200b ＡＢＣ"
    assert redact_text(text) == text
    assert redact_text(text).encode("utf-8") == text.encode("utf-8")


def test_identifier_split_across_list_items() -> None:
    assert scrub_value(["000-12", "-3456"]) == [PLACEHOLDER, PLACEHOLDER]
    assert scrub_value(["555", "010", "1234", "ok"]) == [PLACEHOLDER, PLACEHOLDER, PLACEHOLDER, "ok"]
    assert scrub_value(("jane.roe@", "example.com")) == (PLACEHOLDER, PLACEHOLDER)
    assert scrub_value(["GetItem", "PutItem"]) == ["GetItem", "PutItem"]


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("client 203.0.113.7 connected", True),
        ("host 127.0.0.1 connected", False),
        ("peer 2001:db8::8a2e:370:7334 seen", True),
        ("card 4111 1111 1111 1111 charged", True),
        ("card 4111-1111-1111-1112 charged", False),
        ("account # 12345678 closed", True),
        ("member id: A1234567 active", True),
        ("VIN 1HGCM82633A004352 parked", True),
        ("device type unknown", False),
        ("at 12:30:45 today", False),
    ],
)
def test_network_card_and_labelled_identifiers(text: str, redacted: bool) -> None:
    assert (redact_text(text) != text) is redacted


def test_truncation_after_redaction_with_marker() -> None:
    text = "x" * (MAX_VALUE_CHARS - 5) + " 000-12-3456 tail"
    redacted = redact_text(text)
    assert len(redacted) == MAX_VALUE_CHARS
    assert redacted.endswith(TRUNCATION_MARKER)
    assert "000" not in redacted[-40:]


def test_truncate_keeps_short_text() -> None:
    assert truncate("short") == "short"


def test_odd_inputs_never_raise() -> None:
    class BrokenStr:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    assert scrub_value(BrokenStr()) == PLACEHOLDER
    assert "\ud800" not in redact_text("lone \ud800 surrogate")
    assert redact_value("custom.raw", b"\xff\xfe SSN 000-12-3456") == f"\ufffd\ufffd SSN {PLACEHOLDER}"
    assert scrub_value({"nested": {"deeper": [{"email": "x"}]}}) == {"nested": {"deeper": [{"email": PLACEHOLDER}]}}
    assert scrub_value(frozenset({"000-12-3456"})) == [PLACEHOLDER]
