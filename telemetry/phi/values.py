"""Redacting values: text, attribute values, mappings and sequences, then truncating them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from telemetry.phi.keys import KeyClass, classify_key
from telemetry.phi.patterns import find_phi, replace_findings

PLACEHOLDER = "[REDACTED]"
TRUNCATION_MARKER = "...[TRUNCATED]"
# Maximum length, in characters, of a string that leaves the process; applied after redaction.
MAX_VALUE_CHARS = 4096
# Texts up to this length are cached by `redact_text`.
MAX_CACHED_CHARS = 256
# Sequences longer than this are not searched for identifiers split across their items.
MAX_JOINED_ITEMS = 256

_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")


def redact_text(text: str, *, max_chars: int = MAX_VALUE_CHARS) -> str:
    """Replace every PHI match with the placeholder, scrub URLs, then truncate."""
    if len(text) <= MAX_CACHED_CHARS and max_chars == MAX_VALUE_CHARS:
        return _redact_short_text(text)
    return _redact_text(text, max_chars)


def _redact_text(text: str, max_chars: int = MAX_VALUE_CHARS) -> str:
    """Replace every PHI match with the placeholder, scrub URLs, then truncate.

    Patterns run first: a URL ends at the first space, so scrubbing URLs first could separate
    a label such as `MRN` in a fragment from the number after it.
    """
    text = _clean_unicode(text)
    findings = find_phi(text)
    if findings:
        text = replace_findings(text, findings, PLACEHOLDER)
    if "://" in text:
        text = _URL.sub(_scrub_url_match, text)
    return truncate(text, max_chars)


# Span attributes repeat across spans (methods, tables, services, routes), so short texts are
# redacted once and remembered. The cache lives in process memory only.
_redact_short_text = lru_cache(maxsize=4096)(_redact_text)


@lru_cache(maxsize=4096)
def _redact_scalar(key: str, value: str | bool | int | float) -> Any:
    if classify_key(key) is KeyClass.PHI:
        return PLACEHOLDER
    if type(value) is str:
        return _redact_text(value)
    return value


def truncate(text: str, max_chars: int = MAX_VALUE_CHARS) -> str:
    """Cut `text` to `max_chars`, marker included. Call it after redaction, never before."""
    if len(text) <= max_chars:
        return text
    return text[: max(max_chars - len(TRUNCATION_MARKER), 0)] + TRUNCATION_MARKER


def _clean_unicode(text: str) -> str:
    """Replace lone surrogates, which exporters cannot encode as UTF-8."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _scrub_url_match(match: Any) -> str:
    return scrub_url(match.group(0))


def scrub_url(url: str) -> str:
    """Drop credentials, query values and the fragment from `url`, keeping query keys."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{PLACEHOLDER}@{netloc.rsplit('@', 1)[1]}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = "&".join(f"{quote(key, safe='')}={PLACEHOLDER}" for key, _ in pairs)
        fragment = PLACEHOLDER if parts.fragment else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
    except ValueError:
        return PLACEHOLDER


def redact_value(key: str, value: Any) -> Any:
    """Redact one attribute or field value according to its key."""
    if classify_key(key) is KeyClass.PHI:
        return PLACEHOLDER
    if isinstance(value, str):
        return redact_text(value)
    return scrub_value(value)


def scrub_value(value: Any) -> Any:
    """Scan strings for patterns and walk mappings and sequences, applying the key policy."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, Mapping):
        return scrub_mapping(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, (list, tuple)):
        scrubbed = _scrub_sequence(value)
        return tuple(scrubbed) if isinstance(value, tuple) else scrubbed
    if isinstance(value, (set, frozenset)):
        return _scrub_sequence(sorted(value, key=repr))
    # Any other type is rendered and scanned, because its text is what a sink would send.
    try:
        rendered = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break redaction
        return PLACEHOLDER
    return redact_text(rendered)


def scrub_mapping(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    """Return a copy of `mapping` with every value redacted according to its key."""
    return {key: redact_value(str(key), value) for key, value in mapping.items()}


def _scrub_sequence(items: Sequence[Any]) -> list[Any]:
    """Scrub each item, then redact items that together spell an identifier.

    An SSN sent as `["000-12", "-3456"]` or a phone number as `["555", "010", "1234"]` has no
    match in any one item, so the string items are also joined, with and without spaces.
    """
    scrubbed = [scrub_value(item) for item in items]
    positions = [index for index, item in enumerate(scrubbed) if isinstance(item, str)]
    if len(positions) < 2 or len(positions) > MAX_JOINED_ITEMS:
        return scrubbed

    flagged: set[int] = set()
    for separator in ("", " "):
        joined_parts: list[str] = []
        bounds: list[tuple[int, int, int]] = []
        offset = 0
        for index in positions:
            text = scrubbed[index]
            bounds.append((offset, offset + len(text), index))
            joined_parts.append(text)
            offset += len(text) + len(separator)
        for finding in find_phi(separator.join(joined_parts)):
            flagged.update(index for start, end, index in bounds if start < finding.end and finding.start < end)
    for index in flagged:
        scrubbed[index] = PLACEHOLDER
    return scrubbed


def redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return redacted span attributes, or None when nothing had to change.

    Returning None lets the span processor skip copying spans that carry no PHI.
    """
    if not attributes:
        return None
    redacted: dict[str, Any] | None = None
    for key, value in attributes.items():
        # This loop runs for every attribute of every span, so the common case is one cached
        # call per attribute.
        value_type = type(value)
        if value_type is str and len(value) <= MAX_CACHED_CHARS or value_type in (bool, int, float):
            new_value = _redact_scalar(key, value)
        else:
            new_value = redact_value(key, value)
        if new_value is value or new_value == value:
            continue
        if redacted is None:
            redacted = dict(attributes)
        redacted[key] = new_value
    return redacted
