"""The explanation of a decision as a typed structure (SPEC §8.0): why a lead is where it
is, for the sales rep reading a handoff and the reviewer tracing a decision.

- **why this stage**: each clause of the stage's condition with its operands' values, and
  for a stage entered earlier, the instant, the scores then and the event that tipped it;
- **why not the next stages**: each failing clause with the values and the shortfall
  (``intent 41 < 50: 9 short``; ``no demo_request within 30 days: the last 41 days ago``),
  and each holding disqualifier with its evidence;
- **every point**: each rule's points with its events, decay factors and a cap that bit;
- **the history**: each change of stage with the scores then and the handoff it made, and
  each handoff a hot event made (SPEC §8: `route ... on EVENT`).

:func:`mqldsl.engine.explain.explain` builds it; :mod:`mqldsl.render.explanation` writes
it as text, Markdown or HTML; ``to_json`` is its JSON form.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mqldsl.engine.helpers import DISQUALIFIED
from mqldsl.engine.runtime import Event, RouteDecision, format_instant

__all__ = [
    "Change",
    "Clause",
    "DisqualifierCheck",
    "Entry",
    "EventPoints",
    "Explanation",
    "Operand",
    "RuleExplanation",
    "ScoreExplanation",
    "StageCheck",
    "event_json",
    "plain",
]

# How many matching events a clause lists (the latest ones); `matched` says how many there were.
SHOWN_EVENTS = 5


def plain(value: Any) -> Any:
    """A value as JSON: sets as sorted lists, dates as ISO text, floats to 4 decimals."""
    if isinstance(value, frozenset | set):
        return sorted(plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return int(value) if value.is_integer() else round(value, 4)
    return value


def _instant(value: float | None) -> str | None:
    return None if value is None else format_instant(value)


def _route_json(route: RouteDecision | None) -> dict[str, Any] | None:
    if route is None:
        return None
    data: dict[str, Any] = {
        "queue": route.queue,
        "sla": route.sla,
        "at": format_instant(route.entered),
        "due": _instant(route.due),
    }
    if route.trigger is not None:  # a hot-event route: the event that handed the lead over
        data["trigger"] = event_json(route.trigger)
    return data


@dataclass(frozen=True)
class EventPoints:
    """One event behind a rule: the points it gave (None when the rule gives its points
    once, not per event), and for a decaying score its age and decay factor."""

    event: Event
    points: float | None
    factor: float | None
    age_days: float
    contact: str | None = None  # in an account rule: the lead the event belongs to (SPEC §9)

    def to_json(self) -> dict[str, Any]:
        data = event_json(self.event)
        if self.contact is not None:
            data["contact"] = self.contact
        data["points"] = plain(self.points)
        if self.factor is not None:  # (to 6 decimals: 0.9 ** 5 is 0.59049, not 0.5905)
            factor = round(self.factor, 6)
            data["factor"] = int(factor) if factor.is_integer() else factor
        data["age_days"] = plain(self.age_days)
        return data


def event_json(event: Event) -> dict[str, Any]:
    """An event as the explanations' JSON gives it: its time, type and own fields. The fields
    are an object of their own, so that no field name (`points`, `contact`, ...) can collide
    with what an explanation says about the event."""
    return {
        "at": format_instant(event.at),
        "type": event.type,
        "fields": {k: plain(v) for k, v in event.fields.items()},
    }


def events_json(events: Sequence[Event], contacts: Sequence[str | None]) -> list[dict[str, Any]]:
    """The events of one instant, a colleague's with its `contact` (SPEC §9)."""
    out = []
    for number, event in enumerate(events):
        data = event_json(event)
        contact = contacts[number] if number < len(contacts) else None
        if contact is not None:
            data["contact"] = contact
        out.append(data)
    return out


@dataclass(frozen=True)
class Operand:
    """An operand of a clause: its text, what it is, and the value used (None: missing)."""

    text: str
    # field, account field, event field, param, score, count, days since, aggregate, literal,
    # value
    kind: str
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "kind": self.kind, "value": plain(self.value)}


ClauseKind = Literal[
    "all", "any", "not", "compare", "between", "membership", "text", "presence", "events",
    "no events", "value",
]  # fmt: skip


