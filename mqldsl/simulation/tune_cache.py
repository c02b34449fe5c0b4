"""The decision cache of `tune`: a lead's scores are computed once, and only
the conditions that mention a tuned param are evaluated again per candidate.

Why it equals a full run (``evaluate_all`` with the candidate's params):

- the instants of a lead's timeline (SPEC §7) come from its events, the
  policy's windows and decay periods, and the as-of instant; a tuned
  duration param (SPEC §5.2) moves them, so with one every candidate is a
  full run, and no other tuned value moves them;
- when no score mentions a tuned param, every score at every instant is the
  same for every candidate;
- without `recycle`, every instant is evaluated from the start of the
  journey (`s` is minus infinity), so the driver sees, at each instant, the
  same scores and the same truth of every condition that does not mention a
  tuned param.

The scores come from the compiled evaluator's own code
(:mod:`mqldsl.engine.timelines`). So the whole evaluation of a lead is
fixed by the truth, at each of its instants, of the conditions (stage,
disqualifier and route) that mention a tuned param, and each of those by
the truth of its parts below `and`, `or` and `not` that mention one (the
other parts are fixed): the truths of those parts are the *key* of the lead
for a candidate (a part's truth at an instant is that of its group, below,
so the key lists each group a lead's instants show once). The first time a lead
shows a key, it is evaluated with the compiled evaluator and the
candidate's params (the code ``run_policy`` runs, its scores taken from the
lead's cached timeline: :class:`~mqldsl.engine.timelines.MemoEvaluator`);
a later candidate with the same key reuses that record. A part that reads no event is a
function of the values of the names it reads, so it is evaluated once per
distinct set of those values, not once per lead.

When a tuned param feeds a score, or the policy recycles, every candidate
is a full run (:attr:`DecisionCache.reason` says why).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mqldsl.analysis.bound import bind
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.types import DURATION
from mqldsl.engine.interpreter import Context, Interpreter
from mqldsl.engine.runtime import Lead, TimelineTooLong, instants
from mqldsl.engine.timelines import MemoEvaluator, score_timelines
from mqldsl.language import ast
from mqldsl.language.ast import walk
from mqldsl.simulation.records import LeadRecord, record_of
from mqldsl.simulation.run import evaluate_all

_TIMED = (ast.Pattern, ast.NoEvents, ast.Count, ast.Aggregate, ast.DaysSince)


def _mentions(model: CheckedPolicy, node: ast.Expr | None, names: set[str]) -> bool:
    if node is None:
        return False
    for part in walk(node):
        if isinstance(part, ast.Name):
            ref = model.refs.get(id(part))
            if ref is not None and ref.kind == "param" and ref.name in names:
                return True
        window = getattr(part, "window", None)  # a pattern's, also under `no` and `count`
        if isinstance(window, ast.Duration) and window.param in names:
            return True
    return False


def scores_using(model: CheckedPolicy, tuned: Sequence[str]) -> list[str]:
    """The scores whose formula or rules mention one of the ``tuned`` params."""
    names = set(tuned)
    found = []
    for name, info in model.scores.items():
        node = info.node
        parts: list[ast.Expr | None] = [node.formula]
        for rule in node.rules or ():
            parts.append(rule.condition if isinstance(rule, ast.WhenRule) else rule.pattern)
        decay = node.decay.every.param if node.decay is not None else None
        if decay in names or any(_mentions(model, part, names) for part in parts):
            found.append(name)
    return found


def _atoms(node: ast.Expr) -> list[ast.Expr]:
    """The parts of a condition below its `and`, `or` and `not`: the
    condition's truth is a function of theirs."""
    if isinstance(node, ast.And | ast.Or):
        return [atom for operand in node.operands for atom in _atoms(operand)]
    if isinstance(node, ast.Not):
        return _atoms(node.operand)
    return [node]


def _leaves(model: CheckedPolicy, node: ast.Expr) -> list[ast.Expr] | None:
    """The names (but params) a condition reads, when it reads no event (its
    value is then a function of theirs); None when it reads events."""
    leaves: list[ast.Expr] = []
    for part in walk(node):
        if isinstance(part, _TIMED):
            return None
        if isinstance(part, ast.AccountRef):
            leaves.append(part)
        elif isinstance(part, ast.Name):
            ref = model.refs.get(id(part))
            if ref is None or ref.kind not in ("field", "score", "param"):
                return None
            if ref.kind != "param":
                leaves.append(part)
    return leaves


