"""The report of `tune` (from its JSON, docs/tune.md): for a terminal, as Markdown and as
an HTML page with its trade-off chart."""

from __future__ import annotations

from typing import Any

from mqldsl.analysis.durations import parse_duration
from mqldsl.render import charts, templating
from mqldsl.render.report_common import data_words, show
from mqldsl.simulation.constraints import METRICS


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 1000 else f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def _values(values: dict[str, Any]) -> str:
    return ", ".join(f"{name} = {_cell(value)}" for name, value in values.items())


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)).rstrip()]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return lines


def tune_parts(report: dict[str, Any]) -> dict[str, Any]:
    """What every format of the report says, in its order: the title, the lines about the
    data and the search, the notes, the outcome (the best values, or why there are none), the
    metrics table (current and proposed on each part), the curve or Pareto front (its title
    and table, the current row `*` and the proposed `>`), and the diff of `-o`."""
    goal = f"maximise {report['maximize']}"
    if report["subject_to"]:
        goal += f" subject to {report['subject_to']}"
    about: list[str] = []
    said = data_words(report)
    if said:
        about.append(f"data: {said}")
    if report.get("set"):
        given = ", ".join(f"{k}={show(v)}" for k, v in report["set"].items())
        about.append(f"--set {given} (every candidate, and the policy -o writes)")
    split = report["split"]
    leads = report["leads"]
    if split["method"] == "hash":
        how = f"a {split['fraction']:g} share, by a hash of the lead id with seed {split['seed']}"
        about.append(f"leads: {leads['fit']} to fit, {leads['holdout']} held out ({how})")
    elif split["method"] == "date":
        how = f"those that arrived after {split['after']}"
        about.append(f"leads: {leads['fit']} to fit, {leads['holdout']} held out ({how})")
    else:
        about.append(f"leads: {leads['fit']}, no holdout (add --holdout or --holdout-after)")
    search = report["search"]
    about.append(
        f"search: {search['method']}, {search['evaluated']} of {search['combinations']} "
        f"combinations evaluated ({search['cache']}); as of {report['as_of']}"
    )
    current = report["current"]
    best = report["best"]
    outcome: list[str] = []
    if best is None:
        outcome.append("no candidate satisfies the constraints on the fitting part")
        closest = report.get("closest")
        if closest:
            outcome.append(
                f"closest: {_values(closest['values'])}, which breaks: "
                + "; ".join(closest["broken"])
            )
    else:
        outcome.append(f"best: {_values(best)}   (current: {_values(current['values'])})")
        if report["broken_on_holdout"]:
            outcome.append(
                "warning: on the held-out part the best values break: "
                + "; ".join(report["broken_on_holdout"])
            )
    shown = [report["maximize"]] + [
        name for point in report["curve"][:1] for name in point["constraints"]
    ]
    columns = [("current fit", current["fit"]), ("proposed fit", report["fit"])]
    if current["holdout"] is not None:
        columns += [
            ("current holdout", current["holdout"]),
            ("proposed holdout", report["holdout"]),
        ]
    others = [
        name
        for name in METRICS
        if name not in shown and any(part and part.get(name) is not None for _, part in columns)
    ]
    metric_rows = [
        [name] + [_cell(part.get(name)) if part else "-" for _, part in columns]
        for name in dict.fromkeys(shown + others)
    ]
    params = report["params"]
    curve = report["curve"]
    curve_title = None
    curve_header: list[str] = []
    curve_rows: list[list[str]] = []
    if curve:
        if report["curve_kind"] == "curve":
            curve_title = "trade-off on the fitting part (* current, > proposed):"
        else:
            metric = curve[0].get("pareto_metric", "")
            curve_title = (
                f"Pareto front of {report['maximize']} and {metric} on the fitting part "
                "(* current, > proposed):"
            )
        names = [n for n in curve[0]["constraints"] if n != report["maximize"]]
        for point in curve:
            values = point["values"]
            mark = ">" if values == best else ("*" if values == current["values"] else " ")
            curve_rows.append(
                [mark]
                + [_cell(values[p]) for p in params]
                + [_cell(point["objective"])]
                + [_cell(point["constraints"][n]) for n in names]
                + ["yes" if point["feasible"] else "no"]
            )
        curve_header = [" ", *params, report["maximize"], *names, "feasible"]
    return {
        "title": f"tune {report['policy']['file']}: {goal}",
        "about": about,
        "notes": list(report["notes"]),
        "outcome": outcome,
        "metrics": (["metric"] + [title for title, _ in columns], metric_rows),
        "curve_title": curve_title,
        "curve": (curve_header, curve_rows),
        "diff": (
            (f"diff {report['policy']['file']} {report['output']}:", list(report["diff"]))
            if report["diff"]
            else None
        ),
        "output": report["output"],
    }


