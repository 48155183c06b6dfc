"""The artifact is reproducible and runs on its own, in an interpreter that can import nothing else."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from handlers.local.artifact import Artifact, build
from handlers.local.jira_standin import JiraStandIn
from handlers.local.runner import LocalRun
from handlers.local.sentry_sink import SentrySink
from handlers.state_store import create_table
from tests.deploy.conftest import REPO_ROOT
from tests.examples import load_event

# Runs inside the fresh interpreter: `-S` drops site-packages and `-E` ignores PYTHON* variables,
# so only the standard library and the unpacked artifact can be imported.
RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import handlers.orchestrator as orchestrator, handlers.tasksmith as tasksmith, sentry_sdk

class Context:
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:artifact-test"
    def get_remaining_time_in_millis(self):
        return 30000

event = json.loads(sys.argv[2])
routed = orchestrator.handler(event, Context())
decomposed = tasksmith.handler({"event_type": "jira:issue_created", "issue_key": "CLIN-42",
                                "project_key": "CLIN"}, Context())
print(json.dumps({"routed": routed, "decomposed": decomposed,
                  "modules": [orchestrator.__file__, sentry_sdk.__file__]}))
"""


def test_build_is_reproducible(artifact: Artifact, tmp_path: Path) -> None:
    again = build(REPO_ROOT, tmp_path / "again.zip")
    assert again.sha256 == artifact.sha256
    assert again.size_bytes == artifact.size_bytes


def test_artifact_contents(artifact: Artifact) -> None:
    with zipfile.ZipFile(artifact.path) as archive:
        names = set(archive.namelist())
    assert {"handlers/orchestrator.py", "handlers/tasksmith.py", "telemetry/runtime.py",
            "collector-config/lambda-extension.yaml"} <= names
    assert any(name.startswith("sentry_sdk/") for name in names)
    assert not any(name.endswith("direct_url.json") for name in names)
    assert "handlers/__pycache__/orchestrator.cpython-311.pyc" in names
    assert not any(name.startswith(("tests/", "bench/", "examples/")) for name in names)


def test_handlers_run_from_artifact_alone(artifact: Artifact, aws_endpoint: str, local_run: LocalRun,
                                          tmp_path: Path) -> None:
    unpacked = tmp_path / "task"
    with zipfile.ZipFile(artifact.path) as archive:
        archive.extractall(unpacked)

    # moto's server shares its backends with the session's in-process moto, so the table and the
    # function may already exist there. `local_run` has just emptied the table.
    credentials = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    with contextlib.suppress(ClientError):
        create_table(boto3.client("dynamodb", endpoint_url=aws_endpoint, **credentials))
    lambda_client = boto3.client("lambda", endpoint_url=aws_endpoint, **credentials)
    role = boto3.client("iam", endpoint_url=aws_endpoint, **credentials).create_role(
        RoleName="artifact-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    # The orchestrator's async invoke needs the function to exist; moto never runs its code.
    with contextlib.suppress(ClientError):
        lambda_client.create_function(FunctionName="clinisight-tasksmith", Runtime="python3.11", Role=role,
                                      Handler="handlers.tasksmith.handler",
                                      Code={"ZipFile": artifact.path.read_bytes()})

    event = load_event("epic_created_direct.json")
    with JiraStandIn() as jira, SentrySink() as sink:
        jira.seed_issue(event["issue"])
        env = {
            "PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": aws_endpoint, "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "SENTRY_DSN": sink.dsn, "JIRA_BASE_URL": jira.base_url, "JIRA_EMAIL": jira.email,
            "JIRA_API_TOKEN": jira.api_token, "TASKSMITH_FUNCTION_NAME": "clinisight-tasksmith",
        }
        result = subprocess.run([sys.executable, "-S", "-E", "-c", RUNNER, str(unpacked), json.dumps(event)],
                                env=env, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        output = json.loads(result.stdout.strip().splitlines()[-1])
        transactions = sink.items("transaction")
        subtasks = jira.subtasks_of("CLIN-42")

    assert output["routed"]["statusCode"] == 202
    assert output["decomposed"]["status"] == "completed"
    assert len(subtasks) == 3
    assert all(module.startswith(str(unpacked)) for module in output["modules"])
    assert len(transactions) == 2
