"""Runtime data and the helpers shared by both evaluators (the compiled one
and the reference interpreter): leads, events, decisions, time, rounding,
and the comparison operators.

Times are float seconds since the Unix epoch, UTC. A missing value is None.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import msgspec

from mqldsl.analysis.limits import MAX_INSTANTS, timeline_size

if TYPE_CHECKING:
    from mqldsl.analysis.stamp import PolicyStamp

UTC = dt.UTC
DAY = 86400.0
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

# The comparison operators of the language (SPEC §5), on present values.
COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Event(msgspec.Struct, frozen=True, gc=False):
    """One event of a lead. A msgspec struct: made in C several times faster than a frozen
    dataclass (readers make millions), and not tracked by the garbage collector (an event
    holds no cycle: its fields are plain values)."""

    at: float
    type: str
    fields: Mapping[str, Any]
    index: int = 0  # position in the lead's input, for explanations


def new_event(at: float, type: str, fields: Mapping[str, Any], index: int) -> Event:
    """``Event(at, type, fields, index)`` for values already checked."""
    return Event(at, type, fields, index)


class Lead(msgspec.Struct, frozen=True, gc=False):
    """One lead: its profile and its events. A msgspec struct, like :class:`Event`: made
    in C (a frozen dataclass sets each field through ``object.__setattr__``, ten times
    slower, and a reader makes one a line), and not tracked by the collector (a lead
    holds no cycle: its colleagues were made before it). Copied with a change by
    ``msgspec.structs.replace``."""

    id: str
    profile: Mapping[str, Any]
    events: tuple[Event, ...]  # sorted by time (stable)
    account: str | None = None
    account_profile: Mapping[str, Any] = msgspec.field(default_factory=dict)
    truth: Mapping[str, Any] | None = None
    # The other leads of its account (SPEC §9), in input order; empty without an account.
    # Their events count in account scores and, when the policy has account scores, in
    # this lead's timeline.
    colleagues: tuple[Lead, ...] = ()


def contacts(lead: Lead) -> tuple[Lead, ...]:
    """The leads of ``lead``'s account, itself first, then its colleagues in input order."""
    return (lead, *lead.colleagues)


def account_events(lead: Lead) -> list[tuple[Event, Lead, int]]:
    """Every event of the leads of ``lead``'s account, each with its lead and the lead's
    number in :func:`contacts`, sorted by time (stable: ties in contact order)."""
    found = [
        (event, contact, number)
        for number, contact in enumerate(contacts(lead))
        for event in contact.events
    ]
    found.sort(key=lambda item: item[0].at)
    return found


def timeline_times(lead: Lead, account: bool) -> list[float]:
    """The event times a lead's timeline is built on (SPEC §7): its own events', and with
    ``account`` (the policy has account scores, SPEC §9) its colleagues' too."""
    times = [e.at for e in lead.events]
    if account:
        times += [e.at for other in lead.colleagues for e in other.events]
    return times


class RouteDecision(msgspec.Struct, frozen=True, gc=False):
    """A handoff: the queue, the SLA as written, the due instant and the handoff instant
    (``entered``); ``trigger`` is the event of a hot-event (`on`) route, None on entry."""

    queue: str
    sla: str | None
    due: float | None
    entered: float
    trigger: Event | None = None


class Handoff(msgspec.Struct, frozen=True, gc=False):
    """One handoff of a lead's timeline (SPEC §8): at ``at``, in ``stage``, by route number
    ``route`` of the policy; ``event`` is the position in the lead's events of the event
    that fired a hot-event route (-1: an entry into the stage)."""

    at: float
    stage: str
    route: int
    event: int = -1


def hot_routes(
    stages: Sequence[str], routes: Sequence[tuple[str, bool]]
) -> tuple[tuple[int, ...], ...]:
    """Per stage (by index), the numbers of the hot-event routes that fire while a lead is
    in it (SPEC §8), in declared order: the `on` routes of the stage itself, and those of an
    earlier stage when this stage has no route of its own. ``routes``: (stage, is `on`)."""
    own = {stage for stage, _ in routes}
    order = {name: index for index, name in enumerate(stages)}
    return tuple(
        tuple(
            number
            for number, (stage, hot) in enumerate(routes)
            if hot
            and stage in order
            and (stage == name or (order[stage] < index and name not in own))
        )
        for index, name in enumerate(stages)
    )


