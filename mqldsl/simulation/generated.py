"""Generated journeys handed to the evaluator without a JSON round trip.

A simulation used to write each generated journey as JSON bytes and read
them back with the typed decoder (:mod:`mqldsl.io.fastdecode`). Here the
generator's values (events' instants as seconds) become the very
:class:`~mqldsl.engine.runtime.Lead` the decoder would give, by the
decoder's rules: a journey with anything those rules would refuse, or that
this module does not model, returns None and takes the round trip as before
(:func:`~mqldsl.simulation.sources.scenario_leads`), so the leads, and every
figure made from them, are the same.

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
from collections.abc import Mapping
from typing import Any

from mqldsl.analysis.model import CheckedPolicy, FieldInfo
from mqldsl.analysis.types import Type
from mqldsl.engine.runtime import Event, Lead, new_event
from mqldsl.io.journeys import check_truth
from mqldsl.io.values import INSTANT_MAX, INSTANT_MIN, INT_MAX, INT_MIN, RecordError

_MISSING = object()
_REFUSED = object()
_KINDS = ("int", "number", "bool", "text", "enum")
_TOP = frozenset(("id", "profile", "events", "truth"))
_ACCOUNT_TOP = _TOP | {"account", "account_profile"}  # a scenario with `[accounts]`
_KEYS = ("type", "at")


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


def _record(fields: Mapping[str, FieldInfo], raw: Any) -> dict[str, Any] | None:
    """The present values of a generated record in declaration order; None if refused."""
    if type(raw) is not dict or any(name not in fields for name in raw):
        return None
    out: dict[str, Any] = {}
    for name, info in fields.items():
        if name in raw:
            value = _value(info.type, raw[name])
            if value is _REFUSED:
                return None
            if value is not _MISSING:
                out[name] = value
    return out


def _event_fields(
    fields: Mapping[str, FieldInfo], item: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The present field values of a generated event in the generator's order (the decoder
    keeps an event's fields in input order); None if refused."""
    out: dict[str, Any] = {}
    for name, raw in item.items():
        if name in _KEYS:
            continue
        info = fields.get(name)
        if info is None:
            return None
        value = _value(info.type, raw)
        if value is _REFUSED:
            return None
        if value is not _MISSING:
            out[name] = value
    return out


class GeneratedLeads:
    """Leads from the values of generated journeys, for one policy."""

    def __init__(self, model: CheckedPolicy) -> None:
        self._profile = model.fields
        self._account = model.account_fields
        self._events = {
            name: {n: f for n, f in info.fields.items() if n not in ("type", "at")}
            for name, info in model.events.items()
        }

    @classmethod
    def build(cls, model: CheckedPolicy) -> GeneratedLeads | None:
        """None when the policy declares a type this module does not model
        (or no events, where the decoder is not used either)."""
        declared = [*model.fields.values(), *model.account_fields.values()]
        declared += [
            f for e in model.events.values() for n, f in e.fields.items() if n not in ("type", "at")
        ]
        if not model.events or not all(_modelled(f.type) for f in declared):
            return None
        return cls(model)

    def lead(self, raw: Mapping[str, Any]) -> Lead | None:
        """The lead of a generated journey whose events' ``at`` are seconds;
        None where the decoder's rules need the round trip."""
        lead_id = raw.get("id")
        if set(raw) not in (_TOP, _ACCOUNT_TOP) or type(lead_id) is not str or not lead_id:
            return None
        account: str | None = None
        account_profile: dict[str, Any] = {}
        if "account" in raw:
            account = raw["account"]
            given = _record(self._account, raw["account_profile"])
            if type(account) is not str or not account or given is None:
                return None
            account_profile = given
        profile = _record(self._profile, raw["profile"])
        truth = raw["truth"]
        if profile is None or type(raw["events"]) is not list:
            return None
        try:
            check_truth(truth)
        except RecordError:
            return None
        events: list[Event] = []
        for position, item in enumerate(raw["events"]):
            if type(item) is not dict:
                return None
            kind, at = item.get("type"), item.get("at")
            if type(kind) is not str:
                return None
            declared = self._events.get(kind)
            if declared is None or type(at) is not float or not at.is_integer():
                return None
            if not INSTANT_MIN <= at <= INSTANT_MAX:
                return None
            if declared:
                fields = _event_fields(declared, item)
                if fields is None:
                    return None
            elif len(item) != 2:  # a key an event without fields does not declare
                return None
            else:
                fields = {}
            events.append(new_event(at, kind, fields, position))
        events.sort(key=lambda event: event.at)
        return Lead(
            id=lead_id,
            profile=profile,
            events=tuple(events),
            account=account,
            account_profile=account_profile,
            truth=truth,
        )


__all__ = ["GeneratedLeads"]
