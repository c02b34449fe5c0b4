"""The objective and the constraints of `tune`: metric names of the simulate
report (:data:`~mqldsl.simulation.metrics.DEFINITIONS`) in an expression
written like `--fail-if` (`mql_precision >= 0.85 and sdr_utilisation <= 0.9`),
read with Python's parser and evaluated without `eval`."""

from __future__ import annotations

import ast as pyast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mqldsl.io.errors import UsageProblem
from mqldsl.language.suggestions import did_you_mean
from mqldsl.simulation import gates
from mqldsl.simulation.account_metrics import NAMES as ACCOUNT_NAMES
from mqldsl.simulation.metrics import DEFINITIONS

# Metrics a search can rank by or bound: the numbers of the report.
# The account metrics (SPEC §9) count only for a policy with accounts (`tune` checks).
METRICS = (*(name for name in DEFINITIONS if name != "mqls_per_week"), *ACCOUNT_NAMES)


def check_metric(name: str, option: str = "--maximize") -> str:
    """``name`` if it is one of :data:`METRICS`; :class:`UsageProblem` otherwise."""
    if name not in METRICS:
        close = did_you_mean(name, list(METRICS))
        hint = f"; {close}" if close else f"; one of {', '.join(METRICS)}"
        raise UsageProblem(f"unknown metric `{name}`{hint}", option)
    return name


@dataclass(frozen=True)
class Part:
    """One part of the constraints between `and`s: its text, the metrics it
    reads (in order) and whether a larger first metric is better (a `>`
    or `>=` bound), None when that cannot be told."""

    text: str
    metrics: tuple[str, ...]
    larger_is_better: bool | None


