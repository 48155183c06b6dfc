"""Loading the bundled example events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "examples" / "events"


def load_event(name: str) -> Any:
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
