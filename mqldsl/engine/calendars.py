"""Business-hours arithmetic (SPEC §8.1): when a handoff with a `business` SLA is due.

One module, used by everything that computes a due time: the compiled evaluator and the
reference interpreter (through :func:`route_due`), the SQL back end (after its query, from the
handoff instant it returns) and the simulator (SLA compliance). Instants are seconds since the
epoch in UTC, as everywhere in the engine.

The reading of §8.1 implemented here:

- A working day is a date (in the calendar's zone) whose weekday is listed and that is not a
  holiday. Its working time runs from the wall-clock opening to the wall-clock closing of that
  date in the zone, converted to UTC with ``zoneinfo``. On a daylight-saving change the hours
  stay wall-clock hours: 09:00 to 17:30 is 8.5 hours on the day the clocks change too (the
  change happens at night). Only hours that contain the change itself (say 00:00 to 08:00 on
  a zone that changes at 02:00) are an hour shorter or longer that day, because that much real
  time passes between the opening and the closing. A wall-clock time that does not exist that
  day (in the hour skipped in spring) is read with the offset before the change, as Python's
  ``zoneinfo`` does with ``fold=0``.
- A business minute/hour is real elapsed working time; a business day is the length of one
  working day as written (17:30 - 09:00 = 8.5 hours), whatever the day it falls on.
- The clock runs only inside working time: a handoff outside it starts at the next opening.
  A deadline that uses up a day's working time exactly is that day's closing time.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from mqldsl.analysis.calendars import IDLE_LIMIT_DAYS, CalendarInfo
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.runtime import LAST_INSTANT, due_time, from_seconds, to_seconds
from mqldsl.language import ast

__all__ = [
    "IDLE_LIMIT_DAYS",
    "CalendarError",
    "Deadline",
    "WorkingCalendar",
    "business_seconds",
    "route_deadlines",
    "route_due",
    "working_calendars",
]

_LAST_DATE = dt.date(9999, 12, 30)
_FIRST_DATE = dt.date(1, 1, 2)


class CalendarError(ValueError):
    """A calendar that has no working time left to count an SLA in: no working day for
    IDLE_LIMIT_DAYS dates in a row (every working day a holiday for years). The search for a
    due time stops with it rather than run on. The checker refuses such a calendar before
    anything is evaluated (E334), so this is a guard, not a rule a user meets."""


@dataclass(frozen=True, eq=False)
class WorkingCalendar:
    """A calendar's working time: ``opens``/``closes`` in minutes after local midnight
    (``closes`` may be 1440, midnight at the end of the day), ``weekdays`` with Monday = 0."""

    name: str | None
    zone_name: str
    opens: int
    closes: int
    weekdays: frozenset[int]
    holidays: frozenset[dt.date]
    zone: ZoneInfo = field(init=False, repr=False)
    _spans: dict[dt.date, tuple[float, float] | None] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if not 0 <= self.opens < self.closes <= 1440 or not self.weekdays:
            raise CalendarError(f"calendar `{self.name or 'the unnamed one'}` has no working time")
        object.__setattr__(self, "zone", ZoneInfo(self.zone_name))

    @property
    def day_seconds(self) -> int:
        """One business day: the working day's length as written (SPEC §8.1)."""
        return (self.closes - self.opens) * 60

    def working_span(self, date: dt.date) -> tuple[float, float] | None:
        """The working time of ``date`` (a date in the calendar's zone) in UTC seconds, or
        None when it is not a working day."""
        try:
            return self._spans[date]
        except KeyError:
            pass
        span: tuple[float, float] | None = None
        if date.weekday() in self.weekdays and date not in self.holidays:
            midnight = dt.datetime.combine(date, dt.time(), tzinfo=self.zone)
            # Aware datetime + timedelta is wall-clock arithmetic: 17:30 stays 17:30 on a
            # daylight-saving day; the conversion to UTC applies that instant's offset.
            try:
                opening = to_seconds(midnight + dt.timedelta(minutes=self.opens))
                closing = to_seconds(midnight + dt.timedelta(minutes=self.closes))
            except OverflowError:  # the first or last day of the supported calendar
                opening = closing = 0.0
            span = (opening, closing) if closing > opening else None
        if len(self._spans) > 50_000:
            self._spans.clear()
        self._spans[date] = span
        return span

    def local_date(self, instant: float) -> dt.date:
        """The date in the calendar's zone at ``instant``."""
        moment = from_seconds(instant)
        if moment.date() >= _LAST_DATE or moment.date() <= _FIRST_DATE:
            return moment.date()  # the zone's date would leave the supported calendar
        return moment.astimezone(self.zone).date()

    def add(self, start: float, seconds: float) -> float:
        """The instant at which ``seconds`` of working time have passed since ``start``
        (UTC seconds); clamped to :data:`LAST_INSTANT` like every due time."""
        remaining = seconds
        date = self.local_date(start)
        if date > dt.date.min:
            date -= dt.timedelta(days=1)  # its working time may still run at ``start``
        idle = 0
        while date < _LAST_DATE:
            span = self.working_span(date)
            date += dt.timedelta(days=1)
            if span is None or span[1] <= start:
                idle += 1
                if idle > IDLE_LIMIT_DAYS:
                    raise CalendarError(
                        f"calendar `{self.name or 'the unnamed one'}` has no working time in the "
                        f"{IDLE_LIMIT_DAYS} days after {from_seconds(start).date().isoformat()}: "
                        "check its days and holidays"
                    )
                continue
            idle = 0
            begin = max(span[0], start)
            available = span[1] - begin
            if remaining <= available:
                return min(begin + remaining, LAST_INSTANT)
            remaining -= available
        return LAST_INSTANT


