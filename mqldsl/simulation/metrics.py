"""The funnel metrics of a run (SPEC §14), each defined in
:data:`DEFINITIONS`; a metric with no data is None (null in JSON), never a
made-up number. Plus the backtest against real outcomes, the score
distributions, and the simulate report that gathers them."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import DISQUALIFIED
from mqldsl.engine.runtime import format_instant
from mqldsl.language import ast
from mqldsl.simulation.account_metrics import DEFINITIONS as ACCOUNT_DEFINITIONS
from mqldsl.simulation.account_metrics import account_metrics, account_report, uses_accounts
from mqldsl.simulation.distributions import distributions, thresholds
from mqldsl.simulation.records import (
    LeadRecord,
    TouchRequest,
    counts_as_sql,
    hours_to_mql,
    recalled,
    sqls_known,
    timed,
)
from mqldsl.simulation.results import PolicySummary, SimulationReport
from mqldsl.simulation.sales import HOUR

DEFINITIONS: dict[str, str] = {
    "mqls": "leads that reached the MQL stage (or a later one) at any instant up to the as-of instant",
    "mqls_per_week": "MQLs by the ISO week of their handoff (the first instant they reached the MQL stage or later), every week from the first handoff's to the as-of instant's; a week the as-of instant ends early is marked partial; empty when the data has no real event times",
    "buyers": "leads whose ground truth says they are real buyers, as known at the as-of instant (a buyer whose SQL or won date is later is not yet one)",
    "mql_precision": "share of MQLs that are real buyers",
    "buyer_recall": "share of real buyers who became MQL before their buying window closed",
    "median_hours_to_mql": "median hours from a lead's first recorded event (up to the as-of instant) to its MQL handoff (0 for a lead a colleague's event qualified before its own first event)",
    "sqls": "MQL handoffs that became sales qualified by the as-of instant: for scenarios, those the sales replay accepted (moved into the policy's SQL stage when it has one); for real journeys, lead by lead, those with a `truth.sql_at` not after the as-of instant, and among the leads without one those that reached the SQL stage",
    "mql_to_sql": "SQLs divided by MQLs",
    "sla_met": "share of handoffs with an SLA whose first touch came within the SLA (handoffs still waiting at the as-of instant count once their deadline has passed); every handoff asks for a touch: each MQL handoff, each later entry into a routed stage (a new stay after falling back, a recycle or a spell of disqualified too), and each handoff a hot event makes (`route ... on EVENT`); a touch answers every request of that lead in its queue made at or before it",
    "median_hours_to_first_touch": "median hours from handoff to the first sales touch after it, over touched handoffs",
    "sdr_utilisation": "touches made by the SDR queues (those of the routes of the stages before the SQL stage; every queue when the policy has none) divided by the touches they could make in the period (a touch that answers several requests of one lead counts once)",
    "queue_length": "handoffs still waiting for a touch at the as-of instant",
}
MAIN = [
    "mqls",
    "mql_precision",
    "buyer_recall",
    "sqls",
    "mql_to_sql",
    "sla_met",
    "median_hours_to_first_touch",
]
#: Every single-number metric: what a what-if compares and a --fail-if gate may name.
NUMERIC = [*MAIN, "buyers", "median_hours_to_mql", "sdr_utilisation", "queue_length"]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


WEEK = 7 * 24 * HOUR


def has_event_times(records: Sequence[LeadRecord]) -> bool:
    """Whether the data has real event times: the events of its leads (up to
    the as-of instant) fall on at least two different instants. An export of
    totals has none (X Education: no events at all), and an import that gives
    every event the export's instant has one."""
    seen: set[float] = set()
    for r in records:
        for at in (r.first_event, r.last_event):
            if at is not None:
                seen.add(at)
                if len(seen) > 1:
                    return True
    return False


def _week_start(at: float) -> float:
    day = dt.datetime.fromtimestamp(at, dt.UTC).date()
    monday = day - dt.timedelta(days=day.weekday())
    return dt.datetime.combine(monday, dt.time(), tzinfo=dt.UTC).timestamp()


def _week_name(start: float) -> str:
    year, week, _ = dt.datetime.fromtimestamp(start, dt.UTC).isocalendar()
    return f"{year:04d}-W{week:02d}"


