"""Bad scenarios and bad input to the simulation commands (issue 17): each class of hostile
input gets a positioned message with its code (docs/errors.md E800-E851), exit 1 (2 for the
command line), never an internal error; generation is bounded before it starts; a run that
rejected records exits 1 unless --allow-rejects."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqldsl.engine.runtime import parse_instant
from mqldsl.simulation.scenario import Sales

from .conftest import ROOT
from .helpers import run

ACME = str(ROOT / "policies" / "acme.mql")
SCENARIO = ROOT / "simulations" / "acme.toml"
POSITION = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+)(?::(?P<column>\d+))?: error\[(?P<code>E\d{3})\]"
)


def _scenario(tmp_path: Path, old: str = "", new: str = "", name: str = "bad.toml") -> Path:
    """acme.toml naming its policy by an absolute path, with ``old`` replaced by ``new``."""
    text = SCENARIO.read_text(encoding="utf-8").replace(
        'policy = "../policies/acme.mql"', f'policy = "{ACME}"'
    )
    if old:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(err: str) -> list[dict[str, str]]:
    return [m.groupdict() for line in err.splitlines() if (m := POSITION.match(line))]


def test_broken_toml_is_reported_where_it_breaks(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "days = 91", "days = = 91")
    line = path.read_text().splitlines().index("days = = 91") + 1
    for args in (["generate", str(path)], ["simulate", ACME, "--scenario", str(path)]):
        code, _, err = run(*args)
        assert code == 1, err
        assert f"{path}:{line}:8: error[E801]: invalid TOML: Invalid value" in err, err
        assert "(at line" not in err  # the position is the prefix, not buried in the text
    path.write_text('[scenario]\nname = "x"\nstart = 2026-01-01\ndays = [1, 2\n')
    code, _, err = run("generate", str(path), "--policy", ACME)
    assert code == 1 and f"{path}:4:" in err and "error[E801]" in err, err


@pytest.mark.parametrize(
    ("old", "new", "code", "expected", "line_has"),
    [
        (
            "min = 5, max = 200000",
            "min = 500, max = 5",
            "E805",
            "company_size.min: min = 500 is above max = 5",
            "min = 500",
        ),
        (
            "lognormal = [6.3, 1.1], min = 5, max = 200000",
            "uniform = [100, 10]",
            "E805",
            "company_size.uniform: the low bound 100 is above the high bound 10",
            "uniform = [100, 10]",
        ),
        (
            "missing = { seniority = 0.2",
            "missing = { senority = 0.2",
            "E806",
            "missing.senority: the policy declares no lead field of this name; "
            "did you mean `seniority`?",
            "senority",
        ),
        (
            'working_days = ["mon", "tue", "wed", "thu", "fri"]',
            'working_days = "mon"',
            "E803",
            'sales.working_days: expected a list of weekdays such as ["mon", "tue"], got \'mon\'',
            "working_days",
        ),
        (
            'working_days = ["mon", "tue", "wed", "thu", "fri"]',
            "working_days = []",
            "E804",
            "no working days",
            "working_days",
        ),
        ("per_day = 40", "per_day = inf", "E804", "per_day: expected a number, got inf", "inf"),
        ("per_day = 40", "per_day = nan", "E804", "per_day: expected a number, got nan", "nan"),
        ("per_day = 40", "per_day = -4", "E804", "per_day: must be between 0 and 1e+06", "-4"),
        ("per_day = 40", "per_day = 1e12", "E804", "1e+06 is a hard limit", "1e12"),
        (
            "weekday_shape = [1.2, 1.25, 1.2, 1.1, 0.9, 0.2, 0.15]",
            "weekday_shape = [0, 0, 0, 0, 0, 0, 0.0]",
            "E804",
            "every weekday's weight is 0, so no lead could arrive on any day",
            "weekday_shape",
        ),
        (
            "page_view = 0.7",
            "page_view = 1e7",
            "E804",
            "page_view: must be between 0 and 1e+06",
            "1e7",
        ),
        (
            "researching = 14",
            "researching = 1e9",
            "E804",
            "states.researching: must be between",
            "1e9",
        ),
        ("weight = 3", "weight = 1e300", "E804", "weight: must be between 0 and 1e+06", "1e300"),
        (
            "lognormal = [6.3, 1.1]",
            "lognormal = [1e6, 1.1]",
            "E804",
            "a lognormal's mu is at most",
            "1e6",
        ),
        (
            "days = 91",
            "days = 100000",
            "E804",
            "scenario.days: must be between 1 and 3650",
            "100000",
        ),
        (
            "start = 2026-09-01",
            "start = 9999-12-20",
            "E807",
            "91 days from 9999-12-20 run past the last day of the calendar (9999-12-31); "
            "the last possible start is 9999-10-01",
            "9999-12-20",
        ),
        (
            "sql_rate = 0.65",
            'sql_rate = "high"',
            "E803",
            "expected a probability, got 'high'",
            '"high"',
        ),
        ("per_day = 40", "per_dya = 40", "E802", "unknown key; did you mean `per_day`?", "per_dya"),
        ("days = 91", "days = 30.5", "E803", "expected a whole number of days, got 30.5", "days"),
        ('name = "Acme', 'name = 7\nx = "Acme', "E803", "scenario.name: expected text", "name"),
        (
            'working_days = ["mon", "tue"',
            'working_days = ["mon", "mon"',
            "E806",
            "`mon` is listed twice",
            "working_days",
        ),
        (
            "capacity_per_day = 14",
            "capacity_per_day = 14\ncapacty = 4",
            "E802",
            "sales.queues.sdr_inbound.capacty: unknown key",
            "capacty",
        ),
        (
            "[sales.queues.sdr_inbound]",
            "[sales.queues.sdr_inbond]",
            "E806",
            "no route of the policy uses the queue `sdr_inbond`; did you mean `sdr_inbound`?",
            "sdr_inbond",
        ),
        (
            "working_hours = [9, 17]",
            "working_hours = [17, 9]",
            "E803",
            "the start (17) must come before the end (9), e.g. [9, 17]",
            "working_hours",
        ),
        (
            "[event_fields.page_view]\npath",
            "[event_fields.page_view]\npth",
            "E806",
            "event `page_view` has no field `pth`; did you mean `path`?",
            "pth",
        ),
        (  # (a negative longest duration made the state last 0 days, without a word)
            "[states]",
            "[states]\nquick = { lognormal = [1, 1], max = -1 }",
            "E804",
            "states.quick.max: a state lasts 0 days or more",
            "quick",
        ),
        (  # (2.5 was rounded half to even, 0.5 to no touch at all)
            "sdr_capacity_per_day = 12",
            "sdr_capacity_per_day = 2.5",
            "E803",
            "expected a whole number of touches a day, got 2.5",
            "sdr_capacity_per_day",
        ),
    ],
)
def test_values_that_make_no_sense_are_refused_at_their_line(
    tmp_path: Path,
    old: str,
    new: str,
    code: str,
    expected: str,
    line_has: str,
) -> None:
    path = _scenario(tmp_path, old, new)
    lines = path.read_text().splitlines()
    for args in (
        ["generate", str(path), "--leads", "5"],
        ["simulate", ACME, "--scenario", str(path), "--leads", "5"],
    ):
        code_, out, err = run(*args)
        assert code_ == 1, err
        assert out == ""  # nothing was generated
        problem = next(p for p in _problems(err) if p["code"] == code and expected in err)
        assert problem["file"] == str(path)
        assert line_has in lines[int(problem["line"]) - 1], (problem, err)
        assert "internal error" not in err


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_scenario_is_an_input_problem(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.toml"
    path.write_text(text)
    for args in (
        ["generate", str(path)],
        ["generate", str(path), "--policy", ACME],
        ["simulate", ACME, "--scenario", str(path)],
    ):
        code, _, err = run(*args)
        assert code == 1, err
        assert f"{path}: error[E808]: the scenario is empty" in err


def test_a_scenario_that_is_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[scenario]\nname = "caf\xe9"\n')
    code, _, err = run("generate", str(path))
    assert code == 1
    assert (
        f"{path}:2:12: error[E800]: cannot read the scenario: not UTF-8 text (byte 22: 0xe9)" in err
    )


def test_generation_is_refused_before_work_when_it_could_not_end(tmp_path: Path) -> None:
    busy = _scenario(tmp_path, "page_view = 0.7", "page_view = 5000")
    started = dt.datetime.now()
    code, out, err = run("generate", str(busy), "--leads", "500")
    assert code == 1 and out == ""
    # 500 leads x (5000 + the persona's other researching rates) a day x 91 days
    assert "error[E809]: this run could generate about 22" in err, err
    assert "at most 200,000,000 estimated a run" in err and "hint: lower --leads or --days" in err
    code, _, err = run("simulate", ACME, "--scenario", str(busy), "--leads", "500")
    assert code == 1 and "error[E809]" in err, err
    code, _, err = run("whatif", ACME, "--scenario", str(busy), "--set", "mql_fit_min=40")
    assert code == 1 and "error[E809]" in err, err
    assert (dt.datetime.now() - started).total_seconds() < 20  # refused, not attempted
    # arrivals alone: 1e6 a day for 3650 days is 3.65 billion leads
    crowd = _scenario(tmp_path, "per_day = 40", "per_day = 1e6", "crowd.toml")
    crowd.write_text(crowd.read_text().replace("days = 91", "days = 3650", 1))
    code, _, err = run("generate", str(crowd))
    assert code == 1 and "error[E809]: the scenario expects" in err and "10,000,000" in err, err
    good = _scenario(tmp_path, name="good.toml")
    for option, value in (("--leads", "10000001"), ("--days", "3651"), ("--leads", "0")):
        code, _, err = run("generate", str(good), option, value)
        assert code == 2 and option in err, err
    late = _scenario(tmp_path, "start = 2026-09-01", "start = 9999-12-01", "late.toml")
    late.write_text(late.read_text().replace("days = 91", "days = 30", 1))
    code, _, err = run("generate", str(late), "--days", "40")
    assert code == 2 and "at most 30 days" in err, err


def test_the_work_estimate_bounds_what_is_generated(tmp_path: Path) -> None:
    """The estimate is an upper bound of the events really generated (counted here from
    the JSON Lines), so the limit never refuses a run that would fit it."""
    from mqldsl.io.policy import load_policy
    from mqldsl.simulation.generate import estimate
    from mqldsl.simulation.sources import open_scenario

    output = tmp_path / "j.jsonl"
    code, _, err = run("generate", str(SCENARIO), "--leads", "300", "-o", str(output))
    assert code == 0, err
    events = sum(len(json.loads(line)["events"]) for line in output.read_text().splitlines())
    scenario = open_scenario(SCENARIO, load_policy(ACME))
    assert 0 < events <= estimate(scenario, leads=300)
    # the scenarios shipped are a hundred times under the limit
    for path in sorted((ROOT / "simulations").glob("*.toml")):
        text = path.read_text()
        named = re.search(r'policy = "([^"]+)"', text)
        assert named is not None
        model = load_policy(str((path.parent / named.group(1)).resolve()))
        assert estimate(open_scenario(path, model)) < 500_000 * 2


def test_the_events_really_generated_are_held_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The estimate is an upper bound far above what most runs generate (a million Acme
    leads: about 171 million estimated, about 21 million generated), so the limit of
    events is also kept while generating: past it the run stops with E809, nothing written
    and nothing simulated."""
    from mqldsl.io.policy import load_policy
    from mqldsl.simulation import generate as generate_module
    from mqldsl.simulation.simulate import SimulationOptions, simulate
    from mqldsl.simulation.sources import (
        ScenarioProblem,
        Source,
        generate_journeys,
        open_scenario,
    )

    scenario = open_scenario(SCENARIO, load_policy(ACME))
    journeys = list(generate_module.generate(scenario, leads=200))
    events = sum(len(journey["events"]) for journey in journeys)
    # the journey whose events pass the limit: the first past it, counted independently
    limit = events // 2
    running, stop = 0, None
    for journey in journeys:
        running += len(journey["events"])
        if running > limit:
            stop = journey["id"]
            break
    monkeypatch.setattr(generate_module, "MAX_EVENTS", limit)
    expected = (
        f"error[E809]: this run passed {limit:,} events at its journey {stop}; "
        f"at most {limit:,} a run"
    )
    output = tmp_path / "j.jsonl"
    with pytest.raises(ScenarioProblem) as caught:
        generate_journeys(SCENARIO, output, leads=200)
    assert expected in caught.value.lines[0] and not output.exists()
    for jobs in (1, 2):
        with pytest.raises(ScenarioProblem) as caught:
            simulate(
                load_policy(ACME),
                Source(scenario=SCENARIO, leads=200),
                SimulationOptions(jobs=jobs),
            )
        assert expected in caught.value.lines[0]
    monkeypatch.setattr(generate_module, "MAX_EVENTS", events)  # exactly at the limit: runs
    assert generate_journeys(SCENARIO, output, leads=200) == 200


