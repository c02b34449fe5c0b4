"""What the code of a compiled policy calls at run time: the small helpers
(window searches, decay sums, missing-aware division and rounding) and the
timeline driver (SPEC §7) that turns per-instant results into a decision,
with `entered`, route and SLA.

:func:`mqldsl.engine.codegen.compile_policy` executes the generated source in
a fresh namespace made by :func:`namespace`; this module imports nothing from
the code generator.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from types import MappingProxyType
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.stamp import PolicyStamp, policy_stamp
from mqldsl.engine.calendars import Deadline, route_deadlines
from mqldsl.engine.runtime import (
    DAY,
    Decision,
    EvalResult,
    Event,
    Handoff,
    Lead,
    RouteDecision,
    TimelineStep,
    TimelineTooLong,
    account_events,
    cap,
    check_size,
    clamp,
    decay_factor,
    exact_mean,
    exact_sum,
    hot_routes,
    instants,
    round_score,
    timeline_times,
)

NEG = -math.inf
DISQUALIFIED = "disqualified"
# A score not computed yet, in the generated functions that compute scores on first use.
UNSET = object()


# ---------------------------------------------------------------- helpers for generated code


def _latest(times: Sequence[float], t: float, low: float) -> float | None:
    index = bisect_right(times, t)
    if index and times[index - 1] > low:
        return times[index - 1]
    return None


def _since(times: Sequence[float], t: float, start: float) -> float | None:
    latest = _latest(times, t, start)
    return None if latest is None else (t - latest) / DAY


def _dsum(
    times: Sequence[float], t: float, low: float, points: float, percent: float, every: float
) -> float:
    total = 0.0
    for index in range(bisect_right(times, low), bisect_right(times, t)):
        total += points * decay_factor(percent, every, t - times[index])
    return total


# Aggregates (SPEC §5) over the values at indexes [i, j) of an aggregate's series: the
# matching events that have the field, in time order (an int sum reads prefix sums instead).


def _fsum(values: Sequence[float], i: int, j: int) -> float:
    return exact_sum(values[i:j])


def _amax(values: Sequence[float], i: int, j: int) -> float | None:
    return max(values[i:j]) if j > i else None


def _amin(values: Sequence[float], i: int, j: int) -> float | None:
    return min(values[i:j]) if j > i else None


def _aavg(values: Sequence[float], i: int, j: int) -> float | None:
    return exact_mean(values[i:j]) if j > i else None


def _group(events: Sequence[Any]) -> dict[str, list[Any]]:
    """A lead's events by type, each list in time order."""
    groups: dict[str, list[Any]] = {}
    for event in events:
        group = groups.get(event.type)
        if group is None:
            groups[event.type] = [event]
        else:
            group.append(event)
    return groups


def _limit(meta: PolicyMeta, lead: Lead, as_of: float, times: Sequence[float]) -> None:
    """:class:`TimelineTooLong` (naming the lead) when its timeline passes the limit of
    instants (SPEC §7, E900): checked before the generated code lists a lead's change points.
    ``times``: the times of the events the timeline is built on (``timeline_times``'s)."""
    try:
        check_size(times, meta.windows, meta.decay_periods, as_of)
    except TimelineTooLong as exc:
        raise exc.for_lead(lead.id) from None


def whole_seconds(times: Sequence[float]) -> bool:
    """Whether every event time is a whole second (window ends and decay steps are then
    exact)."""
    try:
        return all(map(_IS_INTEGER, times))  # in C: half the cost of a loop in Python
    except TypeError:  # an int time (a lead made in code, not read)
        return all(at % 1.0 == 0 for at in times)


_IS_INTEGER = float.is_integer


def _steps(points: set[float], times: Sequence[float], period: float, as_of: float) -> None:
    """Add to ``points`` the decay steps of ``times`` up to ``as_of``, computed as
    :func:`~mqldsl.engine.runtime.instants` does. Bounded: the generated code has checked the
    limit of instants (:func:`_limit`) before it calls this."""
    for at in dict.fromkeys(times):
        k = 1
        while at + k * period <= as_of:
            points.add(at + k * period)
            k += 1


def _distinct(times: Sequence[float], leads: Sequence[int], low: float, t: float) -> int:
    """How many distinct leads have a match time in (low, t] (`count(distinct contact with
    ...)`, SPEC §9): ``times`` sorted, ``leads`` the lead of each match."""
    return len(set(leads[bisect_right(times, low) : bisect_right(times, t)]))