def weekly_series(
    records: Sequence[LeadRecord], as_of: float
) -> tuple[list[dict[str, Any]], str | None]:
    """MQLs per ISO week of their handoff, every week from the first
    handoff's to the week of the data's latest instant (its latest event or
    timed handoff, at most the as-of instant; weeks without MQLs count 0; a
    week that this instant has just opened is left out when it holds none),
    each flagged ``partial`` when the as-of instant falls before its end;
    and a note on what the series leaves out, or why there is none. Only
    MQLs with a real handoff time count (:func:`~mqldsl.simulation.records.timed`: a
    lead without events up to the as-of instant, qualified by its profile at that instant,
    has none; with accounts a colleague's event gives one). Data without real event times
    (:func:`has_event_times`) gets no series."""
    mqls = [r for r in records if r.handoff is not None]
    if not has_event_times(records):
        if not mqls:
            return [], None
        return [], (
            "not shown: the data has no real event times (its events fall on fewer "
            "than two instants), so a handoff's week would be made up"
        )
    counts: Counter[float] = Counter()
    untimed = 0
    for r in mqls:
        assert r.handoff is not None
        if not timed(r, as_of):
            untimed += 1
        else:
            counts[_week_start(r.handoff)] += 1
    note = (
        f"{untimed} MQL{'s' if untimed != 1 else ''} of leads without events "
        "(no real handoff time) left out of the weekly series"
        if untimed
        else None
    )
    if not counts:
        return [], note
    end = max(
        max(r.last_event for r in records if r.last_event is not None),
        max(r.handoff for r in mqls if r.handoff is not None and timed(r, as_of)),
    )
    last = _week_start(end)
    if last == end and not counts.get(last):
        last -= WEEK  # the data's last instant opens a week: the series ends the week before
    after = round((_week_start(as_of) - last) / WEEK) - (as_of == _week_start(as_of))
    if after > 0:
        day = dt.datetime.fromtimestamp(end, dt.UTC).date().isoformat()
        gap = (
            f"the series ends with {_week_name(last)}, the week of the data's latest event "
            f"({day}); the {after} week{'s' if after != 1 else ''} after it, up to the as-of "
            "instant, have no events to count"
        )
        note = f"{note}; {gap}" if note else gap
    rows = []
    start = min(counts)
    while start <= last:
        # whole days: a week is 7 * 24 hours in UTC (no daylight saving)
        rows.append(
            {
                "week": _week_name(start),
                "mqls": counts.get(start, 0),
                "partial": as_of < start + WEEK,
            }
        )
        start += WEEK
    return rows, note


def metrics(
    records: Sequence[LeadRecord],
    as_of: float,
    capacity: dict[str, float] | None,
    simulated_sales: bool,
) -> dict[str, Any]:
    """Every metric of :data:`DEFINITIONS` over the records; those that need
    the sales replay are None unless ``simulated_sales`` (``capacity``: the
    replay's slot and touch counts)."""
    mqls = [r for r in records if r.handoff is not None]
    with_truth = [r for r in records if r.buyer is not None]
    buyers = [r for r in with_truth if r.buyer]
    mql_buyers = [r for r in mqls if r.buyer]
    found = [r for r in buyers if recalled(r)]
    if simulated_sales:
        sqls = sum(1 for r in mqls if r.sql)
    elif sqls_known(records):
        sqls = sum(1 for r in mqls if counts_as_sql(r))
    else:
        sqls = None
    # Every handoff asks for a touch (SPEC §8): the MQL handoffs routed to a queue and every
    # other handoff (entries, re-entries, hot events'), each judged against its own SLA.
    requests = [q for r in records for q in r.touch_requests()]
    with_sla = [q for q in requests if q.sla is not None]
    judged = [
        q for q in with_sla if q.touch is not None or (q.sla is not None and _deadline(q) <= as_of)
    ]
    met = [
        q for q in judged if q.touch is not None and q.sla is not None and q.touch <= _deadline(q)
    ]
    touched = [q for q in requests if q.touch is not None]
    waiting = [q for q in requests if q.touch is None]
    result: dict[str, Any] = {
        "mqls": len(mqls),
        "mqls_per_week": weekly_series(records, as_of)[0],
        "buyers": len(buyers) if with_truth else None,
        "mql_precision": _share(len(mql_buyers), len([r for r in mqls if r.buyer is not None]))
        if with_truth
        else None,
        "buyer_recall": _share(len(found), len(buyers)) if with_truth else None,
        # (data without real event times has no durations either: SPEC §14.1, "only what
        # the data supports"; its weekly series is withheld alike)
        "median_hours_to_mql": _median(
            [hours for r in mqls if (hours := hours_to_mql(r)) is not None]
        )
        if has_event_times(records)
        else None,
        "sqls": sqls,
        "mql_to_sql": _share(sqls, len(mqls)) if sqls is not None else None,
        "sla_met": _share(len(met), len(judged)) if simulated_sales else None,
        "median_hours_to_first_touch": _median(
            [(q.touch - q.at) / HOUR for q in touched if q.touch is not None]
        )
        if simulated_sales
        else None,
        "sdr_utilisation": (
            round(capacity["touches"] / capacity["slots"], 4)
            if capacity and capacity["slots"]
            else None
        )
        if simulated_sales
        else None,
        "queue_length": len(waiting) if simulated_sales else None,
    }
    if uses_accounts(records):  # SPEC §9: MQAs beside MQLs, for a policy with accounts
        result.update(account_metrics(records))
    return result


