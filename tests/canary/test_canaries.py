"""The canary suite: generated PHI, in disguise, pushed through every path into every sink.

Each example runs real invocations against the session's local run and then reads what left
the process: every exported span, every byte of every Sentry envelope, and every log line
written through a handler that the project's filter guards. About 2,000 examples run by
default; CLINISIGHT_CANARY_SCALE=N runs N times as many.
"""

from __future__ import annotations

import copy
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace

from handlers.local.report import span_to_dict
from handlers.local.runner import LocalContext, LocalRun
from telemetry.log_redaction import install_log_redaction
from tests.canary.strategies import Canary, canaries, examples, leaked, normalise_sink_text
from tests.examples import load_event
from tests.session import fresh_run

CANARY_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Capture log output after the project's redaction filter, as a Lambda log handler would."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    install_log_redaction()
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def sink_texts(run: LocalRun, logs: io.StringIO | None = None) -> dict[str, str]:
    assert run.sentry_sink is not None
    texts = {
        "spans": "\n".join(json.dumps(span_to_dict(span), ensure_ascii=False) for span in run.spans()),
        "sentry": "\n".join(envelope.raw.decode("utf-8", "replace") for envelope in run.sentry_sink.envelopes()),
    }
    if logs is not None:
        texts["logs"] = logs.getvalue()
    return texts


def assert_contained(run: LocalRun, found: list[Canary], logs: io.StringIO | None = None) -> None:
    texts = sink_texts(run, logs)
    assert texts["spans"], "the example exported no spans, so it proved nothing"
    for name, text in texts.items():
        normalised = normalise_sink_text(text)
        for canary in found:
            assert not leaked(canary, normalised, normalised=True), (
                f"{canary.kind} canary ({canary.disguised!r}) reached {name}"
            )


def orchestrator_telemetry() -> Any:
    from handlers.orchestrator import telemetry

    return telemetry


def invoke(handler: Any, event: Any = None) -> Any:
    try:
        return handler(event or {}, LocalContext("clinisight-orchestrator"))
    except Exception as exc:  # noqa: BLE001 - the sinks are checked whatever the handler did
        return exc


@settings(max_examples=examples(200), **CANARY_SETTINGS)
@given(summary=canaries(), description=canaries(), reporter=canaries(), custom=canaries(), label=canaries())
def test_webhook_fields(summary: Canary, description: Canary, reporter: Canary, custom: Canary,
                        label: Canary) -> None:
    run = fresh_run()
    event = load_event("epic_created_direct.json")
    fields = event["issue"]["fields"]
    fields["summary"] = f"Follow-up for {summary.disguised}"
    fields["description"] = f"Patient {description.disguised}\n- Call {description.disguised}\n- Review chart"
    fields["reporter"] = {"displayName": reporter.disguised, "emailAddress": reporter.disguised}
    fields["customfield_10042"] = custom.disguised
    fields["labels"] = [label.disguised]
    run.seed_jira_from_event(event)
    with captured_logs() as logs:
        results = run.invoke("clinisight-orchestrator", event)
    assert [r.error for r in results] == [None, None]
    assert_contained(run, [summary, description, reporter, custom, label], logs)


@settings(max_examples=examples(400), **CANARY_SETTINGS)
@given(
    unknown=canaries(),
    phi_key=canaries(),
    in_name=canaries(allow_url_encoding=False),
    in_event=canaries(),
    in_link=canaries(),
    in_status=canaries(),
    split=canaries(allow_url_encoding=False),
    split_at=st.integers(1, 5),
)
def test_handler_attributes(unknown: Canary, phi_key: Canary, in_name: Canary, in_event: Canary, in_link: Canary,
                            in_status: Canary, split: Canary, split_at: int) -> None:
    run = fresh_run()
    telemetry = orchestrator_telemetry()
    tracer = trace.get_tracer("tests.canary")
    cut = min(split_at, len(split.disguised) - 1)

    @telemetry.lambda_handler
    def handler(event: Any, context: Any) -> None:
        with tracer.start_as_current_span("linked") as linked:
            pass
        links = [trace.Link(linked.get_span_context(), {"custom.link_ref": in_link.disguised})]
        with tracer.start_as_current_span(f"lookup {in_name.disguised}", links=links) as span:
            span.set_attribute("custom.lookup_ref", f"ref {unknown.disguised}")
            span.set_attribute("patient.contact", phi_key.disguised)
            span.set_attribute("custom.parts", [split.disguised[:cut], split.disguised[cut:]])
            span.add_event("note", {"custom.note_ref": in_event.disguised})
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"failed for {in_status.disguised}"))

    invoke(handler)
    assert_contained(run, [unknown, phi_key, in_name, in_event, in_link, in_status, split])


