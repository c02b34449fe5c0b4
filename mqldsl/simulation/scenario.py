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
from mqldsl.io.problems import Problem
from mqldsl.language.suggestions import did_you_mean
from mqldsl.simulation.scenario_fields import (
    MAX_WEIGHT,
    Distribution,
    Numeric,
    Problems,
    read_capacity,
    read_distribution,
    read_number,
    read_numeric,
    read_table,
    unknown_keys,
)

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# Hard limits on a scenario's numbers (docs/scenarios.md "Limits"): beyond them a scenario
# describes no real funnel, and generating it would not end.
MAX_PER_DAY = 1e6  # arrivals a day, event rates a day, sales capacities a day
MAX_DAYS = 3650  # days of a scenario (and `--days`), mean days in a buying state
MAX_LEADS = 10_000_000  # leads one run generates (`--leads`, or the period's arrivals)
MAX_EVENTS = 50_000_000  # events one run may generate, counted as they are
# An upper estimate of the events a run could generate (its leads, each at the busiest
# persona's rates for the whole period), checked before anything is generated.
MAX_ESTIMATED_EVENTS = 200_000_000


class ScenarioError(ValueError):
    """All problems found in a scenario, as `file:line: key: message` lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


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
class Accounts:
    """The `[accounts]` table (SPEC §9, §14): leads come in accounts. Each arrival is an
    account's first contact; ``contacts`` is how many contacts an account has (whole, at
    least 1, at most :data:`MAX_CONTACTS`), ``join_days`` how many days after the first each
    other contact arrives; ``profile`` and ``missing`` are the account fields' distributions
    and the chance each is missing. The contacts of an account share its latent buying state
    (a buying group researches together); each has its own persona."""

    contacts: Numeric
    join_days: Numeric
    profile: dict[str, Distribution]
    missing: dict[str, float]


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
    accounts: Accounts | None = None  # leads in accounts (`[accounts]`), or one by one

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


_TOP = {
    "scenario",
    "arrivals",
    "sales",
    "states",
    "personas",
    "event_fields",
    "periods",
    "accounts",
}
MAX_CONTACTS = 1000  # contacts one generated account may have (`[accounts] contacts`)


def load_scenario(path: str | Path, model: CheckedPolicy | None = None) -> Scenario:
    """The scenario file at ``path``, validated (against ``model`` if given);
    :class:`ScenarioError` with every problem found."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError) as exc:
        raise unreadable(name, exc) from None
    return scenario_from_toml(name, text, parse_toml(name, text), model)


def unreadable(name: str, exc: Exception) -> ScenarioError:
    """The problem of a scenario file that cannot be read (E800)."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    line = column = 0
    hint = None
    if isinstance(exc, UnicodeDecodeError):
        before = exc.object[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        reason = f"not UTF-8 text (byte {exc.start}: 0x{exc.object[exc.start]:02x})"
        hint = "save the scenario as UTF-8 TOML"
    problem = Problem(name, line, f"cannot read the scenario: {reason}", "E800", column, hint)
    return ScenarioError([problem.render()])


def parse_toml(name: str, text: str) -> dict[str, Any]:
    """The TOML of a scenario; :class:`ScenarioError` (E801) at the line and column where
    tomllib stopped reading (the end of the file for `at end of document`)."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        problem = Problem(
            name, 1, "invalid TOML: values nested too deeply to read", "E801", 0,
            "a scenario needs tables and lists a few levels deep, not hundreds",
        )  # fmt: skip
        raise ScenarioError([problem.render()]) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line, column = 1, 0
        match = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        if match:
            line, column = int(match.group(1)), int(match.group(2))
            message = message[: match.start()] + message[match.end() :]
        elif "(at end of document)" in message:
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
            message = message.replace(" (at end of document)", "") + " at the end of the file"
        problem = Problem(
            name,
            line,
            f"invalid TOML: {message}",
            "E801",
            column,
            "see https://toml.io: tables are [name], values are key = value",
        )
        raise ScenarioError([problem.render()]) from None