def sla_by_queue(
    model: CheckedPolicy,
    records: Sequence[LeadRecord],
    as_of: float,
    simulated_sales: bool,
) -> dict[str, Any]:
    """SLA compliance per queue named by the policy's routes (in the order
    they first appear): the handoffs routed to it (every request for a touch: MQL handoffs,
    later entries and re-entries, those hot events made), those with an SLA,
    and, when the sales replay gave first touches, how many were judged
    (touched, or still waiting past the deadline at the as-of instant), how
    many met the SLA (first touch within it), their share and how many are
    not due yet; the same rule as ``sla_met``, whose figure the queues add up
    to. Without first touches (real journeys) those are None, and ``note``
    says why."""
    slas: dict[str, list[str]] = {}
    for route in model.routes:
        texts = slas.setdefault(route.queue, [])
        text = route.sla.text() if route.sla is not None else None
        if text is not None and text not in texts:
            texts.append(text)
    requests = [q for r in records for q in r.touch_requests()]
    queues = []
    for queue, texts in slas.items():
        handoffs = [q for q in requests if q.queue == queue]
        timed = [q for q in handoffs if q.sla is not None]
        entry: dict[str, Any] = {
            "queue": queue,
            "sla": ", ".join(texts) or None,
            "handoffs": len(handoffs),
            "with_sla": len(timed),
            "judged": None,
            "met": None,
            "share": None,
            "not_due": None,
        }
        if simulated_sales:
            judged = [q for q in timed if q.touch is not None or _deadline(q) <= as_of]
            met = [q for q in judged if q.touch is not None and q.touch <= _deadline(q)]
            entry.update(
                judged=len(judged),
                met=len(met),
                share=_share(len(met), len(judged)),
                not_due=len(timed) - len(judged),
            )
        queues.append(entry)
    note = None
    if not simulated_sales and queues:
        note = (
            "not measured: these journeys carry no sales first touches (only a scenario's "
            "sales replay gives them), so whether a handoff met its SLA is unknown"
        )
    return {"queues": queues, "note": note}


def _deadline(request: TouchRequest) -> float:
    """When a request's first touch is due: its due time (working time for a business SLA,
    SPEC §8.1), or the handoff plus the SLA for a request made without one."""
    if request.due is not None:
        return request.due
    assert request.sla is not None
    return request.at + request.sla


def backtest(model: CheckedPolicy, records: Sequence[LeadRecord]) -> dict[str, Any] | None:
    """Validation against real outcomes, when the journeys carry `truth.buyer`:
    lift over the base rate, conversion by score decile and by stage, and the
    gain curve of each score (share of leads flagged, share of buyers caught)."""
    known = [r for r in records if r.buyer is not None]
    if not known:
        return None
    buyers = sum(1 for r in known if r.buyer)
    base_rate = buyers / len(known)
    mqls = [r for r in known if r.handoff is not None]
    precision = sum(1 for r in mqls if r.buyer) / len(mqls) if mqls else None
    by_stage: dict[str, dict[str, Any]] = {}
    for record in known:
        entry = by_stage.setdefault(record.stage, {"leads": 0, "buyers": 0})
        entry["leads"] += 1
        entry["buyers"] += int(bool(record.buyer))
    by_segment: dict[str, dict[str, Any]] = {}
    for record in known:
        if record.segment is None:
            continue
        entry = by_segment.setdefault(record.segment, {"leads": 0, "buyers": 0, "mqls": 0})
        entry["leads"] += 1
        entry["buyers"] += int(bool(record.buyer))
        entry["mqls"] += int(record.handoff is not None)
    for entry in [*by_stage.values(), *by_segment.values()]:
        entry["conversion"] = round(entry["buyers"] / entry["leads"], 4)
    scores: dict[str, Any] = {}
    for index, name in enumerate(model.lead_scores):  # a decision's scores (SPEC §9)
        valued = [
            (r.scores[index], bool(r.buyer))
            for r in known
            if index < len(r.scores) and r.scores[index] is not None
        ]
        if valued:
            scores[name] = deciles(valued)
    return {
        "leads_with_truth": len(known),
        "outcomes_after_as_of": sum(1 for r in known if r.outcome_after),
        "buyers": buyers,
        "base_rate": round(base_rate, 4),
        "mql_precision": round(precision, 4) if precision is not None else None,
        "lift": round(precision / base_rate, 4) if precision is not None and base_rate else None,
        "by_stage": dict(sorted(by_stage.items())),
        "by_segment": dict(sorted(by_segment.items())),
        "scores": scores,
    }


