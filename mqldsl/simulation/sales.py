"""The sales replay of a scenario (SPEC §14): first touches from each
queue's capacity in working hours, and SQL outcomes that fall as the first
touch is delayed. An accepted lead is then moved into the policy's SQL
stage by the policy itself: the replay records the acceptance as the event
that the SQL stage's condition names (:func:`acceptance_event`), at the
first touch (:mod:`mqldsl.simulation.run`)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.runtime import to_seconds
from mqldsl.language import ast
from mqldsl.simulation.records import LeadRecord
from mqldsl.simulation.scenario import Sales

HOUR = 3600.0


def replay_sales(
    records: list[LeadRecord], sales: Sales, start: float, as_of: float, seed: int
) -> tuple[list[LeadRecord], dict[str, float]]:
    """First touches from each queue's capacity in working hours (first come,
    first served), and SQL outcomes that fall as the first touch is delayed.
    Every handoff asks for a touch (SPEC §8): a lead's MQL handoff, whose touch
    decides its SQL outcome, and each handoff a hot event made (``requests``)."""
    # Per queue: (instant, lead id, which request: -1 the MQL handoff, else its position
    # in the record's requests, record index).
    by_queue: dict[str, list[tuple[float, str, int, int]]] = {}
    for index, record in enumerate(records):
        if record.handoff is not None and record.queue is not None:
            by_queue.setdefault(record.queue, []).append((record.handoff, record.id, -1, index))
        for number, request in enumerate(record.requests):
            by_queue.setdefault(request.queue, []).append((request.at, record.id, number, index))
    updated = list(records)
    touched: dict[int, dict[int, float]] = {}  # record index -> request position -> touch
    slots_total = 0
    touches = 0
    for queue, items in sorted(by_queue.items()):
        capacity = sales.queue_capacity.get(queue, sales.capacity_per_day)
        slots = _Slots(capacity, sales, start, as_of)
        slots_total += slots.count()
        items.sort(key=lambda item: item[:3])
        for at, _, number, index in items:
            touch = slots.take(at)
            if touch is None:
                continue
            touches += 1
            if number < 0:
                record = updated[index]
                updated[index] = replace(record, touch=touch, sql=_sql(record, touch, sales, seed))
            else:
                touched.setdefault(index, {})[number] = touch
    for index, found in touched.items():
        record = updated[index]
        requests = tuple(
            replace(request, touch=found[number]) if number in found else request
            for number, request in enumerate(record.requests)
        )
        updated[index] = replace(record, requests=requests)
    return updated, {"slots": float(slots_total), "touches": float(touches)}


class _Slots:
    """A queue's first-touch slots from ``start`` to ``as_of``: ``per_day`` a working day,
    evenly spaced over the working hours, each taken once, in order. Worked out day by day
    only where a lead takes one (counted in closed form otherwise), so that an as-of years
    after the scenario, or a large capacity, costs no more than the leads do."""

    def __init__(self, capacity: float, sales: Sales, start: float, as_of: float) -> None:
        self.per_day = round(capacity) if capacity > 0 else 0
        self.opening = sales.working_hours[0] * HOUR
        self.spacing = (
            (sales.working_hours[1] - sales.working_hours[0]) * HOUR / max(self.per_day, 1)
        )
        self.working = frozenset(sales.working_days)
        self.first_day = dt.datetime.fromtimestamp(start, dt.UTC).date()
        self.last_day = dt.datetime.fromtimestamp(as_of, dt.UTC).date()
        self.as_of = as_of
        self.day = self.first_day  # the next free slot: slot ``k`` of ``day``
        self.k = 0

    def _base(self, day: dt.date) -> float:
        return to_seconds(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)) + self.opening

    def count(self) -> int:
        """How many slots there are (a slot of a day before the as-of day is before it)."""
        if self.per_day == 0 or self.last_day < self.first_day:
            return 0
        days = (self.last_day - self.first_day).days  # the days before the as-of day
        weeks, rest = divmod(days, 7)
        working = weeks * len(self.working) + sum(
            (self.first_day.weekday() + i) % 7 in self.working for i in range(rest)
        )
        last = 0
        if self.last_day.weekday() in self.working:
            base = self._base(self.last_day)
            last = sum(1 for k in range(self.per_day) if base + k * self.spacing <= self.as_of)
        return working * self.per_day + last

    def take(self, handoff: float) -> float | None:
        """The first free slot at or after ``handoff`` (None: none before the as-of instant);
        the slots before it stay unused, as handoffs come in time order."""
        if self.per_day == 0:
            return None
        handoff_day = dt.datetime.fromtimestamp(handoff, dt.UTC).date()
        if handoff_day > self.day:
            self.day, self.k = handoff_day, 0
        while self.day <= self.last_day:
            if self.day.weekday() in self.working:
                base = self._base(self.day)
                # start just below the slot the arithmetic gives; the loop settles it exactly
                k = max(self.k, int((handoff - base) / self.spacing) - 1)
                while k < self.per_day and base + k * self.spacing < handoff:
                    k += 1
                if k < self.per_day:
                    slot = base + k * self.spacing
                    if slot > self.as_of:
                        return None
                    self.k = k + 1
                    return slot
            if self.day == dt.date.max:
                return None
            self.day, self.k = self.day + dt.timedelta(days=1), 0
        return None


def _sql(record: LeadRecord, touch: float, sales: Sales, seed: int) -> bool:
    assert record.handoff is not None
    draw = random.Random(f"{seed}/{record.id}").random()
    if record.buyer:
        if record.window_closes is not None and touch > record.window_closes:
            return False
        delay = (touch - record.handoff) / HOUR
        return bool(draw < sales.sql_rate * 0.5 ** (delay / sales.half_life_hours))
    return draw < sales.non_buyer_sql_rate


def acceptance_event(model: CheckedPolicy, sql_stage: str | None) -> tuple[str | None, str]:
    """The event that sales' acceptance is recorded as, so that the policy
    moves an accepted lead into its SQL stage: the one event the SQL stage's
    condition asks for (not under `not` or `no`); None when there is no SQL
    stage or its condition names no event or several. Also the sentence the
    report gives for how its SQLs are counted."""
    if sql_stage is None:
        return None, (
            "the policy has no SQL stage, so SQLs are the handoffs the sales replay accepted"
        )
    stage = next(s for s in model.stages.stages if s.name == sql_stage)
    found: set[str] = set()
    if stage.condition is not None:
        negative: set[int] = set()
        for node in ast.walk(stage.condition):
            if isinstance(node, ast.Not | ast.NoEvents):
                negative.update(id(inner) for inner in ast.walk(node))
        for node in ast.walk(stage.condition):
            if id(node) in negative:
                continue
            if isinstance(node, ast.Pattern) and node.event is not None:
                found.add(node.event)
            elif isinstance(node, ast.Name):
                ref = model.refs.get(id(node))
                if ref is not None and ref.kind == "event":
                    found.add(ref.name)
    if len(found) == 1:
        event = found.pop()
        return event, (
            f"each handoff the sales replay accepts gets a `{event}` event at its first touch, "
            f"so the policy moves it into its SQL stage `{sql_stage}`; SQLs are the MQLs that "
            f"reached `{sql_stage}`"
        )
    named = f"names the events {', '.join(sorted(found))}" if found else "names no event"
    return None, (
        f"the SQL stage `{sql_stage}` {named}, so the sales replay cannot record an acceptance "
        f"the policy would act on: SQLs are the handoffs the replay accepted, and the stage "
        f"count of `{sql_stage}` is the policy's own"
    )


__all__ = ["HOUR", "acceptance_event", "replay_sales"]
