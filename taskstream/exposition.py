"""/metrics in the format the scraper asks for: OpenMetrics (with exemplars) or Prometheus text.

Prometheus asks for OpenMetrics in its Accept header; only that format carries the exemplars
(the trace ids, taskstream/telemetry.py) of the latency histograms. Anything else (curl, an
older scraper) gets the classic text format, without them.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response


class _Registries(Collector):
    """Several registries exposed as one: a single OpenMetrics document ends with one `# EOF`."""

    def __init__(self, registries: Iterable[Collector]) -> None:
        self.registries = tuple(registries)

    def collect(self) -> Iterable[Metric]:
        """Every metric of every registry, in order."""
        for registry in self.registries:
            yield from registry.collect()


def metrics_response(request: Request, *registries: Collector) -> Response:
    """The metrics of `registries` (the process-wide one when none) in the format asked for."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(_Registries(registries or (REGISTRY,))), media_type=content_type)
