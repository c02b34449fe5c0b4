"""Checking calendars and business SLAs (SPEC §8.1).

A calendar needs a known IANA time zone, hours that end after they start and known day names,
each written once; holidays are optional. A `business` SLA needs a calendar: the unnamed one,
or the one its `of NAME` names. The checked calendars go into the model as
:class:`CalendarInfo`; the engine's :mod:`mqldsl.engine.calendars` counts working time in them.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic, error
from mqldsl.language.notation import clock
from mqldsl.language.source import Span
from mqldsl.language.suggestions import closest, did_you_mean

__all__ = [
    "DAY_NAMES",
    "IDLE_LIMIT_DAYS",
    "CalendarInfo",
    "check_business_sla",
    "check_calendars",
]

#: The day names of `days`, Monday first (Python's ``weekday()`` is the index).
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: A calendar with no working day in this many consecutive dates (its holidays cover every
#: listed day for ten years) has no working time to count an SLA in: E334.
IDLE_LIMIT_DAYS = 3660

_FULL_NAMES = {
    "monday": "mon",
    "tuesday": "tue",
    "tues": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "thur": "thu",
    "thurs": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
_SETTING_WORDS = {
    ast.CalendarTimezone: "timezone",
    ast.CalendarHours: "hours",
    ast.CalendarDays: "days",
    ast.CalendarHolidays: "holidays",
}
_EXAMPLE = {
    "timezone": '`timezone "America/New_York"`',
    "hours": "`hours 09:00 to 17:30`",
    "days": "`days mon to fri`",
}


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    """A checked calendar: ``opens``/``closes`` in minutes after local midnight, ``weekdays``
    with Monday = 0."""

    name: str | None
    zone: str
    opens: int
    closes: int
    weekdays: frozenset[int]
    holidays: tuple[dt.date, ...]
    node: ast.Calendar

    @property
    def title(self) -> str:
        return f"calendar `{self.name}`" if self.name is not None else "the unnamed calendar"

    @property
    def hours_text(self) -> str:
        return f"{clock(self.opens)} to {clock(self.closes)}"


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _known_zone(name: str) -> bool:
    if name in _zones():
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _where(first: Span, here: Span) -> str:
    return f"on line {first.line}" if first.file == here.file else f"at {first.file}:{first.line}"


def check_calendars(
    calendars: Sequence[ast.Calendar],
) -> tuple[dict[str | None, CalendarInfo], list[Diagnostic]]:
    """The policy's calendars by name (None: the unnamed one) and the problems found."""
    found: list[Diagnostic] = []
    checked: dict[str | None, CalendarInfo] = {}
    first: dict[str | None, ast.Calendar] = {}
    for calendar in calendars:
        if calendar.name in first:
            earlier = _where(first[calendar.name].span, calendar.span)
            if calendar.name is None:
                found.append(
                    error(
                        "E213",
                        "the unnamed `calendar` is declared twice",
                        calendar.span,
                        f"the first is {earlier}; a policy has at most one unnamed calendar: "
                        "name the other (`calendar emea { ... }`) and use it with "
                        "`sla ... business hours of emea`",
                    )
                )
            else:
                found.append(
                    error(
                        "E208",
                        f"calendar `{calendar.name}` is declared twice",
                        calendar.span,
                        f"the first is {earlier}; rename or remove one",
                    )
                )
            continue
        first[calendar.name] = calendar
        info = _check_calendar(calendar, found)
        if info is not None:
            checked[calendar.name] = info
    return checked, found


