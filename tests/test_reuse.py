"""`sweep` and `whatif` that share each lead's scores between their runs
(mqldsl.simulation.reuse) give byte-identical reports to a full run per
variant (``reuse=False``), on shipped policies and scenarios: a sweep over a
stage threshold, a locked policy that recycles (policies/saas_trial.mql),
the fallback when the swept param feeds a score, and `--jobs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import parse_instant
from mqldsl.io.policy import load_policy
from mqldsl.simulation import reuse as reuse_module
from mqldsl.simulation import sweep as sweep_module
from mqldsl.simulation.records import lead_record
from mqldsl.simulation.reuse import decide_variants, score_params, score_signature, share_scores
from mqldsl.simulation.simulate import SimulationOptions
from mqldsl.simulation.sources import Source, generate_journeys, load_leads, open_scenario
from mqldsl.simulation.sweep import sweep
from mqldsl.simulation.whatif import whatif

from .conftest import ROOT

ACME = ROOT / "policies" / "acme.mql"
SAAS = ROOT / "policies" / "saas_trial.mql"


def _bytes(report: Any) -> bytes:
    return json.dumps(report.to_json(), sort_keys=False).encode()


def _calls(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str = "decide_variants"
) -> list[int]:
    """Counts the calls of the reusing path ``name`` from ``module`` (and the
    variants of each)."""
    calls: list[int] = []
    real = getattr(reuse_module, name)
    position = 0 if name == "decide_variants" else 2

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[position]))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize(
    ("policy", "scenario", "param"),
    [
        (ACME, "acme", "mql_intent_min=20..60:10"),
        (ACME, "acme", "mql_fit_min=30..50:10"),
        (SAAS, "saas_trial", "pql_usage_min=20..60:10"),  # locked, recycles
    ],
)
def test_a_sweep_outside_scores_reuses_them_and_gives_the_same_report(
    monkeypatch: pytest.MonkeyPatch, policy: Path, scenario: str, param: str
) -> None:
    model = load_policy(policy)
    source = Source(scenario=ROOT / "simulations" / f"{scenario}.toml", leads=400)
    calls = _calls(monkeypatch, sweep_module)
    reused = _bytes(sweep(model, [param], source))
    assert calls == [5] if "20..60" in param else calls == [3]
    plain = _bytes(sweep(model, [param], source, reuse=False))
    assert len(calls) == 1  # the plain path does not reuse
    assert reused == plain


def test_a_sweep_over_a_param_a_score_reads_runs_every_value_in_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = load_policy(SAAS)
    assert score_params(model) == {"team_min", "heavy_minutes"}  # the usage score reads them
    source = Source(scenario=ROOT / "simulations" / "saas_trial.toml", leads=300)
    calls = _calls(monkeypatch, sweep_module)
    reused = _bytes(sweep(model, ["team_min=2..4"], source))
    assert calls == []
    assert reused == _bytes(sweep(model, ["team_min=2..4"], source, reuse=False))
    # Two params, one of them read by a score: every combination in full too.
    two = ["team_min=2..3", "pql_usage_min=30..40:10"]
    assert _bytes(sweep(model, two, source)) == _bytes(sweep(model, two, source, reuse=False))
    assert calls == []


def test_a_sweep_of_journeys_across_processes_gives_the_same_report(tmp_path: Path) -> None:
    journeys = tmp_path / "acme.jsonl"
    generate_journeys(ROOT / "simulations" / "acme.toml", journeys, leads=2100)
    model = load_policy(ACME)
    source = Source(journeys=journeys)
    param = ["mql_intent_min=30..50:10"]
    reused = _bytes(sweep(model, param, source, SimulationOptions(jobs=2)))
    assert reused == _bytes(sweep(model, param, source, reuse=False))


def test_a_long_sweep_is_decided_in_groups_of_bounded_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reuse_module, "RECORDS_AT_ONCE", 300)  # 100 leads: 3 variants a call
    calls = _calls(monkeypatch, sweep_module)
    model = load_policy(ACME)
    source = Source(scenario=ROOT / "simulations" / "acme.toml", leads=100)
    param = ["mql_intent_min=20..60:5"]
    reused = _bytes(sweep(model, param, source))
    assert calls == [3, 3, 3]
    assert reused == _bytes(sweep(model, param, source, reuse=False))


@pytest.mark.parametrize(
    ("params", "leads", "jobs"),
    [
        (["mql_intent_min=20..60:5"], 400, 1),
        (["mql_fit_min=20..40:10", "mql_intent_min=30..50:10"], 400, 1),
        (["mql_intent_min=20..60:5"], 2100, 2),
    ],
)
def test_a_sweep_of_many_values_rethresholds_with_the_tune_cache(
    monkeypatch: pytest.MonkeyPatch, params: list[str], leads: int, jobs: int
) -> None:
    model = load_policy(ACME)
    source = Source(scenario=ROOT / "simulations" / "acme.toml", leads=leads)
    cached = _calls(monkeypatch, sweep_module, "decide_by_cache")
    reused = _bytes(sweep(model, params, source, SimulationOptions(jobs=jobs)))
    assert cached == [9]
    assert reused == _bytes(sweep(model, params, source, reuse=False))


def test_a_recycling_policy_keeps_the_memo_path_for_many_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = load_policy(SAAS)
    source = Source(scenario=ROOT / "simulations" / "saas_trial.toml", leads=200)
    cached = _calls(monkeypatch, sweep_module, "decide_by_cache")
    memo = _calls(monkeypatch, sweep_module)
    param = ["pql_usage_min=20..60:5"]
    reused = _bytes(sweep(model, param, source))
    assert (cached, memo) == ([], [9])
    assert reused == _bytes(sweep(model, param, source, reuse=False))


HOT = """policy "Hot"
effective 2026-11-01
event demo
event visit
param min = 1
score s {
  +1 per demo
  +1 per visit within 7 days
}
stages {
  v
  mql when s >= min
}
route mql to q, sla 1 day
route mql to hot on demo, sla 5 minutes
"""


def test_a_policy_with_hot_event_routes_keeps_the_memo_path_for_many_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The tune cache re-thresholds stage conditions; a hot-event route hands over at events:
    # a sweep of eight values or more (the cache's size) decides it in full, as tune does.
    policy = tmp_path / "hot.mql"
    policy.write_text(HOT)
    journeys = tmp_path / "j.jsonl"
    lines = []
    for n in range(30):
        events = [{"type": "visit", "at": f"2026-10-{10 + k:02d}T09:00:00Z"} for k in range(n % 5)]
        events += [{"type": "demo", "at": f"2026-10-2{k}T12:00:00Z"} for k in range(n % 3)]
        lines.append(json.dumps({"id": f"L{n}", "events": events}))
    journeys.write_text("\n".join(lines) + "\n")
    model = load_policy(policy)
    source = Source(journeys=journeys, as_of=parse_instant("2026-11-01T00:00:00Z"))
    cached = _calls(monkeypatch, sweep_module, "decide_by_cache")
    param = ["min=1..9"]
    reused = _bytes(sweep(model, param, source))
    assert cached == []
    assert reused == _bytes(sweep(model, param, source, reuse=False))


XED_CSV = ROOT.parent / "shared" / "data" / "xeducation" / "xeducation_Leads.csv"


@pytest.mark.skipif(not XED_CSV.exists(), reason="../shared/data/xeducation is not present")
def test_a_sweep_of_real_journeys_gives_the_same_report(tmp_path: Path) -> None:
    from .helpers import run

    journeys = tmp_path / "xeducation.jsonl"
    code, _, err = run(
        "import", str(XED_CSV), "--policy", str(ROOT / "policies" / "xeducation.mql"),
        "--mapping", str(ROOT / "policies" / "xeducation.toml"), "-o", str(journeys),
    )  # fmt: skip
    assert code == 0, err
    model = load_policy(ROOT / "policies" / "xeducation.mql")
    source = Source(journeys=journeys, as_of=parse_instant("2026-12-01T00:00:00Z"))
    for param in (["mql_min=40..80:5"], ["mql_min=40..80:10"]):  # the cache; the memo
        assert _bytes(sweep(model, param, source)) == _bytes(
            sweep(model, param, source, reuse=False)
        )


@pytest.mark.parametrize(
    ("policy", "scenario", "param"),
    [(SAAS, "saas_trial", "pql_usage_min"), (ACME, "acme", "mql_intent_min")],
)
def test_decided_variants_equal_a_plain_evaluation_of_each(
    policy: Path, scenario: str, param: str
) -> None:
    """Independently of the sweep: each record is what the compiled evaluator
    gives the lead alone, with its scores at the handoff from a run as of it
    (for a policy that recycles, and for one that does not, where they are read
    from the memo)."""
    model = load_policy(policy)
    opened = open_scenario(ROOT / "simulations" / f"{scenario}.toml", model)
    leads = load_leads(model, opened, None, 3, 300)
    as_of = leads.default_as_of
    variants = [(model, {param: value}) for value in (10, 40, 70)]
    decided = decide_variants(variants, leads.leads, as_of, "mql", "sql")
    names = model.stage_names
    recycled = handed = 0
    for (_, params), records in zip(variants, decided, strict=True):
        evaluator = Evaluator(model, params)
        for lead, record in zip(leads.leads, records, strict=True):
            result = evaluator.run(lead, as_of)
            recycled += result.journey_start != float("-inf")
            expected = lead_record(
                model,
                lead,
                result.decision,
                result.first_entries,
                names.index("mql"),
                names.index("sql"),
                handoffs=result.handoffs,  # saas_trial's hot-event route: touch requests
            )
            assert record == expected
            at_handoff = ()
            if record.handoff is not None:
                handed += 1
                at_handoff = tuple(evaluator.run(lead, record.handoff).decision.scores.values())
            assert record.mql_scores == at_handoff
    # Some timelines restarted (the memo's keys hold the start); some leads were handed off.
    assert (recycled > 0) == bool(model.recycles)
    assert handed > 0


def test_score_signatures_tell_which_variants_may_share_scores(tmp_path: Path) -> None:
    acme = load_policy(ACME)
    saas = load_policy(SAAS)
    assert share_scores([(acme, {}), (acme, {"mql_intent_min": 10, "mql_fit_min": 90})])
    assert share_scores([(saas, {}), (saas, {"pql_usage_min": 10})])
    assert not share_scores([(saas, {}), (saas, {"team_min": 9})])
    assert not share_scores([(acme, {}), (saas, {})])
    text = ACME.read_text()

    def signature(old: str, new: str) -> Any:
        assert old in text
        path = tmp_path / "proposed.mql"
        path.write_text(text.replace(old, new))
        return score_signature(load_policy(path), {})

    same = score_signature(acme, {})
    # A comment, a stage threshold, a route: the scores are the same.
    assert signature("# Acme Cloud", "# Another comment\n# Acme Cloud") == same
    assert signature("demo_request within 60 days and fit >= 10", "fit >= 15") == same
    assert signature("sla 5 minutes", "sla 9 minutes") == same
    # A rule's points, a window: they are not.
    assert signature("+15 when webinar_attended", "+16 when webinar_attended") != same
    assert signature("webinar_attended within 30 days", "webinar_attended within 31 days") != same


@pytest.mark.parametrize(
    "params", [{"mql_intent_min": 30}, {"mql_fit_min": 40, "mql_intent_min": 50}]
)
def test_a_whatif_with_set_shares_the_scores_and_gives_the_same_report(
    monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]
) -> None:
    from mqldsl.simulation import whatif as whatif_module

    model = load_policy(ACME)
    source = Source(scenario=ROOT / "simulations" / "acme.toml", leads=300)
    options = SimulationOptions(params=params)
    calls = _calls(monkeypatch, whatif_module)
    reused = _bytes(whatif(model, None, source, options, replications=2))
    assert calls == [2, 2]
    plain = _bytes(whatif(model, None, source, options, replications=2, reuse=False))
    assert reused == plain


@pytest.mark.parametrize(
    ("old", "new", "shared"),
    [
        ("demo_request within 60 days and fit >= 10", "demo_request within 60 days", True),
        ("+20 when company_size between", "+40 when company_size between", False),
    ],
)
def test_a_whatif_of_two_files_shares_scores_only_when_they_are_the_same(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, old: str, new: str, shared: bool
) -> None:
    from mqldsl.simulation import whatif as whatif_module

    journeys = tmp_path / "acme.jsonl"
    generate_journeys(ROOT / "simulations" / "acme.toml", journeys, leads=300)
    text = ACME.read_text()
    assert old in text
    path = tmp_path / "proposed.mql"
    path.write_text(text.replace(old, new))
    base, proposed = load_policy(ACME), load_policy(path)
    source = Source(journeys=journeys)
    calls = _calls(monkeypatch, whatif_module)
    reused = _bytes(whatif(base, proposed, source))
    assert calls == ([2] if shared else [])
    plain = _bytes(whatif(base, proposed, source, reuse=False))
    assert reused == plain
    assert json.loads(reused)["delta"]["mqls"]["diff"] != 0  # the change moves leads


def test_a_timeline_too_long_stops_a_reusing_run_with_e900(tmp_path: Path) -> None:
    from mqldsl.io.errors import InputProblem

    from .test_edges import AS_OF as EDGE_AS_OF
    from .test_edges import DECAY, bounded_leads

    policy, data, _ = bounded_leads(tmp_path)
    Path(policy).write_text(
        DECAY.replace("event visit", "event visit\nparam m = 5").replace("fit >= 5", "fit >= m")
    )
    model = load_policy(policy)
    assert not score_params(model)  # the reusing path
    source = Source(journeys=data, as_of=parse_instant(EDGE_AS_OF))
    for call in (
        lambda: sweep(model, ["m=1..2"], source),
        lambda: whatif(model, None, source, SimulationOptions(params={"m": 3})),
    ):
        with pytest.raises(InputProblem) as raised:
            call()
        assert "error[E900]: lead `old`: its timeline needs" in str(raised.value.lines)


def test_a_whatif_across_processes_gives_the_same_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mqldsl.simulation import whatif as whatif_module

    journeys = tmp_path / "acme.jsonl"
    generate_journeys(ROOT / "simulations" / "acme.toml", journeys, leads=2100)
    model = load_policy(ACME)
    source = Source(journeys=journeys)
    calls = _calls(monkeypatch, whatif_module)
    options = SimulationOptions(params={"mql_intent_min": 30}, jobs=2)
    reused = _bytes(whatif(model, None, source, options))
    assert calls == [2]
    plain = SimulationOptions(params={"mql_intent_min": 30})
    assert reused == _bytes(whatif(model, None, source, plain, reuse=False))
