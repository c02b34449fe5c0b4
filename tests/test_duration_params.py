"""Durations as parameters (SPEC §5.2): `param demo_window = 30 days`, its
name wherever a duration is written, `--set demo_window=14d`, sweeps and
tuning over it, and the same decisions on every engine."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mqldsl.analysis.bound import bind
from mqldsl.analysis.checker import check_text
from mqldsl.analysis.durations import parse_duration
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.params import ParamOverrideError, parse_param_override
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.explain import explain
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import DAY, Decision, Event, Lead, to_seconds
from mqldsl.io.errors import UsageProblem
from mqldsl.language import ast
from mqldsl.language.includes import reader_of
from mqldsl.language.printer import format_policy
from mqldsl.render.diff import diff
from mqldsl.render.document import context
from mqldsl.simulation import sweep as sweep_module
from mqldsl.simulation.differences import differences
from mqldsl.simulation.reuse import score_params
from mqldsl.simulation.run import evaluate_all
from mqldsl.simulation.simulate import SimulationOptions
from mqldsl.simulation.sources import Source, generate_journeys
from mqldsl.simulation.sweep import parse_sweep_param, sweep
from mqldsl.simulation.tune_cache import DecisionCache
from mqldsl.simulation.whatif import whatif

from .conftest import ROOT
from .helpers import parse_ok, run

T = to_seconds(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
HOUR = 3600.0
AS_OF_DEC = to_seconds(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))

POLICY = """policy "windows"
version 1
event demo "Asked for a demo"
event view
param demo_window = 30 days "How long a demo request keeps a lead hot"
param step = 1 week
param first_touch = 4 hours
param threshold = 4
score intent decay 50% every step {
  +20 when demo within demo_window "Recent demo"
}
score views {
  +1 per view within demo_window, max 5
}
stages {
  visitor
  mql when intent >= threshold and demo within demo_window
}
route mql to desk, sla first_touch
"""


def _model(text: str = POLICY) -> CheckedPolicy:
    result = check_text(text)
    assert result.model is not None, [d.message for d in result.diagnostics]
    return result.model


def _codes(text: str) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in check_text(text).diagnostics if d.is_error]


def _set(model: CheckedPolicy, *assignments: str) -> dict[str, Any]:
    return dict(parse_param_override(model, a) for a in assignments)


def lead(*events: tuple[str, float]) -> Lead:
    built = [Event(at=T + at, type=kind, fields={}, index=i) for i, (kind, at) in enumerate(events)]
    return Lead(id="L", profile={}, events=tuple(sorted(built, key=lambda e: e.at)))


Engine = Callable[[CheckedPolicy, dict[str, Any]], Callable[[Lead, float], Decision]]


def _compiled(model: CheckedPolicy, params: dict[str, Any]) -> Callable[[Lead, float], Decision]:
    return Evaluator(model, params).decide


def _interpreted(model: CheckedPolicy, params: dict[str, Any]) -> Callable[[Lead, float], Decision]:
    return Interpreter(model, params).decide


@pytest.fixture(params=[_compiled, _interpreted], ids=["compiled", "interpreter"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.param  # type: ignore[no-any-return]


# ---------------------------------------------------------------- language


def test_a_duration_param_is_declared_and_its_name_stands_for_durations() -> None:
    policy = parse_ok(POLICY)
    param = next(i for i in policy.items if isinstance(i, ast.Param) and i.name == "demo_window")
    assert param.value == ast.Duration(amount=30, unit="day")
    model = _model()
    assert model.params["demo_window"].value == ast.Duration(amount=30, unit="day")
    assert str(model.params["first_touch"].value) == "4 hours"
    # After checking, every use holds the param's name and its value.
    route = model.routes[0]
    assert route.sla == ast.Duration(amount=4, unit="hour", param="first_touch")
    decay = model.scores["intent"].node.decay
    assert decay is not None and decay.every.seconds == 7 * DAY
    assert model.windows == (30 * DAY,)


def test_the_printer_writes_the_names_back_and_is_idempotent() -> None:
    text = format_policy(parse_ok(POLICY))
    assert 'param demo_window = 30 days "How long a demo request keeps a lead hot"' in text
    assert "+20 when demo within demo_window" in text
    assert "score intent decay 50% every step {" in text
    assert "route mql to desk, sla first_touch" in text
    assert format_policy(parse_ok(text)) == text
    assert parse_ok(text) == parse_ok(POLICY)
    # The checked model prints the same text (the policy's hash does not see the values).
    assert _model().canonical_text == _model(text).canonical_text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # an unknown name where a duration is expected: E204 with a suggestion
        (("within demo_window\n", "within demo_windw\n"), [("E204", 17)]),
        # a number param where a duration is expected
        (("sla first_touch", "sla threshold"), [("E317", 19)]),
        (("every step", "every threshold"), [("E317", 9)]),
        # a duration param where a number is expected
        (("intent >= threshold", "intent >= step"), [("E317", 17)]),
        # a duration param must be positive
        (("param step = 1 week", "param step = 0 weeks"), [("E314", 6)]),
    ],
)
def test_misused_duration_params_are_reported(
    change: tuple[str, str], expected: list[tuple[str, int]]
) -> None:
    assert _codes(POLICY.replace(*change)) == expected


def test_the_messages_name_the_problem_and_suggest_a_fix() -> None:
    found = check_text(POLICY.replace("within demo_window\n", "within demo_windw\n")).diagnostics
    assert found[0].message.startswith("unknown param `demo_windw`")
    assert found[0].hint == "did you mean `demo_window`?"
    wrong = check_text(POLICY.replace("sla first_touch", "sla threshold")).diagnostics[0]
    assert wrong.message == "param `threshold` holds an int, not a duration"
    number = check_text(POLICY.replace("intent >= threshold", "intent >= step")).diagnostics[0]
    assert "`step` is a duration param" in number.message


def test_an_unused_duration_param_is_warned_about_and_a_used_one_is_not() -> None:
    text = POLICY.replace("param step = 1 week\n", "param step = 1 week\nparam spare = 2 days\n")
    warned = [d.message for d in check_text(text).diagnostics if d.code == "W503"]
    assert warned == ["param `spare` is declared but never used"]


def test_the_definitions_document_shows_the_value_and_the_name() -> None:
    data = context(_model())
    rows = {row["name"]: row["value"] for row in data["params"]}
    assert rows["demo_window"] == "30 days"
    assert rows["first_touch"] == "4 hours"
    routes = data["routes"]
    assert routes[0]["sla"] == "4 hours (param `first_touch`)"


def test_diff_names_the_old_and_new_length() -> None:
    old, new = _model(), _model(POLICY.replace("= 30 days", "= 14 days"))
    lines = [change.text() for change in diff(old, new)]
    assert "param demo_window: 30 days → 14 days" in lines


# ---------------------------------------------------------------- --set and sweeps


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("14d", 14 * DAY),
        ("14 days", 14 * DAY),
        ("1 day", DAY),
        ("90m", 90 * 60),
        ("36h", 36 * HOUR),
        ("2w", 14 * DAY),
        ("1.5h", 1.5 * HOUR),
    ],
)
def test_a_duration_is_written_as_in_a_policy_or_compactly(text: str, seconds: float) -> None:
    assert parse_duration(text).seconds == seconds


@pytest.mark.parametrize(
    ("assignment", "why"),
    [
        ("demo_window=14", "a duration needs a unit"),
        ("demo_window=14x", "a duration is written"),
        ("demo_window=0d", "a duration must be positive"),
        ("demo_window=-3d", "a duration must be positive"),
        ("demo_window=2 months", "months and years vary in length"),
        ("threshold=14d", "that is a duration; this param holds a number"),
    ],
)
def test_set_refuses_a_bad_duration_and_a_duration_for_a_number(assignment: str, why: str) -> None:
    with pytest.raises(ParamOverrideError) as caught:
        parse_param_override(_model(), assignment)
    assert caught.value.code == "E307"
    assert why in caught.value.message


def test_set_on_the_command_line_changes_the_window_and_bad_values_exit_2(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "p.mql"
    policy.write_text(POLICY, encoding="utf-8")
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(
        json.dumps({"id": "L", "events": [{"type": "demo", "at": "2026-10-12T00:00:00Z"}]}) + "\n",
        encoding="utf-8",
    )
    at = "--as-of=2026-11-01T00:00:00Z"
    code, out, _ = run("score", str(policy), str(journeys), at)
    assert code == 0 and json.loads(out)["stage"] == "mql"  # the demo was 20 days ago
    code, out, _ = run("score", str(policy), str(journeys), at, "--set", "demo_window=2w")
    decision = json.loads(out)
    assert code == 0 and decision["stage"] == "visitor"
    assert decision["policy"]["params"] == {"demo_window": "2 weeks"}
    for bad in ("demo_window=14", "demo_window=0d", "threshold=3d", "demo_windw=3d"):
        code, _, err = run("score", str(policy), str(journeys), at, "--set", bad)
        assert code == 2, (bad, err)
    code, _, err = run("score", str(policy), str(journeys), at, "--set", "demo_windw=3d")
    assert "did you mean `demo_window`" in err


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ("demo_window=7d..35d:7d", ["7 days", "14 days", "21 days", "28 days", "35 days"]),
        ("demo_window=1 week..3 weeks:1 week", ["1 week", "2 weeks", "3 weeks"]),
        ("demo_window=36h..3d:12h", ["36 hours", "48 hours", "60 hours", "72 hours"]),
        ("demo_window=1d..3d", ["1 day", "2 days", "3 days"]),
    ],
)
def test_a_sweep_of_a_duration_param_steps_through_durations(spec: str, values: list[str]) -> None:
    axis = parse_sweep_param(_model(), spec)
    assert [str(v) for v in axis.values] == values


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("demo_window=7..35:7", "a duration needs a unit"),
        ("demo_window=7d..35d:0d", "a positive STEP is needed"),
        ("demo_window=7d..35d:-7d", "a positive STEP is needed"),
        ("demo_window=7d..35q:7d", "a duration is written"),
        ("demo_window=35d..7d", "need LO <= HI"),
        ("demo_window=1m..300d:1m", "at most 200"),
        ("threshold=7d..35d", "param `threshold` holds an int, not a duration"),
    ],
)
def test_a_bad_duration_sweep_is_refused(spec: str, why: str) -> None:
    with pytest.raises(UsageProblem) as caught:
        parse_sweep_param(_model(), spec)
    assert why in str(caught.value)


def test_sweep_and_tune_on_the_command_line_take_durations_and_refuse_bad_ones(
    tmp_path: Path,
) -> None:
    saas = str(ROOT / "policies" / "saas_trial.mql")
    scenario = str(ROOT / "simulations" / "saas_trial.toml")
    common = ["--scenario", scenario, "--leads", "150"]
    code, out, err = run("sweep", saas, *common, "--param", "quiet_period=14d..28d:14d")
    assert code == 0, err
    assert "14 days" in out and "28 days" in out
    code, _, err = run("sweep", saas, *common, "--param", "quiet_period=14..28")
    assert code == 2 and "a duration needs a unit" in err
    code, _, err = run(
        "tune", saas, *common, "--param", "quiet_period=1d..2d:0d", "--maximize", "mql_precision"
    )
    assert code == 2 and "a positive STEP is needed" in err
    code, out, err = run(
        "tune", saas, *common, "--param", "quiet_period=14d..28d:14d", "--maximize", "mqls"
    )
    assert code == 0, err
    assert "every candidate is a full run: param `quiet_period` is a duration" in out


# ---------------------------------------------------------------- evaluation


def test_a_shorter_window_moves_the_exit_instant_and_entered_follows(engine: Engine) -> None:
    model = _model()
    subject = lead(("demo", -20 * DAY))
    # 30 days: the demo 20 days ago keeps the lead an MQL.
    decision = engine(model, {})(subject, T)
    assert decision.stage == "mql"
    assert decision.entered == {"mql": T - 20 * DAY}
    # 14 days: the demo leaves its window at -20 + 14 = -6 days (SPEC §7), so the lead
    # falls back to visitor then.
    short = _set(model, "demo_window=14d")
    decision = engine(model, short)(subject, T)
    assert decision.stage == "visitor"
    assert decision.entered == {"mql": T - 20 * DAY, "visitor": T - 6 * DAY}
    assert engine(model, short)(subject, T - 6 * DAY - 1).stage == "mql"
    assert engine(model, short)(subject, T - 6 * DAY).stage == "visitor"
    # The declared value, written another way, decides as the policy does.
    assert engine(model, _set(model, "demo_window=30 days"))(subject, T) == engine(model, {})(
        subject, T
    )


def test_a_window_param_counts_events_within_its_length(engine: Engine) -> None:
    model = _model()
    views = [("view", -d * DAY) for d in (1, 2, 3, 10, 20)]
    subject = lead(("demo", -HOUR), *views)
    for length, expected_views in (("30d", 5), ("5d", 3), ("36h", 1)):
        decision = engine(model, _set(model, f"demo_window={length}"))(subject, T)
        assert decision.scores["views"] == expected_views, length


def test_a_decay_period_param_sets_the_steps(engine: Engine) -> None:
    model = _model()
    subject = lead(("demo", -10 * DAY))
    # 50% every week: one full week has passed; every 3 days: three steps.
    assert engine(model, {})(subject, T).scores["intent"] == 10
    decision = engine(model, _set(model, "step=3d"))(subject, T)
    assert decision.scores["intent"] == pytest.approx(20 * 0.5**3)


def test_an_sla_param_sets_when_the_first_touch_is_due(engine: Engine) -> None:
    model = _model()
    subject = lead(("demo", -DAY))
    route = engine(model, {})(subject, T).route
    assert route is not None and route.due == T - DAY + 4 * HOUR and route.sla == "4 hours"
    route = engine(model, _set(model, "first_touch=90m"))(subject, T).route
    assert route is not None and route.due == T - DAY + 90 * 60 and route.sla == "90 minutes"


def test_a_recycle_window_param_decides_when_a_quiet_lead_is_recycled(engine: Engine) -> None:
    text = """policy "recycle"
