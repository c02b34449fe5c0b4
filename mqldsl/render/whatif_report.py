"""The what-if report: its context (versions, what changed, the data, how
to read the intervals, the verdict, the attribution), a terminal summary,
Markdown and an HTML page with base and proposed side by side."""

from __future__ import annotations

from typing import Any

from mqldsl.render import templating
from mqldsl.render.charts import grouped_bars, weekly_bars
from mqldsl.render.explanation import outline_from_json, outline_lines
from mqldsl.render.report_common import (
    LABELS,
    SLA_NOTE,
    interval_text,
    show,
    signed_change,
    sla_cell,
)
from mqldsl.render.simulate_report import score_charts
from mqldsl.simulation.account_metrics import NAMES as ACCOUNT_NAMES
from mqldsl.simulation.metrics import NUMERIC


def _version(policy: dict[str, Any]) -> str:
    """A policy as its decisions name it: title, version, the start of its sha256, file."""
    version = f" version {policy['version']}" if policy.get("version") is not None else ""
    digest = f", sha256 {policy['sha256'][:12]}" if policy.get("sha256") else ""
    return f"{policy['title']}{version} ({policy['file']}{digest})"


def _item(item: dict[str, Any]) -> str:
    """A difference between the policies, and the leads it moved if counted."""
    text = f"{item['what']}: {show(item['base'])} → {show(item['proposed'])}"
    count = item.get("leads")
    if count is None:
        return text
    return text + f" — moved {count} lead{'' if count == 1 else 's'}"


def whatif_context(report: dict[str, Any]) -> dict[str, Any]:
    """What every rendering of a what-if says besides the table: the two
    versions, what changed, the data, how to read the intervals, the
    `--fail-if` verdict, the attribution (each a line of text)."""
    data = report.get("data") or {}
    method = (data.get("intervals") or {}).get("method")
    if data.get("scenario") is not None:
        seed, count = data["seed"], data["replications"]
        seeds = f"seed {seed}" if count == 1 else f"seeds {seed} to {seed + count - 1}"
        source = (
            f"scenario {data['scenario']}, seed {seed}, {count} replication"
            f"{'' if count == 1 else 's'} ({seeds}); replication 1 has {data['leads']} "
            f"lead{'' if data['leads'] == 1 else 's'}, "
            f"as of {data['as_of']}"
        )
    else:
        rejected = f", {data['rejected']} rejected" if data.get("rejected") else ""
        count = data.get("leads", report["base"]["leads"])
        source = (
            f"journeys {data.get('journeys')}: {count} lead{'' if count == 1 else 's'}"
            f"{rejected}, as of {data.get('as_of', report['base']['as_of'])}"
        )
    if method == "replications" and data.get("replications") == 1:
        reading = [
            "Base, proposed and change are those of the one replication.",
            "No interval: an interval over replications needs two or more (--replications).",
        ]
    elif method == "replications":
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
        if gate.get("no_data"):  # (an unknown comparison never holds: say which they were)
            verdict += (
                "; no data for " + ", ".join(gate["no_data"]) + ": a comparison with it is "
                "unknown and never holds"
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
        "samples": [_sample(sample) for sample in report.get("samples") or []],
    }


def _sample(sample: dict[str, Any]) -> dict[str, Any]:
    """A sample lead (SPEC §14): its stage and scores under each policy (``line``), and
    under each the parts of its explanation that say why it is at its stage and not at the
    other policy's (``sides``: the policy's name and the outline; the whole explanations
    are in the JSON report)."""

    def side(outcome: dict[str, Any]) -> str:
        scores = ", ".join(f"{k} {show(v)}" for k, v in (outcome.get("scores") or {}).items())
        return str(outcome["stage"]) + (f" ({scores})" if scores else "")

    return {
        "line": f"{sample['id']}: {side(sample['base'])} → {side(sample['proposed'])}",
        "sides": [
            (name, outline_from_json(sample[name].get("why") or []))
            for name in ("base", "proposed")
            if sample[name].get("why")
        ],
    }