class DecisionCache:
    """Records per lead for any candidate value of the ``tuned`` params, on
    top of ``base`` params; equal to ``evaluate_all`` with those params."""

    def __init__(
        self,
        model: CheckedPolicy,
        leads: Sequence[Lead],
        base: Mapping[str, Any],
        tuned: Sequence[str],
        as_of: float,
        mql_stage: str,
        sql_stage: str | None,
    ) -> None:
        # With a duration param set (--set), the policy checked with its length (SPEC §5.2):
        # the conditions below are evaluated on its nodes.
        self.model = model = bind(model, base)
        self.leads = leads
        self.base = dict(base)
        self.as_of = as_of
        self.mql_stage = mql_stage
        self.sql_stage = sql_stage
        names = set(tuned)
        self.reason = cache_refusal(model, tuned)
        self.full_runs = 0
        self.evaluations = 0
        if self.reason is not None:
            return
        conditions: list[ast.Expr] = [d.condition for d in model.disqualifiers]
        conditions += [s.condition for s in model.stages.stages if s.condition is not None]
        conditions += [r.condition for r in model.routes if r.condition is not None]
        self.conditions = [
            atom
            for condition in conditions
            for atom in _atoms(condition)
            if _mentions(model, atom, names)
        ]
        self.leaves = [_leaves(model, c) for c in self.conditions]
        self.interpreter = Interpreter(model, self.base)
        timelines = score_timelines(model, self.base)
        order = model.score_order
        windows, periods = model.windows, _decay_periods(model)
        # Per lead: the (condition part, group) pairs its instants show, in
        # order of first appearance. A group holds the contexts in which the
        # part has one value; a context of each group is kept to evaluate it.
        self.groups: list[tuple[tuple[int, int], ...]] = []
        self.known: list[dict[tuple[float, float], tuple[Any, ...]]] = []
        self.contexts: list[list[Context]] = [[] for _ in self.conditions]
        keys: list[dict[Any, int]] = [{} for _ in self.conditions]
        for index, lead in enumerate(leads):
            try:
                points = instants([e.at for e in lead.events], windows, periods, as_of)
            except TimelineTooLong as exc:
                raise exc.for_lead(lead.id) from None
            scores_at = timelines(lead, as_of)
            pairs: dict[tuple[int, int], None] = {}
            known: dict[tuple[float, float], tuple[Any, ...]] = {}
            self.known.append(known)
            for t in points:
                scored = known[(t, -math.inf)] = scores_at(t, -math.inf)
                ctx = Context(lead, t, -math.inf, dict(zip(order, scored, strict=True)))
                for number, leaves in enumerate(self.leaves):
                    key: Any = (index, t)
                    if leaves is not None:
                        values = tuple(self.interpreter.eval(leaf, ctx) for leaf in leaves)
                        key = tuple((type(v).__name__, v) for v in values)
                        try:
                            hash(key)
                        except TypeError:
                            key = (index, t)
                    group = keys[number].get(key)
                    if group is None:
                        group = keys[number][key] = len(self.contexts[number])
                        self.contexts[number].append(ctx)
                    pairs[(number, group)] = None
            self.groups.append(tuple(pairs))
        self.memo: list[dict[tuple[bool, ...], LeadRecord]] = [{} for _ in leads]
        self.evaluators: dict[tuple[tuple[str, Any], ...], MemoEvaluator] = {}

    def records(self, candidate: Mapping[str, Any]) -> list[LeadRecord]:
        """A record per lead (in input order) with ``candidate``'s values."""
        params = self.base | dict(candidate)
        if self.reason is not None:
            self.full_runs += 1
            records, _ = evaluate_all(
                self.model, params, self.leads, self.as_of, self.mql_stage, None, self.sql_stage
            )
            return records
        self.interpreter.params.update(candidate)
        truths = []
        for number, condition in enumerate(self.conditions):
            contexts = self.contexts[number]
            truths.append([bool(self.interpreter.eval(condition, c)) for c in contexts])
            self.evaluations += len(self.contexts[number])
        names = self.model.stage_names
        mql_index = names.index(self.mql_stage)
        sql_index = names.index(self.sql_stage) if self.sql_stage in names else None
        records = []
        for index, lead in enumerate(self.leads):
            key = tuple(truths[n][g] for n, g in self.groups[index])
            memo = self.memo[index]
            record = memo.get(key)
            if record is None:
                result = self._evaluator(params).run(lead, self.as_of, self.known[index])
                record = record_of(self.model, lead, result, mql_index, sql_index)
                memo[key] = record
            records.append(record)
        return records

    def _evaluator(self, params: dict[str, Any]) -> MemoEvaluator:
        key = tuple(sorted((k, repr(v)) for k, v in params.items()))
        evaluator = self.evaluators.get(key)
        if evaluator is None:
            evaluator = self.evaluators[key] = MemoEvaluator(self.model, params)
        return evaluator


def _decay_periods(model: CheckedPolicy) -> tuple[float, ...]:
    # as the compiled evaluator's PolicyMeta computes them
    decays = [s.node.decay for s in model.scores.values()]
    return tuple(sorted({d.every.seconds for d in decays if d is not None}))


def cache_refusal(model: CheckedPolicy, tuned: Sequence[str]) -> str | None:
    """Why :class:`DecisionCache` cannot decide ``model`` with the params ``tuned`` set to
    other values; None when it can."""
    feeding = scores_using(model, tuned)
    lengths = [name for name in tuned if model.params[name].type == DURATION]
    if lengths:
        return f"param `{lengths[0]}` is a duration: it moves the timeline's instants"
    if feeding:
        return f"score `{feeding[0]}` uses a tuned param"
    if model.recycles:
        return "the policy recycles leads"
    if any(r.on is not None for r in model.routes):
        return "the policy has hot-event routes"
    return None


__all__ = ["DecisionCache", "cache_refusal", "scores_using"]
