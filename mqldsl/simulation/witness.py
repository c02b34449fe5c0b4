"""A lead that two versions of a policy decide differently as of an instant (`mqldsl diff
--witness`, docs/witness.md), or a proof that none exists within stated bounds.

The solver (z3, over :mod:`mqldsl.analysis.solver.encode`) is asked for a lead whose decision
as of T differs: the stage (``disqualified`` included), the set of holding disqualifiers, or
the route's queue and SLA. Every lead it proposes is decided again by both compiled
evaluators; only a lead they decide differently is returned, so a fault in the encoding can
never produce a false witness. A lead that does not re-check is excluded and the solver asked
again, a few times. When a policy uses a construct the encoding does not cover, no proof is
made: a random search over generated leads (:mod:`mqldsl.simulation.leadsearch`) looks for a
witness instead, and the result says which construct stopped the proof.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import z3

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.solver.encode import (
    DISQUALIFIED,
    PolicyEncoding,
    SymbolicLead,
    Term,
    Unsupported,
    Val,
    python_text,
)
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Decision, Lead, format_instant
from mqldsl.io.journeys import JourneyReader, RecordError
from mqldsl.simulation.leadsearch import random_records

WITNESS_ID = "witness-1"
Outcome = Literal["witness", "equivalent", "unconfirmed", "unknown", "searched"]


@dataclass(frozen=True)
class Witness:
    """The answer: ``outcome`` is ``witness`` (``record`` is a lead the two versions decide
    differently, ``old``/``new`` their decisions), ``equivalent`` (proved, within ``bound``
    events of each type), ``unconfirmed`` (the solver's leads did not re-check), ``unknown``
    (the solver gave up: ``reason``) or ``searched`` (no proof: ``reason`` names the construct
    outside the encoding; ``searched`` generated leads showed no difference)."""

    outcome: Outcome
    bound: int
    as_of: float
    record: dict[str, Any] | None = None
    old: Decision | None = None
    new: Decision | None = None
    reason: str = ""
    searched: int = 0
    proved: bool = False  # the witness came from the solver (not from the random search)


def outcome_key(decision: Decision) -> tuple[Any, ...]:
    """What the comparison compares: stage, holding disqualifiers (as a set) and route."""
    route = decision.route
    return (
        decision.stage,
        frozenset(decision.disqualified),
        None if route is None else (route.queue, route.sla),
    )


class _Checker:
    """Both compiled evaluators, and the readers that validate a record for each policy."""

    def __init__(self, old: CheckedPolicy, new: CheckedPolicy, as_of: float) -> None:
        self.models = (old, new)
        self.evaluators = (Evaluator(old, {}), Evaluator(new, {}))
        self.readers = (
            JourneyReader(old, check_duplicates=False),
            JourneyReader(new, check_duplicates=False),
        )
        self.as_of = as_of

    def decide(self, record: dict[str, Any]) -> tuple[Decision, Decision] | None:
        """The two decisions, or None when the record is not a valid lead for both."""
        decisions = []
        for reader, evaluator in zip(self.readers, self.evaluators, strict=True):
            try:
                lead: Lead = reader.lead(dict(record))
            except RecordError:
                return None
            decisions.append(evaluator.decide(lead, self.as_of))
        return decisions[0], decisions[1]


def find_witness(
    old: CheckedPolicy,
    new: CheckedPolicy,
    as_of: float,
    bound: int = 3,
    tries: int = 5,
    search: int = 10_000,
    seed: int = 0,
    timeout: float = 60.0,
) -> Witness:
    """A lead the two policies decide differently as of ``as_of`` (see the module's text)."""
    checker = _Checker(old, new, as_of)
    try:
        lead = SymbolicLead((old, new), bound)
        encodings = (PolicyEncoding(old, lead), PolicyEncoding(new, lead))
        for encoding in encodings:
            if encoding.route_problem is not None:
                raise encoding.route_problem
    except Unsupported as exc:
        return _search(checker, bound, search, seed, f"{exc.message} is outside the proof")
    solver = z3.Solver()
    solver.set("timeout", int(timeout * 1000))
    solver.add(lead.domain)
    solver.add(differ(*encodings))
    for _ in range(tries):
        answer = solver.check()
        if answer == z3.unsat:
            return Witness("equivalent", bound, as_of)
        if answer != z3.sat:
            reason = f"the solver gave up ({solver.reason_unknown()})"
            return _search(checker, bound, search, seed, reason)
        record, assignment = extract(lead, solver.model(), as_of)
        decided = checker.decide(record)
        if decided is not None and outcome_key(decided[0]) != outcome_key(decided[1]):
            record, decided = shrink(checker, record, decided)
            return Witness("witness", bound, as_of, record, *decided, proved=True)
        solver.add(z3.Not(z3.And(assignment)) if assignment else z3.BoolVal(False))
    return Witness("unconfirmed", bound, as_of, reason=f"{tries} leads did not re-check")


def shrink(
    checker: _Checker, record: dict[str, Any], decided: tuple[Decision, Decision]
) -> tuple[dict[str, Any], tuple[Decision, Decision]]:
    """A smaller witness: ``record`` without each event and each profile field (latest
    first) whose removal keeps the two decisions different, with its decisions."""

    def differs(candidate: dict[str, Any]) -> tuple[Decision, Decision] | None:
        found = checker.decide(candidate)
        if found is None or outcome_key(found[0]) == outcome_key(found[1]):
            return None
        return found

    for index in reversed(range(len(record["events"]))):
        events = record["events"][:index] + record["events"][index + 1 :]
        found = differs({**record, "events": events})
        if found is not None:
            record, decided = {**record, "events": events}, found
    for name in list(record["profile"]):
        profile = {k: v for k, v in record["profile"].items() if k != name}
        found = differs({**record, "profile": profile})
        if found is not None:
            record, decided = {**record, "profile": profile}, found
    return record, decided


def differ(old: PolicyEncoding, new: PolicyEncoding) -> Term:
    """The term "the two policies decide the lead differently as of T"."""
    stages = {*old.model.stage_names, *new.model.stage_names, DISQUALIFIED}
    terms = [old.stage_is(name) != new.stage_is(name) for name in sorted(stages)]
    reasons = {*old.reasons, *new.reasons}
    terms += [old.reason_holds(r) != new.reason_holds(r) for r in sorted(reasons)]
    targets: list[tuple[str, str | None] | None] = [None]
    targets += sorted(old.route_targets() | new.route_targets(), key=repr)
    terms += [old.route_is(t) != new.route_is(t) for t in targets]
    return z3.Or(terms)


def _search(checker: _Checker, bound: int, count: int, seed: int, reason: str) -> Witness:
    old, new = checker.models
    for number, record in enumerate(random_records((old, new), count, seed, bound, checker.as_of)):
        decided = checker.decide(record)
        if decided is not None and outcome_key(decided[0]) != outcome_key(decided[1]):
            record, decided = shrink(checker, {**record, "id": WITNESS_ID}, decided)
            found = Witness("witness", bound, checker.as_of, record, *decided, reason=reason)
            return _replace_searched(found, number + 1)
    return Witness("searched", bound, checker.as_of, reason=reason, searched=count)


def _replace_searched(witness: Witness, searched: int) -> Witness:
    return Witness(
        witness.outcome,
        witness.bound,
        witness.as_of,
        witness.record,
        witness.old,
        witness.new,
        witness.reason,
        searched,
    )


# ---------------------------------------------------------------- reading the solver's lead


def _value(model: z3.ModelRef, val: Val, kind: str, names: list[str]) -> tuple[Any, list[Term]]:
    """A field's value in the solver's model, as a journey record holds it, and the
    equalities that pin it (to exclude this lead when it does not re-check)."""
    if val.kind == "set":
        assert val.members is not None
        chosen = []
        pins = []
        for key, term in sorted(val.members.items(), key=lambda kv: str(kv[0])):
            holds = z3.is_true(model.eval(term, model_completion=True))
            pins.append(term == holds)
            if holds:
                chosen.append(key)
        return chosen, pins
    found = model.eval(val.raw, model_completion=True)
    pin = [val.raw == found]
    if kind == "int":
        return found.as_long(), pin
    if kind == "number":
        fraction = Fraction(found.as_fraction())
        return (int(fraction) if fraction.denominator == 1 else float(fraction)), pin
    if kind == "bool":
        return z3.is_true(found), pin
    if kind == "text":
        return python_text(found), pin
    if kind == "date":
        return dt.date.fromordinal(found.as_long()).isoformat(), pin
    return names[found.as_long()], pin  # an enum member


def extract(
    lead: SymbolicLead, model: z3.ModelRef, as_of: float
) -> tuple[dict[str, Any], list[Term]]:
    """The solver's lead as a journey record (SPEC §12), and the equalities that pin it."""
    pins: list[Term] = []
    names = lead.members.names

    def fields(values: dict[str, Val], types: dict[str, Any], into: dict[str, Any]) -> None:
        for name, val in values.items():
            present = z3.is_true(model.eval(val.ok, model_completion=True))
            pins.append(val.ok == present)
            if present:
                into[name], pinned = _value(model, val, types[name].kind, names)
                pins.extend(pinned)

    profile: dict[str, Any] = {}
    fields(lead.profile, lead.field_types, profile)
    events: list[tuple[int, dict[str, Any]]] = []
    for slot in lead.all_slots():
        present = z3.is_true(model.eval(slot.present, model_completion=True))
        pins.append(slot.present == present)
        if not present:
            continue
        age = model.eval(slot.age, model_completion=True).as_long()
        pins.append(slot.age == age)
        event: dict[str, Any] = {"type": slot.type, "at": format_instant(as_of - age)}
        fields(slot.fields, lead.event_types[slot.type], event)
        events.append((-age, event))
    events.sort(key=lambda item: item[0])
    record = {"id": WITNESS_ID, "profile": profile, "events": [e for _, e in events]}
    return record, pins
