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
from mqldsl.render.charts import binned, grouped_bars, lines, tradeoff, weekly_bars
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


def _change(d: dict[str, Any]) -> str:
    """A metric's change with its sign, and its percentage of the base."""
    change = show(d["diff"])
    if d["diff"] is not None and d["diff"] > 0:
        change = "+" + change
    if d["diff_pct"] is not None:
        change += f" ({d['diff_pct']:+.1f}%)"
    return change


def _range(interval: list[float] | None, joiner: str = ", ") -> str:
    return f"[{show(interval[0])}{joiner}{show(interval[1])}]" if interval else ""


def _version(policy: dict[str, Any]) -> str:
    version = f" version {policy['version']}" if policy.get("version") is not None else ""
    return f"{policy['title']}{version} ({policy['file']})"


def _item(item: dict[str, Any]) -> str:
    """A difference between the policies, and the leads it moved if counted."""
    text = f"{item['what']}: {show(item['base'])} → {show(item['proposed'])}"
    return text + (f" — moved {item['leads']} leads" if item.get("leads") is not None else "")


def whatif_context(report: dict[str, Any]) -> dict[str, Any]:
    """What every rendering of a what-if says besides the table: the two
    versions, what changed, the data, how to read the intervals, the
    `--fail-if` verdict, the attribution (each a line of text)."""
    data = report.get("data") or {}
    method = (data.get("intervals") or {}).get("method")
    if data.get("scenario") is not None:
        seed, count = data["seed"], data["replications"]
        source = (
            f"scenario {data['scenario']}, seed {seed}, {count} replications "
            f"(seeds {seed} to {seed + count - 1}); replication 1 has {data['leads']} leads, "
            f"as of {data['as_of']}"
        )
    else:
        rejected = f", {data['rejected']} rejected" if data.get("rejected") else ""
        source = (
            f"journeys {data.get('journeys')}: {data.get('leads', report['base']['leads'])} "
            f"leads{rejected}, as of {data.get('as_of', report['base']['as_of'])}"
        )
    if method == "replications":
        reading = [
            f"Base, proposed and change are means over the {data['replications']} replications.",
            "95% CI: the confidence interval of that mean change (where the average change lies).",
            "One quarter: the 95% prediction interval, the range of the change a single "
            "replication (a single quarter) would show.",
            "Transitions, attribution, samples and charts are from replication 1.",
        ]
    else:
        draws = data.get("intervals", {}).get("draws")
        unit = data.get("intervals", {}).get("resampled", "leads")
        reading = [
            "Base, proposed and change are on the whole data.",
            f"95% interval: a paired bootstrap of the {unit} ({draws} draws with replacement, "
            f"seed {data.get('seed')}, the same picks for both policies); the 2.5th to 97.5th "
            "percentile of the change.",
        ]
    gate = report.get("fail_if")
    verdict = None
    if gate is not None:
        verdict = f"--fail-if `{gate['expression']}`: {gate['verdict']}" + (
            " (held: " + "; ".join(gate["held"]) + ")" if gate["held"] else " (nothing held)"
        )
    examined = data.get("examined")
    moved = report.get("moved_leads", report["changed_leads"])
    return {
        "versions": [
            f"base: {_version(report['base']['policy'])}",
            f"proposed: {_version(report['proposed']['policy'])}",
        ],
        "changes": [_item({**c, "leads": None}) for c in report.get("changes", [])]
        or ["nothing: the two policies are the same"],
        "set": ", ".join(f"{k}={show(v)}" for k, v in (data.get("set") or {}).items()),
        "source": source,
        "reading": reading,
        "scenario": method == "replications",
        "verdict": verdict,
        "moved": (
            f"leads whose stage, handoff, queue, SLA or disqualification changed: {moved}"
            + (
                f" ({examined} examined for the attribution)"
                if examined not in (None, moved)
                else ""
            )
        ),
        "attribution": [_item(item) for item in report["attribution"]],
    }