def _dcontacts(
    times: Sequence[float],
    leads: Sequence[int],
    low: float,
    t: float,
    points: float,
    percent: float,
    every: float,
) -> float:
    """`+P per contact with ...` in a decayed account score: P for each lead with a match in
    (low, t], decayed by the age of that lead's latest match."""
    latest: dict[int, float] = {}
    for i in range(bisect_right(times, low), bisect_right(times, t)):
        latest[leads[i]] = times[i]  # times ascend: the last one seen is the latest
    total = 0.0
    for _, at in sorted(latest.items()):  # in the leads' order, as the interpreter adds
        total += points * decay_factor(percent, every, t - at)
    return total


def _account_events(lead: Lead) -> list[tuple[Any, Any, int]]:
    """Every event of the account's leads with the lead's profile and number, by time."""
    return [(event, contact.profile, number) for event, contact, number in account_events(lead)]


def _group_account(events: Sequence[tuple[Any, Any, int]]) -> dict[str, list[Any]]:
    """:func:`_account_events` grouped by event type (each group in time order)."""
    groups: dict[str, list[Any]] = {}
    for item in events:
        group = groups.get(item[0].type)
        if group is None:
            groups[item[0].type] = [item]
        else:
            group.append(item)
    return groups


def _div(a: Any, b: Any) -> Any:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _round(value: Any) -> float | int | None:
    if value is None or isinstance(value, bool):
        return None
    return round_score(float(value))


# ---------------------------------------------------------------- the driver


