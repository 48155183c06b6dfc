"""The SAM template: validated offline, translated offline, and deployed to moto."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

from handlers.local.artifact import Artifact
from tests.deploy.conftest import REPO_ROOT

TEMPLATE = REPO_ROOT / "template.yaml"
PARAMETERS = {
    "Environment": "staging",
    "ArtifactBucket": "clinisight-artifacts",
    "ArtifactKey": "clinisight-lambda.zip",
    "JiraBaseUrl": "https://example.atlassian.net",
    "JiraEmail": "agent@example.com",
}
ORCHESTRATOR = "clinisight-orchestrator-staging"
TASKSMITH = "clinisight-tasksmith-staging"


class NoManagedPolicies:
    """The template uses SAM policy templates only, so no managed-policy lookup is needed."""

    def load(self) -> dict[str, str]:
        return {}


def translated() -> dict[str, Any]:
    template, _ = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    return transform(template, PARAMETERS, NoManagedPolicies())


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def deployed(artifact: Artifact) -> dict[str, Any]:
    """Deploy the translated template to the session's moto through CloudFormation.

    moto's CloudFormation (5.2) does not create AWS::Lambda::EventInvokeConfig, so those
    resources of the translated template are applied through the Lambda API afterwards.
    """
    cloudformation_template = translated()
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=PARAMETERS["ArtifactBucket"])
    s3.put_object(Bucket=PARAMETERS["ArtifactBucket"], Key=PARAMETERS["ArtifactKey"], Body=artifact.path.read_bytes())
    sqs = boto3.client("sqs")

    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName="clinisight-staging",
        TemplateBody=json.dumps(cloudformation_template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in PARAMETERS.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName="clinisight-staging")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"

    queue_url = sqs.get_queue_url(QueueName="clinisight-failed-invocations-staging")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    names = {"TaskSmithFunction": TASKSMITH, "OrchestratorFunction": ORCHESTRATOR}
    lambda_client = boto3.client("lambda")
    for resource in cloudformation_template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventInvokeConfig":
            continue
        properties = resource["Properties"]
        assert properties["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["FailedInvocationQueue", "Arn"]}
        lambda_client.put_function_event_invoke_config(
            FunctionName=names[properties["FunctionName"]["Ref"]],
            MaximumRetryAttempts=properties["MaximumRetryAttempts"],
            MaximumEventAgeInSeconds=properties["MaximumEventAgeInSeconds"],
            DestinationConfig={"OnFailure": {"Destination": queue_arn}},
        )
    return {"queue_arn": queue_arn}


def role_statements(function_name: str) -> list[dict[str, Any]]:
    config = boto3.client("lambda").get_function(FunctionName=function_name)["Configuration"]
    role_name = config["Role"].rsplit("/", 1)[1]
    iam = boto3.client("iam")
    statements: list[dict[str, Any]] = []
    for policy_name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        if isinstance(document, str):
            # moto's CloudFormation (5.2) stores inline policies as Python reprs, not JSON.
            document = ast.literal_eval(document)
        statements += document["Statement"]
    return statements


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def test_functions_configured(deployed: dict[str, Any]) -> None:
    lambda_client = boto3.client("lambda")
    for name, handler in ((ORCHESTRATOR, "handlers.orchestrator.handler"), (TASKSMITH, "handlers.tasksmith.handler")):
        config = lambda_client.get_function(FunctionName=name)["Configuration"]
        assert config["Handler"] == handler
        assert config["Runtime"] == "python3.11"
        assert config["MemorySize"] == 512
        assert config["Timeout"] == 30
        assert config["Architectures"] == ["x86_64"]
        variables = config["Environment"]["Variables"]
        assert variables["SENTRY_DSN_SSM_PARAMETER"] == "/clinisight/sentry-dsn"
        assert "SENTRY_DSN" not in variables
        assert "JIRA_API_TOKEN" not in variables
        # moto keeps a Number parameter's type in the environment; Lambda stores every value as text.
        assert str(variables["CLINISIGHT_SLOW_DYNAMODB_MS"]) == "100"
        assert str(variables["CLINISIGHT_FLUSH_BUDGET_MS"]) == "2000"
        assert variables["SENTRY_ENVIRONMENT"] == "staging"
    tasksmith_config = lambda_client.get_function(FunctionName=TASKSMITH)["Configuration"]
    tasksmith_variables = tasksmith_config["Environment"]["Variables"]
    assert tasksmith_variables["JIRA_API_TOKEN_SECRET"] == "clinisight/jira-api-token"
    assert tasksmith_variables["STATE_TABLE_NAME"] == "ClinisightAgentState-staging"


def test_async_invoke_config(deployed: dict[str, Any]) -> None:
    lambda_client = boto3.client("lambda")
    for name in (ORCHESTRATOR, TASKSMITH):
        config = lambda_client.get_function_event_invoke_config(FunctionName=name)
        assert config["MaximumRetryAttempts"] == 2
        assert config["MaximumEventAgeInSeconds"] == 3600
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == deployed["queue_arn"]


def test_table_keys_and_point_in_time_recovery(deployed: dict[str, Any]) -> None:
    table = boto3.client("dynamodb").describe_table(TableName="ClinisightAgentState-staging")["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
        ("agent_name", "HASH"), ("entity_id", "RANGE")}
    # moto's CloudFormation (5.2) ignores PointInTimeRecoverySpecification, so the translated
    # template is checked instead of the deployed table.
    properties = translated()["Resources"]["StateTable"]["Properties"]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_least_privilege_roles(deployed: dict[str, Any]) -> None:
    orchestrator = role_statements(ORCHESTRATOR)
    tasksmith = role_statements(TASKSMITH)
    orchestrator_actions = actions_of(orchestrator)
    tasksmith_actions = actions_of(tasksmith)

    assert "lambda:InvokeFunction" in orchestrator_actions
    assert not any(action.startswith("dynamodb:") for action in orchestrator_actions)
    assert not any(action.startswith("secretsmanager:") for action in orchestrator_actions)
    invoke_resources = [s["Resource"] for s in orchestrator if "lambda:InvokeFunction" in actions_of([s])]
    assert all(TASKSMITH in json.dumps(resource) for resource in invoke_resources)

    assert not any(action.startswith("lambda:") for action in tasksmith_actions)
    assert {"dynamodb:GetItem", "dynamodb:PutItem"} <= tasksmith_actions
    dynamodb_resources = [s["Resource"] for s in tasksmith if any(a.startswith("dynamodb:") for a in actions_of([s]))]
    assert all("ClinisightAgentState-staging" in json.dumps(resource) for resource in dynamodb_resources)
    assert "secretsmanager:GetSecretValue" in tasksmith_actions

    for statements in (orchestrator, tasksmith):
        ssm = [s for s in statements if any(a.startswith("ssm:") for a in actions_of([s]))]
        assert ssm
        assert all("parameter/clinisight/sentry-dsn" in json.dumps(s["Resource"]) for s in ssm)
        assert actions_of(ssm) == {"ssm:GetParameter"}
