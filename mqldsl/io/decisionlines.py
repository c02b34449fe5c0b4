"""Decisions as JSON Lines bytes, written directly (SPEC §12).

A decision's line is exactly ``orjson.dumps(decision.to_json()) + b"\\n"``
(the key order, the numbers and the unicode of :meth:`Decision.to_json
<mqldsl.engine.runtime.Decision.to_json>` as orjson writes them), but built
without the per-lead dictionaries: what is the same for every lead of a run
is encoded once (the key names, the policy stamp, stage and queue names,
the lists of disqualifiers); instants come from ``format_instant``'s cache of
day prefixes.
The values that vary (ids, scores) are still encoded by orjson, so their
escaping and number formatting cannot drift from the dictionary path.
tests/test_decision_lines.py compares both paths byte for byte.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from mqldsl.analysis.stamp import PolicyStamp
from mqldsl.engine.helpers import DISQUALIFIED, NEG, Entries, PolicyMeta, route_decision
from mqldsl.engine.runtime import Decision, Lead, RouteDecision, format_instant

_CACHE_LIMIT = 65536  # entries per cache; past it a cache starts afresh (memory stays flat)


class DecisionEncoder:
    """Encodes decisions as JSON Lines; one per run (or per process), its
    caches bounded."""

    def __init__(self) -> None:
        self._names: dict[str, bytes] = {}
        self._lists: dict[tuple[str, ...], bytes] = {}
        self._routes: dict[tuple[str, str | None], bytes] = {}
        # (the last stamp, its bytes) and (the last as-of, its bytes): each pair replaced as
        # one object, so that threads sharing an encoder never see a stale half.
        self._stamp: tuple[object, bytes] = (None, b"")
        self._as_of: tuple[float | None, bytes] = (None, b"")

    # ------------------------------------------------------------ instants

    #: ``format_instant`` (whole seconds from its cache of day prefixes).
    instant = staticmethod(format_instant)

    def _quoted_instant(self, value: float) -> bytes:
        return f'"{self.instant(value)}"'.encode()

    # ------------------------------------------------------------ parts

    def _name(self, name: str) -> bytes:
        encoded = self._names.get(name)
        if encoded is None:
            encoded = orjson.dumps(name)
            if len(self._names) >= _CACHE_LIMIT:
                self._names.clear()
            self._names[name] = encoded
        return encoded

    def _list(self, names: tuple[str, ...]) -> bytes:
        key = names if type(names) is tuple else tuple(names)  # a list from a caller, too
        encoded = self._lists.get(key)
        if encoded is None:
            encoded = orjson.dumps(list(names))
            if len(self._lists) >= _CACHE_LIMIT:
                self._lists.clear()
            self._lists[key] = encoded
        return encoded

    def _route_head(self, queue: str, sla: str | None) -> bytes:
        key = (queue, sla)
        encoded = self._routes.get(key)
        if encoded is None:
            encoded = b'{"queue":' + orjson.dumps(queue) + b',"sla":' + orjson.dumps(sla)
            encoded += b',"due":'
            if len(self._routes) >= _CACHE_LIMIT:
                self._routes.clear()
            self._routes[key] = encoded
        return encoded

    def _policy_tail(self, policy: PolicyStamp) -> bytes:
        stamp, tail = self._stamp
        if policy is not stamp:  # one stamp a run: encoded once
            options = orjson.OPT_NON_STR_KEYS
            tail = b',"policy":' + orjson.dumps(policy.to_json(), option=options) + b"}\n"
            self._stamp = (policy, tail)
        return tail

    def _scores(self, scores: Mapping[str, float | int | None]) -> bytes:
        return orjson.dumps(
            scores if type(scores) is dict else dict(scores), option=orjson.OPT_NON_STR_KEYS
        )

    # ------------------------------------------------------------ lines

    def _as_of_bytes(self, as_of: float) -> bytes:
        last, as_of_bytes = self._as_of
        if as_of != last:
            as_of_bytes = b',"as_of":' + self._quoted_instant(as_of) + b',"stage":'
            self._as_of = (as_of, as_of_bytes)
        return as_of_bytes

    def _route(self, route: RouteDecision | None) -> bytes:
        if route is None:
            return b"null"
        due = route.due
        return (
            self._route_head(route.queue, route.sla)
            + (b"null" if due is None else self._quoted_instant(due))
            + b',"entered":'
            + self._quoted_instant(route.entered)
            + b"}"
        )

    def _entered(self, entered: Iterable[tuple[str, float]]) -> bytes:
        instant = self.instant
        name = self._name
        return b",".join(name(stage) + f':"{instant(at)}"'.encode() for stage, at in entered)

    def line(self, decision: Decision) -> bytes:
        """The decision's JSON line (with its newline)."""
        account_scores = decision.account_scores
        return b"".join(
            (
                b'{"id":',
                orjson.dumps(decision.id),
                b"" if account_scores is None else b',"account":' + orjson.dumps(decision.account),
                self._as_of_bytes(decision.as_of),
                self._name(decision.stage),
                b',"scores":',
                self._scores(decision.scores),
                b""
                if account_scores is None
                else b',"account_scores":' + self._scores(account_scores),
                b',"disqualified":',
                self._list(decision.disqualified),
                b',"route":',
                self._route(decision.route),
                b',"entered":{',
                self._entered(decision.entered.items()),
                b"}",
                self._policy_tail(decision.policy),
            )
        )

    def walked_line(
        self,
        meta: PolicyMeta,
        lead: Lead,
        as_of: float,
        entries: Entries,
        reasons: Sequence[str],
        values: tuple[Any, ...],
        route: Callable[[int, float, float], int],
    ) -> bytes:
        """The line of the decision that a generated walk reached (engine/fused.py: a policy
        without accounts): :meth:`Entries.finish <mqldsl.engine.helpers.Entries.finish>`
        and :meth:`line` in one, without the objects in between."""
        label = entries.label
        assert label is not None
        handoff = None
        if label != DISQUALIFIED:
            at = entries.entered[label]
            handoff = route_decision(meta, route(meta.stages.index(label), at, NEG), at)
        value = values.__getitem__
        return b"".join(
            (
                b'{"id":',
                orjson.dumps(lead.id),
                self._as_of_bytes(as_of),
                self._name(label),
                b',"scores":',
                self._scores(dict(zip(meta.declared, map(value, meta.places[0]), strict=True))),
                b',"disqualified":',
                self._list(tuple(reasons)),
                b',"route":',
                self._route(handoff),
                b',"entered":{',
                self._entered(sorted(entries.entered.items(), key=_SECOND)),
                b"}",
                self._policy_tail(meta.policy),
            )
        )

    def line_with(self, decision: Decision, extra: dict[str, Any]) -> bytes:
        """The decision's line with more keys after its own (an explanation)."""
        data = decision.to_json()
        data.update(extra)
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS) + b"\n"


_SECOND = operator.itemgetter(1)

__all__ = ["DecisionEncoder"]
