"""Generated PHI canaries, their disguises, and an independent check for them in sink output.

A canary has a canonical form (what a person would recognise) and a disguised form (what the
test feeds in). The check decodes sink output with its own simple normaliser, written apart
from the product's, and looks for the canonical form.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote_plus, unquote_plus

from hypothesis import strategies as st

# CLINISIGHT_CANARY_SCALE multiplies every canary test's example count (the long mode).
SCALE = max(int(os.environ.get("CLINISIGHT_CANARY_SCALE", "1") or 1), 1)

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2212\uff0d"
_SPACES = "\u00a0\u2007\u202f\u3000"
_TRANSLATION = str.maketrans(
    {**{ch: None for ch in _ZERO_WIDTH}, **{ch: "-" for ch in _DASHES}, **{ch: " " for ch in _SPACES}}
)


@dataclass(frozen=True)
class Canary:
    kind: str
    canonical: str
    disguised: str
    # The part of `canonical` that identifies the person; the check searches for it.
    core: str


def examples(count: int) -> int:
    return count * SCALE


def _digits(length: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=length, max_size=length)


def _canonical_values() -> st.SearchStrategy[tuple[str, str, str]]:
    """(kind, canonical text, identifying core) for each identifier class the patterns cover."""
    ssn = st.builds(lambda a, b, c: ("ssn", f"{a}-{b}-{c}", f"{a}-{b}-{c}"), _digits(3), _digits(2), _digits(4))
    phone = st.builds(lambda a, b, c: ("phone", f"({a}) {b}-{c}", f"{b}-{c}"),
                      _digits(3), _digits(3), _digits(4))
    email = st.builds(
        lambda user, host: ("email", f"{user}@{host}.example.com", f"{user}@{host}.example.com"),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=12),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10),
    )
    mrn = st.builds(lambda value: ("mrn", f"MRN {value}", value), _digits(8))
    dob = st.builds(lambda month, day, year: ("date", f"{month:02d}/{day:02d}/{year}", f"{month:02d}/{day:02d}/{year}"),
                    st.integers(1, 12), st.integers(1, 28), st.integers(1920, 2020))
    # Loopback addresses (127.0.0.0/8) are left readable by the policy, so they are not canaries.
    first_octet = st.integers(11, 223).filter(lambda octet: octet != 127)
    ip = st.builds(lambda a, b, c, d: ("ip_address", f"{a}.{b}.{c}.{d}", f"{a}.{b}.{c}.{d}"),
                   first_octet, st.integers(0, 255), st.integers(0, 255), st.integers(1, 254))
    return st.one_of(ssn, phone, email, mrn, dob, ip)


def _fullwidth(text: str) -> str:
    return "".join(chr(0xFF10 + int(ch)) if ch.isdigit() else ch for ch in text)


def _json_escaped(text: str) -> str:
    return "".join(f"\\u{ord(ch):04x}" if ch.isdigit() or ch == "@" else ch for ch in text)


@st.composite
def canaries(draw: st.DrawFn, *, allow_url_encoding: bool = True) -> Canary:
    kind, canonical, core = draw(_canonical_values())
    styles = ["plain", "upper", "fullwidth", "zero_width", "dash", "space", "json"]
    if allow_url_encoding:
        styles.append("url")
    style = draw(st.sampled_from(styles))
    text = canonical
    if style == "upper":
        text = canonical.upper()
    elif style == "fullwidth":
        text = _fullwidth(canonical)
    elif style == "zero_width":
        position = draw(st.integers(1, len(canonical) - 1))
        text = canonical[:position] + draw(st.sampled_from(_ZERO_WIDTH)) + canonical[position:]
    elif style == "dash":
        text = canonical.replace("-", draw(st.sampled_from(_DASHES)))
    elif style == "space":
        text = canonical.replace(" ", draw(st.sampled_from(_SPACES)))
    elif style == "json":
        text = _json_escaped(canonical)
    elif style == "url":
        text = quote_plus(canonical)
    return Canary(kind, canonical, text, core)


def normalise_sink_text(text: str) -> str:
    """Decode the disguises a sink could carry, so a surviving canary shows its canonical form."""
    text = re.sub(r"\\\\u([0-9a-fA-F]{4})|\\u([0-9a-fA-F]{4})",
                  lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
    text = unquote_plus(text)
    text = unicodedata.normalize("NFKC", text)
    return text.translate(_TRANSLATION).lower()


def leaked(canary: Canary, sink_text: str, *, normalised: bool = False) -> bool:
    """Return True when the canary's identifying core appears in the sink text.

    Pass `normalised=True` when the text already went through `normalise_sink_text`.
    """
    core = canary.core.lower()
    pattern = re.escape(core)
    if core[0].isdigit():
        pattern = r"(?<![\d])" + pattern
    if core[-1].isdigit():
        pattern += r"(?![\d])"
    text = sink_text if normalised else normalise_sink_text(sink_text)
    return re.search(pattern, text) is not None
