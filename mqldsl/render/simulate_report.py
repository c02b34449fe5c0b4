"""The simulate report: a terminal summary (with the backtest), Markdown
and an HTML page with the weekly MQLs, the funnel and the score charts."""

from __future__ import annotations

from typing import Any

from mqldsl.render import templating
from mqldsl.render.charts import binned, grouped_bars, weekly_bars
from mqldsl.render.report_common import (
    LABELS,
    SLA_NOTE,
    data_words,
    entry_lines,
    show,
    sla_cell,
)
from mqldsl.simulation.account_metrics import NAMES as ACCOUNT_NAMES
from mqldsl.simulation.metrics import DEFINITIONS, MAIN


def simulate_text(report: dict[str, Any]) -> str:
    """The terminal summary of a simulation (and its backtest, if any)."""
    m = report["metrics"]
    data = data_words(report)
    lines = [
        f"{report['policy']['title']} — {report['leads']} "
        f"lead{'' if report['leads'] == 1 else 's'} as of {report['as_of']}"
        + (f" ({report['rejected']} rejected)" if report["rejected"] else ""),
        *([f"data: {data}"] if data else []),
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
    for name in ACCOUNT_NAMES:  # with accounts (SPEC §9): MQAs beside MQLs
        if name in m:
            lines.append(f"  {LABELS.get(name, name):<30} {show(m.get(name))}")
    lines.extend(f"  {line}" for line in entry_lines(report))
    lines.extend(sla_lines(report))
    lines.append(weekly_line(report))
    return "\n".join(lines) + "\n" + backtest_text(report)


def sla_lines(report: dict[str, Any]) -> list[str]:
    """SLA compliance per queue for the terminal, or why it is not measured."""
    sla = report.get("sla") or {}
    if not sla.get("queues"):
        return []
    if sla.get("note"):
        return [f"  SLA by queue: {sla['note']}"]
    return ["  SLA met by queue (first touch within the SLA, of the handoffs judged):"] + [
        f"    {q['queue']:<28} {q['sla'] or 'no SLA':<12} {q['handoffs']:>6} handoffs  "
        f"{sla_cell(q)}"
        for q in sla["queues"]
    ]


def sla_rows(report: dict[str, Any]) -> list[list[str]]:
    """A row per route queue: its SLA, the handoffs, how many met the SLA."""
    return [
        [q["queue"], q["sla"] or "none", str(q["handoffs"]), sla_cell(q)]
        for q in (report.get("sla") or {}).get("queues", [])
    ]


SLA_HEADER = ["queue", "SLA", "handoffs", "met the SLA (of judged)"]


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
        f"backtest on {data['leads_with_truth']} leads with known outcomes: "
        f"base rate {show(data['base_rate'])}, "
        f"MQL precision {show(data['mql_precision'])}, lift {show(data['lift'])}x",
    ]
    if any(d["leads"] == 0 for score in data["scores"].values() for d in score["deciles"]):
        lines.append(
            "  (deciles are cut on score values: leads tied on a score share a decile, "
            "so a decile can be empty)"
        )
    for segment, entry in data.get("by_segment", {}).items():
        lines.append(
            f"  {segment}: {entry['leads']} leads, "
            f"conversion {show(entry['conversion'])}, {entry['mqls']} MQLs"
        )
    for name, score in data["scores"].items():
        cells = ", ".join(
            f"{d['decile']}: {show(d['conversion'])} ({d['leads']})"
            for d in score["deciles"]
            if d["leads"]
        )
        lines.append(f"  {name}: conversion by decile, highest scores first (leads) {cells}")
    return "\n".join(lines) + "\n"


def _simulate_rows(report: dict[str, Any]) -> list[list[str]]:
    """Each metric with its value and definition (the weekly series aside)."""
    m = report["metrics"]
    definitions = report.get("definitions") or DEFINITIONS  # with the account metrics' too
    return [
        [LABELS.get(n, n), show(m.get(n)), definitions[n]]
        for n in definitions
        if n != "mqls_per_week"
    ]