def deciles(valued: Sequence[tuple[Any, bool]]) -> dict[str, Any]:
    """Conversion by score decile and the gain curve, from (score, buyer)
    pairs. Buckets are cut on score values, never on positions, so no
    figure depends on the order of the leads: a lead's decile is
    ``10 * higher // n + 1`` where ``higher`` counts the leads scored strictly
    higher, so leads tied on a score share a decile (and a decile can be
    empty). The gain curve has a point after each non-empty decile: the
    share of leads flagged (scored at least its lowest score) and the share
    of buyers among them."""
    size = len(valued)
    by_value: dict[Any, list[int]] = {}
    for value, buyer in valued:
        entry = by_value.setdefault(value, [0, 0])
        entry[0] += 1
        entry[1] += int(buyer)
    buckets: list[dict[str, Any]] = [
        {"decile": d + 1, "leads": 0, "buyers": 0, "highest": None, "lowest": None}
        for d in range(10)
    ]
    higher = 0
    for value in sorted(by_value, reverse=True):
        leads, hits = by_value[value]
        bucket = buckets[10 * higher // size]
        bucket["leads"] += leads
        bucket["buyers"] += hits
        if bucket["highest"] is None:
            bucket["highest"] = value
        bucket["lowest"] = value
        higher += leads
    total_buyers = sum(b["buyers"] for b in buckets)
    gains = []
    flagged = caught = 0
    for bucket in buckets:
        bucket["conversion"] = (
            round(bucket["buyers"] / bucket["leads"], 4) if bucket["leads"] else None
        )
        if bucket["leads"]:
            flagged += bucket["leads"]
            caught += bucket["buyers"]
            gains.append(
                {
                    "score_at_least": bucket["lowest"],
                    "flagged": round(flagged / size, 4),
                    "buyers_caught": round(caught / total_buyers, 4) if total_buyers else None,
                }
            )
    return {"deciles": buckets, "gain": gains}


def timing(records: Sequence[LeadRecord], as_of: float, leads_after_as_of: int) -> dict[str, Any]:
    """What the as-of instant and the data's times allow (SPEC §14.1): leads
    left out because they did not exist yet, outcomes dated later (not an
    SQL or a win at the as-of instant), whether the data has real event
    times, and what the weekly series leaves out or why there is none."""
    return {
        "leads_after_as_of": leads_after_as_of,
        "outcomes_after_as_of": sum(1 for r in records if r.outcome_after),
        "event_times": has_event_times(records),
        "weekly_note": weekly_series(records, as_of)[1],
    }


def report(
    model: CheckedPolicy,
    records: Sequence[LeadRecord],
    as_of: float,
    rejected: int,
    capacity: dict[str, float] | None,
    simulated_sales: bool,
    params: dict[str, Any],
    leads_after_as_of: int = 0,
) -> SimulationReport:
    """The simulate report of docs/reports.md over the leads that existed at
    ``as_of`` (``leads_after_as_of`` more were left out)."""
    stages: dict[str, int] = {name: 0 for name in model.stage_names}
    stages[DISQUALIFIED] = 0
    reasons: Counter[str] = Counter()
    for record in records:
        stages[record.stage] = stages.get(record.stage, 0) + 1
        reasons.update(record.disqualified if record.stage == DISQUALIFIED else ())
    return SimulationReport(
        policy=PolicySummary(
            title=model.title,
            version=model.version,
            file=model.source.name,
            params={name: _plain(value) for name, value in sorted(params.items())},
            sha256=model.sha256,
        ),
        as_of=format_instant(as_of),
        leads=len(records),
        rejected=rejected,
        stages=stages,
        disqualified={d.reason: reasons.get(d.reason, 0) for d in model.disqualifiers},
        metrics=metrics(records, as_of, capacity, simulated_sales),
        definitions=DEFINITIONS | ACCOUNT_DEFINITIONS if uses_accounts(records) else DEFINITIONS,
        score_distributions=distributions(model, records, params),
        sla=sla_by_queue(model, records, as_of, simulated_sales),
        backtest=None if simulated_sales else backtest(model, records),
        timing=timing(records, as_of, leads_after_as_of),
        accounts=account_report(records),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, ast.Duration):
        return value.text()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


__all__ = [
    "DEFINITIONS",
    "MAIN",
    "backtest",
    "deciles",
    "distributions",
    "has_event_times",
    "metrics",
    "report",
    "sla_by_queue",
    "thresholds",
    "timing",
    "weekly_series",
]