@dataclass(frozen=True)
class Clause:
    """A condition evaluated at one instant. ``all``/``any``/``not`` hold ``parts``; a
    comparison holds its operands and, when it fails on numbers, the ``shortfall`` (how far
    the left side is from the bound: ``short`` below it, ``over`` above it). An event
    clause holds the matching events (the latest :data:`SHOWN_EVENTS` of ``matched``) and,
    when nothing matches in the window, the ``last`` match outside it and its age
    (``before_start``: it was at or before the journey start, so it no longer counts)."""

    text: str
    kind: ClauseKind
    holds: bool
    op: str | None = None
    operands: tuple[Operand, ...] = ()
    shortfall: float | None = None
    direction: Literal["short", "over"] | None = None
    window: str | None = None
    matched: int = 0
    events: tuple[Event, ...] = ()
    last: Event | None = None
    last_age_days: float | None = None
    before_start: bool = False  # `last` is at or before the journey start (recycling)
    parts: tuple[Clause, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text, "kind": self.kind, "holds": self.holds}
        if self.op is not None:
            data["op"] = self.op
        if self.operands:
            data["operands"] = [o.to_json() for o in self.operands]
        if self.shortfall is not None:
            data["shortfall"] = plain(self.shortfall)
            data["direction"] = self.direction
        if self.kind in ("events", "no events"):
            data["window"] = self.window
            data["matched"] = self.matched
            data["events"] = [event_json(e) for e in self.events]
            if self.last is not None:
                data["last"] = event_json(self.last)
                data["last_age_days"] = plain(self.last_age_days)
                data["before_journey_start"] = self.before_start
        if self.parts:
            data["parts"] = [p.to_json() for p in self.parts]
        return data


@dataclass(frozen=True)
class StageCheck:
    """A stage's condition at the as-of instant (None for the entry stage)."""

    stage: str
    description: str | None
    line: int
    condition: str | None
    clause: Clause | None

    @property
    def holds(self) -> bool:
        return self.clause is None or self.clause.holds

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "description": self.description,
            "line": self.line,
            "condition": self.condition,
            "holds": self.holds,
            "clause": None if self.clause is None else self.clause.to_json(),
        }


@dataclass(frozen=True)
class Entry:
    """How the lead entered a stage: the instant, why, the scores then, the events at that
    instant (what tipped it; none when a window closed or a decay step passed) and the
    stage's condition evaluated then."""

    stage: str
    at: float
    reason: str
    scores: Mapping[str, Any]
    events: tuple[Event, ...]
    clause: Clause | None
    recycle: Clause | None = None  # entered by a recycle: the rule's condition, then
    # For each of ``events``, the colleague whose event it is (SPEC §9), None for the lead's own.
    contacts: tuple[str | None, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "at": format_instant(self.at),
            "reason": self.reason,
            "scores": {k: plain(v) for k, v in self.scores.items()},
            "events": events_json(self.events, self.contacts),
            "clause": None if self.clause is None else self.clause.to_json(),
            "recycle": None if self.recycle is None else self.recycle.to_json(),
        }


@dataclass(frozen=True)
class DisqualifierCheck:
    reason: str
    line: int
    condition: str
    clause: Clause
    file: str | None = None  # the included file it is written in (SPEC §3.1); None: the policy

    @property
    def holds(self) -> bool:
        return self.clause.holds

    @property
    def where(self) -> str:
        """`line N`, or `FILE line N` in an included file."""
        return f"{self.file} line {self.line}" if self.file else f"line {self.line}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reason": self.reason,
            "line": self.line,
            "condition": self.condition,
            "holds": self.holds,
            "clause": self.clause.to_json(),
        }
        if self.file is not None:
            data["file"] = self.file
        return data


@dataclass(frozen=True)
class RuleExplanation:
    """One rule of a score: the points it gave at the as-of instant (from the engine), the
    events behind them, the decay (``decay``: "10% every 7 days"), and a cap that bit
    (``uncapped``: the decayed sum before the cap ``max``)."""

    line: int
    rule: str
    condition: str
    label: str | None
    points: float
    each: float
    events: tuple[EventPoints, ...]
    max: float | None
    uncapped: float | None
    decay: str | None
    file: str | None = None  # the included file it is written in (SPEC §3.1); None: the policy

    @property
    def capped(self) -> bool:
        return self.uncapped is not None

    @property
    def where(self) -> str:
        """`line N`, or `FILE line N` in an included file."""
        return f"{self.file} line {self.line}" if self.file else f"line {self.line}"

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "rule": self.rule,
            "condition": self.condition,
            "label": self.label,
            "points": plain(self.points),
            "each": plain(self.each),
            "max": plain(self.max),
            "capped": self.capped,
            "uncapped": plain(self.uncapped),
            "decay": self.decay,
            "events": [e.to_json() for e in self.events],
        } | ({"file": self.file} if self.file is not None else {})


@dataclass(frozen=True)
class ScoreExplanation:
    """A score's value and how it was made: its rules, or its formula with the values of
    the names in it; ``unclamped`` is the rules' sum when the range clamped it."""

    name: str
    description: str | None
    value: float | int | None
    lowest: float | None
    highest: float | None
    rules: tuple[RuleExplanation, ...] = ()
    formula: str | None = None
    operands: tuple[Operand, ...] = ()
    range: tuple[float, float] | None = None
    unclamped: float | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "description": self.description,
            "value": plain(self.value),
            "lowest": plain(self.lowest),
            "highest": plain(self.highest),
        }
        if self.formula is not None:
            data["formula"] = self.formula
            data["operands"] = [o.to_json() for o in self.operands]
        else:
            data["rules"] = [r.to_json() for r in self.rules]
            data["range"] = None if self.range is None else [plain(v) for v in self.range]
            data["unclamped"] = plain(self.unclamped)
        return data


