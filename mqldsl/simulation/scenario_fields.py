"""The building blocks of scenario validation (:mod:`mqldsl.simulation.scenario`):
where a problem is (`file:line: key.path: message`), and numbers, tables,
weights and the distributions of lead and event fields, each checked."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

from mqldsl.io.problems import Problem
from mqldsl.io.values import RecordError, convert
from mqldsl.language.suggestions import did_you_mean

DISTRIBUTIONS = {"lognormal", "normal", "uniform", "constant"}

#: The largest magnitude of a number a distribution may give, or use as a parameter or a bound
#: (a hard limit: larger values lose whole-number precision in JSON and in the engines).
MAX_VALUE = 1e15
#: The largest ``mu`` and ``sigma`` of a lognormal (e**34 is about 5.8e14).
MAX_LOG_MU = 34.0
MAX_LOG_SIGMA = 10.0


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
    # (values, the running sums of the weights as `random.choices` computes them at every
    # draw, their total, the last index): the generator draws with them, the same value from
    # the same random number. None when the total is not a positive number (`random.choices`
    # then raises its own error).
    pick: tuple[tuple[Any, ...], list[float], float, int] | None = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        cumulative = list(itertools.accumulate(self.weights))
        total = cumulative[-1] + 0.0 if cumulative else 0.0
        valid = 0.0 < total < math.inf
        pick = (self.values, cumulative, total, len(cumulative) - 1) if valid else None
        object.__setattr__(self, "pick", pick)


@dataclass(frozen=True)
class SetField:
    members: tuple[tuple[str, float], ...]  # each member present with its probability


Distribution = Numeric | Categorical | SetField

#: The largest persona or value weight (weights are relative: a hard limit).
MAX_WEIGHT = 1e6


_HEADER = re.compile(r"^\s*\[")  # a table's header line


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
        depth = 0
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
        if not table_line:
            depth = 0
        # The keys after the table's header, each searched from the line of the one before
        # (`tech_stack = { lognormal = ... }`: the `lognormal` of `tech_stack`, not of the
        # field above it), within the table (not in the tables after it).
        end = len(self.lines) + 1
        if table_line:
            end = next(
                (n for n in range(table_line + 1, end) if _HEADER.match(self.lines[n - 1])), end
            )
        found = max(table_line, 1)
        start = max(table_line, 1)
        for key in keys[depth:] or keys[-1:]:
            pattern = re.compile(
                r"^\s*(?:\"?"
                + re.escape(key)
                + r"\"?)\s*=|[{,]\s*\"?"
                + re.escape(key)
                + r"\"?\s*="
            )
            hit = next((n for n in range(start, end) if pattern.search(self.lines[n - 1])), None)
            if hit is None:
                return found if key == keys[-1] else start
            found = start = hit
        return found

    def column_of(self, keys: list[str], line: int) -> int:
        """The column (from 1) of the last key of a path on ``line``; 0 when it is not there."""
        if not keys or not 1 <= line <= len(self.lines):
            return 0
        text = self.lines[line - 1]
        key = re.escape(keys[-1])
        found = re.search(rf'(?<![\w"-])"?{key}"?\s*=', text) or re.search(
            rf"(?<![\w-]){key}(?![\w-])", text
        )
        return found.start() + 1 if found else 0

    def add(self, keys: list[str], message: str, code: str = "E803") -> None:
        """A problem at the key path ``keys`` (found in the text: its line and column), with
        its code (docs/errors.md): E802 unknown key, E803 wrong kind of value (the
        default), E804 out of range, E805 bounds that contradict, E806 unknown name."""
        line = self.line_of(keys)
        path = ".".join(keys)
        text = f"{path}: {message}" if path else message
        problem = Problem(self.path, line, text, code, self.column_of(keys, line))
        self.items.append(problem.render())

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
            problems.add([*keys, key], f"unknown key{hint}", "E802")


def read_number(
    value: Any,
    keys: list[str],
    problems: Problems,
    low: float | None = None,
    high: float | None = None,
    what: str = "a number",
) -> float:
    if value is None:
        problems.add(keys, f"missing: give {what}")
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(keys, f"expected {what}, got {value!r}")
        return 0.0
    if not math.isfinite(value):
        problems.add(keys, f"expected {what}, got {value!r}: give a finite number", "E804")
        return 0.0
    bottom = -MAX_VALUE if low is None else low
    top = MAX_VALUE if high is None else high
    if not bottom <= value <= top:
        if low is not None and high is not None:
            bounds = f"between {low:g} and {high:g}"
        elif low is not None and value < low:
            bounds = f"at least {low:g}"
        else:
            bounds = f"between {bottom:g} and {top:g}"
        limit = f" ({top:g} is a hard limit)" if value > top and top >= 1000 else ""
        problems.add(keys, f"must be {bounds}, got {value!r}{limit}", "E804")
        return float(min(max(value, bottom), top))
    return float(value)


def read_capacity(value: Any, keys: list[str], problems: Problems, high: float) -> float:
    """A capacity: a whole number of first touches a working day (an SDR makes a touch or
    does not; 2.5 was rounded to 2, and 0.5 meant no touch at all)."""
    number = read_number(value, keys, problems, 0.0, high, "a whole number of touches a day")
    if value is not None and number != math.floor(number):
        problems.add(
            keys,
            f"expected a whole number of touches a day, got {value!r}: a team that makes 2.5 "
            "a day makes 5 in 2 days; give what it makes in one",
            "E803",
        )
        return float(math.floor(number))
    return number


def read_table(
    raw: dict[str, Any], key: str, keys: list[str], problems: Problems, required: bool = True
) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        if required:
            problems.add([*keys, key], f"missing table: add `[{'.'.join([*keys, key])}]`")
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
            problems.add([*keys, member], f"`{member}` is not a member of {what}{hint}", "E806")
            continue
        values.append(member)
        weights.append(
            read_number(weight, [*keys, member], problems, 0.0, MAX_WEIGHT, what="a weight")
        )
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
            problems.add([*keys, kind], "the spread must not be negative", "E804")
        if kind == "lognormal" and (a > MAX_LOG_MU or b > MAX_LOG_SIGMA):
            problems.add(
                [*keys, kind],
                f"a lognormal's mu is at most {MAX_LOG_MU:g} and its sigma at most "
                f"{MAX_LOG_SIGMA:g} (e**{MAX_LOG_MU:g} is about {math.exp(MAX_LOG_MU):.1e})",
                "E804",
            )
        if kind == "uniform" and a > b:
            problems.add(
                [*keys, kind], f"the low bound {a:g} is above the high bound {b:g}", "E805"
            )
    low = read_number(table["min"], [*keys, "min"], problems) if "min" in table else None
    high = read_number(table["max"], [*keys, "max"], problems) if "max" in table else None
    if low is not None and high is not None and low > high:
        problems.add([*keys, "min"], f"min = {low:g} is above max = {high:g}", "E805")
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
                    "E806",
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
    if categorical is not None and field_type is not None and kind not in ("bool", "enum"):
        for v in categorical.values:
            try:
                convert(v, field_type)
            except RecordError as exc:
                problems.add([*keys, str(v)], f"the field cannot hold `{v}`: {exc}", "E806")
    if categorical is not None and kind == "bool":
        converted = []
        for v in categorical.values:
            if v not in ("true", "false"):
                problems.add([*keys, v], "a bool field's values are `true` and `false`", "E806")
            converted.append(v == "true")
        categorical = Categorical(tuple(converted), categorical.weights)
    return categorical
