"""Simulate a policy, and compare two policies over the same journeys (what-if):
metrics side by side with the difference and a 95% interval, transitions,
attribution and sample leads; plus the `--fail-if` gate."""

from __future__ import annotations

import ast as pyast
import datetime as dt
import math
import random
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mqldsl.check.model import CheckedPolicy
from mqldsl.engine.runtime import Lead, to_seconds
from mqldsl.io.journeys import JourneyReader, RecordError
from mqldsl.simulate.generate import generate
from mqldsl.simulate.run import (
    MAIN,
    LeadRecord,
    evaluate_all,
    evaluate_parallel,
    evaluate_sql,
    metrics,
    replay_sales,
    report,
)

if TYPE_CHECKING:
    from mqldsl.sql.engine import DuckDBEngine
from mqldsl.simulate.scenario import Scenario

# Two-sided 95% Student t critical values by degrees of freedom.
_T95 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    25: 2.060,
    30: 2.042,
}
NUMERIC = [*MAIN, "buyers", "median_hours_to_mql", "sdr_utilisation", "queue_length"]


def _t95(df: int) -> float:
    if df <= 0:
        return math.nan
    usable = [k for k in _T95 if k <= df]
    return _T95[max(usable)] if df <= 30 else 1.96


@dataclass
class Run:
    """One policy over one set of journeys."""

    report: dict[str, Any]
    records: list[LeadRecord]
    kept: dict[str, Any]


def scenario_leads(
    model: CheckedPolicy, scenario: Scenario, seed: int, leads: int | None
) -> list[Lead]:
    reader = JourneyReader(model)
    result = []
    for raw in generate(scenario, seed=seed, leads=leads):
        try:
            result.append(reader.lead(raw))
        except (
            RecordError
        ) as exc:  # pragma: no cover - the scenario is validated against the policy
            raise RuntimeError(f"generated journey {raw.get('id')}: {exc}") from exc
    return result


def run_policy(
    model: CheckedPolicy,
    params: dict[str, Any],
    leads: Sequence[Lead],
    as_of: float,
    scenario: Scenario | None,
    seed: int,
    mql_stage: str,
    rejected: int = 0,
    explain_ids: set[str] | None = None,
    sql_stage: str | None = None,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
    segment_field: str | None = None,
    engine: str = "python",
    memory_limit: str | None = None,
    loaded: DuckDBEngine | None = None,
) -> Run:
    """``engine="duckdb"`` decides the leads with the SQL back end; the
    explained sample leads (``explain_ids``) always come from Python."""
    if engine == "duckdb" and explain_ids is None:
        records = evaluate_sql(
            model, params, leads, as_of, mql_stage, sql_stage, segment_field, memory_limit, loaded
        )
        kept: dict[str, Any] = {}
        if progress is not None:
            progress(len(leads))
    elif jobs > 1 and explain_ids is None and segment_field is None:
        records = evaluate_parallel(model, params, leads, as_of, mql_stage, sql_stage, jobs)
        kept = {}
    else:
        records, kept = evaluate_all(
            model, params, leads, as_of, mql_stage, explain_ids, sql_stage, progress, segment_field
        )
    capacity = None
    if scenario is not None:
        start = to_seconds(dt.datetime.combine(scenario.start, dt.time(), tzinfo=dt.UTC))
        records, capacity = replay_sales(records, scenario.sales, start, as_of, seed)
    values = {name: info.value for name, info in model.params.items()} | params
    data = report(model, records, as_of, rejected, capacity, scenario is not None, values)
    return Run(data, records, kept)


