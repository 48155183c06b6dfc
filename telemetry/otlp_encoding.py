"""Encode finished spans as an OTLP `ExportTraceServiceRequest`, in protobuf wire format.

The SDK's encoder builds the request from generated protobuf classes. Importing them and the
protobuf runtime cost about 15 ms of every cold start, measured with `python -X importtime`
on a 2-core machine. The request needs only a handful of message types, so this
module writes their wire format directly: varints, fixed-width numbers and length-delimited
fields, as https://protobuf.dev/programming-guides/encoding/ describes. Field numbers follow
opentelemetry-proto's `trace/v1/trace.proto`, `common/v1/common.proto` and
`resource/v1/resource.proto`. The output is byte for byte the SDK encoder's, which the tests
check on generated spans. The rules are the same too. Proto3 fields at their default value are
left out, and `resource`, `scope` and `status` are always present. An attribute that cannot be
encoded is dropped with a log line that names its key only.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext

logger = logging.getLogger(__name__)

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
# Span.flags bits from trace.proto's SpanFlags.
_FLAG_HAS_IS_REMOTE = 0x100
_FLAG_IS_REMOTE = 0x200
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack


def _varint(number: int) -> bytes:
    if number < 0:
        number += 1 << 64
    if number < 0x80:
        return bytes((number,))
    out = bytearray()
    while number >= 0x80:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _length_delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


# Tags, computed once: (message, field) -> bytes.
_REQUEST_RESOURCE_SPANS = _tag(1, _LENGTH)
_RESOURCE_SPANS_RESOURCE = _tag(1, _LENGTH)
_RESOURCE_SPANS_SCOPE_SPANS = _tag(2, _LENGTH)
_RESOURCE_SPANS_SCHEMA_URL = _tag(3, _LENGTH)
_RESOURCE_ATTRIBUTES = _tag(1, _LENGTH)
_SCOPE_SPANS_SCOPE = _tag(1, _LENGTH)
_SCOPE_SPANS_SPANS = _tag(2, _LENGTH)
_SCOPE_SPANS_SCHEMA_URL = _tag(3, _LENGTH)
_SCOPE_NAME = _tag(1, _LENGTH)
_SCOPE_VERSION = _tag(2, _LENGTH)
_SCOPE_ATTRIBUTES = _tag(3, _LENGTH)
_SPAN_TRACE_ID = _tag(1, _LENGTH)
_SPAN_SPAN_ID = _tag(2, _LENGTH)
_SPAN_TRACE_STATE = _tag(3, _LENGTH)
_SPAN_PARENT_SPAN_ID = _tag(4, _LENGTH)
_SPAN_NAME = _tag(5, _LENGTH)
_SPAN_KIND = _tag(6, _VARINT)
_SPAN_START = _tag(7, _FIXED64)
_SPAN_END = _tag(8, _FIXED64)
_SPAN_ATTRIBUTES = _tag(9, _LENGTH)
_SPAN_DROPPED_ATTRIBUTES = _tag(10, _VARINT)
_SPAN_EVENTS = _tag(11, _LENGTH)
_SPAN_DROPPED_EVENTS = _tag(12, _VARINT)
_SPAN_LINKS = _tag(13, _LENGTH)
_SPAN_DROPPED_LINKS = _tag(14, _VARINT)
_SPAN_STATUS = _tag(15, _LENGTH)
_SPAN_FLAGS = _tag(16, _FIXED32)
_EVENT_TIME = _tag(1, _FIXED64)
_EVENT_NAME = _tag(2, _LENGTH)
_EVENT_ATTRIBUTES = _tag(3, _LENGTH)
_EVENT_DROPPED_ATTRIBUTES = _tag(4, _VARINT)
_LINK_TRACE_ID = _tag(1, _LENGTH)
_LINK_SPAN_ID = _tag(2, _LENGTH)
_LINK_ATTRIBUTES = _tag(4, _LENGTH)
_LINK_DROPPED_ATTRIBUTES = _tag(5, _VARINT)
_LINK_FLAGS = _tag(6, _FIXED32)
_STATUS_MESSAGE = _tag(2, _LENGTH)
_STATUS_CODE = _tag(3, _VARINT)
_KEY_VALUE_KEY = _tag(1, _LENGTH)
_KEY_VALUE_VALUE = _tag(2, _LENGTH)
_ANY_STRING = _tag(1, _LENGTH)
_ANY_BOOL = _tag(2, _VARINT)
_ANY_INT = _tag(3, _VARINT)
_ANY_DOUBLE = _tag(4, _FIXED64)
_ANY_ARRAY = _tag(5, _LENGTH)
_ANY_KVLIST = _tag(6, _LENGTH)
_ANY_BYTES = _tag(7, _LENGTH)
_LIST_VALUES = _tag(1, _LENGTH)


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """Return the serialized `ExportTraceServiceRequest` for `spans`, grouped by resource and scope."""
    grouped: dict[Any, dict[Any, list[bytes]]] = {}
    for span in spans:
        grouped.setdefault(span.resource, {}).setdefault(span.instrumentation_scope, []).append(_span(span))
    parts = []
    for resource, scopes in grouped.items():
        body = [_length_delimited(_RESOURCE_SPANS_RESOURCE, _attributes(_RESOURCE_ATTRIBUTES, resource.attributes))]
        for scope, encoded_spans in scopes.items():
            scope_parts = [_length_delimited(_SCOPE_SPANS_SCOPE, _scope(scope))]
            scope_parts.extend(_length_delimited(_SCOPE_SPANS_SPANS, encoded) for encoded in encoded_spans)
            if scope is not None and scope.schema_url:
                scope_parts.append(_length_delimited(_SCOPE_SPANS_SCHEMA_URL, scope.schema_url.encode()))
            body.append(_length_delimited(_RESOURCE_SPANS_SCOPE_SPANS, b"".join(scope_parts)))
        if resource.schema_url:
            body.append(_length_delimited(_RESOURCE_SPANS_SCHEMA_URL, resource.schema_url.encode()))
        parts.append(_length_delimited(_REQUEST_RESOURCE_SPANS, b"".join(body)))
    return b"".join(parts)


def _scope(scope: Any) -> bytes:
    if scope is None:
        return b""
    parts = []
    if scope.name:
        parts.append(_length_delimited(_SCOPE_NAME, scope.name.encode()))
    if scope.version:
        parts.append(_length_delimited(_SCOPE_VERSION, scope.version.encode()))
    parts.append(_attributes(_SCOPE_ATTRIBUTES, scope.attributes))
    return b"".join(parts)


def _flags(parent: SpanContext | None) -> bytes:
    flags = _FLAG_HAS_IS_REMOTE
    if parent is not None and parent.is_remote:
        flags |= _FLAG_IS_REMOTE
    return _pack_fixed32(flags)


def _span(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    parts = [
        _length_delimited(_SPAN_TRACE_ID, context.trace_id.to_bytes(16, "big")),
        _length_delimited(_SPAN_SPAN_ID, context.span_id.to_bytes(8, "big")),
    ]
    if context.trace_state:
        trace_state = ",".join(f"{key}={value}" for key, value in context.trace_state.items())
        parts.append(_length_delimited(_SPAN_TRACE_STATE, trace_state.encode()))
    parent = span.parent
    if parent is not None:
        parts.append(_length_delimited(_SPAN_PARENT_SPAN_ID, parent.span_id.to_bytes(8, "big")))
    if span.name:
        parts.append(_length_delimited(_SPAN_NAME, span.name.encode()))

    # OpenTelemetry Python numbers kinds from 0 (INTERNAL), and the protocol from 1.
    parts.append(_SPAN_KIND + _varint(span.kind.value + 1))
    if span.start_time:
        parts.append(_SPAN_START + _pack_fixed64(span.start_time))
    if span.end_time:
        parts.append(_SPAN_END + _pack_fixed64(span.end_time))

    parts.append(_attributes(_SPAN_ATTRIBUTES, span.attributes))
    if span.dropped_attributes:
        parts.append(_SPAN_DROPPED_ATTRIBUTES + _varint(span.dropped_attributes))
    parts.extend(_length_delimited(_SPAN_EVENTS, _event(event)) for event in span.events)
    if span.dropped_events:
        parts.append(_SPAN_DROPPED_EVENTS + _varint(span.dropped_events))
    parts.extend(_length_delimited(_SPAN_LINKS, _link(link)) for link in span.links)
    if span.dropped_links:
        parts.append(_SPAN_DROPPED_LINKS + _varint(span.dropped_links))

    if span.status is not None:
        parts.append(_length_delimited(_SPAN_STATUS, _status(span.status)))
    parts.append(_SPAN_FLAGS + _flags(parent))
    return b"".join(parts)


def _event(event: Any) -> bytes:
    parts = [_EVENT_TIME + _pack_fixed64(event.timestamp)] if event.timestamp else []
    if event.name:
        parts.append(_length_delimited(_EVENT_NAME, event.name.encode()))
    parts.append(_attributes(_EVENT_ATTRIBUTES, event.attributes))
    if event.dropped_attributes:
        parts.append(_EVENT_DROPPED_ATTRIBUTES + _varint(event.dropped_attributes))
    return b"".join(parts)


def _link(link: Any) -> bytes:
    parts = [
        _length_delimited(_LINK_TRACE_ID, link.context.trace_id.to_bytes(16, "big")),
        _length_delimited(_LINK_SPAN_ID, link.context.span_id.to_bytes(8, "big")),
        _attributes(_LINK_ATTRIBUTES, link.attributes),
    ]
    if link.dropped_attributes:
        parts.append(_LINK_DROPPED_ATTRIBUTES + _varint(link.dropped_attributes))
    parts.append(_LINK_FLAGS + _flags(link.context))
    return b"".join(parts)


def _status(status: Any) -> bytes:
    parts = []
    if status.description:
        parts.append(_length_delimited(_STATUS_MESSAGE, status.description.encode()))
    if status.status_code.value:
        parts.append(_STATUS_CODE + _varint(status.status_code.value))
    return b"".join(parts)


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    if not attributes:
        return b""
    parts = []
    for key, value in attributes.items():
        try:
            parts.append(_length_delimited(tag, _key_value(key, value)))
        except (TypeError, ValueError, OverflowError):
            # The log names the key only, because the value is telemetry data that stays out of logs.
            logger.warning("Attribute %s could not be encoded for OTLP export; dropped", key)
    return b"".join(parts)


def _key_value(key: str, value: Any) -> bytes:
    encoded_key = key.encode()
    return (_length_delimited(_KEY_VALUE_KEY, encoded_key) if encoded_key else b"") + _length_delimited(
        _KEY_VALUE_VALUE, _any_value(value)
    )


def _any_value(value: Any) -> bytes:
    # Fields of a oneof are written even at their default value, so `False`, `0` and "" survive.
    if value is None:
        return b""
    if isinstance(value, bool):
        return _ANY_BOOL + (b"\x01" if value else b"\x00")
    if isinstance(value, str):
        return _length_delimited(_ANY_STRING, value.encode())
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError("integer attribute outside int64")
        return _ANY_INT + _varint(value)
    if isinstance(value, float):
        return _ANY_DOUBLE + _pack_double(value)
    if isinstance(value, bytes):
        return _length_delimited(_ANY_BYTES, value)
    if isinstance(value, Sequence):
        return _length_delimited(
            _ANY_ARRAY, b"".join(_length_delimited(_LIST_VALUES, _any_value(item)) for item in value)
        )
    if isinstance(value, Mapping):
        return _length_delimited(
            _ANY_KVLIST,
            b"".join(_length_delimited(_LIST_VALUES, _key_value(str(key), item)) for key, item in value.items()),
        )
    raise TypeError(f"unsupported attribute type {type(value).__name__}")
