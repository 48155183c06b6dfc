"""The set-up call, the handler wrapper and trace propagation, on the session's local run."""

from __future__ import annotations

import json
import time

import boto3
import pytest
import requests
from opentelemetry import trace
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.propagate import get_global_textmap, set_global_textmap
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode, format_trace_id

from handlers.local.report import span_to_dict
from handlers.local.runner import LocalContext, LocalRun
from telemetry import Settings, setup_telemetry
from telemetry.propagation import TRACE_HEADERS, TargetedPropagator
from telemetry.runtime import build_telemetry
from tests.canaries import leaked


def test_setup_twice_returns_same_and_instruments_once(local_run: LocalRun) -> None:
    from handlers import orchestrator

    assert setup_telemetry("orchestrator") is orchestrator.telemetry
    assert BotocoreInstrumentor().is_instrumented_by_opentelemetry
    assert RequestsInstrumentor().is_instrumented_by_opentelemetry

    @orchestrator.telemetry.lambda_handler
    def list_tables(event: object, context: object) -> list:
        return boto3.client("dynamodb").list_tables()["TableNames"]

    list_tables({}, LocalContext("clinisight-orchestrator"))
    assert [s.name for s in local_run.spans()].count("DynamoDB.ListTables") == 1


def test_cold_start_only_first_invocation() -> None:
    telemetry = build_telemetry(Settings.from_env("cold-start-test", environ={}))
    exporter = InMemorySpanExporter()
    telemetry.add_span_processor(SimpleSpanProcessor(exporter))

    @telemetry.lambda_handler
    def noop(event: object, context: object) -> str:
        return "ok"

    noop({}, LocalContext("clinisight-cold-start-test"))
    noop({}, LocalContext("clinisight-cold-start-test"))
    spans = exporter.get_finished_spans()
    assert [s.attributes["faas.coldstart"] for s in spans] == [True, False]
    assert all("faas.invocation_id" in s.attributes for s in spans)
    assert spans[0].attributes["cloud.resource_id"].endswith(":function:clinisight-cold-start-test")


def test_exception_with_phi_reported_redacted(local_run: LocalRun) -> None:
    from handlers.orchestrator import telemetry

    @telemetry.lambda_handler
    def failing(event: object, context: object) -> None:
        try:
            raise KeyError("MRN 00123456")
        except KeyError as cause:
            raise ValueError("patient jane.roe@example.com, SSN 000-12-3456") from cause

    context = LocalContext("clinisight-orchestrator")
    try:
        failing({}, context)
    except ValueError:
        pass
    else:
        raise AssertionError("the handler's exception must be re-raised")

    span = next(s for s in local_run.spans() if s.name == "clinisight-orchestrator")
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].name == "exception"
    assert leaked(json.dumps(span_to_dict(span))) == []

    assert local_run.sentry_sink is not None
    errors = [item.json() for item in local_run.sentry_sink.items("event")]
    assert len(errors) == 1
    assert [v["type"] for v in errors[0]["exception"]["values"]] == ["KeyError", "ValueError"]
    assert errors[0]["contexts"]["trace"]["trace_id"] == format_trace_id(span.context.trace_id)
    for envelope in local_run.sentry_sink.envelopes():
        assert leaked(envelope.raw.decode("utf-8", "replace")) == []


def test_trace_continues_from_api_gateway_headers(local_run: LocalRun) -> None:
    from handlers.orchestrator import telemetry

    @telemetry.lambda_handler
    def noop(event: object, context: object) -> str:
        return "ok"

    parent_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    event = {"httpMethod": "GET", "requestContext": {},
             "headers": {"Traceparent": f"00-{parent_trace}-00f067aa0ba902b7-01"}}
    noop(event, LocalContext("clinisight-orchestrator"))
    span = next(s for s in local_run.spans() if s.name == "clinisight-orchestrator")
    assert format_trace_id(span.context.trace_id) == parent_trace
    assert span.attributes["faas.trigger"] == "http"


