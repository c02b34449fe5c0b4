"""Rendering simulation and what-if reports: a terminal summary, JSON
(docs/reports.md), Markdown, and a self-contained HTML page."""

from __future__ import annotations

import html
import json
from typing import Any

from mqldsl.simulate.run import DEFINITIONS, MAIN

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
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def simulate_text(report: dict[str, Any]) -> str:
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
    for name in [*MAIN, "median_hours_to_mql", "sdr_utilisation", "queue_length"]:
        lines.append(f"  {LABELS.get(name, name):<30} {show(m.get(name))}")
    return "\n".join(lines) + "\n" + backtest_text(report)


def backtest_text(report: dict[str, Any]) -> str:
    data = report.get("backtest")
    if not data:
        return ""
    lines = [
        f"backtest on {data['leads_with_truth']} leads with known outcomes: base rate {show(data['base_rate'])}, "
        f"MQL precision {show(data['mql_precision'])}, lift {show(data['lift'])}x",
    ]
    for segment, entry in data.get("by_segment", {}).items():
        lines.append(
            f"  {segment}: {entry['leads']} leads, conversion {show(entry['conversion'])}, {entry['mqls']} MQLs"
        )
    for name, score in data["scores"].items():
        cells = " ".join(show(d["conversion"]) for d in score["deciles"])
        lines.append(f"  {name}: conversion by decile (highest first) {cells}")
    return "\n".join(lines) + "\n"


def whatif_text(report: dict[str, Any]) -> str:
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
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def simulate_markdown(report: dict[str, Any]) -> str:
    m = report["metrics"]
    lines = [
        f"# Simulation: {report['policy']['title']}",
        "",
        f"{report['leads']} leads as of {report['as_of']}.",
        "",
    ]
    lines += _md_table(
        ["metric", "value", "definition"],
        [
            [LABELS.get(n, n), show(m.get(n)), DEFINITIONS[n]]
            for n in DEFINITIONS
            if n != "mqls_per_week"
        ],
    )
    lines += ["", "## Leads by stage", ""]
    lines += _md_table(["stage", "leads"], [[k, str(v)] for k, v in report["stages"].items()])
    lines += ["", "## MQLs per week", ""]
    lines += _md_table(["week", "MQLs"], [[w["week"], str(w["mqls"])] for w in m["mqls_per_week"]])
    return "\n".join(lines) + "\n"


def whatif_markdown(report: dict[str, Any]) -> str:
    lines = [f"# What-if: {report['base']['policy']['title']}", ""]
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
    lines += _md_table(["metric", "base", "proposed", "change", "95% interval"], rows)
    lines += ["", "## Transitions", ""]
    lines += _md_table(
        ["from", "to", "leads"],
        [[t["from"], t["to"], str(t["leads"])] for t in report["transitions"]],
    )
    lines += ["", "## Attribution", ""]
    for item in report["attribution"]:
        lines.append(
            f"- {item['what']}: "
            + (
                f"{item['leads']} leads"
                if "leads" in item
                else f"{show(item['base'])} → {show(item['proposed'])}"
            )
        )
    return "\n".join(lines) + "\n"


def _html_page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
        "th{background:#f3f3f3}.bar{fill:#3b6ea5}.bar2{fill:#d98c2b}"
        "</style></head><body>\n" + body + "\n</body></html>\n"
    )


def _score_charts(report: dict[str, Any]) -> str:
    from mqldsl.render.charts import binned

    parts = []
    for name, data in report.get("score_distributions", {}).items():
        chart = binned(
            data["edges"],
            [("buyers", data["buyers"]), ("other leads", data["others"])],
            [(label, value) for label, value in data["thresholds"]],
            f"{name}: buyers and other leads (thresholds dashed)",
        )
        parts.append(f"<h3>{html.escape(name)}</h3>{chart}")
    return "".join(parts)


def simulate_html(report: dict[str, Any]) -> str:
    from mqldsl.render.charts import grouped_bars

    m = report["metrics"]
    rows = "".join(
        f"<tr><td>{html.escape(LABELS.get(n, n))}</td><td>{html.escape(show(m.get(n)))}</td><td>{html.escape(DEFINITIONS[n])}</td></tr>"
        for n in DEFINITIONS
        if n != "mqls_per_week"
    )
    weeks = [w["week"] for w in m["mqls_per_week"]]
    body = (
        f"<h1>Simulation: {html.escape(report['policy']['title'])}</h1>"
        f"<p>{report['leads']} leads as of {html.escape(report['as_of'])}.</p>"
        f"<table><tr><th>metric</th><th>value</th><th>definition</th></tr>{rows}</table>"
        "<h2>MQLs per week</h2>"
        + grouped_bars(weeks, [("MQLs", [w["mqls"] for w in m["mqls_per_week"]])], "MQLs per week")
        + "<h2>Funnel</h2>"
        + grouped_bars(
            list(report["stages"]),
            [("leads", list(report["stages"].values()))],
            "Leads by stage now",
            horizontal=True,
        )
        + "<h2>Score distributions</h2>"
        + _score_charts(report)
    )
    return _html_page("Simulation", body)


