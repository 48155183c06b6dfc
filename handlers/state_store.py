"""Agent state in DynamoDB: one item per agent and Jira entity.

Table `ClinisightAgentState` (override with `STATE_TABLE_NAME`): partition key `agent_name`,
sort key `entity_id`, both strings. Items hold operational facts only: a status, subtask keys,
an error type and counters. No issue text is stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

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
