"""Charts for the HTML reports, drawn with matplotlib as inline SVG (no
network, deterministic output: fixed SVG ids and no timestamps)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

PALETTE = ("#3b6ea5", "#d98c2b", "#6a9f58", "#b0494b")


def _figure(width: float = 7.0, height: float = 2.8) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "mqldsl"
    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["font.size"] = 9
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(width, height))
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _svg(figure: Any) -> str:
    from matplotlib import pyplot

    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    pyplot.close(figure)
    text = buffer.getvalue()
    start = text.find("<svg")
    return text[start:]


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    title: str,
    horizontal: bool = False,
) -> str:
    """Bars per category, one colour per series."""
    if not categories:
        return ""
    figure, axes = _figure(7.0, max(2.4, 0.3 * len(categories)) if horizontal else 2.8)
    count = len(series)
    width = 0.8 / count
    for index, (name, values) in enumerate(series):
        positions = [i + (index - (count - 1) / 2) * width for i in range(len(categories))]
        if horizontal:
            axes.barh(
                positions, values, height=width, label=name, color=PALETTE[index % len(PALETTE)]
            )
        else:
            axes.bar(
                positions, values, width=width, label=name, color=PALETTE[index % len(PALETTE)]
            )
    if horizontal:
        axes.set_yticks(range(len(categories)), categories)
        axes.invert_yaxis()
    else:
        axes.set_xticks(
            range(len(categories)),
            categories,
            rotation=45 if len(categories) > 6 else 0,
            ha="right" if len(categories) > 6 else "center",
        )
    axes.set_title(title)
    if count > 1:
        axes.legend(frameon=False)
    return _svg(figure)


def binned(
    edges: Sequence[float],
    series: Sequence[tuple[str, Sequence[float]]],
    thresholds: Sequence[tuple[str, float]],
    title: str,
) -> str:
    """Histogram bars from precomputed bins, with thresholds marked."""
    if len(edges) < 2:
        return ""
    figure, axes = _figure()
    width = edges[1] - edges[0]
    for index, (name, counts) in enumerate(series):
        axes.bar(
            [edge + width / 2 for edge in edges[:-1]],
            counts,
            width=width * 0.95,
            alpha=0.6,
            label=name,
            color=PALETTE[index % len(PALETTE)],
        )
    top = max((max(c) for _, c in series if c), default=1) or 1
    for label, value in thresholds:
        axes.axvline(value, color="#222", linestyle="--", linewidth=1)
        axes.annotate(
            label, (value, top * 0.95), xytext=(3, 0), textcoords="offset points", fontsize=8
        )
    axes.set_title(title)
    axes.legend(frameon=False)
    return _svg(figure)


def weekly_bars(
    weeks: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    partial: Sequence[bool],
    title: str,
) -> str:
    """MQLs per ISO week, one colour per series; a partial week (the as-of
    instant ends it early) is hatched and labelled "(partial)". The axes are
    labelled; with many weeks only every few are named."""
    if not weeks:
        return ""
    figure, axes = _figure(7.5, 3.0)
    count = len(series)
    width = 0.8 / count
    for index, (name, values) in enumerate(series):
        positions = [i + (index - (count - 1) / 2) * width for i in range(len(weeks))]
        bars = axes.bar(
            positions, values, width=width, label=name, color=PALETTE[index % len(PALETTE)]
        )
        for bar, cut in zip(bars, partial, strict=True):
            if cut:
                bar.set_alpha(0.45)
                bar.set_hatch("///")
    labels = [
        f"{week} (partial)" if cut else week for week, cut in zip(weeks, partial, strict=True)
    ]
    step = max(1, -(-len(weeks) // 16))
    marked = {i for i, cut in enumerate(partial) if cut}  # always named, never crowded
    spaced = {i for i in range(0, len(weeks), step) if all(abs(i - m) >= step for m in marked)}
    shown = sorted(marked | spaced)
    axes.set_xticks(shown, [labels[i] for i in shown], rotation=45, ha="right")
    axes.set_xlabel("ISO week of the MQL handoff")
    axes.set_ylabel("MQLs")
    axes.set_title(title)
    if count > 1:
        axes.legend(frameon=False)
    return _svg(figure)
