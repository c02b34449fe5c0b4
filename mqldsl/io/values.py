"""Values in records (journeys, CSV tables, import mappings) as the runtime values of their
declared types, with the limits both engines agree on: whole numbers in the signed 64-bit
range, finite numbers, dates and instants within the calendar (years 1 to 9999; instants in
UTC, the range :func:`mqldsl.engine.runtime.parse_instant` takes)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from typing import Any

from mqldsl.analysis.params import INT_MAX, INT_MIN, NUMBER_TEXT, WHOLE_TEXT
from mqldsl.analysis.types import Type
from mqldsl.engine.runtime import FIRST_INSTANT, LAST_INSTANT, parse_instant

# Whole numbers a record may hold: INT_MIN to INT_MAX, the signed 64-bit range (as a param's).
#: Instants a record may hold, in UTC: the calendar's (0001-01-01 to 9999-12-31T23:59:59),
#: as for a policy's instants and --as-of.
INSTANT_MIN = FIRST_INSTANT
INSTANT_MAX = LAST_INSTANT

#: The keys of a journey's `truth` that the metrics read (SPEC §12, docs/reports.md); any other
#: is counted and ignored (a misspelt `sql_date` would otherwise be lost without a word).
TRUTH_KEYS = ("buyer", "created_at", "sql_at", "won_at", "window_closes", "persona")


class RecordError(ValueError):
    """A record that cannot be used; the message says why, ``code`` which kind it is."""

    def __init__(self, message: str, code: str = "E700") -> None:
        super().__init__(message)
        self.code = code


def convert(value: Any, kind: Type) -> Any:
    """A JSON (or CSV text) value as the runtime value of a declared type."""
    k = kind.kind
    if k == "int":
        if isinstance(value, bool):
            raise RecordError("expected a whole number, got true/false")
        number: int | None = None
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            # JSON whole numbers beyond the 64-bit range arrive as (rounded) floats: refuse
            # them rather than round -2^63-1 into the range.
            number = int(value)
            if number <= INT_MIN:
                number -= 1
        elif isinstance(value, str) and WHOLE_TEXT.fullmatch(text := value.strip()):
            if len(text.lstrip("+-").lstrip("0")) > 20:  # (not converted: no limit)
                raise RecordError(
                    f"{show(value)} is outside the whole numbers mqldsl takes (-2^63 to 2^63-1)"
                )
            number = int(text)
        if number is None:
            raise RecordError(f"expected a whole number, got {show(value)}")
        return _in_range(number)
    if k == "number":
        if isinstance(value, bool):
            raise RecordError("expected a number, got true/false")
        if isinstance(value, int):
            return _whole_number(value)
        if isinstance(value, float):
            return _finite(value)
        if isinstance(value, str):
            text = value.strip()
            if WHOLE_TEXT.fullmatch(text) and len(text) <= 21:
                return _whole_number(int(text))
            if NUMBER_TEXT.fullmatch(text):
                return _finite(float(text))
        raise RecordError(f"expected a number, got {show(value)}")
    if k == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise RecordError(f"expected true or false, got {show(value)}")
    if k == "text":
        if isinstance(value, str):
            return value
        raise RecordError(f"expected text, got {show(value)}")
    if k == "date":
        day: dt.date | None = None
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                day = dt.date.fromisoformat(value.strip())
        if day is None:
            raise RecordError(f"expected a date such as 2026-12-01, got {show(value)}")
        return day
    if k == "enum":
        if isinstance(value, str) and value in kind.members:
            return value
        raise RecordError(f"{show(value)} is not one of {', '.join(kind.members)}")
    if k == "set":
        items = value
        if isinstance(value, str):
            items = [part.strip() for part in value.split(";") if part.strip()]
        if not isinstance(items, list):
            raise RecordError(f"expected a list, got {show(value)}")
        element = kind.element
        assert element is not None
        return frozenset(convert(item, element) for item in items)
    raise RecordError(f"unsupported type {kind}")  # pragma: no cover


def _digits(number: int) -> str:
    """A whole number as written (its first and last digits when it is very long)."""
    if number.bit_length() > 13_000:  # (str() refuses more than 4,300 digits)
        return f"a whole number of about {int(number.bit_length() * 0.30103):,} digits"
    text = str(number)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-8:]} ({len(text):,} characters)"


def _in_range(number: int) -> int:
    if not INT_MIN <= number <= INT_MAX:
        raise RecordError(
            f"{_digits(number)} is outside the whole numbers mqldsl takes (-2^63 to 2^63-1)"
        )
    return number


def _whole_number(number: int) -> int | float:
    """A whole number in a `number` field: itself in the 64-bit range, the nearest double
    beyond it (as DuckDB reads it)."""
    if INT_MIN <= number <= INT_MAX:
        return number
    try:
        return _finite(float(number))
    except OverflowError:
        raise RecordError("expected a finite number, got a whole number too large") from None


def _finite(number: float) -> float:
    if not math.isfinite(number):
        raise RecordError(f"expected a finite number, got {number}")
    return number


def instant(value: Any) -> float:
    """A record's instant in seconds: ISO text with a zone, within the calendar in UTC;
    ValueError otherwise."""
    try:
        seconds = parse_instant(value)
    except OverflowError:
        seconds = math.inf
    if not INSTANT_MIN <= seconds <= INSTANT_MAX:
        raise ValueError(
            f"`{value}` is outside the calendar (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z)"
        )
    return seconds


def show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def id_problem(raw: dict[str, Any]) -> str:
    """What is wrong with a record's `id` (E703): missing, or not a string or a whole number."""
    if "id" not in raw or raw["id"] is None or raw["id"] == "":
        return 'missing "id" (a string or a whole number)'
    return f'"id" must be a string or a whole number, got {show(raw["id"])}'


__all__ = [
    "INSTANT_MAX",
    "INSTANT_MIN",
    "INT_MAX",
    "INT_MIN",
    "TRUTH_KEYS",
    "RecordError",
    "convert",
    "id_problem",
    "instant",
    "show",
]
