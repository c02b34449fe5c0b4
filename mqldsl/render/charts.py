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
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> str:
    """Bars per category, one colour per series; axis labels when given."""
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
    if xlabel:
        axes.set_xlabel(xlabel)
    if ylabel:
        axes.set_ylabel(ylabel)
    if count > 1:
        axes.legend(frameon=False)
    return _svg(figure)


def binned(
    edges: Sequence[float],
    series: Sequence[tuple[str, Sequence[float]]],
    thresholds: Sequence[tuple[str, float]],
    title: str,
    xlabel: str = "score",
) -> str:
    """Histograms of several groups over the same bins, side by side within each bin, each
    group as a share of itself (so a small group, the buyers, is as visible as a large one; the
    legend gives each group's size), thresholds marked."""
    if len(edges) < 2:
        return ""
    figure, axes = _figure()
    width = edges[1] - edges[0]
    count = max(len(series), 1)
    slot = width * 0.9 / count
    for index, (name, counts) in enumerate(series):
        total = sum(counts)
        shares = [c / total if total else 0.0 for c in counts]
        offset = -width * 0.45 + slot * (index + 0.5)
        axes.bar(
            [edge + width / 2 + offset for edge in edges[:-1]],
            shares,
            width=slot,
            label=f"{name} ({total:g})",
            color=PALETTE[index % len(PALETTE)],
        )
    # thresholds from left to right, labels on alternate lines so close ones do not collide
    for index, (label, value) in enumerate(sorted(thresholds, key=lambda t: t[1])):
        axes.axvline(value, color="#222", linestyle="--", linewidth=1)
        axes.annotate(
            label,
            (value, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -10 - 11 * (index % 2)),
            textcoords="offset points",
            fontsize=8,
        )
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("share of the group (each sums to 1)")
    axes.legend(frameon=False)
    return _svg(figure)


def lines(
    xs: Sequence[float],
    series: Sequence[tuple[str, Sequence[float | None]]],
    title: str,
    xlabel: str,
    ylabel: str,
    current: float | None = None,
) -> str:
    """A line with markers per series against a numeric x (missing values leave gaps), the
    current x marked by a dashed line labelled "current"."""
    if not xs or not series:
        return ""
    figure, axes = _figure()
    for index, (name, values) in enumerate(series):
        axes.plot(
            xs,
            [float("nan") if v is None else v for v in values],
            marker="o",
            markersize=4,
            label=name,
            color=PALETTE[index % len(PALETTE)],
        )
    if current is not None:
        axes.axvline(current, color="#222", linestyle="--", linewidth=1)
        axes.annotate(
            f"current {current:g}",
            (current, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -10),
            textcoords="offset points",
            fontsize=8,
        )
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if len(series) > 1:
        axes.legend(frameon=False)
    return _svg(figure)


def tradeoff(
    points: Sequence[tuple[str, float, float]],
    title: str,
    xlabel: str,
    ylabel: str,
    current: str | None = None,
) -> str:
    """One labelled point per candidate (label, x, y); the current one drawn apart."""
    if not points:
        return ""
    figure, axes = _figure(7.0, 3.6)
    others = [(label, x, y) for label, x, y in points if label != current]
    chosen = [(label, x, y) for label, x, y in points if label == current]
    if others:
        axes.scatter([x for _, x, _ in others], [y for _, _, y in others], s=18, color=PALETTE[0])
    if chosen:
        axes.scatter(
            [x for _, x, _ in chosen],
            [y for _, _, y in chosen],
            s=40,
            color=PALETTE[1],
            zorder=3,
            label=f"current values ({current})",
        )
        axes.legend(frameon=False, fontsize=8)
    for label, x, y in points:
        axes.annotate(label, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
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
