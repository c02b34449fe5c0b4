"""English rendering, the definitions document (`docs`) and `diff`."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from mqldsl.analysis.checker import check_text
from mqldsl.render import reports
from mqldsl.render.english import English
from mqldsl.simulation.metrics import DEFINITIONS, MAIN, NUMERIC

from .conftest import ROOT
from .helpers import run

GOLDEN = Path(__file__).parent / "golden" / "docs"
ACME = ROOT / "policies" / "acme.mql"

SCHEMA = """policy "english"
lead {
  company_size: int
  role: enum(security_engineer, secops, student)
  email: text
  tech_stack: set of text
  joined: date
}
event page_view { path: text }
event demo_request
param mql_fit_min = 30
score fit {
  +1 when company_size > 1
}
"""


def english(condition: str) -> str:
    result = check_text(SCHEMA + f"stages {{\n  v\n  m when {condition}\n}}\n")
    assert result.model is not None, [d.render(result.source) for d in result.diagnostics]
    stage = result.model.stages.stages[1]
    assert stage.condition is not None
    return English(result.model).condition(stage.condition)


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        ("company_size between 200 and 5000", "company size is between 200 and 5,000"),
        ("demo_request within 60 days", "at least one demo request in the last 60 days"),
        ("demo_request within 1 day", "at least one demo request in the last day"),
        ("demo_request", "at least one demo request at any time"),
        ("fit >= mql_fit_min", "fit is at least 30 (param `mql_fit_min`)"),
        ("fit < 10.5", "fit is below 10.5"),
        ("role in [security_engineer, secops]", "role is security engineer or secops"),
        ("role not in [student]", "role is not student"),
        ("role not in [student, secops]", "role is neither student nor secops"),
        (
            "role not in [student, secops, security_engineer]",
            "role is none of student, secops or security engineer",
        ),
        ("joined < 2026-01-01", "joined is before 2026-01-01"),
        ("joined >= 2025-06-30", "joined is on or after 2025-06-30"),
        ("joined != 2025-06-30", "joined is not 2025-06-30"),
        ('tech_stack contains "aws"', 'tech stack includes "aws"'),
        ('email ends with ".edu"', 'email ends with ".edu"'),
        ("company_size is missing", "company size is missing"),
        ("company_size is present", "company size is present"),
        ("fit >= -10", "fit is at least -10"),
        ("company_size between -10 and -1", "company size is between -10 and -1"),
        ("-fit < -(fit + 2)", "-fit is below -(fit + 2)"),
        ("no event within 30 days", "no activity in the last 30 days"),
        (
            'count(page_view where path starts with "/pricing" within 7 days) >= 3',
            'the number of page views where path starts with "/pricing" in the last 7 days is at least 3',
        ),
        ("days since demo_request < 3", "the days since the last demo request is below 3"),
        ("not (company_size > 10)", "not (company size is above 10)"),
        (
            "fit > 1 and (company_size > 5 or role == secops)",
            "fit is above 1 and (company size is above 5 or role is secops)",
        ),
        (
            "fit > 1 and company_size > 5 or role == secops",
            "(fit is above 1 and company size is above 5) or role is secops",
        ),
        ("0.5 * fit + 2 > 3", "0.5 × fit + 2 is above 3"),
    ],
)
def test_conditions_in_english(condition: str, text: str) -> None:
    assert english(condition) == text


def test_rules_in_english() -> None:
    model = check_text(
        SCHEMA.replace(
            "+1 when company_size > 1",
            '+5 per page_view where path starts with "/pricing" within 14 days, max 20\n  -30 when role == student',
        )
        + "stages {\n  v\n}\n"
    ).model
    assert model is not None
    rules = model.scores["fit"].node.rules or ()
    say = English(model)
    assert (
        say.rule(rules[0])
        == '+5 for each page view where path starts with "/pricing" in the last 14 days, at most 20'
    )
    assert say.rule(rules[1]) == "-30 when role is student"


@pytest.mark.parametrize("name", ["acme", "saas_trial"])
@pytest.mark.parametrize("kind", ["md", "html"])
def test_definitions_document_golden(
    tmp_path: Path, kind: str, name: str, update_golden: bool
) -> None:
    policy = ROOT / "policies" / f"{name}.mql"
    out = tmp_path / f"{name}.{kind}"
    code, _, err = run(
        "docs", str(policy.relative_to(ROOT)) if Path.cwd() == ROOT else str(policy), "-o", str(out)
    )
    assert code == 0, err
    text = out.read_text().replace(str(policy), f"policies/{name}.mql")
    golden = GOLDEN / f"{name}.{kind}"
    if update_golden:
        golden.write_text(text)
    assert text == golden.read_text()


def test_document_names_every_part_of_the_policy() -> None:
    code, text, _ = run("docs", str(ACME))
    assert code == 0
    model = check_text(ACME.read_text()).model
    assert model is not None
    for name in [
        *model.stage_names,
        *model.scores,
        *model.params,
        *(d.reason for d in model.disqualifiers),
        *model.queues,
        *(e.name for e in model.examples),
    ]:
        assert name in text, name
    assert "```mermaid" in text and "Generated from" in text and "sha256" in text


def test_document_is_deterministic_and_dated_only_on_request() -> None:
    first = run("docs", str(ACME))[1]
    assert first == run("docs", str(ACME))[1]
    assert " on 2026-12-01." in run("docs", str(ACME), "--date", "2026-12-01")[1]
    assert " on " not in first.splitlines()[-1]
    code, out, err = run("docs", str(ACME), "--date", "notadate")
    assert code == 2 and not out
    assert "'notadate' is not a date such as 2026-12-01" in err


def test_hostile_strings_render_as_text_in_html(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.mql"
    hostile.write_text(
        'policy "<script>alert(1)</script>"\nowner "\\"><img src=x onerror=alert(2)>"\n'
        'event e "<b>bold</b>"\nstages {\n  v "<iframe>"\n  m "x" when e ever\n}\n'
        'disqualify "<script>x</script>" when e within 1 day\n'
    )
    page = tmp_path / "hostile.html"
    code, _, err = run("docs", str(hostile), "-o", str(page))
    assert code == 0, err
    text = page.read_text()
    assert "<script>" not in text and "<img" not in text and "<iframe>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text


def test_document_with_previous_version_has_a_change_log(tmp_path: Path) -> None:
    old = tmp_path / "old.mql"
    old.write_text(
        ACME.read_text().replace("param mql_intent_min = 40", "param mql_intent_min = 50")
    )
    code, text, _ = run("docs", str(ACME), "--previous", str(old))
    assert code == 0
    assert "## Change log" in text and "- param mql_intent_min: 50 → 40" in text


# ---------------------------------------------------------------- diff


def diff(tmp_path: Path, old: str, new: str, *args: str) -> tuple[int, str]:
    a, b = tmp_path / "old.mql", tmp_path / "new.mql"
    a.write_text(old)
    b.write_text(new)
    code, out, _ = run("diff", str(a), str(b), *args)
    return code, out


def test_diff_formatting_and_comment_changes_mean_nothing(tmp_path: Path) -> None:
    text = ACME.read_text()
    messy = "# a new comment\n" + text.replace(
        "param mql_fit_min = 30 ", "param   mql_fit_min=30   "
    )
    assert diff(tmp_path, text, messy) == (0, "no change in meaning\n")


def test_diff_lists_exactly_the_changes_in_words(tmp_path: Path) -> None:
    text = ACME.read_text()
    new = (
        text.replace(
            '+20 when company_size between 200 and 5000 "Core company size"',
            '+25 when company_size between 200 and 5000 "Core company size"',
        )
        .replace(
            "+5 per feature_used within 14 days, max 20",
            "+5 per feature_used within 7 days, max 20",
        )
        .replace(
            "route mql to sdr_inbound when channel == inbound, sla 5 minutes",
            "route mql to sdr_inbound when channel == inbound, sla 15 minutes",
        )
        .replace('disqualify "Unsubscribed" when unsubscribe ever\n', "")
    )
    code, out = diff(tmp_path, text, new)
    assert code == 0
    assert out.splitlines() == [
        'score fit: rule "Core company size" points: +20 → +25',
        'score intent: rule "+5 for each feature use in the last 7 days, at most 20" events: feature use in the last 14 days → feature use in the last 7 days',
        'removed disqualifier "Unsubscribed": at least one unsubscribe at any time',
        "route mql to sdr_inbound: when channel is inbound, first touch within 5 minutes → when channel is inbound, first touch within 15 minutes",
    ]


def test_diff_never_reports_a_moved_rule_as_removed_and_added(tmp_path: Path) -> None:
    text = ACME.read_text()
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if "+15 when role in" in line)
    moved = lines[:start] + lines[start + 1 : start + 3] + [lines[start]] + lines[start + 3 :]
    code, out = diff(tmp_path, text, "".join(moved))
    assert code == 0
    assert "removed" not in out and "added" not in out
    assert out.startswith('moved score fit: rule "+15 when role is security engineer or secops"')


def test_diff_json(tmp_path: Path) -> None:
    text = ACME.read_text()
    code, out = diff(tmp_path, text, text.replace("version 4", "version 5"), "--format", "json")
    assert code == 0
    assert json.loads(out) == [{"kind": "changed", "what": "version", "old": "4", "new": "5"}]


def test_diff_lists_changed_descriptions_and_event_fields(tmp_path: Path) -> None:
    text = ACME.read_text()
    new = (
        text.replace('event demo_request "Asked for a demo on the website"', "event demo_request")
        .replace("event feature_used { feature: text }", "event feature_used { feature: int }")
        .replace("event sales_rejected { reason: text }", "event sales_rejected")
        .replace('company_size: int "Employees, from enrichment"', 'company_size: int "Employees"')
        .replace('"Lowest fit score an MQL may have"', '"Lowest fit for an MQL"')
        .replace('score fit "How closely', 'score fit "How well')
    )
    code, out = diff(tmp_path, text, new)
    assert code == 0
    assert out.splitlines() == [
        "lead field company_size description: Employees, from enrichment → Employees",
        "event demo_request description: Asked for a demo on the website → none",
        "event feature_used field feature type: text → int",
        "removed event sales_rejected field reason: text",
        "param mql_fit_min description: Lowest fit score an MQL may have → Lowest fit for an MQL",
        "score fit description: How closely the lead matches our ideal customer profile → "
        "How well the lead matches our ideal customer profile",
    ]


def test_diff_says_none_of_a_header_line_taken_out(tmp_path: Path) -> None:
    text = ACME.read_text()
    new = text.replace("version 4\n", "").replace("effective 2026-12-01\n", "")
    code, out = diff(tmp_path, text, new)
    assert code == 0
    assert out.splitlines() == ["version: 4 → none", "effective date: 2026-12-01 → none"]


HOSTILE = "<script>alert('x')</script> & \"co\""


def _simulation(title: str = HOSTILE) -> dict[str, object]:
    metrics: dict[str, object] = {name: 0.5 for name in DEFINITIONS}
    metrics["mqls"] = 7
    metrics["median_hours_to_mql"] = None
    metrics["mqls_per_week"] = [{"week": "2026-W40", "mqls": 3}, {"week": "2026-W41", "mqls": 4}]
    return {
        "policy": {"title": title, "file": "p.mql", "sha256": "0123456789abcdef"},
        "as_of": "2026-12-01T00:00:00Z",
        "leads": 12,
        "rejected": 0,
        "stages": {"lead": 5, "mql": 7},
        "disqualified": {},
        "metrics": metrics,
    }


def _whatif() -> dict[str, object]:
    delta = {
        name: {"base": 1, "proposed": 2, "diff": 1, "diff_pct": 100.0, "ci95": [0.5, 1.5]}
        for name in NUMERIC
    }
    return {
        "base": _simulation(),
        "proposed": _simulation("proposed"),
        "delta": delta,
        "changes": [
            {"what": "param mql_min", "base": 40, "proposed": 30},
            {"what": "rule <b>", "base": "+1 when a", "proposed": "+2 when a"},
        ],
        "data": {
            "leads": 12,
            "rejected": 0,
            "as_of": "2026-12-01T00:00:00Z",
            "scenario": None,
            "journeys": "<j>.jsonl",
            "seed": 1,
            "replications": None,
            "intervals": {"method": "bootstrap", "draws": 1000, "resampled": "leads"},
            "set": {"mql_min": 30},
            "examined": 3,
        },
        "transitions": [{"from": "lead", "to": "mql", "leads": 2}],
        "changed_leads": 2,
        "moved_leads": 3,
        "attribution": [
            {"what": "param mql_min", "base": 40, "proposed": 30, "leads": 3},
            {"what": "rule <b>", "base": "+1 when a", "proposed": "+2 when a", "leads": 2},
        ],
        "fail_if": {
            "expression": "mqls.delta > 0",
            "verdict": "failed",
            "held": ["mqls.delta > 0"],
        },
    }


def _sweep() -> dict[str, object]:
    metrics = {name: 0.25 for name in MAIN} | {"mqls": 9}
    return {
        "policy": {"title": HOSTILE, "file": "p.mql"},
        "as_of": "2026-12-01T00:00:00Z",
        "leads": 12,
        "params": ["mql_min"],
        "rows": [{"params": {"mql_min": 30}, "metrics": metrics}],
    }


def _assert_page(page: str, heading: str) -> None:
    assert page.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    assert page.endswith("\n</body></html>\n")
    assert "<script>" not in page
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;co&quot;"
    assert f"<h1>{heading}: {escaped}</h1>" in page


def test_simulate_report_pages_from_the_json_dict() -> None:
    report = _simulation()
    page = reports.simulate_html(report)
    _assert_page(page, "Simulation")
    assert "<p>12 leads as of 2026-12-01T00:00:00Z. Data: sha256 0123456789ab.</p>" in page
    assert (
        "<tr><th>metric</th><th>value</th><th>definition</th></tr><tr><td>MQLs</td><td>7</td>"
        in page
    )
    assert "<td>median hours to MQL</td><td>n/a</td>" in page
    assert "lead&#x27;s first recorded event" in page  # DEFINITIONS text, escaped
    assert "<h2>MQLs per week</h2><svg" in page and "<h2>Funnel</h2><svg" in page
    assert page.count("<svg") == 2  # no score distributions in this report
    assert "Disqualified by reason" not in page  # (nobody is)
    report["disqualified"] = {"Competitor": 2, "Unsubscribed": 1}
    page = reports.simulate_html(report)
    assert (
        "<h2>Disqualified by reason</h2><table><tr><th>reason</th><th>leads</th></tr>"
        "<tr><td>Competitor</td><td>2</td></tr><tr><td>Unsubscribed</td><td>1</td></tr></table>"
    ) in page
    assert "## Disqualified by reason\n\n| reason | leads |\n|---|---|\n| Competitor | 2 |" in (
        reports.simulate_markdown(report)
    )
    text = reports.simulate_markdown(report)
    assert text.startswith(
        f"# Simulation: {HOSTILE}\n\n12 leads as of 2026-12-01T00:00:00Z. "
        "Data: sha256 0123456789ab.\n\n"
    )
    assert "| metric | value | definition |\n|---|---|---|\n| MQLs | 7 | " in text
    assert (
        "\n\n## Leads by stage\n\n| stage | leads |\n|---|---|\n| lead | 5 |\n| mql | 7 |\n" in text
    )
    assert text.endswith("| week | MQLs |\n|---|---|\n| 2026-W40 | 3 |\n| 2026-W41 | 4 |\n")


def test_whatif_report_pages_from_the_json_dict() -> None:
    report = _whatif()
    page = reports.whatif_html(report)
    _assert_page(page, "What-if")
    header = "<th>metric</th><th>base</th><th>proposed</th><th>change</th><th>95% interval</th>"
    assert (
        f"<table><tr>{header}</tr><tr><td>MQLs</td><td>1</td><td>2</td><td>+1 (+100.0%)</td>"
        "<td>[0.5 to 1.5]</td></tr>" in page
    )
    assert "<li>rule &lt;b&gt;: +1 when a → +2 when a</li>" in page
    assert "journeys &lt;j&gt;.jsonl: 12 leads, as of 2026-12-01T00:00:00Z" in page
    # every metric the JSON compares (SPEC §14), and each policy with its hash (§14.1)
    for label in ("real buyers", "median hours to MQL", "SDR utilisation", "queue at as-of"):
        for text in (page, reports.whatif_markdown(report), reports.whatif_text(report)):
            assert label in text, label
    assert "(p.mql, sha256 0123456789ab)" in reports.whatif_markdown(report)
    assert (
        "<strong>--fail-if `mqls.delta &gt; 0`: failed (held: mqls.delta &gt; 0)</strong>" in page
    )
    assert (
        "<h2>Transitions</h2><p>Leads whose stage changed: 2</p><table><tr><th>from</th><th>to</th>"
        "<th>leads</th></tr><tr><td>lead</td><td>mql</td><td>2</td></tr></table><svg" in page
    )
    assert "<li>rule &lt;b&gt;: +1 when a → +2 when a — moved 2 leads</li>" in page
    assert page.endswith("<h2>Score distributions (proposed)</h2>\n</body></html>\n")
    text = reports.whatif_markdown(report)
    assert text.startswith(
        f"# What-if: {HOSTILE}\n\n- base: {HOSTILE} (p.mql, sha256 0123456789ab)\n"
    )
    assert "| metric | base | proposed | change | 95% interval |\n" in text
    assert "| MQLs | 1 | 2 | +1 (+100.0%) | [0.5 to 1.5] |" in text
    assert "\n\n## Transitions\n\nLeads whose stage changed: 2\n\n| from | to | leads |\n" in text
    assert text.endswith(
        "- param mql_min: 40 → 30 — moved 3 leads\n- rule <b>: +1 when a → +2 when a — moved 2 leads\n"
    )
    report["attribution"] = []
    assert reports.whatif_markdown(report).endswith("disqualification changed: 3\n\n")


def test_sweep_report_pages_from_the_json_dict() -> None:
    report = _sweep()
    page = reports.sweep_html(report)
    _assert_page(page, "Sweep")
    assert "<table><tr><th>mql_min</th><th>MQLs</th>" in page
    assert "<tr><td>30</td><td>9</td><td>0.25</td>" in page
    # One numeric param: the quality and the volume against the value, axes labelled.
    assert "</table><h2>Quality of the MQLs by mql_min</h2><svg" in page
    assert "<h2>MQLs and SQLs by mql_min</h2><svg" in page
    assert page.count(">mql_min</text>") == 2  # the x axis label of both charts
    text = reports.sweep_markdown(report)
    assert text.startswith(
        f"# Sweep: {HOSTILE}\n\n12 leads as of 2026-12-01T00:00:00Z.\n\n| mql_min | MQLs |"
    )
    rest = " | ".join(["0.25"] * (len(MAIN) - 1))
    assert text.endswith(f"|\n| 30 | 9 | {rest} |\n")


def _two_param_sweep() -> dict[str, object]:
    rows = []
    for a in (30, 40):
        for b in (10, 20):
            metrics = {name: 0.5 for name in MAIN} | {"mqls": a + b, "buyer_recall": b / 100}
            rows.append({"params": {"mql_min": a, "fit_min": b}, "metrics": metrics})
    return {
        "policy": {"title": HOSTILE, "file": "p.mql"},
        "as_of": "2026-12-01T00:00:00Z",
        "leads": 12,
        "params": ["mql_min", "fit_min"],
        "current": {"mql_min": 40, "fit_min": 10},
        "rows": rows,
    }


def test_sweep_marks_the_current_values_in_every_format() -> None:
    report = _two_param_sweep()
    text = reports.sweep_markdown(report)
    assert "The policy runs today with mql_min=40, fit_min=10 (the row marked current)." in text
    # Rows are numbered as the trade-off chart labels its points; the current one is marked.
    assert "\n| # | mql_min | fit_min | MQLs |" in text
    assert "\n| #1 | 30 | 10 | 40 |" in text
    assert "\n| #3 (current) | 40 | 10 | 50 |" in text
    assert text.count("(current)") == 1  # only the row
    page = reports.sweep_html(report)
    assert "<tr><td>#3 (current)</td><td>40</td><td>10</td><td>50</td>" in page
    # Today's values outside the range swept: no row is marked, and the text says so (it
    # pointed to "the row marked current").
    report["current"] = {"mql_min": 90, "fit_min": 10}
    for text in (reports.sweep_markdown(report), reports.sweep_html(report)):
        assert "mql_min=90, fit_min=10 (outside the values swept: no row has them)" in text
        assert "(current)" not in text and "the row marked current" not in text
    assert "<h2>MQL precision against buyer recall, one point per row of the table</h2><svg" in page
    assert "current values (#3)" in page  # the chart's legend
    assert "<h2>MQLs per combination</h2><svg" in page
    assert "mql_min=30, fit_min=20" in page  # bar labels name the combination


def test_sweep_without_truth_says_why_there_is_no_tradeoff() -> None:
    report = _two_param_sweep()
    for row in report["rows"]:  # type: ignore[attr-defined]
        row["metrics"]["mql_precision"] = row["metrics"]["buyer_recall"] = None
    page = reports.sweep_html(report)
    assert "no precision or recall to trade off" in page
    one = _sweep()
    one["rows"][0]["metrics"] |= {"mql_precision": None, "buyer_recall": None, "mql_to_sql": None}  # type: ignore[index]
    assert "no precision or recall to trade off" in reports.sweep_html(one)


def _queue(
    name: str, sla: str | None, handoffs: int, judged: int | None, met: int | None
) -> dict[str, object]:
    share = round(met / judged, 4) if judged and met is not None else None
    return {"queue": name, "sla": sla, "handoffs": handoffs, "with_sla": handoffs,
            "judged": judged, "met": met, "share": share,
            "not_due": None if judged is None else handoffs - judged}  # fmt: skip


def test_sla_by_queue_in_every_format_with_queues_only_one_policy_routes_to() -> None:
    report = _whatif()
    base, proposed = report["base"], report["proposed"]
    assert isinstance(base, dict) and isinstance(proposed, dict)
    base["sla"] = {"queues": [_queue("<q>", "5 minutes", 4, 3, 1)], "note": None}
    proposed["sla"] = {
        "queues": [_queue("<q>", "1 hour", 6, 6, 6), _queue("new", None, 2, 0, 0)],
        "note": None,
    }
    page = reports.whatif_html(report)
    assert (
        "<tr><td>&lt;q&gt;</td><td>5 minutes</td><td>4</td><td>1 of 3 (0.3333)</td>"
        "<td>1 hour</td><td>6</td><td>6 of 6 (1)</td></tr>" in page
    )
    assert "<tr><td>new</td><td>not routed</td><td></td><td></td><td>none</td>" in page
    assert "<td>no SLA</td>" in page
    assert "| <q> | 5 minutes | 4 | 1 of 3 (0.3333) | 1 hour | 6 | 6 of 6 (1) |" in (
        reports.whatif_markdown(report)
    )
    assert "handoffs 4 -> 6, met 1 of 3 (0.3333) -> 6 of 6 (1)" in reports.whatif_text(report)
    # one policy's report as simulate renders it; without first touches, "not measured"
    base["sla"] = {"queues": [_queue("<q>", "5 minutes", 4, None, None)], "note": "no touches"}
    assert "<p>no touches</p>" in reports.simulate_html(base)
    assert "| <q> | 5 minutes | 4 | not measured |" in reports.simulate_markdown(base)
    assert "SLA by queue: no touches" in reports.simulate_text(base)


def test_a_saved_report_without_scores_at_the_mql_handoff_still_renders() -> None:
    report = _simulation()
    edges = [float(k) for k in range(21)]
    report["score_distributions"] = {
        "fit": {"edges": edges, "buyers": [1] * 20, "others": [2] * 20, "thresholds": []}
    }
    page = reports.simulate_html(report)
    assert page.count("<svg") == 3 and "fit now (at the as-of)" in page
    assert "became an MQL" not in page
    assert "## Scores now" not in reports.simulate_markdown(report)


def test_document_names_the_hash_decisions_carry(tmp_path: Path) -> None:
    """The footer's sha256 is the one every decision names (of the text `fmt` writes), not
    the file's bytes: a messy, CRLF file shows the hash of its canonical form."""
    import hashlib

    messy = tmp_path / "messy.mql"
    messy.write_bytes(ACME.read_bytes().replace(b"\n", b"\r\n").replace(b"  +", b"      +"))
    code, out, err = run("docs", str(messy))
    assert code == 0, err
    tidy = tmp_path / "tidy.mql"
    tidy.write_bytes(messy.read_bytes())
    code, _, err = run("fmt", str(tidy))
    assert code == 0, err
    canonical = hashlib.sha256(tidy.read_bytes()).hexdigest()
    assert canonical != hashlib.sha256(messy.read_bytes()).hexdigest()
    assert f"version 4, sha256 `{canonical}`, as decisions name it" in out


