"""Warnings about parts of a policy that can never matter (SPEC §11):

- W510 a score rule that can never change the score's clamped value: whenever it
  adds points, the other rules are held where the `range` clamps the sum anyway;
- W511 a stage that can never be a lead's stage: its condition implies the
  condition of a later stage, and the last holding stage wins (SPEC §7).

Both rest on a small, sound and incomplete reasoning about conditions: when it
cannot prove a rule or a stage dead, it says nothing. Thresholds are compared
only as written (a param is equal to itself and comparable with nothing else),
so that a warning stays true under `--set` and `sweep --param`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic, warning
from mqldsl.language.notation import expr as show
from mqldsl.language.notation import pattern_text

DAY = 86400.0
INF = math.inf
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _literal(node: ast.Expr) -> float | None:
    """A number written in the policy (not a param: its value can be changed)."""
    if isinstance(node, ast.NumberLit):
        return float(node.value)
    if isinstance(node, ast.Unary) and isinstance(node.operand, ast.NumberLit):
        return -float(node.operand.value)
    return None


def _as_pattern(model: CheckedPolicy, node: ast.Expr) -> ast.Pattern | None:
    """The event pattern a condition is (a bare event name is `EVENT ever`)."""
    if isinstance(node, ast.Pattern):
        return node
    if isinstance(node, ast.Name):
        ref = model.refs.get(id(node))
        if ref is not None and ref.kind == "event":
            return ast.Pattern(event=node.name, where=None, window=None)
    return None


def _window_seconds(window: object) -> float | None:
    """A pattern's window in seconds: INF for `ever` (or none); None for any
    other kind of window (nothing is then known about it)."""
    if window is None or window == "ever":
        return INF
    if isinstance(window, ast.Duration):
        return window.seconds
    return None


def _sides(node: ast.Compare) -> Iterator[tuple[ast.Expr, str, float]]:
    """``(term, op, c)`` for each side of a comparison with a written number on
    the other side, the operator turned to read from ``term``."""
    for term, other, op in ((node.left, node.right, node.op), (node.right, node.left, "")):
        c = _literal(other)
        if c is not None:
            yield term, op or _FLIP[node.op], c


# ---------------------------------------------------------------- implication


@dataclass(frozen=True, slots=True)
class _Constant:
    """A constant side of a comparison: a number, a text, an enum member or a
    truth value as written, or a param (known only to equal itself)."""

    kind: str  # number, text, member, bool, param
    value: float | str | bool

    def order(self, other: _Constant) -> int | None:
        """-1, 0 or 1 when known, else None."""
        if self.kind == "param" or other.kind == "param":
            return 0 if self == other else None
        if self.kind != other.kind:
            return None
        if self.kind == "number":
            a, b = float(self.value), float(other.value)
            return (a > b) - (a < b)
        return 0 if self.value == other.value else None

    def differs(self, other: _Constant) -> bool:
        if self.kind == "param" or other.kind == "param" or self.kind != other.kind:
            return False
        return self.value != other.value


def _constant(model: CheckedPolicy, node: ast.Expr) -> _Constant | None:
    number = _literal(node)
    if number is not None:
        return _Constant("number", number)
    if isinstance(node, ast.StringLit):
        return _Constant("text", node.value)
    if isinstance(node, ast.BoolLit):
        return _Constant("bool", node.value)
    if isinstance(node, ast.Name):
        ref = model.refs.get(id(node))
        if ref is not None and ref.kind == "member":
            return _Constant("member", node.name)
        if ref is not None and ref.kind == "param":
            return _Constant("param", node.name)
    return None


# An atom: a term compared with a constant, `(term, op, constant)`. A comparison that
# holds has a present term (SPEC §5: a missing operand makes it false).
_Atom = tuple[ast.Expr, str, _Constant]


def _atoms(model: CheckedPolicy, node: ast.Expr) -> list[_Atom] | None:
    """The atoms whose conjunction ``node`` means, or None when it is not one."""
    if isinstance(node, ast.Compare):
        right = _constant(model, node.right)
        if right is not None and _constant(model, node.left) is None:
            return [(node.left, node.op, right)]
        left = _constant(model, node.left)
        if left is not None and right is None:
            return [(node.right, _FLIP[node.op], left)]
        return None
    if isinstance(node, ast.Between):
        low, high = _constant(model, node.low), _constant(model, node.high)
        if low is not None and high is not None:
            return [(node.operand, ">=", low), (node.operand, "<=", high)]
    return None


def _atom_implies(a: _Atom, b: _Atom) -> bool:
    """Whether the term's values that satisfy ``a`` all satisfy ``b``."""
    (term_a, op_a, ca), (term_b, op_b, cb) = a, b
    if term_a != term_b:
        return False
    if op_b == "!=" and op_a == "==" and ca.differs(cb):
        return True
    order = ca.order(cb)  # how ca compares with cb
    if order is None:
        return False
    if op_b == ">=":
        return op_a in (">=", ">", "==") and order >= 0
    if op_b == ">":
        return (op_a == ">" and order >= 0) or (op_a in (">=", "==") and order > 0)
    if op_b == "<=":
        return op_a in ("<=", "<", "==") and order <= 0
    if op_b == "<":
        return (op_a == "<" and order <= 0) or (op_a in ("<=", "==") and order < 0)
    if op_b == "==":
        return op_a == "==" and order == 0
    # op_b is "!=": every value ``a`` allows differs from cb.
    return {
        "==": order != 0,
        "!=": order == 0,
        ">": order >= 0,
        ">=": order > 0,
        "<": order <= 0,
        "<=": order < 0,
    }[op_a]


