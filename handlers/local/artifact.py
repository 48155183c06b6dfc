"""Building the Lambda deployment artifact: one zip with the project and its dependencies.

The build is reproducible:
- dependencies are pinned by `deploy/lambda-constraints.txt` and installed as manylinux x86_64
  wheels for CPython 3.11, the functions' runtime and architecture;
- modules are precompiled to hash-based bytecode;
- files are stored in sorted order with a fixed timestamp and mode;
- install-time files that name local paths (`direct_url.json`) are left out.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

PLATFORM_ARGS = ["--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.11",
                 "--only-binary=:all:"]
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
LAMBDA_TASK_ROOT = "/var/task"
EXCLUDED_NAMES = frozenset({"direct_url.json", "INSTALLER", "REQUESTED"})
EXCLUDED_DIRS = frozenset({"bin"})


@dataclass(frozen=True)
class Artifact:
    path: Path
    size_bytes: int
    sha256: str


def install_into(target: Path, source: Path, *, constraints: Path | None) -> None:
    """Install the project at `source` and its dependencies into the folder `target`."""
    with tempfile.TemporaryDirectory() as wheel_dir:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", wheel_dir,
                        str(source)], check=True)
        wheels = sorted(Path(wheel_dir).glob("*.whl"))
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target),
                   *PLATFORM_ARGS, *(str(wheel) for wheel in wheels)]
        if constraints is not None:
            command += ["--constraint", str(constraints)]
        subprocess.run(command, check=True)


def write_zip(folder: Path, output: Path, extra_files: dict[str, Path]) -> Artifact:
    """Zip `folder` (and `extra_files`, by their name in the archive) deterministically."""
    entries: dict[str, Path] = {}
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and path.name not in EXCLUDED_NAMES and not EXCLUDED_DIRS & set(relative.parts):
            entries[relative.as_posix()] = path
    entries.update(extra_files)

    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, _content(entries[name]), compresslevel=9)
    data = output.read_bytes()
    return Artifact(output, len(data), hashlib.sha256(data).hexdigest())


def _content(path: Path) -> bytes:
    """Return a file's bytes; a RECORD file loses the lines of the files left out."""
    data = path.read_bytes()
    if path.name != "RECORD":
        return data
    kept = [line for line in data.decode("utf-8").splitlines(keepends=True)
            if line.split(",", 1)[0].rsplit("/", 1)[-1] not in EXCLUDED_NAMES]
    return "".join(kept).encode("utf-8")


def build(source: Path, output: Path) -> Artifact:
    """Build the artifact for the project at `source` into `output`."""
    constraints = source / "deploy" / "lambda-constraints.txt"
    with tempfile.TemporaryDirectory() as target:
        install_into(Path(target), source, constraints=constraints if constraints.exists() else None)
        precompile(Path(target))
        extra = {"collector-config/lambda-extension.yaml": source / "collector-config" / "lambda-extension.yaml"}
        return write_zip(Path(target), output, extra)


def precompile(folder: Path) -> None:
    """Compile every module to bytecode stamped with its source hash, not its mtime.

    Lambda's /var/task is read-only, so without bytecode in the artifact every cold start
    compiles every module. Hash-based bytecode is the same for the same source, which keeps
    the build reproducible. It runs in a fresh interpreter with a fixed hash seed, so that
    set constants marshal in the same order.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "1", "--invalidation-mode", "unchecked-hash",
         # Source paths in tracebacks name Lambda's code folder, not the build's temporary one.
         "-s", str(folder), "-p", LAMBDA_TASK_ROOT, str(folder)],
        check=True, env={**os.environ, "PYTHONHASHSEED": "0"}, stdout=subprocess.DEVNULL,
    )
