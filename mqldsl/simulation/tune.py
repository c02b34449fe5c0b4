"""`tune` as a library call (SPEC §14.2): search params for the values that
maximise a metric under constraints, fitted on one part of the leads and
reported on the held-out part too. See docs/tune.md."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mqldsl.analysis.durations import magnitude, plain
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.parallel import holds_long_lived
from mqldsl.engine.runtime import Lead, format_instant, to_seconds
from mqldsl.io.errors import InputProblem, UsageProblem
from mqldsl.simulation import gates
from mqldsl.simulation.account_metrics import NAMES as ACCOUNT_NAMES
from mqldsl.simulation.constraints import METRICS, Constraints, check_metric
from mqldsl.simulation.metrics import metrics
from mqldsl.simulation.records import LeadRecord, arrival
from mqldsl.simulation.results import named_policy
from mqldsl.simulation.run import RunSpec, replay_and_accept
from mqldsl.simulation.simulate import SimulationOptions, mql_stage, sql_stage
from mqldsl.simulation.sources import Source, load_leads, open_scenario
from mqldsl.simulation.sweep import SweepAxis, parse_sweep_param
from mqldsl.simulation.tune_cache import DecisionCache

EXHAUSTIVE_LIMIT = 2000  # combinations searched exhaustively; more go to Optuna
DEFAULT_TRIALS = 200  # Optuna trials

Json = dict[str, Any]
Values = dict[str, Any]


@dataclass(frozen=True)
class Split:
    """How the leads were split: ``method`` "none", "hash" (``fraction`` of
    the leads, chosen by a hash of their id seeded with ``seed``) or "date"
    (the leads whose first event is after ``after``)."""

    method: str
    fraction: float | None = None
    seed: int | None = None
    after: str | None = None

    def to_json(self) -> Json:
        return {
            "method": self.method,
            "fraction": self.fraction,
            "seed": self.seed,
            "after": self.after,
        }


@dataclass(frozen=True)
class TuneReport:
    """What `tune` found; :meth:`to_json` is the shape of docs/tune.md."""

    title: str
    file: str
    version: float | int | None
    as_of: str
    maximize: str
    subject_to: str
    params: list[str]
    current_values: Values
    best: Values | None
    fit: Json | None  # the best values' metrics on the fitting part
    holdout: Json | None  # ... on the held-out part (None without a holdout)
    current: Json  # {"fit": metrics, "holdout": metrics or None}
    leads: Json  # {"fit": n, "holdout": n}
    split: Split
    search: Json  # method, combinations, evaluated, cache
    curve_kind: str  # "curve" (one param) or "pareto"
    curve: list[Json]
    broken_on_holdout: list[str] = field(default_factory=list)
    closest: Json | None = None  # with no feasible candidate: the one that came closest
    output: str | None = None
    diff: list[str] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    rejected: int = field(default=0, compare=False)  # records rejected on reading, not in JSON
    summary: str | None = field(default=None, compare=False)  # N read, N used, N rejected
    sha256: str = ""  # the policy's, as its decisions name it
    source: Json | None = None  # where the leads came from, as a simulation report's
    set_values: Json = field(default_factory=dict)  # the `--set` params (not tuned), as run

    def to_json(self) -> Json:
        data: Json = {
            "policy": named_policy(self.title, self.file, self.version, self.sha256),
            "source": self.source,
            "as_of": self.as_of,
            "maximize": self.maximize,
            "subject_to": self.subject_to,
            "params": self.params,
            "set": self.set_values,
            "best": self.best,
            "fit": self.fit,
            "holdout": self.holdout,
            "current": {"values": self.current_values} | self.current,
            "broken_on_holdout": self.broken_on_holdout,
            "closest": self.closest,
            "leads": self.leads,
            "split": self.split.to_json(),
            "search": self.search,
            "curve_kind": self.curve_kind,
            "curve": self.curve,
            "output": self.output,
            "diff": self.diff,
            "notes": list(self.notes),
        }
        return plain(data)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the split


def hash_share(seed: int, lead_id: str) -> float:
    """Where a lead falls in [0, 1) for the holdout by id: the first 8 bytes
    of SHA-256 of ``"{seed}:{id}"`` over 2**64 (a lead is held out when this
    is below the fraction)."""
    digest = hashlib.sha256(f"{seed}:{lead_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_leads(
    leads: Sequence[Lead],
    holdout: float | None,
    after: float | None,
    seed: int,
    by_account: bool = False,
) -> tuple[list[bool], Split, list[str]]:
    """Per lead, whether it is held out; the split; notes. With ``by_account`` (a policy
    with accounts, SPEC §9) the hash holdout keeps each account whole: a lead with an
    account falls where ``"account ID"`` hashes."""
    notes: list[str] = []
    if holdout is not None:
        if not 0 < holdout < 1:
            raise UsageProblem(f"{holdout} is not a fraction between 0 and 1", "--holdout")
        held = [
            hash_share(
                seed,
                f"account {lead.account}" if by_account and lead.account is not None else lead.id,
            )
            < holdout
            for lead in leads
        ]
        split = Split("hash", fraction=holdout, seed=seed)
    elif after is not None:
        arrivals = [arrival(lead) for lead in leads]
        undated = sum(1 for at in arrivals if at is None)
        held = [at is not None and at > after for at in arrivals]
        split = Split("date", after=format_instant(after))
        if undated:
            notes.append(
                f"{undated} leads have neither a creation date nor an event to date them; "
                "they are in the fitting part"
            )
    else:
        return [False] * len(leads), Split("none"), notes
    option = "--holdout" if holdout is not None else "--holdout-after"
    if all(held):
        raise UsageProblem("every lead is held out; nothing is left to fit on", option)
    if not any(held):
        raise UsageProblem("no lead is held out; the holdout part is empty", option)
    return held, split, notes


# ---------------------------------------------------------------- the search


def _numbers(values: Mapping[str, Any]) -> Json:
    # the account metrics only when the run has them (a policy with accounts)
    return {name: values.get(name) for name in METRICS if name in values}


class _Evaluation:
    """Evaluates candidates: records from the cache, the sales replay of a
    scenario, then the metrics of each part."""

    def __init__(
        self,
        cache: DecisionCache,
        held: list[bool],
        as_of: float,
        replay: Callable[
            [list[LeadRecord], Values], tuple[list[LeadRecord], dict[str, float] | None]
        ],
        simulated: bool,
    ) -> None:
        self.cache = cache
        self.held = held
        self.as_of = as_of
        self.replay = replay
        self.simulated = simulated
        self.fits: dict[tuple[Any, ...], Json] = {}

    def parts(self, values: Values) -> tuple[Json, Json | None]:
        records, capacity = self.replay(self.cache.records(values), values)
        fit = [r for r, h in zip(records, self.held, strict=True) if not h]
        out = [r for r, h in zip(records, self.held, strict=True) if h]
        measured = metrics(fit, self.as_of, capacity, self.simulated)
        held = metrics(out, self.as_of, capacity, self.simulated) if out else None
        return _numbers(measured), (_numbers(held) if held is not None else None)

    def fit(self, values: Values) -> Json:
        key = tuple(values.items())
        found = self.fits.get(key)
        if found is None:
            found = self.fits[key] = self.parts(values)[0]
        return found


# The metrics only a sales replay measures (simulation.metrics: None without one).
_REPLAYED = ("sla_met", "median_hours_to_first_touch", "sdr_utilisation", "queue_length")


def _why_no_data(evaluation: _Evaluation, maximize: str) -> str:
    """Why the metric ``maximize`` is missing for every candidate, as a hint."""
    if maximize in _REPLAYED and not evaluation.simulated:
        return "SLA and first-touch metrics need a sales replay: use --scenario"
    if maximize in ("buyers", "mql_precision", "buyer_recall"):
        return "its leads have no outcome: buyer metrics need `truth` in the journeys"
    return "no candidate gives what it measures (no lead reached the MQL stage, say)"


def _distance(values: Values, current: Values, axes: Sequence[SweepAxis]) -> float:
    total = 0.0
    for axis in axes:
        sizes = [magnitude(v) for v in axis.values]
        width = (max(sizes) - min(sizes)) or 1
        gap = float(magnitude(values[axis.name])) - float(magnitude(current[axis.name]))
        total += abs(gap) / width
    return total


@holds_long_lived
def tune(
    model: CheckedPolicy,
    params: Sequence[str | SweepAxis],
    source: Source,
    maximize: str,
    subject_to: str | None = None,
    *,
    holdout: float | None = None,
    holdout_after: float | None = None,
    trials: int = DEFAULT_TRIALS,
    options: SimulationOptions | None = None,
) -> TuneReport:
    """Search ``params`` (``NAME=LO..HI[:STEP]`` specs) for the values that
    maximise ``maximize`` on the fitting part under ``subject_to``. When no
    candidate satisfies the constraints, :attr:`TuneReport.best` is None.

    Raises :class:`UsageProblem` for a bad param, metric, constraint or split.
    """
    options = options or SimulationOptions()
    if not params:
        raise UsageProblem("give at least one --param NAME=LO..HI[:STEP]", "--param")
    axes = [p if isinstance(p, SweepAxis) else parse_sweep_param(model, p) for p in params]
    names = [axis.name for axis in axes]
    if len(set(names)) != len(names):
        raise UsageProblem("a param is given twice", "--param")
    check_metric(maximize, "--maximize")
    if subject_to is not None and not subject_to.strip():
        raise UsageProblem(
            f"error[{gates.CODE}]: the expression is empty; write a condition such as "
            "`mql_precision >= 0.85`, or leave the option out",
            "--subject-to",
        )
    constraints = Constraints(subject_to)
    accounts_read = [n for n in (maximize, *constraints.metrics) if n in ACCOUNT_NAMES]
    if accounts_read and not model.uses_accounts:
        raise UsageProblem(
            f"`{accounts_read[0]}` is an account metric (SPEC §9), and the policy declares no "
            "account fields or account scores",
            "--maximize" if accounts_read[0] == maximize else "--subject-to",
        )
    if trials < 1:
        raise UsageProblem("need at least one trial", "--trials")
    stage = mql_stage(model, options.mql_stage)
    sqls = sql_stage(model, options.sql_stage)
    scenario = open_scenario(source.scenario, model) if source.scenario is not None else None
    seed = source.seed if source.seed is not None else (scenario.seed if scenario else 1)
    loaded = load_leads(model, scenario, source.journeys, seed, source.leads, source.accounts)
    as_of = source.as_of if source.as_of is not None else loaded.default_as_of
    # No time travel (SPEC 14.1): only the leads that existed at the as-of instant count.
    leads = [lead for lead in loaded.leads if (at := arrival(lead)) is None or at <= as_of]
    if not leads:  # nothing to fit on: every candidate would "satisfy" everything with zeros
        read = len(loaded.leads)
        raise InputProblem(
            [
                "error: no lead to fit on: "
                + (
                    f"none of the {read} leads read had arrived by the as-of instant "
                    f"{format_instant(as_of)} (created or first seen later); give a later "
                    "--as-of"
                    if read
                    else "no lead was read"
                )
            ]
        )
    held, split, notes = split_leads(
        leads, holdout, holdout_after, seed, by_account=model.uses_accounts
    )
    notes = list(loaded.notes) + notes
    if len(leads) < len(loaded.leads):
        notes.append(
            f"{len(loaded.leads) - len(leads)} leads did not exist yet at the as-of instant "
            "(created or first seen later); they are left out"
        )
    defaults = {name: info.value for name, info in model.params.items()}
    base = defaults | dict(options.params)
    current = {name: base[name] for name in names}
    cache = DecisionCache(model, leads, base, names, as_of, stage, sqls)
    if cache.reason is not None:
        notes.append(f"every candidate is a full run: {cache.reason}")

    def replay(
        records: list[LeadRecord], values: Values
    ) -> tuple[list[LeadRecord], dict[str, float] | None]:
        """The sales replay of a scenario, then (as `simulate` does) the accepted leads moved
        into the policy's SQL stage, so that tune's SQL figures are simulate's."""
        if scenario is None:
            return records, None
        start = to_seconds(dt.datetime.combine(scenario.start, dt.time(), tzinfo=dt.UTC))
        spec = RunSpec(
            params=base | dict(values),
            as_of=as_of,
            mql_stage=stage,
            sql_stage=sqls,
            scenario=scenario,
            seed=seed,
        )
        replayed, capacity, _, _ = replay_and_accept(
            model, base | dict(values), leads, records, spec, start, {}
        )
        return replayed, capacity

    evaluation = _Evaluation(cache, held, as_of, replay, scenario is not None)
    combinations = math.prod(len(axis.values) for axis in axes)
    if combinations <= EXHAUSTIVE_LIMIT:
        method = "exhaustive"
        candidates = [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(axis.values for axis in axes))
        ]
        for values in candidates:
            evaluation.fit(values)
    else:
        method = "optuna"
        candidates = _optuna(axes, evaluation, maximize, constraints, trials, seed)

    def rank(values: Values) -> tuple[Any, ...]:
        score = evaluation.fit(values)[maximize]
        return (
            -score,
            _distance(values, current, axes),
            tuple(magnitude(values[n]) for n in names),
        )

    if all(evaluation.fit(v)[maximize] is None for v in candidates):
        raise InputProblem(
            [
                f"error: `{maximize}` has no data on these leads for any candidate, so there is"
                f" nothing to maximise ({_why_no_data(evaluation, maximize)})"
            ]
        )
    feasible = [
        v
        for v in candidates
        if evaluation.fit(v)[maximize] is not None and constraints.holds(evaluation.fit(v))
    ]
    best = min(feasible, key=rank) if feasible else None
    current_fit, current_holdout = evaluation.parts(current)
    fit = holdout_metrics = None
    broken: list[str] = []
    closest = None
    if best is not None:
        fit, holdout_metrics = evaluation.parts(best)
        if holdout_metrics is not None:
            broken = constraints.broken(holdout_metrics)
    else:
        closest = _closest(candidates, evaluation, constraints)
    kept = [v for v in (best, current) if v is not None]
    curve_kind, curve = _curve(axes, candidates, evaluation, maximize, constraints, kept)
    return TuneReport(
        title=model.title,
        file=model.source.name,
        version=model.version,
        sha256=model.sha256,
        source=source.described(seed),
        as_of=format_instant(as_of),
        maximize=maximize,
        subject_to=constraints.expression,
        params=names,
        current_values=current,
        set_values={k: v for k, v in options.params.items() if k not in names},
        best=best,
        fit=fit,
        holdout=holdout_metrics,
        current={"fit": current_fit, "holdout": current_holdout},
        leads={"fit": held.count(False), "holdout": held.count(True)},
        split=split,
        search={
            "method": method,
            "combinations": combinations,
            "evaluated": len(evaluation.fits),
            "seed": seed,
            "cache": "full runs" if cache.reason is not None else "cached decisions",
        },
        curve_kind=curve_kind,
        curve=curve,
        broken_on_holdout=broken,
        closest=closest,
        notes=tuple(notes),
        rejected=loaded.rejected,
        summary=loaded.summary,
    )