def whatif_html(report: dict[str, Any]) -> str:
    from mqldsl.render.charts import grouped_bars

    rows = ""
    for name in MAIN:
        d = report["delta"][name]
        interval = f"{show(d['ci95'][0])} to {show(d['ci95'][1])}" if d["ci95"] else ""
        rows += (
            "<tr>"
            + "".join(
                f"<td>{html.escape(x)}</td>"
                for x in [
                    LABELS.get(name, name),
                    show(d["base"]),
                    show(d["proposed"]),
                    show(d["diff"]),
                    interval,
                ]
            )
            + "</tr>"
        )
    base_weeks = {w["week"]: w["mqls"] for w in report["base"]["metrics"]["mqls_per_week"]}
    new_weeks = {w["week"]: w["mqls"] for w in report["proposed"]["metrics"]["mqls_per_week"]}
    weeks = sorted(set(base_weeks) | set(new_weeks))
    stages = list(report["base"]["stages"])
    transitions = "".join(
        f"<tr><td>{html.escape(t['from'])}</td><td>{html.escape(t['to'])}</td><td>{t['leads']}</td></tr>"
        for t in report["transitions"]
    )
    moves = [f"{t['from']} → {t['to']}" for t in report["transitions"]]
    body = (
        f"<h1>What-if: {html.escape(report['base']['policy']['title'])}</h1>"
        f"<table><tr><th>metric</th><th>base</th><th>proposed</th><th>change</th><th>95% interval</th></tr>{rows}</table>"
        "<h2>MQLs per week</h2>"
        + grouped_bars(
            weeks,
            [
                ("base", [base_weeks.get(w, 0) for w in weeks]),
                ("proposed", [new_weeks.get(w, 0) for w in weeks]),
            ],
            "MQLs per week",
        )
        + "<h2>Funnel</h2>"
        + grouped_bars(
            stages,
            [
                ("base", [report["base"]["stages"][s] for s in stages]),
                ("proposed", [report["proposed"]["stages"].get(s, 0) for s in stages]),
            ],
            "Leads by stage now",
            horizontal=True,
        )
        + f"<h2>Transitions</h2><table><tr><th>from</th><th>to</th><th>leads</th></tr>{transitions}</table>"
        + (
            grouped_bars(
                moves,
                [("leads", [t["leads"] for t in report["transitions"]])],
                "Leads whose stage changed",
                horizontal=True,
            )
            if moves
            else ""
        )
        + "<h2>Score distributions (proposed)</h2>"
        + _score_charts(report["proposed"])
    )
    return _html_page("What-if", body)


def sweep_markdown(report: dict[str, Any]) -> str:
    header = [*report["params"], *(LABELS[m] for m in MAIN)]
    rows = [
        [show(v) for v in r["params"].values()] + [show(r["metrics"][m]) for m in MAIN]
        for r in report["rows"]
    ]
    lines = [
        f"# Sweep: {report['policy']['title']}",
        "",
        f"{report['leads']} leads as of {report['as_of']}.",
        "",
    ]
    return "\n".join(lines + _md_table(header, rows)) + "\n"


def sweep_html(report: dict[str, Any]) -> str:
    header = [*report["params"], *(LABELS[m] for m in MAIN)]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body_rows = ""
    for r in report["rows"]:
        cells = [show(v) for v in r["params"].values()] + [show(r["metrics"][m]) for m in MAIN]
        body_rows += "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
    from mqldsl.render.charts import grouped_bars

    labels = [", ".join(f"{k}={v}" for k, v in r["params"].items()) for r in report["rows"]]
    chart = grouped_bars(
        labels, [("MQLs", [r["metrics"]["mqls"] or 0 for r in report["rows"]])], "MQLs per value"
    )
    body = (
        f"<h1>Sweep: {html.escape(report['policy']['title'])}</h1>"
        f"<table><tr>{head}</tr>{body_rows}</table><h2>MQLs per value</h2>{chart}"
    )
    return _html_page("Sweep", body)
