"""The PHI scanner on single lines: spans, Sentry items, raw envelopes and log text."""

from __future__ import annotations

import json

from telemetry.scan import scan_line


def span_record(**attributes: object) -> str:
    return json.dumps({
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "parent_span_id": None,
        "name": "DynamoDB.GetItem", "kind": "CLIENT", "start_time_unix_nano": 1, "end_time_unix_nano": 2,
        "attributes": {"rpc.method": "GetItem", **attributes}, "events": [],
        "status": {"code": "UNSET", "description": None},
        "resource": {"service.name": "clinisight-tasksmith"},
    })


def test_clean_span_has_no_findings() -> None:
    assert scan_line(span_record()) == []


def test_span_findings_name_kind_and_field() -> None:
    findings = scan_line(span_record(patient_name="Jane Roe", **{"custom.ref": "SSN 000-12-3456"}))
    assert findings == [("phi_key", "attributes.patient_name"), ("ssn", "attributes.custom.ref")]


def test_sentry_item_record_uses_event_rules() -> None:
    record = {
        "envelope": 0,
        "envelope_headers": {"event_id": "0f1e2d3c", "sent_at": "2026-12-04T20:40:00.123456Z"},
        "item_headers": {"type": "event"},
        "payload": {
            "event_id": "0f1e2d3c", "timestamp": "2026-12-04T20:40:00.123456Z", "level": "error",
            "exception": {"values": [{"type": "ValueError", "value": "lookup for jane.roe@example.com"}]},
            "contexts": {"trace": {"description": "DynamoDB.GetItem"}},
        },
    }
    assert scan_line(json.dumps(record)) == [("email", "payload.exception.values[0].value")]


def test_raw_envelope_lines() -> None:
    header = {"event_id": "0f1e2d3c", "sent_at": "2026-12-04T20:40:00.123456Z",
              "dsn": "http://key@127.0.0.1:9/1", "sdk": {"name": "sentry.python", "version": "2.76.0"}}
    item_header = {"type": "transaction", "content_type": "application/json", "length": 120}
    payload = {"event_id": "0f1e2d3c", "type": "transaction", "transaction": "clinisight-tasksmith",
               "timestamp": 1764880800.1, "spans": [{"description": "GET", "data": {"http.status_code": 200}}]}
    assert scan_line(json.dumps(header)) == []
    assert scan_line(json.dumps(item_header)) == []
    assert scan_line(json.dumps(payload)) == []


def test_log_lines_skip_own_timestamp() -> None:
    assert scan_line("2026-12-04 20:40:00,123 INFO handled CLIN-42 in 12 ms") == []
    assert scan_line("[INFO]\t2026-12-04T20:40:00.123Z\tc6af9ac6-7b61-11e6-9a41-93e8deadbeef\tdone") == []
    assert scan_line("2026-12-04 20:40:00,123 WARNING born 1980-02-29") == [("date", "")]


def test_log_line_url_with_query() -> None:
    assert scan_line("GET https://jira.example.com/rest/api/3/search?jql=x") == [("url_data", "")]


def test_disguised_identifier_found() -> None:
    assert scan_line("ssn \uff10\uff10\uff10-12-3456") == [("ssn", "")]


def test_invalid_json_scanned_as_text() -> None:
    assert scan_line('{"broken": "000-12-3456"') == [("ssn", "")]