@dataclass(frozen=True)
class PolicyMeta:
    stages: tuple[str, ...]
    locked: bool
    windows: tuple[float, ...]
    decay_periods: tuple[float, ...]
    scores: tuple[str, ...]  # evaluation order
    declared: tuple[str, ...]  # lead scores in declaration order: a decision's `scores`
    shown: tuple[str, ...]  # every score in declaration order: a timeline step's scores
    routes: tuple[tuple[str, Deadline | None], ...]  # queue, SLA
    recycles: tuple[tuple[str, str, int], ...]  # from, to, line
    policy: PolicyStamp  # stamped on every decision
    # Per stage, the hot-event routes that fire while a lead is in it (runtime.hot_routes).
    hot: tuple[tuple[int, ...], ...] = ()
    # Accounts (SPEC §9): the account scores (declaration order), whether decisions carry
    # `account`/`account_scores`, whether the timeline has the colleagues' event times.
    account_scores: tuple[str, ...] = ()
    uses_accounts: bool = False
    account_timeline: bool = False

    @functools.cached_property
    def places(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Where each of ``declared`` and of ``account_scores`` is in ``scores``."""
        order = {name: i for i, name in enumerate(self.scores)}
        return tuple(order[n] for n in self.declared), tuple(order[n] for n in self.account_scores)

    @staticmethod
    def of(model: CheckedPolicy, params: Mapping[str, Any] | None = None) -> PolicyMeta:
        return PolicyMeta(
            stages=model.stage_names,
            locked=model.locked,
            windows=model.windows,
            decay_periods=tuple(
                sorted({s.node.decay.every.seconds for s in model.scores.values() if s.node.decay})
            ),
            scores=model.score_order,
            declared=model.lead_scores,
            shown=tuple(model.scores),
            routes=tuple(
                (r.queue, deadline)
                for r, deadline in zip(model.routes, route_deadlines(model), strict=True)
            ),
            recycles=tuple((r.from_stage, r.to_stage, r.span.line) for r in model.recycles),
            policy=policy_stamp(model, params),
            hot=hot_routes(model.stage_names, [(r.stage, r.on is not None) for r in model.routes]),
            account_scores=model.account_scores,
            uses_accounts=model.uses_accounts,
            account_timeline=model.reads_account_scores,
        )


class Timeline:
    """What a walk of a lead's timeline keeps (SPEC §7, §8): the current stage, when each
    stage was entered and from which journey start, the changes, the first entry of each
    stage and the handoffs. Shared by :func:`drive` and the walk the generated code writes
    for itself (``sweep``), so that both make the same steps, entries and decision."""

    __slots__ = (
        "entered",
        "first",
        "handoffs",
        "label",
        "latest",
        "lead",
        "meta",
        "route",
        "starts",
        "steps",
    )

    def __init__(
        self, meta: PolicyMeta, lead: Lead, route: Callable[[int, float, float], int]
    ) -> None:
        self.meta = meta
        self.lead = lead
        self.route = route
        self.label: str | None = None
        self.entered: dict[str, float] = {}
        self.starts: dict[str, float] = {}
        self.steps: list[TimelineStep] = []
        self.first: dict[str, tuple[float, int]] = {}
        self.handoffs: list[Handoff] = []
        self.latest: Handoff | None = None  # the last hot-event handoff of the current stay

    def step(self, t: float, holding: int, reasons: Sequence[str]) -> None:
        """The generated walk's change at ``t`` (``holding``: the stage's number, -1 for
        disqualified by ``reasons``), on a journey that never restarts."""
        if holding < 0:
            self.enter(t, NEG, DISQUALIFIED, "disqualified: " + "; ".join(reasons))
        else:
            self.enter(t, NEG, self.meta.stages[holding], "")

    def enter(
        self,
        t: float,
        start: float,
        new: str,
        why: str,
        cycled: int = -1,
        step: TimelineStep | None = None,
    ) -> None:
        """The lead enters stage ``new`` at ``t`` (journey start ``start``) because ``why``
        (empty: said from the stages left and entered); ``step``: the change as explained."""
        names = self.meta.stages
        why = self.why(new, why)
        self.entered[new] = t
        self.starts[new] = start
        self.label = new
        self.steps.append(step or TimelineStep(t, new, why, recycled_by=cycled))
        self.latest = None
        if new != DISQUALIFIED:
            number = self.route(names.index(new), t, start)
            if new not in self.first:
                self.first[new] = (t, number)
            if number >= 0:
                self.handoffs.append(Handoff(t, new, number))

    def why(self, new: str, why: str) -> str:
        """The reason shown for entering ``new`` (see :meth:`enter`)."""
        label = self.label
        if why:
            return why
        if label is None:
            return "start"
        if label == DISQUALIFIED:
            return "no disqualifier holds any more"
        names = self.meta.stages
        if names.index(new) > names.index(label):
            return "condition now holds"
        return f"{label}'s condition no longer holds"

    def finish(
        self,
        as_of: float,
        reasons: Sequence[str],
        values: tuple[Any, ...],
        contributions: dict[str, tuple[float, ...]] | None,
        start: float,
    ) -> EvalResult:
        """The lead's decision as of ``as_of``: the stage reached, the disqualifiers holding
        there (``reasons``), the scores there (``values``, in evaluation order), the route of
        the latest handoff of the stay."""
        meta = self.meta
        lead = self.lead
        label = self.label
        assert label is not None
        events = lead.events
        chosen = None
        if label != DISQUALIFIED:
            latest = self.latest
            if latest is not None:  # the latest handoff of the stay: a hot event's
                chosen = route_decision(meta, latest.route, latest.at, events[latest.event])
            else:
                at = self.entered[label]
                number = self.route(meta.stages.index(label), at, self.starts[label])
                chosen = route_decision(meta, number, at)
        decision = _decision(meta, lead, as_of, label, self.entered, reasons, values, chosen)
        return EvalResult(
            decision, tuple(self.steps), contributions, start, self.first, tuple(self.handoffs)
        )


class Entries:
    """What the generated walk (``sweep``) keeps when only the lead's decision is read
    (:meth:`Evaluator.decide <mqldsl.engine.evaluator.Evaluator.decide>`): the current
    stage and when each stage was last entered, without the steps, first entries and
    handoffs a :class:`Timeline` records for explanations and the simulator. The same
    decision as a :class:`Timeline`'s (tests/test_evaluator_differential.py)."""

    __slots__ = ("entered", "label", "stages")

    def __init__(self, stages: tuple[str, ...]) -> None:
        self.stages = stages
        self.entered: dict[str, float] = {}
        self.label: str | None = None

    def step(self, t: float, holding: int, reasons: Sequence[str]) -> None:
        """As :meth:`Timeline.step` (a journey that never restarts)."""
        label = DISQUALIFIED if holding < 0 else self.stages[holding]
        self.entered[label] = t
        self.label = label

    def finish(
        self,
        meta: PolicyMeta,
        lead: Lead,
        as_of: float,
        reasons: Sequence[str],
        values: tuple[Any, ...],
        route: Callable[[int, float, float], int],
    ) -> EvalResult:
        """As :meth:`Timeline.finish` for a walk without hot-event routes or restarts; the
        result holds the decision only."""
        label = self.label
        assert label is not None
        chosen = None
        if label != DISQUALIFIED:
            at = self.entered[label]
            chosen = route_decision(meta, route(self.stages.index(label), at, NEG), at)
        decision = _decision(meta, lead, as_of, label, self.entered, reasons, values, chosen)
        return EvalResult(decision, (), None, NEG, {}, ())