class Decision(msgspec.Struct, frozen=True, gc=False):
    id: str
    as_of: float
    stage: str
    scores: Mapping[str, float | int | None]
    disqualified: tuple[str, ...]
    route: RouteDecision | None
    entered: Mapping[str, float]
    policy: PolicyStamp  # which policy decided, with which params (SPEC §12)
    # With accounts (SPEC §9, §12): the lead's account and its account scores; None when
    # the policy declares neither account fields nor account scores (the keys are left out).
    account_scores: Mapping[str, float | int | None] | None = None
    account: str | None = None

    def to_json(self) -> dict[str, Any]:
        head: dict[str, Any] = {"id": self.id}
        if self.account_scores is not None:
            head["account"] = self.account
        head["as_of"] = format_instant(self.as_of)
        head["stage"] = self.stage
        head["scores"] = dict(self.scores)
        if self.account_scores is not None:
            head["account_scores"] = dict(self.account_scores)
        return head | {
            "disqualified": list(self.disqualified),
            "route": None
            if self.route is None
            else {
                "queue": self.route.queue,
                "sla": self.route.sla,
                "due": format_instant(self.route.due) if self.route.due is not None else None,
                "entered": format_instant(self.route.entered),
            },
            "entered": {stage: format_instant(at) for stage, at in self.entered.items()},
            "policy": self.policy.to_json(),
        }


class TimelineStep(msgspec.Struct, frozen=True, gc=False):
    at: float
    stage: str
    reason: str  # "advanced", "fell back", "disqualified: R", "recycled by RULE", "start"
    # With explanations only: the scores at this instant (declaration order) and the
    # handoff the stage's routes make on this entry (None: no route applies).
    scores: Mapping[str, float | int | None] | None = None
    route: RouteDecision | None = None
    # The number of the recycle rule that made this step (its journey starts afresh
    # here), or -1.
    recycled_by: int = -1


class EvalResult(msgspec.Struct, frozen=True, gc=False):
    """One lead evaluated by either engine (the compiled evaluator or the interpreter)."""

    decision: Decision
    steps: tuple[TimelineStep, ...]
    # For explanations: per score (evaluation order), the points of each rule at as-of.
    contributions: Mapping[str, tuple[float, ...]] | None
    journey_start: float
    # The first time the lead entered each stage, and the route chosen then
    # (an index into the policy's routes, or -1): the simulator's handoffs.
    first_entries: Mapping[str, tuple[float, int]]
    # Every handoff (entries and hot events, SPEC §8) up to the as-of instant, in time
    # order; each is a request for a sales touch in the simulator.
    handoffs: tuple[Handoff, ...] = ()


# ---------------------------------------------------------------- time


def to_seconds(value: dt.datetime) -> float:
    return (value - _EPOCH).total_seconds()


def date_seconds(value: dt.date) -> float:
    return to_seconds(dt.datetime.combine(value, dt.time(), tzinfo=UTC))


def from_seconds(value: float) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=value)


