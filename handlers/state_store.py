"""Agent state in DynamoDB: one item per agent and Jira entity.

Table `ClinisightAgentState` (override with `STATE_TABLE_NAME`): partition key `agent_name`,
sort key `entity_id`, both strings. Items hold operational facts only: a status, subtask keys,
an error type and counters. No issue text is stored.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from telemetry.phi import PhiSafeError

DEFAULT_TABLE_NAME = "ClinisightAgentState"

# Every DynamoDB call is bounded: 2 s to connect, 5 s to read, 3 attempts in all.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"max_attempts": 3, "mode": "standard"},
)


@dataclass(frozen=True, kw_only=True)
class AgentState:
    """An agent's record of one entity."""

    agent_name: str
    entity_id: str
    status: str
    attempts: int = 0
    subtask_keys: tuple[str, ...] = field(default=())
    error_type: str | None = None
    updated_at: str = ""

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "agent_name": {"S": self.agent_name},
            "entity_id": {"S": self.entity_id},
            "status": {"S": self.status},
            "attempts": {"N": str(self.attempts)},
            "subtask_keys": {"L": [{"S": key} for key in self.subtask_keys]},
            "updated_at": {"S": self.updated_at or _now()},
        }
        if self.error_type:
            item["error_type"] = {"S": self.error_type}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> AgentState:
        return cls(
            agent_name=item["agent_name"]["S"],
            entity_id=item["entity_id"]["S"],
            status=item.get("status", {}).get("S", "unknown"),
            attempts=int(item.get("attempts", {}).get("N", "0")),
            subtask_keys=tuple(value["S"] for value in item.get("subtask_keys", {}).get("L", [])),
            error_type=item.get("error_type", {}).get("S"),
            updated_at=item.get("updated_at", {}).get("S", ""),
        )


class ClaimLostError(PhiSafeError, RuntimeError):
    """Another invocation took the work over after this one's claim expired."""


class StateStore:
    """Read and write `AgentState` items."""

    def __init__(self, table_name: str | None = None, client: Any = None) -> None:
        self.table_name = table_name or os.environ.get("STATE_TABLE_NAME") or DEFAULT_TABLE_NAME
        self.client = client or boto3.client("dynamodb", config=CLIENT_CONFIG)

    def get(self, agent_name: str, entity_id: str) -> AgentState | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key={"agent_name": {"S": agent_name}, "entity_id": {"S": entity_id}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return AgentState.from_item(item) if item else None

    def put(self, state: AgentState) -> None:
        self.client.put_item(TableName=self.table_name, Item=state.to_item())

    def claim(self, agent_name: str, entity_id: str, *, owner: str, lease_s: int) -> bool:
        """Take the work on an entity for `owner`, keeping the subtasks recorded so far.

        The write succeeds only when no one holds the work: the entity is new, its last attempt
        failed, or the holder's lease has expired (a crashed or timed-out invocation). Returns
        False when another invocation has claimed it or it is completed.
        """
        now = int(time.time())
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_key(agent_name, entity_id),
                UpdateExpression=(
                    "SET #status = :in_progress, #owner = :owner, lease_until = :lease_until, "
                    "updated_at = :updated_at, subtask_keys = if_not_exists(subtask_keys, :empty), "
                    "attempts = if_not_exists(attempts, :zero) + :one REMOVE error_type"
                ),
                ConditionExpression=(
                    "attribute_not_exists(entity_id) OR #status = :failed "
                    "OR (#status = :in_progress AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": "in_progress"}, ":failed": {"S": "failed"},
                    ":owner": {"S": owner}, ":lease_until": {"N": str(now + lease_s)},
                    ":now": {"N": str(now)}, ":updated_at": {"S": _now()}, ":empty": {"L": []},
                    ":zero": {"N": "0"}, ":one": {"N": "1"},
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def record_subtask(self, agent_name: str, entity_id: str, *, owner: str, subtask_key: str) -> None:
        """Append a created subtask's key, so a retry does not create it again."""
        self._update_owned(agent_name, entity_id, owner, "SET subtask_keys = list_append(subtask_keys, :key)",
                           {":key": {"L": [{"S": subtask_key}]}})

    def finish(self, agent_name: str, entity_id: str, *, owner: str, status: str,
               error_type: str | None = None) -> None:
        """Record the outcome, only while the claim still belongs to `owner`."""
        expression = "SET #status = :status, updated_at = :updated_at REMOVE lease_until"
        values: dict[str, Any] = {":status": {"S": status}, ":updated_at": {"S": _now()}}
        if error_type:
            expression = "SET #status = :status, updated_at = :updated_at, error_type = :error_type REMOVE lease_until"
            values[":error_type"] = {"S": error_type}
        self._update_owned(agent_name, entity_id, owner, expression, values, names={"#status": "status"})

    def _update_owned(self, agent_name: str, entity_id: str, owner: str, expression: str,
                      values: dict[str, Any], names: dict[str, str] | None = None) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_key(agent_name, entity_id),
                UpdateExpression=expression,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner", **(names or {})},
                ExpressionAttributeValues={":owner": {"S": owner}, **values},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ClaimLostError(
                    f"the claim on {agent_name}/{entity_id} now belongs to another invocation"
                ) from None
            raise


def _key(agent_name: str, entity_id: str) -> dict[str, Any]:
    return {"agent_name": {"S": agent_name}, "entity_id": {"S": entity_id}}


def create_table(client: Any, table_name: str = DEFAULT_TABLE_NAME) -> None:
    """Create the state table with on-demand billing, for local runs and tests."""
    client.create_table(
        TableName=table_name,
        KeySchema=[
            {"AttributeName": "agent_name", "KeyType": "HASH"},
            {"AttributeName": "entity_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "agent_name", "AttributeType": "S"},
            {"AttributeName": "entity_id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
