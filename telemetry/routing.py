"""A process-wide tracer provider that sends each span to the current function's provider.

The botocore and requests instrumentations take one tracer provider when they are installed,
once per process. Each function needs its own provider, because `service.name` and `faas.name`
are resource attributes. In Lambda a process hosts one function and the router always resolves
to it. A local run hosts the orchestrator and TaskSmith in one process, so the router resolves
to the function whose invocation is running in the current context.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

_current_provider: ContextVar[TracerProvider | None] = ContextVar(
    "clinisight_current_provider", default=None
)


class RoutingTracerProvider(trace.TracerProvider):
    """Resolve every span start to the provider of the running invocation.

    Outside any invocation (module import, set-up code) spans go to the provider registered
    last, which in Lambda is the only one.
    """

    def __init__(self) -> None:
        self._fallback: TracerProvider | None = None

    def register(self, provider: TracerProvider) -> None:
        self._fallback = provider

    def resolve(self) -> trace.TracerProvider:
        return _current_provider.get() or self._fallback or trace.NoOpTracerProvider()

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> trace.Tracer:
        return _RoutingTracer(
            self,
            (instrumenting_module_name, instrumenting_library_version, schema_url, attributes),
        )


class _RoutingTracer(trace.Tracer):
    def __init__(self, router: RoutingTracerProvider, tracer_args: tuple[Any, ...]) -> None:
        self._router = router
        self._tracer_args = tracer_args
        # Providers live as long as the process, so their tracers are cached by identity.
        self._tracers: dict[int, trace.Tracer] = {}

    def _tracer(self) -> trace.Tracer:
        provider = self._router.resolve()
        tracer = self._tracers.get(id(provider))
        if tracer is None:
            name, version, schema_url, attributes = self._tracer_args
            tracer = provider.get_tracer(name, version, schema_url=schema_url, attributes=attributes)
            self._tracers[id(provider)] = tracer
        return tracer

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._tracer().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._tracer().start_as_current_span(*args, **kwargs)


@contextmanager
def provider_in_use(provider: TracerProvider) -> Iterator[None]:
    """Route spans started in this context to `provider`."""
    token = _current_provider.set(provider)
    try:
        yield
    finally:
        _current_provider.reset(token)