event demo
param quiet = 45 days
stages locked {
  lead
  mql when demo within 7 days
}
recycle mql to lead when no event within quiet
"""
    model = _model(text)
    subject = lead(("demo", -40 * DAY))
    assert engine(model, {})(subject, T).stage == "mql"
    decision = engine(model, _set(model, "quiet=20d"))(subject, T)
    assert decision.stage == "lead"
    assert decision.entered == {"lead": T - 20 * DAY, "mql": T - 40 * DAY}


def test_binding_reuses_the_rechecked_policy_and_keeps_its_identity() -> None:
    model = _model()
    params = _set(model, "demo_window=14d")
    bound = bind(model, params)
    assert bound is not model and bind(model, params) is bound
    assert bound.windows == (14 * DAY,)
    assert bound.sha256 == model.sha256  # the rules are the same text; the stamp lists the value
    assert bind(model, _set(model, "demo_window=30d")) is model
    assert bind(model, {"threshold": 5}) is model


def test_duckdb_decides_as_python_with_a_duration_param_set(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from mqldsl.warehouse.engine import DuckDBEngine

    model = _model()
    subjects = [
        Lead(
            id=f"L{n}",
            profile={},
            events=tuple(
                Event(at=T - d * DAY, type=kind, fields={}, index=i)
                for i, (kind, d) in enumerate(
                    sorted(
                        [("demo", (n * 7) % 40 + 0.5), ("view", n % 9), ("view", (n * 3) % 25)],
                        key=lambda e: -e[1],
                    )
                )
            ),
        )
        for n in range(40)
    ]
    for assignments in ((), ("demo_window=14d", "step=3d", "first_touch=90m")):
        params = _set(model, *assignments)
        with DuckDBEngine(model) as sql:
            sql.load_leads(iter(subjects))
            rows = list(sql.decide(T, params))
        python = Evaluator(model, params)
        for row, subject in zip(rows, subjects, strict=True):
            expected = python.decide(subject, T)
            assert row.decision.stage == expected.stage, (assignments, subject.id)
            assert row.decision.scores == pytest.approx(expected.scores)
            assert row.decision.entered == expected.entered
            assert row.decision.route == expected.route
    # A shorter window changes some decisions (the comparison above is not vacuous).
    short = Evaluator(model, _set(model, "demo_window=14d"))
    assert any(short.decide(s, T).stage != Evaluator(model).decide(s, T).stage for s in subjects)


# ---------------------------------------------------------------- simulation


def test_a_window_param_is_not_a_rethreshold_param() -> None:
    model = _model(
        POLICY.replace("+20 when demo within demo_window", "+20 when demo ever").replace(
            "+1 per view within demo_window", "+1 per view within 30 days"
        )
    )
    assert score_params(model) == {"step"}  # only the stage condition reads demo_window
    cache = DecisionCache(model, [], {}, ["demo_window"], T, "mql", None)
    assert cache.reason == "param `demo_window` is a duration: it moves the timeline's instants"
    assert DecisionCache(model, [], {}, ["threshold"], T, "mql", None).reason is None
    # A score reading the window through a pattern or a decay period reads the param.
    assert score_params(_model()) == {"demo_window", "step"}
    assert DecisionCache(_model(), [], {}, ["threshold"], T, "mql", None).reason is None


def test_a_sweep_over_a_window_only_stages_read_equals_full_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saas = _model((ROOT / "policies" / "saas_trial.mql").read_text(encoding="utf-8"))
    assert "quiet_period" not in score_params(saas)
    source = Source(scenario=ROOT / "simulations" / "saas_trial.toml", leads=300)
    cached: list[int] = []
    monkeypatch.setattr(
        sweep_module,
        "decide_by_cache",
        lambda *a, **k: cached.append(1),  # never called
    )
    spec = ["quiet_period=7d..42d:7d"]  # six values: more than tune's cache threshold
    reused = sweep(saas, spec, source)
    plain = sweep(saas, spec, source, reuse=False)
    assert cached == []
    assert json.dumps(reused.to_json()) == json.dumps(plain.to_json())
    rows = reused.to_json()["rows"]
    assert [r["params"]["quiet_period"] for r in rows][:2] == ["7 days", "14 days"]
    assert reused.to_json()["current"] == {"quiet_period": "30 days"}  # between two rows


def test_whatif_attribution_names_the_duration_change() -> None:
    model = _model()
    found = differences(model, model, {"demo_window": "30 days"}, {"demo_window": "14 days"})
    assert [(d.what, d.base, d.proposed) for d in found] == [
        ("param demo_window", "30 days", "14 days")
    ]
    subject = lead(("demo", -20 * DAY))
    a = Evaluator(model).run(subject, T)
    b = Evaluator(model, _set(model, "demo_window=14d")).run(subject, T)
    assert found[0].moved(a, b)
    assert not found[0].moved(a, a)


def test_the_tune_cache_with_a_duration_param_set_equals_full_runs() -> None:
    # --set demo_window=14d on top, `threshold` tuned: the cache re-thresholds the conditions
    # of the policy checked with 14 days.
    model = _model()
    base = _set(model, "demo_window=14d")
    subjects = [
        Lead(
            id=f"L{n}",
            profile={},
            events=tuple(
                Event(at=T - d * DAY, type=kind, fields={}, index=i)
                for i, (kind, d) in enumerate([("demo", 25 - n / 2), ("view", 3)])
            ),
        )
        for n in range(40)
    ]
    cache = DecisionCache(model, subjects, base, ["threshold"], T, "mql", None)
    assert cache.reason is None
    stages = set()
    for value in (2, 12, 25):
        full = evaluate_all(model, base | {"threshold": value}, subjects, T, "mql")[0]
        assert cache.records({"threshold": value}) == full, value
        stages.add(tuple(r.stage for r in full))
    assert len(stages) == 3  # the threshold matters on these leads


def test_an_explanation_gives_the_runs_window_and_the_params_name() -> None:
    model = _model()
    params = _set(model, "demo_window=14d", "step=3d")
    subject = lead(("demo", -10 * DAY))
    result = Evaluator(model, params).run(subject, T, explain=True)
    text = json.dumps(explain(model, subject, result, params).to_json())
    assert "within 14 days (demo_window)" in text
    assert "50% every 3 days (step)" in text
    assert "within 30 days" not in text


def test_the_api_takes_a_timedelta_or_text_for_a_duration_param() -> None:
    import mqldsl

    record = {"id": "L", "events": [{"type": "demo", "at": "2026-10-12T00:00:00Z"}]}
    at = "2026-11-01T00:00:00Z"
    policy = _model()
    assert mqldsl.decide(policy, record, at).stage == "mql"
    for value in (dt.timedelta(days=14), "14d", "2 weeks"):
        assert mqldsl.decide(policy, record, at, params={"demo_window": value}).stage == "visitor"
    with pytest.raises(mqldsl.UsageError):
        mqldsl.decide(policy, record, at, params={"demo_window": dt.timedelta(0)})


def test_whatif_with_a_duration_set_attributes_every_moved_lead_to_it(tmp_path: Path) -> None:
    saas = ROOT / "policies" / "saas_trial.mql"
    journeys = tmp_path / "j.jsonl"
    generate_journeys(str(ROOT / "simulations" / "saas_trial.toml"), journeys, leads=400, seed=2)
    model = _model(saas.read_text(encoding="utf-8"))
    options = SimulationOptions(params=_set(model, "quiet_period=10d"))
    report = whatif(model, None, Source(journeys=journeys, as_of=AS_OF_DEC), options).to_json()
    # independently: the leads `score` puts in another stage with the shorter quiet period
    stages = []
    for extra in ([], ["--set", "quiet_period=10 days"]):
        code, out, err = run("score", str(saas), str(journeys), "--as-of", "2026-12-01", *extra)
        assert code == 0, err
        stages.append({d["id"]: d["stage"] for d in map(json.loads, out.splitlines())})
    moved = sum(1 for i in stages[0] if stages[0][i] != stages[1][i])
    assert moved > 0 and report["changed_leads"] == moved
    change = {"what": "param quiet_period", "base": "30 days", "proposed": "10 days"}
    assert report["changes"] == [change]
    assert report["attribution"] == [{**change, "leads": report["moved_leads"]}]


def test_a_length_that_makes_the_policy_invalid_is_a_usage_error(tmp_path: Path) -> None:
    # 1 minute decay steps: the example's event 100 days back needs the as-of instant, the
    # event, its 30-day window's end and 100 * 1,440 decay steps: 144,003 instants (E410).
    policy = tmp_path / "p.mql"
    policy.write_text(
        POLICY + 'example "An old demo" at 2026-11-01 {\n  demo at -100 days\n'
        "  expect stage visitor\n}\n",
        encoding="utf-8",
    )
    journeys = tmp_path / "j.jsonl"
    journeys.write_text('{"id": "L", "events": []}\n', encoding="utf-8")
    code, _, err = run("score", str(policy), str(journeys), "--set", "step=1m")
    assert code == 2
    assert (
        "the policy is not valid with step=1 minute" in err
        and f"{3 + 100 * 1440:,} instants" in err
    )
    with pytest.raises(UsageProblem) as caught:
        parse_sweep_param(_model(policy.read_text(encoding="utf-8")), "step=1m..2d:1d")
    assert "the policy is not valid with step=1 minute" in str(caught.value)


def test_a_duration_param_may_be_named_after_a_unit() -> None:
    """SPEC §2: units are keywords only where the grammar expects them, so `param day = 1 day`
    names a param, which stands where a duration goes (SPEC §5.2). It was declared, then
    refused at every use as "a unit without its number" (E101); without the declaration
    `within days` stays that error."""
    text = (
        'policy "Units"\nlead { k: int }\nevent demo\nparam day = 1 day\nparam minutes = 5 minutes\n'
        "score s decay 10% every day {\n  +1 when demo within day\n}\n"
        "stages {\n  visitor\n  l when s >= 1\n}\nroute l to q, sla minutes\n"
    )
    result = check_text(text, "units.mql")
    assert result.model is not None, [d.message for d in result.diagnostics]
    assert result.model.params["day"].value.seconds == 86400  # type: ignore[union-attr]
    broken = check_text(text.replace("param day = 1 day\n", ""), "units.mql")
    assert [d.code for d in broken.diagnostics if d.is_error] == ["E101", "E101"]
    assert broken.diagnostics[0].message == "expected a duration such as `30 days`, found `day`"
    # Declared in an included file (SPEC §3.1: as if written at the include line) it is a
    # param as well: the parser, reading one file, was refusing it.
    shared = {"units.mql": "param day = 1 day\nparam minutes = 5 minutes\n"}
    main = text.replace("param day = 1 day\nparam minutes = 5 minutes\n", 'include "units.mql"\n')
    included = check_text(main, "main.mql", read=reader_of(shared))
    assert included.model is not None, [d.message for d in included.diagnostics]