class Constraints:
    """A parsed ``--subject-to`` expression (empty: no constraint)."""

    def __init__(self, expression: str | None, option: str = "--subject-to") -> None:
        self.expression = expression or ""
        self.option = option
        self.parts: list[Part] = []
        self.tree: pyast.expr | None = None
        if not self.expression.strip():
            return
        self.tree = gates.parse(self.expression, lambda message: UsageProblem(message, option))
        self._check(self.tree)
        top = gates.top_parts(self.tree, pyast.And)
        for node in top:
            names = tuple(dict.fromkeys(_names(node)))
            slope = _better(node, names[0]) if names else None
            larger = None if not slope else slope > 0  # (0: the metric cancels out)
            self.parts.append(Part(pyast.unparse(node), names, larger))

    @property
    def metrics(self) -> list[str]:
        """Every metric the constraints read, in order of appearance."""
        return list(dict.fromkeys(name for part in self.parts for name in part.metrics))

    def _check(self, node: pyast.expr) -> None:
        allowed = (
            pyast.BoolOp,
            pyast.UnaryOp,
            pyast.Compare,
            pyast.BinOp,
            pyast.Constant,
            pyast.Name,
            pyast.And,
            pyast.Or,
            pyast.Not,
            pyast.USub,
            pyast.Add,
            pyast.Sub,
            pyast.Mult,
            pyast.Div,
            pyast.Load,
            *gates.COMPARE,
        )
        for part in pyast.walk(node):
            if not isinstance(part, allowed):
                shown = pyast.unparse(part) if isinstance(part, pyast.expr) else type(part).__name__
                where = f" at column {part.col_offset + 1}" if isinstance(part, pyast.expr) else ""
                raise UsageProblem(
                    f"error[{gates.CODE}]: `{shown}`{where} in `{self.expression}` is not read: "
                    "write names, numbers, + - * /, comparisons, and, or, not",
                    self.option,
                )
            if isinstance(part, pyast.Constant) and (
                isinstance(part.value, bool) or not isinstance(part.value, int | float)
            ):
                raise UsageProblem(f"`{part.value!r}` is not a number", self.option)
            if isinstance(part, pyast.Name):
                check_metric(part.id, self.option)

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the constraints hold; a metric with no data (None) breaks
        the comparison it is in."""
        return self.tree is None or gates.holds(_value(self.tree, values))

    def broken(self, values: Mapping[str, Any]) -> list[str]:
        """The parts (between `and`s) that do not hold."""
        if self.tree is None:
            return []
        top = gates.top_parts(self.tree, pyast.And)
        return [pyast.unparse(node) for node in top if not gates.holds(_value(node, values))]

    def shortfall(self, values: Mapping[str, Any]) -> float:
        """How far the values are from satisfying the constraints: over the
        parts that do not hold, the gap between the two sides of a
        comparison, relative to the right side (1 for any other broken part,
        or one with no data)."""
        if self.tree is None:
            return 0.0
        top = gates.top_parts(self.tree, pyast.And)
        total = 0.0
        for node in top:
            if gates.holds(_value(node, values)):
                continue
            gap = 1.0
            if isinstance(node, pyast.Compare) and len(node.ops) == 1:
                left, right = _value(node.left, values), _value(node.comparators[0], values)
                if isinstance(left, int | float) and isinstance(right, int | float):
                    gap = abs(left - right) / (abs(right) or 1.0)
            total += gap
        return total


def _better(node: pyast.expr, metric: str) -> int | None:
    """Whether a larger ``metric`` makes the condition ``node`` hold more easily (1), less
    easily (-1), or cannot be told (None: no bound on it, or bounds both ways): the sign of
    the slack of each comparison in the metric, through `not`, `and`/`or` (when their parts
    agree) and arithmetic with numbers (`mql_precision * 100 >= 33`, `not mqls > 300`)."""
    if isinstance(node, pyast.UnaryOp) and isinstance(node.op, pyast.Not):
        inner = _better(node.operand, metric)
        return None if inner is None else -inner
    if isinstance(node, pyast.BoolOp):
        found = {_better(value, metric) for value in node.values} - {0}
        return found.pop() if len(found) == 1 else None
    if isinstance(node, pyast.Compare):
        sides = [node.left, *node.comparators]
        found = set()
        for op, left, right in zip(node.ops, sides, sides[1:], strict=False):
            a, b = _slope(left, metric), _slope(right, metric)
            if a is None or b is None:
                return None
            if isinstance(op, pyast.Gt | pyast.GtE):
                found.add(_sign(a - b))
            elif isinstance(op, pyast.Lt | pyast.LtE):
                found.add(_sign(b - a))
            elif a != b:
                return None  # (== and != bound it both ways)
        found -= {0}
        return found.pop() if len(found) == 1 else (0 if not found else None)
    return None


def _slope(node: pyast.expr, metric: str) -> int | None:
    """The sign of how ``node`` grows with ``metric`` (1, -1, 0), None when not monotone or
    not known (a product of two metrics, a division by one)."""
    if isinstance(node, pyast.Name):
        return 1 if node.id == metric else 0
    if isinstance(node, pyast.Constant):
        return 0
    if isinstance(node, pyast.UnaryOp) and isinstance(node.op, pyast.USub):
        inner = _slope(node.operand, metric)
        return None if inner is None else -inner
    if isinstance(node, pyast.BinOp):
        left, right = _slope(node.left, metric), _slope(node.right, metric)
        if left is None or right is None:
            return None
        if isinstance(node.op, pyast.Add | pyast.Sub):
            right = -right if isinstance(node.op, pyast.Sub) else right
            return left if right in (0, left) else (right if left == 0 else None)
        if isinstance(node.op, pyast.Mult | pyast.Div) and isinstance(node.right, pyast.Constant):
            factor = node.right.value
            return left * _sign(factor) if isinstance(factor, int | float) else None
        if isinstance(node.op, pyast.Mult) and isinstance(node.left, pyast.Constant):
            factor = node.left.value
            return right * _sign(factor) if isinstance(factor, int | float) else None
        return 0 if left == right == 0 else None
    return None


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _names(node: pyast.expr) -> list[str]:
    return [part.id for part in pyast.walk(node) if isinstance(part, pyast.Name)]


def _value(node: pyast.expr, values: Mapping[str, Any]) -> Any:
    def lookup(name: pyast.expr) -> Any:
        assert isinstance(name, pyast.Name)  # checked when the constraints were read
        return values.get(name.id)

    return gates.evaluate(node, lookup, UsageProblem)


__all__ = ["METRICS", "Constraints", "Part", "check_metric"]