def _check_calendar(calendar: ast.Calendar, found: list[Diagnostic]) -> CalendarInfo | None:
    title = f"calendar `{calendar.name}`" if calendar.name is not None else "the calendar"
    seen: dict[type, ast.CalendarSetting] = {}
    ok = True
    for setting in calendar.settings:
        word = _SETTING_WORDS[type(setting)]
        if type(setting) in seen:
            ok = False
            found.append(
                error(
                    "E333",
                    f"{title} sets `{word}` twice",
                    setting.span,
                    f"the first is on line {seen[type(setting)].span.line}; keep one",
                )
            )
        else:
            seen[type(setting)] = setting
    for kind, word in _SETTING_WORDS.items():
        if kind not in seen and word != "holidays":
            ok = False
            found.append(
                error(
                    "E333",
                    f"{title} has no `{word}`",
                    calendar.span,
                    f"add {_EXAMPLE[word]} to it",
                )
            )
    zone = calendar.setting(ast.CalendarTimezone)
    if zone is not None and not _known_zone(zone.zone):
        ok = False
        guess = next((z for z in _zones() if z.lower() == zone.zone.lower()), None) or closest(
            zone.zone, _zones()
        )
        found.append(
            error(
                "E330",
                f'unknown time zone "{zone.zone}"',
                zone.span,
                (f'did you mean "{guess}"? ' if guess else "")
                + 'write an IANA time zone name such as "America/New_York" or "Europe/Berlin"',
            )
        )
    hours = calendar.setting(ast.CalendarHours)
    if hours is not None and hours.closes <= hours.opens:
        ok = False
        how = "ends before it starts" if hours.closes < hours.opens else "is no time at all"
        found.append(
            error(
                "E331",
                f"`hours {clock(hours.opens)} to {clock(hours.closes)}` {how}",
                hours.span,
                "working hours run within one day, e.g. `hours 09:00 to 17:30`; "
                "write 24:00 for midnight at the end of the day",
            )
        )
    days = calendar.setting(ast.CalendarDays)
    weekdays: set[int] = set()
    if days is not None:
        spans = days.day_spans if len(days.day_spans) == len(days.days) else None
        for number, name in enumerate(days.days):
            if name not in DAY_NAMES:
                ok = False
                short = _FULL_NAMES.get(name) or closest(name, DAY_NAMES)
                found.append(
                    error(
                        "E332",
                        f"unknown day `{name}`",
                        days.span if spans is None else spans[number],
                        (f"did you mean `{short}`? " if short else "")
                        + "the days are mon, tue, wed, thu, fri, sat, sun",
                    )
                )
        if ok:
            indexes = [DAY_NAMES.index(name) for name in days.days]
            if days.through:
                first, last = indexes
                weekdays = {(first + step) % 7 for step in range((last - first) % 7 + 1)}
            else:
                weekdays = set(indexes)
    holidays = calendar.setting(ast.CalendarHolidays)
    dates = tuple(sorted(set(holidays.dates))) if holidays is not None else ()
    if not ok or zone is None or hours is None:
        return None
    if _longest_idle(frozenset(weekdays), dates) > IDLE_LIMIT_DAYS:
        found.append(
            error(
                "E334",
                f"{title} has no working day for more than {IDLE_LIMIT_DAYS} days in a row",
                holidays.span if holidays is not None else calendar.span,
                "its holidays cover every working day for ten years: no business SLA could "
                "ever end; check the holidays",
            )
        )
        return None
    return CalendarInfo(
        name=calendar.name,
        zone=zone.zone,
        opens=hours.opens,
        closes=hours.closes,
        weekdays=frozenset(weekdays),
        holidays=dates,
        node=calendar,
    )


def _longest_idle(weekdays: frozenset[int], holidays: tuple[dt.date, ...]) -> int:
    """The longest run of consecutive dates without a working day. Away from the holidays
    every listed weekday works, so only the dates within a week of a holiday are walked."""
    if not holidays:
        return 7 - len(weekdays)
    off = set(holidays)
    longest = run = 0
    index = 0  # the next holiday not yet passed
    week = dt.timedelta(days=7)
    day = holidays[0] - week if holidays[0] > dt.date.min + week else dt.date.min
    end = holidays[-1] + week if holidays[-1] < dt.date.max - week else dt.date.max
    while True:
        if day.weekday() in weekdays and day not in off:
            run = 0
            while index < len(holidays) and holidays[index] < day:
                index += 1
            if index < len(holidays) and holidays[index] - day > week:
                day = holidays[index] - week  # a working day in every week of the gap
                continue
        else:
            run += 1
            longest = max(longest, run)
        if day >= end:
            return longest
        day += dt.timedelta(days=1)


def check_business_sla(
    sla: ast.BusinessSla, calendars: dict[str | None, ast.Calendar]
) -> list[Diagnostic]:
    """E230/E231: the calendar a `business` SLA counts in must exist (``calendars``: every
    calendar declared, by name)."""
    if sla.amount <= 0:
        return [error("E314", "a duration must be positive", sla.span, "e.g. `4 business hours`")]
    if sla.calendar is None:
        if None in calendars:
            return []
        named = sorted(name for name in calendars if name is not None)
        hint = (
            f"name one: `sla {sla.text()} of {named[0]}`, or declare an unnamed "
            "`calendar { ... }`"
            if named
            else 'declare one: `calendar { timezone "America/New_York" ... }` (SPEC §8.1)'
        )
        return [
            error(
                "E231",
                f"`sla {sla.text()}` counts business time but the policy has no unnamed calendar",
                sla.span,
                hint,
            )
        ]
    if sla.calendar in calendars:
        return []
    named = [name for name in calendars if name is not None]
    return [
        error(
            "E230",
            f"unknown calendar `{sla.calendar}`",
            sla.span,
            did_you_mean(sla.calendar, named)
            or (
                f"the calendars are {', '.join(sorted(named))}"
                if named
                else f"declare it: `calendar {sla.calendar} {{ ... }}` (SPEC §8.1)"
            ),
        )
    ]
