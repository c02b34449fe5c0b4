"""The sales replay of docs/scenarios.md ("The sales replay") written out for the tests that
check mqldsl's figures against it (tests/test_scenario_calibration.py,
tests/test_report_breakdowns.py), from the journeys and the policy's decisions alone: none of
mqldsl.simulation is used.

- Every handoff of a lead's timeline asks for a touch; at one instant the last one stands.
- Each queue touches at its evenly spaced working-hour slots, first come first served (in
  time order, then by lead id); a slot goes unused when no request waits for it.
- A touch answers every request of the same lead in the same queue made at or before it:
  that request takes no slot of its own.
- A lead whose MQL handoff is accepted at its touch makes, from that instant on, the requests
  the policy gives it with the acceptance (``accept``); the ones already replayed stay.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

HOUR = 3600.0

Request = tuple[float, str]  # (instant, queue)


def standing(handoffs: Iterable[tuple[float, str]]) -> list[Request]:
    """One request per instant, in time order: of the handoffs (instant, queue) given in
    timeline order, the last of each instant."""
    last: dict[float, str] = {}
    for at, queue in handoffs:
        last[at] = queue
    return sorted(last.items())


def slots(capacity: int, sales: dict[str, Any], start: dt.date, as_of: float) -> list[float]:
    """The touches one queue can make: ``capacity`` a working day, evenly spaced over the
    working hours, from ``start`` up to the as-of instant."""
    opening, closing = sales.get("working_hours", [9, 17])
    days = sales.get("working_days", ["mon", "tue", "wed", "thu", "fri"])
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    found: list[float] = []
    day = start
    while dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() <= as_of:
        if names[day.weekday()] in days and capacity > 0:
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
            spacing = (closing - opening) * HOUR / capacity
            found.extend(midnight + opening * HOUR + k * spacing for k in range(capacity))
        day += dt.timedelta(days=1)
    return [t for t in found if t <= as_of]


def sql_chance(sales: dict[str, Any], truth: dict[str, Any], handoff: float, touch: float) -> float:
    """The chance that sales accepts an MQL handoff touched at ``touch``: a buyer touched
    before its window closes sql_rate * 0.5^(delay / half-life), a non-buyer
    non_buyer_sql_rate."""
    if not truth.get("buyer"):
        return float(sales["non_buyer_sql_rate"])
    closes = truth.get("window_closes")
    if closes is not None and touch > dt.datetime.fromisoformat(closes).timestamp():
        return 0.0
    decay = 0.5 ** ((touch - handoff) / HOUR / sales["sql_half_life_hours"])
    return float(sales["sql_rate"]) * decay


def accepted(seed: int, lead_id: str, chance: float) -> bool:
    """The replay's draw for a lead (seeded per lead: docs/scenarios.md)."""
    return random.Random(f"{seed}/{lead_id}").random() < chance


@dataclass
class Touched:
    lead: str
    at: float
    queue: str
    touch: float | None
    mql: bool  # the lead's MQL handoff (its touch decides its SQL outcome)


def replay(
    requests: dict[str, list[Request]],
    mql: dict[str, float],
    capacity: Callable[[str], list[float]],
    accept: Callable[[str, float, float], Sequence[Request] | None] | None = None,
) -> list[Touched]:
    """Every request replayed, with its touch (None: no slot left by the as-of instant).
    ``requests``: each lead's requests; ``mql``: the instant of each MQL lead's MQL handoff
    (one of its requests); ``capacity(queue)``: the queue's slots; ``accept(lead, handoff,
    touch)``: the lead's requests once accepted at ``touch``, or None when not accepted."""
    heap: list[tuple[float, str, int, str, bool]] = []
    waiting: dict[str, dict[int, float]] = {}  # lead -> serial -> instant, not yet replayed
    serial = 0

    def push(lead: str, at: float, queue: str, is_mql: bool) -> None:
        nonlocal serial
        heapq.heappush(heap, (at, lead, serial, queue, is_mql))
        waiting.setdefault(lead, {})[serial] = at
        serial += 1

    for lead, made in requests.items():
        for at, queue in made:
            push(lead, at, queue, mql.get(lead) == at)
    free: dict[str, list[float]] = {}
    position: dict[str, int] = {}
    latest: dict[tuple[str, str], float] = {}
    out: list[Touched] = []
    while heap:
        at, lead, number, queue, is_mql = heapq.heappop(heap)
        if number not in waiting[lead]:
            continue  # no longer made: the lead was accepted before it
        del waiting[lead][number]
        touch: float | None
        if (lead, queue) in latest and at <= latest[(lead, queue)]:
            touch = latest[(lead, queue)]
        else:
            if queue not in free:
                free[queue], position[queue] = capacity(queue), 0
            i = position[queue]
            while i < len(free[queue]) and free[queue][i] < at:
                i += 1
            touch = free[queue][i] if i < len(free[queue]) else None
            position[queue] = i + (touch is not None)
            if touch is not None:
                latest[(lead, queue)] = touch
        out.append(Touched(lead, at, queue, touch, is_mql))
        if not is_mql or touch is None or accept is None:
            continue
        after = accept(lead, at, touch)
        if after is None:
            continue
        for other, when in list(waiting[lead].items()):
            if when >= touch:
                del waiting[lead][other]
        done = {(t.at, t.queue) for t in out if t.lead == lead}
        for when, where in after:
            if when >= touch and (when, where) not in done:
                push(lead, when, where, False)
    return out