def sla_compared(report: dict[str, Any]) -> dict[str, Any]:
    """SLA compliance per queue under both policies: the header and a row per
    queue either routes to (its SLA, handoffs and SLA met under each; "not
    routed" where a policy has no route to it), and the note on how to read
    it (over a scenario, the figures are replication 1's)."""
    base = {q["queue"]: q for q in (report["base"].get("sla") or {}).get("queues", [])}
    new = {q["queue"]: q for q in (report["proposed"].get("sla") or {}).get("queues", [])}
    rows = []
    for queue in [*base, *(q for q in new if q not in base)]:
        row = [queue]
        for side in (base, new):
            entry = side.get(queue)
            if entry is None:
                row += ["not routed", "", ""]
            else:
                row += [entry["sla"] or "none", str(entry["handoffs"]), sla_cell(entry)]
        rows.append(row)
    note = (report["base"].get("sla") or {}).get("note") or SLA_NOTE
    if whatif_context(report)["scenario"]:
        note += " Figures from replication 1."
    header = [
        "queue",
        "SLA (base)",
        "handoffs (base)",
        "met the SLA (base)",
        "SLA (proposed)",
        "handoffs (proposed)",
        "met the SLA (proposed)",
    ]
    return {"header": header, "rows": rows, "note": note}


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
    for name in [n for n in [*NUMERIC, *ACCOUNT_NAMES] if n in report["delta"]]:
        d = report["delta"][name]
        row = (
            f"  {LABELS.get(name, name):<30} {show(d['base']):>10} {show(d['proposed']):>10} "
            f"{signed_change(d):>16}  {interval_text(d['ci95']):<19}"
        )
        if context["scenario"]:
            row += f" {interval_text(d.get('pi95'))}"
        lines.append(row.rstrip())
    lines.append("")
    lines.append(f"leads whose stage changed: {report['changed_leads']}")
    for t in report["transitions"]:  # (every one: the counts add up to the line above)
        lines.append(f"  {t['from']} -> {t['to']}: {t['leads']}")
    lines.append(context["moved"])
    if context["attribution"]:
        lines.append("what moved them:")
        lines += [f"  {line}" for line in context["attribution"]]
    if context["samples"]:
        lines.append("sample leads, base → proposed (their whole explanations: the JSON report):")
        for sample in context["samples"]:
            lines.append(f"  {sample['line']}")
            for name, sections in sample["sides"]:
                lines.append(f"    under the {name} policy:")
                lines += outline_lines(sections, "      ")
    sla = sla_compared(report)
    if sla["rows"]:
        lines.append("SLA by queue, base -> proposed:")
        for row in sla["rows"]:
            lines.append(
                f"  {row[0]:<20} {row[1]:>10} -> {row[4]:<10} handoffs {row[2]} -> {row[5]}, "
                f"met {row[3] or '-'} -> {row[6] or '-'}"
            )
        lines.append(f"  ({sla['note']})")
    if context["verdict"]:
        lines.append(context["verdict"])
    return "\n".join(lines) + "\n"


def _whatif_rows(report: dict[str, Any]) -> list[list[str]]:
    """Each main metric: base, proposed, change (signed, with its percentage)
    and its 95% interval (and, over a scenario, the one-quarter range)."""
    rows = []
    scenario = whatif_context(report)["scenario"]  # (the header's columns, as many cells)
    for name in [n for n in [*NUMERIC, *ACCOUNT_NAMES] if n in report["delta"]]:
        d = report["delta"][name]
        row = [LABELS.get(name, name), show(d["base"]), show(d["proposed"]), signed_change(d)]
        row.append(interval_text(d["ci95"], " to "))
        if scenario:
            row.append(interval_text(d.get("pi95"), " to "))
        rows.append(row)
    return rows


def _whatif_header(report: dict[str, Any]) -> list[str]:
    if whatif_context(report)["scenario"]:
        return ["metric", "base", "proposed", "change", "95% CI of the mean", "one quarter (95%)"]
    return ["metric", "base", "proposed", "change", "95% interval"]


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
        sla=sla_compared(report),
    )


def whatif_html(report: dict[str, Any]) -> str:
    """A what-if as an HTML page, base and proposed side by side."""
    base, proposed = report["base"], report["proposed"]
    base_weeks = {w["week"]: w["mqls"] for w in base["metrics"]["mqls_per_week"]}
    new_weeks = {w["week"]: w["mqls"] for w in proposed["metrics"]["mqls_per_week"]}
    weeks = sorted(set(base_weeks) | set(new_weeks))
    partial = {
        w["week"]
        for side in (base, proposed)
        for w in side["metrics"]["mqls_per_week"]
        if w.get("partial")
    }
    stages = list(base["stages"])
    moves = [f"{t['from']} → {t['to']}" for t in report["transitions"]]
    return templating.render(
        "reports/whatif.html.j2",
        title=base["policy"]["title"],
        context=whatif_context(report),
        header=_whatif_header(report),
        metrics=_whatif_rows(report),
        changed=report["changed_leads"],
        weekly=weekly_bars(
            weeks,
            [
                ("base", [base_weeks.get(w, 0) for w in weeks]),
                ("proposed", [new_weeks.get(w, 0) for w in weeks]),
            ],
            [w in partial for w in weeks],
            "MQLs per week, base and proposed (hatched: partial week)"
            if partial
            else "MQLs per week, base and proposed",
        ),
        weekly_note=(base.get("timing") or {}).get("weekly_note"),
        funnel=grouped_bars(
            stages,
            [
                ("base", [base["stages"][s] for s in stages]),
                ("proposed", [proposed["stages"].get(s, 0) for s in stages]),
            ],
            "Leads by stage now",
            horizontal=True,
            xlabel="leads",
            ylabel="stage",
        ),
        transitions=[[t["from"], t["to"], t["leads"]] for t in report["transitions"]],
        moves=grouped_bars(
            moves,
            [("leads", [t["leads"] for t in report["transitions"]])],
            "Leads whose stage changed",
            horizontal=True,
            xlabel="leads",
            ylabel="base stage → proposed stage",
        ),
        scores=score_charts(proposed),
        sla=sla_compared(report),
    )
