"""What the metrics need of one lead's evaluation (by either engine): a
:class:`LeadRecord` per lead, with its ground truth read as it stood at the
as-of instant (SPEC §14.1, no time travel): an outcome dated after the as-of
instant is not an SQL or a win at that instant."""

from __future__ import annotations

import bisect
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.calendars import route_deadlines
from mqldsl.engine.runtime import Decision, Event, Handoff, Lead, parse_instant


@dataclass(frozen=True)
class TouchRequest:
    """A handoff that asks sales for a touch (SPEC §8, §14): at ``at`` to ``queue`` with an
    SLA of ``sla`` seconds (None: no SLA) due at ``due`` (working time for a business SLA,
    SPEC §8.1); ``touch`` is the first touch the sales replay gave it (None: none, or no
    replay)."""

    at: float
    queue: str
    sla: float | None
    touch: float | None = None
    due: float | None = None


@dataclass(frozen=True)
class LeadRecord:
    id: str
    stage: str
    disqualified: tuple[str, ...]
    handoff: float | None  # first instant at the MQL stage or later
    queue: str | None
    sla: float | None
    buyer: bool | None
    window_closes: float | None
    first_event: float | None
    truth_sql: bool | None  # from real data: the lead became an SQL
    touch: float | None = None
    sql: bool = False
    segment: str | None = None
    scores: tuple[Any, ...] = ()
    reached_sql: bool | None = None  # None: the policy has no SQL stage
    known_from: float | None = None  # truth.created_at, else the first event; None: no time
    outcome_after: bool = False  # a truth outcome (sql_at, won_at) dated after the as-of
    last_event: float | None = None
    # When the handoff's first touch is due (SPEC §8.1: counted in working time for a
    # business SLA); None: no SLA, or a record made without it (handoff + sla then).
    due: float | None = None
    # The scores at the handoff, for the report's charts (run.with_mql_scores;
    # () when not computed, as in tune's cache, so left out of comparisons).
    mql_scores: tuple[Any, ...] = field(default=(), compare=False)
    # The account the lead counts in for the account metrics (SPEC §9): ("account", id), or
    # ("lead", id) for a lead without an account (an account of its own); None when the
    # policy has no account fields or account scores (no account metrics).
    account: tuple[str, str] | None = None
    # Every other handoff (SPEC §8), in time order: each a further request for a touch,
    # besides the MQL handoff (``handoff``, ``queue``, ``touch``): a new stay in a routed
    # stage (after a fall back, a recycle or a spell of `disqualified`), the entry into a
    # later routed stage (`route sql ...`), and each hot event's (`route ... on EVENT`).
    requests: tuple[TouchRequest, ...] = ()

    def touch_requests(self) -> list[TouchRequest]:
        """Every request for a touch this lead made: its MQL handoff (when routed to a
        queue), then its other handoffs."""
        found = list(self.requests)
        if self.handoff is not None and self.queue is not None:
            request = TouchRequest(self.handoff, self.queue, self.sla, self.touch, self.due)
            found.insert(0, request)
        return found


class Evaluated(Protocol):
    """A lead's evaluation by either engine (EvalResult, SqlDecision): what a record reads."""

    @property
    def decision(self) -> Decision: ...
    @property
    def first_entries(self) -> Mapping[str, tuple[float, int]]: ...
    @property
    def handoffs(self) -> tuple[Handoff, ...]: ...


def record_of(
    model: CheckedPolicy,
    lead: Lead,
    result: Evaluated,
    mql_index: int,
    sql_index: int | None,
    segment_field: str | None = None,
) -> LeadRecord:
    """:func:`lead_record` of an evaluation, with all its handoffs (each a touch request)."""
    return lead_record(
        model,
        lead,
        result.decision,
        result.first_entries,
        mql_index,
        sql_index,
        segment_field,
        result.handoffs,
    )