@dataclass(frozen=True)
class Change:
    """A change of stage in the timeline: why, the scores then, the events at that instant
    and the handoff the entry made (its queue and due time)."""

    at: float
    stage: str
    reason: str
    recycled: bool
    scores: Mapping[str, Any]
    events: tuple[Event, ...]
    handoff: RouteDecision | None
    # A fall back: the previous stage's condition, failing; a recycle: the recycle
    # rule's condition, holding. None for other changes.
    clause: Clause | None = None
    # For each of ``events``, the colleague whose event it is (SPEC §9), None for the lead's own.
    contacts: tuple[str | None, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "at": format_instant(self.at),
            "stage": self.stage,
            "reason": self.reason,
            "recycled": self.recycled,
            "scores": {k: plain(v) for k, v in self.scores.items()},
            "events": events_json(self.events, self.contacts),
            "handoff": _route_json(self.handoff),
            "clause": None if self.clause is None else self.clause.to_json(),
        }


@dataclass(frozen=True)
class Explanation:
    """Everything SPEC §8.0 says an explanation answers, for one lead as of one instant."""

    lead: str
    as_of: float
    stage: str
    description: str | None
    reached: str  # the furthest stage the current stay reached (the stage, unless disqualified)
    journey_start: float | None  # the last recycle instant (None: the whole history counts)
    stages: tuple[StageCheck, ...]  # every stage, at the as-of instant
    entry: Entry | None  # how the lead entered its current stage
    disqualifiers: tuple[DisqualifierCheck, ...]
    scores: tuple[ScoreExplanation, ...]
    route: RouteDecision | None
    timeline: tuple[Change, ...]
    # The policy that decided (the decision's `policy`: version, sha256, changed params);
    # the decision's JSON carries it, so ``to_json`` does not repeat it.
    policy: Mapping[str, Any] | None = None
    # The handoffs hot events made (SPEC §8), each with the stage the lead was in, in time
    # order; the entries' handoffs are on the timeline's changes.
    hot: tuple[tuple[str, RouteDecision], ...] = ()

    def check(self, stage: str) -> StageCheck:
        """The check of one stage (KeyError for a name that is not a stage)."""
        for check in self.stages:
            if check.stage == stage:
                return check
        raise KeyError(stage)

    def status(self, stage: str) -> Literal["at", "past", "not reached", "disqualified"]:
        """Where the lead is with respect to ``stage``: at it, past it, not there yet, or
        disqualified (no stage applies)."""
        if self.stage == DISQUALIFIED:
            return "disqualified"
        names = [c.stage for c in self.stages]
        if stage == self.stage:
            return "at"
        return "past" if names.index(stage) < names.index(self.stage) else "not reached"

    @property
    def why(self) -> StageCheck | None:
        """The current stage's condition at the as-of instant (None when disqualified)."""
        return None if self.stage == DISQUALIFIED else self.check(self.stage)

    @property
    def why_not(self) -> tuple[StageCheck, ...]:
        """The stages after the one reached, with their conditions at the as-of instant."""
        names = [c.stage for c in self.stages]
        return self.stages[names.index(self.reached) + 1 :]

    @property
    def handoffs(self) -> tuple[tuple[str, RouteDecision], ...]:
        """Every handoff (stage, route) in time order: entries and hot events; at one instant
        the entry's comes first (the hot event's is the one that stands)."""
        entries = [(c.stage, c.handoff) for c in self.timeline if c.handoff is not None]
        both = [(r.entered, 0, stage, r) for stage, r in entries]
        both += [(r.entered, 1, stage, r) for stage, r in self.hot]
        return tuple((stage, r) for _, _, stage, r in sorted(both, key=lambda x: x[:2]))

    def to_json(self) -> dict[str, Any]:
        why = self.why
        return {
            "lead": self.lead,
            "as_of": format_instant(self.as_of),
            "stage": self.stage,
            "description": self.description,
            "journey_start": _instant(self.journey_start),
            "why": None
            if why is None
            else {**why.to_json(), "entered": None if self.entry is None else self.entry.to_json()},
            "why_not": [c.to_json() for c in self.why_not],
            "disqualifiers": [d.to_json() for d in self.disqualifiers],
            "disqualified_since": None
            if self.stage != DISQUALIFIED or self.entry is None
            else self.entry.to_json(),
            "scores": {s.name: s.to_json() for s in self.scores},
            "route": _route_json(self.route),
            "handoffs": [
                {"stage": stage, **(_route_json(route) or {})} for stage, route in self.handoffs
            ],
            "timeline": [c.to_json() for c in self.timeline],
        }
