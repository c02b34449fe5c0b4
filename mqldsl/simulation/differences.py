"""What differs between the two policies of a what-if, and which of those
differences moved a lead (the attribution, SPEC §14.1 "Every change
attributed").

Every difference is listed as written in the policies (params, including
`--set` values; score rules, matched across versions as `diff` matches
them; score ranges, decay and formulas; stage conditions; disqualifiers;
recycling; routes and their SLAs). A difference moved a lead when the
part of the policy it changed acts differently on that lead under the two
policies: a rule gives other points, a stage is entered at another instant
(or not at all) or left at another instant, a disqualifier holds at other times, a recycle fires
differently, a handoff goes to another queue or SLA, a score has another
value. A param moved a lead when a part that reads it did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mqldsl.analysis.bound import bind
from mqldsl.analysis.durations import magnitude, plain
from mqldsl.analysis.matching import (
    common_order,
    match_rules,
    route_key,
    route_name,
    route_orders,
)
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.language import ast
from mqldsl.language.ast import walk
from mqldsl.language.notation import duration, expr, pattern_text, rule_text, sla_text
from mqldsl.simulation.results import Attribution

Moved = Callable[[Any, Any], bool]  # (base result, proposed result) -> moved?


@dataclass(frozen=True)
class Difference:
    """One difference between the policies and how to tell it moved a lead."""

    what: str
    base: Any
    proposed: Any
    moved: Moved


def _any(movers: list[Moved]) -> Moved:
    return lambda a, b: any(moved(a, b) for moved in movers)


def _params_read(model: CheckedPolicy, node: Any) -> set[str]:
    if node is None:
        return set()
    found = set()
    for part in walk(node):
        if isinstance(part, ast.Name):
            ref = model.refs.get(id(part))
            if ref is not None and ref.kind == "param":
                found.add(ref.name)
        elif isinstance(part, ast.Pattern) and isinstance(part.window, ast.Duration):
            found.update([part.window.param] if part.window.param else [])  # SPEC §5.2
    return found


def _entry(result: Any, stage: str) -> Any:
    """When the lead first entered ``stage``, and every step of its
    timeline into or out of ``stage``."""
    first = result.first_entries.get(stage)
    moves = []
    previous = None
    for step in result.steps:
        if stage in (step.stage, previous):
            moves.append((step.at, step.stage))
        previous = step.stage
    return (first[0] if first else None, moves)


def _stage_moved(stage: str) -> Moved:
    return lambda a, b: _entry(a, stage) != _entry(b, stage)


def _disqualified(result: Any) -> set[str]:
    reasons = set(result.decision.disqualified)
    for step in result.steps:
        if step.reason.startswith("disqualified: "):
            reasons.update(step.reason.removeprefix("disqualified: ").split("; "))
    return reasons


def _reason_moved(reason: str) -> Moved:
    return lambda a, b: (reason in _disqualified(a)) != (reason in _disqualified(b))


def _recycles(result: Any, origin: str) -> list[tuple[float, str]]:
    return [
        (s.at, s.stage) for s in result.steps if s.reason.startswith(f"recycled from {origin} ")
    ]


def _recycle_moved(origin: str) -> Moved:
    return lambda a, b: _recycles(a, origin) != _recycles(b, origin)


def _routes(model: CheckedPolicy, result: Any) -> set[tuple[str, str, Any]]:
    routes = model.routes
    found = {
        (stage, routes[index].queue, _sla_key(routes[index].sla))
        for stage, (_, index) in result.first_entries.items()
        if index >= 0
    }
    route = result.decision.route
    if route is not None:
        found.add((result.decision.stage, route.queue, route.due))
    for handoff in getattr(result, "handoffs", ()):  # every handoff (SPEC §8)
        made = routes[handoff.route]
        if handoff.event >= 0:  # a hot event's
            found.add((handoff.stage, made.queue, (handoff.at, made.sla and made.sla.seconds)))
        else:  # an entry's: a new stay in a stage (after a fall back too) hands over again
            found.add((handoff.stage, made.queue, (handoff.at, _sla_key(made.sla))))
    return found


def _steps(result: Any) -> list[tuple[float, str]]:
    return [(step.at, step.stage) for step in result.steps]


def _route_moved(base: CheckedPolicy, proposed: CheckedPolicy, queues: set[str]) -> Moved:
    """Whether a route to one of ``queues`` acted differently on a lead: its handoffs to
    those queues differ, and either it had some under both policies (another SLA, another
    instant) or its stages moved alike (the route took it, or stopped taking it). A lead
    handed to those queues under one policy only because its stages moved otherwise was
    moved by what moved its stages: an unused route, or the SLA a newly qualified lead gets,
    is not what moved it."""

    def moved(a: Any, b: Any) -> bool:
        mine_a = {h for h in _routes(base, a) if h[1] in queues}
        mine_b = {h for h in _routes(proposed, b) if h[1] in queues}
        if mine_a == mine_b:
            return False
        return bool(mine_a and mine_b) or _steps(a) == _steps(b)

    return moved


def _sla_key(sla: ast.Duration | ast.BusinessSla | None) -> object:
    """What makes two SLAs the same: the length of a plain one (`1 day` is `24 hours`); a
    business one is its amount, unit and calendar (its text)."""
    if isinstance(sla, ast.BusinessSla):
        return sla.text()
    return sla.seconds if sla is not None else None


def _score_moved(name: str) -> Moved:
    return lambda a, b: a.decision.scores.get(name) != b.decision.scores.get(name)


def _parts_moved(name: str) -> Moved:
    return lambda a, b: (
        (a.contributions or {}).get(name) != (b.contributions or {}).get(name)
        or a.decision.scores.get(name) != b.decision.scores.get(name)
    )


def _points(result: Any, score: str, index: int | None) -> float:
    if index is None:
        return 0.0
    parts = (result.contributions or {}).get(score, ())
    return float(parts[index]) if index < len(parts) else 0.0


def _rule_moved(score: str, old: int | None, new: int | None) -> Moved:
    return lambda a, b: abs(_points(a, score, old) - _points(b, score, new)) > 1e-9


def _route_text(route: ast.Route) -> str:
    text = "always" if route.condition is None else f"when {expr(route.condition)}"
    if route.on is not None:  # a hot-event route (SPEC §8)
        text = f"on {pattern_text(route.on)}"
        text += f" when {expr(route.condition)}" if route.condition is not None else ""
    return text + (f", sla {sla_text(route.sla)}" if route.sla is not None else "")


def _keyed(
    kind: str,
    before: dict[Any, str],
    after: dict[Any, str],
    name: Callable[[Any], str],
    moved: Callable[[Any], Moved],
) -> list[Difference]:
    return [
        Difference(f"{kind} {name(key)}", before.get(key), after.get(key), moved(key))
        for key in [*before, *(k for k in after if k not in before)]
        if before.get(key) != after.get(key)
    ]


def _range(score: ast.Score) -> str | None:
    return f"{score.range.low} to {score.range.high}" if score.range else None


def _decay(score: ast.Score) -> str | None:
    return f"{score.decay.percent}% every {duration(score.decay.every)}" if score.decay else None


def _formula(score: ast.Score) -> str | None:
    return expr(score.formula) if score.formula is not None else None


def _rules(base: CheckedPolicy, proposed: CheckedPolicy) -> list[Difference]:
    found = []
    for name in [*base.scores, *(s for s in proposed.scores if s not in base.scores)]:
        old = base.scores[name].node if name in base.scores else None
        new = proposed.scores[name].node if name in proposed.scores else None
        for label, pick in (("range", _range), ("decay", _decay), ("formula", _formula)):
            before = pick(old) if old is not None else None
            after = pick(new) if new is not None else None
            if before != after or (old is None) != (new is None):
                found.append(Difference(f"score {name} {label}", before, after, _score_moved(name)))
        old_rules = tuple(old.rules or ()) if old is not None else ()
        new_rules = tuple(new.rules or ()) if new is not None else ()
        pairs, removed, added = match_rules(old_rules, new_rules)
        for i, j in pairs:
            a, b = old_rules[i], new_rules[j]
            if rule_text(a) != rule_text(b) or a.label != b.label:
                what = f"rule {name}: {b.label or rule_text(b)}"
                found.append(Difference(what, rule_text(a), rule_text(b), _rule_moved(name, i, j)))
        for i in removed:
            what = f"rule {name}: {old_rules[i].label or rule_text(old_rules[i])} (removed)"
            found.append(
                Difference(what, rule_text(old_rules[i]), None, _rule_moved(name, i, None))
            )
        for j in added:
            what = f"rule {name}: {new_rules[j].label or rule_text(new_rules[j])} (added)"
            found.append(
                Difference(what, None, rule_text(new_rules[j]), _rule_moved(name, None, j))
            )
    return found


def differences(
    base: CheckedPolicy,
    proposed: CheckedPolicy,
    base_params: dict[str, Any],
    proposed_params: dict[str, Any],
) -> list[Difference]:
    """Every difference between the policies as run (params with the values
    they ran with), in the order: params, scores, stages, disqualifiers,
    recycling, routes."""
    found: list[Difference] = []
    readers: dict[str, list[Moved]] = {}

    def reads(model: CheckedPolicy, node: Any, moved: Moved) -> None:
        for name in _params_read(model, node):
            readers.setdefault(name, []).append(moved)

    for model in (base, proposed):
        for name, info in model.scores.items():
            for rule in info.node.rules or ():
                node = rule.pattern if isinstance(rule, ast.PerRule) else rule.condition
                reads(model, node, _parts_moved(name))
            reads(model, info.node.formula, _score_moved(name))
            if info.node.decay is not None and info.node.decay.every.param is not None:
                readers.setdefault(info.node.decay.every.param, []).append(_score_moved(name))
        for stage in model.stages.stages:
            reads(model, stage.condition, _stage_moved(stage.name))
        for disqualifier in model.disqualifiers:
            reads(model, disqualifier.condition, _reason_moved(disqualifier.reason))
        for recycle in model.recycles:
            reads(model, recycle.condition, _recycle_moved(recycle.from_stage))
    # The SLAs as run: a duration param may give them other lengths (SPEC §5.2).
    base_run, proposed_run = bind(base, base_params), bind(proposed, proposed_params)
    routes_moved: Moved = lambda a, b: _routes(base_run, a) != _routes(proposed_run, b)  # noqa: E731
    for model in (base, proposed):
        for route in model.routes:
            reads(model, route.condition, routes_moved)
            if isinstance(route.sla, ast.Duration) and route.sla.param is not None:
                readers.setdefault(route.sla.param, []).append(routes_moved)
            if route.on is not None:
                reads(model, route.on, routes_moved)

    for name in sorted(set(base_params) | set(proposed_params)):
        old, new = base_params.get(name), proposed_params.get(name)
        if magnitude(old) != magnitude(new):
            found.append(
                Difference(f"param {name}", plain(old), plain(new), _any(readers.get(name, [])))
            )
    found += _rules(base, proposed)

    def condition(stage: ast.Stage) -> str:
        return expr(stage.condition) if stage.condition is not None else "entry"

    found += _keyed(
        "stage",
        {s.name: condition(s) for s in base.stages.stages},
        {s.name: condition(s) for s in proposed.stages.stages},
        lambda key: f"{key} condition",
        _stage_moved,
    )
    # The order of the stages (the last that holds is the lead's) and their mode (a locked
    # lead keeps the furthest it reached): either moves a lead in any stage.
    stages = sorted(set(base.stage_names) | set(proposed.stage_names))
    any_stage = _any([_stage_moved(name) for name in stages])
    if common_order(base.stage_names, proposed.stage_names) is not None:
        found.append(
            Difference(
                "stage order",
                ", ".join(base.stage_names),
                ", ".join(proposed.stage_names),
                any_stage,
            )
        )
    if base.locked != proposed.locked:
        modes = ["locked" if m.locked else "flexible" for m in (base, proposed)]
        found.append(Difference("stage mode", modes[0], modes[1], any_stage))
    found += _keyed(
        "disqualifier",
        {d.reason: expr(d.condition) for d in base.disqualifiers},
        {d.reason: expr(d.condition) for d in proposed.disqualifiers},
        lambda key: f'"{key}"',
        _reason_moved,
    )
    found += _keyed(
        "recycle",
        {(r.from_stage, r.to_stage): expr(r.condition) for r in base.recycles},
        {(r.from_stage, r.to_stage): expr(r.condition) for r in proposed.recycles},
        lambda key: f"{key[0]} to {key[1]}",
        lambda key: _recycle_moved(key[0]),
    )
    found += _keyed(
        "route",
        {route_key(r): _route_text(r) for r in base.routes},
        {route_key(r): _route_text(r) for r in proposed.routes},
        lambda key: f"{key[0]} to {route_name(key)}",
        lambda key: _route_moved(base_run, proposed_run, {key[1]}),
    )
    for routed, before, after in route_orders(base.routes, proposed.routes):
        found.append(
            Difference(
                f"route order of {routed}",
                ", ".join(map(route_name, before)),
                ", ".join(map(route_name, after)),
                _route_moved(base_run, proposed_run, {key[1] for key in before}),
            )
        )
    return found


def attribute(
    found: list[Difference], pairs: list[tuple[Any, Any]], others: Sequence[Attribution] = ()
) -> list[Attribution]:
    """The differences that moved at least one of the leads in ``pairs``
    (their base and proposed evaluation results, with contributions), each
    with how many it moved, and the ``others`` lines (what moved the leads
    that no difference moved); the most leads first, then as listed."""
    counted = []
    for order, item in enumerate(found):
        leads = sum(1 for a, b in pairs if item.moved(a, b))
        if leads:
            counted.append((-leads, order, Attribution(item.what, item.base, item.proposed, leads)))
    for order, line in enumerate(others, start=len(found)):
        if line.leads:
            counted.append((-line.leads, order, line))
    return [entry for _, _, entry in sorted(counted, key=lambda t: (t[0], t[1]))]


def moved_by_any(found: list[Difference], a: Any, b: Any) -> bool:
    """Whether some difference moved the lead evaluated as ``a`` and ``b``."""
    return any(item.moved(a, b) for item in found)


def divergence(a: Any, b: Any) -> float | None:
    """The first instant at which the two evaluations of a lead put it in
    different stages (their timelines part), or None when they never do."""
    left = [(s.at, s.stage) for s in a.steps]
    right = [(s.at, s.stage) for s in b.steps]
    for x, y in zip(left, right, strict=False):
        if x != y:
            return float(min(x[0], y[0]))
    if len(left) != len(right):
        longer = left if len(left) > len(right) else right
        return float(longer[min(len(left), len(right))][0])
    return None


# The lines that account for moved leads that no difference moved at the
# as-of instant: the sales replay's knock-on effects, and (should any be
# left) leads the attribution cannot explain, counted rather than dropped.
KNOCK_ON = Attribution(
    "sales queue (knock-on: other handoffs changed this lead's first touch)",
    "its handoff as under the base policy",
    "another first touch or acceptance",
)
UNEXPLAINED = Attribution(
    "not attributed",
    "no difference between the policies found acting on the lead",
    "its outcome differs anyway",
)


__all__ = [
    "KNOCK_ON",
    "UNEXPLAINED",
    "Difference",
    "attribute",
    "differences",
    "divergence",
    "moved_by_any",
]