def lead_record(
    model: CheckedPolicy,
    lead: Lead,
    decision: Decision,
    first_entries: Mapping[str, tuple[float, int]],
    mql_index: int,
    sql_index: int | None,
    segment_field: str | None = None,
    handoffs: Sequence[Handoff] = (),
) -> LeadRecord:
    """What the metrics need of one lead's evaluation (by either engine); ``handoffs``: the
    result's handoffs (every entry into a routed stage and every hot event's, up to the
    as-of instant), each a request for a touch."""
    names = model.stage_names
    routes = model.routes
    handoff = None
    queue = None
    sla = due = None
    for stage, (at, route_index) in sorted(first_entries.items(), key=lambda kv: kv[1][0]):
        if names.index(stage) >= mql_index:
            handoff = at
            if route_index >= 0:
                queue = routes[route_index].queue
                deadline = route_deadlines(model)[route_index]
                if deadline is not None:
                    sla, due = deadline.seconds, deadline.due(at)
            break
    # Every handoff is a request for a touch (SPEC §8): each entry into a routed stage (the
    # first, and every new stay after a fall back, a recycle or a spell of `disqualified`)
    # and each hot event's. At one instant the last stands (an `on` route over the entry's);
    # the one at the MQL handoff's instant is the MQL handoff's queue and SLA.
    standing: dict[float, TouchRequest] = {}
    deadlines = route_deadlines(model) if handoffs else ()
    for h in handoffs:
        deadline = deadlines[h.route]
        seconds = deadline.seconds if deadline is not None else None
        made_due = deadline.due(h.at) if deadline is not None else None
        standing[h.at] = TouchRequest(h.at, routes[h.route].queue, seconds, due=made_due)
    if handoff is not None and handoff in standing:
        over = standing.pop(handoff)
        queue, sla, due = over.queue, over.sla, over.due
    requests = tuple(standing.values())
    truth = lead.truth or {}
    as_of = decision.as_of
    buyer = truth.get("buyer") if isinstance(truth.get("buyer"), bool) else None
    closes = truth.get("window_closes")
    sql_at = _instant(truth.get("sql_at"))
    won_at = _instant(truth.get("won_at"))
    # An outcome dated after the as-of instant had not happened yet: the lead
    # was not an SQL then, and a buyer known only by a later SQL or win date
    # was not (yet) a win.
    later = any(t is not None and t > as_of for t in (sql_at, won_at))
    truth_sql = None
    if "sql_at" in truth:
        truth_sql = truth["sql_at"] is not None and not (sql_at is not None and sql_at > as_of)
    first_seen = lead.events[0].at if lead.events else None
    # (what was known at the as-of instant: a first event after it is not the lead's first
    # recorded event then, SPEC §14.1)
    first_event = first_seen if first_seen is not None and first_seen <= as_of else None
    created = _instant(truth.get("created_at"))
    return LeadRecord(
        id=lead.id,
        stage=decision.stage,
        disqualified=decision.disqualified,
        handoff=handoff,
        queue=queue,
        sla=sla,
        due=due,
        buyer=None if buyer is None else buyer and not later,
        window_closes=_instant(closes),
        first_event=first_event,
        truth_sql=truth_sql,
        segment=_segment(lead, truth, segment_field),
        scores=tuple(decision.scores.values()),
        reached_sql=None
        if sql_index is None
        else any(names.index(stage) >= sql_index for stage in first_entries),
        known_from=created if created is not None else first_seen,
        outcome_after=later,
        last_event=_last_event(lead.events, as_of),
        requests=requests,
        account=account_key(lead) if model.uses_accounts else None,
    )


def recalled(record: LeadRecord) -> bool:
    """A real buyer who became an MQL before its buying window closed (a handoff at the very
    instant it closes is not before it; SPEC §14)."""
    return (
        record.buyer is True
        and record.handoff is not None
        and (record.window_closes is None or record.handoff < record.window_closes)
    )


def counts_as_sql(record: LeadRecord) -> bool:
    """On real journeys, whether an MQL is an SQL at the as-of instant: its `truth.sql_at`
    when it has the key (not after the as-of instant), else whether it reached the policy's
    SQL stage (lead by lead: a partial export dates some SQLs only)."""
    return record.truth_sql if record.truth_sql is not None else bool(record.reached_sql)


def sqls_known(records: Sequence[LeadRecord]) -> bool:
    """Whether real journeys say what an SQL is: some MQL carries `truth.sql_at`, or the
    policy has an SQL stage (:func:`counts_as_sql` then tells each MQL)."""
    return any(r.handoff is not None and r.truth_sql is not None for r in records) or (
        bool(records) and records[0].reached_sql is not None
    )


def hours_to_mql(record: LeadRecord) -> float | None:
    """Hours from the lead's first recorded event (up to the as-of instant) to its MQL
    handoff; None without either. A lead that a colleague's event qualified before its own
    first event (SPEC §9) was an MQL when it first showed: 0 hours."""
    if record.handoff is None or record.first_event is None:
        return None
    return max(0.0, record.handoff - record.first_event) / 3600


def timed(record: LeadRecord, as_of: float) -> bool:
    """Whether the record's MQL handoff has a real time: an event's (its own, or with
    accounts a colleague's), not the as-of instant at which a lead without any event is
    decided."""
    return record.handoff is not None and (record.first_event is not None or record.handoff < as_of)


def _last_event(events: Sequence[Event], as_of: float) -> float | None:
    """The time of the last of ``events`` (in time order) at or before ``as_of``."""
    found = bisect.bisect_right(events, as_of, key=_AT)
    return events[found - 1].at if found else None


_AT = operator.attrgetter("at")


def account_key(lead: Lead) -> tuple[str, str]:
    """The account a lead counts in (SPEC §9): its account, or itself without one."""
    return ("account", lead.account) if lead.account is not None else ("lead", lead.id)


def _segment(lead: Lead, truth: Any, field: str | None) -> str | None:
    if field is not None:
        value = lead.profile.get(field)
        if isinstance(value, frozenset):
            return ", ".join(sorted(value)) or "(none)"
        return "(missing)" if value is None else str(value)
    return str(truth["persona"]) if "persona" in truth else None


def arrival(lead: Lead) -> float | None:
    """When the lead came to exist: ``truth.created_at`` when the journey has it, else its
    first event; None when the journey dates neither (the time-travel rule of SPEC 14.1)."""
    created = _instant((lead.truth or {}).get("created_at"))
    if created is not None:
        return created
    return lead.events[0].at if lead.events else None


def _instant(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_instant(value)
    except ValueError:
        return None


__all__ = ["LeadRecord", "account_key", "arrival", "lead_record"]
