"""bench/results/REPORT.md and its PNG figures, from the comparisons each benchmark returned.

Every comparison (bench.stats.comparison) becomes one row of the summary table and one panel
of its benchmark's figure: our value and the peer's from the same run, the ratio, the goal and
whether it was met.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.common import RESULTS

MET = {True: "met", False: "**not met**", None: "—"}


def format_value(value: float | None, unit: str = "") -> str:
    """A figure with 3 significant digits (thousands separated) and its unit."""
    if value is None:
        return "—"
    if value == 0:
        text = "0"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    else:
        digits = 2 - math.floor(math.log10(abs(value)))
        text = f"{value:.{digits}f}"
    return f"{text} {unit}".strip()


def format_ratio(ratio: float | None) -> str:
    """A ratio as 0.95x (or — when there is no peer value)."""
    return "—" if ratio is None else f"{format_value(ratio)}x"


def flat_figures(record: dict[str, Any], limit: int = 40) -> list[tuple[str, float]]:
    """The numbers of a result without comparisons, by dotted path (for the report)."""
    found: list[tuple[str, float]] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, bool) or len(found) >= limit:
            return
        if isinstance(value, int | float):
            found.append((path, float(value)))
        elif isinstance(value, dict):
            for key, item in value.items():
                if key not in ("machine", "ran_at"):
                    walk(item, f"{path}.{key}" if path else str(key))

    walk(record, "")
    return found


def summary_table(sections: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: one per comparison of every benchmark that ran."""
    lines = [
        "| benchmark | figure | ours | peer (same run) | peer's | ratio | goal | |",
        "|---|---|---:|---|---:|---:|---|---|",
    ]
    for section in sections:
        for row in section.get("comparisons", []):
            lines.append(
                f"| {section['name']} | {row['figure']} | "
                f"{format_value(row['value'], row['unit'])} | {row['peer']} | "
                f"{format_value(row['peer_value'], row['unit'])} | "
                f"{format_ratio(row['ratio'])} | {row['goal'] or '—'} | {MET[row['met']]} |"
            )
    return lines


def plot(name: str, comparisons: list[dict[str, Any]], folder: Path) -> Path | None:
    """One PNG per benchmark: a panel per comparison, ours beside the peer's."""
    if not comparisons:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(3, len(comparisons))
    rows = math.ceil(len(comparisons) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.6 * rows), squeeze=False)
    for index, row in enumerate(comparisons):
        axis = axes[index // columns][index % columns]
        values = [row["value"], row["peer_value"] or 0.0]
        colour = {True: "#2e7d32", False: "#c62828", None: "#1565c0"}[row["met"]]
        bars = axis.bar(
            [row.get("ours", "Taskstream"), _wrap(row["peer"], 22)],
            values,
            color=[colour, "#9e9e9e"],
        )
        for bar, value in zip(bars, values, strict=True):
            axis.annotate(
                format_value(value),
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        axis.set_ylabel(row["unit"])
        if min(values) > 0 and max(values) / min(values) > 50:
            # Orders of magnitude apart: a linear axis would hide the smaller bar.
            axis.set_yscale("log")
            axis.set_ylim(min(values) / 2, max(values) * 3)
            axis.set_ylabel(f"{row['unit']} (log scale)")
        else:
            axis.set_ylim(0, max(values) * 1.2 or 1)
        verdict = f"ratio {format_ratio(row['ratio'])}"
        if row["goal"]:
            verdict += f" · goal {row['goal']}"
            verdict += "" if row["met"] is None else f": {MET[row['met']].strip('*')}"
        axis.set_title(f"{_wrap(row['figure'], 48)}\n{verdict}", fontsize=8.5)
        axis.tick_params(axis="x", labelsize=8)
    for index in range(len(comparisons), rows * columns):
        axes[index // columns][index % columns].axis("off")
    figure.suptitle(name, fontsize=11)
    figure.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def write_report(
    sections: list[dict[str, Any]], header: dict[str, Any], folder: Path = RESULTS
) -> Path:
    """REPORT.md with the summary table, then each benchmark's figure and notes."""
    lines = ["# Taskstream benchmarks", ""]
    lines += [f"- {key}: {value}" for key, value in header.items()]
    lines += ["", "## Every figure with its peer", "", *summary_table(sections), ""]
    for section in sections:
        lines += [f"## {section['name']}", ""]
        if section.get("status") != "ran":
            lines += [f"Not run: {section.get('note', section.get('status'))}", ""]
            continue
        picture = plot(section["name"], section.get("comparisons", []), folder)
        if picture is not None:
            lines += [f"![{section['name']}]({picture.name})", ""]
        if section.get("note"):
            lines += [section["note"], ""]
        if section.get("figures"):
            lines += [
                "This benchmark returned no `comparisons`; its figures:",
                "",
                "| figure | value |",
                "|---|---:|",
                *(f"| {path} | {format_value(value)} |" for path, value in section["figures"]),
                "",
            ]
        lines += [f"Results: `bench/results/{section['result_file']}`", ""]
    path = folder / "REPORT.md"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path
