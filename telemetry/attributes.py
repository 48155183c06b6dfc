"""Span attribute keys of this project. Every key has the `clinisight.` prefix.

Semantic-convention keys come from `opentelemetry.semconv`; only the project's own keys live
here, so the PHI policy can treat the whole prefix as operational data.
"""

from __future__ import annotations

PREFIX = "clinisight."

# Set by the span processor on DynamoDB spans longer than the threshold.
DYNAMODB_SLOW = "clinisight.dynamodb.slow"
DYNAMODB_SLOW_THRESHOLD_MS = "clinisight.dynamodb.slow_threshold_ms"
DYNAMODB_DURATION_MS = "clinisight.dynamodb.duration_ms"

# Set by handlers on the invocation span. Jira issue and project keys are operational data.
JIRA_EVENT_TYPE = "clinisight.jira.event_type"
JIRA_ISSUE_KEY = "clinisight.jira.issue_key"
JIRA_PROJECT_KEY = "clinisight.jira.project_key"
ROUTING_AGENT = "clinisight.routing.agent"
ROUTING_OUTCOME = "clinisight.routing.outcome"
EVENT_SOURCE = "clinisight.event.source"
SUBTASK_COUNT = "clinisight.tasksmith.subtask_count"
