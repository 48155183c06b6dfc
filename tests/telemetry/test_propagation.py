"""Baggage members pass the PHI policy before they leave the process."""

from __future__ import annotations

from urllib.parse import quote

from telemetry.phi import PLACEHOLDER
from telemetry.propagation import scrub_baggage


def test_phi_baggage_values_replaced() -> None:
    header = "patient.email=jane.roe%40example.com,ref=SSN%20000-12-3456;prop=1,sentry-environment=local"
    placeholder = quote(PLACEHOLDER, safe="")
    assert scrub_baggage(header) == (
        f"patient.email={placeholder},ref=SSN%20{placeholder};prop=1,sentry-environment=local"
    )


def test_operational_baggage_unchanged() -> None:
    header = ("sentry-trace_id=4bf92f3577b34da6a3ce929d0e0e4736,sentry-public_key=0123456789abcdef,"
              "sentry-transaction=clinisight-tasksmith,sentry-sample_rate=1.0")
    assert scrub_baggage(header) == header


def test_malformed_members_dropped() -> None:
    assert scrub_baggage("no-equals-sign,key=value") == "key=value"
