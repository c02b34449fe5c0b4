"""Scenario files (`simulations/*.toml`): who arrives, how they behave, who
really buys, and how sales works. Loaded with tomllib and validated strictly:
every problem names the file, the line and the key path, and what to do."""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.language.suggestions import did_you_mean

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DISTRIBUTIONS = {"lognormal", "normal", "uniform", "constant"}


class ScenarioError(ValueError):
    """All problems found in a scenario, as `file:line: key: message` lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


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


@dataclass(frozen=True)
class Persona:
    name: str
    weight: float
    buyer_rate: float
    profile: dict[str, Distribution]
    missing: dict[str, float]
    rates: dict[str, dict[str, float]]  # state -> event type -> events per day
    on_arrival: tuple[str, ...] = ()  # events every lead of the persona has when it arrives
    # share of the non-buyers who still go through the buying states (and
    # behave as their rates say) without buying: lost deals, trial tourists
    non_buyers_evaluate: float = 0.0


@dataclass(frozen=True)
class Period:
    """From ``start`` (until the next period, or the end of the scenario):
    arrivals a day, and persona weights and buyer rates that replace the
    personas' own (None / absent: the scenario's). What a period of the file
    does not set carries over from the period before; here it is filled in."""

    start: dt.date
    per_day: float | None
    weights: dict[str, float]
    buyer_rates: dict[str, float]


@dataclass(frozen=True)
class Sales:
    capacity_per_day: float
    queue_capacity: dict[str, float]
    working_hours: tuple[float, float]
    working_days: tuple[int, ...]
    sql_rate: float
    half_life_hours: float
    non_buyer_sql_rate: float


@dataclass(frozen=True)
class Scenario:
    path: str
    name: str
    start: dt.date
    days: int
    seed: int
    per_day: float
    weekday_shape: tuple[float, ...]
    # buyer states in order: a mean in days (exponential) or a distribution of days
    states: tuple[tuple[str, float | Numeric], ...]
    unaware_days: float
    personas: tuple[Persona, ...]
    event_fields: dict[str, dict[str, Distribution]]
    sales: Sales
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    periods: tuple[Period, ...] = ()  # in time order; before the first: the defaults

    def period_at(self, day: dt.date) -> Period | None:
        """The period in force on ``day`` (None before the first one)."""
        found = None
        for period in self.periods:
            if period.start > day:
                break
            found = period
        return found

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC) + dt.timedelta(
            days=self.days
        )


class _Problems:
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


_TOP = {"scenario", "arrivals", "sales", "states", "personas", "event_fields", "periods"}


def load_scenario(path: str | Path, model: CheckedPolicy | None = None) -> Scenario:
    """The scenario file at ``path``, validated (against ``model`` if given);
    :class:`ScenarioError` with every problem found."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{name}:1: cannot read the scenario: {exc}"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"line (\d+), column (\d+)", message)
        where = f"{match.group(1)}:{match.group(2)}" if match else "1"
        raise ScenarioError([f"{name}:{where}: invalid TOML: {message}"]) from None
    return scenario_from_toml(name, text, raw, model)


def scenario_from_toml(
    name: str, text: str, raw: dict[str, Any], model: CheckedPolicy | None = None
) -> Scenario:
    """:func:`load_scenario` for a file already read: its ``text`` (for the
    line numbers of problems) and the TOML parsed from it."""
    problems = _Problems(name, text)
    scenario = _build(raw, problems, name, model)
    if problems.items or scenario is None:
        raise ScenarioError(problems.items)
    return scenario


def _unknown(
    table: dict[str, Any], allowed: set[str], keys: list[str], problems: _Problems
) -> None:
    for key in table:
        if key not in allowed:
            close = did_you_mean(key, sorted(allowed))
            hint = f"; {close}" if close else f"; the keys are {', '.join(sorted(allowed))}"
            problems.add([*keys, key], f"unknown key{hint}")


