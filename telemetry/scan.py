"""Auditing captured output for PHI: span JSON lines, Sentry envelopes and log files.

A finding is a place where the PHI policy would change what was captured. The scanner calls the
same functions that redact each sink, so its verdict matches what the sinks would have sent.
Findings carry the file, the line, the kind and the field path; never the value.

Recognised lines:
- span records as `clinisight-trace invoke --out` writes them (`spans.jsonl`);
- Sentry envelope items as `--out` writes them (`sentry.jsonl`), and raw envelope files, whose
  header, item-header and payload lines are each JSON;
- any other JSON object, checked with the key policy;
- any other line, as log text. A leading log timestamp (ISO 8601, or the Lambda runtime's
  `[LEVEL]\\t<time>\\t<request id>\\t` prefix) is the log's own time and is skipped.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telemetry.phi import (
    PLACEHOLDER,
    classify_key,
    find_phi,
    redact_exception_attributes,
    redact_status_description,
    redact_text,
    redact_value,
    scrub_value,
)
from telemetry.phi.keys import KeyClass
from telemetry.sentry_bridge import scrub_event

_LOG_PREFIX = re.compile(
    r"^(?:\[(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\]\t\S+\t\S+\t"
    r"|\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?\s)"
)
_URL_WITH_DATA = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]*(?:[?#]|://[^/\s]*@)")
# Envelope and span fields that hold the record's own times and ids, not a person's.
_RECORD_METADATA = frozenset({"sent_at", "event_id", "dsn", "sdk", "timestamp", "start_timestamp"})
_SENTRY_EVENT_TYPES = frozenset({"event", "transaction"})


@dataclass(frozen=True)
class ScanFinding:
    """One place in a file where the policy finds PHI."""

    path: str
    line: int
    kind: str
    field: str

    def __str__(self) -> str:
        where = f" in {self.field}" if self.field else ""
        return f"{self.path}:{self.line}: {self.kind}{where}"


def scan_paths(paths: Iterable[Path]) -> Iterator[ScanFinding]:
    """Scan files, and every file under directories, line by line."""
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            yield from scan_file(file)


def scan_file(path: Path) -> Iterator[ScanFinding]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            for kind, field in scan_line(line.rstrip("\n")):
                yield ScanFinding(str(path), number, kind, field)


def scan_line(line: str) -> list[tuple[str, str]]:
    """Return (kind, field path) for each finding on one line."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
        except (json.JSONDecodeError, RecursionError):
            record = None
        if isinstance(record, dict):
            return _scan_record(record)
    return [(kind, "") for kind in _text_kinds(_LOG_PREFIX.sub("", line, count=1))]


def _scan_record(record: dict[str, Any]) -> list[tuple[str, str]]:
    if "payload" in record and "item_headers" in record:
        findings = _diff_generic(_without_metadata(record.get("envelope_headers") or {}), "envelope_headers")
        payload = record["payload"]
        item_type = (record.get("item_headers") or {}).get("type")
        if isinstance(payload, dict) and item_type in _SENTRY_EVENT_TYPES:
            return findings + _diff(payload, scrub_event(copy.deepcopy(payload)), "payload")
        return findings + _diff_generic(payload, "payload")
    if {"trace_id", "span_id", "attributes"} <= record.keys():
        return _scan_span(record)
    if "event_id" in record and ("platform" in record or record.get("type") in _SENTRY_EVENT_TYPES):
        return _diff(record, scrub_event(copy.deepcopy(record)), "")
    if {"type", "length"} & record.keys() and record.keys() <= {"type", "length", "content_type", "filename",
                                                                  "attachment_type", "item_count"}:
        return []
    return _diff_generic(_without_metadata(record), "")


def _scan_span(span: dict[str, Any]) -> list[tuple[str, str]]:
    findings = [(kind, "name") for kind in _text_kinds(str(span.get("name", "")))]
    findings += _diff_generic(span.get("attributes") or {}, "attributes")
    findings += _diff_generic(span.get("resource") or {}, "resource")
    for index, event in enumerate(span.get("events") or ()):
        field = f"events[{index}]"
        findings += [(kind, f"{field}.name") for kind in _text_kinds(str(event.get("name", "")))]
        attributes = event.get("attributes") or {}
        if event.get("name") == "exception":
            findings += _diff(attributes, redact_exception_attributes(dict(attributes)), f"{field}.attributes")
        else:
            findings += _diff_generic(attributes, f"{field}.attributes")
    description = (span.get("status") or {}).get("description")
    if isinstance(description, str) and redact_status_description(description) != description:
        findings.append((_kind_of(description), "status.description"))
    return findings


def _diff_generic(value: Any, field: str) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return _diff(value, {key: redact_value(str(key), item) for key, item in value.items()}, field)
    return _diff(value, scrub_value(value), field)


def _diff(original: Any, redacted: Any, field: str) -> list[tuple[str, str]]:
    """Return a finding for each leaf that redaction changed."""
    if isinstance(original, dict) and isinstance(redacted, dict):
        findings: list[tuple[str, str]] = []
        for key, value in original.items():
            child = _join(field, key)
            if key not in redacted:
                findings.append(("removed_field", child))
            else:
                findings += _diff(value, redacted[key], child)
        return findings
    if isinstance(original, list) and isinstance(redacted, (list, tuple)) and len(original) == len(redacted):
        findings = []
        for index, (item, redacted_item) in enumerate(zip(original, redacted, strict=True)):
            findings += _diff(item, redacted_item, f"{field}[{index}]")
        return findings
    if original == redacted or (isinstance(redacted, tuple) and list(redacted) == original):
        return []
    if field.endswith("exception.message"):
        return [("exception_message", field)]
    last_key = field.rsplit(".", 1)[-1].split("[", 1)[0]
    if redacted == PLACEHOLDER and classify_key(last_key) is KeyClass.PHI:
        return [("phi_key", field)]
    return [(_kind_of(original), field)]


def _kind_of(value: Any) -> str:
    if isinstance(value, str):
        kinds = _text_kinds(value)
        if kinds:
            return kinds[0]
        return "free_text"
    return "phi_value"


def _text_kinds(text: str) -> list[str]:
    kinds = [finding.kind for finding in find_phi(text)]
    if _URL_WITH_DATA.search(text) and redact_text(text) != text:
        kinds.append("url_data")
    return kinds


def _without_metadata(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in _RECORD_METADATA}


def _join(field: str, key: Any) -> str:
    # Field names are reported, so they pass the pattern scan too.
    name = redact_text(str(key))
    return f"{field}.{name}" if field else name
