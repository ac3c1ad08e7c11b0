"""The benchmark report's arithmetic and writer (no timing: nothing here measures speed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.common import percentile
from bench.report import flat_figures, format_ratio, format_value, summary_table, write_report
from bench.stats import comparison, summary


def test_nearest_rank_percentiles() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.50) == 50.0
    assert percentile(samples, 0.95) == 95.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 0.0) == 1.0


def test_summary_of_latencies_and_of_nothing() -> None:
    figures = summary([float(n) for n in range(1, 101)])
    assert figures == {
        "p50_ms": 50.0,
        "p95_ms": 95.0,
        "p99_ms": 99.0,
        "mean_ms": 50.5,
        "max_ms": 100.0,
    }
    assert summary([])["p99_ms"] == 0.0


def test_comparison_ratio_is_ours_over_the_peer() -> None:
    row = comparison("x", value=50.0, unit="req/s", peer="p", peer_value=200.0, goal="g", met=False)
    assert row["ratio"] == 0.25
    assert comparison("x", value=1.0, unit="ms", peer="p", peer_value=3.0)["ratio"] == 0.333
    assert comparison("x", value=1.0, unit="ms", peer="p", peer_value=None)["ratio"] is None
    assert comparison("x", value=1.0, unit="ms", peer="p", peer_value=0.0)["ratio"] is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.000433, "0.000433"),
        (0.0259, "0.0259"),
        (1.5, "1.50"),
        (29.84, "29.8"),
        (68782.2, "68,782"),
    ],
)
def test_three_significant_digits(value: float, text: str) -> None:
    assert format_value(value) == text


def test_formats_of_missing_values() -> None:
    assert format_value(None) == "—"
    assert format_value(0.0, "ms") == "0 ms"
    assert format_ratio(None) == "—"
    assert format_ratio(0.5) == "0.500x"


def test_report_has_every_comparison_and_a_figure_each(tmp_path: Path) -> None:
    rows = [
        comparison(
            "throughput",
            value=10.0,
            unit="req/s",
            peer="peer",
            peer_value=20.0,
            goal="≥ 1.0x peer",
            met=False,
        ),
        comparison("p99", value=5.0, unit="ms", peer="peer", peer_value=4.0),
    ]
    sections: list[dict[str, Any]] = [
        {"name": "page", "status": "ran", "result_file": "page.json", "comparisons": rows},
        {"name": "later", "status": "missing", "note": "bench/later.py does not exist"},
    ]
    table = summary_table(sections)
    assert len(table) == 2 + 2
    assert (
        "| page | throughput | 10.0 req/s | peer | 20.0 req/s | 0.500x | ≥ 1.0x peer "
        "| **not met** |" in table
    )
    report = write_report(sections, {"command": "test"}, folder=tmp_path).read_text()
    assert "![page](page.png)" in report
    assert "Not run: bench/later.py does not exist" in report
    assert (tmp_path / "page.png").stat().st_size > 0


def test_figures_of_a_result_without_comparisons() -> None:
    record = {
        "benchmark": "x",
        "machine": {"cpus": 2},
        "passed": True,
        "rss_mib": {"idle": 101.5, "loaded": 140},
        "connections": 10_000,
    }
    assert flat_figures(record) == [
        ("rss_mib.idle", 101.5),
        ("rss_mib.loaded", 140.0),
        ("connections", 10_000.0),
    ]
