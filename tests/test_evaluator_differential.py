"""The compiled evaluator equals the reference interpreter on random checked
policies (every construct, both stage modes) and random journeys (events on
window edges, missing fields, events after the as-of instant)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_text
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import Event, Lead

from .policy_gen import AS_OF, leads, policies


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policies(), st.lists(leads(), min_size=1, max_size=4))
def test_compiled_equals_interpreted(text: str, journeys: list[Lead]) -> None:
    result = check_text(text, "generated.mql")
    errors = [d.render(result.source) for d in result.diagnostics if d.is_error]
    assert result.model is not None, "\n".join(errors) + "\n" + text
    compiled = Evaluator(result.model)
    reference = Interpreter(result.model)
    for lead in journeys:
        fast = compiled.run(lead, AS_OF)
        slow, steps = reference.run(lead, AS_OF)
        assert fast.decision.to_json() == slow.to_json(), text
        assert [(s.at, s.stage, s.reason, s.recycled_by) for s in fast.steps] == [
            (s.at, s.stage, s.reason, s.recycled_by) for s in steps
        ], text
        # The simulator's handoffs: the first entry into each stage and its route.
        assert fast.first_entries == reference.result(lead, AS_OF).first_entries, text


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
