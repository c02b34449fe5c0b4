"""`mqldsl check --deep` (W520-W524, docs/errors.md): findings the solver proves where bounds
analysis cannot, checked against a golden output and against the compiled evaluator on
generated leads (no generated lead contradicts a proof)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings

from mqldsl.analysis.checker import check_text
from mqldsl.analysis.solver.deep import deep_lints, saturation
from mqldsl.cli import cli
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import to_seconds
from mqldsl.io.journeys import JourneyReader
from mqldsl.simulation.leadsearch import random_records
from tests import policy_gen
from tests.test_witness import _search_leads, solver_policies

GOLDEN = Path(__file__).parent / "golden" / "deep"
PROVED = GOLDEN / "proved.mql"
ROOT = Path(__file__).resolve().parent.parent


def test_golden_deep_diagnostics(update_golden: bool) -> None:
    result = CliRunner().invoke(cli, ["check", "--deep", str(PROVED.relative_to(ROOT))])
    assert result.exit_code == 0, result.output
    expected = PROVED.with_suffix(".expected")
    if update_golden:
        expected.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == expected.read_text(encoding="utf-8")
    codes = [
        line.split("[")[1].split("]")[0] for line in result.stdout.splitlines() if "]: " in line
    ]
    assert codes == ["W511", "W521", "W520", "W523", "W522", "W522"]


def test_no_generated_lead_contradicts_a_proof() -> None:
    """The proved findings, checked by the compiled evaluator on 3,000 generated leads at
    several instants: `lead` and `sql` are never a lead's stage, `fit` stays below 30, the
    first disqualifier never holds, and no lead goes to sdr_b or sdr_c."""
    model = check_text(PROVED.read_text(), "proved.mql").model
    assert model is not None
    evaluator = Evaluator(model)
    reader = JourneyReader(model, check_duplicates=False)
    stages, queues = set(), set()
    for day in (1, 15):
        as_of = to_seconds(dt.datetime(2026, 12, day, tzinfo=dt.UTC))
        for record in random_records((model,), 1500, day, 4, as_of):
            decision = evaluator.decide(reader.lead(record), as_of)
            stages.add(decision.stage)
            assert decision.scores["fit"] is not None and decision.scores["fit"] < 30
            assert "Student at a large company" not in decision.disqualified
            if decision.route is not None:
                queues.add(decision.route.queue)
    assert "lead" not in stages and "sql" not in stages
    assert {"visitor", "engaged", "mql", "disqualified"} <= stages  # the search is not idle
    assert queues == {"sdr_a"}


def test_the_bound_follows_caps_and_counts() -> None:
    text = PROVED.read_text()
    model = check_text(text, "p.mql").model
    assert model is not None and saturation(model) == 4  # +10 per page_view, max 40
    counted = text.replace("lead when page_view ever", "lead when count(page_view) >= 6")
    model = check_text(counted, "p.mql").model
    assert model is not None and saturation(model) == 7
    assert "within 7 events of each type" in deep_lints(model).diagnostics[0].message


def test_acme_is_clean_and_constructs_outside_the_encoding_get_a_note() -> None:
    result = CliRunner().invoke(cli, ["check", "--deep", "--strict", str(ROOT / "policies")])
    assert result.exit_code == 0, result.output
    assert "W52" not in result.stdout
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert any("enterprise.mql: check --deep: decay (line" in n for n in notes), notes
    assert any("saas_trial.mql: check --deep: locked stages" in n for n in notes), notes
    assert not any("acme.mql" in n for n in notes), notes


@pytest.mark.parametrize("allowed", [False, True])
def test_strict_fails_on_a_proof_unless_allowed(allowed: bool, tmp_path: Path) -> None:
    text = PROVED.read_text()
    if allowed:
        allow = {
            "  lead when": "W511",
            "  engaged when": "W524",  # W511 allowed: the solver's W524 takes its place
            "  mql when": "W521",
            "  sql when": "W520",
            'disqualify "Student at': "W523",
            "route mql to sdr_b": "W522",
            "route mql to sdr_c": "W522",
        }
        lines = text.splitlines()
        for start, code in allow.items():
            (index,) = [i for i, line in enumerate(lines) if line.startswith(start)]
            lines[index] += f"  # mqldsl: allow {code}"
        text = "\n".join(lines) + "\n"
    path = tmp_path / "p.mql"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["check", "--deep", "--strict", str(path)])
    assert result.exit_code == (0 if allowed else 1), result.output
    plain = CliRunner().invoke(cli, ["check", "--strict", str(path)])
    assert "W52" not in plain.stdout  # without --deep, no solver


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(solver_policies())
def test_random_policies_proofs_hold_on_generated_leads(text: str) -> None:
    """For random policies in the forms the encoding covers: no generated lead (at most 2
    events of each type, within every proof's bound) has a stage W520/W524 proved
    unreachable, a disqualifier W523 proved impossible, or a route W522 proved never chosen."""
    model = check_text(text, "p.mql").model
    assume(model is not None)
    assert model is not None
    found = deep_lints(model).diagnostics
    lines = {d.span.line: d.code for d in found}
    never_stages = {s.name for s in model.stages.stages if lines.get(s.span.line) == "W520"}
    for d in found:
        if d.code == "W524":
            never_stages.add(d.message.split("`")[1])
    never_reasons = {q.reason for q in model.disqualifiers if lines.get(q.span.line) == "W523"}
    never_routes = {r.span.line for r in model.routes if lines.get(r.span.line) == "W522"}
    evaluator = Evaluator(model)
    for lead in _search_leads():
        decision = evaluator.decide(lead, policy_gen.AS_OF)
        assert decision.stage not in never_stages, (decision, found)
        assert not never_reasons & set(decision.disqualified), (decision, found)
        if decision.route is not None:
            chosen = [
                r.span.line
                for r in model.routes
                if r.stage == decision.stage
                and r.queue == decision.route.queue
                and (None if r.sla is None else r.sla.text()) == decision.route.sla
            ]
            assert not set(chosen) <= never_routes, (decision, found)
