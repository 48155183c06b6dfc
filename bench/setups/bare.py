"""No telemetry: the baseline every other set-up is compared with."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from bench.setups import workload


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return workload.decompose(event, nullcontext)
