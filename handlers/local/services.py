"""Commands the compose stack runs: the stand-ins as services, LocalStack set-up, and a send.

    python -m handlers.local.services jira --host 0.0.0.0 --port 8080
    python -m handlers.local.services sentry-sink --host 0.0.0.0 --port 8990
    python -m handlers.local.services setup-localstack
    python -m handlers.local.services send examples/events/epic_created_direct.json

The AWS calls go wherever boto3 is pointed (`AWS_ENDPOINT_URL`, LocalStack in the stack).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

logger = logging.getLogger("clinisight.services")

FUNCTIONS = {
    "clinisight-orchestrator": "handlers.orchestrator.handler",
    "clinisight-tasksmith": "handlers.tasksmith.handler",
}
STANDIN_TOKEN_ENV = {"JIRA_EMAIL": "agent@example.com", "JIRA_API_TOKEN": "local-jira-token"}


def function_environment() -> dict[str, str]:
    """Return the environment of both functions inside the compose network."""
    from handlers.local.sentry_sink import PUBLIC_KEY

    return {
        "SENTRY_DSN": f"http://{PUBLIC_KEY}@sentry-sink:8990/1",
        "SENTRY_SPOTLIGHT": "http://spotlight:8969/stream",
        "SENTRY_ENVIRONMENT": "localstack",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
        "JIRA_BASE_URL": "http://jira-standin:8080",
        **STANDIN_TOKEN_ENV,
        "TASKSMITH_FUNCTION_NAME": "clinisight-tasksmith",
        "STATE_TABLE_NAME": "ClinisightAgentState",
        "AWS_ENDPOINT_URL": "http://localstack:4566",
    }


def build_package(source: Path) -> bytes:
    """Build the deployment artifact from `source` and return its bytes."""
    from handlers.local.artifact import build

    with tempfile.TemporaryDirectory() as folder:
        return build(source, Path(folder) / "clinisight-lambda.zip").path.read_bytes()


def setup_localstack(source: Path) -> None:
    """Create the state table and both functions in the AWS endpoint boto3 is pointed at."""
    import boto3
    from botocore.exceptions import ClientError

    from handlers.state_store import create_table

    dynamodb = boto3.client("dynamodb")
    try:
        create_table(dynamodb)
        logger.info("Created table ClinisightAgentState")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        logger.info("Table ClinisightAgentState already exists")

    iam = boto3.client("iam")
    try:
        role_arn = iam.create_role(
            RoleName="clinisight-local-lambda",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        )["Role"]["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        role_arn = iam.get_role(RoleName="clinisight-local-lambda")["Role"]["Arn"]

    logger.info("Packaging the handlers; this installs the dependencies and takes a minute")
    package = build_package(source)
    lambda_client = boto3.client("lambda")
    for name, handler in FUNCTIONS.items():
        try:
            lambda_client.delete_function(FunctionName=name)
        except ClientError:
            pass
        lambda_client.create_function(
            FunctionName=name, Runtime="python3.11", Role=role_arn, Handler=handler,
            Code={"ZipFile": package}, Timeout=30, MemorySize=512,
            Environment={"Variables": {**function_environment(), "OTEL_SERVICE_NAME": name}},
        )
        lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
        logger.info("Created function %s (%d KiB package)", name, len(package) // 1024)


def send(event_file: Path, standin_url: str) -> int:
    """Seed the Jira stand-in with the event's issues and invoke the orchestrator in LocalStack."""
    import boto3
    import requests

    from handlers.local.jira_standin import SEED_PATH
    from handlers.webhook import unwrap_event

    event = json.loads(event_file.read_text(encoding="utf-8"))
    for envelope in unwrap_event(event)[1]:
        issue = envelope.body.get("issue") if isinstance(envelope.body, dict) else None
        if isinstance(issue, dict):
            requests.post(standin_url.rstrip("/") + SEED_PATH, json=issue, timeout=10).raise_for_status()
    response = boto3.client("lambda").invoke(FunctionName="clinisight-orchestrator", Payload=json.dumps(event))
    print(response["Payload"].read().decode("utf-8"))
    return 1 if response.get("FunctionError") else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handlers.local.services")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("jira", "sentry-sink"):
        service = commands.add_parser(name)
        service.add_argument("--host", default="127.0.0.1")
        service.add_argument("--port", type=int, required=True)
    commands.add_parser("setup-localstack").add_argument("--source", type=Path, default=Path("/src"))
    sender = commands.add_parser("send")
    sender.add_argument("event_file", type=Path)
    sender.add_argument("--standin-url", default=os.environ.get("JIRA_STANDIN_URL", "http://localhost:8080"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    if args.command == "jira":
        from handlers.local.jira_standin import JiraStandIn

        logger.info("Jira stand-in listening on %s:%d", args.host, args.port)
        JiraStandIn(host=args.host, port=args.port).serve_forever()
    elif args.command == "sentry-sink":
        from handlers.local.sentry_sink import SentrySink

        logger.info("Sentry sink listening on %s:%d", args.host, args.port)
        SentrySink(host=args.host, port=args.port).serve_forever()
    elif args.command == "setup-localstack":
        started = time.monotonic()
        setup_localstack(args.source)
        logger.info("LocalStack set up in %.0f s", time.monotonic() - started)
    else:
        return send(args.event_file, args.standin_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
