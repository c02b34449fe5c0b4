"""Generated journeys handed to the evaluator without a JSON round trip.

A simulation used to write each generated journey as JSON bytes and read
them back with the typed decoder (:mod:`mqldsl.io.fastdecode`). Here the
generator's values (each event an ``(at, type, fields)`` tuple, its instant in
seconds) become the very :class:`~mqldsl.engine.runtime.Lead` the decoder would
give, by the decoder's rules: a journey with anything those rules would refuse,
or that this module does not model, returns None and takes the round trip as
before (:func:`~mqldsl.simulation.sources.scenario_leads`), so the leads, and
every figure made from them, are the same. Built with the scenario, an event
type whose field distributions only ever draw values the decoder keeps as they
are (declared, accepted, not ``""`` in text, not a set) is made without looking
at each value, and so is such a profile or account field; the others are checked
value by value.

The decoder's rules, for the values a generator makes (SPEC §12):

- a profile or event field must be declared (else the round trip); null is
  missing; ``""`` is missing in a text field and refused elsewhere;
- ``int``: a whole number (not a bool) in the signed 64-bit range;
  ``number``: such a whole number, or a finite float, kept as it is;
  ``bool``; ``text``: a string; an enum: one of its members; a set: a list
  of such elements, as a frozenset in list order;
- other types (dates, instants, lists, nested sets) are not modelled here:
  a policy that declares one takes the round trip for every journey;
- the profile comes out in declaration order; an event's fields keep the
  generator's order, as the decoder keeps an event's input order;
- events are numbered in the generator's order (by time, then type) and
  sorted by time (stable); the instants are whole seconds;
- the truth must pass :func:`~mqldsl.io.journeys.check_truth`.

Generated ids are numbered (``S-0000001``…), so never repeated.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

from mqldsl.analysis.model import CheckedPolicy, FieldInfo
from mqldsl.analysis.types import Type
from mqldsl.engine.runtime import Event, Lead
from mqldsl.io.journeys import check_truth
from mqldsl.io.values import INSTANT_MAX, INSTANT_MIN, INT_MAX, INT_MIN, RecordError
from mqldsl.simulation.scenario import Scenario
from mqldsl.simulation.scenario_fields import Categorical, Distribution, Numeric

_MISSING = object()
_REFUSED = object()
_KINDS = ("int", "number", "bool", "text", "enum")
_TOP = frozenset(("id", "profile", "events", "truth"))
_ACCOUNT_TOP = _TOP | {"account", "account_profile"}  # a scenario with `[accounts]`


def _modelled(kind: Type) -> bool:
    if kind.kind == "enum":
        return bool(kind.members)
    if kind.kind == "set":
        return kind.element is not None and kind.element.kind in _KINDS and _modelled(kind.element)
    return kind.kind in _KINDS


def _element(kind: Type, value: Any) -> Any:
    """``value`` as the decoder reads it for ``kind`` (no missing values), or _REFUSED."""
    k = kind.kind
    if k == "int":
        ok = type(value) is int and INT_MIN <= value <= INT_MAX
    elif k == "number":
        ok = (type(value) is int and INT_MIN <= value <= INT_MAX) or (
            type(value) is float and math.isfinite(value)
        )
    elif k == "bool":
        ok = type(value) is bool
    elif k == "text":
        ok = type(value) is str
    elif k == "enum":
        ok = type(value) is str and value in kind.members
    else:
        ok = False
    return value if ok else _REFUSED


def _value(kind: Type, value: Any) -> Any:
    """A field's value as the decoder gives it, _MISSING or _REFUSED."""
    if value is None:
        return _MISSING
    if value == "" and type(value) is str:
        return _MISSING if kind.kind == "text" else _REFUSED
    if kind.kind == "set":
        if type(value) is not list:
            return _REFUSED
        assert kind.element is not None
        elements = [_element(kind.element, item) for item in value]
        if any(item is _REFUSED for item in elements):
            return _REFUSED
        return frozenset(elements)
    return _element(kind, value)


def _record(
    fields: Mapping[str, FieldInfo], raw: Any, kept: frozenset[str] = frozenset()
) -> dict[str, Any] | None:
    """The present values of a generated record in declaration order; None if refused.
    The fields in ``kept`` are taken as they are (their distributions only draw values the
    decoder keeps unchanged: :func:`_kept_as_is`)."""
    if type(raw) is not dict or any(name not in fields for name in raw):
        return None
    out: dict[str, Any] = {}
    for name, info in fields.items():
        if name in raw:
            if name in kept:
                out[name] = raw[name]
                continue
            value = _value(info.type, raw[name])
            if value is _REFUSED:
                return None
            if value is not _MISSING:
                out[name] = value
    return out