def scenario_from_toml(
    name: str, text: str, raw: dict[str, Any], model: CheckedPolicy | None = None
) -> Scenario:
    """:func:`load_scenario` for a file already read: its ``text`` (for the
    line numbers of problems) and the TOML parsed from it."""
    problems = Problems(name, text)
    if not raw:
        problem = Problem(
            name,
            0,
            "the scenario is empty",
            "E808",
            hint="start from simulations/acme.toml; docs/scenarios.md describes every table",
        )
        raise ScenarioError([problem.render()])
    scenario = _build(raw, problems, name, model)
    if problems.items or scenario is None:
        raise ScenarioError(problems.items)
    return scenario


def head_problems(name: str, text: str, raw: dict[str, Any]) -> list[str]:
    """The problems of a scenario's top level alone (unknown tables, the `[scenario]` table
    missing or not a table): what to say of a file whose `[scenario]` table, which names
    its policy, cannot be read (the rest is checked against the policy)."""
    problems = Problems(name, text)
    unknown_keys(raw, _TOP, [], problems)
    read_table(raw, "scenario", [], problems)
    return problems.items


def _build(
    raw: dict[str, Any], problems: Problems, name: str, model: CheckedPolicy | None
) -> Scenario | None:
    unknown_keys(raw, _TOP, [], problems)
    head = read_table(raw, "scenario", [], problems)
    unknown_keys(
        head, {"name", "policy", "start", "days", "seed", "description"}, ["scenario"], problems
    )
    for text_key in ("name", "description"):
        if text_key in head and not isinstance(head[text_key], str):
            problems.add(["scenario", text_key], f"expected text, got {head[text_key]!r}")
    start = head.get("start")
    if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
        problems.add(["scenario", "start"], "expected a date such as 2026-09-01")
        start = dt.date(2026, 1, 1)
    days_value = read_number(
        head.get("days"), ["scenario", "days"], problems, 1, MAX_DAYS, "a number of days"
    )
    if not float(days_value).is_integer():
        problems.add(["scenario", "days"], f"expected a whole number of days, got {days_value}")
    days = int(days_value)
    if (last := last_start(days)) < start:
        problems.add(
            ["scenario", "start"],
            f"{days} days from {start} run past the last day of the calendar "
            f"({dt.date.max}); the last possible start is {last}",
            "E807",
        )
        start = last
    seed = head.get("seed", 1)
    if not isinstance(seed, int) or isinstance(seed, bool):
        problems.add(["scenario", "seed"], "expected a whole number")
        seed = 1
    arrivals = read_table(raw, "arrivals", [], problems)
    unknown_keys(arrivals, {"per_day", "weekday_shape"}, ["arrivals"], problems)
    per_day = read_number(
        arrivals.get("per_day"), ["arrivals", "per_day"], problems, 0.0, MAX_PER_DAY
    )
    shape = arrivals.get("weekday_shape", [1.0] * 7)
    if not (isinstance(shape, list) and len(shape) == 7):
        problems.add(["arrivals", "weekday_shape"], "expected seven numbers, Monday first")
        shape = [1.0] * 7
    found = len(problems.items)
    shape = [read_number(v, ["arrivals", "weekday_shape"], problems, 0.0) for v in shape]
    if not any(shape) and len(problems.items) == found:  # (not after a refused weight)
        problems.add(
            ["arrivals", "weekday_shape"],
            "every weekday's weight is 0, so no lead could arrive on any day: give at least "
            "one day a weight above 0",
            "E804",
        )
        shape = [1.0] * 7
    states_raw = read_table(raw, "states", [], problems)
    states: list[tuple[str, float | Numeric]] = []
    unaware = 14.0
    for state, mean in states_raw.items():
        if isinstance(mean, dict) and state != "unaware":
            spread = read_numeric(mean, ["states", state], problems, whole=False)
            if spread is not None:
                for bound, key in ((spread.low, "min"), (spread.high, "max")):
                    if bound is not None and bound < 0:  # (it lasted 0 days, without a word)
                        problems.add(["states", state, key], "a state lasts 0 days or more", "E804")
                states.append((state, spread))
            continue
        value = read_number(
            mean, ["states", state], problems, 0.0, MAX_DAYS, "a mean duration in days"
        )
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
    for event, table in read_table(raw, "event_fields", [], problems, required=False).items():
        keys = ["event_fields", event]
        if event_types is not None and event not in event_types:
            close = did_you_mean(event, event_types)
            problems.add(keys, "unknown event type" + (f"; {close}" if close else ""), "E806")
            continue
        if not isinstance(table, dict):
            problems.add(keys, "expected a table of field = distribution")
            continue
        fields = {}
        for field_name, spec in table.items():
            info = model.events[event].fields.get(field_name) if model is not None else None
            if model is not None and info is None:
                known = list(model.events[event].fields)
                close = did_you_mean(field_name, known)
                problems.add(
                    [*keys, field_name],
                    f"event `{event}` has no field `{field_name}`"
                    + (f"; {close}" if close else f" (its fields: {', '.join(known) or 'none'})"),
                    "E806",
                )
                continue
            distribution = read_distribution(
                spec, [*keys, field_name], problems, info.type if info else None
            )
            if distribution is not None:
                fields[field_name] = distribution
        event_fields[event] = fields
    personas = []
    for persona_name, table in read_table(raw, "personas", [], problems).items():
        keys = ["personas", persona_name]
        if not isinstance(table, dict):
            problems.add(keys, "expected a table")
            continue
        unknown_keys(
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
        weight = read_number(
            table.get("weight"), [*keys, "weight"], problems, 0.0, MAX_WEIGHT, "a weight"
        )
        buyer_rate = read_number(
            table.get("buyer_rate", 0.0), [*keys, "buyer_rate"], problems, 0.0, 1.0, "a probability"
        )
        evaluate = read_number(
            table.get("non_buyers_evaluate", 0.0),
            [*keys, "non_buyers_evaluate"],
            problems,
            0.0,
            1.0,
            "a probability",
        )
        profile: dict[str, Distribution] = {}
        for field_name, spec in read_table(table, "profile", keys, problems).items():
            info = model.fields.get(field_name) if model is not None else None
            if model is not None and info is None:
                close = did_you_mean(field_name, list(model.fields))
                problems.add(
                    [*keys, "profile", field_name],
                    "unknown lead field" + (f"; {close}" if close else ""),
                    "E806",
                )
                continue
            distribution = read_distribution(
                spec, [*keys, "profile", field_name], problems, info.type if info else None
            )
            if distribution is not None:
                profile[field_name] = distribution
        missing = {}
        for field_name, p in read_table(table, "missing", keys, problems, required=False).items():
            if model is not None and field_name not in model.fields:
                close = did_you_mean(field_name, list(model.fields))
                problems.add(
                    [*keys, "missing", field_name],
                    "the policy declares no lead field of this name"
                    + (f"; {close}" if close else ""),
                    "E806",
                )
                continue
            missing[field_name] = read_number(
                p, [*keys, "missing", field_name], problems, 0.0, 1.0, "a probability"
            )
        rates: dict[str, dict[str, float]] = {}
        for state, events in read_table(table, "events", keys, problems).items():
            if state not in known_states:
                problems.add(
                    [*keys, "events", state],
                    f"unknown state; the states are {', '.join(sorted(known_states))}",
                    "E806",
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
                        "E806",
                    )
                    continue
                rates[state][event] = read_number(
                    rate,
                    [*keys, "events", state, event],
                    problems,
                    0.0,
                    MAX_PER_DAY,
                    "events per day",
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
                    "E806",
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
        problems.add(["personas"], "the persona weights sum to zero", "E804")
    if not personas:
        problems.add(["personas"], "describe at least one persona")
    sales_raw = read_table(raw, "sales", [], problems)
    unknown_keys(
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
        what = "expected [start, end] hours, e.g. [9, 17]"
        if (
            isinstance(hours, list)
            and len(hours) == 2
            and all(isinstance(h, int | float) and not isinstance(h, bool) for h in hours)
        ):
            what = (
                "hours run from 0 to 24"
                if not all(0 <= h <= 24 for h in hours)
                else f"the start ({hours[0]:g}) must come before the end ({hours[1]:g})"
            ) + ", e.g. [9, 17]"
        problems.add(["sales", "working_hours"], what)
        hours = [9, 17]
    working = sales_raw.get("working_days", WEEKDAYS[:5])
    if not isinstance(working, list):
        problems.add(
            ["sales", "working_days"],
            f'expected a list of weekdays such as ["mon", "tue"], got {working!r}',
        )
        working = WEEKDAYS[:5]
    elif not working:
        problems.add(["sales", "working_days"], "no working days: list at least one", "E804")
    days_index = []
    for day in working:
        if not isinstance(day, str) or day not in WEEKDAYS:
            problems.add(
                ["sales", "working_days"],
                f"`{day}` is not a weekday ({', '.join(WEEKDAYS)})",
                "E806",
            )
        elif WEEKDAYS.index(day) in days_index:
            problems.add(["sales", "working_days"], f"`{day}` is listed twice", "E806")
        else:
            days_index.append(WEEKDAYS.index(day))
    queues = {}
    for queue, table in read_table(
        sales_raw, "queues", ["sales"], problems, required=False
    ).items():
        if model is not None and queue not in model.queues:
            close = did_you_mean(queue, model.queues)
            problems.add(
                ["sales", "queues", queue],
                f"no route of the policy uses the queue `{queue}`"
                + (f"; {close}" if close else f" (its queues: {', '.join(model.queues)})"),
                "E806",
            )
        if isinstance(table, dict):
            unknown_keys(table, {"capacity_per_day"}, ["sales", "queues", queue], problems)
        capacity: Any = table.get("capacity_per_day") if isinstance(table, dict) else None
        queues[queue] = read_capacity(
            capacity, ["sales", "queues", queue, "capacity_per_day"], problems, MAX_PER_DAY
        )
    sales = Sales(
        capacity_per_day=read_capacity(
            sales_raw.get("sdr_capacity_per_day"),
            ["sales", "sdr_capacity_per_day"],
            problems,
            MAX_PER_DAY,
        ),
        queue_capacity=queues,
        working_hours=(float(hours[0]), float(hours[1])),
        working_days=tuple(sorted(days_index)) or (0, 1, 2, 3, 4),
        sql_rate=read_number(
            sales_raw.get("sql_rate", 0.6),
            ["sales", "sql_rate"],
            problems,
            0.0,
            1.0,
            "a probability",
        ),
        half_life_hours=read_number(
            sales_raw.get("sql_half_life_hours", 48),
            ["sales", "sql_half_life_hours"],
            problems,
            0.001,
        ),
        non_buyer_sql_rate=read_number(
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
    accounts = _accounts(raw.get("accounts"), problems, model)
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
        accounts=accounts,
    )


def _reach(spread: Numeric) -> tuple[float, float]:
    """The smallest and largest values a spread can draw: its `min` and `max`, else its own
    (a constant's value, a uniform's bounds; a lognormal's are 0 and unbounded; a normal's
    lower end is left to the generator's clamp)."""
    if spread.kind == "constant":
        least = most = spread.a
    elif spread.kind == "uniform":
        least, most = min(spread.a, spread.b), max(spread.a, spread.b)
    else:
        least, most = 0.0, math.inf
    return (
        least if spread.low is None else spread.low,
        most if spread.high is None else spread.high,
    )


_ACCOUNT_KEYS = {"contacts", "join_days", "profile", "missing", "description"}


def _accounts(value: Any, problems: Problems, model: CheckedPolicy | None) -> Accounts | None:
    """The `[accounts]` table (None without one): contacts per account, when the others
    join, and the account fields' distributions, checked against the policy's `account`
    block like a persona's profile against its `lead` block."""
    if value is None:
        return None
    keys = ["accounts"]
    if not isinstance(value, dict):
        problems.add(keys, "expected a table: [accounts] with contacts = { ... }")
        return None
    unknown_keys(value, _ACCOUNT_KEYS, keys, problems)
    spreads: list[Numeric] = []
    for key, default, what in (
        ("contacts", None, "contacts per account"),
        ("join_days", {"uniform": [0, 14]}, "days after the first contact"),
    ):
        spec = value.get(key, default)
        if not isinstance(spec, dict):
            problems.add(
                [*keys, key],
                f"expected a distribution of {what}, e.g. {{ uniform = [1, 5] }}"
                if spec is not None
                else f"missing: give the distribution of {what}, e.g. {{ uniform = [1, 5] }}",
            )
            spreads.append(Numeric("constant", 1.0, 0.0))
            continue
        spread = read_numeric(spec, [*keys, key], problems, whole=key == "contacts")
        spreads.append(spread if spread is not None else Numeric("constant", 1.0, 0.0))
    contacts, join = spreads
    if _reach(contacts)[1] < 1:
        problems.add([*keys, "contacts", "max"], "an account has at least one contact", "E804")
    if contacts.high is not None and contacts.high > MAX_CONTACTS:
        problems.add(
            [*keys, "contacts", "max"],
            f"at most {MAX_CONTACTS} contacts an account (a hard limit)",
            "E804",
        )
    if _reach(join)[0] < 0:
        problems.add(
            [*keys, "join_days", "min"], "days after the first contact: at least 0", "E804"
        )
    declared = model.account_fields if model is not None else None
    profile: dict[str, Distribution] = {}
    for name, spec in read_table(value, "profile", keys, problems, required=False).items():
        info = declared.get(name) if declared is not None else None
        if declared is not None and info is None:
            problems.add([*keys, "profile", name], _unknown_account_field(name, declared), "E806")
            continue
        distribution = read_distribution(
            spec, [*keys, "profile", name], problems, info.type if info else None
        )
        if distribution is not None:
            profile[name] = distribution
    missing: dict[str, float] = {}
    for name, p in read_table(value, "missing", keys, problems, required=False).items():
        if declared is not None and name not in declared:
            problems.add([*keys, "missing", name], _unknown_account_field(name, declared), "E806")
            continue
        missing[name] = read_number(
            p, [*keys, "missing", name], problems, 0.0, 1.0, "a probability"
        )
    return Accounts(contacts, join, profile, missing)


def _unknown_account_field(name: str, declared: dict[str, Any]) -> str:
    if not declared:
        return "unknown account field: the policy declares no `account { ... }` fields"
    close = did_you_mean(name, list(declared))
    return "unknown account field" + (f"; {close}" if close else "")


_PERIOD_KEYS = {"from", "per_day", "weights", "buyer_rates", "description"}


def _periods(
    value: Any, problems: Problems, start: dt.date, days: int, personas: dict[str, float]
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
        unknown_keys(table, _PERIOD_KEYS, keys, problems)
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
        rate = (
            None
            if per_day is None
            else read_number(per_day, [*keys, "per_day"], problems, 0.0, MAX_PER_DAY)
        )
        overrides: list[dict[str, float]] = []
        for key, high, what in (
            ("weights", MAX_WEIGHT, "a weight"),
            ("buyer_rates", 1.0, "a probability"),
        ):
            found: dict[str, float] = {}
            for persona, number_value in read_table(table, key, keys, problems, False).items():
                if persona not in personas:
                    close = did_you_mean(persona, list(personas))
                    names = ", ".join(personas)
                    hint = f"; {close}" if close else f"; the personas are {names}"
                    problems.add([*keys, key, persona], f"unknown persona{hint}", "E806")
                    continue
                found[persona] = read_number(
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


def last_start(days: int) -> dt.date:
    """The last start date of a scenario of ``days`` days that ends inside the calendar."""
    return dt.date.max - dt.timedelta(days=max(days, 0))