def test_a_scenario_at_the_end_of_the_calendar_generates(tmp_path: Path) -> None:
    """The last possible start works, and buying windows that would close after 9999 close
    on its last second instead of crashing."""
    path = _scenario(tmp_path, "start = 2026-09-01", "start = 9999-10-01")
    path.write_text(path.read_text().replace("researching = 14", "researching = 3650", 1))
    output = tmp_path / "late.jsonl"
    code, _, err = run("generate", str(path), "--leads", "60", "-o", str(output))
    assert code == 0, err
    last = parse_instant("9999-12-31T23:59:59Z")
    for line in output.read_text().splitlines():
        journey = json.loads(line)
        for event in journey["events"]:
            assert parse_instant(event["at"]) < parse_instant("9999-12-31T00:00:00Z")
        closes = journey["truth"].get("window_closes")
        if closes is not None:
            assert parse_instant(closes) <= last


@pytest.fixture()
def bad_journeys(tmp_path: Path) -> tuple[Path, int, int]:
    """Journeys with two lines that cannot be read; (file, lines, bad lines)."""
    path = tmp_path / "j.jsonl"
    code, _, err = run("generate", str(SCENARIO), "--leads", "40", "--seed", "5", "-o", str(path))
    assert code == 0, err
    lines = path.read_text().splitlines()
    lines[3] = '{"id": "broken'
    lines.insert(10, '{"id": "L-x", "profile": 3}')
    path.write_text("\n".join(lines) + "\n")
    bad = 0
    for line in lines:  # independent count: lines that are not a journey object
        try:
            record = json.loads(line)
            bad += not isinstance(record.get("profile"), dict)
        except ValueError:
            bad += 1
    return path, len(lines), bad


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", ACME],
        ["whatif", ACME, "--set", "mql_fit_min=40"],
        ["sweep", ACME, "--param", "mql_fit_min=30..40:10"],
        ["tune", ACME, "--param", "mql_fit_min=30..40:10", "--maximize", "mqls"],
    ],
)
def test_a_run_that_rejected_records_exits_1_unless_allowed(
    bad_journeys: tuple[Path, int, int], args: list[str]
) -> None:
    path, total, bad = bad_journeys
    assert bad == 2
    code, out, err = run(*args, "--journeys", str(path))
    assert code == 1, err
    assert out  # the report is still printed
    assert f"{path}: {total} read, {total - bad} used, {bad} rejected" in err
    assert f"{path}: error[E850]: {bad} records rejected; the figures leave them out" in err
    assert f"{path}:4:15: error[E701]" in out + err  # tune prints its notes in the report
    code, _, err = run(*args, "--journeys", str(path), "--allow-rejects")
    assert code == 0, err
    assert "error[E850]" not in err and f"{bad} rejected" in err


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", "the expression is empty"),
        ("   ", "the expression is empty"),
        ("mqls.delta_pct >", "at column 17: the expression ends too early"),
        ("mqls.delta_pct > > 3", "at column 18: invalid syntax"),
        ("mqls.delta_pct > 2 and mqls.delta", "`mqls.delta` at column 24 is not a condition"),
        ("1", "`1` at column 1 is not a condition"),
        ("not 3", "`3` at column 5 is not a condition"),
        ("mqls.delta_pct ** 2 > 1", "`mqls.delta_pct ** 2` at column 1 is not read"),
    ],
)
def test_odd_gate_expressions_are_usage_errors_with_a_position(
    bad_journeys: tuple[Path, int, int], expression: str, expected: str
) -> None:
    path = bad_journeys[0]
    code, out, err = run(
        "whatif", ACME, "--set", "mql_fit_min=40", "--journeys", str(path), "--fail-if", expression
    )
    assert code == 2 and out == "", err
    assert "error[E851]" in err and expected in err, err
    subject = expression.replace("mqls.delta_pct", "mql_precision").replace("mqls.delta", "mqls")
    code, out, err = run(
        "tune", ACME, "--param", "mql_fit_min=30..40:10", "--maximize", "mqls",
        "--journeys", str(path), "--subject-to", subject,
    )  # fmt: skip
    assert code == 2 and out == "", err
    assert "error[E851]" in err, err


