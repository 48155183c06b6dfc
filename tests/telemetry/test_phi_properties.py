"""Property tests: generated identifiers embedded in harmless text never survive redaction."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.phi import redact_text

digits = st.integers(min_value=0, max_value=9).map(str)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.:", max_size=40)


def number(length: int) -> st.SearchStrategy[str]:
    return st.lists(digits, min_size=length, max_size=length).map("".join)


ssns = st.builds(lambda a, b, c: f"{a}-{b}-{c}", number(3), number(2), number(4))
phones = st.builds(lambda a, b, c: f"({a}) {b}-{c}", number(3), number(3), number(4))
emails = st.builds(
    lambda user, host: f"{user}@{host}.example.com",
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._", min_size=1, max_size=20)
    .filter(lambda user: user[0].isalnum()),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12),
)
mrns = st.builds(lambda value: f"MRN {value}", number(8))
dates = st.builds(lambda month, day, year: f"{month:02d}/{day:02d}/{year}",
                  st.integers(1, 12), st.integers(1, 28), st.integers(1900, 2030))
identifiers = st.one_of(ssns, phones, emails, mrns, dates)


@settings(max_examples=300, deadline=None)
@given(before=words, identifier=identifiers, after=words)
def test_embedded_identifier_removed(before: str, identifier: str, after: str) -> None:
    redacted = redact_text(f"{before} {identifier} {after}")
    assert identifier not in redacted


@settings(max_examples=300, deadline=None)
@given(text=words)
def test_text_without_digits_or_at_unchanged(text: str) -> None:
    assert redact_text(text) == text