def _closest(
    candidates: list[Values], evaluation: _Evaluation, constraints: Constraints
) -> Json | None:
    """The candidate nearest to satisfying the constraints (the smallest
    :meth:`~mqldsl.simulation.constraints.Constraints.shortfall`, then the
    first in search order): shown when none satisfies them all."""
    if not candidates:
        return None
    ranked = min(candidates, key=lambda v: constraints.shortfall(evaluation.fit(v)))
    broken = constraints.broken(evaluation.fit(ranked))
    return {"values": ranked, "broken": broken, "fit": evaluation.fit(ranked)}


def _point(values: Values, fit: Json, maximize: str, constraints: Constraints) -> Json:
    return {
        "values": values,
        "objective": fit[maximize],
        "constraints": {name: fit[name] for name in constraints.metrics},
        "feasible": fit[maximize] is not None and constraints.holds(fit),
    }


def _curve(
    axes: Sequence[SweepAxis],
    candidates: list[Values],
    evaluation: _Evaluation,
    maximize: str,
    constraints: Constraints,
    shown: Sequence[Values] = (),
) -> tuple[str, list[Json]]:
    """One param: every value tried, in order. Several: the Pareto front of
    the objective (larger is better) and the first constraint's metric (in
    the direction its bound prefers; `mqls`, fewer is better, without one)."""
    name = axes[0].name
    if len(axes) == 1:
        ordered = sorted(candidates, key=lambda v: magnitude(v[name]))
        return "curve", [_point(v, evaluation.fit(v), maximize, constraints) for v in ordered]
    if constraints.parts:
        second = constraints.parts[0].metrics[0]
        larger = constraints.parts[0].larger_is_better is not False
    else:
        second, larger = "mqls", False
    points = []
    for values in candidates:
        fit = evaluation.fit(values)
        if fit[maximize] is None or fit[second] is None:
            continue
        points.append((fit[maximize], fit[second] if larger else -fit[second], values))
    front = [
        p
        for p in points
        if not any(q[0] >= p[0] and q[1] >= p[1] and (q[0] > p[0] or q[1] > p[1]) for q in points)
    ]
    # (among candidates on one point, ``shown`` first: the proposed and current values keep
    # their row and their marks)
    front.sort(
        key=lambda p: (
            -p[0],
            -p[1],
            p[2] not in shown,
            tuple(magnitude(p[2][a.name]) for a in axes),
        )
    )
    seen: set[tuple[Any, Any]] = set()
    rows = []
    for objective, other, values in front:
        if (objective, other) in seen:
            continue  # several values give the same point: the first (ranked) stands for them
        seen.add((objective, other))
        row = _point(values, evaluation.fit(values), maximize, constraints)
        row["pareto_metric"] = second
        rows.append(row)
    return "pareto", rows