def _decision(
    meta: PolicyMeta,
    lead: Lead,
    as_of: float,
    label: str,
    entered: dict[str, float],
    reasons: Sequence[str],
    values: tuple[Any, ...],
    route: RouteDecision | None,
) -> Decision:
    """The decision of a walk that ended in stage ``label``, with the scores ``values`` (in
    evaluation order) as of ``as_of``."""
    declared, account = meta.places
    value = values.__getitem__
    return Decision(
        id=lead.id,
        as_of=as_of,
        stage=label,
        scores=dict(zip(meta.declared, map(value, declared), strict=True)),
        disqualified=tuple(reasons),
        route=route,
        entered=dict(sorted(entered.items(), key=_SECOND)),  # stable: ties keep their order
        policy=meta.policy,
        account_scores=dict(zip(meta.account_scores, map(value, account), strict=True))
        if meta.uses_accounts
        else None,
        account=lead.account,
    )


_SECOND = operator.itemgetter(1)


def drive(
    meta: PolicyMeta,
    lead: Lead,
    as_of: float,
    explain: bool | None,
    scores: Callable[[float, float], tuple[Any, ...]],
    scores_explain: Callable[[float, float], tuple[tuple[Any, ...], list[tuple[float, ...]]]],
    instant: Callable[[float, float, int], tuple[list[str], int]],
    recycle: Callable[[int, float, float], tuple[int, int]],
    route: Callable[[int, float, float], int],
    pts: list[float] | None = None,
    hot: Callable[[int, float, float, Event], int] | None = None,
    sweep: Callable[[Timeline | Entries], Sequence[str]] | None = None,
) -> EvalResult:
    """Walk the lead's timeline: at each instant of ``pts`` (its change points, see
    :mod:`mqldsl.engine.changes`; None: every instant of SPEC §7), the holding stage,
    disqualifiers and recycling, and the handoffs (SPEC §8: each entry, and each event
    that fires a hot-event route, ``hot``); then the decision as of ``as_of``.
    ``sweep``: the generated code's own walk of ``pts`` (a policy without recycle rules
    or hot-event routes), used when the lead is not explained; it returns the reasons
    at the last instant. ``explain`` None: only the decision is read (the sweep then keeps
    :class:`Entries`, and the result has no steps, first entries or handoffs)."""
    if sweep is not None and pts is not None and not explain:
        if explain is None:  # the decision only
            entries = Entries(meta.stages)
            return entries.finish(meta, lead, as_of, sweep(entries), scores(as_of, NEG), route)
        walked = Timeline(meta, lead, route)
        return walked.finish(as_of, sweep(walked), scores(as_of, NEG), None, NEG)
    timeline = Timeline(meta, lead, route)
    names = meta.stages
    locked = meta.locked
    if pts is None:
        try:
            times = timeline_times(lead, meta.account_timeline)
            points = instants(times, meta.windows, meta.decay_periods, as_of)
        except TimelineTooLong as exc:
            raise exc.for_lead(lead.id) from None
    else:
        points = pts  # the generated code has checked the limit (_limit) before listing them
    # After a change in a locked timeline with recycle rules, the next instant of SPEC §7 is
    # evaluated too: a recycle rule of the stage just reached applies there.
    chase = pts is not None and locked and bool(meta.recycles)
    full: list[float] | None = None  # every instant of SPEC §7, listed at the first chase
    pending: float | None = None  # the instant after a change, when it is not in `points`
    total = len(points)
    position = 0
    reached = 0
    start = NEG
    reasons: Sequence[str] = []
    hot_table = meta.hot if hot is not None and any(meta.hot) else None
    events = lead.events
    ei = 0  # the first event not before the instant (hot-event routes)
    while position < total or pending is not None:
        if pending is not None and (position == total or pending < points[position]):
            t, pending = pending, None
        else:
            t = points[position]
            position += 1
            if pending == t:
                pending = None
        label = timeline.label
        before = (reached, start, label) if chase else None
        # A locked timeline never goes below what it reached: stages up to it are not tried.
        reasons, holding = instant(t, start, reached if locked else 0)
        why = ""
        cycled = -1
        if reasons:
            new = DISQUALIFIED
            why = "disqualified: " + "; ".join(reasons)
        elif meta.locked:
            target, rule = recycle(reached, t, start)
            if target >= 0:
                origin, _, line = meta.recycles[rule]
                reached = target
                start = t
                why = f"recycled from {origin} (line {line})"
                cycled = rule
                _, holding = instant(t, start, reached)
            if holding > reached:
                reached = holding
            new = names[reached]
        else:
            new = names[holding]
        # A recycle is a new stay even where the lead advances at once to the stage it left
        # (SPEC §7, §8: the timeline shows each recycle, the entry routes fire again).
        if new != label or cycled >= 0:
            step = None
            if explain:
                why = timeline.why(new, why)
                step = _explained_step(meta, t, start, new, why, cycled, scores, route)
            timeline.enter(t, start, new, why, cycled, step)
            label = new
        if hot_table is not None and label != DISQUALIFIED and hot_table[names.index(label)]:
            assert hot is not None
            while ei < len(events) and events[ei].at < t:
                ei += 1
            j = ei
            index = names.index(label)
            while j < len(events) and events[j].at == t:
                if t > start:  # a fresh journey holds no event at its recycle instant
                    number = hot(index, t, start, events[j])
                    if number >= 0:
                        timeline.latest = Handoff(t, label, number, j)
                        timeline.handoffs.append(timeline.latest)
                j += 1
        if chase and (reached, start, label) != before:
            if full is None:  # bounded: the generated code has checked the limit of instants
                times = timeline_times(lead, meta.account_timeline)
                full = instants(times, meta.windows, meta.decay_periods, as_of)
            after = bisect_right(full, t)
            pending = full[after] if after < len(full) else None
    contributions: dict[str, tuple[float, ...]] | None = None
    if explain:
        values, parts = scores_explain(as_of, start)
        contributions = dict(zip(meta.scores, parts, strict=True))
    else:
        values = scores(as_of, start)
    return timeline.finish(as_of, reasons, values, contributions, start)


