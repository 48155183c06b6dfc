"""Run the handlers in one process as Lambda would run them, against local stand-ins.

Lambda runs the orchestrator and TaskSmith in separate environments, and the runner keeps them
apart the same way. An async invocation is delivered only after the orchestrator's invocation
has ended, from an empty OpenTelemetry context, so TaskSmith continues the trace only from the
`headers` in its payload. Each function flushes at the end of its own invocation.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from handlers.local.aws import FAKE_ACCOUNT_ID, LocalAws
from handlers.local.jira_standin import JiraStandIn
from handlers.local.sentry_sink import SentrySink
from handlers.state_store import DEFAULT_TABLE_NAME
from handlers.webhook import unwrap_event

logger = logging.getLogger(__name__)

# Local function name -> module that defines `handler` and `telemetry`.
FUNCTIONS = {
    "clinisight-orchestrator": "handlers.orchestrator",
    "clinisight-tasksmith": "handlers.tasksmith",
}
DEFAULT_TIMEOUT_S = 30.0

# One exporter per process: handler modules are imported, and so set up, once per process.
_captured_spans = InMemorySpanExporter()
_started = False


@dataclass
class LocalContext:
    """A Lambda context object for local invocations."""

    function_name: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    region: str = "us-east-1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{FAKE_ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


@dataclass
class InvocationResult:
    """The outcome of one local invocation."""

    function_name: str
    request_id: str
    response: Any = None
    error: Exception | None = None


class LocalRun:
    """Start the stand-ins, point the handlers at them, and invoke functions.

    `sentry_dsn` sends Sentry events elsewhere (a real Sentry or Spotlight); without it a
    local envelope sink on 127.0.0.1 receives them. `aws_endpoint_url` sends AWS calls to that
    endpoint (LocalStack, for example) instead of moto in process. Use as a context manager, once per
    process: the handlers read their settings and build their clients once, as in Lambda.
    """

    def __init__(self, *, sentry_dsn: str | None = None, otlp_endpoint: str | None = None,
                 dynamodb_latency_ms: float = 0.0, timeout_s: float = DEFAULT_TIMEOUT_S,
                 aws_endpoint_url: str | None = None) -> None:
        self.timeout_s = timeout_s
        self.sentry_sink: SentrySink | None = None if sentry_dsn else SentrySink()
        self.sentry_dsn = sentry_dsn
        self.otlp_endpoint = otlp_endpoint
        self.jira = JiraStandIn()
        self.aws = LocalAws(table_name=DEFAULT_TABLE_NAME, function_names=list(FUNCTIONS),
                            dynamodb_latency_ms=dynamodb_latency_ms, endpoint_url=aws_endpoint_url)
        self._saved_env: dict[str, str | None] = {}

    def __enter__(self) -> LocalRun:
        global _started
        if _started:
            raise RuntimeError("A LocalRun was already started in this process; start one per process")
        _started = True
        if self.sentry_sink is not None:
            self.sentry_sink.start()
            self.sentry_dsn = self.sentry_sink.dsn
        self.jira.start()
        self._set_env({
            "SENTRY_DSN": self.sentry_dsn,
            "JIRA_BASE_URL": self.jira.base_url,
            "JIRA_EMAIL": self.jira.email,
            "JIRA_API_TOKEN": self.jira.api_token,
            "TASKSMITH_FUNCTION_NAME": "clinisight-tasksmith",
            "STATE_TABLE_NAME": DEFAULT_TABLE_NAME,
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_endpoint,
        })
        self.aws.__enter__()
        for function_name in FUNCTIONS:
            self._module(function_name).telemetry.add_span_processor(SimpleSpanProcessor(_captured_spans))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.aws.__exit__(*exc_info)
        self.jira.stop()
        if self.sentry_sink is not None:
            self.sentry_sink.stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def seed_jira_from_event(self, event: Any) -> int:
        """Store in the Jira stand-in every issue that the event's webhooks carry."""
        seeded = 0
        _, envelopes = unwrap_event(event)
        for envelope in envelopes:
            issue = envelope.body.get("issue") if isinstance(envelope.body, dict) else None
            if isinstance(issue, dict) and isinstance(issue.get("key"), str):
                self.jira.seed_issue(issue)
                seeded += 1
        return seeded

    def invoke(self, function_name: str, event: Any) -> list[InvocationResult]:
        """Invoke a function, then deliver the async invocations it caused, in order."""
        results = [self._invoke_one(function_name, event)]
        while pending := self.aws.take_pending():
            for invocation in pending:
                if invocation.function_name not in FUNCTIONS:
                    logger.warning("No local handler for function %s; invocation dropped", invocation.function_name)
                    continue
                results.append(self._invoke_one(invocation.function_name, invocation.event()))
        return results

    def spans(self) -> list[ReadableSpan]:
        return list(_captured_spans.get_finished_spans())

    def reset(self) -> None:
        """Forget captured spans, Sentry envelopes, Jira issues and agent state."""
        _captured_spans.clear()
        if self.sentry_sink is not None:
            self.sentry_sink.clear()
        self.jira.reset()
        self.aws.clear_table()
        self.aws.take_pending()

    def _invoke_one(self, function_name: str, event: Any) -> InvocationResult:
        module = self._module(function_name)
        context = LocalContext(function_name, timeout_s=self.timeout_s,
                               region=os.environ.get("AWS_REGION", "us-east-1"))
        result = InvocationResult(function_name, context.aws_request_id)
        # Each function starts from an empty context, as in its own Lambda environment.
        token = otel_context.attach(otel_context.Context())
        try:
            result.response = module.handler(event, context)
        except Exception as exc:  # noqa: BLE001 - the result reports it, as Lambda would
            result.error = exc
        finally:
            otel_context.detach(token)
        return result

    def _module(self, function_name: str) -> ModuleType:
        return importlib.import_module(FUNCTIONS[function_name])

    def _set_env(self, values: dict[str, str | None]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
