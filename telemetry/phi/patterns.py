"""Value patterns for PHI, and matching that undoes common disguises.

Matching runs on the text as given and on normalised copies of it. A normalised copy decodes
JSON `\\uXXXX` escapes and URL percent-escapes, optionally reads `+` as a space, maps
full-width and other compatibility characters to ASCII (NFKC), maps non-ASCII spaces and
dashes to ASCII ones, and drops zero-width characters and soft hyphens. Every character of
the copy remembers the span of the original it came from, so a match is redacted in the
original text and harmless characters around it come through byte for byte.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

_ZERO_WIDTH = frozenset("\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff")
_SPACES = frozenset("\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                    "\u202f\u205f\u3000")
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Finding:
    """A PHI match in a text: its kind and its span in the original text."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Pattern:
    """One class of identifier: its Python regex, and the same rule in RE2 syntax.

    RE2 (the OpenTelemetry Collector's regex engine) has no lookaround, so the RE2 form uses
    word boundaries instead and cannot apply `validate` (the Luhn check, the loopback
    exemption). It is the form written into the collector's redaction configuration.
    """

    kind: str
    regex: re.Pattern[str]
    re2: str
    validate: Callable[[str], bool] | None = None


def _luhn_valid(match: str) -> bool:
    digits = [int(ch) for ch in match if ch.isdigit()]
    checksum = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        checksum += digit
    return checksum % 10 == 0


def _not_loopback(match: str) -> bool:
    return not match.startswith("127.")


_MRN = (r"\b(?:MRN|MR\s?#|MR\s?No\.?|medical\s+record(?:\s+(?:number|no\.?|#))?)"
        r"\s*[:#=-]?\s*[A-Z0-9][A-Z0-9-]{3,}")
_LABEL = (r"\b(?:acct|account|member|policy|beneficiary|health\s+plan|plan|licen[cs]e|certificate|cert"
          r"|device|serial|VIN|NPI)\s*(?:no\.?|number|num|#|id)?\s*[:#=-]?\s*")
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_MONTH_DAY_YEAR = r"\b" + _MONTHS + r"\s+\d{1,2},?\s+\d{4}\b"
_DAY_MONTH_YEAR = r"\b\d{1,2}\s+" + _MONTHS + r",?\s+\d{4}\b"
_IPV4 = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}"
_IPV6 = r"(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,6}:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)"

# Sources: HIPAA Safe Harbor identifiers (45 CFR 164.514(b)(2)); the formats are the US ones
# (SSN, NANP phone numbers) plus international phone numbers written with a leading `+`.
PATTERNS: tuple[Pattern, ...] = (
    Pattern("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
            re2=r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    Pattern("ssn", re.compile(r"(?<![\d-])(?:\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4})(?![\d-])"),
            re2=r"\b(?:\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4})\b"),
    Pattern("ssn", re.compile(r"\b(?:SSN|social\s+security(?:\s+number)?)\s*[:#=]?\s*\d{9}(?!\d)", re.IGNORECASE),
            re2=r"(?i)\b(?:SSN|social\s+security(?:\s+number)?)\s*[:#=]?\s*\d{9}\b"),
    Pattern("phone", re.compile(
        r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\d)"),
        re2=r"(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b"),
    Pattern("phone", re.compile(r"(?<![\w+])\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}(?!\d)"),
            re2=r"\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}\b"),
    Pattern("mrn", re.compile(_MRN, re.IGNORECASE), re2="(?i)" + _MRN),
    Pattern("identifier", re.compile(_LABEL + r"(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,}", re.IGNORECASE),
            re2="(?i)" + _LABEL + r"[A-Z0-9-]*\d[A-Z0-9-]*"),
    Pattern("date", re.compile(r"(?<!\d)\d{4}-\d{1,2}-\d{1,2}(?!\d)"), re2=r"\b\d{4}-\d{1,2}-\d{1,2}\b"),
    Pattern("date", re.compile(r"(?<![\d.])(?:\d{1,2}/\d{1,2}/|\d{1,2}-\d{1,2}-)(?:\d{4}|\d{2})(?!\d)"),
            re2=r"\b(?:\d{1,2}/\d{1,2}/|\d{1,2}-\d{1,2}-)(?:\d{4}|\d{2})\b"),
    Pattern("date", re.compile(r"(?<![\d.])\d{1,2}\.\d{1,2}\.\d{4}(?![\d.])"), re2=r"\b\d{1,2}\.\d{1,2}\.\d{4}\b"),
    Pattern("date", re.compile(_MONTH_DAY_YEAR, re.IGNORECASE), re2="(?i)" + _MONTH_DAY_YEAR),
    Pattern("date", re.compile(_DAY_MONTH_YEAR, re.IGNORECASE), re2="(?i)" + _DAY_MONTH_YEAR),
    Pattern("ip_address", re.compile(r"(?<![\d.])" + _IPV4 + r"(?![\d.])"), re2=r"\b" + _IPV4 + r"\b",
            validate=_not_loopback),
    Pattern("ip_address", re.compile(r"(?<![\w:])" + _IPV6 + r"(?![\w:])", re.IGNORECASE),
            re2=r"(?i)\b" + _IPV6 + r"\b"),
    Pattern("card_number", re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),
            re2=r"\b(?:\d[ -]?){12,18}\d\b", validate=_luhn_valid),
)

