"""The solver's encoding decides like the evaluators: for random policies in the forms it
covers and generated leads, the z3 terms with the lead's values pinned give the stage, the
holding disqualifiers and the route the reference interpreter gives. (Proofs — `diff --witness`
finding no lead, `check --deep` warnings — are not re-checked by the evaluators, so this is
what keeps them honest.)"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import z3
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_text
from mqldsl.analysis.solver.encode import PolicyEncoding, SymbolicLead, Term, Val, text_value
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import to_seconds
from mqldsl.io.journeys import JourneyReader
from mqldsl.simulation.leadsearch import random_records
from tests import policy_gen
from tests.test_witness import solver_policies

BOUND = 2


def _pin_value(val: Val, kind: str, value: Any, names: list[str]) -> list[Term]:
    if val.kind == "set":
        assert val.members is not None
        return [term == (key in value) for key, term in val.members.items()]
    if kind in ("int", "number"):
        return [
            val.raw == z3.RealVal(str(Fraction(str(value))))
            if kind == "number"
            else val.raw == value
        ]
    if kind == "date":
        return [val.raw == dt.date.fromisoformat(value).toordinal()]
    if kind == "text":
        return [val.raw == text_value(value)]
    if kind == "bool":
        return [val.raw == value]
    return [val.raw == names.index(value)]


def pins(lead: SymbolicLead, record: dict[str, Any], as_of: float) -> list[Term]:
    """Constraints that make the symbolic lead ``record``."""
    names = lead.members.names
    found: list[Term] = []

    def fields(values: dict[str, Val], types: dict[str, Any], given: dict[str, Any]) -> None:
        for name, val in values.items():
            present = given.get(name) not in (None, "")  # as the journey reader reads it
            found.append(val.ok == present)
            if present:
                found.extend(_pin_value(val, types[name].kind, given[name], names))

    fields(lead.profile, lead.field_types, record["profile"])
    by_type: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for event in record["events"]:
        at = to_seconds(dt.datetime.fromisoformat(event["at"]))
        by_type.setdefault(event["type"], []).append((round(as_of - at), event))
    for kind, slots in lead.slots.items():
        events = sorted(by_type.get(kind, []), key=lambda item: item[0])
        assert len(events) <= len(slots)
        for number, slot in enumerate(slots):
            found.append(slot.present == (number < len(events)))
            if number < len(events):
                age, event = events[number]
                found.append(slot.age == age)
                given = {k: v for k, v in event.items() if k not in ("type", "at")}
                fields(slot.fields, lead.event_types[kind], given)
    return found


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(solver_policies(), st.integers(min_value=0, max_value=2**16))
def test_the_encoding_decides_like_the_interpreter(text: str, seed: int) -> None:
    model = check_text(text, "p.mql").model
    assume(model is not None)
    assert model is not None
    lead = SymbolicLead((model,), BOUND)
    encoding = PolicyEncoding(model, lead)
    interpreter = Interpreter(model)
    reader = JourneyReader(model, check_duplicates=False)
    as_of = policy_gen.AS_OF
    targets = [None, *sorted(encoding.route_targets(), key=repr)]
    for record in random_records((model,), 40, seed, BOUND, as_of):
        decision = interpreter.decide(reader.lead(record), as_of)
        solver = z3.Solver()
        solver.add(lead.domain)
        solver.add(pins(lead, record, as_of))
        assert solver.check() == z3.sat, record
        chosen = solver.model()

        def holds(term: Term, chosen: z3.ModelRef = chosen) -> bool:
            return bool(z3.is_true(chosen.eval(term, model_completion=True)))

        assert holds(encoding.stage_is(decision.stage)), (record, decision)
        reasons = {d.reason for d in model.disqualifiers}
        assert {r for r in reasons if holds(encoding.reason_holds(r))} == set(
            decision.disqualified
        ), record
        route = None if decision.route is None else (decision.route.queue, decision.route.sla)
        assert [t for t in targets if holds(encoding.route_is(t))] == [route], record
