"""Exception messages and tracebacks: free text unless the exception type vouches for it.

A message from a library can echo its input (a DynamoDB validation error quoting a key, an HTTP
error quoting a URL), and patterns cannot find names in it. So messages are removed whole,
except for:

- subclasses of `PhiSafeError`, whose messages the project builds from operational facts only
  (they still pass the pattern scan);
- botocore's `ClientError` and its modeled subclasses (`botocore.errorfactory.*`), whose
  fixed prefix names the error code and the operation; the service's own message after it is
  removed.
"""

from __future__ import annotations

import re

from telemetry.phi.values import PLACEHOLDER, redact_text, redact_value


class PhiSafeError(Exception):
    """Base for exceptions whose messages carry operational facts only: field names, keys,
    status codes, counts. Never put an input value into such a message."""


# botocore.exceptions.ClientError formats "An error occurred (Code) when calling the Op
# operation[ (reached max retries: N)]: <service message>" (botocore 1.44).
_CLIENT_ERROR_TYPES = frozenset({"ClientError", "botocore.exceptions.ClientError"})
_MODELED_ERROR_MODULE = "botocore.errorfactory."
_CLIENT_ERROR_PREFIX = re.compile(
    r"^An error occurred \([\w.]{1,128}\) when calling the \w{1,128} operation"
    r"(?: \(reached max retries: \d+\))?"
)
_TRACEBACK_HEADER = "Traceback (most recent call last):"
_CHAIN_SEPARATORS = frozenset(
    {
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    }
)
_EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?:: (?P<message>.*))?$")


def trusted_exception_types() -> frozenset[str]:
    """Return the bare and qualified names of every `PhiSafeError` subclass defined so far."""
    names: set[str] = set()
    pending = list(PhiSafeError.__subclasses__())
    while pending:
        cls = pending.pop()
        names.add(cls.__qualname__)
        names.add(f"{cls.__module__}.{cls.__qualname__}")
        pending.extend(cls.__subclasses__())
    return frozenset(names)


def redact_exception_message(type_name: str, message: str | None) -> str | None:
    """Return the part of an exception message of type `type_name` that may leave the process."""
    if not message:
        return message
    if type_name in trusted_exception_types():
        return redact_text(message)
    # Modeled service errors (botocore.errorfactory.*) are ClientError subclasses.
    if type_name in _CLIENT_ERROR_TYPES or type_name.startswith(_MODELED_ERROR_MODULE):
        prefix = _CLIENT_ERROR_PREFIX.match(message)
        if prefix is not None:
            rest = message[prefix.end():]
            return prefix.group(0) + (f": {PLACEHOLDER}" if rest else "")
    return PLACEHOLDER


def redact_traceback(text: str) -> str:
    """Redact a formatted Python traceback: frame lines are scanned, messages decided by type.

    Unindented lines other than headers are exception lines (`Type: message`) or continuation
    lines of a multi-line message; continuation lines are removed whole.
    """
    lines: list[str] = []
    in_message = False
    for line in text.splitlines():
        if line.startswith((" ", "\t")):
            in_message = False
            lines.append(redact_text(line))
        elif line == _TRACEBACK_HEADER or line in _CHAIN_SEPARATORS or not line.strip():
            in_message = False
            lines.append(line)
        elif in_message:
            lines.append(PLACEHOLDER)
        else:
            match = _EXCEPTION_LINE.match(line)
            if match is None:
                lines.append(PLACEHOLDER)
            else:
                message = redact_exception_message(match.group("type"), match.group("message"))
                lines.append(match.group("type") + (f": {message}" if message else ""))
            in_message = True
    return "\n".join(lines)


def redact_status_description(description: str) -> str:
    """Redact a span status description, which the SDK builds as `Type: message`."""
    match = _EXCEPTION_LINE.match(description)
    if match is not None and match.group("message") is not None:
        message = redact_exception_message(match.group("type"), match.group("message"))
        return f"{match.group('type')}: {message}"
    return redact_text(description)


def redact_exception_attributes(attributes: dict[str, object]) -> dict[str, object]:
    """Redact the attributes of a span's `exception` event.

    The message and stack trace follow the exception-type rules above. Any other attribute
    follows the key policy.
    """
    type_name = str(attributes.get("exception.type", ""))
    redacted: dict[str, object] = {}
    for key, value in attributes.items():
        if key == "exception.message" and isinstance(value, str):
            redacted[key] = redact_exception_message(type_name, value) or ""
        elif key == "exception.stacktrace" and isinstance(value, str):
            redacted[key] = redact_traceback(value)
        else:
            redacted[key] = redact_value(key, value)
    return redacted
