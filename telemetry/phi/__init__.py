"""The PHI redaction policy: the one place that decides what may leave the process.

Every sink uses it: the span processor (names, attributes, events, links, status, resource),
the Sentry hooks (events, transactions, breadcrumbs), the logging filter and the outgoing
propagation headers. The policy follows HIPAA's Safe Harbor identifiers with three tools:

- key names (`keys`): a key that names a person, a contact detail, a record, plan, account,
  licence, device or vehicle number, a credential or free text loses its value, whatever the
  value's type;
- value patterns (`patterns`): strings under any other key are scanned for SSNs, email
  addresses, phone and fax numbers, dates, MRN-style and other labelled identifiers, IP
  addresses and card numbers, through the usual disguises; URLs lose credentials and query
  values (`values`);
- free text (`exceptions`): exception messages from outside the project are removed whole.

Safe keys (semantic-convention and `clinisight.*` keys) keep their values after the pattern
scan, so issue keys, table names, request ids, status codes and durations stay readable.
Redacted text becomes the fixed `PLACEHOLDER`: never a hash, a length or a partial value.
Strings are truncated after redaction, never before, to `MAX_VALUE_CHARS`.
"""

from __future__ import annotations

from telemetry.phi.exceptions import (
    PhiSafeError,
    redact_exception_attributes,
    redact_exception_message,
    redact_status_description,
    redact_traceback,
)
from telemetry.phi.keys import KeyClass, classify_key
from telemetry.phi.patterns import Finding, find_phi
from telemetry.phi.values import (
    MAX_VALUE_CHARS,
    PLACEHOLDER,
    TRUNCATION_MARKER,
    redact_attributes,
    redact_text,
    redact_value,
    scrub_mapping,
    scrub_url,
    scrub_value,
    truncate,
)

__all__ = [
    "MAX_VALUE_CHARS",
    "PLACEHOLDER",
    "TRUNCATION_MARKER",
    "Finding",
    "KeyClass",
    "PhiSafeError",
    "classify_key",
    "find_phi",
    "redact_attributes",
    "redact_exception_attributes",
    "redact_exception_message",
    "redact_status_description",
    "redact_text",
    "redact_traceback",
    "redact_value",
    "scrub_mapping",
    "scrub_url",
    "scrub_value",
    "truncate",
]
