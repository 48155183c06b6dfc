"""The OTLP encoder writes the same bytes as the SDK's protobuf encoder, on generated spans."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.trace.span import TraceState

from telemetry.otlp_encoding import encode_spans

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
PRIMITIVES = st.one_of(st.text(max_size=20), st.booleans(), INT64, st.floats(allow_nan=False))
VALUES = st.one_of(
    PRIMITIVES,
    st.lists(st.text(max_size=5), max_size=3),
    st.lists(INT64, max_size=3),
    st.lists(st.floats(allow_nan=False), max_size=3),
    st.lists(st.booleans(), max_size=3),
)
ATTRIBUTES = st.dictionaries(st.text(min_size=1, max_size=12), VALUES, max_size=6)
IDS = st.integers(min_value=1, max_value=2**64 - 1)
TRACE_IDS = st.integers(min_value=1, max_value=2**128 - 1)


@st.composite
def span_specs(draw: st.DrawFn) -> dict:
    return {
        "name": draw(st.text(max_size=20)),
        "kind": draw(st.sampled_from(list(SpanKind))),
        "attributes": draw(ATTRIBUTES),
        "events": draw(st.lists(st.tuples(st.text(max_size=8), ATTRIBUTES), max_size=2)),
        "links": draw(st.lists(st.tuples(TRACE_IDS, IDS, st.booleans(), ATTRIBUTES), max_size=2)),
        "status": draw(st.sampled_from([None, (StatusCode.OK, None), (StatusCode.ERROR, "TimeoutError"),
                                        (StatusCode.ERROR, None)])),
        "parent": draw(st.one_of(st.none(), st.tuples(TRACE_IDS, IDS, st.booleans()))),
        "trace_state": draw(st.sampled_from([None, [("vendor", "value")], [("a", "1"), ("b", "2")]])),
        "provider": draw(st.integers(min_value=0, max_value=1)),
        "scope": draw(st.sampled_from([("clinisight.test", None, None), ("botocore", "0.66b2", "https://x/1"),
                                       ("requests", "1", None)])),
    }


PROVIDERS = [
    TracerProvider(resource=Resource.create({"service.name": "clinisight-tasksmith", "cloud.provider": "aws"})),
    TracerProvider(resource=Resource({"service.name": "clinisight-orchestrator"}, "https://opentelemetry.io/s/1")),
]


def make_span(spec: dict) -> ReadableSpan:
    name, version, schema_url = spec["scope"]
    tracer = PROVIDERS[spec["provider"]].get_tracer(name, version, schema_url)
    context = None
    if spec["parent"] is not None:
        trace_id, span_id, remote = spec["parent"]
        state = TraceState(spec["trace_state"]) if spec["trace_state"] else None
        parent = SpanContext(trace_id, span_id, is_remote=remote, trace_flags=TraceFlags(1), trace_state=state)
        context = set_span_in_context(NonRecordingSpan(parent))
    links = [Link(SpanContext(trace_id, span_id, is_remote=remote), attributes)
             for trace_id, span_id, remote, attributes in spec["links"]]
    span = tracer.start_span(spec["name"], context=context, kind=spec["kind"], attributes=spec["attributes"],
                             links=links)
    for event_name, attributes in spec["events"]:
        span.add_event(event_name, attributes)
    if spec["status"] is not None:
        span.set_status(Status(*spec["status"]))
    span.end()
    return span


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(span_specs(), max_size=6))
def test_same_bytes_as_the_sdk_encoder(specs: list[dict]) -> None:
    spans = [make_span(spec) for spec in specs]
    assert encode_spans(spans) == sdk_encode_spans(spans).SerializeToString()


def test_values_outside_sdk_attribute_types() -> None:
    # ReadableSpan takes any mapping, so a processor could hand these to the exporter.
    span = ReadableSpan(
        name="exotic",
        context=SpanContext(1, 2, is_remote=False),
        attributes={"bytes": b"\x00\x01", "mapping": {"inner": 1, "nested": ["a"]}, "none": None, "zero": 0,
                    "false": False, "empty": ""},
        resource=Resource.create({}),
        instrumentation_scope=InstrumentationScope("clinisight.test"),
        events=[Event("event", {"n": -1}, timestamp=5)],
        start_time=1,
        end_time=2,
    )
    assert encode_spans([span]) == sdk_encode_spans([span]).SerializeToString()


def test_unencodable_attribute_dropped_and_named_by_key_only(caplog: pytest.LogCaptureFixture) -> None:
    span = ReadableSpan(
        name="overflow",
        context=SpanContext(1, 2, is_remote=False),
        attributes={"patient.count": 2**70, "retries": 3},
        resource=Resource.create({}),
        instrumentation_scope=InstrumentationScope("clinisight.test"),
        start_time=1,
        end_time=2,
    )
    with caplog.at_level(logging.WARNING, logger="telemetry.otlp_encoding"):
        encoded = encode_spans([span])
    request = ExportTraceServiceRequest()
    request.ParseFromString(encoded)
    attributes = request.resource_spans[0].scope_spans[0].spans[0].attributes
    assert [(item.key, item.value.int_value) for item in attributes] == [("retries", 3)]
    assert "patient.count" in caplog.text
    assert str(2**70) not in caplog.text


def test_no_spans_encode_to_an_empty_request() -> None:
    assert encode_spans([]) == b""
