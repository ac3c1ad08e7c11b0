"""Tracing with OpenTelemetry: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

One trace per change: the request's server span (Starlette instrumentation) is current while
the change and its outbox row are written; the row keeps the W3C `traceparent` of that moment
(taskstream/persistence/outbox.py). The relay publishes each row in a PRODUCER span whose
parent is that stored context, and puts the producer span's `traceparent` into the CloudEvent
(an extension attribute, so it travels through Dapr and Kafka unchanged). Each consumer handles
an event in a CONSUMER span continuing it (taskstream/messaging/consumer.py); what a handler
writes, calls (httpx, to the gateway) and emits (its own outbox) is part of the same trace.

The tracer provider is this module's, not the process-global one, so that tests can install
an in-memory exporter and remove it again. With tracing off every span is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, NoOpTracerProvider, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from taskstream.settings import Settings

TRACER_NAME = "taskstream"
TRACEPARENT = "traceparent"
_PROPAGATOR = TraceContextTextMapPropagator()
# A traceparent is 55 characters; anything much longer in an event is not one.
_MAX_TRACEPARENT = 128
_NO_TRACER = NoOpTracerProvider().get_tracer(TRACER_NAME)


@dataclass(slots=True)
class _State:
    provider: TracerProvider | None = None
    tracer: Tracer = _NO_TRACER
    instrumented: bool = False


_STATE = _State()


def enabled() -> bool:
    """Whether spans are recorded and exported in this process."""
    return _STATE.provider is not None


def configure_tracing(
    settings: Settings, *, service: str, processor: SpanProcessor | None = None
) -> bool:
    """Start tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set (or a processor is given).

    Idempotent per process: the first call decides. False when tracing stays off.
    """
    if _STATE.provider is not None:
        return True
    if processor is None:
        endpoint = settings.otel_exporter_otlp_endpoint
        if not endpoint:
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter: SpanExporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
        processor = BatchSpanProcessor(exporter)
    name = settings.otel_service_name or f"taskstream-{service}"
    provider = TracerProvider(
        resource=Resource.create({"service.name": name}), sampler=ParentBased(_NoOrphanClients())
    )
    provider.add_span_processor(processor)
    _STATE.provider = provider
    _STATE.tracer = provider.get_tracer(TRACER_NAME)
    _instrument_clients(provider)
    return True


class _NoOrphanClients(Sampler):
    """Root spans, except a client call (a statement, an HTTP call) outside any trace.

    The relay's polling, the reminder firing loop and pruning run statements all the time;
    alone each would be a trace of one span, burying the traces of changes.
    """

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        """Drop a parentless CLIENT span; record and sample every other root."""
        decision = Decision.DROP if kind is SpanKind.CLIENT else Decision.RECORD_AND_SAMPLE
        sampled = decision is Decision.RECORD_AND_SAMPLE
        return SamplingResult(decision, attributes if sampled else None)

    def get_description(self) -> str:
        """The sampler's name, as the SDK reports it."""
        return "NoOrphanClients"


def _instrument_clients(provider: TracerProvider) -> None:
    """Spans for every asyncpg statement and every httpx request (trace context sent along)."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _STATE.instrumented = True


def flush_tracing(timeout_millis: int = 30_000) -> bool:
    """Export every ended span now; False when the exporter did not finish in time."""
    if _STATE.provider is None:
        return True
    return bool(_STATE.provider.force_flush(timeout_millis))


def shutdown_tracing() -> None:
    """Flush and stop: spans end up exported, instrumentations removed (tests, shutdown)."""
    provider = _STATE.provider
    if provider is None:
        return
    if _STATE.instrumented:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
        HTTPXClientInstrumentor().uninstrument()
    provider.shutdown()
    _STATE.provider = None
    _STATE.tracer = _NO_TRACER
    _STATE.instrumented = False


def instrument_app(app: Any) -> None:
    """A server span per HTTP request and WebSocket of a Starlette app (when tracing is on)."""
    if _STATE.provider is None:
        return
    from opentelemetry.instrumentation.starlette import StarletteInstrumentor

    StarletteInstrumentor.instrument_app(app, tracer_provider=_STATE.provider)


def tracer() -> Tracer:
    """The tracer of this process (a no-op one when tracing is off)."""
    return _STATE.tracer


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, None when there is none (or tracing is off)."""
    if _STATE.provider is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def traceparent_of(span: Span) -> str | None:
    """The W3C traceparent naming `span` as the parent."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get(TRACEPARENT)


def context_of(traceparent: object) -> otel_context.Context | None:
    """The context a traceparent continues; None for a missing or malformed one."""
    if not isinstance(traceparent, str) or len(traceparent) > _MAX_TRACEPARENT:
        return None
    extracted = _PROPAGATOR.extract({TRACEPARENT: traceparent})
    if not trace.get_current_span(extracted).get_span_context().is_valid:
        return None
    return extracted


@contextmanager
def continuing(traceparent: object) -> Iterator[None]:
    """The block runs in the trace `traceparent` names (its HTTP calls carry it along)."""
    found = context_of(traceparent) if _STATE.provider is not None else None
    if found is None:
        yield
        return
    token = otel_context.attach(found)
    try:
        yield
    finally:
        otel_context.detach(token)


def start_span(
    name: str,
    *,
    kind: SpanKind,
    traceparent: object = None,
    attributes: dict[str, Any] | None = None,
    links: Sequence[object] = (),
) -> Span:
    """A span continuing `traceparent` (or the current context when it has none).

    `links`: more traceparents or spans this span relates to (the other events of a batch,
    the batch an event was handled in).
    """
    if _STATE.provider is None:
        return trace.INVALID_SPAN  # tracing off: nothing to parse, nothing to record
    linked = []
    for other in links:
        if isinstance(other, Span):
            if other.get_span_context().is_valid:
                linked.append(Link(other.get_span_context()))
            continue
        found = context_of(other)
        if found is not None:
            linked.append(Link(trace.get_current_span(found).get_span_context()))
    return _STATE.tracer.start_span(
        name, context=context_of(traceparent), kind=kind, attributes=attributes, links=linked
    )


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits (what logs carry), None outside a trace."""
    if _STATE.provider is None:
        return None
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


def exemplar(span: Span | None = None) -> dict[str, str] | None:
    """`span`'s (or the current span's) trace id as an OpenMetrics exemplar, when it is sampled.

    A histogram observation made with it links that bucket to one trace Jaeger holds: from a
    slow bucket in Grafana straight to a trace that was that slow.
    """
    if _STATE.provider is None:
        return None
    span_context = (span or trace.get_current_span()).get_span_context()
    if not span_context.is_valid or not span_context.trace_flags.sampled:
        return None
    return {"trace_id": format(span_context.trace_id, "032x")}