def score_charts(report: dict[str, Any]) -> list[dict[str, str]]:
    """Two histograms per score on the same bins, thresholds marked: buyers
    against other leads at the as-of instant, and buyers against other MQLs
    at the instant each became an MQL (the handoff)."""
    charts = []
    for name, data in report.get("score_distributions", {}).items():
        marks = [(label, value) for label, value in data["thresholds"]]
        now = binned(
            data["edges"],
            [("buyers", data["buyers"]), ("other leads", data["others"])],
            marks,
            f"{name} now (at the as-of): buyers and other leads",
            xlabel=f"{name} score at the as-of",
        )
        at_mql = data.get("at_mql")
        then = (
            binned(
                data["edges"],
                [("buyers", at_mql["buyers"]), ("other MQLs", at_mql["others"])],
                marks,
                f"{name} when each lead became an MQL: buyers and other MQLs",
                xlabel=f"{name} score at the MQL handoff",
            )
            if at_mql
            else ""
        )
        charts.append({"name": name, "svg": now, "svg_mql": then})
    return charts


def score_medians(report: dict[str, Any]) -> list[list[str]]:
    """Per score: the median of buyers and of the others, at the as-of and
    at the MQL handoff (Markdown's stand-in for the histograms)."""
    rows = []
    for name, data in report.get("score_distributions", {}).items():
        medians = data.get("medians")
        if not medians:
            continue
        now, then = medians["as_of"], medians["at_mql"]
        rows.append(
            [
                name,
                show(now["buyers"]),
                show(now["others"]),
                show(then["buyers"]),
                show(then["others"]),
                str((data.get("at_mql") or {}).get("leads", 0)),
            ]
        )
    return rows


MEDIANS_HEADER = [
    "score",
    "buyers now (median)",
    "other leads now",
    "buyers at MQL (median)",
    "other MQLs at MQL",
    "MQLs scored",
]


def simulate_markdown(report: dict[str, Any]) -> str:
    """A simulation as Markdown: metrics, leads by stage, MQLs per week."""
    return templating.render(
        "reports/simulate.md.j2",
        title=report["policy"]["title"],
        leads=report["leads"],
        as_of=report["as_of"],
        data=data_words(report),
        metrics=_simulate_rows(report),
        stages=[[k, str(v)] for k, v in report["stages"].items()],
        reasons=[[k, str(v)] for k, v in report["disqualified"].items()],
        weeks=[[_week_label(w), str(w["mqls"])] for w in report["metrics"]["mqls_per_week"]],
        notes=timing_lines(report),
        weekly_note=(report.get("timing") or {}).get("weekly_note"),
        backtest=_backtest_tables(report),
        sla=sla_rows(report),
        sla_header=SLA_HEADER,
        sla_note=(report.get("sla") or {}).get("note") or SLA_NOTE,
        medians=score_medians(report),
        medians_header=MEDIANS_HEADER,
        entries=entry_lines(report, shown=20),
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
        # (by the field --segment names, as the terminal lists them)
        "segments": [
            [str(segment), str(entry["leads"]), show(entry["conversion"]), str(entry["mqls"])]
            for segment, entry in data.get("by_segment", {}).items()
        ],
    }


def _week_label(week: dict[str, Any]) -> str:
    return f"{week['week']} (partial)" if week.get("partial") else str(week["week"])


def simulate_html(report: dict[str, Any]) -> str:
    """A simulation as an HTML page: metrics, weekly MQLs, funnel, score charts."""
    weeks = report["metrics"]["mqls_per_week"]
    return templating.render(
        "reports/simulate.html.j2",
        title=report["policy"]["title"],
        leads=report["leads"],
        as_of=report["as_of"],
        data=data_words(report),
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
        reasons=[[k, str(v)] for k, v in report["disqualified"].items()],
        funnel=grouped_bars(
            list(report["stages"]),
            [("leads", list(report["stages"].values()))],
            "Leads by stage now",
            horizontal=True,
            xlabel="leads",
            ylabel="stage",
        ),
        scores=score_charts(report),
        backtest=_backtest_tables(report),
        sla=sla_rows(report),
        sla_header=SLA_HEADER,
        sla_note=(report.get("sla") or {}).get("note") or SLA_NOTE,
        entries=entry_lines(report, shown=20),
    )
