"""The PHI redaction policy: the one place that decides what may leave the process.

Every sink uses it: the span processor (names, attributes, events, links, status), the Sentry
hooks (events, transactions, breadcrumbs) and the logging filter.

The policy follows HIPAA's Safe Harbor identifiers with three tools:

- key names: a key that names a person, contact detail, record number or free text loses its
  value whatever the value's type;
- value patterns: strings under any other key are scanned for SSNs, email addresses, phone
  numbers, dates, MRN-style identifiers, and URL credentials and query values;
- safe keys: semantic-convention and operational keys keep their values after the pattern scan,
  so issue keys, table names, request ids, status codes and durations stay readable.

Redacted text is replaced by the fixed `PLACEHOLDER`: never a hash, a length or a partial value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from telemetry.attributes import PREFIX as PROJECT_PREFIX

PLACEHOLDER = "[REDACTED]"


class KeyClass(Enum):
    SAFE = "safe"
    PHI = "phi"
    UNKNOWN = "unknown"


# Attribute keys whose values are operational metadata. Their string values are still scanned
# for patterns. Sources: OpenTelemetry semantic conventions (resource, FaaS, cloud, RPC, AWS
# SDK, HTTP, DB) and the keys that the botocore and requests instrumentations 0.66b2 emit.
SAFE_KEYS = frozenset(
    {
        "service.name",
        "service.version",
        "deployment.environment",
        "deployment.environment.name",
        "telemetry.sdk.name",
        "telemetry.sdk.language",
        "telemetry.sdk.version",
        "retry_attempts",
        "exception.type",
        "exception.escaped",
        "error.type",
        "otel.status_code",
        "otel.scope.name",
    }
)
SAFE_PREFIXES = (
    PROJECT_PREFIX,
    "faas.",
    "cloud.",
    "rpc.",
    "aws.",
    "http.",
    "url.",
    "net.",
    "server.",
    "network.",
    "db.",
    "code.",
    "thread.",
)
# Keys under a safe prefix that can still carry data: attribute names of items, and
# partition-key values in DynamoDB item collection metrics.
UNSAFE_UNDER_SAFE_PREFIX = frozenset(
    {
        "aws.dynamodb.projection",
        "aws.dynamodb.item_collection_metrics",
        "db.statement",
        "db.query.text",
        "http.request.body",
        "http.response.body",
    }
)

# Final key segments, lower-cased with `_`, `-` and spaces removed, that carry PHI or secrets.
PHI_KEY_NAMES = frozenset(
    {
        # people
        "patient", "patientname", "name", "firstname", "lastname", "middlename", "fullname",
        "givenname", "familyname", "surname", "displayname", "username", "nickname",
        # birth dates and other dates about a person
        "dob", "dateofbirth", "birthdate", "birthday", "admissiondate", "dischargedate",
        "dateofdeath",
        # contact details and location
        "email", "emailaddress", "phone", "phonenumber", "mobile", "fax", "address",
        "streetaddress", "street", "city", "zip", "zipcode", "postalcode", "ipaddress",
        # record, plan, account and licence numbers
        "ssn", "socialsecuritynumber", "mrn", "medicalrecordnumber", "healthplanid",
        "beneficiaryid", "memberid", "accountnumber", "licensenumber", "licencenumber",
        # free text, where patterns cannot find names
        "summary", "description", "comment", "comments", "body", "note", "notes",
        # credentials
        "authorization", "password", "secret", "token", "apitoken", "apikey", "cookie",
    }
)

# Value patterns. Each one is anchored on digits, `@` or a keyword, so text without any of
# those skips the scan (see `_MAY_CONTAIN_PHI`).
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
_PATTERNS = (
    # email addresses
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    # US social security numbers: 000-12-3456 and 000 12 3456
    re.compile(r"(?<!\d)\d{3}([- ])\d{2}\1\d{4}(?!\d)"),
    # phone and fax numbers: (555) 010-1234, 555.010.1234, +1 555 010 1234
    re.compile(r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\d)"),
    # medical record numbers introduced by a label: MRN 12345678, MR# A-1234567
    re.compile(
        r"\b(?:MRN|MR\s?#|MR\s?No\.?|medical\s+record(?:\s+(?:number|no\.?|#))?)"
        r"\s*[:#=-]?\s*[A-Z0-9][A-Z0-9-]{3,}",
        re.IGNORECASE,
    ),
    # dates other than a bare year: 1980-02-29, 02/29/1980, 29-02-1980, Feb 29, 1980
    re.compile(r"(?<!\d)\d{4}-\d{1,2}-\d{1,2}(?!\d)"),
    re.compile(r"(?<![\d.])\d{1,2}([/-])\d{1,2}\1(?:\d{4}|\d{2})(?!\d)"),
    re.compile(r"(?<![\d.])\d{1,2}\.\d{1,2}\.\d{4}(?![\d.])"),
    re.compile(
        r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}\b",
        re.IGNORECASE,
    ),
)
_MAY_CONTAIN_PHI = re.compile(r"[0-9@]|://|\bMR", re.IGNORECASE)


@lru_cache(maxsize=4096)
def classify_key(key: str) -> KeyClass:
    """Classify an attribute or field name as safe, PHI-bearing or unknown."""
    lowered = key.lower()
    if lowered in UNSAFE_UNDER_SAFE_PREFIX:
        return KeyClass.PHI
    if lowered in SAFE_KEYS or lowered.startswith(SAFE_PREFIXES):
        return KeyClass.SAFE
    last_segment = lowered.rsplit(".", 1)[-1]
    if _squash(last_segment) in PHI_KEY_NAMES:
        return KeyClass.PHI
    return KeyClass.UNKNOWN


def _squash(segment: str) -> str:
    return segment.replace("_", "").replace("-", "").replace(" ", "")


def redact_text(text: str) -> str:
    """Replace every PHI pattern in `text`, and scrub URL credentials and query values."""
    # NOTE: patterns match the text as given. Full-width digits, zero-width characters and
    # URL-encoded identifiers are not normalised first, so those disguises pass.
    if not _MAY_CONTAIN_PHI.search(text):
        return text
    redacted = _URL.sub(_scrub_url_match, text)
    for pattern in _PATTERNS:
        redacted = pattern.sub(PLACEHOLDER, redacted)
    return redacted


def _scrub_url_match(match: re.Match[str]) -> str:
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
    """Redact one attribute value according to its key."""
    key_class = classify_key(key)
    if key_class is KeyClass.PHI:
        return PLACEHOLDER
    return scrub_value(value)


def scrub_value(value: Any) -> Any:
    """Scan strings for patterns and walk mappings and sequences, applying the key policy."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, Mapping):
        return scrub_mapping(value)
    if isinstance(value, (bytes, bytearray)):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, tuple):
        return tuple(scrub_value(item) for item in value)
    if isinstance(value, Sequence):
        return [scrub_value(item) for item in value]
    # Any other type is rendered and scanned, because its text is what a sink would send.
    return redact_text(str(value))


def scrub_mapping(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    """Return a copy of `mapping` with every value redacted according to its key."""
    return {key: redact_value(str(key), value) for key, value in mapping.items()}


def redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return redacted span attributes, or None when nothing had to change.

    Returning None lets the span processor skip copying spans that carry no PHI.
    """
    if not attributes:
        return None
    changed = False
    redacted: dict[str, Any] = {}
    for key, value in attributes.items():
        new_value = redact_value(key, value)
        if new_value != value:
            changed = True
        redacted[key] = new_value
    return redacted if changed else None