def _number(
    value: Any,
    keys: list[str],
    problems: _Problems,
    low: float | None = None,
    high: float | None = None,
    what: str = "a number",
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        problems.add(keys, f"expected {what}, got {value!r}")
        return 0.0
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        problems.add(keys, f"must be {bounds}, got {value!r}")
    return float(value)


def _table(
    raw: dict[str, Any], key: str, keys: list[str], problems: _Problems, required: bool = True
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


def _weights(
    table: dict[str, Any],
    keys: list[str],
    problems: _Problems,
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
        weights.append(_number(weight, [*keys, member], problems, 0.0, what="a weight"))
    if values and sum(weights) <= 0:
        problems.add(keys, "the weights sum to zero: give at least one a positive weight")
        return None
    if not values:
        problems.add(keys, "no values: give at least one value with a weight")
        return None
    return Categorical(tuple(values), tuple(weights))


def _numeric(
    table: dict[str, Any], keys: list[str], problems: _Problems, whole: bool
) -> Numeric | None:
    kinds = [k for k in table if k in DISTRIBUTIONS]
    _unknown(table, DISTRIBUTIONS | {"min", "max"}, keys, problems)
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
        a = _number(spec, [*keys, kind], problems)
        b = 0.0
    else:
        if not (isinstance(spec, list) and len(spec) == 2):
            problems.add([*keys, kind], "expected two numbers, e.g. [6.5, 1.0]")
            return None
        a = _number(spec[0], [*keys, kind], problems)
        b = _number(spec[1], [*keys, kind], problems)
        if kind in ("lognormal", "normal") and b < 0:
            problems.add([*keys, kind], "the spread must not be negative")
        if kind == "uniform" and a > b:
            problems.add([*keys, kind], "the low bound is above the high bound")
    low = _number(table["min"], [*keys, "min"], problems) if "min" in table else None
    high = _number(table["max"], [*keys, "max"], problems) if "max" in table else None
    return Numeric(kind, a, b, low, high, whole)


def _distribution(
    value: Any, keys: list[str], problems: _Problems, field_type: Any | None
) -> Distribution | None:
    kind = field_type.kind if field_type is not None else None
    if kind in ("int", "number"):
        if not isinstance(value, dict):
            problems.add(keys, "expected a distribution table such as { lognormal = [6.5, 1.0] }")
            return None
        return _numeric(value, keys, problems, whole=kind == "int")
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
                (member, _number(p, [*keys, member], problems, 0.0, 1.0, "a probability"))
            )
        return SetField(tuple(members))
    if not isinstance(value, dict):
        problems.add(keys, "expected a table of value = weight")
        return None
    allowed = field_type.members if field_type is not None and kind == "enum" else None
    what = "the enum" if allowed is not None else "the field"
    categorical = _weights(value, keys, problems, allowed, what)
    if categorical is not None and kind == "bool":
        converted = []
        for v in categorical.values:
            if v not in ("true", "false"):
                problems.add([*keys, v], "a bool field's values are `true` and `false`")
            converted.append(v == "true")
        categorical = Categorical(tuple(converted), categorical.weights)
    return categorical


def _build(
    raw: dict[str, Any], problems: _Problems, name: str, model: CheckedPolicy | None
) -> Scenario | None:
    _unknown(raw, _TOP, [], problems)
    head = _table(raw, "scenario", [], problems)
    _unknown(
        head, {"name", "policy", "start", "days", "seed", "description"}, ["scenario"], problems
    )
    start = head.get("start")
    if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
        problems.add(["scenario", "start"], "expected a date such as 2026-09-01")
        start = dt.date(2026, 1, 1)
    days = int(
        _number(head.get("days"), ["scenario", "days"], problems, 1, 3650, "a number of days")
    )
    seed = head.get("seed", 1)
    if not isinstance(seed, int) or isinstance(seed, bool):
        problems.add(["scenario", "seed"], "expected a whole number")
        seed = 1
    arrivals = _table(raw, "arrivals", [], problems)
    _unknown(arrivals, {"per_day", "weekday_shape"}, ["arrivals"], problems)
    per_day = _number(arrivals.get("per_day"), ["arrivals", "per_day"], problems, 0.0)
    shape = arrivals.get("weekday_shape", [1.0] * 7)
    if not (isinstance(shape, list) and len(shape) == 7):
        problems.add(["arrivals", "weekday_shape"], "expected seven numbers, Monday first")
        shape = [1.0] * 7
    shape = [_number(v, ["arrivals", "weekday_shape"], problems, 0.0) for v in shape]
    states_raw = _table(raw, "states", [], problems)
    states: list[tuple[str, float | Numeric]] = []
    unaware = 14.0
    for state, mean in states_raw.items():
        if isinstance(mean, dict) and state != "unaware":
            spread = _numeric(mean, ["states", state], problems, whole=False)
            if spread is not None:
                states.append((state, spread))
            continue
        value = _number(mean, ["states", state], problems, 0.0, what="a mean duration in days")
        if state == "unaware":
            unaware = value
        else:
            states.append((state, value))
    if not states:
        problems.add(
            ["states"],
            "list the buying states in order with their mean days, e.g. researching = 14",
        )
    known_states = {"unaware", "dormant", *(s for s, _ in states)}
    event_types = tuple(model.events) if model is not None else None
    event_fields: dict[str, dict[str, Distribution]] = {}
    for event, table in _table(raw, "event_fields", [], problems, required=False).items():
        keys = ["event_fields", event]
        if event_types is not None and event not in event_types:
            close = did_you_mean(event, event_types)
            problems.add(keys, "unknown event type" + (f"; {close}" if close else ""))
            continue
        if not isinstance(table, dict):
            problems.add(keys, "expected a table of field = distribution")
            continue
        fields = {}
        for field_name, spec in table.items():
            info = model.events[event].fields.get(field_name) if model is not None else None
            if model is not None and info is None:
                problems.add([*keys, field_name], f"event `{event}` has no field `{field_name}`")
                continue
            distribution = _distribution(
                spec, [*keys, field_name], problems, info.type if info else None
            )
            if distribution is not None:
                fields[field_name] = distribution
        event_fields[event] = fields
    personas = []
    for persona_name, table in _table(raw, "personas", [], problems).items():
        keys = ["personas", persona_name]
        if not isinstance(table, dict):
            problems.add(keys, "expected a table")
            continue
        _unknown(
            table,
            {
                "weight",
                "buyer_rate",
                "non_buyers_evaluate",
                "profile",
                "missing",
                "events",
                "description",
                "on_arrival",
            },
            keys,
            problems,
        )
        weight = _number(table.get("weight"), [*keys, "weight"], problems, 0.0, what="a weight")
        buyer_rate = _number(
            table.get("buyer_rate", 0.0), [*keys, "buyer_rate"], problems, 0.0, 1.0, "a probability"
        )
        evaluate = _number(
            table.get("non_buyers_evaluate", 0.0),
            [*keys, "non_buyers_evaluate"],
            problems,
            0.0,
            1.0,
            "a probability",
        )
        profile: dict[str, Distribution] = {}
        for field_name, spec in _table(table, "profile", keys, problems).items():
            info = model.fields.get(field_name) if model is not None else None
            if model is not None and info is None:
                close = did_you_mean(field_name, list(model.fields))
                problems.add(
                    [*keys, "profile", field_name],
                    "unknown lead field" + (f"; {close}" if close else ""),
                )
                continue
            distribution = _distribution(
                spec, [*keys, "profile", field_name], problems, info.type if info else None
            )
            if distribution is not None:
                profile[field_name] = distribution
        missing = {}
        for field_name, p in _table(table, "missing", keys, problems, required=False).items():
            missing[field_name] = _number(
                p, [*keys, "missing", field_name], problems, 0.0, 1.0, "a probability"
            )
        rates: dict[str, dict[str, float]] = {}
        for state, events in _table(table, "events", keys, problems).items():
            if state not in known_states:
                problems.add(
                    [*keys, "events", state],
                    f"unknown state; the states are {', '.join(sorted(known_states))}",
                )
                continue
            if not isinstance(events, dict):
                problems.add(
                    [*keys, "events", state], "expected a table of event type = events per day"
                )
                continue
            rates[state] = {}
            for event, rate in events.items():
                if event_types is not None and event not in event_types:
                    close = did_you_mean(event, event_types)
                    problems.add(
                        [*keys, "events", state, event],
                        "unknown event type" + (f"; {close}" if close else ""),
                    )
                    continue
                rates[state][event] = _number(
                    rate, [*keys, "events", state, event], problems, 0.0, what="events per day"
                )
        arrival_events = table.get("on_arrival", [])
        if not isinstance(arrival_events, list):
            problems.add([*keys, "on_arrival"], "expected a list of event types")
            arrival_events = []
        for event in arrival_events:
            if event_types is not None and event not in event_types:
                close = did_you_mean(str(event), event_types)
                problems.add(
                    [*keys, "on_arrival"],
                    f"unknown event type `{event}`" + (f"; {close}" if close else ""),
                )
        personas.append(
            Persona(
                persona_name,
                weight,
                buyer_rate,
                profile,
                missing,
                rates,
                tuple(str(e) for e in arrival_events),
                evaluate,
            )
        )
    if personas and sum(p.weight for p in personas) <= 0:
        problems.add(["personas"], "the persona weights sum to zero")
    if not personas:
        problems.add(["personas"], "describe at least one persona")
    sales_raw = _table(raw, "sales", [], problems)
    _unknown(
        sales_raw,
        {
            "sdr_capacity_per_day",
            "queues",
            "working_hours",
            "working_days",
            "sql_rate",
            "sql_half_life_hours",
            "non_buyer_sql_rate",
        },
        ["sales"],
        problems,
    )
    hours = sales_raw.get("working_hours", [9, 17])
    if not (
        isinstance(hours, list)
        and len(hours) == 2
        and all(isinstance(h, int | float) for h in hours)
        and 0 <= hours[0] < hours[1] <= 24
    ):
        problems.add(["sales", "working_hours"], "expected [start, end] hours, e.g. [9, 17]")
        hours = [9, 17]
    working = sales_raw.get("working_days", WEEKDAYS[:5])
    days_index = []
    for day in working if isinstance(working, list) else []:
        if day not in WEEKDAYS:
            problems.add(
                ["sales", "working_days"], f"`{day}` is not a weekday ({', '.join(WEEKDAYS)})"
            )
        else:
            days_index.append(WEEKDAYS.index(day))
    queues = {}
    for queue, table in _table(sales_raw, "queues", ["sales"], problems, required=False).items():
        if model is not None and queue not in model.queues:
            problems.add(
                ["sales", "queues", queue], f"no route of the policy uses the queue `{queue}`"
            )
        capacity: Any = table.get("capacity_per_day") if isinstance(table, dict) else None
        queues[queue] = _number(
            capacity, ["sales", "queues", queue, "capacity_per_day"], problems, 0.0
        )
    sales = Sales(
        capacity_per_day=_number(
            sales_raw.get("sdr_capacity_per_day"), ["sales", "sdr_capacity_per_day"], problems, 0.0
        ),
        queue_capacity=queues,
        working_hours=(float(hours[0]), float(hours[1])),
        working_days=tuple(sorted(days_index)) or (0, 1, 2, 3, 4),
        sql_rate=_number(
            sales_raw.get("sql_rate", 0.6),
            ["sales", "sql_rate"],
            problems,
            0.0,
            1.0,
            "a probability",
        ),
        half_life_hours=_number(
            sales_raw.get("sql_half_life_hours", 48),
            ["sales", "sql_half_life_hours"],
            problems,
            0.001,
        ),
        non_buyer_sql_rate=_number(
            sales_raw.get("non_buyer_sql_rate", 0.02),
            ["sales", "non_buyer_sql_rate"],
            problems,
            0.0,
            1.0,
            "a probability",
        ),
    )
    periods = _periods(
        raw.get("periods"), problems, start, days, {p.name: p.weight for p in personas}
    )
    if problems.items:
        return None
    return Scenario(
        path=name,
        name=str(head.get("name", Path(name).stem)),
        start=start,
        days=days,
        seed=seed,
        per_day=per_day,
        weekday_shape=tuple(shape),
        states=tuple(states),
        unaware_days=unaware,
        personas=tuple(personas),
        event_fields=event_fields,
        sales=sales,
        raw=raw,
        periods=periods,
    )


_PERIOD_KEYS = {"from", "per_day", "weights", "buyer_rates", "description"}


def _periods(
    value: Any, problems: _Problems, start: dt.date, days: int, personas: dict[str, float]
) -> tuple[Period, ...]:
    """The `[[periods]]` array: each from a date (in time order, inside the
    scenario's period) until the next."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        problems.add(
            ["periods"], "expected an array of tables: [[periods]] with from = 2017-06-14, ..."
        )
        return ()
    end = start + dt.timedelta(days=days)
    periods: list[Period] = []
    for number, table in enumerate(value, start=1):
        keys = ["periods", str(number)]
        _unknown(table, _PERIOD_KEYS, keys, problems)
        begin = table.get("from")
        if not isinstance(begin, dt.date) or isinstance(begin, dt.datetime):
            problems.add([*keys, "from"], "expected the date the period starts, e.g. 2017-06-14")
            continue
        if not start <= begin < end:
            problems.add(
                [*keys, "from"],
                f"{begin} is outside the scenario's period ({start} to {end}, exclusive)",
            )
        if periods and begin <= periods[-1].start:
            problems.add(
                [*keys, "from"],
                f"{begin} is not after the previous period's start ({periods[-1].start}); "
                "list the periods in time order",
            )
        per_day = table.get("per_day")
        rate = None if per_day is None else _number(per_day, [*keys, "per_day"], problems, 0.0)
        overrides: list[dict[str, float]] = []
        for key, high, what in (
            ("weights", None, "a weight"),
            ("buyer_rates", 1.0, "a probability"),
        ):
            found: dict[str, float] = {}
            for persona, number_value in _table(table, key, keys, problems, False).items():
                if persona not in personas:
                    close = did_you_mean(persona, list(personas))
                    names = ", ".join(personas)
                    hint = f"; {close}" if close else f"; the personas are {names}"
                    problems.add([*keys, key, persona], f"unknown persona{hint}")
                    continue
                found[persona] = _number(
                    number_value, [*keys, key, persona], problems, 0.0, high, what
                )
            overrides.append(found)
        if periods:  # what a period does not set carries over from the one before
            previous = periods[-1]
            rate = previous.per_day if rate is None else rate
            overrides = [previous.weights | overrides[0], previous.buyer_rates | overrides[1]]
        if personas and sum(overrides[0].get(n, w) for n, w in personas.items()) <= 0:
            problems.add([*keys, "weights"], "the persona weights sum to zero in this period")
        periods.append(Period(begin, rate, overrides[0], overrides[1]))
    return tuple(periods)
