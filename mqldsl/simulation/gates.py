"""The small expression language of `--fail-if` (whatif) and `--subject-to` (tune):
comparisons of named numbers joined by `and`, `or`, `not`, with `+ - * /` and numbers, read
with Python's parser and evaluated here without `eval`.

One evaluator for both, with one rule for missing data: a name whose value is None makes any
arithmetic over it None and any comparison with it unknown (None); `and`, `or` and `not` keep
an unknown unknown (Kleene's logic: `false and unknown` is false, `true or unknown` true), and
:func:`holds` counts only true. So a metric with no data neither trips a gate nor satisfies a
constraint, even under `not`. The callers resolve names and word their own errors.
"""

from __future__ import annotations

import ast as pyast
from collections.abc import Callable
from typing import Any

COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    pyast.Gt: lambda a, b: a > b,
    pyast.GtE: lambda a, b: a >= b,
    pyast.Lt: lambda a, b: a < b,
    pyast.LtE: lambda a, b: a <= b,
    pyast.Eq: lambda a, b: a == b,
    pyast.NotEq: lambda a, b: a != b,
}

_ARITHMETIC = pyast.Add | pyast.Sub | pyast.Mult | pyast.Div

Lookup = Callable[[pyast.expr], Any]
"""Resolves a name (a ``Name`` or dotted ``Attribute`` node) to its value, or raises."""
Problem = Callable[[str], Exception]
"""Makes the caller's error from a message."""


CODE = "E851"  # docs/errors.md: a gate expression that cannot be read


def parse(text: str, problem: Problem) -> pyast.expr:
    """The expression's tree; ``problem`` (its message starts ``error[E851]`` and gives the
    column in ``text``) for an empty text, text Python cannot read (or nested too deeply to
    read), or a part that is not a condition (a bare number or name: `1`, `mqls.delta`)."""
    if not text.strip():
        raise problem(
            f"error[{CODE}]: the expression is empty; write a condition such as `name > 20`, "
            "or leave the option out"
        )
    indent = len(text) - len(text.lstrip())
    try:
        tree = pyast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        if exc.offset:
            where, why = indent + exc.offset, exc.msg
        else:  # Python says 0 when the text ends before the expression does
            where, why = indent + len(text.strip()) + 1, "the expression ends too early"
        raise problem(
            f"error[{CODE}]: cannot read `{text.strip()}` at column {where}: {why}"
        ) from None
    except (RecursionError, MemoryError):
        raise problem(f"error[{CODE}]: cannot read `{text[:60]}...`: nested too deeply") from None
    if _depth(tree) > MAX_DEPTH:
        raise problem(f"error[{CODE}]: cannot read `{text[:60]}...`: nested too deeply") from None
    _conditions(tree, indent, problem)
    return tree


def _conditions(node: pyast.expr, indent: int, problem: Problem) -> None:
    """``problem`` for a part of a condition that is not one: a number, a name or
    arithmetic where `and`, `or`, `not` expect a comparison."""
    if isinstance(node, pyast.BoolOp):
        for value in node.values:
            _conditions(value, indent, problem)
    elif isinstance(node, pyast.UnaryOp) and isinstance(node.op, pyast.Not):
        _conditions(node.operand, indent, problem)
    elif not isinstance(node, pyast.Compare):
        raise problem(
            f"error[{CODE}]: `{pyast.unparse(node)}` at column {indent + node.col_offset + 1} "
            "is not a condition; compare it, e.g. `name > 20`"
        )


MAX_DEPTH = 50  # far beyond any real gate; keeps evaluation off Python's recursion limit


def _depth(node: pyast.AST) -> int:
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in pyast.iter_child_nodes(current))
    return deepest


def holds(value: Any) -> bool:
    """Whether an evaluated condition is true (unknown is not)."""
    return _truth(value) is True


def _truth(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _unexpected(node: pyast.expr) -> str:
    return (
        f"error[{CODE}]: `{pyast.unparse(node)}` at column {node.col_offset + 1} is not read "
        "by a gate: write names, numbers, + - * /, comparisons, and, or, not"
    )


def dotted(node: pyast.expr, problem: Problem) -> str:
    """The name a ``Name`` or ``Attribute`` chain spells (``mqls.delta``)."""
    if isinstance(node, pyast.Name):
        return node.id
    if isinstance(node, pyast.Attribute):
        return f"{dotted(node.value, problem)}.{node.attr}"
    raise problem(_unexpected(node))


def evaluate(node: pyast.expr, lookup: Lookup, problem: Problem) -> Any:
    """The value of ``node``: a bool for conditions, a number (or None) otherwise."""
    if isinstance(node, pyast.BoolOp):
        parts = [_truth(evaluate(v, lookup, problem)) for v in node.values]
        if isinstance(node.op, pyast.And):
            return False if False in parts else (None if None in parts else True)
        return True if True in parts else (None if None in parts else False)
    if isinstance(node, pyast.UnaryOp):
        inner = evaluate(node.operand, lookup, problem)
        if isinstance(node.op, pyast.Not):
            truth = _truth(inner)
            return None if truth is None else not truth
        if isinstance(node.op, pyast.USub):
            return None if inner is None else -inner
        raise problem(_unexpected(node))
    if isinstance(node, pyast.Compare):
        left = evaluate(node.left, lookup, problem)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = evaluate(right_node, lookup, problem)
            compare = COMPARE.get(type(op))
            if compare is None:
                raise problem(f"unsupported comparison in `{pyast.unparse(node)}`")
            if left is None or right is None:
                return None
            if not compare(left, right):
                return False
            left = right
        return True
    if isinstance(node, pyast.BinOp) and isinstance(node.op, _ARITHMETIC):
        a, b = evaluate(node.left, lookup, problem), evaluate(node.right, lookup, problem)
        if a is None or b is None:
            return None
        if isinstance(node.op, pyast.Add):
            return a + b
        if isinstance(node.op, pyast.Sub):
            return a - b
        if isinstance(node.op, pyast.Mult):
            return a * b
        return a / b if b else None
    if isinstance(node, pyast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise problem(f"`{node.value!r}` is not a number")
        return node.value
    if isinstance(node, pyast.Name | pyast.Attribute):
        return lookup(node)
    raise problem(_unexpected(node))


def top_parts(node: pyast.expr, joined_by: type[pyast.boolop]) -> list[pyast.expr]:
    """The parts of ``node`` between its top-level `and`s (or `or`s)."""
    if isinstance(node, pyast.BoolOp) and isinstance(node.op, joined_by):
        return list(node.values)
    return [node]


__all__ = [
    "COMPARE",
    "MAX_DEPTH",
    "Lookup",
    "Problem",
    "dotted",
    "evaluate",
    "holds",
    "parse",
    "top_parts",
]