@settings(max_examples=examples(350), **CANARY_SETTINGS)
@given(outer=canaries(), cause=canaries(), context=canaries())
def test_exception_messages(outer: Canary, cause: Canary, context: Canary) -> None:
    run = fresh_run()
    telemetry = orchestrator_telemetry()

    @telemetry.lambda_handler
    def handler(event: Any, context_: Any) -> None:
        try:
            try:
                raise KeyError(f"no record {context.disguised}")
            except KeyError:
                raise LookupError(f"lookup failed for {cause.disguised}") from None
        except LookupError as error:
            raise ValueError(f"patient {outer.disguised} rejected") from error

    with captured_logs() as logs:
        assert isinstance(invoke(handler), ValueError)
    assert_contained(run, [outer, cause, context], logs)


@settings(max_examples=examples(350), **CANARY_SETTINGS)
@given(argument=canaries(), formatted=canaries(), in_error=canaries())
def test_log_calls(argument: Canary, formatted: Canary, in_error: Canary) -> None:
    run = fresh_run()
    telemetry = orchestrator_telemetry()
    logger = logging.getLogger("handlers.canary")

    @telemetry.lambda_handler
    def handler(event: Any, context: Any) -> None:
        logger.info("Loaded patient %s", argument.disguised)
        logger.warning(f"Contact {formatted.disguised} failed")
        try:
            raise RuntimeError(f"bad value {in_error.disguised}")
        except RuntimeError:
            logger.exception("Processing failed")
        raise ValueError("stop")

    with captured_logs() as logs:
        invoke(handler)
    assert "Processing failed" in logs.getvalue()
    assert_contained(run, [argument, formatted, in_error], logs)


@settings(max_examples=examples(350), **CANARY_SETTINGS)
# requests encodes basic-auth credentials as Latin-1, so only ASCII disguises can be sent there.
@given(query=canaries(), credentials=canaries(allow_url_encoding=False).filter(lambda c: c.disguised.isascii()),
       fragment=canaries())
def test_http_urls(query: Canary, credentials: Canary, fragment: Canary) -> None:
    run = fresh_run()
    telemetry = orchestrator_telemetry()
    host = run.jira.base_url.removeprefix("http://")
    user = requests.utils.quote(credentials.disguised, safe="")
    url = (f"http://{user}:secret@{host}/rest/api/3/issue/CLIN-1"
           f"?email={requests.utils.quote(query.disguised, safe='')}&jql=x#{fragment.disguised}")

    @telemetry.lambda_handler
    def handler(event: Any, context: Any) -> None:
        requests.get(url, timeout=5)
        raise ValueError("report the transaction as an error too")

    invoke(handler)
    assert any(s.name == "GET" for s in run.spans())
    assert_contained(run, [query, credentials, fragment])


@settings(max_examples=examples(350), **CANARY_SETTINGS)
@given(dynamodb=canaries(), jira=canaries(), use_jira=st.booleans())
def test_service_errors_echoing_input(dynamodb: Canary, jira: Canary, use_jira: bool) -> None:
    run = fresh_run()
    telemetry = orchestrator_telemetry()
    client = boto3.client("dynamodb")
    stubber = Stubber(client)
    stubber.add_client_error(
        "put_item",
        service_error_code="ValidationException",
        service_message=f"One or more parameter values were invalid: {dynamodb.disguised}",
        http_status_code=400,
    )
    run.jira.fail_next("POST", "/rest/api/3/issue", status=400, body={
        "errorMessages": [f"Summary {jira.disguised} is invalid"], "errors": {"summary": jira.disguised}})

    @telemetry.lambda_handler
    def handler(event: Any, context: Any) -> None:
        if use_jira:
            from handlers.tasksmith import jira_client

            jira_client().create_subtask(project_key="CLIN", parent_key="CLIN-1", summary="x")
        with stubber:
            client.put_item(TableName="ClinisightAgentState", Item={"agent_name": {"S": dynamodb.disguised}})

    run.jira.seed_issue({"key": "CLIN-1", "fields": {}})
    with captured_logs() as logs:
        assert isinstance(invoke(handler), Exception)
    assert_contained(run, [dynamodb, jira], logs)


def test_canary_check_detects_disguised_leak() -> None:
    """The check itself must see through the disguises, or the suite proves nothing."""
    canary = Canary("ssn", "000-12-3456", "\uff10\uff10\uff10\u201312\u20133456", "000-12-3456")
    assert leaked(canary, json.dumps({"value": canary.disguised}))
    assert leaked(canary, "000%2D12%2D3456")
    assert not leaked(canary, "[REDACTED]")


@pytest.mark.parametrize("path", ["spans", "sentry"])
def test_sink_texts_cover_both_sinks(path: str) -> None:
    run = fresh_run()
    event = copy.deepcopy(load_event("epic_created_direct.json"))
    run.seed_jira_from_event(event)
    run.invoke("clinisight-orchestrator", event)
    assert "clinisight-tasksmith" in sink_texts(run)[path]
