"""The 95% intervals of a what-if (SPEC §14.1, docs/reports.md).

- Over a scenario: the point estimate of a difference is the mean over the
  replications; :func:`mean_intervals` gives the Student-t confidence
  interval of that mean and the prediction interval of one more replication
  (the range a single quarter would show).
- Over journeys: :func:`paired_bootstrap` resamples leads (or accounts) with
  replacement, the same picks for both policies, and gives the 2.5th and
  97.5th percentiles of the difference. Resampling accounts (when the policy
  reads accounts, SPEC §14.1), a drawn account brings all its leads, and
  counts once per draw in the account metrics (MQAs, account precision and
  recall). Each lead's part in every metric is
  computed once, so a draw is a few sums and weighted medians.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mqldsl.simulation.account_metrics import AccountOutcome, outcome, uses_accounts
from mqldsl.simulation.records import (
    LeadRecord,
    counts_as_sql,
    hours_to_mql,
    recalled,
    sqls_known,
)

Floats = npt.NDArray[np.float64]
MetricsOf = Callable[[Sequence[LeadRecord]], dict[str, Any]]

BOOTSTRAP_DRAWS = 1000  # seeded resamplings of real journeys
_CHUNK = 100  # draws computed at once (memory: chunk x leads floats)


# ---------------------------------------------------------------- Student t


def t_quantile(df: int, coverage: float = 0.95) -> float:
    """The t with P(|T| < t) = ``coverage`` for Student's t with ``df`` degrees of freedom
    (the two-sided critical value), from SciPy: its inverse Student t distribution
    function, the one `scipy.stats.t.ppf` calls (the same value; `scipy.stats` takes twice
    as long to import)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    from scipy.special import stdtrit  # imported when a what-if needs it: SciPy is slow to load

    return float(stdtrit(df, 0.5 + coverage / 2))


@dataclass(frozen=True)
class MeanIntervals:
    """The mean of per-replication differences, the 95% confidence interval
    of that mean and the 95% prediction interval of one replication (both
    None for fewer than two replications)."""

    mean: float
    ci95: list[float] | None
    pi95: list[float] | None


def mean_intervals(values: Sequence[float]) -> MeanIntervals:
    """mean ± t·sd/√n (confidence) and mean ± t·sd·√(1 + 1/n) (prediction),
    t the two-sided 95% Student critical value with n − 1 degrees of freedom."""
    n = len(values)
    mean = statistics.fmean(values) if values else math.nan
    if n < 2:
        return MeanIntervals(mean, None, None)
    spread = t_quantile(n - 1) * statistics.stdev(values)
    half_ci = spread / math.sqrt(n)
    half_pi = spread * math.sqrt(1 + 1 / n)
    return MeanIntervals(
        mean,
        [round(mean - half_ci, 4), round(mean + half_ci, 4)],
        [round(mean - half_pi, 4), round(mean + half_pi, 4)],
    )


# ---------------------------------------------------------------- bootstrap


@dataclass
class _Parts:
    """One run's per-lead parts of the metrics: counts (0/1 columns), ratios
    (numerator and denominator count names) and medians (the values of the
    leads that have one, with their lead positions)."""

    counts: dict[str, Floats]
    ratios: dict[str, tuple[str, str]]
    medians: dict[str, tuple[Floats, npt.NDArray[np.intp]]]
    # Per resampled unit (an account), the 0/1 columns of the account metrics (SPEC §9);
    # empty when the records carry no accounts or the units are not accounts.
    units: dict[str, Floats] = field(default_factory=dict)