#: The calendar mqldsl supports, in UTC: instants outside it are refused where they are read
#: (:func:`parse_instant`), and a computed instant past its end (an SLA's due time) is clamped
#: to :data:`LAST_INSTANT`.
FIRST_INSTANT = to_seconds(dt.datetime.min.replace(tzinfo=UTC))  # 0001-01-01T00:00:00Z
LAST_INSTANT = to_seconds(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_LAST_ORDINAL = dt.date.max.toordinal()
# "YYYY-MM-DDT" of a day (days since 1970-01-01): format_instant's cache, started afresh past
# _DAYS_KEPT days (memory stays flat; a day is 11 characters).
_DAY_PREFIXES: dict[int, str] = {}
_DAYS_KEPT = 65536


# "HH:MM:" of each minute of a day, and "SSZ" of each second of a minute (joined, they cost
# less than formatting three numbers).
_CLOCK = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECONDS = tuple(f"{s:02d}Z" for s in range(60))


def format_instant(value: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (four-digit years, also before 1000). Whole seconds
    come from a cache of day prefixes and tables of the minutes of a day and the seconds of a
    minute (going through ``datetime`` and ``strftime`` for each instant cost fifteen times as
    much); OverflowError outside the calendar."""
    if value == value and abs(value) != math.inf and (whole := int(value)) == value:
        days, seconds = divmod(whole, 86400)
        prefix = _DAY_PREFIXES.get(days)
        if prefix is None and 1 <= _EPOCH_ORDINAL + days <= _LAST_ORDINAL:
            day = dt.date.fromordinal(_EPOCH_ORDINAL + days)
            prefix = f"{day.year:04d}-{day.month:02d}-{day.day:02d}T"
            if len(_DAY_PREFIXES) >= _DAYS_KEPT:
                _DAY_PREFIXES.clear()
            _DAY_PREFIXES[days] = prefix
        if prefix is not None:
            minutes, secs = divmod(seconds, 60)
            return prefix + _CLOCK[minutes] + _SECONDS[secs]
    moment = from_seconds(value)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if moment.microsecond:
        return f"{text}.{moment.microsecond:06d}".rstrip("0") + "Z"
    return text + "Z"


def parse_instant(text: str) -> float:
    """An ISO instant with `Z` or an offset, from 0001-01-01T00:00:00Z to
    9999-12-31T23:59:59Z in UTC; ValueError (with what to write) otherwise."""
    if not isinstance(text, str):
        raise ValueError("expected an instant such as 2026-11-01T09:30:00Z")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"`{text}` is not an instant such as 2026-11-01T09:30:00Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"`{text}` has no time zone: add `Z` or an offset such as +02:00")
    seconds = to_seconds(moment)
    if not FIRST_INSTANT <= seconds < LAST_INSTANT + 1:
        raise ValueError(
            f"`{text}` is outside the calendar: in UTC it is before 0001-01-01T00:00:00Z "
            "or after 9999-12-31T23:59:59Z"
        )
    return seconds


def due_time(entered: float, sla_seconds: float) -> float:
    """When a handoff made at ``entered`` is due: ``entered`` plus the SLA, clamped to
    :data:`LAST_INSTANT` (an SLA that ends after the calendar is due at its last second)."""
    return min(entered + sla_seconds, LAST_INSTANT)


# ---------------------------------------------------------------- numbers


#: Where a score's float is taken to the decimal it stands for before it is rounded to two
#: decimals: the billionth (round_score).
SCORE_SNAP = Decimal("1e-9")
_CENT = Decimal("0.01")


def round_score(value: float | None) -> float | int | None:
    """Two decimals, half away from zero; whole numbers as int (SPEC §4) where JSON writers
    take them (a 64-bit integer: a whole score of 1e20 stays the float it is).

    The sum a score's rules make is a decimal number (points, caps and decay factors are
    decimals), but it is added in binary floats, which miss it by a few units of the 16th
    digit either way: `5 x 0.9**3 - 8` is -4.355, the float -4.3549999999999995. So the float's
    shortest decimal form is first rounded (half away from zero) to nine decimals, giving the
    decimal it stands for, and that is rounded to two: -4.36, as the exact sum gives. (This
    holds for sums under about a million in size, whose float misses them by far less than a
    billionth; a sum within a billionth of a half cent, and not on it, rounds otherwise than
    its exact value would. The SQL back end rounds the same way.)"""
    if value is None:
        return None
    if math.isnan(value) or math.isinf(value):
        return None
    if value == int(value):
        return int(value) if -WHOLE_BOUND <= value < WHOLE_BOUND else float(value)
    # (a float that is not whole is under 2**53: 16 digits and 9 decimals fit the context's 28)
    snapped = Decimal(repr(value)).quantize(SCORE_SNAP, rounding=ROUND_HALF_UP)
    rounded = float(snapped.quantize(_CENT, rounding=ROUND_HALF_UP))
    return int(rounded) if rounded == int(rounded) else rounded


def clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def decay_factor(percent: float, every: float, age: float) -> float:
    steps = math.floor(age / every) if age > 0 else 0
    return (1.0 - percent / 100.0) ** steps


def cap(total: float, limit: float | None) -> float:
    if limit is None:
        return total
    if total > limit:
        return float(limit)
    if total < -limit:
        return -float(limit)
    return total


def aggregate(function: str, values: Sequence[Any], whole: bool) -> Any:
    """``sum``, ``max``, ``min`` or ``avg`` of an event field (SPEC §5) over ``values``: the
    field's values in the matching events that have it. A sum is 0 when there are none, the
    others are missing (None). A sum of an int field (``whole``) is exact; a sum of numbers
    and the sum inside ``avg`` are :func:`math.fsum`, correctly rounded whatever the order of
    the events. ``avg`` is not rounded."""
    if function == "sum":
        return sum(values) if whole else exact_sum(values)
    if not values:
        return None
    if function == "max":
        return max(values)
    if function == "min":
        return min(values)
    return exact_mean(values)


#: Whole scores are written as integers below this magnitude (64 bits), as floats from it.
WHOLE_BOUND = 2**63


def exact_sum(values: Sequence[float]) -> float:
    """The sum of ``values`` correctly rounded whatever their order (:func:`math.fsum`), also
    where a partial sum passes the largest float (fsum then raises OverflowError; the exact
    sum is computed with fractions): ±inf only when the sum itself is past it."""
    try:
        return math.fsum(values)
    except OverflowError:
        return _rounded(sum(map(Fraction, values), Fraction(0)))


def exact_mean(values: Sequence[float]) -> float:
    """The mean of ``values`` (not empty): :func:`exact_sum` over their count, or the exact
    mean rounded when the sum is past the largest float (1e308 and 1e308: 1e308)."""
    total = exact_sum(values)
    if math.isinf(total):
        return _rounded(sum(map(Fraction, values), Fraction(0)) / len(values))
    return total / len(values)


def _rounded(value: Fraction) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


class TimelineTooLong(ValueError):
    """A lead whose timeline would have more than :data:`MAX_INSTANTS` instants (its events,
    their window ends and its decay steps): rejected (code E900), not evaluated."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def for_lead(self, lead_id: str) -> TimelineTooLong:
        """The same problem, naming the lead."""
        return TimelineTooLong(f"lead `{lead_id}`: {self.message}")


def check_size(
    event_times: Sequence[float],
    windows: Sequence[float],
    decay_periods: Sequence[float],
    as_of: float,
    limit: int = MAX_INSTANTS,
) -> None:
    """:class:`TimelineTooLong` when the lead's timeline (SPEC §7) would have more than
    ``limit`` instants (:func:`timeline_size`), counted before anything is listed, so the
    work is bounded. A cheap bound first (every event at the oldest event's time): the
    exact count only when the bound is above the limit."""
    count = len(event_times)
    bound = 1 + count * (1 + len(windows))
    if decay_periods and count:
        oldest = max(0.0, as_of - min(event_times))
        bound += count * sum(math.floor(oldest / period) for period in decay_periods)
    if bound <= limit:
        return
    size = timeline_size(event_times, windows, decay_periods, as_of)
    if size > limit:
        used = [at for at in event_times if at <= as_of]
        raise TimelineTooLong(too_long(size, limit, len(used), min(used), decay_periods))


def instants(
    event_times: Sequence[float],
    windows: Sequence[float],
    decay_periods: Sequence[float],
    as_of: float,
    limit: int = MAX_INSTANTS,
) -> list[float]:
    """The instants at which a lead's result can change (SPEC §7): every
    event time, every event time plus every window duration, every decay step
    boundary, and the as-of instant — those not after the as-of instant.
    :class:`TimelineTooLong` when :func:`timeline_size` is above ``limit``
    (:func:`check_size`)."""
    check_size(event_times, windows, decay_periods, as_of, limit)
    points: set[float] = {as_of}
    for at in event_times:
        if at > as_of:
            continue
        points.add(at)
        for window in windows:
            if at + window <= as_of:
                points.add(at + window)
        for period in set(decay_periods):
            k = 1
            while at + k * period <= as_of:
                points.add(at + k * period)
                k += 1
    return sorted(points)


def too_long(
    size: int, limit: int, events: int, oldest: float | None, decay_periods: Sequence[float]
) -> str:
    """Why a timeline is refused: its size, the limit, and what makes it long (``events``
    up to the as-of instant, the ``oldest`` of them, the decay steps)."""
    text = f"its timeline needs {size:,} instants ({events:,} event{'s' if events != 1 else ''}"
    if decay_periods and oldest is not None:
        step = _duration(min(decay_periods))
        text += f", decay steps of {step} from its oldest event at {format_instant(oldest)}"
    return f"{text}); at most {limit:,} instants per lead: drop the lead's oldest events" + (
        ", or decay by a longer step" if decay_periods else ""
    )


def _duration(seconds: float) -> str:
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            amount = int(seconds // size)
            return f"{amount} {unit}" + ("s" if amount != 1 else "")
    return f"{seconds:g} seconds"
