"""Rendering the simulate, whatif and sweep reports: a terminal summary,
JSON (docs/reports.md), Markdown, and a self-contained HTML page with inline
SVG charts. Every renderer takes the report as its JSON dict (what the .json
file holds), so a saved report renders the same as a fresh one. The Markdown
and HTML markup lives in the Jinja2 templates under templates/reports/; this
module picks the rows, cells and charts they show."""

from __future__ import annotations

import json
from typing import Any

from mqldsl.render import templating
from mqldsl.render.charts import binned, grouped_bars, weekly_bars
from mqldsl.simulation.run import DEFINITIONS, MAIN

#: How each metric is named in tables and summaries.
LABELS = {
    "mqls": "MQLs",
    "mql_precision": "MQL precision",
    "buyer_recall": "buyer recall",
    "sqls": "SQLs",
    "mql_to_sql": "MQL to SQL",
    "sla_met": "SLA met",
    "median_hours_to_first_touch": "median hours to first touch",
    "median_hours_to_mql": "median hours to MQL",
    "buyers": "real buyers",
    "sdr_utilisation": "SDR utilisation",
    "queue_length": "queue at as-of",
}


def show(value: Any) -> str:
    """A metric value for people: n/a for no data, four significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def simulate_text(report: dict[str, Any]) -> str:
    """The terminal summary of a simulation (and its backtest, if any)."""
    m = report["metrics"]
    lines = [
        f"{report['policy']['title']} — {report['leads']} leads as of {report['as_of']}"
        + (f" ({report['rejected']} rejected)" if report["rejected"] else ""),
        "stages now: " + ", ".join(f"{k} {v}" for k, v in report["stages"].items()),
    ]
    if report["disqualified"]:
        lines.append(
            "disqualified by reason: "
            + ", ".join(f"{k} {v}" for k, v in report["disqualified"].items())
        )
    lines.extend(timing_lines(report))
    for name in [*MAIN, "median_hours_to_mql", "sdr_utilisation", "queue_length"]:
        lines.append(f"  {LABELS.get(name, name):<30} {show(m.get(name))}")
    lines.append(weekly_line(report))
    return "\n".join(lines) + "\n" + backtest_text(report)


def timing_lines(report: dict[str, Any]) -> list[str]:
    """What the as-of instant left out, and how the SQLs were counted."""
    timing = report.get("timing") or {}
    lines = []
    if timing.get("leads_after_as_of"):
        lines.append(
            f"left out: {timing['leads_after_as_of']} leads that did not exist yet at the as-of "
            "instant (created or first seen later)"
        )
    if timing.get("outcomes_after_as_of"):
        lines.append(
            f"not counted: {timing['outcomes_after_as_of']} outcomes (SQL or won dates) after the "
            "as-of instant; those leads are not SQLs or wins at it"
        )
    sales = report.get("sales")
    if sales and sales.get("note"):
        lines.append(f"SQLs: {sales['note']}")
    return lines


def weekly_line(report: dict[str, Any]) -> str:
    """The weekly series in one line: its span and its partial week, or why
    there is none."""
    weeks = report["metrics"].get("mqls_per_week") or []
    note = (report.get("timing") or {}).get("weekly_note")
    if not weeks:
        return f"  MQLs per week: {note or 'no MQLs'}"
    partial = [w["week"] for w in weeks if w.get("partial")]
    text = (
        f"  MQLs per week: {len(weeks)} weeks, {weeks[0]['week']} to {weeks[-1]['week']}, "
        f"peak {max(w['mqls'] for w in weeks)}"
    )
    if partial:
        text += f"; {', '.join(partial)} is partial (the as-of instant ends it early)"
    return text + (f"; {note}" if note else "")


def backtest_text(report: dict[str, Any]) -> str:
    """The backtest lines of a simulation, or "" when it had no known outcomes."""
    data = report.get("backtest")
    if not data:
        return ""
    lines = [
        f"backtest on {data['leads_with_truth']} leads with known outcomes: base rate {show(data['base_rate'])}, "
        f"MQL precision {show(data['mql_precision'])}, lift {show(data['lift'])}x",
    ]
    if any(d["leads"] == 0 for score in data["scores"].values() for d in score["deciles"]):
        lines.append(
            "  (deciles are cut on score values: leads tied on a score share a decile, "
            "so a decile can be empty)"
        )
    for segment, entry in data.get("by_segment", {}).items():
        lines.append(
            f"  {segment}: {entry['leads']} leads, conversion {show(entry['conversion'])}, {entry['mqls']} MQLs"
        )
    for name, score in data["scores"].items():
        cells = ", ".join(
            f"{d['decile']}: {show(d['conversion'])} ({d['leads']})"
            for d in score["deciles"]
            if d["leads"]
        )
        lines.append(f"  {name}: conversion by decile, highest scores first (leads) {cells}")
    return "\n".join(lines) + "\n"


def whatif_text(report: dict[str, Any]) -> str:
    """The terminal summary of a what-if: the main metrics, base against
    proposed, then the leads whose stage changed and what changed it."""
    base, proposed = report["base"], report["proposed"]
    lines = [
        f"what-if: {base['policy']['title']} -> {proposed['policy']['title']}, "
        f"{base['leads']} leads as of {base['as_of']}",
        "",
        f"  {'metric':<30} {'base':>10} {'proposed':>10} {'change':>10}  95% interval",
    ]
    for name in MAIN:
        d = report["delta"][name]
        change = show(d["diff"])
        if d["diff"] is not None and d["diff"] > 0:
            change = "+" + change
        if d["diff_pct"] is not None:
            change += f" ({d['diff_pct']:+.1f}%)"
        interval = f"[{show(d['ci95'][0])}, {show(d['ci95'][1])}]" if d["ci95"] else ""
        lines.append(
            f"  {LABELS.get(name, name):<30} {show(d['base']):>10} {show(d['proposed']):>10} {change:>10}  {interval}"
        )
    lines.append("")
    lines.append(f"leads whose stage changed: {report['changed_leads']}")
    for t in report["transitions"][:8]:
        lines.append(f"  {t['from']} -> {t['to']}: {t['leads']}")
    if report["attribution"]:
        lines.append("what changed it:")
        for item in report["attribution"][:8]:
            if "leads" in item:
                lines.append(f"  {item['what']}: {item['leads']} leads")
            else:
                lines.append(f"  {item['what']}: {show(item['base'])} -> {show(item['proposed'])}")
    return "\n".join(lines) + "\n"


def to_json(report: dict[str, Any]) -> str:
    """Any report as the JSON text of its .json file."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _simulate_rows(report: dict[str, Any]) -> list[list[str]]:
    """Each metric with its value and definition (the weekly series aside)."""
    m = report["metrics"]
    return [
        [LABELS.get(n, n), show(m.get(n)), DEFINITIONS[n]]
        for n in DEFINITIONS
        if n != "mqls_per_week"
    ]


