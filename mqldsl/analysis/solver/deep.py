"""`mqldsl check --deep` (docs/errors.md W520-W524, docs/witness.md): the lints that bounds
analysis answers where it can (W501, W507, W511), answered by the solver over the encoding of
:mod:`.encode`, each a proof within a stated number of events of each type.

- W520 a stage no lead can have as of any instant;
- W521 a score threshold no lead can cross (the positions of W501);
- W522 a route never chosen: no lead at its stage meets its condition and no earlier one's
  (the positions of W507);
- W523 a disqualifier that can never hold;
- W524 two stages whose conditions can never differ (the earlier is never a lead's stage).

A finding the bounds lints already report at the same place is not repeated. A policy that
uses a construct outside the encoding gets no deep lints (or none about routes, when only its
routes are outside): :func:`deep_lints` says which construct, for a note.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import z3

from mqldsl.analysis.model import CheckedPolicy, numeric_constant
from mqldsl.analysis.solver.encode import PolicyEncoding, SymbolicLead, Term, Unsupported
from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic, warning
from mqldsl.language.notation import expr as show
from mqldsl.language.source import Span

DEFAULT_BOUND = 3
MAX_BOUND = 8
DEEP_CODES = ("W520", "W521", "W522", "W523", "W524")
_ALREADY = {"W520": ("W511",), "W521": ("W501",), "W522": ("W507",), "W524": ("W511",)}


@dataclass(frozen=True)
class DeepResult:
    diagnostics: list[Diagnostic]
    bound: int
    note: str | None  # why some or all deep lints were not made


def saturation(model: CheckedPolicy) -> int:
    """Events of one type beyond which the policy's caps and counts change nothing (at least
    3, at most 8): a `per` rule capped at M stops at ceil(M / |P|) events, `count(...) >= c`
    at c events; with an uncapped `per` rule or an aggregate (`sum(...)`), 8."""
    needed = DEFAULT_BOUND
    for info in model.scores.values():
        for rule in info.node.rules or ():
            if not isinstance(rule, ast.PerRule) or not rule.points:
                continue
            if rule.max is None:
                return MAX_BOUND  # no cap: every event counts (the bound says how far)
            needed = max(needed, math.ceil(abs(rule.max) / abs(rule.points)))
    for root in _roots(model):
        for node in ast.walk(root):
            if isinstance(node, ast.Aggregate):
                return MAX_BOUND  # a sum over events grows with each
            if isinstance(node, ast.Compare | ast.Between):
                parts = (
                    (node.left, node.right)
                    if isinstance(node, ast.Compare)
                    else (node.operand, node.high)
                )
                if isinstance(parts[0], ast.Count) or isinstance(parts[1], ast.Count):
                    for part in parts:
                        value = numeric_constant(model, part)
                        if value is not None and math.isfinite(value):
                            needed = max(needed, math.floor(value) + 1)
    return min(needed, MAX_BOUND)


def _roots(model: CheckedPolicy) -> list[ast.Expr]:
    roots: list[ast.Expr] = []
    for info in model.scores.values():
        if info.node.formula is not None:
            roots.append(info.node.formula)
        for rule in info.node.rules or ():
            roots.append(rule.pattern if isinstance(rule, ast.PerRule) else rule.condition)
    roots += [s.condition for s in model.stages.stages if s.condition is not None]
    roots += [d.condition for d in model.disqualifiers]
    roots += [r.condition for r in model.routes if r.condition is not None]
    return roots


class _Prover:
    def __init__(self, lead: SymbolicLead, timeout: float) -> None:
        self.solver = z3.Solver()
        self.solver.set("timeout", int(timeout * 1000))
        self.solver.add(lead.domain)
        self.gave_up = False

    def impossible(self, term: Term) -> bool:
        """Whether no lead makes ``term`` true (False also when the solver gives up)."""
        self.solver.push()
        self.solver.add(term)
        answer = self.solver.check()
        self.solver.pop()
        if answer == z3.unknown:
            self.gave_up = True
        return bool(answer == z3.unsat)


def deep_lints(
    model: CheckedPolicy,
    existing: Sequence[Diagnostic] = (),
    bound: int | None = None,
    timeout: float = 10.0,
) -> DeepResult:
    """The W52x warnings of ``model`` (see the module's text); ``existing``: the diagnostics
    already reported, whose findings are not repeated."""
    bound = bound or saturation(model)
    try:
        lead = SymbolicLead((model,), bound)
        encoding = PolicyEncoding(model, lead)
    except Unsupported as exc:
        return DeepResult([], bound, f"{exc.message} is outside the solver's encoding")
    prover = _Prover(lead, timeout)
    seen = {(d.code, d.span) for d in existing}
    found: list[Diagnostic] = []
    within = f"within {bound} event{'s' if bound != 1 else ''} of each type"

    def add(code: str, message: str, span: Span, hint: str) -> None:
        if any((other, span) in seen for other in _ALREADY.get(code, ())):
            return
        found.append(warning(code, message, span, hint))
        seen.add((code, span))

    stages = model.stages.stages
    never: set[int] = set()
    for later in range(1, len(stages)):
        for earlier in range(1, later):
            a, b = encoding.stage_holds[earlier], encoding.stage_holds[later]
            if earlier in never or not prover.impossible(a != b) or prover.impossible(a):
                continue  # (two conditions that never hold: W520 says so of each)
            never.add(earlier)
            if ("W511", stages[earlier].span) in seen:
                continue  # bounds analysis already proved the earlier stage unreachable
            add(
                "W524",
                f"the conditions of `{stages[earlier].name}` (line {stages[earlier].span.line}) "
                f"and `{stages[later].name}` can never differ ({within}): "
                f"`{stages[earlier].name}` is never a lead's stage",
                stages[later].span,
                f"change one of the two conditions, or remove `{stages[earlier].name}`",
            )
    for index, stage in enumerate(stages):
        if index in never or not prover.impossible(encoding.stage_is(stage.name)):
            continue
        never.add(index)
        add(
            "W520",
            f"stage `{stage.name}` can never be a lead's stage: no lead {within} has it as of "
            "any instant",
            stage.span,
            "loosen its condition, or the conditions of the stages after it",
        )
    _thresholds(model, encoding, prover, add, within)
    for item in model.disqualifiers:
        if prover.impossible(encoding.condition(item.condition)):
            add(
                "W523",
                f'disqualifier "{item.reason}" can never hold: no lead {within} meets '
                f"`{show(item.condition)}`",
                item.span,
                "fix the condition, or remove the disqualifier",
            )
    unreachable = {stages[i].name for i in never}
    _routes(encoding, prover, add, within, unreachable)
    notes = []
    if encoding.route_problem is not None:
        problem = encoding.route_problem.message
        notes.append(f"routes not checked: {problem} is outside the solver's encoding")
    if prover.gave_up:
        notes.append(f"the solver gave up on some questions (after {timeout:g} s each)")
    return DeepResult(sorted(found, key=Diagnostic.sort_key), bound, "; ".join(notes) or None)


Add = Callable[[str, str, Span, str], None]


def _is_score(model: CheckedPolicy, node: ast.Expr) -> bool:
    if not isinstance(node, ast.Name):
        return False
    ref = model.refs.get(id(node))
    return ref is not None and ref.kind == "score"


def _thresholds(
    model: CheckedPolicy, encoding: PolicyEncoding, prover: _Prover, add: Add, within: str
) -> None:
    """W521: a score compared with a written number (or a param) that no lead crosses."""
    done: set[int] = set()
    for root in _roots(model):
        for node in ast.walk(root):
            if id(node) in done:
                continue
            done.add(id(node))
            sides: list[tuple[ast.Expr, ast.Expr]] = []
            if isinstance(node, ast.Compare):
                sides = [(node.left, node.right), (node.right, node.left)]
            elif isinstance(node, ast.Between):
                if numeric_constant(model, node.high) is not None:
                    sides = [(node.operand, node.low)]
            else:
                continue
            match = [
                score
                for score, other in sides
                if _is_score(model, score) and numeric_constant(model, other) is not None
            ]
            if not match or not prover.impossible(encoding.condition(node)):
                continue
            assert isinstance(match[0], ast.Name)
            add(
                "W521",
                f"`{show(node)}` can never hold: no lead {within} has such a `{match[0].name}`",
                node.span,
                f"change the threshold, or give `{match[0].name}` rules that can reach it",
            )


def _routes(
    encoding: PolicyEncoding, prover: _Prover, add: Add, within: str, unreachable: set[str]
) -> None:
    """W522: an entry route that no lead at its stage takes."""
    for stage, routes in encoding.routes.items():
        if stage in unreachable:
            continue
        at_stage = encoding.stage_is(stage)
        nodes = encoding.route_nodes[stage]
        for index, (holds, _) in enumerate(routes):
            earlier = [h for h, _ in routes[:index]]
            taken = z3.And(at_stage, holds, z3.Not(z3.Or(earlier)) if earlier else True)
            if not prover.impossible(taken):
                continue
            if not earlier or prover.impossible(z3.And(at_stage, holds)):
                why = f"no `{stage}` lead {within} meets its condition"
            else:
                lines = ", ".join(str(n.span.line) for n in nodes[:index])
                word = "line" if index == 1 else "lines"
                why = (
                    f"every `{stage}` lead {within} that meets its condition meets the "
                    f"condition of an earlier route ({word} {lines})"
                )
            add(
                "W522",
                f"this route is never chosen: {why}",
                nodes[index].span,
                "reorder the routes, or change this route's condition",
            )
