"""Matching the score rules of two versions of a policy, for `mqldsl diff`
and the rule attribution of `mqldsl whatif`.

Rules are matched by label, then as the same rule moved elsewhere, then by
shape (the same kind of rule on the same events or fields), then by position;
a moved rule is never reported as removed and added.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

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


# ---------------------------------------------------------------- orders

K = TypeVar("K", bound=Hashable)
RouteKey = tuple[str, str, str | None]


def common_order(old: Sequence[K], new: Sequence[K]) -> tuple[list[K], list[K]] | None:
    """The items in both, each version's order, where those orders differ (None: the same
    order, or nothing in common to order). An item added or removed moves nothing."""
    kept_old = [item for item in old if item in new]
    kept_new = [item for item in new if item in old]
    return None if kept_old == kept_new else (kept_old, kept_new)


def route_key(route: ast.Route) -> RouteKey:
    """A route by stage, queue and, for a hot-event route, its event: an entry route and an
    `on` route to the same queue are two routes."""
    return (route.stage, route.queue, None if route.on is None else route.on.event or "event")


def route_name(key: RouteKey) -> str:
    """A route's queue, with `on EVENT` for a hot-event route."""
    return key[1] + (f" on {key[2]}" if key[2] else "")


def route_orders(
    old: Sequence[ast.Route], new: Sequence[ast.Route]
) -> list[tuple[str, list[RouteKey], list[RouteKey]]]:
    """Per stage whose routes (those in both versions) come in another order: the stage and
    both orders. The first route of a stage whose condition holds assigns the queue (SPEC
    §8): a new order is a change in meaning."""
    found = []
    for stage in dict.fromkeys(r.stage for r in new):
        moved = common_order(
            [route_key(r) for r in old if r.stage == stage],
            [route_key(r) for r in new if r.stage == stage],
        )
        if moved is not None:
            found.append((stage, *moved))
    return found