def _event_fields(
    fields: Mapping[str, FieldInfo], given: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The present field values of a generated event in the generator's order (the decoder
    keeps an event's fields in input order); None if refused."""
    out: dict[str, Any] = {}
    for name, raw in given.items():
        info = fields.get(name)
        if info is None:
            return None
        value = _value(info.type, raw)
        if value is _REFUSED:
            return None
        if value is not _MISSING:
            out[name] = value
    return out


def _kept_as_is(kind: Type, distribution: Distribution) -> bool:
    """Whether every value ``distribution`` draws (:func:`~mqldsl.simulation.generate._sample`)
    is one the decoder keeps as it is in a field of type ``kind``: present, accepted, the same
    object (not a list made a frozenset, not ``""`` made missing)."""
    if isinstance(distribution, Categorical):
        return all(_value(kind, value) is value for value in distribution.values)
    if isinstance(distribution, Numeric):
        # a whole number within +-MAX_VALUE (inside the 64-bit range), or a finite float
        return kind.kind == "number" or (kind.kind == "int" and distribution.whole)
    return False  # a set: a list the decoder makes a frozenset


def _kept_fields(
    fields: Mapping[str, FieldInfo], drawn: list[dict[str, Distribution]]
) -> frozenset[str]:
    """The declared ``fields`` whose every distribution in ``drawn`` (a record's, for each
    persona) only draws values the decoder keeps as they are."""
    return frozenset(
        name
        for name, info in fields.items()
        if all(_kept_as_is(info.type, d[name]) for d in drawn if name in d)
    )


class GeneratedLeads:
    """Leads from the values of generated journeys, for one policy (and, when built with
    it, one scenario: then only that scenario's journeys may be given)."""

    def __init__(self, model: CheckedPolicy, scenario: Scenario | None = None) -> None:
        self._profile = model.fields
        self._account = model.account_fields
        self._events = {
            name: {n: f for n, f in info.fields.items() if n not in ("type", "at")}
            for name, info in model.events.items()
        }
        # The event types whose generated fields the decoder keeps as they are, whatever is
        # drawn (declared, each value accepted unchanged): their events are made without
        # looking at each value.
        self._kept: frozenset[str] = frozenset()
        # The same for the profile and account fields: those whose values are taken as drawn.
        self._profile_kept: frozenset[str] = frozenset()
        self._account_kept: frozenset[str] = frozenset()
        if scenario is not None:
            drawn = [persona.profile for persona in scenario.personas]
            self._profile_kept = _kept_fields(self._profile, drawn)
            if scenario.accounts is not None:
                self._account_kept = _kept_fields(self._account, [scenario.accounts.profile])
            self._kept = frozenset(
                name
                for name, declared in self._events.items()
                if all(
                    field in declared and _kept_as_is(declared[field].type, distribution)
                    for field, distribution in scenario.event_fields.get(name, {}).items()
                )
            )

    @classmethod
    def build(cls, model: CheckedPolicy, scenario: Scenario | None = None) -> GeneratedLeads | None:
        """None when the policy declares a type this module does not model
        (or no events, where the decoder is not used either). With ``scenario``, the
        leads made are only ever those of its journeys (its field distributions are
        checked once, not each value drawn)."""
        declared = [*model.fields.values(), *model.account_fields.values()]
        declared += [
            f for e in model.events.values() for n, f in e.fields.items() if n not in ("type", "at")
        ]
        if not model.events or not all(_modelled(f.type) for f in declared):
            return None
        return cls(model, scenario)

    def lead(self, raw: Mapping[str, Any]) -> Lead | None:
        """The lead of a generated journey whose events are ``(at, type, fields)`` with
        ``at`` in seconds; None where the decoder's rules need the round trip."""
        lead_id = raw.get("id")
        if set(raw) not in (_TOP, _ACCOUNT_TOP) or type(lead_id) is not str or not lead_id:
            return None
        account: str | None = None
        account_profile: dict[str, Any] = {}
        if "account" in raw:
            account = raw["account"]
            given = _record(self._account, raw["account_profile"], self._account_kept)
            if type(account) is not str or not account or given is None:
                return None
            account_profile = given
        profile = _record(self._profile, raw["profile"], self._profile_kept)
        truth = raw["truth"]
        items = raw["events"]
        if profile is None or type(items) is not list:
            return None
        try:
            check_truth(truth)
        except RecordError:
            return None
        events = self._events_of(items)
        if events is None:
            return None
        return Lead(
            id=lead_id,
            profile=profile,
            events=events,
            account=account,
            account_profile=account_profile,
            truth=truth,
        )

    def _events_of(self, items: list[Any]) -> tuple[Event, ...] | None:
        """A journey's events, numbered in the generator's order and sorted by time
        (stable); None where the decoder's rules need the round trip."""
        if not items:
            return ()
        if set(map(type, items)) != {tuple} or set(map(len, items)) != {3}:
            return None
        ats, kinds, given = zip(*items, strict=True)
        if set(map(type, ats)) != {float} or not all(map(float.is_integer, ats)):
            return None
        if min(ats) < INSTANT_MIN or max(ats) > INSTANT_MAX:
            return None
        if set(map(type, given)) != {dict}:
            return None
        if not self._kept.issuperset(kinds):
            checked = []
            for kind, fields in zip(kinds, given, strict=True):
                declared = self._events.get(kind) if type(kind) is str else None
                if declared is None:
                    return None
                if fields:
                    fields = _event_fields(declared, fields)
                    if fields is None:
                        return None
                checked.append(fields)
            given = tuple(checked)
        events = list(map(Event, ats, kinds, given, range(len(items))))
        if any(map(operator.gt, ats, ats[1:])):  # (the generator gives them in time order)
            events.sort(key=_AT)
        return tuple(events)


_AT = operator.attrgetter("at")

__all__ = ["GeneratedLeads"]
