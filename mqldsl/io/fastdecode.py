"""Typed decoding of journey lines (issue #18): a msgspec schema generated from the policy
decodes a JSON Lines journey in C — profile fields, enums, whole numbers in the 64-bit range,
numbers, sets, events with their declared fields, instants with a zone — straight into the
:class:`Lead` and :class:`Event` objects the evaluators use.

The fast path only ever *accepts*: a line it refuses, or a line with anything it does not
model, is left to :class:`mqldsl.io.journeys.JourneyReader`'s validator, which gives today's
leads, messages, codes and counts. So the fast path refuses (returns None for) every line
where the validator could do something other than accept the very same lead without a word:

- anything msgspec does not decode into the schema: a type mismatch, a value out of range, an
  enum member not declared, ``""`` in a field that is not text (the validator reads it as
  missing), a set written as ``a;b`` text, a whole number written ``1.0``, a date or instant
  not in RFC 3339 form;
- any key the schema does not declare (top level, profile, account profile, event): the
  validator counts unknown fields and event types, or ignores extra top-level keys whose JSON
  msgspec would only skip;
- an instant that :func:`mqldsl.engine.runtime.parse_instant` refuses: not ISO, without a
  zone, outside the calendar in UTC (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z);
- an id already seen (the validator reports the duplicate), a truth the validator refuses;
- an event with two or more fields present (the validator keeps them in input order, which a
  struct forgets).

Instants are read by msgspec's own ``datetime`` reader (in C, inside the decode) on lines
where it reads exactly what :func:`parse_instant` reads, and turned into seconds as
``parse_instant`` does (``datetime.timestamp`` of an aware instant is the same subtraction
from the epoch), so the seconds are identical. msgspec's reader accepts what
``parse_instant`` refuses (a lowercase ``z``) and rounds where it truncates (more than six
digits of a second: ``12:00:00.9999999Z`` is ``12:00:01`` for msgspec, ``12:00:00.999999``
for Python); so a line with ``z"``, with ``.`` followed by seven digits, or with a backslash
(a JSON escape could hide either) is decoded with instants as text and read by CPython's
C ``datetime.fromisoformat``, as is a line msgspec's reader refuses (``parse_instant``
accepts more forms: ``2026-11-01T10:00Z``, a basic ``20261101T100000Z``, a week date).
(tests/test_fast_decoding.py compares both readers with ``parse_instant`` on generated
instants.) The profile's
fields come out in declaration order (the validator keeps input order; nothing reads the
order of a profile: lookups are by name and the hand-off sorts them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import operator
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union

import msgspec
import orjson

from mqldsl.analysis.model import CheckedPolicy, FieldInfo
from mqldsl.analysis.types import Type
from mqldsl.engine.fused import DecodedSchema
from mqldsl.engine.helpers import whole_seconds
from mqldsl.engine.runtime import Event, Lead
from mqldsl.io.values import INSTANT_MAX, INSTANT_MIN, INT_MAX, INT_MIN, TRUTH_KEYS, RecordError

_WHOLE = Annotated[int, msgspec.Meta(ge=INT_MIN, le=INT_MAX)]
_FINITE = Annotated[float, msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)]
_ID = Union[Annotated[str, msgspec.Meta(min_length=1)], _WHOLE]  # noqa: UP007
_PARSE = dt.datetime.fromisoformat
_AWARE = Annotated[dt.datetime, msgspec.Meta(tz=True)]  # msgspec refuses a naive instant
_TIMESTAMP = dt.datetime.timestamp
# What a decoder raises for a line it does not take; msgspec's RecursionError: nesting deeper
# than it goes (about 1,000 levels) in a value it skips or keeps raw (`truth`, an unknown
# field before an event's `type`), which orjson, and so the validator, may still read.
_REFUSED = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)
_NO_FIELDS: dict[str, Any] = {}  # shared by the events without fields: never written to
# What makes msgspec's instant reader differ from parse_instant (see the module's text).
_LOWER_Z = re.compile(rb'z"').search
_SEVEN_DIGITS = re.compile(rb"\.\d{7}").search


def _scalar(kind: Type) -> Any:
    """The msgspec type of a value of a declared type, or None for a type not modelled."""
    k = kind.kind
    if k == "int":
        return _WHOLE
    if k == "number":
        return Union[_WHOLE, _FINITE]  # noqa: UP007
    if k == "bool":
        return bool
    if k == "text":
        return str
    if k == "date":
        return dt.date
    if k == "enum" and kind.members:
        return Literal[kind.members]
    if k == "set" and kind.element is not None and kind.element.kind != "set":
        element = _scalar(kind.element)
        return None if element is None else frozenset[element]  # type: ignore[valid-type]
    return None


def _record_struct(
    name: str,
    fields: Mapping[str, FieldInfo],
    at: Any = str,
    kind: str | None = None,
    alone: bool = False,
) -> tuple[type[msgspec.Struct], tuple[str, ...]] | None:
    """A struct of optional fields (attributes ``f0``, ``f1``… renamed to the fields' names)
    and the names in attribute order; None when a field's type is not modelled. For the
    events of type ``kind``: their `at` first, and their `type` as the tag of a union of
    event types or, for the one event type of a policy (``alone``: msgspec does not require
    the tag of a struct outside a union), as a field that must be there."""
    event = kind is not None  # an event's `type` and `at` are never its fields
    names = tuple(n for n in fields if not (event and n in ("type", "at")))
    attributes: list[tuple[str, Any, Any]] = []
    for position, field_name in enumerate(names):
        scalar = _scalar(fields[field_name].type)
        if scalar is None:
            return None
        attributes.append((f"f{position}", scalar | None, None))
    extra: list[tuple[str, Any]] = [("at", at)] if event else []
    options: dict[str, Any] = {}
    if alone:
        extra.append(("type", Literal[kind]))
    elif event:
        options = {"tag_field": "type", "tag": kind}
    struct = msgspec.defstruct(
        name,
        [*extra, *attributes],
        rename={f"f{i}": n for i, n in enumerate(names)},
        forbid_unknown_fields=True,
        gc=False,  # decoded records hold no cycle: not tracked by the collector
        **options,
    )
    return struct, names


class FastDecoder:
    """Decodes journey lines with a schema generated from ``model``: :meth:`lead` gives the
    lead the validator would give, or None where the validator must read the line."""

    def __init__(
        self,
        decoders: tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]],
        events: dict[type, tuple[str, str | None, tuple[str, ...]]],
        profile: tuple[str, ...],
        account: tuple[str, ...],
        check_truth: Callable[[Any], None],
    ) -> None:
        # Instants read by msgspec (datetime), and instants as text (see the module's text).
        self._typed, self._text = decoders
        # struct -> (event type, its one field or None, its fields when two or more)
        self._events = events
        self._profile = profile
        self._account = account
        self._check_truth = check_truth
        # The records as the fused function reads them (engine/fused.py).
        kinds: dict[str, tuple[tuple[type, ...], tuple[str, ...]]] = {}
        for record, (kind, single, several) in events.items():
            names = several or ((single,) if single is not None else ())
            kinds[kind] = ((*kinds.get(kind, ((), ()))[0], record), names)
        self.schema = DecodedSchema(kinds, profile)

    @classmethod
    def build(cls, model: CheckedPolicy, check_truth: Callable[[Any], None]) -> FastDecoder | None:
        """The decoder for ``model``'s journeys; None when its schema has something the fast
        path does not model (every line is then read by the validator). ``check_truth``
        raises :class:`RecordError` for a truth the validator refuses."""
        profile = _record_struct("Profile", model.fields)
        account = _record_struct("AccountProfile", model.account_fields)
        if profile is None or account is None or not model.events:
            return None
        events: dict[type, tuple[str, str | None, tuple[str, ...]]] = {}
        decoders = []
        for at in (_AWARE, str):
            structs = []
            for number, (name, info) in enumerate(model.events.items()):
                made = _record_struct(
                    f"Event{number}", info.fields, at, name, alone=len(model.events) == 1
                )
                if made is None:
                    return None
                structs.append(made[0])
                names = made[1]
                single = names[0] if len(names) == 1 else None
                events[made[0]] = (name, single, names[1:] and names)
            event_type = Union[tuple(structs)]  # type: ignore[valid-type]  # noqa: UP007
            journey = msgspec.defstruct(
                "Journey",
                [
                    ("id", _ID),
                    ("account", _ID | None, None),
                    ("profile", profile[0] | None, None),
                    ("account_profile", account[0] | None, None),
                    ("events", list[event_type] | None, None),  # type: ignore[valid-type]
                    ("truth", msgspec.Raw, msgspec.Raw(b"null")),
                ],
                forbid_unknown_fields=True,
                gc=False,  # decoded records hold no cycle: not tracked by the collector
            )
            decoders.append(msgspec.json.Decoder(journey))
        return cls((decoders[0], decoders[1]), events, profile[1], account[1], check_truth)

    def lead(self, line: bytes, seen: set[str]) -> Lead | None:
        """The lead on ``line``, or None: the validator reads it (see the module's text).
        ``seen``: the ids already read (a duplicate is left to the validator)."""
        head = self._journey(line, seen)
        if head is None:
            return None
        journey, lead_id, truth, _ = head
        events: list[Event] = []
        items = journey.events
        if items:
            read = self._seconds([item.at for item in items])
            if read is None:
                return None
            seconds, in_order = read
            made = self._made(items, seconds, strict=True)
            if made is None:
                return None
            events = made
            if not in_order:  # (most journeys are written in time order)
                events.sort(key=_at)
        return self._lead(journey, lead_id, truth, _values(journey.profile, self._profile), events)

    def _made(self, items: list[Any], seconds: list[float], strict: bool) -> list[Event] | None:
        """The events of decoded records at ``seconds``, numbered in the records' order;
        ``strict``: None for an event with two or more fields present (the validator keeps
        them in input order, which a record forgets)."""
        names_of = self._events
        kinds = []
        values: list[dict[str, Any]] = []
        for item in items:
            kind, single, several = names_of[type(item)]
            kinds.append(kind)
            fields: dict[str, Any] = _NO_FIELDS
            if single is not None:
                value = item.f0
                if value is not None and value != "":
                    fields = {single: value}
            elif several:
                fields = _values(item, several)
                if strict and len(fields) > 1:
                    return None
            values.append(fields)
        return list(map(Event, seconds, kinds, values, range(len(items))))

    def whole(self, parts: tuple[Lead, Any, list[Any], list[float]]) -> Lead:
        """The lead of what :meth:`parts` gave, with its profile and events, for a lead the
        fused function leaves to ``evaluate`` (its decision only: the events are numbered in
        time order, not in input order, and fields in declaration order)."""
        lead, profile, items, seconds = parts
        events = self._made(items, seconds, strict=False)
        assert events is not None  # (not strict: never None)
        return msgspec.structs.replace(
            lead, profile=_values(profile, self._profile), events=tuple(events)
        )

    def parts(self, line: bytes, seen: set[str]) -> tuple[Lead, Any, list[Any], list[float]] | None:
        """What engine/fused.py's function reads of ``line``: the lead without its events and
        profile, the decoded profile record (or None), the decoded event records in time
        order (ties in input order) and their times; None where :meth:`lead` must read the
        line: wherever it would give None, and for events at fractions of a second."""
        head = self._journey(line, seen)
        if head is None:
            return None
        journey, lead_id, truth, all_whole = head
        items = journey.events or []
        seconds: list[float] = []
        if items:
            read = self._seconds([item.at for item in items])
            if read is None:
                return None
            seconds, in_order = read
            if not in_order:
                order = sorted(range(len(seconds)), key=seconds.__getitem__)  # stable
                items = [items[i] for i in order]
                seconds = [seconds[i] for i in order]
            if not (all_whole or whole_seconds(seconds)):
                return None
        lead = self._lead(journey, lead_id, truth, _NO_FIELDS, ())
        return None if lead is None else (lead, journey.profile, items, seconds)

    def _lead(
        self,
        journey: Any,
        lead_id: str,
        truth: Any,
        profile: dict[str, Any],
        events: Sequence[Event],
    ) -> Lead | None:
        account_profile = _values(journey.account_profile, self._account)
        account = journey.account
        if account_profile and (account is None or account == ""):
            return None  # the validator counts the account_profile it does not read (SPEC §9)
        return Lead(
            id=lead_id,
            profile=profile,
            events=tuple(events),
            account=str(account) if account is not None and account != "" else None,
            account_profile=account_profile,
            truth=truth,
        )

    def _journey(self, line: bytes, seen: set[str]) -> tuple[Any, str, Any, bool] | None:
        """The decoded line, its lead's id, its truth, and whether its instants are all whole
        seconds for certain (read by msgspec, whose reader takes a fraction only after a
        ``.``, from a line without one); None where the validator reads the line."""
        journey = None
        dotted = b"." in line
        if not (
            b"\\" in line
            or _LOWER_Z(line) is not None
            or (dotted and _SEVEN_DIGITS(line) is not None)
        ):
            # A refusal may be an instant only parse_instant reads: the text reader decides.
            with contextlib.suppress(*_REFUSED):
                journey = self._typed.decode(line)
        all_whole = journey is not None and not dotted
        if journey is None:
            try:
                journey = self._text.decode(line)
            except _REFUSED:
                return None
        lead_id = str(journey.id)
        if lead_id in seen:
            return None
        truth: Any = None
        if journey.truth:
            try:
                truth = orjson.loads(bytes(journey.truth))
            except orjson.JSONDecodeError:  # pragma: no cover - msgspec read it already
                return None
            if truth is not None:
                try:
                    self._check_truth(truth)
                except RecordError:
                    return None
                if any(key not in TRUTH_KEYS for key in truth):
                    return None  # the validator counts the keys nothing reads
        return journey, lead_id, truth, all_whole

    @staticmethod
    def _seconds(moments: list[Any]) -> tuple[list[float], bool] | None:
        """The seconds of a line's instants (all text, or all read by msgspec) as
        :func:`parse_instant` gives them, and whether they are in time order; None when one
        is refused."""
        try:  # parse_instant's reading
            if type(moments[0]) is str:
                moments = list(map(_PARSE, moments))
                for moment in moments:
                    if moment.tzinfo is None:
                        return None
            # (msgspec's reader refuses an instant without a zone: _AWARE)
            seconds = list(map(_TIMESTAMP, moments))  # aware: (moment - epoch).total_seconds()
        except (ValueError, OverflowError):
            return None
        ordered = sorted(seconds)  # one pass in C for the bounds and the order
        if ordered[0] < INSTANT_MIN or ordered[-1] > INSTANT_MAX:
            return None
        return seconds, ordered == seconds


_at = operator.attrgetter("at")


def _values(record: msgspec.Struct | None, names: tuple[str, ...]) -> dict[str, Any]:
    """The present values of a decoded record (null and ``""`` are missing), in declaration
    order."""
    if record is None or not names:
        return {}
    values = msgspec.structs.astuple(record)[-len(names) :]
    return {
        name: value
        for name, value in zip(names, values, strict=True)
        if value is not None and value != ""
    }


__all__ = ["FastDecoder"]
