"""The score distributions of a simulate report (docs/reports.md): per
score, a 20-bin histogram of buyers and of the other leads at the as-of
instant and at the instant each lead became an MQL (its handoff), on the
same bins, with the thresholds the stage conditions compare the score with."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.simulation.records import LeadRecord

BINS = 20


def thresholds(model: CheckedPolicy, params: dict[str, Any]) -> dict[str, list[tuple[str, float]]]:
    """Constants that stage conditions compare scores with (for the charts)."""
    from mqldsl.analysis.model import numeric_constant
    from mqldsl.language import ast
    from mqldsl.language.ast import walk

    def constant(node: ast.Expr) -> float | None:
        if (
            isinstance(node, ast.Name)
            and node.name in params
            and model.refs.get(id(node)) is not None
        ):
            value = params[node.name]
            return (
                float(value)
                if isinstance(value, int | float) and not isinstance(value, bool)
                else None
            )
        return numeric_constant(model, node)

    found: dict[str, list[tuple[str, float]]] = {}
    for stage in model.stages.stages:
        if stage.condition is None:
            continue
        for node in walk(stage.condition):
            if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
                ref = model.refs.get(id(node.left))
                value = constant(node.right)
                if ref is not None and ref.kind == "score" and value is not None:
                    entry = (f"{stage.name}: {node.op} {value:g}", value)
                    if entry not in found.setdefault(ref.name, []):
                        found[ref.name].append(entry)
    return found


def distributions(
    model: CheckedPolicy, records: Sequence[LeadRecord], params: dict[str, Any]
) -> dict[str, Any]:
    """Per score with a value: ``edges`` (21 values cutting its range into 20
    equal bins, the last one closed), ``buyers`` and ``others`` (leads per bin
    at the as-of instant), ``thresholds``, and ``at_mql``: the same bins
    counted with each MQL's score at its handoff (``leads``: the MQLs with a
    value then; None when none has). The bins span both instants' values, so
    the two histograms line up. ``medians``: the median score of buyers and
    of the other leads at each instant (None without leads)."""
    marks = thresholds(model, params)
    result: dict[str, Any] = {}
    # a record's scores are its decision's: the lead scores (account scores are not per lead)
    for index, name in enumerate(model.lead_scores):
        now = _valued(records, index, lambda r: r.scores)
        at_mql = _valued(
            [r for r in records if r.handoff is not None], index, lambda r: r.mql_scores
        )
        values = [v for v, _ in now] + [v for v, _ in at_mql]
        if not values:
            continue
        low, high = min(values), max(values)
        width = (high - low) / BINS if high > low else 1.0
        entry: dict[str, Any] = {"edges": [round(low + k * width, 4) for k in range(BINS + 1)]}
        entry.update(_counts(now, low, width))
        entry["thresholds"] = marks.get(name, [])
        entry["at_mql"] = {**_counts(at_mql, low, width), "leads": len(at_mql)} if at_mql else None
        entry["medians"] = {"as_of": _medians(now), "at_mql": _medians(at_mql)}
        result[name] = entry
    return result


def _valued(records: Sequence[LeadRecord], index: int, scores: Any) -> list[tuple[float, bool]]:
    """(score, buyer) of the records with a value of score ``index``."""
    pairs = []
    for record in records:
        values = scores(record)
        if index < len(values) and values[index] is not None:
            pairs.append((values[index], bool(record.buyer)))
    return pairs


def _counts(values: list[tuple[float, bool]], low: float, width: float) -> dict[str, list[int]]:
    buyers = [0] * BINS
    others = [0] * BINS
    for value, buyer in values:
        slot = min(int((value - low) / width), BINS - 1)
        (buyers if buyer else others)[slot] += 1
    return {"buyers": buyers, "others": others}


def _medians(values: list[tuple[float, bool]]) -> dict[str, float | None]:
    def median(group: list[float]) -> float | None:
        return round(statistics.median(group), 4) if group else None

    return {
        "buyers": median([v for v, buyer in values if buyer]),
        "others": median([v for v, buyer in values if not buyer]),
    }


__all__ = ["BINS", "distributions", "thresholds"]