def _interval(diffs: Sequence[float]) -> list[float] | None:
    if len(diffs) < 2:
        return None
    mean = statistics.fmean(diffs)
    half = _t95(len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return [round(mean - half, 4), round(mean + half, 4)]


def _delta(
    base: dict[str, Any],
    proposed: dict[str, Any],
    samples: list[tuple[dict[str, Any], dict[str, Any]]],
) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    for name in NUMERIC:
        b, p = base["metrics"].get(name), proposed["metrics"].get(name)
        diff = None if b is None or p is None else round(p - b, 4)
        diffs = [
            q["metrics"][name] - a["metrics"][name]
            for a, q in samples
            if a["metrics"].get(name) is not None and q["metrics"].get(name) is not None
        ]
        delta[name] = {
            "base": b,
            "proposed": p,
            "diff": diff,
            "diff_pct": round(100.0 * diff / b, 2) if diff is not None and b else None,
            "ci95": _interval(diffs),
        }
    return delta


def transitions(base: Sequence[LeadRecord], proposed: Sequence[LeadRecord]) -> list[dict[str, Any]]:
    moved: Counter[tuple[str, str]] = Counter()
    for a, b in zip(base, proposed, strict=True):
        if a.stage != b.stage:
            moved[(a.stage, b.stage)] += 1
    return [
        {"from": origin, "to": target, "leads": count}
        for (origin, target), count in sorted(moved.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _rule_keys(
    base: CheckedPolicy, proposed: CheckedPolicy
) -> tuple[dict[tuple[str, int], str], dict[tuple[str, int], str]]:
    """A name for every rule of both policies; a rule matched across the
    versions (as `diff` matches them: by label, identity, shape, position)
    has the same name in both, as written in the proposed policy."""
    from mqldsl.check.compare import match_rules as _match_rules
    from mqldsl.engine.explain import rule_text

    old_keys: dict[tuple[str, int], str] = {}
    new_keys: dict[tuple[str, int], str] = {}
    for name in sorted(set(base.scores) | set(proposed.scores)):
        old_rules = base.scores[name].node.rules or () if name in base.scores else ()
        new_rules = proposed.scores[name].node.rules or () if name in proposed.scores else ()
        pairs, removed, added = _match_rules(tuple(old_rules), tuple(new_rules))
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
) -> list[dict[str, Any]]:
    """For the leads whose outcome changed: which rules gave different points,
    and which stage conditions differ between the policies."""
    from mqldsl.language.printer import expr

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
    conditions = []
    base_stages = {s.name: s for s in base_model.stages.stages}
    for stage in proposed_model.stages.stages:
        old = base_stages.get(stage.name)
        old_text = expr(old.condition) if old is not None and old.condition is not None else None
        new_text = expr(stage.condition) if stage.condition is not None else None
        if old_text != new_text:
            conditions.append(
                {"what": f"stage {stage.name} condition", "base": old_text, "proposed": new_text}
            )
    params = []
    for name in sorted(
        set(base.report["policy"]["params"]) | set(proposed.report["policy"]["params"])
    ):
        old = base.report["policy"]["params"].get(name)
        new = proposed.report["policy"]["params"].get(name)
        if old != new:
            params.append({"what": f"param {name}", "base": old, "proposed": new})
    rules = [
        {"what": key, "leads": count}
        for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return params + conditions + rules


def bootstrap_delta(
    base: Run, proposed: Run, as_of: float, draws: int, seed: int, simulated: bool
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = random.Random(seed)
    n = len(base.records)
    samples = []
    for _ in range(draws if n else 0):
        picks = [rng.randrange(n) for _ in range(n)]
        a = [base.records[i] for i in picks]
        b = [proposed.records[i] for i in picks]
        samples.append(
            (
                {"metrics": metrics(a, as_of, None, simulated)},
                {"metrics": metrics(b, as_of, None, simulated)},
            )
        )
    return samples


def whatif_report(
    base_model: CheckedPolicy,
    proposed_model: CheckedPolicy,
    base: Run,
    proposed: Run,
    samples: list[tuple[dict[str, Any], dict[str, Any]]],
    explain: Callable[[CheckedPolicy, Any, Any], str],
) -> dict[str, Any]:
    changed = [
        a.id for a, b in zip(base.records, proposed.records, strict=True) if a.stage != b.stage
    ]
    sample_leads = []
    for lead_id in changed[:3]:
        if lead_id in base.kept and lead_id in proposed.kept:
            lead, a = base.kept[lead_id]
            _, b = proposed.kept[lead_id]
            sample_leads.append(
                {
                    "id": lead_id,
                    "base": {
                        "stage": a.decision.stage,
                        "scores": dict(a.decision.scores),
                        "explanation": explain(base_model, lead, a),
                    },
                    "proposed": {
                        "stage": b.decision.stage,
                        "scores": dict(b.decision.scores),
                        "explanation": explain(proposed_model, lead, b),
                    },
                }
            )
    return {
        "base": base.report,
        "proposed": proposed.report,
        "delta": _delta(base.report, proposed.report, samples),
        "transitions": transitions(base.records, proposed.records),
        "changed_leads": len(changed),
        "attribution": attribution(base_model, proposed_model, base, proposed, changed),
        "samples": sample_leads,
    }


# ---------------------------------------------------------------- --fail-if


class FailIfError(ValueError):
    pass


def _names(report: dict[str, Any]) -> dict[str, float | None]:
    names: dict[str, float | None] = {}
    for metric, values in report["delta"].items():
        names[f"{metric}.delta"] = values["diff"]
        names[f"{metric}.delta_pct"] = values["diff_pct"]
        names[f"{metric}.base"] = values["base"]
        names[f"{metric}.proposed"] = values["proposed"]
        names[f"base.{metric}"] = values["base"]
        names[f"proposed.{metric}"] = values["proposed"]
        interval = values["ci95"]
        names[f"{metric}.ci_low"] = interval[0] if interval else None
        names[f"{metric}.ci_high"] = interval[1] if interval else None
    names["changed_leads"] = float(report["changed_leads"])
    return names


def fail_if_names(report: dict[str, Any]) -> list[str]:
    return sorted(_names(report))


def check_fail_if(expression: str, report: dict[str, Any]) -> list[str]:
    """The parts of ``expression`` that hold (empty when the gate passes)."""
    try:
        tree = pyast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise FailIfError(f"--fail-if: cannot read `{expression}`: {exc.msg}") from None
    names = _names(report)

    def dotted(node: pyast.expr) -> str:
        if isinstance(node, pyast.Name):
            return node.id
        if isinstance(node, pyast.Attribute):
            return f"{dotted(node.value)}.{node.attr}"
        raise FailIfError(f"--fail-if: unexpected `{pyast.unparse(node)}`")

    def value(node: pyast.expr) -> Any:
        if isinstance(node, pyast.BoolOp):
            parts = [value(v) for v in node.values]
            return all(parts) if isinstance(node.op, pyast.And) else any(parts)
        if isinstance(node, pyast.UnaryOp):
            inner = value(node.operand)
            if isinstance(node.op, pyast.Not):
                return not inner
            if isinstance(node.op, pyast.USub) and inner is not None:
                return -inner
            raise FailIfError(f"--fail-if: unexpected `{pyast.unparse(node)}`")
        if isinstance(node, pyast.Compare):
            left = value(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = value(right_node)
                if left is None or right is None:
                    return False  # a metric with no data never trips the gate
                ok = {
                    pyast.Gt: left > right,
                    pyast.GtE: left >= right,
                    pyast.Lt: left < right,
                    pyast.LtE: left <= right,
                    pyast.Eq: left == right,
                    pyast.NotEq: left != right,
                }.get(type(op))
                if ok is None:
                    raise FailIfError(
                        f"--fail-if: unsupported comparison in `{pyast.unparse(node)}`"
                    )
                if not ok:
                    return False
                left = right
            return True
        if isinstance(node, pyast.BinOp) and isinstance(
            node.op, pyast.Add | pyast.Sub | pyast.Mult | pyast.Div
        ):
            a, b = value(node.left), value(node.right)
            if a is None or b is None:
                return None
            if isinstance(node.op, pyast.Add):
                return a + b
            if isinstance(node.op, pyast.Sub):
                return a - b
            if isinstance(node.op, pyast.Mult):
                return a * b
            return a / b if b else None
        if (
            isinstance(node, pyast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        ):
            return node.value
        if isinstance(node, pyast.Name | pyast.Attribute):
            name = dotted(node)
            if name not in names:
                import difflib

                close = difflib.get_close_matches(name, list(names), n=1)
                hint = (
                    f"; did you mean `{close[0]}`?"
                    if close
                    else "; see docs/reports.md for the names"
                )
                raise FailIfError(f"--fail-if: unknown name `{name}`{hint}")
            return names[name]
        raise FailIfError(f"--fail-if: unexpected `{pyast.unparse(node)}`")

    body = tree.body
    parts = (
        body.values if isinstance(body, pyast.BoolOp) and isinstance(body.op, pyast.Or) else [body]
    )
    held = []
    for part in parts:
        if value(part):
            text = pyast.unparse(part)
            shown = ", ".join(f"{n} = {names[n]}" for n in sorted(names) if n in text)
            held.append(f"{text} ({shown})" if shown else text)
    return held


__all__ = [
    "FailIfError",
    "Run",
    "bootstrap_delta",
    "check_fail_if",
    "run_policy",
    "scenario_leads",
    "whatif_report",
]