def _parts(records: Sequence[LeadRecord]) -> _Parts:
    """The per-lead parts of the metrics real journeys have (those of
    :func:`mqldsl.simulation.metrics.metrics` without a sales replay)."""

    def column(test: Callable[[LeadRecord], bool]) -> Floats:
        return np.fromiter((1.0 if test(r) else 0.0 for r in records), np.float64, len(records))

    counts = {
        "mqls": column(lambda r: r.handoff is not None),
        "truth": column(lambda r: r.buyer is not None),
        "buyers": column(lambda r: r.buyer is True),
        "mql_buyers": column(lambda r: r.handoff is not None and r.buyer is True),
        "mql_known": column(lambda r: r.handoff is not None and r.buyer is not None),
        "recalled": column(recalled),
    }
    ratios = {"mql_precision": ("mql_buyers", "mql_known"), "buyer_recall": ("recalled", "buyers")}
    if sqls_known(records):  # (as metrics() counts them)
        counts["sqls"] = column(lambda r: r.handoff is not None and counts_as_sql(r))
    if "sqls" in counts:
        ratios["mql_to_sql"] = ("sqls", "mqls")
    timed = [(i, hours) for i, r in enumerate(records) if (hours := hours_to_mql(r)) is not None]
    timed.sort(key=lambda item: (item[1], item[0]))
    medians = {
        "median_hours_to_mql": (
            np.array([v for _, v in timed], dtype=np.float64),
            np.array([i for i, _ in timed], dtype=np.intp),
        )
    }
    return _Parts(counts, ratios, medians)


def _unit_parts(
    records: Sequence[LeadRecord], unit_of: npt.NDArray[np.intp], size: int
) -> dict[str, Floats]:
    """The account metrics' columns per unit, when each unit is one account (the
    bootstrap resamples accounts); empty otherwise (the records have no accounts)."""
    if not uses_accounts(records):
        return {}
    members: list[list[LeadRecord]] = [[] for _ in range(size)]
    for record, unit in zip(records, unit_of, strict=True):
        members[unit].append(record)
    keys = [{r.account for r in group} for group in members]
    if any(len(found) != 1 or None in found for found in keys):
        return {}
    found = [outcome(group[0].account, group) for group in members if group[0].account]

    def column(test: Callable[[AccountOutcome], bool]) -> Floats:
        return np.fromiter((1.0 if test(a) else 0.0 for a in found), np.float64, len(found))

    return {
        "accounts": np.ones(len(found)),
        "mqas": column(lambda a: a.mqa),
        "known": column(lambda a: a.known),
        "buyers": column(lambda a: a.buyer),
        "mqa_buyers": column(lambda a: a.mqa and a.buyer),
        "mqa_known": column(lambda a: a.mqa and a.known),
        "recalled": column(lambda a: a.buyer and a.recalled),
    }


def _unit_values(units: dict[str, Floats], weights: Floats) -> dict[str, Floats]:
    """The account metrics per draw from the unit weights (draws x accounts)."""
    sums = {name: weights @ col for name, col in units.items()}
    has_truth = sums["known"] > 0
    nan = np.full(weights.shape[0], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(sums["mqa_known"] > 0, sums["mqa_buyers"] / sums["mqa_known"], nan)
        recall = np.where(sums["buyers"] > 0, sums["recalled"] / sums["buyers"], nan)
    return {
        "accounts": sums["accounts"],
        "mqas": sums["mqas"],
        "buyer_accounts": np.where(has_truth, sums["buyers"], nan),
        "mqa_precision": np.where(has_truth, precision, nan),
        "account_recall": np.where(has_truth, recall, nan),
    }


def _values(
    parts: _Parts, weights: Floats, unit_weights: Floats | None = None
) -> dict[str, Floats]:
    """Every metric per draw, from the lead weights (draws x leads): how
    many times each lead was picked; the account metrics from ``unit_weights``
    (draws x units), when the parts have them."""
    sums = {name: weights @ col for name, col in parts.counts.items()}
    has_truth = sums["truth"] > 0
    nan = np.full(weights.shape[0], np.nan)
    out: dict[str, Floats] = {"mqls": sums["mqls"]}
    out["buyers"] = np.where(has_truth, sums["buyers"], nan)
    for name, (top, bottom) in parts.ratios.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(sums[bottom] > 0, sums[top] / sums[bottom], nan)
        out[name] = share if name == "mql_to_sql" else np.where(has_truth, share, nan)
    if "sqls" in sums:
        out["sqls"] = sums["sqls"]
    for name, (values, leads) in parts.medians.items():
        out[name] = _weighted_median(values, weights[:, leads])
    if parts.units and unit_weights is not None:
        out |= _unit_values(parts.units, unit_weights)
    return out


def _weighted_median(values: Floats, weights: Floats) -> Floats:
    """Per draw (row of ``weights``), the median of ``values`` (sorted) each
    repeated as often as its weight says: statistics.median of the
    resampled list (the mean of the two middle values for an even count)."""
    if values.size == 0:
        return np.full(weights.shape[0], np.nan)
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1]
    low = np.floor((total - 1) / 2)
    high = np.floor(total / 2)
    at_low = np.minimum((cumulative <= low[:, None]).sum(axis=1), values.size - 1)
    at_high = np.minimum((cumulative <= high[:, None]).sum(axis=1), values.size - 1)
    result = (values[at_low] + values[at_high]) / 2
    return np.where(total > 0, result, np.nan)


