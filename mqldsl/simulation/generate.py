"""Synthetic journeys from a scenario: arrivals, personas, a latent buying
state per lead with per-state event rates, and the ground truth. The same
scenario and seed always give the same journeys, byte for byte."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import operator
import random
from bisect import bisect_right as _bisect
from collections.abc import Iterator
from typing import Any

from mqldsl.engine.runtime import DAY, format_instant, to_seconds
from mqldsl.io.errors import UsageProblem
from mqldsl.io.problems import Problem
from mqldsl.simulation.scenario import (
    MAX_CONTACTS,
    MAX_DAYS,
    MAX_ESTIMATED_EVENTS,
    MAX_EVENTS,
    MAX_LEADS,
    Accounts,
    Persona,
    Scenario,
    ScenarioError,
    last_start,
)
from mqldsl.simulation.scenario_fields import (
    MAX_VALUE,
    Categorical,
    Distribution,
    Numeric,
    SetField,
)

# The last instant a journey may name (a buying window that would close later closes here).
_LAST = to_seconds(dt.datetime.combine(dt.date.max, dt.time(23, 59, 59), tzinfo=dt.UTC))


def _index(rng: random.Random, cumulative: list[float]) -> int:
    """``rng.choices(range(len(weights)), weights)[0]`` for ``cumulative`` the running sums
    of ``weights``: the same draw and the same index (Python's own steps, without summing the
    weights again at every draw; tests/test_simulate_overlap.py compares both)."""
    total = cumulative[-1] + 0.0
    if not 0.0 < total < math.inf:  # (a scenario refuses such weights) random's own error
        return rng.choices(range(len(cumulative)), cum_weights=cumulative)[0]
    return _bisect(cumulative, rng.random() * total, 0, len(cumulative) - 1)


def _sample(rng: random.Random, distribution: Distribution) -> Any:
    if isinstance(distribution, Categorical):
        if distribution.pick is None:  # random's own error
            return rng.choices(distribution.values, distribution.weights)[0]
        values, cumulative, total, last = distribution.pick  # rng.choices' steps
        return values[_bisect(cumulative, rng.random() * total, 0, last)]
    if isinstance(distribution, SetField):
        return [member for member, p in distribution.members if rng.random() < p]
    value: float
    if distribution.kind == "lognormal":
        value = rng.lognormvariate(distribution.a, distribution.b)
    elif distribution.kind == "normal":
        value = rng.gauss(distribution.a, distribution.b)
    elif distribution.kind == "uniform":
        value = rng.uniform(distribution.a, distribution.b)
    else:
        value = distribution.a
    if distribution.low is not None:
        value = max(value, distribution.low)
    if distribution.high is not None:
        value = min(value, distribution.high)
    value = min(max(value, -MAX_VALUE), MAX_VALUE)  # a lognormal's far tail stays a number
    return round(value) if distribution.whole else round(value, 2)


def _poisson_times(
    rng: random.Random, rate_per_day: float, start: float, end: float
) -> Iterator[float]:
    if rate_per_day <= 0 or end <= start:
        return
    t = start
    while True:
        t += rng.expovariate(rate_per_day / DAY)
        if t >= end:
            return
        yield t


def _rate(scenario: Scenario, day: dt.date) -> float:
    """New leads expected on ``day``: the period's (or the scenario's) rate a
    day times the weekday's multiplier."""
    period = scenario.period_at(day)
    per_day = period.per_day if period is not None and period.per_day is not None else None
    base = scenario.per_day if per_day is None else per_day
    return base * scenario.weekday_shape[day.weekday()]


def _arrivals(rng: random.Random, scenario: Scenario, leads: int | None, days: int) -> list[float]:
    start = to_seconds(dt.datetime.combine(scenario.start, dt.time(), tzinfo=dt.UTC))
    rates = [_rate(scenario, scenario.start + dt.timedelta(days=d)) for d in range(days)]
    if leads is not None:
        # (a scenario whose rate is 0 where --leads asks for leads: the weekday shape alone)
        shape = scenario.weekday_shape
        weekdays = [shape[(scenario.start + dt.timedelta(days=d)).weekday()] for d in range(days)]
        weights = rates if sum(rates) > 0 else weekdays if sum(weekdays) > 0 else [1.0] * days
        chosen = rng.choices(range(days), weights, k=leads)
        return sorted(start + day * DAY + rng.random() * DAY for day in chosen)
    times: list[float] = []
    for day, rate in enumerate(rates):
        times.extend(_poisson_times(rng, rate, start + day * DAY, start + (day + 1) * DAY))
    return times


