"""Usage totals (SPEC §5): `sum`, `max`, `min` and `avg` of a numeric event field, one behaviour
per test, each decided by the compiled evaluator, the reference interpreter and DuckDB, against
figures computed by hand in the test; then the checker, the printer, English, `diff` and
explanations."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mqldsl.analysis.checker import check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import DAY, Decision, Event, Lead, format_instant, to_seconds
from mqldsl.io.scoring import decision_line
from mqldsl.language import ast
from mqldsl.language.notation import expr
from mqldsl.language.printer import format_policy
from mqldsl.render.english import English
from mqldsl.warehouse.compiler import DIALECTS, compile_sql
from mqldsl.warehouse.engine import DuckDBEngine

from .helpers import condition, run

T = to_seconds(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
HOUR = 3600.0

SCHEMA = """policy "aggregates"
lead {
  size: int
}
event run { n: int, minutes: number, branch: text }
event view { path: text }
"""

Engine = Callable[[str, Lead, float], Decision]


def checked(text: str) -> CheckedPolicy:
    result = check_text(text, "t.mql")
    errors = [d.render(result.source) for d in result.diagnostics if d.is_error]
    assert result.model is not None and not errors, "\n".join(errors)
    return result.model


def _compiled(text: str, subject: Lead, as_of: float) -> Decision:
    return Evaluator(checked(text)).decide(subject, as_of)


def _interpreted(text: str, subject: Lead, as_of: float) -> Decision:
    return Interpreter(checked(text)).decide(subject, as_of)


def _duckdb(text: str, subject: Lead, as_of: float) -> Decision:
    with DuckDBEngine(checked(text), threads=1) as engine:
        engine.load_leads(iter([subject]))
        (decided,) = list(engine.decide(as_of))
    return decided.decision


@pytest.fixture(
    params=[_compiled, _interpreted, _duckdb], ids=["compiled", "interpreter", "duckdb"]
)
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.param  # type: ignore[no-any-return]


def lead(*events: tuple[str, float, dict[str, Any]], size: int = 100) -> Lead:
    """A lead with events at T + offset (seconds), in time order."""
    built = [
        Event(at=T + offset, type=kind, fields=fields, index=index)
        for index, (kind, offset, fields) in enumerate(events)
    ]
    built.sort(key=lambda e: e.at)
    return Lead(id="L", profile={"size": size}, events=tuple(built))


def run_event(days_ago: float, **fields: Any) -> tuple[str, float, dict[str, Any]]:
    return ("run", -days_ago * DAY, fields)


def scores(engine: Engine, body: str, subject: Lead, stages: str = "") -> dict[str, Any]:
    text = SCHEMA + body + "\n" + (stages or "stages {\n  visitor\n}\n")
    return dict(engine(text, subject, T).scores)


# ---------------------------------------------------------------- values


def test_sum_counts_the_window_half_open_at_t_minus_d(engine: Engine) -> None:
    # within 7 days is (T - 7d, T]: the event exactly 7 days old is out, one second younger is
    # in, and one at T itself is in: 2 + 3 = 5 (the 100 is out).
    subject = lead(
        ("run", -7 * DAY, {"n": 100}),
        ("run", -7 * DAY + 1, {"n": 2}),
        ("run", 0.0, {"n": 3}),
    )
    got = scores(engine, "score s = sum(run.n within 7 days)\nscore e = sum(run.n)", subject)
    assert got == {"s": 5, "e": 105}


def test_an_event_without_the_field_adds_nothing_and_is_not_averaged(engine: Engine) -> None:
    # minutes 2 and 4, and a run without minutes: sum 6, avg 6 / 2 = 3 (not 6 / 3 = 2);
    # max 4, min 2. The run without minutes still counts as a run (count 3).
    subject = lead(run_event(3, minutes=2), run_event(2, n=1), run_event(1, minutes=4))
    body = (
        "score total = sum(run.minutes)\nscore mean = avg(run.minutes)\n"
        "score most = max(run.minutes)\nscore least = min(run.minutes)\nscore runs = count(run)"
    )
    assert scores(engine, body, subject) == {
        "total": 6,
        "mean": 3,
        "most": 4,
        "least": 2,
        "runs": 3,
    }


def test_nothing_to_aggregate_sum_is_zero_the_others_are_missing(engine: Engine) -> None:
    # Only a run without minutes: the sum is 0; max, min and avg are missing, so the formula
    # scores are missing, a comparison with them is false and `not` of it is true.
    subject = lead(run_event(1, n=5))
    body = (
        "score total = sum(run.minutes)\nscore mean = avg(run.minutes)\n"
        "score plus = max(run.minutes) + 1\n"
        "score rules {\n"
        "  +1 when min(run.minutes) >= 0\n"
        "  +10 when not (avg(run.minutes) < 100)\n"
        "  +100 when sum(run.minutes) == 0\n"
        "}"
    )
    assert scores(engine, body, subject) == {
        "total": 0,
        "mean": None,
        "plus": None,
        "rules": 110,
    }
    assert scores(engine, body, lead()) == {"total": 0, "mean": None, "plus": None, "rules": 110}


def test_where_filters_the_events_by_their_own_fields_then_the_leads(engine: Engine) -> None:
    subject = lead(
        run_event(3, n=4, branch="main"),
        run_event(2, n=7, branch="dev"),
        run_event(1, n=5, branch="main"),
    )
    body = (
        'score main = sum(run.n where branch == "main")\n'
        "score big = max(run.n where size > 50 within 50 hours)\n"
    )
    # main: 4 + 5 = 9; big (the lead's size 100 > 50) over the last 50 hours: max(7, 5) = 7
    assert scores(engine, body, subject) == {"main": 9, "big": 7}
    small = Lead(id="L", profile={"size": 10}, events=subject.events)
    assert scores(engine, body, small) == {"main": 9, "big": None}


def test_number_sums_are_exact_whatever_the_order(engine: Engine) -> None:
    # Ten runs of 0.1 minutes: adding them in order gives 0.9999999999999999, the exact sum
    # rounded once is 1.0, so `>= 1` holds; the average is 1.0 / 10 = 0.1.
    subject = lead(*[run_event(1 + i / 24, minutes=0.1) for i in range(10)])
    body = "score s {\n  +5 when sum(run.minutes) >= 1\n  +2 when avg(run.minutes) == 0.1\n}"
    assert scores(engine, body, subject) == {"s": 7}


def test_avg_is_not_rounded_before_it_is_compared(engine: Engine) -> None:
    # (1.003 + 1.006) / 2 = 1.0045 > 1.004 (rounded to two decimals it would be 1.0, below);
    # as a score it is rounded at the end: 1.00 -> 1.
    subject = lead(run_event(2, minutes=1.003), run_event(1, minutes=1.006))
    body = "score s {\n  +3 when avg(run.minutes) > 1.004\n}\nscore a = avg(run.minutes)"
    assert scores(engine, body, subject) == {"s": 3, "a": 1}


def test_int_sums_stay_whole_and_max_of_numbers_keeps_fractions(engine: Engine) -> None:
    subject = lead(run_event(2, n=40, minutes=12.25), run_event(1, n=2, minutes=0.5))
    got = scores(engine, "score s = sum(run.n)\nscore m = max(run.minutes)", subject)
    assert got == {"s": 42, "m": 12.25}
    assert isinstance(got["s"], int)


def test_aggregates_never_decay(engine: Engine) -> None:
    # Three days old with 50% a day: a `when` rule on the pattern itself gives 10 x 0.5^3 =
    # 1.25; a rule that reads the sum gives its full 10.
    subject = lead(run_event(3, n=4))
    body = (
        "score d decay 50% every 1 day {\n  +10 when sum(run.n) >= 4\n}\n"
        "score p decay 50% every 1 day {\n  +10 when run ever\n}"
    )
    assert scores(engine, body, subject) == {"d": 10, "p": 1.25}


# ---------------------------------------------------------------- over time


def test_a_stage_enters_when_the_total_crosses_and_leaves_when_a_run_leaves_the_window(
    engine: Engine,
) -> None:
    # n=6 at T-10d, n=5 at T-8d: the 7-day sum is 11 >= 10 from T-8d; at T-3d (T-10d + 7d) the
    # first run leaves the window, the sum is 5 and the lead falls back to visitor.
    subject = lead(run_event(10, n=6), run_event(8, n=5))
    stages = "stages {\n  visitor\n  mql when sum(run.n within 7 days) >= 10\n}\n"
    decision = engine(SCHEMA + stages, subject, T)
    assert decision.stage == "visitor"
    assert decision.entered == {"mql": T - 8 * DAY, "visitor": T - 3 * DAY}
    decision = engine(SCHEMA + stages, subject, T - 3 * DAY - 1)
    assert decision.stage == "mql"


def test_max_falls_back_when_the_largest_run_leaves_the_window(engine: Engine) -> None:
    # max over 7 days: 30 (T-9d) until T-2d, then 12 (T-4d); `max >= 20` holds from T-9d to
    # T-2d.
    subject = lead(run_event(9, minutes=30), run_event(4, minutes=12))
    stages = "stages {\n  visitor\n  mql when max(run.minutes within 7 days) >= 20\n}\n"
    decision = engine(SCHEMA + stages, subject, T)
    assert decision.entered == {"mql": T - 9 * DAY, "visitor": T - 2 * DAY}


def test_after_recycling_only_the_fresh_journeys_runs_count() -> None:
    # n=10 at T-50d makes an MQL; with no event for 30 days it is recycled at T-20d and its
    # journey restarts, so the run of n=5 at T-5d sums to 5 (not 15): it stays a visitor.
    text = SCHEMA + (
        "score total = sum(run.n)\n"
        "stages locked {\n  visitor\n  mql when sum(run.n) >= 10\n}\n"
        "recycle mql to visitor when no event within 30 days\n"
    )
    subject = lead(run_event(50, n=10), run_event(5, n=5))
    for engine in (_compiled, _interpreted):
        decision = engine(text, subject, T)
        assert decision.stage == "visitor"
        assert decision.scores == {"total": 5}
        assert decision.entered == {"mql": T - 50 * DAY, "visitor": T - 20 * DAY}


def test_the_compiled_timeline_visits_an_aggregates_matches_and_window_ends_only() -> None:
    # The change points of `sum(run.n within 7 days)` are the runs and the runs + 7 days, as
    # for count(); every instant is visited only for events at fractions of a second.
    model = checked(SCHEMA + "stages {\n  visitor\n  mql when sum(run.n within 7 days) >= 10\n}\n")
    lines = [line.strip() for line in Evaluator(model).source.splitlines()]
    assert lines.count("pts = None") == 1
    assert lines[lines.index("pts = None") - 1] == "if (not _whole(tts)):"
    assert "P.update(m0, [a + 604800.0 for a in m0])" in lines


# ---------------------------------------------------------------- the checker


def diagnostics(body: str) -> list[tuple[str, str]]:
    result = check_text(SCHEMA + body + "\nstages {\n  visitor\n}\n", "t.mql")
    return [(d.code, d.message) for d in result.diagnostics if d.is_error]


@pytest.mark.parametrize(
    ("aggregate", "noun"),
    [
        ("sum(run.n)", "an int"),
        ("sum(run.minutes)", "a number"),
        ("max(run.n)", "an int"),
        ("min(run.minutes)", "a number"),
        ("avg(run.n)", "a number"),
    ],
)
def test_the_type_of_each_aggregate(aggregate: str, noun: str) -> None:
    found = diagnostics(f"score s {{\n  +1 when {aggregate} contains 1\n}}")
    assert found == [("E304", f"`contains` needs a set or a text; this is {noun}")]


@pytest.mark.parametrize(
    ("aggregate", "code", "message", "hint"),
    [
        ("sum(runs.n)", "E202", "unknown event `runs`", "did you mean `run`?"),
        ("avg(run.mins)", "E203", "unknown field `mins` of event `run`", None),
        ("sum(view.clicks)", "E203", "unknown field `clicks` of event `view`", "no int or"),
        ("max(run.branch)", "E320", "`max` needs a numeric field: `run.branch` is text", None),
        ("sum(size.n)", "E209", "`size` is not an event", None),
        ("sum(event.n)", "E220", "`sum(event.n)` needs one event type", "run.n"),
    ],
)
def test_wrong_aggregates_are_named_errors(
    aggregate: str, code: str, message: str, hint: str | None
) -> None:
    result = check_text(SCHEMA + f"stages {{\n  visitor\n  mql when {aggregate} > 1\n}}\n")
    errors = [d for d in result.diagnostics if d.is_error]
    assert [d.code for d in errors] == [code]
    assert errors[0].message.startswith(message)
    if code == "E203" and hint is None:
        assert errors[0].hint == "did you mean `minutes`?"
    elif hint is not None:
        assert hint in (errors[0].hint or "")


def test_aggregates_are_unbounded_so_no_threshold_is_called_unreachable() -> None:
    # A field's values are unbounded (negative too): a score that is a total has no bounds, and
    # a threshold on it is never "unreachable" (W501), however high or low.
    result = check_text(
        SCHEMA + "score total = sum(run.n) + max(run.minutes)\n"
        "stages {\n  visitor\n  mql when total >= 1000000\n  sql when total < -1000000\n}\n"
    )
    assert result.model is not None
    bounds = result.model.scores["total"].bounds
    assert (bounds.low, bounds.high) == (-math.inf, math.inf)
    assert "W501" not in {d.code for d in result.diagnostics}


def test_the_field_is_underlined_where_it_is_written() -> None:
    result = check_text(SCHEMA + "stages {\n  visitor\n  mql when sum(run.mins) > 1\n}\n")
    (error,) = result.diagnostics
    assert (error.span.line, error.span.column, error.span.end_column) == (9, 20, 24)


def test_an_aggregate_inside_where_is_refused_like_a_pattern() -> None:
    found = diagnostics('score s {\n  +1 per view where sum(run.n) > 1 and path == "/"\n}')
    assert found == [
        (
            "E316",
            "a `where` condition speaks of one event and the lead: it cannot hold `sum(...)`",
        )
    ]


def test_sum_min_and_avg_stay_free_as_names() -> None:
    text = SCHEMA.replace("size: int", "size: int\n  avg: int") + (
        "param sum = 3\nscore min {\n  +1 when avg > sum\n}\n"
        "stages {\n  visitor\n  mql when min >= 1 and sum(run.n) > sum\n}\n"
    )
    model = checked(text)
    assert Interpreter(model).decide(lead(run_event(1, n=4)), T).stage == "visitor"


# ---------------------------------------------------------------- text


def test_printer_writes_aggregates_canonically_and_round_trips() -> None:
    messy = SCHEMA + (
        "stages {\n  visitor\n"
        '  mql when sum (run.n where branch == "main" or branch == "dev"   within 7 days) >= 3\n'
        "    and avg(\n      run.minutes ever) < 2 or max(run.n) + min(run.n) > 1\n}\n"
    )
    result = check_text(messy, "t.mql")
    assert result.model is not None
    printed = format_policy(result.model.policy, result.source)
    assert (
        '  mql when sum(run.n where branch == "main" or branch == "dev" within 7 days) >= 3\n'
        "      and avg(run.minutes ever) < 2\n    or max(run.n) + min(run.n) > 1\n"
    ) in printed
    again = check_text(printed, "t.mql")
    assert again.model is not None
    assert format_policy(again.model.policy, again.source) == printed
    assert again.model.stages == result.model.stages


def test_an_aggregate_parses_to_its_node() -> None:
    node = condition("max(run.n where branch == 1 within 3 days) > 2")
    assert isinstance(node, ast.Compare)
    assert node.left == ast.Aggregate(
        function="max",
        field="n",
        pattern=ast.Pattern(
            event="run",
            where=ast.Compare(op="==", left=ast.Name(name="branch"), right=ast.NumberLit(value=1)),
            window=ast.Duration(amount=3, unit="day"),
        ),
    )
    assert expr(node) == "max(run.n where branch == 1 within 3 days) > 2"


@pytest.mark.parametrize(
    ("text", "english"),
    [
        (
            "sum(run.n within 7 days) >= 100",
            "the total `n` of runs in the last 7 days is at least 100",
        ),
        ("max(run.minutes) > 3", "the largest `minutes` of runs is above 3"),
        (
            'min(run.n where branch == "main") < 2',
            'the smallest `n` of runs where branch is "main" is below 2',
        ),
        (
            "avg(run.minutes within 1 day) <= 5",
            "the average `minutes` of runs in the last day is at most 5",
        ),
    ],
)
def test_aggregates_in_english(text: str, english: str) -> None:
    model = checked(SCHEMA + f"stages {{\n  visitor\n  mql when {text}\n}}\n")
    stage = model.stages.stages[1]
    assert stage.condition is not None
    assert English(model).condition(stage.condition) == english


def test_diff_notices_a_changed_aggregate(tmp_path: Path) -> None:
    old = SCHEMA + (
        "score usage {\n  +15 when sum(run.n within 7 days) >= 100\n}\n"
        "stages {\n  visitor\n  mql when usage >= 15\n}\n"
    )
    new = old.replace("sum(run.n within 7 days)", "avg(run.n within 14 days)")
    (tmp_path / "a.mql").write_text(old)
    (tmp_path / "b.mql").write_text(new)
    code, out, _ = run("diff", str(tmp_path / "a.mql"), str(tmp_path / "b.mql"))
    assert code == 0
    assert out.splitlines() == [
        'score usage: rule "+15 when the average `n` of runs in the last 14 days is at least 100"'
        " condition: the total `n` of runs in the last 7 days is at least 100 → the average `n`"
        " of runs in the last 14 days is at least 100"
    ]


def test_explanation_lists_the_runs_behind_a_total_and_its_value(tmp_path: Path) -> None:
    policy = tmp_path / "p.mql"
    policy.write_text(
        SCHEMA
        + "score usage {\n  +15 when sum(run.minutes within 7 days) >= 10\n}\n"
        + "stages {\n  visitor\n  mql when usage >= 15 and avg(run.minutes) > 5\n}\n"
    )
    events = [
        {"type": "run", "at": format_instant(T - 9 * DAY), "minutes": 50},  # out of the window
        {"type": "run", "at": format_instant(T - 2 * DAY), "minutes": 4},
        {"type": "run", "at": format_instant(T - 1 * DAY), "n": 3},  # no minutes: not behind it
        {"type": "run", "at": format_instant(T - HOUR), "minutes": 7.5},
    ]
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(json.dumps({"id": "L1", "profile": {"size": 5}, "events": events}) + "\n")
    args = ["explain", str(policy), str(journeys), "--lead", "L1", "--as-of", format_instant(T)]
    code, out, err = run(*args, "--format", "json")
    assert code == 0, err
    why = json.loads(out)["explanation"]
    (rule,) = why["scores"]["usage"]["rules"]
    # 4 + 7.5 = 11.5 >= 10 in the last 7 days: the two runs with minutes in the window
    assert rule["points"] == 15
    assert [(e["at"], e["fields"]["minutes"]) for e in rule["events"]] == [
        (format_instant(T - 2 * DAY), 4),
        (format_instant(T - HOUR), 7.5),
    ]
    code, text, err = run(*args)
    assert code == 0, err
    # the mean of every run with minutes: (50 + 4 + 7.5) / 3 = 20.5
    assert "[yes] avg(run.minutes) 20.5 > 5" in text
    assert "run at 2026-10-31 23:00 UTC (minutes: 7.5), 1 hour old" in text


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_exact_sum_is_duckdbs_fsum_and_a_plain_sum_elsewhere(dialect: str) -> None:
    model = checked(
        SCHEMA + "stages {\n  visitor\n  mql when sum(run.minutes within 7 days) >= 10\n"
        "    or avg(run.minutes) > 2 or sum(run.n) > 3\n}\n"
    )
    text = compile_sql(model, T).sql(dialect).upper()
    if dialect == "duckdb":
        # the number sum and the sum inside avg are exact; the int sum is a plain SUM
        assert text.count("FSUM(") == 2 and text.count(" SUM(") + text.count("(SUM(") >= 1
    else:
        assert "FSUM(" not in text and "SUM(" in text


# ---------------------------------------------------------------- past the largest float


@pytest.mark.parametrize("decide", [_compiled, _interpreted], ids=["compiled", "interpreter"])
def test_sums_whose_partial_sums_pass_the_largest_float_are_exact(
    decide: Engine,
) -> None:
    # 1e308 + 1e308 - 1e308 passes the largest float on the way (math.fsum gives up there);
    # the exact sum is 1e308, and the mean of 1e308 and 1e308 is 1e308. A sum that is itself
    # past the largest float is infinite: missing as a score (SPEC §4 writes no infinity).
    subject = lead(run_event(3, minutes=1e308), run_event(2, minutes=1e308))
    body = (
        "score s = sum(run.minutes within 7 days)\n"
        "score a = avg(run.minutes within 7 days)\n"
        "score small = sum(run.minutes within 30 hours)"
    )
    got = scores(decide, body, lead(*subject_events(1e308, 1e308, -1e308)))
    assert got == {"s": 1e308, "a": 1e308 / 3, "small": -1e308}
    assert scores(decide, body, subject) == {"s": None, "a": 1e308, "small": 0}


def subject_events(*minutes: float) -> list[tuple[str, float, dict[str, Any]]]:
    """Runs 3, 2 and 1 days before T with these minutes."""
    return [run_event(3 - i, minutes=m) for i, m in enumerate(minutes)]


def test_a_whole_score_past_64_bits_is_written_as_a_number(engine: Engine) -> None:
    # Whole scores are written as integers (SPEC §4); one past the 64-bit range, which JSON
    # writers do not take as an integer, stays the float it is.
    body = "score big = size * 1000000000000000000.0\nscore small = size * 2.0"
    decision = engine(SCHEMA + body + "\nstages {\n  visitor\n}\n", lead(size=100), T)
    assert decision.scores == {"big": 1e20, "small": 200}
    assert isinstance(decision.scores["big"], float) and isinstance(decision.scores["small"], int)
    assert b'"scores":{"big":1e+20,"small":200}' in decision_line(decision)


@pytest.mark.parametrize("decide", [_compiled, _interpreted], ids=["compiled", "interpreter"])
def test_a_sum_of_whole_points_past_64_bits_is_written_as_a_number(decide: Engine) -> None:
    # The compiled sum of whole points was an int whatever its size (JSON writers refuse one
    # past 64 bits); three runs of 9e18 points are 2.7e19, past it: the float it is.
    body = "score big {\n  +9000000000000000000 per run\n}\nscore ok {\n  +3 per run\n}"
    subject = lead(run_event(1, n=1), run_event(2, n=1), run_event(3, n=1))
    decision = decide(SCHEMA + body + "\nstages {\n  visitor\n}\n", subject, T)
    assert decision.scores == {"big": 2.7e19, "ok": 9}
    assert type(decision.scores["big"]) is float and type(decision.scores["ok"]) is int
    assert b'"scores":{"big":2.7e+19,"ok":9}' in decision_line(decision)