def test_malformed_headers_start_new_trace(local_run: LocalRun) -> None:
    from handlers.orchestrator import telemetry

    @telemetry.lambda_handler
    def echo(event: object, context: object) -> object:
        return "ok"

    events = [{"headers": headers} for headers in (
        "not a mapping", ["a", "b"], {"traceparent": "garbage", "baggage": 7},
        {"sentry-trace": "not-a-trace", "baggage": "=,=;;"})]
    events.append({"no_headers": True})
    for event in events:
        assert echo(event, LocalContext("clinisight-orchestrator")) == "ok"
    spans = [s for s in local_run.spans() if s.name == "clinisight-orchestrator"]
    assert len(spans) == 5
    assert all(s.parent is None for s in spans)


def test_trace_headers_only_to_targets(local_run: LocalRun) -> None:
    from handlers.orchestrator import telemetry

    url = f"{local_run.jira.base_url}/rest/api/3/issue/CLIN-1"

    @telemetry.lambda_handler
    def call_jira(event: object, context: object) -> int:
        return requests.get(url, timeout=5).status_code

    default_propagator = get_global_textmap()
    call_jira({}, LocalContext("clinisight-orchestrator"))
    set_global_textmap(TargetedPropagator(default_propagator.inner, ["127.0.0.1"]))
    try:
        call_jira({}, LocalContext("clinisight-orchestrator"))
    finally:
        set_global_textmap(default_propagator)

    untargeted, targeted = local_run.jira.requests
    for header in TRACE_HEADERS:
        assert header not in untargeted.headers
    assert targeted.headers["traceparent"].startswith("00-")
    assert "sentry-trace" in targeted.headers
    assert "sentry-public_key=" in targeted.headers["baggage"]


def test_lambda_payload_still_carries_trace(local_run: LocalRun) -> None:
    from handlers.orchestrator import lambda_client, telemetry

    @telemetry.lambda_handler
    def invoke(event: object, context: object) -> None:
        lambda_client().invoke(FunctionName="clinisight-tasksmith", InvocationType="Event", Payload=b"{}")

    invoke({}, LocalContext("clinisight-orchestrator"))
    (pending,) = local_run.aws.take_pending()
    headers = pending.event()["headers"]
    assert headers["traceparent"].startswith("00-")
    assert "sentry-trace" in headers


def test_flush_skipped_near_deadline(local_run: LocalRun) -> None:
    from handlers.orchestrator import telemetry

    @telemetry.lambda_handler
    def noop(event: object, context: object) -> str:
        return "ok"

    # 300 ms left is under the 500 ms safety margin, so no flush is attempted.
    assert noop({}, LocalContext("clinisight-orchestrator", timeout_s=0.3)) == "ok"
    assert [s.name for s in local_run.spans()] == ["clinisight-orchestrator"]


def test_warning_before_lambda_timeout(local_run: LocalRun) -> None:
    from handlers.orchestrator import telemetry

    tracer = trace.get_tracer("tests.timeout")

    @telemetry.lambda_handler
    def slow(event: object, context: object) -> str:
        with tracer.start_as_current_span("finished before the deadline"):
            pass
        time.sleep(1.0)
        return "late"

    # 1.8 s left and a 1.5 s warning margin: the warning fires after about 0.3 s.
    assert slow({}, LocalContext("clinisight-orchestrator", timeout_s=1.8)) == "late"
    assert local_run.sentry_sink is not None
    warnings = [item.json() for item in local_run.sentry_sink.items("event")]
    assert [w["fingerprint"] for w in warnings] == [["lambda-timeout", "clinisight-orchestrator"]]
    server = next(s for s in local_run.spans() if s.name == "clinisight-orchestrator")
    assert warnings[0]["contexts"]["trace"]["trace_id"] == format_trace_id(server.context.trace_id)


def test_no_warning_when_invocation_ends_in_time(local_run: LocalRun) -> None:
    from handlers.orchestrator import telemetry

    @telemetry.lambda_handler
    def quick(event: object, context: object) -> str:
        return "ok"

    assert quick({}, LocalContext("clinisight-orchestrator", timeout_s=2.0)) == "ok"
    time.sleep(0.7)
    assert local_run.sentry_sink is not None
    assert local_run.sentry_sink.items("event") == []


