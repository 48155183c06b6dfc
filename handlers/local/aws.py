"""AWS for local runs: moto in process, or a real endpoint such as LocalStack.

With moto, the state table and the functions are created in process. With an endpoint URL,
AWS calls go to that endpoint and the state table is created there if it is missing.

Either way, asynchronous Lambda invocations are captured as they are sent (payload bytes
included, with the trace headers that the instrumentation added) and delivered to the local
handler later by the runner: moto's Lambda cannot run code without Docker, and against an
endpoint the call is answered locally so the agent runs in this process, not in the endpoint's
Lambda as well.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from opentelemetry.instrumentation.utils import suppress_instrumentation

from handlers.state_store import create_table

logger = logging.getLogger(__name__)

FAKE_ACCOUNT_ID = "123456789012"
# Key in botocore's per-request context that carries a captured invocation to after-call.
_PENDING_KEY = "clinisight_async_invocation"
REGION = "us-east-1"
# Credentials that only moto accepts, so a local run can never reach a real account.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class AsyncInvocation:
    """An `InvocationType=Event` call as it was sent."""

    function_name: str
    payload: bytes

    def event(self) -> Any:
        return json.loads(self.payload)


class LocalAws:
    """Run moto in process and record async Lambda invocations; use as a context manager.

    `dynamodb_latency_ms` adds that many milliseconds to every DynamoDB call, inside the
    call's span, to show the slow-call flag.
    """

    def __init__(self, *, table_name: str, function_names: list[str], dynamodb_latency_ms: float = 0.0,
                 endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.table_name = table_name
        self.function_names = function_names
        self.dynamodb_latency_ms = dynamodb_latency_ms
        self._lock = threading.Lock()
        self._pending: list[AsyncInvocation] = []
        self._mock: Any = None

    def __enter__(self) -> LocalAws:
        os.environ.update(FAKE_CREDENTIALS)
        os.environ.setdefault("AWS_REGION", REGION)
        os.environ.setdefault("AWS_DEFAULT_REGION", os.environ["AWS_REGION"])
        if self.endpoint_url:
            # boto3 1.28 and later send every client to AWS_ENDPOINT_URL.
            os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url
        else:
            from moto import mock_aws  # imported here: moto is a local-run dependency only

            self._mock = mock_aws(config={"lambda": {"use_docker": False}})
            self._mock.start()
        # Clients built after this point, including the handlers' own, carry the hooks.
        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events
        events.register("before-call.lambda.Invoke", self._capture_invoke)
        events.register("after-call.lambda.Invoke", self._queue_accepted_invoke)
        events.register("before-call.dynamodb", self._add_latency)
        if self.endpoint_url:
            self._ensure_table()
        else:
            self._create_resources()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._mock is not None:
            self._mock.stop()
        boto3.DEFAULT_SESSION = None

    def take_pending(self) -> list[AsyncInvocation]:
        """Return and forget the async invocations sent so far."""
        with self._lock:
            pending, self._pending = self._pending, []
        return pending

    def clear_table(self) -> None:
        """Delete every item of the state table."""
        with suppress_instrumentation():
            client = boto3.client("dynamodb")
            for page in client.get_paginator("scan").paginate(TableName=self.table_name):
                for item in page["Items"]:
                    client.delete_item(TableName=self.table_name,
                                       Key={"agent_name": item["agent_name"], "entity_id": item["entity_id"]})

    def _create_resources(self) -> None:
        # Set-up calls would otherwise become spans and Sentry transactions of their own.
        with suppress_instrumentation():
            create_table(boto3.client("dynamodb"), self.table_name)
            role_arn = boto3.client("iam").create_role(
                RoleName="clinisight-local-lambda",
                AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
            )["Role"]["Arn"]
            lambda_client = boto3.client("lambda")
            for name in self.function_names:
                lambda_client.create_function(
                    FunctionName=name,
                    Runtime="python3.11",
                    Role=role_arn,
                    Handler="handler.handler",
                    Code={"ZipFile": _placeholder_zip()},
                    Timeout=30,
                )

    def _ensure_table(self) -> None:
        from botocore.exceptions import ClientError

        with suppress_instrumentation():
            try:
                create_table(boto3.client("dynamodb"), self.table_name)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceInUseException":
                    raise

    def _capture_invoke(self, params: dict[str, Any], context: dict[str, Any],
                        **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        headers = params.get("headers") or {}
        if headers.get("X-Amz-Invocation-Type") != "Event":
            return None
        # url_path is /2015-03-31/functions/{FunctionName}/invocations
        path_parts = str(params.get("url_path", "")).split("/")
        function_name = unquote(path_parts[3]) if len(path_parts) > 3 else ""
        body = params.get("body") or b""
        payload = body if isinstance(body, bytes) else str(body).encode()
        # Queued only once the call is accepted (see `_queue_accepted_invoke`), as Lambda would.
        context[_PENDING_KEY] = AsyncInvocation(function_name, payload)
        if not self.endpoint_url:
            return None  # moto responds to the call itself
        # A response returned from a before-call hook replaces the HTTP call (botocore 1.44).
        request_id = str(uuid.uuid4())
        http = AWSResponse(str(params.get("url", "")), 202, {"x-amzn-requestid": request_id}, None)
        return http, {"StatusCode": 202, "Payload": StreamingBody(io.BytesIO(b""), 0),
                      "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": 202, "HTTPHeaders": {},
                                           "RetryAttempts": 0}}

    def _queue_accepted_invoke(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        invocation = context.pop(_PENDING_KEY, None)
        if invocation is not None and parsed.get("StatusCode") == 202:
            with self._lock:
                self._pending.append(invocation)

    def _add_latency(self, **_: Any) -> None:
        if self.dynamodb_latency_ms > 0:
            time.sleep(self.dynamodb_latency_ms / 1000.0)


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()