def test_diff_moves_no_rule_when_one_is_added_or_removed_before_it(tmp_path: Path) -> None:
    # (every later rule was listed as moved, "position 9 → position 8")
    text = ACME.read_text()
    line = "  +10 when company_size between 50 and 199\n"
    assert line in text
    for old, new in ((text, text.replace(line, "")), (text.replace(line, ""), text)):
        code, out = diff(tmp_path, old, new)
        assert code == 0
        assert not any(line.startswith("moved") for line in out.splitlines()), out
        assert len(out.splitlines()) == 1 and "score fit rule" in out, out


def test_a_what_if_of_one_replication_says_why_it_has_no_interval() -> None:
    """Its Markdown rows had five cells under six columns, and it spoke of "1 replications"
    and of intervals it did not have."""
    report = _whatif()
    report["data"] = {  # type: ignore[index]
        **report["data"],  # type: ignore[dict-item]
        "scenario": "s.toml",
        "journeys": None,
        "seed": 42,
        "replications": 1,
        "intervals": {"method": "replications"},
    }
    for d in report["delta"].values():  # type: ignore[attr-defined]
        d["ci95"] = None
        d["pi95"] = None
    text = reports.whatif_markdown(report)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| metric |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    assert len(rows) > 5 and all(row.count("|") == rows[0].count("|") for row in rows), rows
    assert "1 replication (seed 42)" in text and "1 replications" not in text
    assert "No interval: an interval over replications needs two or more" in text