# One alternation of every pattern. A single search shows whether a text needs the per-pattern
# passes at all, and most operational strings (ids, names, routes) do not.
_ANY_PATTERN = re.compile(
    "|".join(
        f"(?i:{pattern.regex.pattern})" if pattern.regex.flags & re.IGNORECASE else f"(?:{pattern.regex.pattern})"
        for pattern in PATTERNS
    )
)

# Every pattern needs a digit or `@`. Text with neither, and no escape that could hide one,
# skips matching entirely.
_MAY_CONTAIN_PHI = re.compile(r"[0-9@]")
_NEEDS_NORMALISING = re.compile(r"[^\x00-\x7f]|%[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\[\"\\/]|\+")


def find_phi(text: str) -> list[Finding]:
    """Return the PHI matches in `text` as merged, sorted spans of the original text."""
    views: list[tuple[str, list[int] | None, list[int] | None]] = []
    if _MAY_CONTAIN_PHI.search(text):
        views.append((text, None, None))
    if _NEEDS_NORMALISING.search(text):
        for plus_as_space in (False, True) if "+" in text else (False,):
            normalised, starts, ends = _normalise(text, plus_as_space=plus_as_space)
            if normalised != text and _MAY_CONTAIN_PHI.search(normalised):
                views.append((normalised, starts, ends))

    findings: list[Finding] = []
    for view, starts, ends in views:
        if not _ANY_PATTERN.search(view):
            continue
        for pattern in PATTERNS:
            for match in pattern.regex.finditer(view):
                if pattern.validate is not None and not pattern.validate(match.group(0)):
                    continue
                if starts is None or ends is None:
                    findings.append(Finding(pattern.kind, match.start(), match.end()))
                else:
                    findings.append(Finding(pattern.kind, starts[match.start()], ends[match.end() - 1]))
    return _merge(findings)


def _merge(findings: list[Finding]) -> list[Finding]:
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Finding(last.kind, last.start, max(last.end, finding.end))
        else:
            merged.append(finding)
    return merged


def replace_findings(text: str, findings: list[Finding], placeholder: str) -> str:
    """Replace each finding's span of `text` with `placeholder`."""
    pieces: list[str] = []
    position = 0
    for finding in findings:
        pieces.append(text[position:finding.start])
        pieces.append(placeholder)
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


def _normalise(text: str, *, plus_as_space: bool) -> tuple[str, list[int], list[int]]:
    """Return a normalised copy of `text` and, per character, the original span it came from."""
    output: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    index = 0
    length = len(text)
    while index < length:
        decoded, width = _decode_at(text, index, length, plus_as_space)
        if decoded in _ZERO_WIDTH:
            index += width
            continue
        if decoded in _SPACES:
            decoded = " "
        elif decoded in _DASHES:
            decoded = "-"
        elif not decoded.isascii():
            decoded = unicodedata.normalize("NFKC", decoded)
        for character in decoded:
            output.append(character)
            starts.append(index)
            ends.append(index + width)
        index += width
    return "".join(output), starts, ends


def _decode_at(text: str, index: int, length: int, plus_as_space: bool) -> tuple[str, int]:
    """Decode one escape or character at `index`, returning it and the characters it used."""
    character = text[index]
    if character == "\\" and index + 1 < length:
        following = text[index + 1]
        if following == "u" and _is_hex(text[index + 2:index + 6], 4):
            return chr(int(text[index + 2:index + 6], 16)), 6
        if following in "\"\\/":
            return following, 2
    # NOTE: only percent-escapes of printable ASCII are decoded. Escaped UTF-8 sequences stay
    # as they are, so a full-width digit sent as %EF%BC%90 is not matched.
    if character == "%" and index + 2 < length and _is_hex(text[index + 1:index + 3], 2):
        value = int(text[index + 1:index + 3], 16)
        if 0x20 <= value < 0x7f:
            return chr(value), 3
    if character == "+" and plus_as_space:
        return " ", 1
    return character, 1


def _is_hex(chunk: str, size: int) -> bool:
    return len(chunk) == size and all(ch in _HEX for ch in chunk)
