"""Latency summaries and the comparison records every benchmark of bench.run reports."""

from __future__ import annotations

from typing import Any

from bench.common import percentile


def summary(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max of latencies in milliseconds (zeros when there are none)."""
    if not samples_ms:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0, "max_ms": 0.0}
    return {
        "p50_ms": round(percentile(samples_ms, 0.50), 2),
        "p95_ms": round(percentile(samples_ms, 0.95), 2),
        "p99_ms": round(percentile(samples_ms, 0.99), 2),
        "mean_ms": round(sum(samples_ms) / len(samples_ms), 2),
        "max_ms": round(max(samples_ms), 2),
    }


def comparison(
    figure: str,
    *,
    value: float,
    unit: str,
    peer: str,
    peer_value: float | None,
    goal: str | None = None,
    met: bool | None = None,
    ours: str = "Taskstream",
) -> dict[str, Any]:
    """One line of the report: our figure, its peer from the same run, the ratio, the goal.

    The ratio is ours / the peer's, in the figure's own unit (for a throughput higher is
    better, for a latency lower is better: the goal text says which way it must go).
    """
    ratio = float(f"{value / peer_value:.3g}") if peer_value else None
    return {
        "figure": figure,
        "ours": ours,
        "value": value,
        "unit": unit,
        "peer": peer,
        "peer_value": peer_value,
        "ratio": ratio,
        "goal": goal,
        "met": met,
    }
