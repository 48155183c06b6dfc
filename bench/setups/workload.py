"""The work every set-up runs: TaskSmith's path in miniature.

One invocation reads the agent state (DynamoDB GetItem), reads the epic from Jira (HTTP GET),
then writes two state updates (DynamoDB UpdateItem) inside one explicit span. With the Lambda
span that is six spans per traced invocation. Botocore's `Stubber`, which the benchmark child
attaches, returns the DynamoDB responses. Jira is a local server on 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import boto3
import requests

TABLE = "clinisight-agent-state"
# Lambda handlers create their clients at import, in the init phase; so does this one.
dynamodb = boto3.client("dynamodb", region_name=os.environ.get("AWS_REGION", "us-east-1"))
session = requests.Session()
JIRA_URL = os.environ.get("BENCH_JIRA_URL", "http://127.0.0.1:9")

SpanFactory = Callable[[str], AbstractContextManager[Any]]


def decompose(event: dict[str, Any], span: SpanFactory) -> dict[str, Any]:
    """Run the invocation's work; `span(name)` opens the set-up's explicit span."""
    issue_key = event["issue_key"]
    key = {"pk": {"S": f"ISSUE#{issue_key}"}}
    dynamodb.get_item(TableName=TABLE, Key=key)
    response = session.get(f"{JIRA_URL}/rest/api/3/issue/{issue_key}", timeout=5)
    response.raise_for_status()
    summary = response.json()["fields"]["summary"]
    with span("tasksmith.decompose_epic"):
        for status in ("running", "completed"):
            dynamodb.update_item(
                TableName=TABLE,
                Key=key,
                UpdateExpression="SET #status = :status",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":status": {"S": status}},
            )
    return {"status": "completed", "issue_key": issue_key, "summary_length": len(summary)}


def stub_responses(stubber: Any) -> None:
    """Queue the three DynamoDB responses of one invocation on a botocore `Stubber`."""
    stubber.add_response("get_item", {"Item": {"pk": {"S": "ISSUE#CLIN-1"}, "status": {"S": "new"}}})
    stubber.add_response("update_item", {})
    stubber.add_response("update_item", {})