def test_a_what_if_lists_its_sample_leads_in_every_format() -> None:
    """SPEC §14: "sample leads with their explanations under both policies": they were in the
    JSON only; every format now names them (stage and scores under each policy) and shows
    why the lead is at its stage under each (and not at the other's)."""
    report = _whatif()
    why_not = {
        "title": "Why not mql",
        "lines": [
            {"text": "mql needs intent >= 40 (line 9).", "level": 0, "mark": None},
            {"text": "intent 30 < 40: 10 short <b>", "level": 1, "mark": "no"},
        ],
    }
    why = {"title": "Why mql", "lines": [{"text": "intent 30 >= 25", "level": 1, "mark": "yes"}]}
    report["samples"] = [
        {
            "id": "S-<7>",
            "base": {
                "stage": "lead",
                "scores": {"fit": 35, "intent": 30},
                "why": [{"title": "Why lead", "lines": []}, why_not],
                "explanation": {},
            },
            "proposed": {
                "stage": "mql",
                "scores": {"fit": 35, "intent": 30},
                "why": [why],
                "explanation": {},
            },
        }
    ]
    line = "S-<7>: lead (fit 35, intent 30) → mql (fit 35, intent 30)"
    text = reports.whatif_text(report)
    assert (
        f"  {line}\n"
        "    under the base policy:\n"
        "      Why lead\n"
        "      Why not mql\n"
        "        mql needs intent >= 40 (line 9).\n"
        "          [no ] intent 30 < 40: 10 short <b>\n"
        "    under the proposed policy:\n"
        "      Why mql\n"
        "          [yes] intent 30 >= 25\n"
    ) in text
    markdown = reports.whatif_markdown(report)
    assert "## Sample leads\n" in markdown
    assert "- S-&lt;7>: lead (fit 35, intent 30) → mql (fit 35, intent 30)\n" in markdown
    assert "  - under the base policy:\n    - **Why not mql**\n" in markdown.replace(
        "    - **Why lead**\n", ""
    )
    assert "        - fails: intent 30 &lt; 40: 10 short &lt;b>\n" in markdown
    page = reports.whatif_html(report)
    assert f"<h3>{html.escape(line)}</h3>" in page
    assert "<summary>Under the proposed policy</summary><h4>Why mql</h4>" in page
    assert '<span class="mark no">fails</span> intent 30 &lt; 40: 10 short &lt;b&gt;' in page


def test_a_simulations_backtest_by_segment_is_in_every_format() -> None:
    report = _simulation()
    report["backtest"] = {
        "leads_with_truth": 10,
        "buyers": 3,
        "base_rate": 0.3,
        "mql_precision": 0.5,
        "lift": 1.667,
        "by_segment": {"security_buyer": {"leads": 4, "conversion": 0.5, "mqls": 2}},
        "scores": {},
    }
    assert "security_buyer: 4 leads, conversion 0.5, 2 MQLs" in reports.simulate_text(report)
    assert "| security_buyer | 4 | 0.5 | 2 |" in reports.simulate_markdown(report)
    assert "<td>security_buyer</td><td>4</td><td>0.5</td><td>2</td>" in reports.simulate_html(
        report
    )
