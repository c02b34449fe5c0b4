"""Duration params (SPEC §5.2): `param demo_window = 30 days`, and its name
written wherever a duration is (`within demo_window`, `decay 10% every
step`, `sla inbound_sla`).

The parser leaves such a duration unresolved (:attr:`ast.Duration.param`
holds the name). Before checking, :func:`resolve` gives each one the param's
value, so that every back end reads a plain length of time and none of them
knows about duration params. A run with another value (`--set`, a sweep, a
tune) checks the policy again with that value
(:func:`mqldsl.analysis.bound.bind`): a window's length decides the
timeline's instants (SPEC §7), so it is part of the model, not a value
handed to compiled code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from mqldsl.language import ast
from mqldsl.language.expression_builder import DURATION_LIMIT_DAYS

NodeT = TypeVar("NodeT")


def declared(policy: ast.Policy) -> dict[str, ast.Duration]:
    """The duration params a policy declares, at their written values (the
    first declaration of a name: a second one is an error of its own)."""
    found: dict[str, ast.Duration] = {}
    for item in policy.items:
        if isinstance(item, ast.Param) and isinstance(item.value, ast.Duration):
            found.setdefault(item.name, item.value)
    return found


def resolve(policy: ast.Policy, values: Mapping[str, ast.Duration]) -> ast.Policy:
    """``policy`` with every duration written as a param's name in ``values``
    given that value (name and span kept). Nodes without such a duration are
    shared with ``policy``; a name not in ``values`` is left for the checker
    to report."""
    if not values:
        return policy
    return _rewrite(policy, values)


def _rewrite(node: NodeT, values: Mapping[str, ast.Duration]) -> NodeT:
    if isinstance(node, ast.Duration):
        value = values.get(node.param) if node.param is not None else None
        if value is None:
            return node
        return dataclasses.replace(node, amount=value.amount, unit=value.unit)
    if isinstance(node, tuple):
        items = tuple(_rewrite(item, values) for item in node)
        same = all(new is old for new, old in zip(items, node, strict=True))
        return node if same else items  # type: ignore[return-value]
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    changes: dict[str, Any] = {}
    for item in dataclasses.fields(node):
        if item.name in ("span", "comments"):
            continue
        old = getattr(node, item.name)
        new = _rewrite(old, values)
        if new is not old:
            changes[item.name] = new
    return dataclasses.replace(node, **changes) if changes else node


def magnitude(value: Any) -> Any:
    """A param value as something that orders and subtracts: a duration's
    seconds, any other value itself."""
    return value.seconds if isinstance(value, ast.Duration) else value


def plain(value: Any) -> Any:
    """``value`` (a report's JSON, with param values in it) with each duration
    written as the policy writes it, `14 days`."""
    if isinstance(value, ast.Duration):
        return value.text()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def compact_duration(value: ast.Duration) -> str:
    """A duration as the command line takes it compactly: `14d`, `90m`."""
    amount = value.amount
    return (str(amount) if isinstance(amount, int) else repr(amount)) + value.unit[0]


def timedelta_text(value: dt.timedelta) -> str:
    """A ``timedelta`` as the command line writes a duration, in the largest
    unit it is a whole number of (`2w`, `36h`; else minutes, `1.5m`)."""
    seconds = value.total_seconds()
    for unit in ("week", "day", "hour", "minute"):
        amount = seconds / ast.UNIT_SECONDS[unit]
        if amount.is_integer():
            return f"{int(amount)}{unit[0]}"
    return f"{seconds / 60!r}m"


_COMPACT = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(m|h|d|w)")
_WORDS = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s+(minute|hour|day|week)s?")
_UNITS = {"m": "minute", "h": "hour", "d": "day", "w": "week"}


def parse_duration(text: str) -> ast.Duration:
    """A duration from the command line (SPEC §5.2): as a policy writes it,
    `14 days`, or compactly, `90m`, `36h`, `14d`, `2w`. Positive and at most
    10,000 years; ValueError naming the problem otherwise."""
    text = text.strip()
    match = _COMPACT.fullmatch(text) or _WORDS.fullmatch(text)
    if match is None:
        if text.startswith("-"):
            raise ValueError("a duration must be positive")
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*(months?|years?|mo|y)", text):
            raise ValueError("months and years vary in length: write days, e.g. 30d")
        if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
            raise ValueError("a duration needs a unit: e.g. 14d or `14 days`")
        raise ValueError("a duration is written `14 days` or 90m, 36h, 14d, 2w")
    amount_text, unit = match.groups()
    amount: int | float = float(amount_text) if "." in amount_text else int(amount_text)
    duration = ast.Duration(amount=amount, unit=_UNITS.get(unit, unit))
    if duration.seconds <= 0:
        raise ValueError("a duration must be positive")
    if duration.seconds > DURATION_LIMIT_DAYS * 86400:
        raise ValueError(f"a duration is at most {DURATION_LIMIT_DAYS:,} days")
    return duration
