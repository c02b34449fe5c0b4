"""The sweep report: the table of main metrics per combination of values
(today's marked), Markdown and an HTML page with the trade-off charts."""

from __future__ import annotations

from typing import Any

from mqldsl.render import templating
from mqldsl.render.charts import grouped_bars, lines, tradeoff
from mqldsl.render.report_common import LABELS, data_words, show
from mqldsl.simulation.metrics import MAIN


def sweep_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a sweep: the parameter values (the row of the values the policy
    runs with today marked "(current)"), then the main metrics. With several params the rows
    are numbered (#1, #2, ...), as the trade-off chart labels its points."""
    numbered = len(report["params"]) > 1
    header = [*(["#"] if numbered else []), *report["params"], *(LABELS[m] for m in MAIN)]
    rows = []
    for index, row in enumerate(report["rows"], 1):
        cells = [show(v) for v in row["params"].values()]
        cells += [show(row["metrics"][m]) for m in MAIN]
        if numbered:
            cells.insert(0, f"#{index}")
        if _is_current(report, row):
            cells[0] += " (current)"
        rows.append(cells)
    return header, rows


def _is_current(report: dict[str, Any], row: dict[str, Any]) -> bool:
    current = report.get("current")
    return bool(current) and row["params"] == current


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _sweep_charts(report: dict[str, Any]) -> list[dict[str, str]]:
    """The charts of a sweep page, each a title and an SVG (or a note saying why not).

    One numeric param: the quality of the MQLs (precision, recall, MQL to SQL) and the volume
    (MQLs, SQLs) against the value, the current value marked. Several params, or values that
    are not numbers: precision against recall, one numbered point per combination, and the MQLs
    of each combination as horizontal bars (labels stay readable)."""
    params, rows = report["params"], report["rows"]
    current = report.get("current") or {}
    charts: list[dict[str, str]] = []
    quality = ("mql_precision", "buyer_recall", "mql_to_sql")
    if len(params) == 1 and _numeric(values := [r["params"][params[0]] for r in rows]):
        name = params[0]
        mark = current.get(name) if _numeric([current.get(name)]) else None
        series = [(LABELS[m], [r["metrics"].get(m) for r in rows]) for m in quality]
        series = [(label, v) for label, v in series if any(x is not None for x in v)]
        if series:
            title = f"Quality of the MQLs by {name}"
            svg = lines(values, series, title, name, "share (0 to 1)", mark)
            charts.append({"title": title, "svg": svg, "note": ""})
        else:
            charts.append(_no_truth())
        volume = [(LABELS[m], [r["metrics"].get(m) for r in rows]) for m in ("mqls", "sqls")]
        title = f"MQLs and SQLs by {name}"
        charts.append(
            {"title": title, "svg": lines(values, volume, title, name, "leads", mark), "note": ""}
        )
        return charts
    points = [
        (f"#{i}", r["metrics"]["buyer_recall"], r["metrics"]["mql_precision"])
        for i, r in enumerate(rows, 1)
        if r["metrics"].get("buyer_recall") is not None
        and r["metrics"].get("mql_precision") is not None
    ]
    chosen = next((f"#{i}" for i, r in enumerate(rows, 1) if _is_current(report, r)), None)
    if points:
        title = "MQL precision against buyer recall, one point per row of the table"
        svg = tradeoff(points, title, "buyer recall", "MQL precision", chosen)
        charts.append({"title": title, "svg": svg, "note": ""})
    else:
        charts.append(_no_truth())
    labels = [", ".join(f"{k}={show(v)}" for k, v in r["params"].items()) for r in rows]
    title = "MQLs per combination"
    svg = grouped_bars(
        labels,
        [("MQLs", [r["metrics"]["mqls"] or 0 for r in rows])],
        title,
        horizontal=True,
        xlabel="MQLs",
    )
    charts.append({"title": title, "svg": svg, "note": ""})
    return charts


def _no_truth() -> dict[str, str]:
    return {
        "title": "Precision and recall",
        "svg": "",
        "note": "These journeys say nothing of who bought (no truth), so there is no "
        "precision or recall to trade off.",
    }


def sweep_markdown(report: dict[str, Any]) -> str:
    """A sweep as Markdown: a row of main metrics per combination of values."""
    return _render("reports/sweep.md.j2", report)


def sweep_html(report: dict[str, Any]) -> str:
    """A sweep as an HTML page: the table, then the trade-off and volume charts."""
    return _render("reports/sweep.html.j2", report, charts=_sweep_charts(report))


def _render(template: str, report: dict[str, Any], **extra: Any) -> str:
    header, rows = sweep_table(report)
    return templating.render(
        template,
        title=report["policy"]["title"],
        leads=report["leads"],
        as_of=report["as_of"],
        data=data_words(report),
        current=_current_text(report),
        header=header,
        rows=rows,
        **extra,
    )


def _current_text(report: dict[str, Any]) -> str:
    """Today's values, and where they are in the table (or that no row has them)."""
    current = report.get("current") or {}
    if not current:
        return ""
    values = ", ".join(f"{name}={show(value)}" for name, value in current.items())
    if any(_is_current(report, row) for row in report["rows"]):
        return f"{values} (the row marked current)"
    return f"{values} (outside the values swept: no row has them)"
