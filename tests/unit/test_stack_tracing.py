"""`stack up --tracing`: the sidecars export their spans to the same Jaeger as the services."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import build_parser
from devstack.dapr_resources import render_dapr_resources

EXPORTER = """  tracing:
    samplingRate: "1"
    stdout: false
    otel:
      endpointAddress: '127.0.0.1:14318'
      isSecure: false
      protocol: http
"""


def test_the_sidecars_export_to_the_stacks_jaeger_only_with_tracing(tmp_path: Path) -> None:
    plain = render_dapr_resources(
        tmp_path / "plain",
        kafka_brokers="127.0.0.1:9092",
        name_resolution_db=tmp_path / "n.db",
        components=["pubsub"],
    )
    assert "otel:" not in plain.config_path.read_text()
    traced = render_dapr_resources(
        tmp_path / "traced",
        kafka_brokers="127.0.0.1:9092",
        name_resolution_db=tmp_path / "n.db",
        components=["pubsub"],
        otlp_endpoint="127.0.0.1:14318",
    )
    assert EXPORTER in traced.config_path.read_text()


def test_stack_up_takes_tracing() -> None:
    args = build_parser().parse_args(["stack", "up", "--tracing"])
    assert args.tracing is True
    assert build_parser().parse_args(["stack", "up"]).tracing is False


def test_jaeger_serves_a_built_ui_only_where_one_is_named_or_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devstack._common import LocalInfraError
    from devstack.jaeger import JAEGER_VERSION, jaeger_ui_assets

    monkeypatch.setenv("TASKSTREAM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TASKSTREAM_JAEGER_UI", raising=False)
    assert jaeger_ui_assets() is None  # the Go module's placeholder page only
    cached = tmp_path / "cache" / f"jaeger-ui-{JAEGER_VERSION}"
    cached.mkdir(parents=True)
    (cached / "index.html").write_text("<html></html>")
    assert jaeger_ui_assets() == cached
    monkeypatch.setenv("TASKSTREAM_JAEGER_UI", str(tmp_path / "nothing"))
    with pytest.raises(LocalInfraError, match=r"no index\.html"):
        jaeger_ui_assets()
