"""The nodes of a `calendar` block (SPEC §8.1), re-exported by :mod:`mqldsl.language.ast`
(``ast.Calendar``, ``ast.CalendarHours``, ...): frozen, keyword-only dataclasses like the rest
of the AST, in a module of their own so that the AST module stays readable."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

from mqldsl.language.source import Span

NO_SPAN = Span("<none>", 0, 0, 0, 0)
ItemT = TypeVar("ItemT")


def _span() -> Span:
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    return span


@dataclass(frozen=True, kw_only=True, slots=True)
class CalendarTimezone:
    zone: str  # an IANA name, checked by the checker
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class CalendarHours:
    opens: int  # minutes after local midnight
    closes: int  # minutes after local midnight; 1440 is 24:00
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class CalendarDays:
    """``days mon to fri`` (``through``: the two ends of a run of days, which may wrap past
    Sunday) or ``days mon, wed, fri`` (the days themselves)."""

    days: tuple[str, ...]
    through: bool
    span: Span = _span()
    # Where each of ``days`` is written (a diagnostic points at the day it names).
    day_spans: tuple[Span, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class CalendarHolidays:
    dates: tuple[dt.date, ...]
    span: Span = _span()


CalendarSetting: TypeAlias = CalendarTimezone | CalendarHours | CalendarDays | CalendarHolidays


@dataclass(frozen=True, kw_only=True, slots=True)
class Calendar:
    """``calendar [NAME] { ... }``: its settings in source order (the checker wants each of
    timezone, hours and days once; holidays are optional)."""

    name: str | None
    settings: tuple[CalendarSetting, ...]
    span: Span = _span()

    def setting(self, kind: type[ItemT]) -> ItemT | None:
        for item in self.settings:
            if isinstance(item, kind):
                return item
        return None