def test_unended_spans_leave_no_bookkeeping(local_run: LocalRun) -> None:
    from sentry_sdk.integrations.opentelemetry import SentrySpanProcessor

    from handlers.orchestrator import telemetry

    tracer = trace.get_tracer("tests.unended")

    @telemetry.lambda_handler
    def leaky(event: dict, context: object) -> str:
        tracer.start_span("never ended")
        if event["fail"]:
            raise ValueError("stop")
        return "ok"

    before = len(SentrySpanProcessor().otel_span_map)
    for index in range(50):
        try:
            leaky({"fail": index % 5 == 0}, LocalContext("clinisight-orchestrator"))
        except ValueError:
            pass
    assert len(SentrySpanProcessor().otel_span_map) == before
    assert sum(len(bucket) for bucket in SentrySpanProcessor.open_spans.values()) <= before


def test_all_zero_trace_id_starts_new_trace(local_run: LocalRun) -> None:
    from handlers.orchestrator import telemetry

    @telemetry.lambda_handler
    def echo(event: object, context: object) -> str:
        return "ok"

    zero = "00-00000000000000000000000000000000-0000000000000000-01"
    headers = {"traceparent": zero, "sentry-trace": "00000000000000000000000000000000-0000000000000000-1"}
    assert echo({"headers": headers}, LocalContext("clinisight-orchestrator")) == "ok"
    span = next(s for s in local_run.spans() if s.name == "clinisight-orchestrator")
    assert span.parent is None
    assert span.context.trace_id != 0


def test_faulty_sentry_hook_never_reaches_handler(local_run: LocalRun, guard_swallows: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers.orchestrator import telemetry
    from telemetry import sentry_bridge

    def broken(event: dict) -> dict:
        raise RuntimeError("scrubber bug")

    monkeypatch.setattr(sentry_bridge, "scrub_event", broken)

    @telemetry.lambda_handler
    def failing(event: object, context: object) -> None:
        raise ValueError("handler error")

    with pytest.raises(ValueError, match="handler error"):
        failing({}, LocalContext("clinisight-orchestrator"))
    # The event that could not be scrubbed is dropped, never sent unscrubbed; the span remains.
    assert local_run.sentry_sink is not None
    assert local_run.sentry_sink.items("event") == []
    assert any(s.name == "clinisight-orchestrator" for s in local_run.spans())


def test_deadline_flushes_finished_spans(local_run: LocalRun, otlp_receiver: tuple[str, list]) -> None:
    """Before the handler finishes, the watchdog has sent the warning and exported the spans
    that had ended, as it must before Lambda stops a timed-out function."""
    endpoint, received = otlp_receiver
    telemetry = build_telemetry(Settings.from_env(
        "deadline-test", environ={}, otlp_traces_endpoint=endpoint + "/v1/traces", timeout_warning_ms=1500))
    tracer = telemetry.tracer
    seen_during_invocation: dict[str, object] = {}

    @telemetry.lambda_handler
    def slow(event: object, context: object) -> str:
        with tracer.start_as_current_span("finished before the deadline"):
            pass
        time.sleep(1.0)
        names = [span.name for request in received for resource_spans in request.resource_spans
                 for scope_spans in resource_spans.scope_spans for span in scope_spans.spans]
        assert local_run.sentry_sink is not None
        seen_during_invocation["spans"] = names
        seen_during_invocation["events"] = [item.json()["fingerprint"] for item in local_run.sentry_sink.items("event")]
        return "late"

    assert slow({}, LocalContext("clinisight-deadline-test", timeout_s=1.8)) == "late"
    assert seen_during_invocation["spans"] == ["finished before the deadline"]
    assert seen_during_invocation["events"] == [["lambda-timeout", "clinisight-deadline-test"]]


def test_no_warning_armed_when_timeout_shorter_than_margin(local_run: LocalRun) -> None:
    from handlers.orchestrator import telemetry

    @telemetry.lambda_handler
    def slow(event: object, context: object) -> str:
        time.sleep(0.3)
        return "ok"

    # 1.0 s left is below the 1.5 s margin: warning on every invocation would be noise.
    assert slow({}, LocalContext("clinisight-orchestrator", timeout_s=1.0)) == "ok"
    assert local_run.sentry_sink is not None
    assert local_run.sentry_sink.items("event") == []
