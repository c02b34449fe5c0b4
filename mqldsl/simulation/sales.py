"""The sales replay of a scenario (SPEC §14): first touches from each
queue's capacity in working hours, and SQL outcomes that fall as the first
touch is delayed. An accepted lead is then moved into the policy's SQL
stage by the policy itself: the replay records the acceptance as the event
that the SQL stage's condition names (:func:`acceptance_event`), at the
first touch (:mod:`mqldsl.simulation.run`)."""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.runtime import to_seconds
from mqldsl.language import ast
from mqldsl.simulation.records import LeadRecord, TouchRequest
from mqldsl.simulation.scenario import Sales

HOUR = 3600.0


#: What the replay asks when it accepts a lead (:func:`replay_sales`): given the record's
#: position and the instant of its first touch, every request for a touch the lead makes
#: (in time order) when the policy decides it with the acceptance recorded at that touch;
#: None when the policy cannot record an acceptance.
Accept = Callable[[int, float], Sequence[TouchRequest] | None]


def replay_sales(
    records: list[LeadRecord],
    sales: Sales,
    start: float,
    as_of: float,
    seed: int,
    accept: Accept | None = None,
    sdr: frozenset[str] | None = None,
) -> tuple[list[LeadRecord], dict[str, float]]:
    """First touches from each queue's capacity in working hours (first come,
    first served), and SQL outcomes that fall as the first touch is delayed.
    Every handoff asks for a touch (SPEC §8): a lead's MQL handoff, whose touch
    decides its SQL outcome, and each of its other handoffs (``requests``).

    A touch answers every request of the same lead in the same queue made at or before it
    and still open: such a request is touched then, without a slot of its own (one call
    answers both a re-entry and a demo request that wait in one queue). Requests are
    replayed in time order; when ``accept`` is given, a lead accepted at its first touch is
    decided again with the acceptance (``accept``), and its requests from that instant on
    are the ones it then makes (entering the SQL stage hands it to the SQL stage's queue;
    an MQL re-entry after it is no longer made).

    The counts returned (``slots``, ``touches``: the SDR utilisation) are those of the
    ``sdr`` queues (None: every queue): the SDRs', not the SQL stage's account executives,
    whose idle capacity would hide an overloaded SDR queue."""
    waiting: list[_Request] = []  # every request, by number; the MQL handoffs' too
    mine: list[list[int]] = [[] for _ in records]  # each record's further requests
    heap: list[tuple[float, str, int]] = []  # (instant, lead id, request number)

    def ask(index: int, request: TouchRequest, mql: bool = False) -> None:
        number = len(waiting)
        waiting.append(_Request(index, request, mql))
        if not mql:
            mine[index].append(number)
        heapq.heappush(heap, (request.at, records[index].id, number))

    for index, record in enumerate(records):
        if record.handoff is not None and record.queue is not None:
            ask(index, TouchRequest(record.handoff, record.queue, record.sla), mql=True)
        for request in record.requests:
            ask(index, request)
    updated = list(records)
    slots: dict[str, _Slots] = {}
    answering: dict[tuple[str, int], float] = {}  # (queue, record index) -> latest touch
    touches = 0
    while heap:
        at, _, number = heapq.heappop(heap)
        item = waiting[number]
        if not item.live:
            continue  # a request the lead no longer made once accepted
        index, queue = item.index, item.request.queue
        item.done = True
        latest = answering.get((queue, index))
        if latest is not None and at <= latest:
            item.touch = latest  # answered by the touch it waited with
        else:
            if queue not in slots:
                capacity = sales.queue_capacity.get(queue, sales.capacity_per_day)
                slots[queue] = _Slots(capacity, sales, start, as_of)
            item.touch = slots[queue].take(at)
            if item.touch is not None:
                touches += sdr is None or queue in sdr
                answering[(queue, index)] = item.touch
        if not item.mql or item.touch is None:
            continue
        touch = item.touch
        record = updated[index]
        sql = _sql(record, touch, sales, seed)
        updated[index] = replace(record, touch=touch, sql=sql)
        renewed = accept(index, touch) if sql and accept is not None else None
        if renewed is None:
            continue
        # Before the touch the lead's requests are unchanged (the acceptance changes only
        # its future); from the touch on, it makes those the policy now gives it.
        # (The MQL handoff and those replayed already, at the touch's instant, stay.)
        replayed = {(item.request.at, queue)}
        for other in mine[index]:
            if waiting[other].done:
                replayed.add((waiting[other].request.at, waiting[other].request.queue))
            elif waiting[other].request.at >= touch:
                waiting[other].live = False
        for request in renewed:
            if request.at >= touch and (request.at, request.queue) not in replayed:
                ask(index, request)
    for index, record in enumerate(updated):
        kept = [waiting[n] for n in mine[index] if waiting[n].live]
        if not kept and not record.requests:
            continue  # (most leads: nothing to change)
        kept.sort(key=lambda item: item.request.at)
        updated[index] = replace(
            record, requests=tuple(replace(item.request, touch=item.touch) for item in kept)
        )
    total = sum(s.count() for queue, s in slots.items() if sdr is None or queue in sdr)
    return updated, {"slots": float(total), "touches": float(touches)}


@dataclass
class _Request:
    """One request for a touch in the replay: its record's position, whether it is the
    record's MQL handoff, whether the lead still makes it (``live``; False once an
    acceptance changed the lead's future), whether it was replayed, and its touch."""

    index: int
    request: TouchRequest
    mql: bool
    live: bool = True
    done: bool = False
    touch: float | None = None


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


__all__ = ["HOUR", "Accept", "acceptance_event", "replay_sales"]
