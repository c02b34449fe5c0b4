"""The compiled evaluator equals the reference interpreter on random checked
policies (every construct, both stage modes) and random journeys (events on
window edges, missing fields, events after the as-of instant)."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_text
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import Event, Lead, parse_instant
from mqldsl.io.scoring import decision_line

from .policy_gen import AS_OF, LENGTHS, leads, policies


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policies(), st.lists(leads(), min_size=1, max_size=4), LENGTHS)
def test_compiled_equals_interpreted(
    text: str, journeys: list[Lead], lengths: dict[str, Any]
) -> None:
    result = check_text(text, "generated.mql")
    errors = [d.render(result.source) for d in result.diagnostics if d.is_error]
    assert result.model is not None, "\n".join(errors) + "\n" + text
    # The duration params at their declared lengths or, as with --set, at others.
    compiled = Evaluator(result.model, lengths)
    reference = Interpreter(result.model, lengths)
    for lead in journeys:
        fast = compiled.run(lead, AS_OF)
        slow, steps = reference.run(lead, AS_OF)
        # (the lines, not ==, which takes a whole score of 55 and 55.0 for the same)
        assert decision_line(fast.decision) == decision_line(slow), text
        # `decide` keeps the decision only (helpers.Entries on the generated walk)
        assert decision_line(compiled.decide(lead, AS_OF)) == decision_line(slow), text
        assert [(s.at, s.stage, s.reason, s.recycled_by) for s in fast.steps] == [
            (s.at, s.stage, s.reason, s.recycled_by) for s in steps
        ], text
        # The simulator's handoffs: the first entry into each stage and its route, and
        # every handoff (entries and hot events, SPEC §8).
        oracle = reference.result(lead, AS_OF)
        assert fast.first_entries == oracle.first_entries, text
        assert fast.handoffs == oracle.handoffs, text
        assert fast.decision.route == slow.route, text  # with a hot route's trigger
        # An explained lead is walked by the driver, not by the generated walk (`sweep`):
        # the same decision, changes and handoffs.
        explained = compiled.run(lead, AS_OF, explain=True)
        assert explained.decision == fast.decision, text
        assert [(s.at, s.stage, s.reason) for s in explained.steps] == [
            (s.at, s.stage, s.reason) for s in fast.steps
        ], text
        assert (explained.first_entries, explained.handoffs) == (
            fast.first_entries,
            fast.handoffs,
        ), text
        # The scores as of an instant (the simulator's scores at a handoff): those of a
        # decision as of it, with or without a walk of the timeline.
        for at in {AS_OF, *(event.at for event in lead.events[:3] if event.at <= AS_OF)}:
            decided = reference.run(lead, at)[0].scores
            assert compiled.scores_at(lead, at) == tuple(decided.values()), text


def _whole_seconds(lead: Lead) -> Lead:
    """The lead with its events at whole seconds (a lead with an event at a fraction of a
    second is walked by the driver at every instant, not by the generated walk)."""
    events = sorted(
        (msgspec.structs.replace(e, at=float(math.floor(e.at))) for e in lead.events),
        key=lambda e: e.at,
    )
    return msgspec.structs.replace(lead, events=tuple(events))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    policies(recycling=False, hot=False),
    st.lists(leads().map(_whole_seconds), min_size=1, max_size=4),
)
def test_the_generated_walk_equals_the_interpreter(text: str, journeys: list[Lead]) -> None:
    # Without recycle rules and hot-event routes, flexible or locked, the generated code walks
    # the change points itself (`sweep`); whole-second events keep every lead on that walk.
    result = check_text(text, "generated.mql")
    assert result.model is not None, text
    compiled = Evaluator(result.model)
    assert "def sweep(tl):" in compiled.source
    reference = Interpreter(result.model)
    for lead in journeys:
        fast = compiled.run(lead, AS_OF)
        slow, steps = reference.run(lead, AS_OF)
        assert fast.decision.to_json() == slow.to_json(), text
        assert decision_line(compiled.decide(lead, AS_OF)) == decision_line(slow), text
        assert [(s.at, s.stage, s.reason) for s in fast.steps] == [
            (s.at, s.stage, s.reason) for s in steps
        ], text
        oracle = reference.result(lead, AS_OF)
        assert (fast.first_entries, fast.handoffs) == (oracle.first_entries, oracle.handoffs)


# The compiled evaluator visits only the instants where something a condition reads can
# change (mqldsl.engine.changes). These cases would go wrong if it skipped one that matters.
SKIPPING = """policy "skipping"
lead { n: int }
event ev1
event ev2
event ev3
score fit { +10 when n > 5 }
stages locked {
  visitor
  lead when ev2 ever
  mql when ev1 within 7 days and fit >= 10
}
recycle mql to lead when n > 8
"""


def _at(days: float, kind: str, index: int) -> Event:
    return Event(at=AS_OF - days * 86400.0, type=kind, fields={}, index=index)


@pytest.mark.parametrize(
    ("n", "events"),
    [
        # The recycle rule holds from the start: it applies at the first instant of SPEC §7
        # after the lead reaches mql — the time of an event no condition reads (ev3).
        (9, [_at(20, "ev2", 0), _at(10, "ev1", 1), _at(9.5, "ev3", 2)]),
        # ... or the end of a window no condition of this lead reads (ev3 + 7 days).
        (9, [_at(30, "ev3", 0), _at(25, "ev2", 1), _at(24, "ev1", 2)]),
        # Fit rules mql out: ev1's windows change nothing; the timeline still starts at the
        # first event, whatever its type.
        (3, [_at(30, "ev3", 0), _at(20, "ev1", 1), _at(10, "ev2", 2)]),
        (7, [_at(12, "ev1", 0), _at(11, "ev2", 1), _at(1, "ev1", 2)]),
    ],
)
def test_skipped_instants_change_nothing(n: int, events: list[Event]) -> None:
    result = check_text(SKIPPING, "skipping.mql")
    assert result.model is not None
    lead = Lead(id="L", profile={"n": n}, events=tuple(sorted(events, key=lambda e: e.at)))
    fast = Evaluator(result.model).run(lead, AS_OF)
    slow, steps = Interpreter(result.model).run(lead, AS_OF)
    assert fast.decision.to_json() == slow.to_json()
    assert [(s.at, s.stage, s.reason) for s in fast.steps] == [
        (s.at, s.stage, s.reason) for s in steps
    ]
    if n == 9:  # recycled at the instant right after reaching mql, not later
        recycled = [s for s in fast.steps if s.recycled_by >= 0]
        reached = next(s.at for s in fast.steps if s.stage == "mql")
        later = sorted({e.at for e in events} | {e.at + 7 * 86400.0 for e in events})
        assert recycled and recycled[0].at == next(t for t in later if t > reached)


# An event at a fraction of a second whose window end (or decay step) crosses a power of two
# of seconds (2004-01-10T13:37:04Z is 2**30): the float sum is not exact, and the event leaves
# its window a little after it, where the full timeline visits the next instant. Such a lead is
# walked at every instant (found by review: both cases used to differ).
FRACTION_POLICIES = [
    'policy "p"\nevent ev1\nevent ev2\nstages {\n  visitor\n  hot when ev1 within 7 days\n}\n',
    'policy "p"\nevent ev1\nevent ev3\nscore i decay 50% every 1 day { +10 per ev1 }\n'
    "stages {\n  visitor\n  hot when i >= 10\n}\n",
]


@pytest.mark.parametrize(
    ("policy", "first", "other", "gap"),
    [
        (FRACTION_POLICIES[0], "2004-01-05T10:00:00.000022Z", "ev2", 7 * 86400.0 + 3600),
        (FRACTION_POLICIES[1], "2004-01-09T15:00:00.000043Z", "ev3", 86400.0 + 60),
    ],
)
def test_fractions_of_a_second_across_a_power_of_two(
    policy: str, first: str, other: str, gap: float
) -> None:
    result = check_text(policy, "p.mql")
    assert result.model is not None
    at = parse_instant(first)
    events = (Event(at, "ev1", {}, 0), Event(at + gap, other, {}, 1))
    lead = Lead(id="L", profile={}, events=events)
    as_of = at + 30 * 86400.0
    fast = Evaluator(result.model).run(lead, as_of)
    slow, steps = Interpreter(result.model).run(lead, as_of)
    assert fast.decision.to_json() == slow.to_json()
    assert [(s.at, s.stage) for s in fast.steps] == [(s.at, s.stage) for s in steps]
    assert fast.decision.entered["visitor"] == at + gap  # the other event's instant


# The generated walk computes the scores its conditions read at instants that only grow, so
# their window searches are pointers moved forward from one call to the next (ExpressionCode.
# search). A score read through another (a formula), a capped count whose window's start lands
# exactly on its events, a `when ... within` and an aggregate's window, read at some instants only.
POINTERS = """policy "pointers"
lead { size: int }
event view
event run { n: int }
score fit { +10 when size > 5 }
score heat {
  +5 per view within 7 days, max 15
  +10 when run within 3 days
  -5 when no event within 10 days
}
score usage = sum(run.n within 7 days)
score blend = heat + usage
stages {
  visitor
  lead when view ever
  mql when fit >= 10 and blend >= 20
}
"""


def test_the_walks_pointers_keep_window_edges() -> None:
    result = check_text(POINTERS, "pointers.mql")
    assert result.model is not None
    compiled = Evaluator(result.model)
    walk = compiled.source[compiled.source.index("def sweep(tl):") :]
    assert "def R3(t):" in walk and "nonlocal" in walk  # blend, through heat and usage
    for function in walk.split("def R")[1:]:
        assert "br(" not in function.split("for t in pts:")[0]
    day = 86400.0
    d0 = AS_OF - 12 * day
    events = [Event(d0, "view", {}, i) for i in range(3)]
    events.append(Event(d0 + 3600, "run", {"n": 5}, 3))
    lead = Lead(id="L", profile={"size": 9}, events=tuple(events))
    fast = compiled.run(lead, AS_OF)
    # By hand: three views (heat 15); the run an hour later (heat 25, usage 5: blend 30, mql);
    # three days after the run heat is 15 (blend 20: still mql); seven days after the views
    # (the window's start is their instant: they are out) blend is 5: back to lead.
    assert [(s.at, s.stage) for s in fast.steps] == [
        (d0, "lead"),
        (d0 + 3600, "mql"),
        (d0 + 7 * day, "lead"),
    ]
    # As of twelve days later: no event within 10 days (-5), the run out of its window.
    assert fast.decision.scores == {"fit": 10, "heat": -5, "usage": 0, "blend": -5}
    # Against the interpreter, as of every fifth hour of the fortnight (each a walk of its own).
    _same_as_interpreter(compiled, lead, [d0 - day + hour * 3600.0 for hour in range(0, 336, 5)])


def _same_as_interpreter(compiled: Evaluator, lead: Lead, instants: list[float]) -> None:
    reference = Interpreter(compiled.model)
    for as_of in instants:
        fast = compiled.run(lead, as_of)
        slow, steps = reference.run(lead, as_of)
        assert decision_line(fast.decision) == decision_line(slow), as_of
        assert [(s.at, s.stage) for s in fast.steps] == [(s.at, s.stage) for s in steps]


# Two scores over the same events with windows of different lengths, the one listed second
# read first (`hot` is tried before `warm`): each window keeps its own pointer, and the lists
# both search are made once, at whichever call comes first.
SHARED = """policy "shared"
lead { size: int }
event view
event demo
score week {
  +1 per view within 7 days
  +1 when demo within 7 days
}
score days3 { +1 per view within 3 days }
stages {
  visitor
  warm when week >= 3
  hot when size > 5 and days3 >= 2
}
"""


@pytest.mark.parametrize("size", [9, 3])
def test_the_walks_pointers_are_per_window(size: int) -> None:
    result = check_text(SHARED, "shared.mql")
    assert result.model is not None
    compiled = Evaluator(result.model)
    day = 86400.0
    d0 = AS_OF - 20 * day
    lead = Lead(
        id="L",
        profile={"size": size},
        events=tuple(Event(d0 + k * day, "view", {}, i) for i, k in enumerate([0, 1, 2, 4.5])),
    )
    fast = compiled.run(lead, AS_OF)
    # By hand (a window holds what is after its start): two views in the last three days from
    # day 1 (hot); at day 4 the 3-day window holds day 2's only (warm: three in the week); the
    # view of day 4.5 (hot again); day 2's leaves the 3-day window at day 5 (warm); from day 8
    # the week holds two (visitor).
    steps = [(0, "visitor"), (1, "hot"), (4, "warm"), (4.5, "hot"), (5, "warm"), (8, "visitor")]
    if size == 3:  # never hot: warm from the third view to day 8
        steps = [(0, "visitor"), (2, "warm"), (8, "visitor")]
    assert [(s.at, s.stage) for s in fast.steps] == [(d0 + k * day, n) for k, n in steps]
    _same_as_interpreter(compiled, lead, [d0 + hour * 3600.0 for hour in range(0, 336, 7)])


# A score of whole points is summed as ints in the compiled code where that changes nothing:
# where the sum of floats would round (past 2**53), it stays a sum of floats, as the
# interpreter's (9007199254740994 + 3 is 9007199254740996 in floats).
BIG = """policy "big"
lead { n: int }
event ev
score s {
  +9007199254740994 when n > 1
  +1 per ev
}
stages {
  visitor
  lead when s >= 9007199254740997
}
"""


def test_whole_points_past_two_to_the_53_are_summed_as_floats() -> None:
    result = check_text(BIG, "big.mql")
    assert result.model is not None
    events = tuple(Event(AS_OF - 3600.0 * (3 - i), "ev", {}, i) for i in range(3))
    lead = Lead(id="L", profile={"n": 5}, events=events)
    fast = Evaluator(result.model).run(lead, AS_OF).decision
    assert fast.scores == {"s": 9007199254740996} and fast.stage == "visitor"
    assert fast.to_json() == Interpreter(result.model).run(lead, AS_OF)[0].to_json()


# Disqualifiers that, once they hold, hold for good (a profile test, an event ever): the walk
# goes from the disqualification straight to the last instant, whose reasons the decision
# gives. These would go wrong if it stopped at the disqualification, or skipped the last.
LASTING = """policy "lasting"
lead {
  kind: enum(corporate, competitor)
}
event view
event unsubscribe
event bounce { hard: bool }
stages {
  visitor
  lead when view
}
disqualify "Competitor" when kind == competitor
disqualify "Unsubscribed" when unsubscribe
disqualify "Bounced" when bounce where hard ever
"""


def test_a_lasting_disqualification_keeps_the_reasons_of_the_last_instant() -> None:
    result = check_text(LASTING, "lasting.mql")
    assert result.model is not None
    compiled = Evaluator(result.model)
    assert "_islice(_it" in compiled.source  # every disqualifier lasts: the walk skips
    day = 86400.0
    d0 = AS_OF - 20 * day
    events = (
        Event(d0, "view", {}, 0),
        Event(d0 + day, "unsubscribe", {}, 1),
        Event(d0 + 2 * day, "view", {}, 2),
        Event(d0 + 3 * day, "bounce", {"hard": False}, 3),
        Event(d0 + 4 * day, "bounce", {"hard": True}, 4),
        Event(d0 + 5 * day, "view", {}, 5),
    )
    competitor = Lead(id="C", profile={"kind": "competitor"}, events=events)
    corporate = Lead(id="P", profile={"kind": "corporate"}, events=events)
    # By hand: the competitor is disqualified from its first instant, the other lead from its
    # unsubscribe; both are still disqualified as of AS_OF, for every reason that holds then.
    for lead, since, reasons in (
        (competitor, d0, ["Competitor", "Unsubscribed", "Bounced"]),
        (corporate, d0 + day, ["Unsubscribed", "Bounced"]),
    ):
        decision = compiled.decide(lead, AS_OF)
        assert decision.stage == "disqualified"
        assert list(decision.disqualified) == reasons
        assert decision.entered["disqualified"] == since
    # As of each day of the journey (before the hard bounce, the reasons are fewer).
    early = compiled.decide(corporate, d0 + 3 * day)
    assert list(early.disqualified) == ["Unsubscribed"]
    for lead in (competitor, corporate):
        _same_as_interpreter(compiled, lead, [d0 + hour * 3600.0 for hour in range(0, 24 * 7, 7)])