def _holds_term(model: CheckedPolicy, node: ast.Expr) -> ast.Expr | None:
    """A term that is present whenever ``node`` holds (a positive test of it)."""
    atoms = _atoms(model, node)
    if atoms is not None:
        return atoms[0][0]
    if isinstance(node, ast.Membership | ast.TextTest):
        return node.operand
    return None


def _pattern_implies(model: CheckedPolicy, a: ast.Pattern, b: ast.Pattern) -> bool:
    """Every event that matches ``a`` matches ``b``."""
    if b.event is not None and a.event != b.event:
        return False
    if b.where is not None and (
        a.event != b.event or a.where is None or not implies(model, a.where, b.where)
    ):
        return False
    wa, wb = _window_seconds(a.window), _window_seconds(b.window)
    return wa is not None and wb is not None and wa <= wb


def implies(model: CheckedPolicy, a: ast.Expr, b: ast.Expr) -> bool:
    """True only if ``b`` holds wherever ``a`` holds (for every lead, instant and
    value of the params); False when that cannot be shown simply."""
    return _Prover(model).implies(a, b)


class _Prover:
    """:func:`implies` with each pair of sub-conditions decided once: `and` and
    `or` on both sides can be split in either order, which would otherwise
    revisit pairs exponentially often in the depth of the conditions."""

    def __init__(self, model: CheckedPolicy) -> None:
        self.model = model
        self.known: dict[tuple[int, int], bool] = {}

    def implies(self, a: ast.Expr, b: ast.Expr) -> bool:
        key = (id(a), id(b))
        if key not in self.known:
            self.known[key] = self._implies(a, b)
        return self.known[key]

    def _implies(self, a: ast.Expr, b: ast.Expr) -> bool:
        model = self.model
        if a == b:
            return True
        if isinstance(b, ast.And):
            return all(self.implies(a, part) for part in b.operands)
        if isinstance(a, ast.Or):
            return all(self.implies(part, b) for part in a.operands)
        if isinstance(b, ast.Or) and any(self.implies(a, part) for part in b.operands):
            return True
        parts = a.operands if isinstance(a, ast.And) else (a,)
        if isinstance(a, ast.And) and any(self.implies(part, b) for part in parts):
            return True
        wanted = _atoms(model, b)
        if wanted is not None:
            have = [atom for part in parts for atom in _atoms(model, part) or ()]
            return all(any(_atom_implies(h, w) for h in have) for w in wanted)
        if isinstance(b, ast.Presence) and not b.missing:
            return any(_holds_term(model, part) == b.operand for part in parts)
        pattern_b = _as_pattern(model, b)
        if pattern_b is not None:
            return any(
                (pattern_a := _as_pattern(model, part)) is not None
                and _pattern_implies(model, pattern_a, pattern_b)
                for part in parts
            )
        if isinstance(b, ast.NoEvents):
            # `no A` implies `no B` when every B event is an A event.
            return any(
                isinstance(part, ast.NoEvents) and _pattern_implies(model, b.pattern, part.pattern)
                for part in parts
            )
        if (
            isinstance(b, ast.Membership)
            and not b.negated
            and isinstance(b.collection, ast.ListLit)
        ):
            options = [_constant(model, item) for item in b.collection.items]
            for part in parts:
                atoms = _atoms(model, part) or []
                if (
                    len(atoms) == 1
                    and atoms[0][:2] == (b.operand, "==")
                    and any(o is not None and atoms[0][2].order(o) == 0 for o in options)
                ):
                    return True
        return False


# ---------------------------------------------------------------- absence


@dataclass(frozen=True, slots=True)
class _Absent:
    """What `no PATTERN` holding says: no event matches ``pattern`` (whose window
    is ``seconds`` long)."""

    pattern: ast.Pattern
    seconds: float

    def covers(self, model: CheckedPolicy, pattern: ast.Pattern, seconds: float) -> bool:
        """Whether no event can match ``pattern`` within ``seconds`` either."""
        probe = ast.Pattern(event=pattern.event, where=pattern.where, window=None)
        bare = ast.Pattern(event=self.pattern.event, where=self.pattern.where, window=None)
        return seconds <= self.seconds and _pattern_implies(model, probe, bare)


