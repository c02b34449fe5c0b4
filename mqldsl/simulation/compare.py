"""Comparing two runs over the same journeys (`whatif`): every metric side
by side with its change and a 95% interval (over scenario replications or a
bootstrap of the leads), the stage transitions, what the change is
attributed to, and a few explained sample leads."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.explain import Explanation
from mqldsl.simulation.account_metrics import NAMES as ACCOUNT_NAMES
from mqldsl.simulation.differences import (
    KNOCK_ON,
    UNEXPLAINED,
    Difference,
    attribute,
    differences,
    divergence,
    moved_by_any,
)
from mqldsl.simulation.intervals import mean_intervals, rounded_like
from mqldsl.simulation.metrics import NUMERIC
from mqldsl.simulation.records import LeadRecord
from mqldsl.simulation.results import (
    Attribution,
    Describe,
    MetricDelta,
    SampleLead,
    SampleOutcome,
    Transition,
    WhatIfData,
    WhatIfReport,
)
from mqldsl.simulation.run import Run

Metrics = dict[str, Any]
# How many sample leads a what-if explains (the first whose stage changed, in id order).
SAMPLE_LEADS = 3
Samples = list[tuple[Metrics, Metrics]]  # (base, proposed) metrics per replication


def _pct(diff: float | None, base: float | None) -> float | None:
    return round(100.0 * diff / base, 2) if diff is not None and base else None


def compared(base: Metrics, proposed: Metrics) -> list[str]:
    """The metrics a what-if compares: every single-number metric, and the account
    metrics (SPEC §9) when either policy has accounts."""
    extra = [n for n in ACCOUNT_NAMES if n in base or n in proposed]
    return [*NUMERIC, *extra]


def journeys_delta(
    base: Metrics,
    proposed: Metrics,
    intervals: dict[str, list[float] | None],
    exact: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, MetricDelta]:
    """Over journeys: each metric on the whole data under both policies, the
    difference, and its paired bootstrap interval (``intervals``). ``exact``: the metrics'
    values before rounding (:func:`~mqldsl.simulation.intervals.exact_values`), from which
    the difference and its share are taken where given."""
    delta: dict[str, MetricDelta] = {}
    for name in compared(base, proposed):
        b, p = base.get(name), proposed.get(name)
        if b is None or p is None:
            diff = pct = None
        elif exact and name in exact and not (isinstance(b, int) and isinstance(p, int)):
            # (a ratio or a median; a count's difference is exact as it is, a whole number)
            whole_b, whole_p = exact[name]
            diff = rounded_like(name, whole_p - whole_b)
            pct = round(100.0 * (whole_p - whole_b) / whole_b, 2) if whole_b else None
        else:
            diff = round(p - b, 4)
            pct = _pct(diff, b)
        delta[name] = MetricDelta(b, p, diff, pct, intervals.get(name))
    return delta


def scenario_delta(samples: Samples) -> dict[str, MetricDelta]:
    """Over a scenario's replications: each metric's mean under both
    policies, the mean difference, the confidence interval of that mean
    and the prediction interval of one replication (the replications where
    the metric has data under both policies)."""
    delta: dict[str, MetricDelta] = {}
    for name in compared(*samples[0]) if samples else NUMERIC:
        pairs = [
            (a[name], q[name])
            for a, q in samples
            if a.get(name) is not None and q.get(name) is not None
        ]
        if not pairs:
            delta[name] = MetricDelta(None, None, None, None, None)
            continue
        b = round(statistics.fmean(a for a, _ in pairs), 4)
        p = round(statistics.fmean(q for _, q in pairs), 4)
        spread = mean_intervals([q - a for a, q in pairs])
        diff = round(spread.mean, 4)
        delta[name] = MetricDelta(b, p, diff, _pct(diff, b), spread.ci95, spread.pi95)
    return delta


def transitions(base: Sequence[LeadRecord], proposed: Sequence[LeadRecord]) -> list[Transition]:
    """Leads by (base stage, proposed stage), for the stages that differ;
    the largest moves first."""
    moved: Counter[tuple[str, str]] = Counter()
    for a, b in zip(base, proposed, strict=True):
        if a.stage != b.stage:
            moved[(a.stage, b.stage)] += 1
    return [
        Transition(origin, target, count)
        for (origin, target), count in sorted(moved.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def outcome(record: LeadRecord) -> tuple[Any, ...]:
    """What a what-if compares of a lead: its stage, its handoff (instant,
    queue, SLA and its due time) and its disqualification reasons."""
    return (record.stage, record.handoff, record.queue, record.sla, record.due, record.disqualified)


def attribution(
    base_model: CheckedPolicy,
    proposed_model: CheckedPolicy,
    base: Run,
    proposed: Run,
    found: list[Difference],
    params: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
) -> list[Attribution]:
    """What moved each examined lead (those in both runs' ``kept``), so that
    every one of them is counted at least once (SPEC §14.1):

    - the differences that act on it at the as-of instant;
    - else, when the policies' timelines for it part earlier, the
      differences that act on it at that instant (a rule whose points
      differed then, and have since decayed alike): with ``params`` (the
      param overrides each policy ran with) the lead is decided again then;
    - else, when the policies decide it alike but the sales replay gave it
      another first touch or acceptance (a changed queue delays the
      handoffs behind it): the knock-on line (:data:`KNOCK_ON`);
    - anything left is counted as not attributed (:data:`UNEXPLAINED`).
    """
    records = ({r.id: r for r in base.records}, {r.id: r for r in proposed.records})
    evaluators = (
        None
        if params is None
        else (Evaluator(base_model, dict(params[0])), Evaluator(proposed_model, dict(params[1])))
    )
    pairs = []
    knock_on = unexplained = 0
    for lead_id in sorted(set(base.kept) & set(proposed.kept)):
        lead, a = base.kept[lead_id]
        b = proposed.kept[lead_id][1]
        parted = None if moved_by_any(found, a, b) else divergence(a, b)
        if parted is not None and evaluators is not None:
            a = evaluators[0].run(lead, parted, explain=True)
            b = evaluators[1].run(lead, parted, explain=True)
        if moved_by_any(found, a, b):
            pairs.append((a, b))
            continue
        x, y = records[0].get(lead_id), records[1].get(lead_id)
        replayed = x is not None and y is not None and (x.touch, x.sql) != (y.touch, y.sql)
        if parted is None and replayed:
            knock_on += 1
        else:
            unexplained += 1
    return attribute(
        found,
        pairs,
        [replace(KNOCK_ON, leads=knock_on), replace(UNEXPLAINED, leads=unexplained)],
    )


def stage_changed(base: Sequence[LeadRecord], proposed: Sequence[LeadRecord]) -> list[str]:
    """The ids of the leads whose stage differs between the two runs' records, in id order."""
    return sorted(a.id for a, b in zip(base, proposed, strict=True) if a.stage != b.stage)


def sample_ids(base: Sequence[LeadRecord], proposed: Sequence[LeadRecord]) -> list[str]:
    """The ids of a what-if's sample leads: the first :data:`SAMPLE_LEADS` whose stage
    changed."""
    return stage_changed(base, proposed)[:SAMPLE_LEADS]


def whatif_report(
    base_model: CheckedPolicy,
    proposed_model: CheckedPolicy,
    base: Run,
    proposed: Run,
    delta: dict[str, MetricDelta],
    explain: Callable[[CheckedPolicy, Any, Any, Mapping[str, Any]], Explanation],
    data: WhatIfData | None = None,
    params: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
    describe: Describe | None = None,
    shown: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
) -> WhatIfReport:
    """The what-if report of two runs over the same leads with the metrics
    compared in ``delta``; ``explain(model, lead, result, params)`` gives the sample
    leads' explanations, and ``describe(explanation, other_stage)`` what a report shows of
    each (why it is at its stage under one policy and not at the other's; in the JSON as
    ``why``). The leads whose stage changed are taken in id order.
    ``params`` are the param overrides each policy ran with (for the
    attribution of leads whose timelines parted before the as-of instant:
    :func:`attribution`). The attribution reads the runs' ``kept`` results (the leads as
    their journeys give them); ``shown``, when given, holds each run's results of the sample
    leads as the run left them (:func:`~mqldsl.simulation.run.explain_as_run`: with the sales
    replay's acceptance events), from which the samples are explained."""
    sample_leads = []
    results = shown or (base.kept, proposed.kept)
    changed = stage_changed(base.records, proposed.records)
    for lead_id in changed[:SAMPLE_LEADS]:
        if lead_id in results[0] and lead_id in results[1]:
            lead, a = results[0][lead_id]
            other, b = results[1][lead_id]
            told = (
                explain(base_model, lead, a, params[0] if params else {}),
                explain(proposed_model, other, b, params[1] if params else {}),
            )
            outcomes = [
                SampleOutcome(
                    x.decision.stage,
                    dict(x.decision.scores),
                    explanation.to_json(),
                    describe(explanation, other.decision.stage) if describe else [],
                )
                for x, other, explanation in ((a, b, told[0]), (b, a, told[1]))
            ]
            sample_leads.append(SampleLead(lead_id, outcomes[0], outcomes[1]))
    found = differences(
        base_model, proposed_model, base.report.policy.params, proposed.report.policy.params
    )
    moved = sum(
        1 for a, b in zip(base.records, proposed.records, strict=True) if outcome(a) != outcome(b)
    )
    return WhatIfReport(
        changes=[Attribution(d.what, d.base, d.proposed) for d in found],
        data=data,
        moved_leads=moved,
        base=base.report,
        proposed=proposed.report,
        delta=delta,
        transitions=transitions(base.records, proposed.records),
        changed_leads=len(changed),
        attribution=attribution(base_model, proposed_model, base, proposed, found, params),
        samples=sample_leads,
    )


__all__ = [
    "attribution",
    "journeys_delta",
    "outcome",
    "scenario_delta",
    "transitions",
    "whatif_report",
]