def _optuna(
    axes: Sequence[SweepAxis],
    evaluation: _Evaluation,
    maximize: str,
    constraints: Constraints,
    trials: int,
    seed: int,
) -> list[Values]:
    """Candidates chosen by Optuna's TPE sampler (seeded; constraint-aware),
    each an index into every param's grid: ``trials`` trials, one process."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tried: list[Values] = []

    def objective(trial: optuna.Trial) -> float:
        values = {a.name: a.values[trial.suggest_int(a.name, 0, len(a.values) - 1)] for a in axes}
        if values not in tried:
            tried.append(values)
        fit = evaluation.fit(values)
        trial.set_user_attr("violation", 0.0 if constraints.holds(fit) else 1.0)
        score = fit[maximize]
        return float(score) if score is not None else -1e18

    def violation(trial: optuna.trial.FrozenTrial) -> list[float]:
        return [float(trial.user_attrs.get("violation", 1.0))]

    with warnings.catch_warnings():
        # Optuna 5 prefers Trial.set_constraint; constraints_func works from 3.x to 6.x
        warnings.simplefilter("ignore", FutureWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=violation)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=trials, n_jobs=1)
    return tried


__all__ = [
    "DEFAULT_TRIALS",
    "EXHAUSTIVE_LIMIT",
    "Split",
    "TuneReport",
    "hash_share",
    "split_leads",
    "tune",
]