def rounded_like(name: str, value: float) -> float:
    """A value (or a difference) of the metric ``name`` rounded as reports round it:
    medians to 0.01, the rest to 0.0001."""
    return round(value, 2) if name.startswith("median") else round(value, 4)


def _agrees(parts: _Parts, records: Sequence[LeadRecord], metrics_of: MetricsOf) -> set[str]:
    """The metrics whose per-lead parts give exactly what ``metrics_of``
    gives on all the records (the others are resampled the slow way)."""
    units = len(next(iter(parts.units.values()))) if parts.units else 0
    whole = _values(parts, np.ones((1, len(records))), np.ones((1, units)))
    expected = metrics_of(records)
    same = set()
    for name, want in expected.items():
        value = float(whole[name][0]) if name in whole else math.nan
        if isinstance(want, list | dict):
            continue
        if (want is None and math.isnan(value)) or (
            want is not None and not math.isnan(value) and rounded_like(name, value) == want
        ):
            same.add(name)
    return same


def _percentiles(diffs: Floats) -> list[float] | None:
    kept = diffs[~np.isnan(diffs)]
    if kept.size < 2:
        return None
    low, high = np.percentile(kept, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


@dataclass
class Prepared:
    """What a paired bootstrap and the exact point values share (:func:`prepare`): the units
    (keys in key order), each record's unit, both runs' per-lead (and per-unit) parts, and
    the metrics those parts reproduce exactly (:func:`_agrees`)."""

    units: list[str]
    unit_of: np.ndarray[Any, np.dtype[np.intp]]
    parts: tuple[_Parts, _Parts]
    fast: set[str]


def prepare(
    base: Sequence[LeadRecord],
    proposed: Sequence[LeadRecord],
    keys: Sequence[str],
    metrics_of: MetricsOf,
) -> Prepared:
    """The parts of both runs, once for :func:`paired_bootstrap` and :func:`exact_values`
    (checking them calls ``metrics_of`` on the whole data)."""
    units = sorted(set(keys))
    position = {key: i for i, key in enumerate(units)}
    unit_of = np.array([position[key] for key in keys], dtype=np.intp)
    parts = _parts(base), _parts(proposed)
    parts[0].units = _unit_parts(base, unit_of, len(units))
    parts[1].units = _unit_parts(proposed, unit_of, len(units))
    fast = _agrees(parts[0], base, metrics_of) & _agrees(parts[1], proposed, metrics_of)
    return Prepared(units, unit_of, parts, fast)


def paired_bootstrap(
    base: Sequence[LeadRecord],
    proposed: Sequence[LeadRecord],
    keys: Sequence[str],
    names: Sequence[str],
    metrics_of: MetricsOf,
    *,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 1,
    prepared: Prepared | None = None,
) -> dict[str, list[float] | None]:
    """Per metric in ``names``, the 95% paired bootstrap percentile interval
    of proposed − base: ``draws`` seeded resamplings with replacement of the
    units ``keys`` name (a key per record, the lead id or its account; the
    units are taken in key order, so the input order does not matter), the
    same picks for both runs. ``metrics_of`` (the metrics of a list of
    records) is called on the whole data to check the per-lead parts, and
    once per draw for any metric they do not reproduce. ``prepared``: :func:`prepare`'s, when
    made already."""
    found = prepared or prepare(base, proposed, keys, metrics_of)
    units, unit_of, parts, fast = found.units, found.unit_of, found.parts, found.fast
    slow = [n for n in names if n not in fast]
    rng = np.random.default_rng(seed)
    diffs: dict[str, list[Floats]] = {name: [] for name in names}
    done = 0
    while units and done < draws:
        size = min(_CHUNK, draws - done)
        picks = rng.integers(0, len(units), size=(size, len(units)))
        offsets = picks + np.arange(size)[:, None] * len(units)
        per_unit = np.bincount(offsets.ravel(), minlength=size * len(units))
        unit_weights = per_unit.reshape(size, len(units)).astype(np.float64)
        weights = unit_weights[:, unit_of]
        a = _values(parts[0], weights, unit_weights)
        b = _values(parts[1], weights, unit_weights)
        for name in names:
            if name in fast:
                missing = np.full(size, np.nan)
                diffs[name].append(b.get(name, missing) - a.get(name, missing))
        if slow:
            diffs_slow = _slow(base, proposed, weights, slow, metrics_of)
            for name in slow:
                diffs[name].append(diffs_slow[name])
        done += size
    return {
        name: _percentiles(np.concatenate(parts_)) if parts_ else None
        for name, parts_ in diffs.items()
    }


def exact_values(
    base: Sequence[LeadRecord],
    proposed: Sequence[LeadRecord],
    keys: Sequence[str],
    metrics_of: MetricsOf,
    prepared: Prepared | None = None,
) -> dict[str, tuple[float, float]]:
    """The metrics of both runs on the whole data before any rounding, for those the
    per-lead parts reproduce (``metrics_of`` rounds them for reports): a what-if's
    difference is taken from these, so it is the difference on the whole data (SPEC §14.1),
    not the difference of two rounded figures. A metric with no data under either run is
    left out. ``prepared``: :func:`prepare`'s, when made already."""
    ready = prepared or prepare(base, proposed, keys, metrics_of)
    units = len(ready.units)
    whole = [_values(part, np.ones((1, len(records))), np.ones((1, units)))
             for part, records in zip(ready.parts, (base, proposed), strict=True)]  # fmt: skip
    found = {}
    for name in ready.fast:
        if name in whole[0] and name in whole[1]:
            a, b = float(whole[0][name][0]), float(whole[1][name][0])
            if not (math.isnan(a) or math.isnan(b)):
                found[name] = (a, b)
    return found


def _slow(
    base: Sequence[LeadRecord],
    proposed: Sequence[LeadRecord],
    weights: Floats,
    names: Sequence[str],
    metrics_of: MetricsOf,
) -> dict[str, Floats]:
    """The differences per draw by calling ``metrics_of`` on the resampled
    records (for metrics the per-lead parts do not cover)."""
    out = {name: np.full(weights.shape[0], np.nan) for name in names}
    for row in range(weights.shape[0]):
        counts = weights[row].astype(np.intp)
        a = metrics_of([r for r, c in zip(base, counts, strict=True) for _ in range(c)])
        b = metrics_of([r for r, c in zip(proposed, counts, strict=True) for _ in range(c)])
        for name in names:
            if a.get(name) is not None and b.get(name) is not None:
                out[name][row] = b[name] - a[name]
    return out


__all__ = [
    "BOOTSTRAP_DRAWS",
    "MeanIntervals",
    "Prepared",
    "exact_values",
    "mean_intervals",
    "paired_bootstrap",
    "prepare",
    "rounded_like",
    "t_quantile",
]