def tune_text(report: dict[str, Any]) -> str:
    """The report of `mqldsl tune` for a terminal."""
    parts = tune_parts(report)
    lines: list[str] = [parts["title"], *parts["about"]]
    lines.extend(f"note: {note}" for note in parts["notes"])
    lines.append("")
    lines.extend(parts["outcome"])
    lines.append("")
    lines.extend(_table(*parts["metrics"]))
    lines.append("")
    if parts["curve_title"]:
        lines.append(parts["curve_title"])
        lines.extend(_table(*parts["curve"]))
    if parts["diff"]:
        title, changes = parts["diff"]
        lines.append("")
        lines.append(title)
        lines.extend(f"  {change}" for change in changes)
    if parts["output"]:
        lines.append(f"wrote {parts['output']}")
    return "\n".join(lines) + "\n"


def tune_markdown(report: dict[str, Any]) -> str:
    """The report of `mqldsl tune` as Markdown (the terminal's sections, tables as tables)."""
    return templating.render("reports/tune.md.j2", parts=tune_parts(report))


def tune_html(report: dict[str, Any]) -> str:
    """The report of `mqldsl tune` as a self-contained HTML page, with the trade-off curve
    (one param: the objective and each constraint's metric against the value) or the Pareto
    front (the objective against the first constraint's metric) drawn."""
    return templating.render("reports/tune.html.j2", parts=tune_parts(report), chart=_chart(report))


def _number(value: Any) -> float | None:
    """A param value on a chart's axis: a number, or a duration (`14 days`) in days."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_duration(value).seconds / 86400
        except ValueError:
            return None
    return None


def _chart(report: dict[str, Any]) -> str:
    curve = report["curve"]
    if not curve:
        return ""
    maximize = report["maximize"]
    if report["curve_kind"] == "curve":
        name = report["params"][0]
        xs = [_number(point["values"][name]) for point in curve]
        if any(x is None for x in xs):
            return ""
        names = [maximize] + [n for n in curve[0]["constraints"] if n != maximize]
        series = [
            (
                metric,
                [
                    point["objective"] if metric == maximize else point["constraints"][metric]
                    for point in curve
                ],
            )
            for metric in names
        ]
        duration = isinstance(curve[0]["values"][name], str)
        return charts.lines(
            [x for x in xs if x is not None],
            series,
            f"{maximize} on the fitting part against {name}",
            f"{name} (days)" if duration else name,
            "value",
            current=_number(report["current"]["values"][name]),
        )
    metric = curve[0].get("pareto_metric", "")
    label = {", ".join(_cell(v) for v in p["values"].values()): p for p in curve}
    current = ", ".join(_cell(v) for v in report["current"]["values"].values())
    return charts.tradeoff(
        [
            (text, p["objective"], p["constraints"].get(metric))
            for text, p in label.items()
            if p["objective"] is not None and p["constraints"].get(metric) is not None
        ],
        f"Pareto front: {maximize} against {metric}",
        maximize,
        metric,
        current=current if current in label else None,
    )


__all__ = ["tune_html", "tune_markdown", "tune_parts", "tune_text"]
