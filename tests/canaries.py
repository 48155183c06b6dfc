"""Obviously fake PHI used across tests, and a check that none of it appears in some text."""

from __future__ import annotations

# Every string here is fake: a reserved-looking SSN, an example.com address, a 555-01xx phone.
CANARIES = (
    "Jane Roe",
    "000-12-3456",
    "jane.roe@example.com",
    "555-010-1234",
    "(555) 010-1234",
    "00123456",
    "02/29/1980",
    "1980-02-29",
)


def leaked(text: str) -> list[str]:
    """Return the canaries found in `text`, case-insensitively."""
    lowered = text.lower()
    return [canary for canary in CANARIES if canary.lower() in lowered]