def whatif_text(report: dict[str, Any]) -> str:
    """The terminal summary of a what-if: what changed, the data, the main
    metrics base against proposed with their intervals (and how to read
    them), the leads that moved and what moved them, the `--fail-if` verdict."""
    base, proposed = report["base"], report["proposed"]
    context = whatif_context(report)
    lines = [
        f"what-if: {base['policy']['title']} -> {proposed['policy']['title']}",
        *(f"  {line}" for line in context["versions"]),
        "what changed:",
        *(f"  {line}" for line in context["changes"]),
        f"data: {context['source']}",
        *context["reading"],
        "",
    ]
    header = f"  {'metric':<30} {'base':>10} {'proposed':>10} {'change':>16}  95% "
    lines.append(
        header + ("CI of the mean      one quarter" if context["scenario"] else "interval")
    )
    for name in MAIN:
        d = report["delta"][name]
        row = (
            f"  {LABELS.get(name, name):<30} {show(d['base']):>10} {show(d['proposed']):>10} "
            f"{_change(d):>16}  {_range(d['ci95']):<19}"
        )
        if context["scenario"]:
            row += f" {_range(d.get('pi95'))}"
        lines.append(row.rstrip())
    lines.append("")
    lines.append(f"leads whose stage changed: {report['changed_leads']}")
    for t in report["transitions"][:8]:
        lines.append(f"  {t['from']} -> {t['to']}: {t['leads']}")
    lines.append(context["moved"])
    if context["attribution"]:
        lines.append("what moved them:")
        lines += [f"  {line}" for line in context["attribution"][:12]]
    if context["verdict"]:
        lines.append(context["verdict"])
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
    """Each main metric: base, proposed, change (signed, with its percentage)
    and its 95% interval (and, over a scenario, the one-quarter range)."""
    rows = []
    scenario = any(report["delta"][name].get("pi95") for name in MAIN)
    for name in MAIN:
        d = report["delta"][name]
        row = [LABELS.get(name, name), show(d["base"]), show(d["proposed"]), _change(d)]
        row.append(_range(d["ci95"], " to "))
        if scenario:
            row.append(_range(d.get("pi95"), " to "))
        rows.append(row)
    return rows


def _whatif_header(report: dict[str, Any]) -> list[str]:
    if whatif_context(report)["scenario"]:
        return ["metric", "base", "proposed", "change", "95% CI of the mean", "one quarter (95%)"]
    return ["metric", "base", "proposed", "change", "95% interval"]


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
    quality = [m for m in ("mql_precision", "buyer_recall", "mql_to_sql")]
    if len(params) == 1 and _numeric(values := [r["params"][params[0]] for r in rows]):
        name = params[0]
        mark = current.get(name)
        mark = mark if isinstance(mark, int | float) and not isinstance(mark, bool) else None
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


def _score_charts(report: dict[str, Any]) -> list[dict[str, str]]:
    """A histogram per score: buyers against other leads, thresholds marked."""
    return [
        {
            "name": name,
            "svg": binned(
                data["edges"],
                [("buyers", data["buyers"]), ("other leads", data["others"])],
                [(label, value) for label, value in data["thresholds"]],
                f"{name} at the as-of: buyers and other leads, each as a share of itself",
                xlabel=f"{name} score",
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
    """A what-if as Markdown: the context, metrics, transitions and what
    moved the leads."""
    return templating.render(
        "reports/whatif.md.j2",
        title=report["base"]["policy"]["title"],
        context=whatif_context(report),
        header=_whatif_header(report),
        metrics=_whatif_rows(report),
        transitions=[[t["from"], t["to"], str(t["leads"])] for t in report["transitions"]],
        changed=report["changed_leads"],
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
        context=whatif_context(report),
        header=_whatif_header(report),
        metrics=_whatif_rows(report),
        changed=report["changed_leads"],
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
    header, rows = sweep_table(report)
    return templating.render(
        "reports/sweep.md.j2",
        title=report["policy"]["title"],
        leads=report["leads"],
        as_of=report["as_of"],
        current=_current_text(report),
        header=header,
        rows=rows,
    )


def sweep_html(report: dict[str, Any]) -> str:
    """A sweep as an HTML page: the table, then the trade-off and volume charts."""
    header, rows = sweep_table(report)
    return templating.render(
        "reports/sweep.html.j2",
        title=report["policy"]["title"],
        leads=report["leads"],
        as_of=report["as_of"],
        current=_current_text(report),
        header=header,
        rows=rows,
        charts=_sweep_charts(report),
    )


def _current_text(report: dict[str, Any]) -> str:
    current = report.get("current") or {}
    return ", ".join(f"{name}={show(value)}" for name, value in current.items())