def route_decision(
    meta: PolicyMeta, index: int, at: float, trigger: Event | None = None
) -> RouteDecision | None:
    """The handoff made at ``at`` by route number ``index`` (-1: none), on ``trigger`` for a
    hot-event route."""
    if index < 0:
        return None
    queue, deadline = meta.routes[index]
    if deadline is None:
        return RouteDecision(queue=queue, sla=None, due=None, entered=at, trigger=trigger)
    return RouteDecision(
        queue=queue, sla=deadline.text, due=deadline.due(at), entered=at, trigger=trigger
    )


def _explained_step(
    meta: PolicyMeta,
    t: float,
    start: float,
    stage: str,
    why: str,
    cycled: int,
    scores: Callable[[float, float], tuple[Any, ...]],
    route: Callable[[int, float, float], int],
) -> TimelineStep:
    """A change of stage with the scores at that instant and the handoff it makes."""
    by_name = dict(zip(meta.scores, scores(t, start), strict=True))
    handoff = None
    if stage != DISQUALIFIED:
        handoff = route_decision(meta, route(meta.stages.index(stage), t, start), t)
    shown = {name: by_name[name] for name in meta.shown}
    return TimelineStep(t, stage, why, scores=shown, route=handoff, recycled_by=cycled)


# ---------------------------------------------------------------- the environment

# The names the generated code uses for the helpers above.
HELPERS: Mapping[str, Any] = MappingProxyType(
    {
        "br": bisect_right,
        "_latest": _latest,
        "_since": _since,
        "_dsum": _dsum,
        "_fsum": _fsum,
        "_amax": _amax,
        "_amin": _amin,
        "_aavg": _aavg,
        "_acc": accumulate,
        "_distinct": _distinct,
        "_dcontacts": _dcontacts,
        "_aev": _account_events,
        "_agroup": _group_account,
        "_div": _div,
        "_group": _group,
        "_islice": itertools.islice,
        "_steps": _steps,
        "_limit": _limit,
        "_whole": whole_seconds,
        "_round": _round,
        "_cap": cap,
        "_clamp": clamp,
        "_decay": decay_factor,
        "NEG": NEG,
        "INF": math.inf,
        "_U": UNSET,
        "_E": (),  # no disqualifier holds
        "_drive": drive,
    }
)


def namespace(meta: PolicyMeta, constants: list[Any]) -> dict[str, Any]:
    """A fresh global namespace for one compiled policy: the helpers, the
    policy's constants table ``C`` and its metadata ``META``."""
    env = dict(HELPERS)
    env["C"] = constants
    env["META"] = meta
    return env