def _whatif_rows(report: dict[str, Any]) -> list[list[str]]:
    """Each main metric: base, proposed, change and its 95% interval."""
    rows = []
    for name in MAIN:
        d = report["delta"][name]
        interval = f"{show(d['ci95'][0])} to {show(d['ci95'][1])}" if d["ci95"] else ""
        rows.append(
            [
                LABELS.get(name, name),
                show(d["base"]),
                show(d["proposed"]),
                show(d["diff"]),
                interval,
            ]
        )
    return rows


def _sweep_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a sweep: the parameter values, then the main metrics."""
    header = [*report["params"], *(LABELS[m] for m in MAIN)]
    rows = [
        [show(v) for v in r["params"].values()] + [show(r["metrics"][m]) for m in MAIN]
        for r in report["rows"]
    ]
    return header, rows


def _score_charts(report: dict[str, Any]) -> list[dict[str, str]]:
    """A histogram per score: buyers against other leads, thresholds marked."""
    return [
        {
            "name": name,
            "svg": binned(
                data["edges"],
                [("buyers", data["buyers"]), ("other leads", data["others"])],
                [(label, value) for label, value in data["thresholds"]],
                f"{name}: buyers and other leads (thresholds dashed)",
            ),
        }
        for name, data in report.get("score_distributions", {}).items()
    ]


def simulate_markdown(report: dict[str, Any]) -> str:
    """A simulation as Markdown: metrics, leads by stage, MQLs per week."""
    return templating.render(
        "reports/simulate.md.j2",
        title=report["policy"]["title"],
        leads=report["leads"],
        as_of=report["as_of"],
        metrics=_simulate_rows(report),
        stages=[[k, str(v)] for k, v in report["stages"].items()],
        weeks=[[_week_label(w), str(w["mqls"])] for w in report["metrics"]["mqls_per_week"]],
        notes=timing_lines(report),
        weekly_note=(report.get("timing") or {}).get("weekly_note"),
        backtest=_backtest_tables(report),
    )


def _backtest_tables(report: dict[str, Any]) -> dict[str, Any] | None:
    """The backtest for Markdown and HTML: its summary line, and per score
    the non-empty deciles (value-cut) with their score range."""
    data = report.get("backtest")
    if not data:
        return None
    scores = []
    for name, score in data["scores"].items():
        rows = [
            [
                str(d["decile"]),
                show(d["highest"])
                if d["highest"] == d["lowest"]
                else f"{show(d['lowest'])} to {show(d['highest'])}",
                str(d["leads"]),
                str(d["buyers"]),
                show(d["conversion"]),
            ]
            for d in score["deciles"]
            if d["leads"]
        ]
        gain = [
            [show(g["score_at_least"]), show(g["flagged"]), show(g["buyers_caught"])]
            for g in score["gain"]
        ]
        scores.append({"name": name, "deciles": rows, "gain": gain})
    return {
        "summary": (
            f"{data['leads_with_truth']} leads with known outcomes: base rate "
            f"{show(data['base_rate'])}, MQL precision {show(data['mql_precision'])}, "
            f"lift {show(data['lift'])}x"
        ),
        "scores": scores,
        "note": "Deciles are cut on score values, highest first: leads tied on a score share "
        "a decile, so a decile can be empty (empty ones are not shown).",
    }


def _week_label(week: dict[str, Any]) -> str:
    return f"{week['week']} (partial)" if week.get("partial") else str(week["week"])


def whatif_markdown(report: dict[str, Any]) -> str:
    """A what-if as Markdown: metrics, transitions and what changed them."""
    attribution = [
        f"{item['what']}: "
        + (
            f"{item['leads']} leads"
            if "leads" in item
            else f"{show(item['base'])} → {show(item['proposed'])}"
        )
        for item in report["attribution"]
    ]
    return templating.render(
        "reports/whatif.md.j2",
        title=report["base"]["policy"]["title"],
        metrics=_whatif_rows(report),
        transitions=[[t["from"], t["to"], str(t["leads"])] for t in report["transitions"]],
        attribution=attribution,
    )


def simulate_html(report: dict[str, Any]) -> str:
    """A simulation as an HTML page: metrics, weekly MQLs, funnel, score charts."""
    weeks = report["metrics"]["mqls_per_week"]
    return templating.render(
        "reports/simulate.html.j2",
        title=report["policy"]["title"],
        leads=report["leads"],
        as_of=report["as_of"],
        metrics=_simulate_rows(report),
        notes=timing_lines(report),
        weekly_note=(report.get("timing") or {}).get("weekly_note"),
        weekly=weekly_bars(
            [w["week"] for w in weeks],
            [("MQLs", [w["mqls"] for w in weeks])],
            [bool(w.get("partial")) for w in weeks],
            "MQLs per week (hatched: partial week)"
            if any(w.get("partial") for w in weeks)
            else "MQLs per week",
        ),
        funnel=grouped_bars(
            list(report["stages"]),
            [("leads", list(report["stages"].values()))],
            "Leads by stage now",
            horizontal=True,
        ),
        scores=_score_charts(report),
        backtest=_backtest_tables(report),
    )


def whatif_html(report: dict[str, Any]) -> str:
    """A what-if as an HTML page, base and proposed side by side."""
    base, proposed = report["base"], report["proposed"]
    base_weeks = {w["week"]: w["mqls"] for w in base["metrics"]["mqls_per_week"]}
    new_weeks = {w["week"]: w["mqls"] for w in proposed["metrics"]["mqls_per_week"]}
    weeks = sorted(set(base_weeks) | set(new_weeks))
    stages = list(base["stages"])
    moves = [f"{t['from']} → {t['to']}" for t in report["transitions"]]
    return templating.render(
        "reports/whatif.html.j2",
        title=base["policy"]["title"],
        metrics=_whatif_rows(report),
        weekly=grouped_bars(
            weeks,
            [
                ("base", [base_weeks.get(w, 0) for w in weeks]),
                ("proposed", [new_weeks.get(w, 0) for w in weeks]),
            ],
            "MQLs per week",
        ),
        funnel=grouped_bars(
            stages,
            [
                ("base", [base["stages"][s] for s in stages]),
                ("proposed", [proposed["stages"].get(s, 0) for s in stages]),
            ],
            "Leads by stage now",
            horizontal=True,
        ),
        transitions=[[t["from"], t["to"], t["leads"]] for t in report["transitions"]],
        moves=grouped_bars(
            moves,
            [("leads", [t["leads"] for t in report["transitions"]])],
            "Leads whose stage changed",
            horizontal=True,
        ),
        scores=_score_charts(proposed),
    )


def sweep_markdown(report: dict[str, Any]) -> str:
    """A sweep as Markdown: a row of main metrics per combination of values."""
    header, rows = _sweep_table(report)
    return templating.render(
        "reports/sweep.md.j2",
        title=report["policy"]["title"],
        leads=report["leads"],
        as_of=report["as_of"],
        header=header,
        rows=rows,
    )


def sweep_html(report: dict[str, Any]) -> str:
    """A sweep as an HTML page: the table and the MQLs per combination."""
    header, rows = _sweep_table(report)
    labels = [", ".join(f"{k}={v}" for k, v in r["params"].items()) for r in report["rows"]]
    chart = grouped_bars(
        labels, [("MQLs", [r["metrics"]["mqls"] or 0 for r in report["rows"]])], "MQLs per value"
    )
    return templating.render(
        "reports/sweep.html.j2",
        title=report["policy"]["title"],
        header=header,
        rows=rows,
        chart=chart,
    )
