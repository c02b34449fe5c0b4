"""Decisions written directly as bytes (mqldsl/io/decisionlines.py) are the
bytes of the dictionary path they replace: ``orjson.dumps(decision.to_json(),
option=OPT_NON_STR_KEYS) + b"\\n"``, on every shipped policy's decisions and on
built decisions with awkward ids, scores, routes, stamps and instants."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mqldsl
from mqldsl.analysis.examples import example_instant
from mqldsl.analysis.stamp import PolicyStamp
from mqldsl.engine import runtime
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.examples import example_lead
from mqldsl.engine.runtime import (
    FIRST_INSTANT,
    LAST_INSTANT,
    Decision,
    Event,
    Lead,
    RouteDecision,
    format_instant,
    to_seconds,
)
from mqldsl.io.decisionlines import DecisionEncoder
from mqldsl.io.journeys import JourneyReader
from mqldsl.io.scoring import CsvWriter, decision_line

ROOT = Path(__file__).resolve().parent.parent
POLICIES = sorted((ROOT / "policies").glob("*.mql"))
SCENARIOS = sorted((ROOT / "simulations").glob("*.toml"))


def dictionary_line(decision: Decision) -> bytes:
    """How `mqldsl score` wrote a decision before: its JSON dictionary through orjson."""
    return orjson.dumps(decision.to_json(), option=orjson.OPT_NON_STR_KEYS) + b"\n"


def shifted(lead: Lead, seconds: float, suffix: str) -> Lead:
    """The lead with every event moved by ``seconds`` (fractions of a second too)."""
    events = tuple(msgspec.structs.replace(e, at=e.at + seconds) for e in lead.events)
    return msgspec.structs.replace(lead, id=lead.id + suffix, events=events)


def _odd(lead: Lead, number: int) -> list[Lead]:
    odd_ids = ['quote " back \\ slash', "ünïcødé – 名前 🚀", "tab\tnew\nline\x00\x1f", "\u2028"]
    return [
        lead,
        shifted(lead, 0.25, "+0.25s"),
        shifted(lead, -1e-6, "-1µs"),
        msgspec.structs.replace(lead, id=odd_ids[number % len(odd_ids)] + str(number)),
    ]


def _check_all(evaluator: Evaluator, leads: list[Lead], instants: list[float]) -> int:
    encoder = DecisionEncoder()
    compared = 0
    for number, lead in enumerate(leads):
        for variant in _odd(lead, number):
            for as_of in instants:
                decision = evaluator.decide(variant, as_of)
                expected = dictionary_line(decision)
                assert encoder.line(decision) == expected, variant.id
                assert decision_line(decision) == expected
                compared += 1
    return compared


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_generated_journeys_of_every_scenario(tmp_path: Path, scenario: Path) -> None:
    setup = tomllib.loads(scenario.read_text())["scenario"]
    policy = (scenario.parent / setup["policy"]).resolve()
    journeys = tmp_path / "journeys.jsonl"
    mqldsl.generate(scenario, journeys, leads=120, seed=7)
    model = mqldsl.load(policy)
    leads = list(JourneyReader(model).read_jsonl(str(journeys)))
    assert len(leads) == 120
    last = max(e.at for lead in leads for e in lead.events)
    instants = [last + 86400, last - 20 * 86400, last + 0.5]
    # Today's params, then every param changed (the stamp lists them).
    changed = {
        name: info.value + 1
        for name, info in model.params.items()
        if isinstance(info.value, int | float) and not isinstance(info.value, bool)
    }
    stages: set[str] = set()
    routes: set[tuple[bool, bool]] = set()
    for params in ({}, changed):
        evaluator = mqldsl.compile(model, params)
        assert _check_all(evaluator, leads, instants) == 120 * 4 * 3
        for lead in leads:
            decision = evaluator.decide(lead, instants[0])
            stages.add(decision.stage)
            if decision.route is not None:
                routes.add((decision.route.sla is not None, decision.route.due is not None))
    assert len(stages) >= 2  # the journeys reach several stages, routes among them
    assert routes


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
def test_examples_of_every_policy(policy: Path) -> None:
    model = mqldsl.load(policy)
    evaluator = mqldsl.compile(model)
    leads = []
    for example in model.examples:
        moment = example_instant(example, model.effective)
        assert moment is not None
        leads.append(example_lead(model, example, to_seconds(moment)))
    assert leads
    instants = [mqldsl.instant("2026-11-01T00:00:00Z"), mqldsl.instant("2026-11-01T09:30:00.5Z")]
    assert _check_all(evaluator, leads, instants) == len(leads) * 4 * 2


# ---------------------------------------------------------------- built decisions

names = st.text(min_size=1, max_size=12)
scores = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, 12.5, -0.0, 1e16, 1e-7, 123456789.01, 2.0**53]),
)
instants = st.one_of(
    st.integers(min_value=int(FIRST_INSTANT), max_value=int(LAST_INSTANT)).map(float),
    st.floats(min_value=FIRST_INSTANT, max_value=LAST_INSTANT),
    st.floats(min_value=-1e10, max_value=4e9),
    st.integers(min_value=1_700_000_000, max_value=1_900_000_000),  # ints, as the API allows
)
routes = st.one_of(
    st.none(),
    st.builds(
        RouteDecision,
        queue=names,
        sla=st.one_of(st.none(), st.sampled_from(["5 minutes", "1 day", "2 weeks"]), names),
        due=st.one_of(st.none(), instants),
        entered=instants,
    ),
)
param_values = st.one_of(
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    names,
    st.lists(names, max_size=3).map(tuple),
)
stamps = st.builds(
    PolicyStamp,
    version=st.one_of(st.none(), st.integers(0, 10**6), st.floats(0, 1e6)),
    sha256=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    params=st.lists(st.tuples(names, param_values), max_size=3).map(tuple),
)
decisions = st.fixed_dictionaries(  # (a struct whose policy stamp's type is only for mypy)
    {
        "id": st.text(max_size=30),
        "as_of": instants,
        "stage": names,
        "scores": st.dictionaries(names, scores, max_size=4),
        "disqualified": st.lists(names, max_size=3).map(tuple),
        "route": routes,
        "entered": st.dictionaries(names, instants, max_size=5),
        "policy": stamps,
    }
).map(lambda fields: Decision(**fields))


@settings(max_examples=400, deadline=None)
@given(st.lists(decisions, min_size=1, max_size=4))
def test_built_decisions(batch: list[Decision]) -> None:
    encoder = DecisionEncoder()  # one encoder for the batch: its caches are reused
    for decision in batch * 2:
        assert encoder.line(decision) == dictionary_line(decision)


def reference_instant(value: float) -> str:
    """SPEC §12's instant text, computed apart from format_instant: datetime's own ISO
    text of the instant (microseconds), trailing zeros of the fraction dropped, then Z."""
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=value)
    whole, fraction = moment.isoformat(timespec="microseconds").split(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}Z" if fraction else f"{whole}Z"


@settings(max_examples=400, deadline=None)
@given(instants)
def test_instants(value: float) -> None:
    assert format_instant(value) == reference_instant(value)
    assert DecisionEncoder().instant(value) == reference_instant(value)


@pytest.mark.parametrize(
    "value",
    [
        FIRST_INSTANT,
        LAST_INSTANT,
        0.0,
        -0.0,
        -1.0,
        -86400.0,
        951782400.0,  # 2000-02-29
        4107542400.0,  # 2100-03-01
        -62104060800.0,  # 0002-01-01: a year written with four digits
        1.5,
        -0.5,
        1e-7,
        0.9999995,  # rounds up to the next second
        LAST_INSTANT + 0.5,
    ],
)
def test_instant_edges(value: float) -> None:
    assert format_instant(value) == reference_instant(value)


@pytest.mark.parametrize(
    "value",
    [
        LAST_INSTANT + 1,
        FIRST_INSTANT - 1,
        LAST_INSTANT + 0.999999,
        LAST_INSTANT + 86400 * 400,
        1e300,
        math.inf,
        -math.inf,
        math.nan,
    ],
)
def test_instants_outside_the_calendar_fail_as_datetime_does(value: float) -> None:
    with pytest.raises((OverflowError, ValueError)) as expected:
        reference_instant(value)
    with pytest.raises(type(expected.value)):
        format_instant(value)


def test_the_day_cache_starts_afresh_and_stays_right(monkeypatch: pytest.MonkeyPatch) -> None:
    """format_instant's cache of day prefixes is bounded: past its size it starts afresh,
    and an instant is written the same before, across and after that."""
    monkeypatch.setattr(runtime, "_DAYS_KEPT", 3)
    monkeypatch.setattr(runtime, "_DAY_PREFIXES", {})
    days = [0, 1, 2, 3, 4, 1, 0, -1, 10_000, 3]
    for day in days:
        value = day * 86400.0 + 3723.0
        assert format_instant(value) == reference_instant(value)
        assert len(runtime._DAY_PREFIXES) <= 3


def test_lists_and_mappings_from_a_caller() -> None:
    """The API lets a caller build a Decision with a list and a mapping proxy."""
    decision = Decision(
        "a",
        0.0,
        "s",
        MappingProxyType({"fit": 1.5, "intent": None}),
        ["R1", "R2"],  # type: ignore[arg-type]
        None,
        MappingProxyType({"s": 60.0}),
        PolicyStamp(None, "0" * 64),
    )
    assert DecisionEncoder().line(decision) == dictionary_line(decision)


def test_a_new_stamp_is_encoded_again() -> None:
    decision = Decision("a", 0.0, "s", {}, (), None, {}, PolicyStamp(1, "0" * 64))
    other = msgspec.structs.replace(decision, policy=PolicyStamp(2, "f" * 64, (("p", 3),)))
    encoder = DecisionEncoder()
    for one in (decision, other, decision):
        assert encoder.line(one) == dictionary_line(one)


def test_csv_table_is_the_dictionary_table() -> None:
    """The flat CSV table (SPEC §12) as it was built from ``to_json()``."""
    model = mqldsl.load(ROOT / "policies" / "acme.mql")
    evaluator = mqldsl.compile(model)
    as_of = mqldsl.instant("2026-11-01T00:00:00.25Z")
    leads = [example_lead(model, e, as_of) for e in model.examples]
    leads.append(
        Lead('q"uo,te\n', {"email_kind": "corporate"}, (Event(as_of - 9, "unsubscribe", {}),))
    )
    built = [evaluator.decide(lead, as_of) for lead in leads]
    stream = io.StringIO()
    writer = CsvWriter(stream, model)
    for decision in built:
        writer.write(decision)
    expected = io.StringIO()
    rows = csv.writer(expected, lineterminator="\n")
    rows.writerow(["id", "as_of", "stage", "fit", "intent", "disqualified", "queue"])
    for decision in built:
        data: dict[str, Any] = decision.to_json()
        row = [data["id"], data["as_of"], data["stage"]]
        row += ["" if data["scores"][s] is None else data["scores"][s] for s in ("fit", "intent")]
        row += ["; ".join(data["disqualified"]), data["route"]["queue"] if data["route"] else ""]
        rows.writerow(row)
    assert stream.getvalue() == expected.getvalue()
    assert "Unsubscribed" in stream.getvalue() and "2026-11-01T00:00:00.25Z" in stream.getvalue()
