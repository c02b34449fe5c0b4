"""Synthetic journeys from a scenario: arrivals, personas, a latent buying
state per lead with per-state event rates, and the ground truth. The same
scenario and seed always give the same journeys, byte for byte."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from typing import Any

from mqldsl.engine.runtime import DAY, format_instant, to_seconds
from mqldsl.simulation.scenario import (
    Categorical,
    Distribution,
    Numeric,
    Persona,
    Scenario,
    SetField,
)


def _sample(rng: random.Random, distribution: Distribution) -> Any:
    if isinstance(distribution, Categorical):
        return rng.choices(distribution.values, distribution.weights)[0]
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


def _arrivals(rng: random.Random, scenario: Scenario, leads: int | None, days: int) -> list[float]:
    start = to_seconds(dt.datetime.combine(scenario.start, dt.time(), tzinfo=dt.UTC))
    if leads is not None:
        weights = [
            scenario.weekday_shape[(scenario.start + dt.timedelta(days=d)).weekday()]
            for d in range(days)
        ]
        if sum(weights) <= 0:
            weights = [1.0] * days
        chosen = rng.choices(range(days), weights, k=leads)
        return sorted(start + day * DAY + rng.random() * DAY for day in chosen)
    times: list[float] = []
    for day in range(days):
        weekday = (scenario.start + dt.timedelta(days=day)).weekday()
        rate = scenario.per_day * scenario.weekday_shape[weekday]
        times.extend(_poisson_times(rng, rate, start + day * DAY, start + (day + 1) * DAY))
    return times


def generate(
    scenario: Scenario, seed: int | None = None, leads: int | None = None, days: int | None = None
) -> Iterator[dict[str, Any]]:
    """Journeys in the SPEC §12 shape, with `truth`."""
    rng = random.Random(scenario.seed if seed is None else seed)
    period = days if days is not None else scenario.days
    start = to_seconds(dt.datetime.combine(scenario.start, dt.time(), tzinfo=dt.UTC))
    end = start + period * DAY
    personas = scenario.personas
    weights = [p.weight for p in personas]
    for number, arrival in enumerate(_arrivals(rng, scenario, leads, period)):
        persona: Persona = rng.choices(personas, weights)[0]
        buyer = rng.random() < persona.buyer_rate
        profile: dict[str, Any] = {}
        for name, distribution in persona.profile.items():
            if rng.random() < persona.missing.get(name, 0.0):
                continue
            profile[name] = _sample(rng, distribution)
        # The latent buying journey: (state, from, to).
        periods: list[tuple[str, float, float]] = []
        window_closes = None
        if buyer:
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
            window_closes = t
            periods.append(("dormant", t, math.inf))
        else:
            periods.append(("dormant", arrival, math.inf))
        events: list[tuple[float, str, dict[str, Any]]] = []
        for event in persona.on_arrival:
            fields = {
                name: _sample(rng, distribution)
                for name, distribution in scenario.event_fields.get(event, {}).items()
            }
            events.append((arrival, event, fields))
        for state, begin, finish in periods:
            rates = persona.rates.get(state, {})
            for event, rate in rates.items():
                for at in _poisson_times(rng, rate, max(begin, arrival), min(finish, end)):
                    fields = {
                        name: _sample(rng, distribution)
                        for name, distribution in scenario.event_fields.get(event, {}).items()
                    }
                    events.append((at, event, fields))
        events.sort(key=lambda item: (item[0], item[1]))
        truth: dict[str, Any] = {"buyer": buyer, "persona": persona.name}
        if window_closes is not None:
            truth["window_closes"] = format_instant(float(int(window_closes)))
        yield {
            "id": f"S-{number + 1:07d}",
            "profile": profile,
            "events": [
                {"type": kind, "at": format_instant(float(int(at))), **fields}
                for at, kind, fields in events
            ],
            "truth": truth,
        }
