"""The building blocks of scenario validation (:mod:`mqldsl.simulation.scenario`):
where a problem is (`file:line: key.path: message`), and numbers, tables,
weights and the distributions of lead and event fields, each checked."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from mqldsl.language.suggestions import did_you_mean

DISTRIBUTIONS = {"lognormal", "normal", "uniform", "constant"}


@dataclass(frozen=True)
class Numeric:
    kind: str  # lognormal, normal, uniform, constant
    a: float
    b: float
    low: float | None = None
    high: float | None = None
    whole: bool = True


@dataclass(frozen=True)
class Categorical:
    values: tuple[Any, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True)
class SetField:
    members: tuple[tuple[str, float], ...]  # each member present with its probability


Distribution = Numeric | Categorical | SetField


class Problems:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.items: list[str] = []

    def line_of(self, keys: list[str]) -> int:
        """Best effort: the line of the last key of a path (``name.N...``: in
        the N-th table of the array `[[name]]`)."""
        if len(keys) >= 2 and keys[1].isdigit():
            headers = self.array_headers(keys[0])
            if 1 <= int(keys[1]) <= len(headers):
                at = headers[int(keys[1]) - 1]
                return self.key_line(keys[-1], at) if len(keys) > 2 else at
        table_line = 0
        for depth in range(len(keys), 0, -1):
            header = re.compile(
                r"^\s*\[+\s*" + r"\s*\.\s*".join(re.escape(k) for k in keys[:depth]) + r"\s*\]+"
            )
            for number, line in enumerate(self.lines, start=1):
                if header.match(line):
                    table_line = number
                    break
            if table_line:
                break
        key = keys[-1] if keys else ""
        pattern = re.compile(
            r"^\s*(?:\"?" + re.escape(key) + r"\"?)\s*=|[{,]\s*\"?" + re.escape(key) + r"\"?\s*="
        )
        for number in range(table_line, len(self.lines) + 1):
            if number >= 1 and pattern.search(self.lines[number - 1]):
                return number
        return max(table_line, 1)

    def add(self, keys: list[str], message: str) -> None:
        path = ".".join(keys)
        self.items.append(f"{self.path}:{self.line_of(keys)}: {path}: {message}")

    def key_line(self, key: str, table_line: int) -> int:
        """The line of ``key`` in the table whose header is at ``table_line``."""
        pattern = re.compile(r"^\s*\"?" + re.escape(key) + r"\"?\s*=|[{,]\s*\"?" + re.escape(key))
        for number in range(table_line, len(self.lines) + 1):
            line = self.lines[number - 1]
            if number > table_line and line.lstrip().startswith("["):
                break
            if pattern.search(line):
                return number
        return table_line

    def array_headers(self, name: str) -> list[int]:
        """The lines of the `[[name]]` headers, in order."""
        header = re.compile(r"^\s*\[\[\s*" + re.escape(name) + r"\s*\]\]")
        return [n for n, line in enumerate(self.lines, start=1) if header.match(line)]


def unknown_keys(
    table: dict[str, Any], allowed: set[str], keys: list[str], problems: Problems
) -> None:
    for key in table:
        if key not in allowed:
            close = did_you_mean(key, sorted(allowed))
            hint = f"; {close}" if close else f"; the keys are {', '.join(sorted(allowed))}"
            problems.add([*keys, key], f"unknown key{hint}")


def read_number(
    value: Any,
    keys: list[str],
    problems: Problems,
    low: float | None = None,
    high: float | None = None,
    what: str = "a number",
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.add(keys, f"expected {what}, got {value!r}")
        return 0.0
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        problems.add(keys, f"must be {bounds}, got {value!r}")
    return float(value)


def read_table(
    raw: dict[str, Any], key: str, keys: list[str], problems: Problems, required: bool = True
) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        if required:
            problems.add([*keys, key], "missing table")
        return {}
    if not isinstance(value, dict):
        problems.add([*keys, key], "expected a table")
        return {}
    return value


def read_weights(
    table: dict[str, Any],
    keys: list[str],
    problems: Problems,
    allowed: tuple[str, ...] | None,
    what: str,
) -> Categorical | None:
    values, weights = [], []
    for member, weight in table.items():
        if allowed is not None and member not in allowed:
            close = did_you_mean(member, allowed)
            hint = f"; {close}" if close else f"; the members are {', '.join(allowed)}"
            problems.add([*keys, member], f"`{member}` is not a member of {what}{hint}")
            continue
        values.append(member)
        weights.append(read_number(weight, [*keys, member], problems, 0.0, what="a weight"))
    if values and sum(weights) <= 0:
        problems.add(keys, "the weights sum to zero: give at least one a positive weight")
        return None
    if not values:
        problems.add(keys, "no values: give at least one value with a weight")
        return None
    return Categorical(tuple(values), tuple(weights))


def read_numeric(
    table: dict[str, Any], keys: list[str], problems: Problems, whole: bool
) -> Numeric | None:
    kinds = [k for k in table if k in DISTRIBUTIONS]
    unknown_keys(table, DISTRIBUTIONS | {"min", "max"}, keys, problems)
    if len(kinds) != 1:
        problems.add(
            keys,
            "give one distribution: lognormal = [mu, sigma], normal = [mean, sd], "
            "uniform = [low, high] or constant = value",
        )
        return None
    kind = kinds[0]
    spec = table[kind]
    if kind == "constant":
        a = read_number(spec, [*keys, kind], problems)
        b = 0.0
    else:
        if not (isinstance(spec, list) and len(spec) == 2):
            problems.add([*keys, kind], "expected two numbers, e.g. [6.5, 1.0]")
            return None
        a = read_number(spec[0], [*keys, kind], problems)
        b = read_number(spec[1], [*keys, kind], problems)
        if kind in ("lognormal", "normal") and b < 0:
            problems.add([*keys, kind], "the spread must not be negative")
        if kind == "uniform" and a > b:
            problems.add([*keys, kind], "the low bound is above the high bound")
    low = read_number(table["min"], [*keys, "min"], problems) if "min" in table else None
    high = read_number(table["max"], [*keys, "max"], problems) if "max" in table else None
    return Numeric(kind, a, b, low, high, whole)


def read_distribution(
    value: Any, keys: list[str], problems: Problems, field_type: Any | None
) -> Distribution | None:
    kind = field_type.kind if field_type is not None else None
    if kind in ("int", "number"):
        if not isinstance(value, dict):
            problems.add(keys, "expected a distribution table such as { lognormal = [6.5, 1.0] }")
            return None
        return read_numeric(value, keys, problems, whole=kind == "int")
    if kind == "set":
        if not isinstance(value, dict):
            problems.add(keys, "expected a table of member = probability")
            return None
        assert field_type is not None
        element = field_type.element
        allowed = element.members if element is not None and element.kind == "enum" else None
        members = []
        for member, p in value.items():
            if allowed is not None and member not in allowed:
                close = did_you_mean(member, allowed)
                problems.add(
                    [*keys, member],
                    f"`{member}` is not a member" + (f"; {close}" if close else ""),
                )
                continue
            members.append(
                (member, read_number(p, [*keys, member], problems, 0.0, 1.0, "a probability"))
            )
        return SetField(tuple(members))
    if not isinstance(value, dict):
        problems.add(keys, "expected a table of value = weight")
        return None
    allowed = field_type.members if field_type is not None and kind == "enum" else None
    what = "the enum" if allowed is not None else "the field"
    categorical = read_weights(value, keys, problems, allowed, what)
    if categorical is not None and kind == "bool":
        converted = []
        for v in categorical.values:
            if v not in ("true", "false"):
                problems.add([*keys, v], "a bool field's values are `true` and `false`")
            converted.append(v == "true")
        categorical = Categorical(tuple(converted), categorical.weights)
    return categorical