def _reports(tmp_path: Path) -> tuple[dict[str, object], dict[str, object]]:
    journeys = tmp_path / "j.jsonl"
    assert run("generate", str(SCENARIO), "--leads", "60", "-o", str(journeys))[0] == 0
    simulate, whatif = tmp_path / "s.json", tmp_path / "w.json"
    assert run("simulate", ACME, "--journeys", str(journeys), "-o", str(simulate))[0] == 0
    code, _, err = run(
        "whatif", ACME, "--set", "mql_fit_min=40", "--journeys", str(journeys), "-o", str(whatif)
    )
    assert code == 0, err
    return json.loads(simulate.read_text()), json.loads(whatif.read_text())


def _strings(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def test_docs_refuses_simulation_reports_of_odd_shapes(tmp_path: Path) -> None:
    simulate, whatif = _reports(tmp_path)
    delta = whatif["delta"]
    assert isinstance(delta, dict)
    odd: dict[str, tuple[object, str]] = {
        "delta_list": ({**whatif, "delta": list(delta.values())}, "not a simulate or what-if"),
        "whatif_strings": (_strings(whatif), '`delta.mqls.base` is "'),
        "simulate_strings": (_strings(simulate), '`metrics.mqls` is "'),
        "diff_list": (
            {**whatif, "delta": {k: {**v, "diff": [1]} for k, v in delta.items()}},
            "`delta.mqls.diff` is [1], not a number",
        ),
        "interval_text": (
            {**whatif, "delta": {k: {**v, "ci95": "wide"} for k, v in delta.items()}},
            '`delta.mqls.ci95` is "wide", not [low, high]',
        ),
        "a_list": ([simulate], "not a simulate or what-if"),
        "a_sweep": ({"rows": [], "params": ["x"], "leads": 3}, "a sweep or tune report"),
        "no_base": ({k: v for k, v in whatif.items() if k != "base"}, "not a simulate"),
    }
    for name, (data, expected) in odd.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        code, _, err = run("docs", ACME, "--simulation", str(path), "-o", str(tmp_path / "d.md"))
        assert code == 1, (name, err)
        assert str(path) in err and expected in err, (name, err)
    # the reports as written still work
    for name, data in (("s", simulate), ("w", whatif)):
        path = tmp_path / f"ok_{name}.json"
        path.write_text(json.dumps(data))
        code, _, err = run("docs", ACME, "--simulation", str(path), "-o", str(tmp_path / "d.md"))
        assert code == 0, err


def test_values_a_field_cannot_hold_are_refused(tmp_path: Path) -> None:
    """A date field given `garbage` used to be generated as is, and `simulate` then failed on
    its own journeys."""
    policy = tmp_path / "d.mql"
    policy.write_text(
        'policy "D"\nlead { signed: date, note: text }\nevent visit { day: date }\n'
        "stages {\n  visitor\n  lead when visit ever\n}\n"
    )
    path = tmp_path / "d.toml"
    path.write_text(
        '[scenario]\nname = "d"\nstart = 2026-01-01\ndays = 10\n[arrivals]\nper_day = 3\n'
        "[states]\nresearching = 5\n[personas.p]\nweight = 1\nbuyer_rate = 0.1\n"
        '[personas.p.profile]\nsigned = { "garbage" = 1, "2026-01-02" = 1 }\nnote = { hi = 1 }\n'
        "[personas.p.events.researching]\nvisit = 1\n"
        '[event_fields.visit]\nday = { "not a date" = 1 }\n[sales]\nsdr_capacity_per_day = 5\n'
    )
    for args in (
        ["generate", str(path), "--policy", str(policy)],
        ["simulate", str(policy), "--scenario", str(path), "--mql-stage", "lead"],
    ):
        code, out, err = run(*args)
        assert code == 1 and out == "", err
        assert (
            f"{path}:13:12: error[E806]: personas.p.profile.signed.garbage: the field cannot "
            'hold `garbage`: expected a date such as 2026-12-01, got "garbage"' in err
        ), err
        assert f"{path}:18:9: error[E806]: event_fields.visit.day.not a date" in err, err


def _reference_replay(
    handoffs: list[float], capacity: float, sales: Sales, start: float, as_of: float
) -> tuple[list[float | None], int]:
    """The sales replay as it was written before: every slot in a list, then first come,
    first served (the slots and the touch of each handoff, in handoff order)."""
    slots: list[float] = []
    if capacity > 0:
        day = dt.datetime.fromtimestamp(start, dt.UTC).date()
        last_day = dt.datetime.fromtimestamp(as_of, dt.UTC).date()
        per_day = round(capacity)
        opening, closing = sales.working_hours
        spacing = (closing - opening) * 3600.0 / max(per_day, 1)
        while day <= last_day:
            if day.weekday() in sales.working_days:
                midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()
                base = midnight + opening * 3600.0
                slots.extend(t for t in (base + k * spacing for k in range(per_day)) if t <= as_of)
            day += dt.timedelta(days=1)
    touches: list[float | None] = []
    position = 0
    for handoff in sorted(handoffs):
        while position < len(slots) and slots[position] < handoff:
            position += 1
        if position >= len(slots):
            touches.append(None)
            continue
        touches.append(slots[position])
        position += 1
    return touches, len(slots)


def test_the_sales_replay_gives_the_touches_of_every_slot_listed() -> None:
    """The replay no longer lists every slot up to the as-of instant (an as-of years after
    the scenario, or a capacity of a million a day, made that unbounded): against the listing
    it replaced, the same touches and the same slot count, on random sales teams."""
    from mqldsl.simulation.records import LeadRecord
    from mqldsl.simulation.sales import replay_sales

    rng = random.Random(17)
    start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()
    for _ in range(150):
        hours = sorted(rng.sample(range(25), 2))
        sales = Sales(
            capacity_per_day=rng.choice([0, 0.4, 1, 3, 7.6, 40]),
            queue_capacity={},
            working_hours=(float(hours[0]), float(hours[1])),
            working_days=tuple(sorted(rng.sample(range(7), rng.randint(1, 7)))),
            sql_rate=0.5,
            half_life_hours=24,
            non_buyer_sql_rate=0.1,
        )
        as_of = start + rng.uniform(-1, 40) * 86400
        handoffs = [start + rng.uniform(-2, 45) * 86400 for _ in range(rng.randint(1, 60))]
        records = [
            LeadRecord(f"L{i}", "mql", (), h, "q", None, True, None, None, None)
            for i, h in enumerate(handoffs)
        ]
        updated, totals = replay_sales(records, sales, start, as_of, seed=1)
        expected, count = _reference_replay(handoffs, sales.capacity_per_day, sales, start, as_of)
        order = sorted(range(len(records)), key=lambda i: (handoffs[i], records[i].id))
        assert [updated[i].touch for i in order] == expected
        assert totals == {
            "slots": float(count),
            "touches": float(sum(t is not None for t in expected)),
        }


def test_a_scenario_run_as_of_far_ahead_is_bounded(tmp_path: Path) -> None:
    """As of 9999-12-31 the replay used to list a slot for every working hour until then."""
    path = _scenario(tmp_path, "sdr_capacity_per_day = 12", "sdr_capacity_per_day = 900000")
    started = dt.datetime.now()
    code, out, err = run(
        "simulate",
        ACME,
        "--scenario",
        str(path),
        "--leads",
        "80",
        "--as-of",
        "9999-12-31T23:59:59Z",
    )
    assert code == 0, err
    assert (dt.datetime.now() - started).total_seconds() < 30
    assert "sdr_utilisation" in out or "utilisation" in out.lower()


@pytest.mark.parametrize("as_of", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_an_as_of_outside_the_calendar_is_a_usage_error(
    bad_journeys: tuple[Path, int, int], as_of: str
) -> None:
    for args in (
        ["simulate", ACME, "--journeys", str(bad_journeys[0])],
        ["simulate", ACME, "--scenario", str(SCENARIO), "--leads", "20"],
        ["whatif", ACME, "--set", "mql_fit_min=40", "--journeys", str(bad_journeys[0])],
    ):
        code, out, err = run(*args, "--as-of", as_of)
        assert code == 2 and out == "", err
        assert "--as-of" in err and "outside the calendar" in err, err


def test_a_sweep_refuses_a_param_twice_and_too_many_combinations(
    bad_journeys: tuple[Path, int, int],
) -> None:
    """A param given twice used to end in an IndexError; 200 x 200 x 200 values ran for
    hours. Both are refused before any lead is read."""
    journeys = str(bad_journeys[0])
    started = dt.datetime.now()
    code, out, err = run(
        "sweep", ACME, "--journeys", journeys,
        "--param", "mql_fit_min=0..199", "--param", "mql_intent_min=0..199",
    )  # fmt: skip
    assert code == 2 and out == "", err
    assert "200 x 200 = 40,000 combinations" in err and "at most 10,000" in err, err
    code, out, err = run(
        "sweep", ACME, "--journeys", journeys,
        "--param", "mql_fit_min=0..2", "--param", "mql_fit_min=0..1",
    )  # fmt: skip
    assert code == 2 and "`mql_fit_min` is given twice" in err, err
    assert "rejected" not in err  # refused before reading
    assert (dt.datetime.now() - started).total_seconds() < 10


# ---------------------------------------------------------------- hostile scenarios (fuzz)

_HOSTILE = [
    "inf", "-inf", "nan", "-1", "0", "1e300", "1e7", '"x"', "[]", "[1, 2]", "{}", "{ a = 1 }",
    "2026-01-01", "true", "9999-12-31", "0001-01-01", "1979-05-27T07:32:00Z", "[[1]]", '""',
    "-9223372036854775808", "9223372036854775807", "0.5", "1e-300", "= 3", "[1, ", '"\\u0000"',
]  # fmt: skip
_LINES = SCENARIO.read_text(encoding="utf-8").splitlines()
_KEYED = [i for i, line in enumerate(_LINES) if re.match(r'^\s*[A-Za-z_"]+\s*=', line)]


@st.composite
def _hostile_scenario(draw: st.DrawFn) -> str:
    lines = list(_LINES)
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.sampled_from(_KEYED))
        key, value = lines[index].split("=", 1)
        hostile = draw(
            st.one_of(
                st.sampled_from(_HOSTILE),
                st.floats(allow_nan=False).map(lambda x: repr(x).replace("inf", "1e400")),
                st.integers(-(2**63), 2**63 - 1).map(str),
            )
        )
        if draw(st.booleans()):
            lines[index] = f"{key}= {hostile}"
        else:  # a number inside a list or an inline table
            number = re.search(r"[0-9][0-9.]*", value)
            if number is not None:
                value = value[: number.start()] + hostile + value[number.end() :]
            lines[index] = f"{key}= {value}"
    return "\n".join(lines).replace('"../policies/acme.mql"', f'"{ACME}"') + "\n"


def _accounted(code: int, err: str) -> None:
    """Exit 0, 1 or 2; never an internal error; on exit 1 every error names the file."""
    assert code in (0, 1, 2), err
    assert "internal error" not in err and "Traceback" not in err, err
    if code == 1:
        errors = [line for line in err.splitlines() if "error[" in line]
        assert errors, err
        assert all(line.startswith(("/", "fuzz.toml")) for line in errors), err


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(_hostile_scenario())
def test_hostile_scenarios_get_an_answer_not_an_internal_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.toml"
        path.write_text(text, encoding="utf-8")
        code, _, err = run("generate", str(path), "--leads", "5")
        _accounted(code, err)


@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(_hostile_scenario())
def test_hostile_scenarios_in_a_simulation_get_an_answer(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.toml"
        path.write_text(text, encoding="utf-8")
        code, _, err = run("simulate", ACME, "--scenario", str(path), "--leads", "30")
        _accounted(code, err)


def test_a_gate_that_holds_still_reports_the_rejected_records(
    bad_journeys: tuple[Path, int, int],
) -> None:
    path = bad_journeys[0]
    code, _, err = run(
        "whatif", ACME, "--set", "mql_fit_min=40", "--journeys", str(path),
        "--fail-if", "changed_leads >= 0",
    )  # fmt: skip
    assert code == 1, err
    assert "fail-if held: changed_leads >= 0" in err and "error[E850]" in err, err
    code, _, err = run(
        "whatif", ACME, "--set", "mql_fit_min=40", "--journeys", str(path),
        "--fail-if", "changed_leads >= 0", "--allow-rejects",
    )  # fmt: skip
    assert code == 1 and "fail-if held" in err and "error[E850]" not in err, err


def test_a_policy_path_with_a_nul_character_is_an_error_not_a_crash(tmp_path: Path) -> None:
    # os.open raises ValueError (not OSError) on "\x00": read_policy turns it into E100.
    path = _scenario(tmp_path, f'policy = "{ACME}"', 'policy = "\\u0000acme.mql"')
    code, out, err = run("generate", str(path), "--leads", "5")
    assert code == 1, out + err
    assert "error[E100]: cannot read the file: a path cannot hold a NUL character" in err
    assert "internal error" not in out + err


def test_a_misspelt_scenario_table_is_the_files_problem_not_a_usage_error(
    tmp_path: Path,
) -> None:
    # The `[scenario]` table names the policy: misspelt, `generate` said "give --policy"
    # (exit 2) instead of what is wrong with the file.
    path = _scenario(tmp_path, "[scenario]", "[scenari]")
    code, out, err = run("generate", str(path), "--leads", "5")
    assert code == 1 and out == ""
    assert ":2: error[E802]: scenari: unknown key; did you mean `scenario`?" in err
    assert "give --policy" not in err


def test_a_problem_is_placed_at_its_own_key_within_its_table() -> None:
    # The key path is followed key by key from the table's header (the `lognormal` of
    # `tech_stack`, not the one of the field above it), and not past the table's end (a key
    # missing from `[arrivals]` is not the `per_day` of a later table).
    from mqldsl.simulation.scenario_fields import Problems

    text = (
        "[personas.buyer.profile]\n"
        "company_size = { lognormal = [6.3, 1.1] }\n"
        "tech_stack = { lognormal = [1, 2] }\n"
        "\n"
        "[arrivals]\n"
        "mix = 1\n"
        "\n"
        "[[periods]]\n"
        "per_day = 3\n"
    )
    problems = Problems("s.toml", text)
    assert problems.line_of(["personas", "buyer", "profile", "tech_stack", "lognormal"]) == 3
    assert problems.line_of(["personas", "buyer", "profile", "company_size", "lognormal"]) == 2
    assert problems.line_of(["arrivals", "per_day"]) == 5
    assert problems.line_of(["arrivals", "mix"]) == 6


@pytest.mark.parametrize(
    ("spread", "expected"),
    [
        ("contacts = { constant = 0 }", "an account has at least one contact"),
        ("contacts = { uniform = [-3, -1] }", "an account has at least one contact"),
        ("join_days = { uniform = [-5, 21] }", "days after the first contact: at least 0"),
    ],
)
def test_account_spreads_that_cannot_be_drawn_are_refused(
    tmp_path: Path, spread: str, expected: str
) -> None:
    # (they were clamped: a constant 0 contacts made one, negative join days were taken)
    abm = ROOT / "simulations" / "abm.toml"
    text = abm.read_text().replace(
        'policy = "../policies/abm.mql"', f'policy = "{ROOT / "policies" / "abm.mql"}"'
    )
    key = spread.split(" =")[0]
    line = next(line for line in text.splitlines() if line.startswith(f"{key} ="))
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(line, spread))
    code, out, err = run("generate", str(path), "--leads", "5")
    assert code == 1 and out == ""
    assert "error[E804]" in err and expected in err, err


def test_refused_weekday_weights_are_not_also_called_all_zero(tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        "weekday_shape = [1.2, 1.25, 1.2, 1.1, 0.9, 0.2, 0.15]",
        'weekday_shape = ["a", 0, 0, 0, 0, 0, 0]',
    )
    code, _, err = run("generate", str(path), "--leads", "5")
    assert code == 1
    assert "arrivals.weekday_shape" in err and "every weekday's weight is 0" not in err


def test_a_profile_field_no_persona_gives_is_said(tmp_path: Path) -> None:
    """SPEC §14: a scenario gives distributions for every profile field the policy declares.
    One that none gives was never set, without a word (a forgotten field: rules on it never
    fire). The run goes on (a field missing in the real data is a world worth simulating),
    and says so."""
    path = _scenario(tmp_path)
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.startswith("region = ")
    )
    path.write_text(text + "\n")
    code, out, err = run("simulate", ACME, "--scenario", str(path), "--leads", "30")
    assert code == 0, err
    assert (
        "note: no persona of the scenario gives the profile field `region` a distribution: "
        "every generated lead lacks it"
    ) in out + err
    code, out, err = run(
        "simulate", ACME, "--scenario", str(_scenario(tmp_path, name="ok.toml")), "--leads", "30"
    )
    assert code == 0 and "no persona of the scenario" not in out + err


def test_a_policy_of_the_wrong_kind_and_a_missing_table_say_what_to_write(tmp_path: Path) -> None:
    # `policy = 5` was a usage error (exit 2, "names no policy"); a missing table said only
    # "missing table".
    path = _scenario(tmp_path, f'policy = "{ACME}"', "policy = 5")
    code, out, err = run("generate", str(path), "--leads", "5")
    assert code == 1 and out == ""
    assert "error[E803]: scenario.policy: expected the path of a policy, got 5" in err
    path = _scenario(tmp_path, "[personas.student.profile]", "[personas.student.profil]")
    code, out, err = run("generate", str(path), "--leads", "5")
    assert code == 1 and out == ""
    assert "personas.student.profile: missing table: add `[personas.student.profile]`" in err