def absences(model: CheckedPolicy, node: ast.Expr) -> list[_Absent]:
    """Absences that hold whenever ``node`` holds."""
    pattern: ast.Pattern | None = None
    if isinstance(node, ast.NoEvents):
        pattern = node.pattern
    elif isinstance(node, ast.Not):
        pattern = _as_pattern(model, node.operand)
    elif isinstance(node, ast.Compare):
        # `count(P) == 0`, `count(P) < 1`, ...: it holds only when nothing matches.
        for side, op, c in _sides(node):
            if not isinstance(side, ast.Count):
                continue
            # No count of 1 or more satisfies it (`<`, `<=`: if 1 does not, no larger one does).
            if (op == "==" and c == 0) or (op in ("<", "<=") and not _COMPARE[op](1, c)):
                pattern = side.pattern
    elif isinstance(node, ast.And):
        return [found for part in node.operands for found in absences(model, part)]
    if pattern is None:
        return []
    seconds = _window_seconds(pattern.window)
    return [] if seconds is None else [_Absent(pattern, seconds)]


def cannot_hold(model: CheckedPolicy, node: ast.Expr, absent: list[_Absent]) -> bool:
    """True only if ``node`` is false whenever all of ``absent`` hold."""
    if not absent:
        return False
    if isinstance(node, ast.And):
        return any(cannot_hold(model, part, absent) for part in node.operands)
    if isinstance(node, ast.Or):
        return all(cannot_hold(model, part, absent) for part in node.operands)
    pattern = _as_pattern(model, node)
    if pattern is not None:
        return _unmatched(model, pattern, absent)
    if isinstance(node, ast.Compare):
        for side, op, c in _sides(node):
            if isinstance(side, ast.Count) and _unmatched(model, side.pattern, absent):
                return not _COMPARE[op](0, c)  # the count is 0
            if isinstance(side, ast.DaysSince) and op in ("<", "<="):
                # The latest match is less than (at most) c days old: it lies
                # within a window of c days (of any longer one).
                recent = ast.Pattern(event=side.event, where=side.where, window=None)
                return any(
                    f.covers(model, recent, 0.0)
                    and (c * DAY <= f.seconds if op == "<" else c * DAY < f.seconds)
                    for f in absent
                )
    return False


def _unmatched(model: CheckedPolicy, pattern: ast.Pattern, absent: list[_Absent]) -> bool:
    seconds = _window_seconds(pattern.window)
    return seconds is not None and any(f.covers(model, pattern, seconds) for f in absent)


# ---------------------------------------------------------------- W510


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _reach(rule: ast.Rule) -> tuple[float, float]:
    """The least and most a rule adds (decay only shrinks it towards 0)."""
    points = float(rule.points)
    if isinstance(rule, ast.PerRule):
        cap = float(rule.max) if rule.max is not None else INF
        return (0.0, cap) if points > 0 else (-cap, 0.0)
    return min(0.0, points), max(0.0, points)


def dead_rules(model: CheckedPolicy) -> Iterator[Diagnostic]:
    """W510: a rule whose points the score's `range` always clamps away."""
    for info in model.scores.values():
        score = info.node
        rules = score.rules or ()
        if score.range is None:
            continue
        low, high = float(score.range.low), float(score.range.high)
        for rule in rules:
            points = float(rule.points)
            if points == 0:
                continue
            condition: ast.Expr = rule.pattern if isinstance(rule, ast.PerRule) else rule.condition
            absent = absences(model, condition)
            least = most = 0.0
            for other in rules:
                if other is rule:
                    continue
                kept = other.pattern if isinstance(other, ast.PerRule) else other.condition
                if not cannot_hold(model, kept, absent):
                    a, b = _reach(other)
                    least, most = least + a, most + b
            text = pattern_text(rule.pattern) if isinstance(rule, ast.PerRule) else show(condition)
            if points < 0 and most <= low:
                bound, clamp, verb = most, low, "at most"
            elif points > 0 and least >= high:
                bound, clamp, verb = least, high, "at least"
            else:
                continue
            yield warning(
                "W510",
                f"this rule can never change {score.name}: when `{text}` holds, the other "
                f"rules add {verb} {_show(bound)} and the range clamps at {_show(clamp)}",
                rule.span,
                "remove it, or let the other rules add points while it holds"
                if points < 0
                else "remove it, or let the other rules leave room below the top of the range",
            )


# ---------------------------------------------------------------- W511


def dead_stages(model: CheckedPolicy) -> Iterator[Diagnostic]:
    """W511: a stage whose condition implies a later stage's: the later stage
    then holds too, and a lead's stage is the last holding one (in locked mode,
    the furthest), so the earlier one is never a lead's stage. A stage a
    `recycle` rule moves leads to is still reached that way: no warning."""
    stages = model.stages.stages
    targets = {recycle.to_stage for recycle in model.recycles}
    for index, stage in enumerate(stages):
        if stage.condition is None or stage.name in targets:
            continue
        for later in stages[index + 1 :]:
            if later.condition is not None and implies(model, stage.condition, later.condition):
                rule = "the furthest holding stage" if model.locked else "the last holding stage"
                yield warning(
                    "W511",
                    f"stage `{stage.name}` can never be a lead's stage: whenever its condition "
                    f"holds, the condition of `{later.name}` (line {later.span.line}) holds too, "
                    f"and a lead is at {rule}",
                    stage.span,
                    f"make `{later.name}`'s condition stricter, or remove `{stage.name}`",
                )
                break
