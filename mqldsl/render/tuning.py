"""The terminal report of `tune` (from its JSON, docs/tune.md)."""

from __future__ import annotations

from typing import Any

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


def tune_text(report: dict[str, Any]) -> str:
    """The report of `mqldsl tune` for a terminal."""
    lines: list[str] = []
    goal = f"maximise {report['maximize']}"
    if report["subject_to"]:
        goal += f" subject to {report['subject_to']}"
    lines.append(f"tune {report['policy']['file']}: {goal}")
    said = data_words(report)
    if said:
        lines.append(f"data: {said}")
    if report.get("set"):
        given = ", ".join(f"{k}={show(v)}" for k, v in report["set"].items())
        lines.append(f"--set {given} (every candidate, and the policy -o writes)")
    split = report["split"]
    leads = report["leads"]
    if split["method"] == "hash":
        how = f"a {split['fraction']:g} share, by a hash of the lead id with seed {split['seed']}"
        lines.append(f"leads: {leads['fit']} to fit, {leads['holdout']} held out ({how})")
    elif split["method"] == "date":
        how = f"those that arrived after {split['after']}"
        lines.append(f"leads: {leads['fit']} to fit, {leads['holdout']} held out ({how})")
    else:
        lines.append(f"leads: {leads['fit']}, no holdout (add --holdout or --holdout-after)")
    search = report["search"]
    lines.append(
        f"search: {search['method']}, {search['evaluated']} of {search['combinations']} "
        f"combinations evaluated ({search['cache']}); as of {report['as_of']}"
    )
    lines.extend(f"note: {note}" for note in report["notes"])
    lines.append("")
    current = report["current"]
    best = report["best"]
    if best is None:
        lines.append("no candidate satisfies the constraints on the fitting part")
        closest = report.get("closest")
        if closest:
            lines.append(
                f"closest: {_values(closest['values'])}, which breaks: "
                + "; ".join(closest["broken"])
            )
    else:
        lines.append(f"best: {_values(best)}   (current: {_values(current['values'])})")
        if report["broken_on_holdout"]:
            lines.append(
                "warning: on the held-out part the best values break: "
                + "; ".join(report["broken_on_holdout"])
            )
    lines.append("")
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
    rows = [
        [name] + [_cell(part.get(name)) if part else "-" for _, part in columns]
        for name in dict.fromkeys(shown + others)
    ]
    lines.extend(_table(["metric"] + [title for title, _ in columns], rows))
    lines.append("")
    params = report["params"]
    curve = report["curve"]
    if curve:
        if report["curve_kind"] == "curve":
            lines.append("trade-off on the fitting part (* current, > proposed):")
        else:
            metric = curve[0].get("pareto_metric", "")
            lines.append(
                f"Pareto front of {report['maximize']} and {metric} on the fitting part "
                "(> proposed):"
            )
        names = list(curve[0]["constraints"])
        table = []
        for point in curve:
            values = point["values"]
            mark = ">" if values == best else ("*" if values == current["values"] else " ")
            table.append(
                [mark]
                + [_cell(values[p]) for p in params]
                + [_cell(point["objective"])]
                + [_cell(point["constraints"][n]) for n in names]
                + ["yes" if point["feasible"] else "no"]
            )
        lines.extend(_table([" ", *params, report["maximize"], *names, "feasible"], table))
    if report["diff"]:
        lines.append("")
        lines.append(f"diff {report['policy']['file']} {report['output']}:")
        lines.extend(f"  {change}" for change in report["diff"])
    if report["output"]:
        lines.append(f"wrote {report['output']}")
    return "\n".join(lines) + "\n"


__all__ = ["tune_text"]
