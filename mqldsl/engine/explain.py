"""Explanations (SPEC §8.0): :func:`explain` turns an evaluation result
(``Evaluator.run(..., explain=True)`` or the reference interpreter's ``result``) into the
:class:`~mqldsl.engine.explanation.Explanation` of :mod:`mqldsl.engine.explanation`.

What the engine decided (stages, scores at each change, each rule's points, handoffs) comes
from the result, so the compiled evaluator and the interpreter must agree on the whole
structure (tests/test_explain.py); the values of the clauses' operands, the events behind each
rule and their decay factors are computed here with the interpreter's expression semantics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.explanation import (
    SHOWN_EVENTS,
    Change,
    Clause,
    DisqualifierCheck,
    Entry,
    EventPoints,
    Explanation,
    Operand,
    RuleExplanation,
    ScoreExplanation,
    StageCheck,
    plain,
)
from mqldsl.engine.helpers import DISQUALIFIED
from mqldsl.engine.interpreter import Context, Interpreter
from mqldsl.engine.runtime import (
    DAY,
    EvalResult,
    Event,
    Lead,
    TimelineStep,
    contacts,
    decay_factor,
)
from mqldsl.language import ast
from mqldsl.language.notation import expr, rule_condition, rule_text

__all__ = ["Explanation", "explain"]


def explain(
    model: CheckedPolicy,
    lead: Lead,
    result: EvalResult,
    params: Mapping[str, Any] | None = None,
    interpreter: Interpreter | None = None,
) -> Explanation:
    """The explanation of ``result`` (evaluated with ``explain=True``) for ``lead``; a loop
    over many leads passes one ``interpreter`` (of ``model`` with ``params``) to all."""
    interpreter = interpreter or Interpreter(model, params)
    # The interpreter's model: with a duration param set to another length, the policy
    # checked with it (SPEC §5.2), whose nodes the interpreter knows.
    return _Builder(interpreter.model, lead, result, interpreter).build()


class _Builder:
    def __init__(
        self,
        model: CheckedPolicy,
        lead: Lead,
        result: EvalResult,
        interpreter: Interpreter,
    ) -> None:
        if result.contributions is None or any(s.scores is None for s in result.steps):
            raise ValueError("explain() needs a result evaluated with explain=True")
        self.model = model
        self.lead = lead
        self.result = result
        self.interpreter = interpreter
        self.as_of = result.decision.as_of
        self.start = result.journey_start

    def build(self) -> Explanation:
        decision = self.result.decision
        names = self.model.stage_names
        scores = dict(decision.scores) | dict(decision.account_scores or {})
        ctx = Context(self.lead, self.as_of, self.start, scores)
        stages = tuple(
            StageCheck(
                stage=s.name,
                description=s.description,
                line=s.span.line,
                condition=None if s.condition is None else expr(s.condition),
                clause=None if s.condition is None else self.clause(s.condition, ctx),
            )
            for s in self.model.stages.stages
        )
        steps = self.result.steps
        hot = [
            (h.stage, self.interpreter.handoff(h.route, h.at, self.lead.events[h.event]))
            for h in self.result.handoffs
            if h.event >= 0
        ]
        changes = [self.change(step, steps[i - 1] if i else None) for i, step in enumerate(steps)]
        for number, change in enumerate(changes):
            # SPEC §8: an entry route and an `on` route firing at one instant (a demo request
            # that itself makes the lead an MQL): the `on` route's handoff is the one that
            # stands, so it is the entry's handoff; the entry route's never stood.
            same = [h for h in hot if h[0] == change.stage and h[1].entered == change.at]
            if change.handoff is not None and same:
                changes[number] = replace(change, handoff=same[-1][1])
                hot = [h for h in hot if h not in same]
        timeline = tuple(changes)
        # The stage of the current stay; when disqualified, of the last stay before it.
        stays = [c.stage for c in timeline if c.stage != DISQUALIFIED]
        reached = stays[-1] if stays else names[0]
        entry = None
        if timeline:
            last = timeline[-1]
            clause = None
            stage = (
                self.model.stages.stages[names.index(last.stage)] if last.stage in names else None
            )
            if stage is not None and stage.condition is not None:
                at = Context(self.lead, last.at, self.start_at(last.at), dict(last.scores))
                clause = self.clause(stage.condition, at)
            recycle = last.clause if last.recycled else None
            entry = Entry(
                last.stage,
                last.at,
                last.reason,
                last.scores,
                last.events,
                clause,
                recycle,
                last.contacts,
            )
        whole = ctx
        if self.start != -math.inf:
            whole = Context(
                self.lead,
                self.as_of,
                -math.inf,
                self.interpreter.scores(self.lead, self.as_of, -math.inf),
            )
        disqualifiers = tuple(
            DisqualifierCheck(
                d.reason,
                d.span.line,
                expr(d.condition),
                self.clause(d.condition, whole),
                self.model.origin(d.span),
            )
            for d in self.model.disqualifiers
        )
        described = {s.name: s.description for s in self.model.stages.stages}
        return Explanation(
            lead=self.lead.id,
            as_of=self.as_of,
            stage=decision.stage,
            description=described.get(decision.stage),
            reached=reached,
            journey_start=None if self.start == -math.inf else self.start,
            stages=stages,
            entry=entry,
            disqualifiers=disqualifiers,
            scores=self.scores(ctx),
            route=decision.route,
            timeline=timeline,
            policy=decision.policy.to_json(),
            hot=tuple(hot),
        )

    # ------------------------------------------------------------ the timeline

    def start_at(self, t: float, inclusive: bool = True) -> float:
        """The journey start in force at instant ``t`` (``inclusive``) or just before it:
        the latest recycle up to it."""
        start = -math.inf
        for step in self.result.steps:
            if step.recycled_by >= 0 and (step.at <= t if inclusive else step.at < t):
                start = step.at
        return start

    def change(self, step: TimelineStep, previous: TimelineStep | None) -> Change:
        """A step of the timeline, with the condition that moved it when it fell back
        (the previous stage's condition, now failing) or was recycled (the recycle rule's
        condition, now holding)."""
        start = self.start_at(step.at)
        # With account scores the timeline has the colleagues' events too (SPEC §9).
        people = contacts(self.lead) if self.model.reads_account_scores else (self.lead,)
        found = [
            (e, None if person is self.lead else person.id)
            for person in people
            for e in person.events
            if e.at == step.at and e.at > start
        ]
        events = tuple(e for e, _ in found)
        recycled = step.recycled_by >= 0
        clause = None
        reason = step.reason
        stages = {s.name: s for s in self.model.stages.stages}
        if recycled:
            rule = self.model.recycles[step.recycled_by]
            if rule.to_stage != step.stage:  # the fresh journey advanced it at once (SPEC §7)
                reason = (
                    f"{step.reason} to {rule.to_stage}, then advanced to {step.stage} at "
                    "once (its condition held on the fresh journey)"
                )
            before = self.start_at(step.at, inclusive=False)
            scores = self.interpreter.scores(self.lead, step.at, before)
            clause = self.clause(rule.condition, Context(self.lead, step.at, before, scores))
        elif (
            previous is not None
            and previous.stage in stages
            and step.stage in stages
            and self.model.stage_names.index(step.stage)
            < self.model.stage_names.index(previous.stage)
        ):  # fell back (flexible stages): the previous stage's condition failed
            condition = stages[previous.stage].condition
            if condition is not None:
                ctx = Context(self.lead, step.at, start, dict(step.scores or {}))
                clause = self.clause(condition, ctx)
        return Change(
            at=step.at,
            stage=step.stage,
            reason=reason,
            recycled=recycled,
            scores=dict(step.scores or {}),
            events=events,
            handoff=step.route,
            clause=clause,
            contacts=tuple(contact for _, contact in found),
        )

    # ------------------------------------------------------------ scores

    def scores(self, ctx: Context) -> tuple[ScoreExplanation, ...]:
        model = self.model
        contributions = self.result.contributions or {}
        out = []
        for name, info in model.scores.items():
            node = info.node
            value = ctx.scores.get(name)
            low, high = info.bounds.low, info.bounds.high
            lowest = None if low == -math.inf else low
            highest = None if high == math.inf else high
            if node.formula is not None:
                operands = tuple(
                    self.operand(part, ctx)
                    for part in _names(node.formula)
                    if model.ref(part).kind in ("score", "param", "field", "account_field")
                )
                how: dict[str, Any] = {"formula": expr(node.formula), "operands": operands}
            else:
                given = contributions.get(name, ())
                rules = tuple(
                    self.rule(node, rule, points, ctx)
                    for rule, points in zip(node.rules or (), given, strict=True)
                )
                how = {"rules": rules}
                if node.range is not None:
                    bounds = (float(node.range.low), float(node.range.high))
                    total = sum(given)
                    how["range"] = bounds
                    how["unclamped"] = None if bounds[0] <= total <= bounds[1] else total
            out.append(ScoreExplanation(name, node.description, value, lowest, highest, **how))
        return tuple(out)

    def rule(
        self, score: ast.Score, rule: ast.Rule, points: float, ctx: Context
    ) -> RuleExplanation:
        decay = score.decay
        each = float(rule.points)
        events: list[EventPoints] = []
        limit = None
        uncapped = None
        ctx = replace(ctx, account=score.on_account)
        if isinstance(rule, ast.PerRule) and rule.per_contact:
            # One line per lead with a match: its latest matching event (SPEC §9).
            limit = float(rule.max) if rule.max is not None else None
            latest: dict[str, Event] = {}
            for event, contact in self._found(rule.pattern, ctx):
                if contact not in latest or event.at >= latest[contact].at:
                    latest[contact or ""] = event
            total = 0.0
            for contact, event in latest.items():
                age = ctx.t - event.at
                factor = None
                gives = each
                if decay is not None:
                    factor = decay_factor(float(decay.percent), decay.every.seconds, age)
                    gives = each * factor
                total += gives
                events.append(EventPoints(event, gives, factor, age / DAY, contact))
            if limit is not None and abs(total) > limit:
                uncapped = total
        elif isinstance(rule, ast.PerRule):
            limit = float(rule.max) if rule.max is not None else None
            total = 0.0
            for event, contact in self._found(rule.pattern, ctx):
                factor = None
                gives = each
                if decay is not None:
                    factor = decay_factor(
                        float(decay.percent), decay.every.seconds, ctx.t - event.at
                    )
                    gives = each * factor
                total += gives
                age = (ctx.t - event.at) / DAY
                events.append(EventPoints(event, gives, factor, age, contact))
            if limit is not None and abs(total) > limit:
                uncapped = total
        elif points:
            pattern = self.model.decay_pattern(rule.condition)
            if decay is not None and pattern is not None:
                found = self._found(pattern, ctx)
                newest = max(found, key=lambda item: (item[0].at, item[0].index))[0]
                for event, contact in found:
                    age = ctx.t - event.at
                    if event is newest:
                        factor = decay_factor(float(decay.percent), decay.every.seconds, age)
                        events.append(EventPoints(event, each * factor, factor, age / DAY, contact))
                    else:
                        events.append(EventPoints(event, None, None, age / DAY, contact))
            else:
                seen: dict[tuple[float, str, int], tuple[Event, str | None]] = {}
                for part, field in _patterns(self.model, rule.condition):
                    for event, contact in self._found(part, ctx):
                        if field is None or event.fields.get(field) is not None:
                            key = (event.at, contact or "", event.index)
                            seen.setdefault(key, (event, contact))
                events = [
                    EventPoints(event, None, None, (ctx.t - event.at) / DAY, contact)
                    for event, contact in (seen[key] for key in sorted(seen))
                ]
        return RuleExplanation(
            line=rule.span.line,
            rule=rule_text(rule),
            condition=rule_condition(rule),
            label=rule.label,
            points=points,
            each=each,
            events=tuple(events),
            max=limit,
            uncapped=uncapped,
            decay=None
            if decay is None or not events or not any(e.factor is not None for e in events)
            else f"{plain(float(decay.percent))}% every {_length(decay.every)}",
            file=self.model.origin(rule.span),
        )

    def _found(self, pattern: ast.Pattern, ctx: Context) -> list[tuple[Event, str | None]]:
        """The events matching ``pattern`` at ctx.t, each with its lead's id in an account
        rule (the whole account's events, SPEC §9), None in a lead rule."""
        if not ctx.account:
            return [(event, None) for event in self.interpreter.matches(pattern, ctx)]
        people = contacts(ctx.lead)
        found = self.interpreter.account_matches(pattern, ctx)
        return [(event, people[number].id) for number, event in found]

    # ------------------------------------------------------------ clauses

    def operand(self, node: ast.Expr, ctx: Context) -> Operand:
        value = self.interpreter.eval(node, ctx)
        return Operand(expr(node), _kind(self.model, node), value)

    def clause(self, node: ast.Expr, ctx: Context) -> Clause:
        text = expr(node)
        if isinstance(node, ast.And | ast.Or):
            parts = tuple(self.clause(o, ctx) for o in node.operands)
            holds = (
                all(p.holds for p in parts)
                if isinstance(node, ast.And)
                else any(p.holds for p in parts)
            )
            return Clause(text, "all" if isinstance(node, ast.And) else "any", holds, parts=parts)
        if isinstance(node, ast.Not):
            inner = self.clause(node.operand, ctx)
            return Clause(text, "not", not inner.holds, parts=(inner,))
        if isinstance(node, ast.Compare):
            left, right = self.operand(node.left, ctx), self.operand(node.right, ctx)
            holds = bool(self.interpreter.eval(node, ctx))
            shortfall: float | None = None
            direction: Literal["short", "over"] | None = None
            if not holds and node.op[0] in "<>" and _numbers(left.value, right.value):
                shortfall = abs(float(right.value) - float(left.value))
                direction = "short" if node.op[0] == ">" else "over"
            return Clause(text, "compare", holds, node.op, (left, right), shortfall, direction)
        if isinstance(node, ast.Between):
            operands = tuple(self.operand(n, ctx) for n in (node.operand, node.low, node.high))
            holds = bool(self.interpreter.eval(node, ctx))
            value, low, high = (o.value for o in operands)
            shortfall, direction = None, None
            if not holds and _numbers(value, low, high):
                below = value < low
                shortfall = float(low) - float(value) if below else float(value) - float(high)
                direction = "short" if below else "over"
            return Clause(text, "between", holds, "between", operands, shortfall, direction)
        if isinstance(node, ast.Membership):
            operands = (self.operand(node.operand, ctx), self.operand(node.collection, ctx))
            op = "not in" if node.negated else "in"
            holds = bool(self.interpreter.eval(node, ctx))
            return Clause(text, "membership", holds, op=op, operands=operands)
        if isinstance(node, ast.TextTest):
            operands = (self.operand(node.operand, ctx), self.operand(node.value, ctx))
            holds = bool(self.interpreter.eval(node, ctx))
            return Clause(text, "text", holds, op=node.op, operands=operands)
        if isinstance(node, ast.Presence):
            operands = (self.operand(node.operand, ctx),)
            op = "is missing" if node.missing else "is present"
            holds = bool(self.interpreter.eval(node, ctx))
            return Clause(text, "presence", holds, op=op, operands=operands)
        if isinstance(node, ast.Pattern):
            return self.events(text, node, ctx, negated=False)
        if isinstance(node, ast.NoEvents):
            return self.events(text, node.pattern, ctx, negated=True)
        if isinstance(node, ast.Name) and self.model.ref(node).kind == "event":
            pattern = ast.Pattern(event=node.name, where=None, window=None)
            return self.events(text, pattern, ctx, negated=False)
        holds = self.interpreter.eval(node, ctx) is True
        return Clause(text, "value", holds, operands=(self.operand(node, ctx),))

    def events(self, text: str, pattern: ast.Pattern, ctx: Context, negated: bool) -> Clause:
        found = self.interpreter.matches(pattern, ctx)
        window = "ever"
        if isinstance(pattern.window, ast.Duration):
            window = "within " + _length(pattern.window)
        last = None
        age = None
        if not found:
            anywhere = replace(ctx, start=-math.inf)
            earlier = self.interpreter.matches(
                ast.Pattern(event=pattern.event, where=pattern.where, window=None), anywhere
            )
            if earlier:
                last = max(earlier, key=lambda e: (e.at, e.index))
                age = (ctx.t - last.at) / DAY
        return Clause(
            text,
            "no events" if negated else "events",
            not found if negated else bool(found),
            window=window,
            matched=len(found),
            events=tuple(found[-SHOWN_EVENTS:]),
            last=last,
            last_age_days=age,
            before_start=last is not None
            and last.at <= ctx.start
            and (
                not isinstance(pattern.window, ast.Duration)
                or last.at > ctx.t - pattern.window.seconds
            ),
        )


def _length(value: ast.Duration) -> str:
    """A duration as this run has it; a duration param's name follows (SPEC §5.2):
    `14 days (demo_window)`."""
    return value.text() + (f" ({value.param})" if value.param is not None else "")


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _kind(model: CheckedPolicy, node: ast.Expr) -> str:
    if isinstance(node, ast.Name):
        kind = model.ref(node).kind
        return {
            "field": "field",
            "account_field": "account field",
            "event_field": "event field",
            "param": "param",
            "score": "score",
            "event": "events",
            "member": "literal",
        }[kind]
    if isinstance(node, ast.AccountRef):  # `account.NAME`: a field, or an account score
        ref = model.refs.get(id(node))
        return "score" if ref is not None and ref.kind == "score" else "account field"
    if isinstance(node, ast.Count):
        return "count"
    if isinstance(node, ast.DaysSince):
        return "days since"
    if isinstance(node, ast.Aggregate):
        return "aggregate"
    if isinstance(node, ast.NumberLit | ast.StringLit | ast.BoolLit | ast.DateLit | ast.ListLit):
        return "literal"
    return "value"


def _names(node: ast.Expr) -> list[ast.Name]:
    seen: dict[str, ast.Name] = {}
    for part in ast.walk(node):
        if isinstance(part, ast.Name):
            seen.setdefault(part.name, part)
    return list(seen.values())


def _patterns(model: CheckedPolicy, node: ast.Expr) -> list[tuple[ast.Pattern, str | None]]:
    """The positive event patterns inside a condition (the events behind a `when` rule), each
    with the field an aggregate reads (only the events that have it count) or None."""
    found: list[tuple[ast.Pattern, str | None]] = []
    aggregated: set[int] = set()
    for part in ast.walk(node):
        if isinstance(part, ast.Aggregate):
            found.append((part.pattern, part.field))
            aggregated.add(id(part.pattern))  # walked next: not all its matches count
        elif isinstance(part, ast.Pattern) and id(part) not in aggregated:
            found.append((part, None))
        elif isinstance(part, ast.Count):
            found.append((part.pattern, None))
        elif isinstance(part, ast.DaysSince):
            found.append((ast.Pattern(event=part.event, where=part.where, window=None), None))
        elif isinstance(part, ast.Name) and model.ref(part).kind == "event":
            found.append((ast.Pattern(event=part.name, where=None, window=None), None))
    return found