def _mix(scenario: Scenario, day: dt.date) -> tuple[list[float], list[float]]:
    """The persona weights in force on ``day`` (their running sums, for :func:`_index`) and
    the buyer rates."""
    period = scenario.period_at(day)
    weights = period.weights if period is not None else {}
    rates = period.buyer_rates if period is not None else {}
    return (
        list(itertools.accumulate(weights.get(p.name, p.weight) for p in scenario.personas)),
        [rates.get(p.name, p.buyer_rate) for p in scenario.personas],
    )


def estimate(scenario: Scenario, leads: int | None = None, days: int | None = None) -> float:
    """An upper estimate of the events a run generates: the leads (``leads``, or the
    arrivals the scenario expects in ``days``), each with the events of its persona's busiest
    state for the whole period, plus its arrival events. Persona weights that periods change
    do not matter: the busiest persona counts for every lead."""
    period = days if days is not None else scenario.days
    arrivals = float(leads) if leads is not None else _expected_leads(scenario, period)
    per_lead = max(
        (
            max((sum(r.values()) for r in p.rates.values()), default=0.0) * period
            + len(p.on_arrival)
            for p in scenario.personas
        ),
        default=0.0,
    )
    return arrivals * per_lead


def _expected_leads(scenario: Scenario, days: int) -> float:
    """The leads the scenario expects in ``days``: its arrivals, each an account's worth
    of contacts with `[accounts]`."""
    arrivals = sum(_rate(scenario, scenario.start + dt.timedelta(days=d)) for d in range(days))
    if scenario.accounts is not None:
        return arrivals * mean_contacts(scenario.accounts)
    return arrivals


def check_work(scenario: Scenario, leads: int | None = None, days: int | None = None) -> None:
    """Refuse, before any work starts, a run that would not end: ``leads`` above
    :data:`MAX_LEADS` or ``days`` above :data:`MAX_DAYS` or past the calendar
    (:class:`UsageProblem`), a scenario expecting more than :data:`MAX_LEADS` leads or an
    estimated :func:`estimate` above :data:`MAX_ESTIMATED_EVENTS` events (:class:`ScenarioError`,
    E809; the events really generated are held to :data:`MAX_EVENTS` by :func:`generate`)."""
    if leads is not None and not 1 <= leads <= MAX_LEADS:
        raise UsageProblem(f"{leads}: give between 1 and {MAX_LEADS:,} leads", "--leads")
    if days is not None:
        if not 1 <= days <= MAX_DAYS:
            raise UsageProblem(f"{days}: give between 1 and {MAX_DAYS} days", "--days")
        if last_start(days) < scenario.start:
            raise UsageProblem(
                f"{days} days from {scenario.start} run past the last day of the calendar "
                f"({dt.date.max}); at most {(dt.date.max - scenario.start).days} days",
                "--days",
            )
    period = days if days is not None else scenario.days
    if leads is None and (expected := _expected_leads(scenario, period)) > MAX_LEADS:
        raise _too_much(
            scenario,
            f"the scenario expects {expected:,.0f} leads in {period} days; "
            f"at most {MAX_LEADS:,} a run",
            "lower `per_day` (or `weekday_shape`), or give --leads or --days",
        )
    if (events := estimate(scenario, leads, days)) > MAX_ESTIMATED_EVENTS:
        raise _too_much(
            scenario,
            f"this run could generate about {events:,.0f} events (leads x the busiest "
            f"persona's event rates x {period} days); at most {MAX_ESTIMATED_EVENTS:,} "
            "estimated a run",
            "lower --leads or --days, or the event rates a day of the busiest persona",
        )


def _too_much(scenario: Scenario, message: str, hint: str) -> ScenarioError:
    problem = Problem(scenario.path, 0, message, "E809", hint=hint)
    return ScenarioError(
        [problem.render(), f"{scenario.path}: nothing was generated (a hard limit)"]
    )