def business_seconds(amount: float, unit: str, calendar: WorkingCalendar) -> float:
    """The working time of ``amount`` business ``unit``s in seconds (a business day is
    :attr:`WorkingCalendar.day_seconds`)."""
    if unit == "day":
        return float(amount) * calendar.day_seconds
    return float(amount) * {"minute": 60, "hour": 3600}[unit]


def route_due(entered: float, seconds: float, calendar: WorkingCalendar | None) -> float:
    """When a handoff at ``entered`` with an SLA of ``seconds`` is due: plain elapsed time
    without a calendar, working time of ``calendar`` with one."""
    if calendar is None:
        return due_time(entered, seconds)
    return calendar.add(entered, seconds)


def working_calendars(model: CheckedPolicy) -> dict[str | None, WorkingCalendar]:
    """The policy's calendars, ready to count working time in (None: the unnamed one)."""
    return {name: _working(info) for name, info in model.calendars.items()}


def _working(info: CalendarInfo) -> WorkingCalendar:
    return WorkingCalendar(
        name=info.name,
        zone_name=info.zone,
        opens=info.opens,
        closes=info.closes,
        weekdays=info.weekdays,
        holidays=frozenset(info.holidays),
    )


@dataclass(frozen=True, slots=True)
class Deadline:
    """A route's SLA: its text in decisions (``4 hours``, ``4 business hours``), its length in
    seconds (working seconds for a business SLA) and the calendar it counts in."""

    text: str
    seconds: float
    calendar: WorkingCalendar | None

    def due(self, entered: float) -> float:
        """When a handoff made at ``entered`` is due."""
        return route_due(entered, self.seconds, self.calendar)


# route_deadlines per checked policy: the simulator asks once per lead, and a calendar's
# cache of working days is worth keeping across leads. Keyed by identity, with a weak
# reference to tell a new policy that reuses a freed one's id.
_DEADLINES: dict[int, tuple[weakref.ref[CheckedPolicy], tuple[Deadline | None, ...]]] = {}


def route_deadlines(model: CheckedPolicy) -> tuple[Deadline | None, ...]:
    """Each route's SLA (None: the route has none), in the order of ``model.routes``. The
    routes that count in one calendar share one :class:`WorkingCalendar` (and its cache)."""
    cached = _DEADLINES.get(id(model))
    if cached is not None and cached[0]() is model:
        return cached[1]
    if len(_DEADLINES) > 64:
        _DEADLINES.clear()
    deadlines = _route_deadlines(model)
    _DEADLINES[id(model)] = (weakref.ref(model), deadlines)
    return deadlines


def _route_deadlines(model: CheckedPolicy) -> tuple[Deadline | None, ...]:
    calendars = working_calendars(model)
    deadlines: list[Deadline | None] = []
    for route in model.routes:
        sla = route.sla
        if sla is None:
            deadlines.append(None)
        elif isinstance(sla, ast.BusinessSla):
            calendar = calendars[sla.calendar]
            seconds = business_seconds(sla.amount, sla.unit, calendar)
            deadlines.append(Deadline(sla.text(), seconds, calendar))
        else:
            deadlines.append(Deadline(sla.text(), sla.seconds, None))
    return tuple(deadlines)
