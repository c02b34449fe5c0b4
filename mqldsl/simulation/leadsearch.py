"""Random journey records for policies' declared fields and events, aimed at their edges:
text and numbers drawn from (and next to) the values the policies write, event ages on
both sides of every window's edge. What `diff --witness` searches when no proof can be made
(docs/witness.md), and what its tests compare the solver's answers with."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.types import Type
from mqldsl.engine.runtime import DAY, format_instant
from mqldsl.language import ast


def expressions(model: CheckedPolicy) -> Iterator[ast.Expr]:
    """Every expression node a policy's decisions read."""
    roots: list[ast.Expr] = []
    for info in model.scores.values():
        node = info.node
        if node.formula is not None:
            roots.append(node.formula)
        for rule in node.rules or ():
            roots.append(rule.pattern if isinstance(rule, ast.PerRule) else rule.condition)
    roots += [s.condition for s in model.stages.stages if s.condition is not None]
    roots += [d.condition for d in model.disqualifiers]
    roots += [r.condition for r in model.recycles]
    for route in model.routes:
        roots += [x for x in (route.condition, route.on) if x is not None]
    for root in roots:
        yield from ast.walk(root)


class _Values:
    """The constants the policies write, by kind, for drawing values near them."""

    def __init__(self, models: Sequence[CheckedPolicy]) -> None:
        texts: set[str] = {"", "z"}
        numbers: set[float] = {0, 1}
        dates: set[dt.date] = {dt.date(2026, 1, 1)}
        for model in models:
            for node in expressions(model):
                if isinstance(node, ast.StringLit):
                    texts.add(node.value)
                elif isinstance(node, ast.NumberLit):
                    numbers.add(node.value)
                elif isinstance(node, ast.DateLit):
                    dates.add(node.value)
            for param in model.params.values():
                values = param.value if isinstance(param.value, tuple) else (param.value,)
                for value in values:
                    if isinstance(value, bool):
                        continue
                    if isinstance(value, int | float):
                        numbers.add(value)
                    elif isinstance(value, str):
                        texts.add(value)
        self.texts = sorted(texts | {t + "z" for t in texts} | {"a" + t for t in texts})
        near = {v + d for v in numbers for d in (-1, -0.5, 0, 0.5, 1)}
        self.numbers = sorted(near)
        self.dates = sorted({d + dt.timedelta(days=k) for d in dates for k in (-1, 0, 1)})

    def draw(self, kind: Type, rng: random.Random) -> Any:
        k = kind.kind
        if k == "int":
            if rng.random() < 0.2:
                return rng.randint(-10, 10_000)
            return round(rng.choice(self.numbers))
        if k == "number":
            if rng.random() < 0.2:
                return round(rng.uniform(-10, 1000), 2)
            return rng.choice(self.numbers)
        if k == "bool":
            return rng.random() < 0.5
        if k == "text":
            return rng.choice(self.texts)
        if k == "date":
            return rng.choice(self.dates).isoformat()
        if k == "enum":
            return rng.choice(kind.members)
        if k == "set" and kind.element is not None:
            pool = kind.element.members if kind.element.kind == "enum" else self.texts
            return sorted(rng.sample(list(pool), rng.randint(0, min(3, len(pool)))))
        return None


def random_records(
    models: Sequence[CheckedPolicy], count: int, seed: int, bound: int, as_of: float = 0.0
) -> Iterator[dict[str, Any]]:
    """``count`` journey records valid for every one of ``models`` (fields with the type of
    the first that declares them), each with at most ``bound`` events of a type."""
    rng = random.Random(seed)
    values = _Values(models)
    fields: dict[str, Type] = {}
    events: dict[str, dict[str, Type]] = {}
    windows: set[float] = {DAY}
    for model in models:
        for name, info in model.fields.items():
            fields.setdefault(name, info.type)
        for name, declared in model.events.items():
            into = events.setdefault(name, {})
            for field_name, info in declared.fields.items():
                into.setdefault(field_name, info.type)
        windows.update(model.windows)
    edges = sorted({max(0.0, w + d) for w in windows for d in (-1, 0, 1)})
    longest = max(windows) * 1.5
    kinds = sorted(events)
    for number in range(count):
        profile = {
            name: values.draw(kind, rng) for name, kind in fields.items() if rng.random() < 0.8
        }
        items: list[tuple[float, dict[str, Any]]] = []
        for kind in kinds:
            if rng.random() < 0.5:
                continue
            for _ in range(rng.randint(1, bound)):
                age = rng.choice(edges) if rng.random() < 0.4 else rng.uniform(0, longest)
                event: dict[str, Any] = {"type": kind, "at": format_instant(as_of - round(age))}
                for field_name, field_type in events[kind].items():
                    if rng.random() < 0.8:
                        event[field_name] = values.draw(field_type, rng)
                items.append((round(age), event))
        items.sort(key=lambda item: -item[0])
        yield {"id": f"search-{number + 1}", "profile": profile, "events": [e for _, e in items]}
