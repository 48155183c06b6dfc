"""The deployment artifact, built once for the deploy tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.local.artifact import Artifact, build

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    return build(REPO_ROOT, tmp_path_factory.mktemp("dist") / "clinisight-lambda.zip")