def generate(
    scenario: Scenario,
    seed: int | None = None,
    leads: int | None = None,
    days: int | None = None,
    *,
    seconds: bool = False,
) -> Iterator[dict[str, Any]]:
    """Journeys in the SPEC §12 shape, with `truth`. Checked by :func:`check_work` first: a
    scenario past its limits is refused by it, before anything is generated. With
    ``seconds``, each event is the generator's ``(at, type, fields)`` tuple, its instant in
    whole seconds (a float) instead of text (the same journeys otherwise: the simulator's
    leads, :mod:`mqldsl.simulation.generated`). A scenario with `[accounts]` generates accounts
    (:func:`_generate_accounts`). The events really generated are counted: past
    :data:`MAX_EVENTS`, :class:`ScenarioError` (E809) stops the run."""
    check_work(scenario, leads, days)
    return _counted(scenario, _journeys(scenario, seed, leads, days, seconds))


def _counted(scenario: Scenario, journeys: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``journeys``, stopped by E809 when their events pass :data:`MAX_EVENTS`."""
    total = 0
    for journey in journeys:
        total += len(journey["events"])
        if total > MAX_EVENTS:
            raise _too_much(
                scenario,
                f"this run passed {MAX_EVENTS:,} events at its journey {journey['id']}; "
                f"at most {MAX_EVENTS:,} a run",
                "lower --leads or --days, or the event rates",
            )
        yield journey


def _journeys(
    scenario: Scenario, seed: int | None, leads: int | None, days: int | None, seconds: bool
) -> Iterator[dict[str, Any]]:
    rng = random.Random(scenario.seed if seed is None else seed)
    period = days if days is not None else scenario.days
    start = to_seconds(dt.datetime.combine(scenario.start, dt.time(), tzinfo=dt.UTC))
    end = start + period * DAY
    plans = _plans(scenario)
    if scenario.accounts is not None:
        yield from _generate_accounts(scenario, rng, leads, period, end, seconds, plans)
        return
    personas = scenario.personas
    mixes: dict[dt.date, tuple[list[float], list[float]]] = {}
    for number, arrival in enumerate(_arrivals(rng, scenario, leads, period)):
        day = dt.datetime.fromtimestamp(arrival, dt.UTC).date()
        if day not in mixes:
            mixes[day] = _mix(scenario, day)
        weights, buyer_rates = mixes[day]
        index = _index(rng, weights)
        persona: Persona = personas[index]
        buyer = rng.random() < buyer_rates[index]
        # non-buyers who evaluate anyway go through the buying states, never buy
        evaluates = buyer or (
            persona.non_buyers_evaluate > 0 and rng.random() < persona.non_buyers_evaluate
        )
        profile = _draw(rng, persona.profile, persona.missing)
        periods, window_closes = _buying_states(rng, scenario, arrival, evaluates, buyer)
        events = _events(rng, scenario, persona, periods, arrival, end, plans)
        yield _journey(
            f"S-{number + 1:07d}", profile, events, arrival, buyer, persona, window_closes, seconds
        )


State = tuple[str, float, float]  # a latent buying state, from, to


def _buying_states(
    rng: random.Random, scenario: Scenario, arrival: float, evaluates: bool, buyer: bool
) -> tuple[list[State], float | None]:
    """The latent buying journey from ``arrival`` (state, from, to), and when a buyer's
    buying window closes (None for a non-buyer)."""
    periods: list[State] = []
    window_closes = None
    if evaluates:
        t = (
            arrival + rng.expovariate(1.0 / max(scenario.unaware_days, 1e-9)) * DAY
            if scenario.unaware_days > 0
            else arrival
        )
        periods.append(("unaware", arrival, t))
        for state, spread in scenario.states:
            if isinstance(spread, Numeric):
                length = max(float(_sample(rng, spread)), 0.0) * DAY
            else:
                length = rng.expovariate(1.0 / spread) * DAY if spread > 0 else 0.0
            periods.append((state, t, t + length))
            t += length
        window_closes = t if buyer else None
        periods.append(("dormant", t, math.inf))
    else:
        periods.append(("dormant", arrival, math.inf))
    return periods, window_closes


# An event type's fields drawn from one categorical distribution: every fields dict it can
# have (made once, shared by its events: an event's fields are never changed) and the draw
# (Categorical.pick).
_Plan = tuple[tuple[dict[str, Any], ...], list[float], float, int]
_NO_FIELDS: dict[str, Any] = {}  # shared by the events without fields: never changed


def _plans(scenario: Scenario) -> dict[str, _Plan]:
    """The event types whose fields come from one categorical distribution, each with its
    :data:`_Plan` (the others draw with :func:`_draw`)."""
    plans: dict[str, _Plan] = {}
    for event, distributions in scenario.event_fields.items():
        if len(distributions) != 1:
            continue
        [(name, distribution)] = distributions.items()
        if isinstance(distribution, Categorical) and distribution.pick is not None:
            values, cumulative, total, last = distribution.pick
            plans[event] = (tuple({name: value} for value in values), cumulative, total, last)
    return plans


def _events(
    rng: random.Random,
    scenario: Scenario,
    persona: Persona,
    periods: list[State],
    arrival: float,
    end: float,
    plans: dict[str, _Plan],
) -> list[tuple[float, str, dict[str, Any]]]:
    """A lead's events: its persona's arrival events, then each state's events at its
    persona's rates from the lead's arrival to the end of the period; by time, then type.
    ``plans``: :func:`_plans` of the scenario."""
    events: list[tuple[float, str, dict[str, Any]]] = []
    for event in persona.on_arrival:
        events.append((arrival, event, _draw(rng, scenario.event_fields.get(event))))
    random_number = rng.random
    for state, begin, finish in periods:
        rates = persona.rates.get(state)
        if not rates:
            continue
        low, high = max(begin, arrival), min(finish, end)
        for event, rate in rates.items():
            if rate <= 0 or high <= low:
                continue
            # _poisson_times inlined (the same draws: rng.expovariate's own formula)
            step = rate / DAY
            samplers = scenario.event_fields.get(event)
            plan = plans.get(event)
            t = low
            while True:
                t += -_log(1.0 - random_number()) / step
                if t >= high:
                    break
                if plan is not None:  # _draw of its one categorical field, the dict shared
                    shared, cumulative, total, last = plan
                    fields = shared[_bisect(cumulative, random_number() * total, 0, last)]
                else:
                    fields = _draw(rng, samplers) if samplers else _NO_FIELDS
                events.append((t, event, fields))
    events.sort(key=_TIME_THEN_TYPE)
    return events


def _draw(
    rng: random.Random,
    distributions: dict[str, Distribution] | None,
    missing: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A value of each distribution, in order (:func:`_sample`; a categorical draw written
    out: it is most of them). With ``missing`` (a profile), a field is first drawn missing
    with its chance there (a draw for every field, even at no chance)."""
    drawn: dict[str, Any] = {}
    if distributions:
        for name, distribution in distributions.items():
            if missing is not None and rng.random() < missing.get(name, 0.0):
                continue
            if isinstance(distribution, Categorical) and distribution.pick is not None:
                values, cumulative, total, last = distribution.pick  # _sample's, in place
                drawn[name] = values[_bisect(cumulative, rng.random() * total, 0, last)]
            else:
                drawn[name] = _sample(rng, distribution)
    return drawn


_TIME_THEN_TYPE = operator.itemgetter(0, 1)
_log = math.log


def _journey(
    lead_id: str,
    profile: dict[str, Any],
    events: list[tuple[float, str, dict[str, Any]]],
    arrival: float,
    buyer: bool,
    persona: Persona,
    window_closes: float | None,
    seconds: bool,
    account: tuple[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One journey line (SPEC §12); with an ``account`` (its id and fields), the line
    carries `account` and `account_profile` in the order of the journey keys."""
    # The lead's arrival is when it became known (SPEC §14.1: a backtest
    # as of an earlier instant does not count it, events or not).
    truth: dict[str, Any] = {
        "created_at": format_instant(float(int(arrival))),
        "buyer": buyer,
        "persona": persona.name,
    }
    if window_closes is not None:
        truth["window_closes"] = format_instant(float(int(min(window_closes, _LAST))))
    journey: dict[str, Any] = {"id": lead_id}
    if account is not None:
        journey["account"] = account[0]
    journey["profile"] = profile
    if account is not None:
        journey["account_profile"] = account[1]
    if seconds:  # the generator's values: (instant in whole seconds, type, fields)
        journey["events"] = [(float(int(at)), kind, fields) for at, kind, fields in events]
    else:
        journey["events"] = [
            {"type": kind, "at": format_instant(float(int(at))), **fields}
            for at, kind, fields in events
        ]
    journey["truth"] = truth
    return journey


def _contacts(rng: random.Random, accounts: Accounts) -> int:
    """How many contacts one account has: at least 1, at most MAX_CONTACTS."""
    return int(min(max(_sample(rng, accounts.contacts), 1), MAX_CONTACTS))


def mean_contacts(accounts: Accounts) -> float:
    """The mean contacts an account has, estimated from 2,000 seeded draws (for the
    work estimate of :func:`estimate`; generation does not use it)."""
    rng = random.Random(0)
    return sum(_contacts(rng, accounts) for _ in range(2000)) / 2000


def _generate_accounts(
    scenario: Scenario,
    rng: random.Random,
    leads: int | None,
    period: int,
    end: float,
    seconds: bool,
    plans: dict[str, _Plan],
) -> Iterator[dict[str, Any]]:
    """The journeys of a scenario with `[accounts]` (SPEC §9, §14): each arrival is an
    account. The account's first contact's persona (drawn by the day's weights) decides,
    by its buyer rate, whether the account buys (and, by `non_buyers_evaluate`, whether a
    non-buying account evaluates anyway); the account draws one latent buying journey
    from that arrival, which every contact shares, so a buyer account's contacts are all
    buyers and their researching and evaluating states overlap in time. The other contacts
    arrive `join_days` after the first (at the latest, the period's last second), each with
    a persona drawn by the same weights, its own profile, and its own persona's event rates
    in the account's states. Accounts come out in arrival order, each account's contacts
    together in arrival order; leads are numbered S-0000001... in that order, accounts
    A-000001... With ``leads``, accounts are drawn until there are that many contacts (the
    last account cut short), then their arrivals."""
    accounts = scenario.accounts
    assert accounts is not None
    personas = scenario.personas
    if leads is not None:
        sizes: list[int] = []
        while sum(sizes) < leads:
            sizes.append(min(_contacts(rng, accounts), leads - sum(sizes)))
        arrivals = _arrivals(rng, scenario, len(sizes), period)
    else:
        arrivals = _arrivals(rng, scenario, None, period)
        sizes = []
    mixes: dict[dt.date, tuple[list[float], list[float]]] = {}
    number = 0
    for account_number, arrival in enumerate(arrivals):
        size = sizes[account_number] if leads is not None else _contacts(rng, accounts)
        day = dt.datetime.fromtimestamp(arrival, dt.UTC).date()
        if day not in mixes:
            mixes[day] = _mix(scenario, day)
        weights, buyer_rates = mixes[day]
        index = _index(rng, weights)
        buyer = rng.random() < buyer_rates[index]
        evaluates = buyer or (
            personas[index].non_buyers_evaluate > 0
            and rng.random() < personas[index].non_buyers_evaluate
        )
        account_profile = _draw(rng, accounts.profile, accounts.missing)
        periods, window_closes = _buying_states(rng, scenario, arrival, evaluates, buyer)
        joined = [arrival]
        for _ in range(size - 1):
            delay = max(float(_sample(rng, accounts.join_days)), 0.0) * DAY
            joined.append(min(arrival + delay, end - 1))
        joined.sort()
        account = (f"A-{account_number + 1:06d}", account_profile)
        for contact, at in enumerate(joined):
            if contact:
                index = _index(rng, weights)
            persona = personas[index]
            profile = _draw(rng, persona.profile, persona.missing)
            events = _events(rng, scenario, persona, periods, at, end, plans)
            number += 1
            yield _journey(
                f"S-{number:07d}",
                profile,
                events,
                at,
                buyer,
                persona,
                window_closes,
                seconds,
                account,
            )
