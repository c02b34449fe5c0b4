"""The reference interpreter: a plain tree-walking evaluator of a checked
policy, written for clarity, not speed. It is the oracle the compiled
evaluator is tested against, and it computes everything from scratch at every
instant of a lead's timeline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mqldsl.analysis.bound import bind
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.stamp import policy_stamp
from mqldsl.engine.calendars import route_deadlines
from mqldsl.engine.runtime import (
    COMPARE,
    DAY,
    Decision,
    EvalResult,
    Event,
    Handoff,
    Lead,
    RouteDecision,
    TimelineStep,
    TimelineTooLong,
    aggregate,
    cap,
    clamp,
    contacts,
    decay_factor,
    instants,
    round_score,
    timeline_times,
)
from mqldsl.language import ast


@dataclass(frozen=True)
class Context:
    """Where an expression is evaluated: a lead at instant ``t``, the scores
    already computed there, and (inside `where`) the event being tested."""

    lead: Lead
    t: float
    start: float  # events at or before this instant do not count (recycling)
    scores: Mapping[str, Any]
    event: Event | None = None
    account: bool = False  # in an account score: patterns match the whole account's events


class Interpreter(ast.ContextVisitor[Context, Any]):
    """Evaluates a checked policy on one lead; each expression kind has its
    ``visit_<Kind>(node, ctx)`` method."""

    def __init__(self, model: CheckedPolicy, params: Mapping[str, Any] | None = None) -> None:
        self.model = model = bind(model, params)
        self.params = {name: info.value for name, info in model.params.items()}
        self.params.update(params or {})
        self.stamp = policy_stamp(model, self.params)
        self.deadlines = route_deadlines(model)

    # ------------------------------------------------------------ expressions

    def eval(self, node: ast.Expr, ctx: Context) -> Any:
        """The value of ``node`` in ``ctx``: None for missing; a condition is a bool."""
        return self.visit(node, ctx)

    def _literal(
        self, node: ast.NumberLit | ast.StringLit | ast.BoolLit | ast.DateLit, ctx: Context
    ) -> Any:
        return node.value

    visit_NumberLit = visit_StringLit = visit_BoolLit = visit_DateLit = _literal

    def visit_ListLit(self, node: ast.ListLit, ctx: Context) -> Any:
        return [self.eval(item, ctx) for item in node.items]

    def visit_Name(self, node: ast.Name, ctx: Context) -> Any:
        ref = self.model.ref(node)
        if ref.kind == "field":
            return ctx.lead.profile.get(ref.name)
        if ref.kind == "event_field":
            assert ctx.event is not None
            return ctx.event.fields.get(ref.name)
        if ref.kind == "account_field":
            return ctx.lead.account_profile.get(ref.name)
        if ref.kind == "param":
            value = self.params[ref.name]
            return list(value) if isinstance(value, tuple) else value
        if ref.kind == "score":
            return ctx.scores[ref.name]
        if ref.kind == "event":
            return bool(self.matches(ast.Pattern(event=ref.name, where=None, window=None), ctx))
        return ref.name  # an enum member

    def visit_AccountRef(self, node: ast.AccountRef, ctx: Context) -> Any:
        ref = self.model.refs.get(id(node))
        if ref is not None and ref.kind == "score":
            return ctx.scores[ref.name]
        return ctx.lead.account_profile.get(node.field)

    def visit_Unary(self, node: ast.Unary, ctx: Context) -> Any:
        value = self.eval(node.operand, ctx)
        return None if value is None else -value

    def visit_Arith(self, node: ast.Arith, ctx: Context) -> Any:
        left, right = self.eval(node.left, ctx), self.eval(node.right, ctx)
        if left is None or right is None:
            return None
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        return None if right == 0 else left / right

    def visit_Compare(self, node: ast.Compare, ctx: Context) -> Any:
        left, right = self.eval(node.left, ctx), self.eval(node.right, ctx)
        if left is None or right is None:
            return False
        return COMPARE[node.op](left, right)

    def visit_Between(self, node: ast.Between, ctx: Context) -> Any:
        value = self.eval(node.operand, ctx)
        low, high = self.eval(node.low, ctx), self.eval(node.high, ctx)
        if value is None or low is None or high is None:
            return False
        return bool(low <= value <= high)

    def visit_Membership(self, node: ast.Membership, ctx: Context) -> Any:
        value, collection = self.eval(node.operand, ctx), self.eval(node.collection, ctx)
        if value is None or collection is None:
            return False
        found = value in collection
        return not found if node.negated else found

    def visit_TextTest(self, node: ast.TextTest, ctx: Context) -> Any:
        value, part = self.eval(node.operand, ctx), self.eval(node.value, ctx)
        if value is None or part is None:
            return False
        if node.op == "contains":
            return part in value
        if node.op == "starts with":
            return bool(value.startswith(part))
        return bool(value.endswith(part))

    def visit_Presence(self, node: ast.Presence, ctx: Context) -> Any:
        value = self.eval(node.operand, ctx)
        return (value is None) if node.missing else (value is not None)

    def visit_Not(self, node: ast.Not, ctx: Context) -> Any:
        return not self.eval(node.operand, ctx)

    def visit_And(self, node: ast.And, ctx: Context) -> Any:
        return all(self.eval(o, ctx) for o in node.operands)

    def visit_Or(self, node: ast.Or, ctx: Context) -> Any:
        return any(self.eval(o, ctx) for o in node.operands)

    def visit_Pattern(self, node: ast.Pattern, ctx: Context) -> Any:
        return bool(self.matches(node, ctx))

    def visit_NoEvents(self, node: ast.NoEvents, ctx: Context) -> Any:
        return not self.matches(node.pattern, ctx)

    def visit_Count(self, node: ast.Count, ctx: Context) -> Any:
        return len(self.matches(node.pattern, ctx))

    def visit_Aggregate(self, node: ast.Aggregate, ctx: Context) -> Any:
        # The matching events that have the field; the others contribute nothing (SPEC §5).
        found = self.matches(node.pattern, ctx)
        values = [v for v in (e.fields.get(node.field) for e in found) if v is not None]
        return aggregate(node.function, values, self.model.type_of(node).kind == "int")

    def visit_ContactCount(self, node: ast.ContactCount, ctx: Context) -> Any:
        return len({number for number, _ in self.account_matches(node.pattern, ctx)})

    def visit_DaysSince(self, node: ast.DaysSince, ctx: Context) -> Any:
        since = self.matches(ast.Pattern(event=node.event, where=node.where, window=None), ctx)
        if not since:
            return None
        return (ctx.t - max(e.at for e in since)) / DAY

    def matches(self, pattern: ast.Pattern, ctx: Context) -> list[Event]:
        """The lead's events that match the pattern at ctx.t (in an account score: the
        events of all the account's leads)."""
        if ctx.account:
            # In time order (ties: contact order), as the compiled evaluator adds them.
            found = [event for _, event in self.account_matches(pattern, ctx)]
            return sorted(found, key=lambda event: event.at)
        return self._matches(ctx.lead, pattern, ctx)

    def account_matches(self, pattern: ast.Pattern, ctx: Context) -> list[tuple[int, Event]]:
        """The events of the account's leads that match the pattern at ctx.t, each with
        its lead's number in :func:`~mqldsl.engine.runtime.contacts`. Inside `where`, lead
        fields are the fields of the lead the event belongs to (SPEC §9)."""
        return [
            (number, event)
            for number, contact in enumerate(contacts(ctx.lead))
            for event in self._matches(contact, pattern, ctx)
        ]

    def _matches(self, lead: Lead, pattern: ast.Pattern, ctx: Context) -> list[Event]:
        found = []
        for event in lead.events:
            if not ctx.start < event.at <= ctx.t:
                continue
            if pattern.event is not None and event.type != pattern.event:
                continue
            if (
                isinstance(pattern.window, ast.Duration)
                and event.at <= ctx.t - pattern.window.seconds
            ):
                continue
            if pattern.where is not None and not self.eval(
                pattern.where, replace(ctx, lead=lead, event=event)
            ):
                continue
            found.append(event)
        return found

    # ------------------------------------------------------------ scores

    def rule_points(self, score: ast.Score, rule: ast.Rule, ctx: Context) -> float:
        decay = score.decay
        if isinstance(rule, ast.PerRule) and rule.per_contact:
            # P for each of the account's leads with a match; with decay, each lead's
            # points decay by the age of its latest match (SPEC §9, docs/language.md).
            newest: dict[int, float] = {}
            for number, event in self.account_matches(rule.pattern, ctx):
                newest[number] = max(newest.get(number, event.at), event.at)
            total = 0.0
            for at in newest.values():
                factor = 1.0
                if decay is not None:
                    factor = decay_factor(float(decay.percent), decay.every.seconds, ctx.t - at)
                total += float(rule.points) * factor
            return cap(total, float(rule.max) if rule.max is not None else None)
        if isinstance(rule, ast.PerRule):
            found = self.matches(rule.pattern, ctx)
            if decay is None:
                total = float(rule.points) * len(found)
            else:
                total = 0.0
                for event in found:
                    age = ctx.t - event.at
                    total += float(rule.points) * decay_factor(
                        float(decay.percent), decay.every.seconds, age
                    )
            return cap(total, float(rule.max) if rule.max is not None else None)
        if not self.eval(rule.condition, ctx):
            return 0.0
        points = float(rule.points)
        pattern = self.model.decay_pattern(rule.condition)
        if decay is not None and pattern is not None:
            latest = max(e.at for e in self.matches(pattern, ctx))
            points *= decay_factor(float(decay.percent), decay.every.seconds, ctx.t - latest)
        return points

    def scores(self, lead: Lead, t: float, start: float) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.model.score_order:
            score = self.model.scores[name].node
            ctx = Context(lead, t, start, values, account=score.on_account)
            if score.formula is not None:
                values[name] = round_score(_number(self.eval(score.formula, ctx)))
                continue
            total = 0.0
            for rule in score.rules or ():
                total += self.rule_points(score, rule, ctx)
            if score.range is not None:
                total = clamp(total, float(score.range.low), float(score.range.high))
            values[name] = round_score(total)
        return values

    # ------------------------------------------------------------ one instant

    def disqualified(self, lead: Lead, t: float) -> list[str]:
        ctx = Context(lead, t, -math.inf, self.scores(lead, t, -math.inf))
        return [d.reason for d in self.model.disqualifiers if self.eval(d.condition, ctx)]

    def holding_stage(self, lead: Lead, t: float, start: float) -> int:
        ctx = Context(lead, t, start, self.scores(lead, t, start))
        holding = 0
        for index, stage in enumerate(self.model.stages.stages):
            if index > 0 and stage.condition is not None and self.eval(stage.condition, ctx):
                holding = index
        return holding

    # ------------------------------------------------------------ the timeline

    def run(
        self, lead: Lead, as_of: float, explain: bool = False
    ) -> tuple[Decision, list[TimelineStep]]:
        """The decision and the timeline; with ``explain``, each step carries the
        scores at its instant and the handoff its entry makes."""
        return self._run(lead, as_of, explain)[:2]

    def result(self, lead: Lead, as_of: float) -> EvalResult:
        """What the compiled evaluator's ``run(lead, as_of, explain=True)`` gives, computed
        from scratch: the oracle of the explanation's differential test."""
        decision, steps, start, first, handoffs = self._run(lead, as_of, True)
        contributions = {}
        for name in self.model.score_order:
            score = self.model.scores[name].node
            ctx = Context(
                lead, as_of, start, self.scores(lead, as_of, start), account=score.on_account
            )
            contributions[name] = tuple(
                self.rule_points(score, rule, ctx) for rule in score.rules or ()
            )
        return EvalResult(decision, tuple(steps), contributions, start, first, tuple(handoffs))

    def _run(
        self, lead: Lead, as_of: float, explain: bool
    ) -> tuple[Decision, list[TimelineStep], float, dict[str, tuple[float, int]], list[Handoff]]:
        model = self.model
        names = model.stage_names
        decay_periods = [
            s.node.decay.every.seconds for s in model.scores.values() if s.node.decay is not None
        ]
        reached = 0
        start = -math.inf
        label: str | None = None
        entered: dict[str, float] = {}
        starts: dict[str, float] = {}
        steps: list[TimelineStep] = []
        first: dict[str, tuple[float, int]] = {}
        handoffs: list[Handoff] = []
        current: RouteDecision | None = None  # the latest handoff of the current stay
        try:
            times = timeline_times(lead, model.reads_account_scores)
            points = instants(times, model.windows, decay_periods, as_of)
        except TimelineTooLong as exc:
            raise exc.for_lead(lead.id) from None
        for t in points:
            reasons = self.disqualified(lead, t)
            why = ""
            cycled = -1
            if reasons:
                new = "disqualified"
                why = "disqualified: " + "; ".join(reasons)
            elif model.locked:
                for number, recycle in enumerate(model.recycles):
                    if recycle.from_stage != names[reached]:
                        continue
                    ctx = Context(lead, t, start, self.scores(lead, t, start))
                    if self.eval(recycle.condition, ctx):
                        reached = names.index(recycle.to_stage)
                        start = t
                        why = f"recycled from {recycle.from_stage} (line {recycle.span.line})"
                        cycled = number
                        break
                reached = max(reached, self.holding_stage(lead, t, start))
                new = names[reached]
            else:
                new = names[self.holding_stage(lead, t, start)]
            if new != label or cycled >= 0:  # (a recycle is a new stay: see helpers.drive)
                if not why:
                    why = "start" if label is None else _movement(names, label, new)
                entered[new] = t
                starts[new] = start
                current = None
                if new != "disqualified":
                    number = self.route_index(lead, new, t, start)
                    if new not in first:
                        first[new] = (t, number)
                    if number >= 0:
                        handoffs.append(Handoff(t, new, number))
                        current = self.route(lead, new, t, start)
                if explain:
                    now = self.scores(lead, t, start)
                    shown = {name: now[name] for name in model.scores}
                    handoff = None if new == "disqualified" else self.route(lead, new, t, start)
                    steps.append(
                        TimelineStep(t, new, why, scores=shown, route=handoff, recycled_by=cycled)
                    )
                else:
                    steps.append(TimelineStep(t, new, why, recycled_by=cycled))
                label = new
            if label != "disqualified":
                # Hot-event routes (SPEC §8): each event at this instant that one fires on
                # is a handoff; it stands over the entry's at the same instant.
                for position, event in enumerate(lead.events):
                    if event.at != t or event.at <= start:
                        continue
                    number = self.hot_index(lead, label, event, start)
                    if number >= 0:
                        handoffs.append(Handoff(t, label, number, position))
                        current = self.handoff(number, t, event)
        assert label is not None
        computed = self.scores(lead, as_of, start)
        final = {name: computed[name] for name in model.lead_scores}  # declaration order
        disqualified = tuple(self.disqualified(lead, as_of))
        route = None if label == "disqualified" else current
        decision = Decision(
            id=lead.id,
            as_of=as_of,
            stage=label,
            scores=final,
            disqualified=disqualified,
            route=route,
            entered=dict(sorted(entered.items(), key=lambda item: item[1])),
            policy=self.stamp,
            account_scores={name: computed[name] for name in model.account_scores}
            if model.uses_accounts
            else None,
            account=lead.account,
        )
        return decision, steps, start, first, handoffs

    def decide(self, lead: Lead, as_of: float) -> Decision:
        return self.run(lead, as_of)[0]

    def route_index(self, lead: Lead, stage: str, at: float, start: float) -> int:
        """The number of the first entry route of ``stage`` whose condition holds at ``at``; -1."""
        ctx = Context(lead, at, start, self.scores(lead, at, start))
        for number, route in enumerate(self.model.routes):
            if route.stage != stage or route.on is not None:
                continue
            if route.condition is None or self.eval(route.condition, ctx):
                return number
        return -1

    def route(self, lead: Lead, stage: str, at: float, start: float) -> RouteDecision | None:
        number = self.route_index(lead, stage, at, start)
        if number < 0:
            return None
        return self.handoff(number, at, None)

    def handoff(self, number: int, at: float, trigger: Event | None) -> RouteDecision:
        """The handoff route number ``number`` makes at ``at`` (on ``trigger``: an `on` route)."""
        route = self.model.routes[number]
        deadline = self.deadlines[number]
        return RouteDecision(
            queue=route.queue,
            sla=deadline.text if deadline is not None else None,
            due=deadline.due(at) if deadline is not None else None,
            entered=at,
            trigger=trigger,
        )

    def hot_index(self, lead: Lead, stage: str, event: Event, start: float) -> int:
        """The number of the first hot-event route (SPEC §8) that fires on ``event`` while the
        lead is in ``stage``: a route `on` this stage, or on an earlier one when this stage has
        no route of its own, whose pattern matches the event and whose `when` holds; -1."""
        names = self.model.stage_names
        own = {r.stage for r in self.model.routes}
        ctx = Context(lead, event.at, start, self.scores(lead, event.at, start))
        for number, route in enumerate(self.model.routes):
            on = route.on
            if on is None or route.stage not in names:
                continue
            if route.stage != stage and (
                stage in own or names.index(route.stage) > names.index(stage)
            ):
                continue
            if on.event is not None and on.event != event.type:
                continue
            if on.where is not None and not self.eval(on.where, replace(ctx, event=event)):
                continue
            if route.condition is None or self.eval(route.condition, ctx):
                return number
        return -1


def _movement(names: tuple[str, ...], old: str, new: str) -> str:
    if old == "disqualified":
        return "no disqualifier holds any more"
    if names.index(new) > names.index(old):
        return "condition now holds"
    return f"{old}'s condition no longer holds"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    return float(value)
