"""Virtual environments for the compared set-ups, made by the benchmark itself.

Cold starts are measured in environments that hold only what a Lambda deployment would: the
project's runtime dependencies (read from pyproject.toml) plus what the naive and Powertools
set-ups need, and, separately,
the opentelemetry-instrumentation-aws-lambda set-up, whose pins conflict with the project's.
Neither has the project's dev tools, whose many installed distributions would slow the
OpenTelemetry entry-point look-ups at import and so penalise the OpenTelemetry set-ups.
The repository itself is put on `sys.path` by the child, as the handler code is on Lambda.

Each environment is remade only when its requirement list changes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
import venv
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HOME = REPO_ROOT / ".venv-bench"
# Dependencies of the other set-ups in this environment, beyond the project's own. The naive
# set-up uses the SDK's OTLP exporter, and Powertools brings the X-Ray SDK.
COMPARED = ["opentelemetry-exporter-otlp-proto-http>=1.30,<2", "aws-lambda-powertools[tracer]>=3,<4"]


def runtime_requirements() -> list[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *COMPARED]


def otel_lambda_requirements() -> list[str]:
    lines = (REPO_ROOT / "bench" / "requirements-otel-lambda.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def ensure(name: str, requirements: list[str], report: Callable[[str], object] = print) -> Path:
    """Return the Python of environment `name`, creating or updating it first if needed."""
    folder = HOME / name
    python = folder / "bin" / "python"
    marker = folder / "requirements.sha256"
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    if python.exists() and marker.exists() and marker.read_text() == digest:
        return python
    report(f"Creating the benchmark environment {folder.relative_to(REPO_ROOT)} ({len(requirements)} requirements)")
    venv.EnvBuilder(clear=True, with_pip=True).create(folder)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
                   check=True, stdout=sys.stderr)
    # Compile once, so no measured cold start pays for writing bytecode.
    subprocess.run([str(python), "-m", "compileall", "-q", "-j", "0", str(folder / "lib")], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker.write_text(digest)
    return python


def versions(python: Path, distributions: list[str]) -> dict[str, str]:
    """Return the installed version of each named distribution in the environment of `python`."""
    script = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([str(python), "-c", script, *distributions], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)
