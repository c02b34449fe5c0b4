"""Comparing two runs over the same journeys (`whatif`): every metric side
by side with its change and a 95% interval (over scenario replications or a
bootstrap of the leads), the stage transitions, what the change is
attributed to, and a few explained sample leads."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.simulation.intervals import mean_intervals
from mqldsl.simulation.metrics import MAIN
from mqldsl.simulation.records import LeadRecord
from mqldsl.simulation.results import (
    Attribution,
    MetricDelta,
    SampleLead,
    SampleOutcome,
    Transition,
    WhatIfReport,
)
from mqldsl.simulation.run import Run

Metrics = dict[str, Any]
Samples = list[tuple[Metrics, Metrics]]  # (base, proposed) metrics per replication

NUMERIC = [*MAIN, "buyers", "median_hours_to_mql", "sdr_utilisation", "queue_length"]


def _pct(diff: float | None, base: float | None) -> float | None:
    return round(100.0 * diff / base, 2) if diff is not None and base else None


def journeys_delta(
    base: Metrics, proposed: Metrics, intervals: dict[str, list[float] | None]
) -> dict[str, MetricDelta]:
    """Over journeys: each metric on the whole data under both policies, the
    difference, and its paired bootstrap interval (``intervals``)."""
    delta: dict[str, MetricDelta] = {}
    for name in NUMERIC:
        b, p = base.get(name), proposed.get(name)
        diff = None if b is None or p is None else round(p - b, 4)
        delta[name] = MetricDelta(b, p, diff, _pct(diff, b), intervals.get(name))
    return delta


def scenario_delta(samples: Samples) -> dict[str, MetricDelta]:
    """Over a scenario's replications: each metric's mean under both
    policies, the mean difference, the confidence interval of that mean
    and the prediction interval of one replication (the replications where
    the metric has data under both policies)."""
    delta: dict[str, MetricDelta] = {}
    for name in NUMERIC:
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


def _rule_keys(
    base: CheckedPolicy, proposed: CheckedPolicy
) -> tuple[dict[tuple[str, int], str], dict[tuple[str, int], str]]:
    """A name for every rule of both policies; a rule matched across the
    versions (as `diff` matches them: by label, identity, shape, position)
    has the same name in both, as written in the proposed policy."""
    from mqldsl.analysis.matching import match_rules
    from mqldsl.language.notation import rule_text

    old_keys: dict[tuple[str, int], str] = {}
    new_keys: dict[tuple[str, int], str] = {}
    for name in sorted(set(base.scores) | set(proposed.scores)):
        old_rules = base.scores[name].node.rules or () if name in base.scores else ()
        new_rules = proposed.scores[name].node.rules or () if name in proposed.scores else ()
        pairs, removed, added = match_rules(tuple(old_rules), tuple(new_rules))
        for i, j in pairs:
            key = f"{name}: {new_rules[j].label or rule_text(new_rules[j])}"
            old_keys[(name, i)] = new_keys[(name, j)] = key
        for i in removed:
            old_keys[(name, i)] = (
                f"{name}: {old_rules[i].label or rule_text(old_rules[i])} (removed)"
            )
        for j in added:
            new_keys[(name, j)] = f"{name}: {new_rules[j].label or rule_text(new_rules[j])} (added)"
    return old_keys, new_keys


def _rule_points(keys: dict[tuple[str, int], str], result: Any) -> dict[str, float]:
    points: dict[str, float] = {}
    for name, parts in (result.contributions or {}).items():
        for index, given in enumerate(parts):
            key = keys[(name, index)]
            points[key] = points.get(key, 0.0) + given
    return points


def attribution(
    base_model: CheckedPolicy,
    proposed_model: CheckedPolicy,
    base: Run,
    proposed: Run,
    changed: list[str],
) -> list[Attribution]:
    """For the leads whose outcome changed: which rules gave different points,
    and which stage conditions differ between the policies."""
    from mqldsl.language.notation import expr

    counts: Counter[str] = Counter()
    old_keys, new_keys = _rule_keys(base_model, proposed_model)
    for lead_id in changed:
        if lead_id not in base.kept or lead_id not in proposed.kept:
            continue
        a = _rule_points(old_keys, base.kept[lead_id][1])
        b = _rule_points(new_keys, proposed.kept[lead_id][1])
        for key in sorted(set(a) | set(b)):
            if abs(a.get(key, 0.0) - b.get(key, 0.0)) > 1e-9:
                counts[f"rule {key}"] += 1
    conditions: list[Attribution] = []
    base_stages = {s.name: s for s in base_model.stages.stages}
    for stage in proposed_model.stages.stages:
        old = base_stages.get(stage.name)
        old_text = expr(old.condition) if old is not None and old.condition is not None else None
        new_text = expr(stage.condition) if stage.condition is not None else None
        if old_text != new_text:
            conditions.append(Attribution(f"stage {stage.name} condition", old_text, new_text))
    params: list[Attribution] = []
    old_params, new_params = base.report.policy.params, proposed.report.policy.params
    for name in sorted(set(old_params) | set(new_params)):
        old, new = old_params.get(name), new_params.get(name)
        if old != new:
            params.append(Attribution(f"param {name}", old, new))
    rules = [
        Attribution(key, leads=count)
        for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return params + conditions + rules


def whatif_report(
    base_model: CheckedPolicy,
    proposed_model: CheckedPolicy,
    base: Run,
    proposed: Run,
    delta: dict[str, MetricDelta],
    explain: Callable[[CheckedPolicy, Any, Any], str],
) -> WhatIfReport:
    """The what-if report of two runs over the same leads with the metrics
    compared in ``delta``; ``explain(model, lead, result)`` gives the sample
    leads' text. The leads whose stage changed are taken in id order."""
    changed = sorted(
        a.id for a, b in zip(base.records, proposed.records, strict=True) if a.stage != b.stage
    )
    sample_leads = []
    for lead_id in changed[:3]:
        if lead_id in base.kept and lead_id in proposed.kept:
            lead, a = base.kept[lead_id]
            _, b = proposed.kept[lead_id]
            sample_leads.append(
                SampleLead(
                    lead_id,
                    SampleOutcome(
                        a.decision.stage,
                        dict(a.decision.scores),
                        explain(base_model, lead, a),
                    ),
                    SampleOutcome(
                        b.decision.stage,
                        dict(b.decision.scores),
                        explain(proposed_model, lead, b),
                    ),
                )
            )
    return WhatIfReport(
        base=base.report,
        proposed=proposed.report,
        delta=delta,
        transitions=transitions(base.records, proposed.records),
        changed_leads=len(changed),
        attribution=attribution(base_model, proposed_model, base, proposed, changed),
        samples=sample_leads,
    )


__all__ = [
    "NUMERIC",
    "attribution",
    "journeys_delta",
    "scenario_delta",
    "transitions",
    "whatif_report",
]
