"""Matching the score rules of two versions of a policy, for `mqldsl diff`
and the rule attribution of `mqldsl whatif`.

Rules are matched by label, then as the same rule moved elsewhere, then by
shape (the same kind of rule on the same events or fields), then by position;
a moved rule is never reported as removed and added.
"""

from __future__ import annotations

from collections.abc import Callable

from mqldsl.language import ast
from mqldsl.language.ast import walk
from mqldsl.language.notation import rule_text


def rule_shape(rule: ast.Rule) -> tuple[str, str]:
    """The kind of rule and the names and events it speaks of."""
    node: ast.Expr = rule.pattern if isinstance(rule, ast.PerRule) else rule.condition
    names = sorted(
        {p.name for p in walk(node) if isinstance(p, ast.Name)}
        | {p.event or "event" for p in walk(node) if isinstance(p, ast.Pattern)}
        | {f"{p.pattern.event}.{p.field}" for p in walk(node) if isinstance(p, ast.Aggregate)}
    )
    kind = type(rule).__name__ + (" per contact" if getattr(rule, "per_contact", False) else "")
    return (kind, ",".join(names))


def rule_key(rule: ast.Rule) -> str:
    """The rule as written, with its label: equal for the same rule moved."""
    return rule_text(rule) + (f" {rule.label!r}" if rule.label else "")


def match_rules(
    old: tuple[ast.Rule, ...], new: tuple[ast.Rule, ...]
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """The matched (old index, new index) pairs in order, then the indexes of
    the old rules left unmatched (removed) and of the new ones (added)."""
    pairs: list[tuple[int, int]] = []
    left = list(range(len(old)))
    right = list(range(len(new)))

    def take(test: Callable[[ast.Rule, ast.Rule], bool]) -> None:
        for i in list(left):
            for j in list(right):
                if test(old[i], new[j]):
                    pairs.append((i, j))
                    left.remove(i)
                    right.remove(j)
                    break

    take(lambda a, b: a.label is not None and a.label == b.label)
    take(lambda a, b: rule_key(a) == rule_key(b))
    take(lambda a, b: rule_shape(a) == rule_shape(b))
    # by position among what is left, when the kind of rule is the same
    for i, j in list(zip(list(left), list(right), strict=False)):
        if type(old[i]) is type(new[j]):
            pairs.append((i, j))
            left.remove(i)
            right.remove(j)
    return sorted(pairs), left, right
