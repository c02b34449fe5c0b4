"""`sweep` as a library call: the main metrics for each value of one or more
params (every combination), the threshold-tuning view."""

from __future__ import annotations

import contextlib
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mqldsl.analysis import types as T
from mqldsl.analysis.bound import bind
from mqldsl.analysis.durations import parse_duration
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.params import INT_MAX, INT_MIN
from mqldsl.engine.parallel import holds_long_lived
from mqldsl.io.errors import UsageProblem
from mqldsl.language import ast
from mqldsl.language.ast import UNIT_SECONDS
from mqldsl.language.suggestions import did_you_mean
from mqldsl.simulation.records import LeadRecord
from mqldsl.simulation.results import SweepReport, SweepRow
from mqldsl.simulation.reuse import (
    CACHE_FROM,
    decide_by_cache,
    decide_variants,
    score_params,
    variants_per_call,
)
from mqldsl.simulation.run import RunSpec, run_policy
from mqldsl.simulation.simulate import (
    SimulationOptions,
    check_engine,
    mql_stage,
    sql_stage,
)
from mqldsl.simulation.sources import Source, load_leads, open_scenario
from mqldsl.simulation.tune_cache import cache_refusal

MAX_VALUES = 200  # values of one param
MAX_COMBINATIONS = 10_000  # rows of one sweep: each is a full run over the leads


@dataclass(frozen=True)
class SweepAxis:
    """A param and the values to try."""

    name: str
    values: list[Any]


_NUMBER = r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
_SPEC = re.compile(
    rf"\s*([a-z_][a-z0-9_]*)\s*=\s*(-?(?:{_NUMBER}))\s*\.\.\s*(-?(?:{_NUMBER}))\s*"
    rf"(?::\s*({_NUMBER}))?\s*"
)


def parse_sweep_param(model: CheckedPolicy, spec: str) -> SweepAxis:
    """``NAME=LO..HI[:STEP]`` as the values from LO to HI in STEPs (default:
    1 for a whole-number param, a tenth of the range otherwise); at most
    :data:`MAX_VALUES`. :class:`UsageProblem` (option ``--param``) otherwise."""
    lengths = _LENGTHS.fullmatch(spec)
    if lengths and lengths.group(1) in model.params:
        info = model.params[lengths.group(1)]
        if info.type == T.DURATION:
            return _duration_axis(model, spec, info.name, *lengths.groups()[1:])
        if not _SPEC.fullmatch(spec) and any(_is_duration(v) for v in lengths.groups()[1:3]):
            raise UsageProblem(
                f"`{spec}`: param `{info.name}` holds {T.noun(info.type)}, not a duration",
                "--param",
            )
    match = _SPEC.fullmatch(spec)
    if not match:
        raise UsageProblem(f"`{spec}` is not NAME=LO..HI[:STEP]", "--param")
    name, low, high, step = match.groups()
    found = model.params.get(name)
    if found is None:
        hint = did_you_mean(name, list(model.params))
        raise UsageProblem(
            f"error[E204]: unknown param `{name}`"
            + (f"; {hint}" if hint else f"; the params are: {', '.join(model.params) or 'none'}"),
            "--param",
        )
    info = found
    if info.type == T.DURATION:
        raise UsageProblem(
            f"`{spec}`: param `{name}` holds a duration; give durations with units, "
            f"e.g. {name}=7d..35d:7d",
            "--param",
        )
    if not info.type.is_numeric:
        raise UsageProblem(f"param `{name}` is not a number", "--param")
    whole = info.type.kind == "int"
    if whole:
        return SweepAxis(name, _whole_values(spec, name, low, high, step))
    lo, hi = float(low), float(high)
    if not all(abs(v) <= INT_MAX for v in (lo, hi, float(step or 0))):
        raise UsageProblem(
            f"`{spec}`: numbers are at most {INT_MAX:,} in size (signed 64 bits)", "--param"
        )
    delta = float(step) if step else ((hi - lo) / 10 or 1.0)
    if delta <= 0 or hi < lo:
        raise UsageProblem(f"`{spec}`: need LO <= HI and a positive STEP", "--param")
    # Count before building: a range of a hundred million steps is refused, not enumerated.
    count = math.floor((hi - lo) / delta + 1e-9) + 1
    if count > MAX_VALUES:
        raise UsageProblem(f"`{spec}` gives {count:,} values; at most {MAX_VALUES}", "--param")
    values: list[Any] = []
    k = 0
    while lo + k * delta <= hi + 1e-9:
        values.append(round(lo + k * delta, 6))
        k += 1
    if len(values) > MAX_VALUES:
        raise UsageProblem(f"`{spec}` gives {len(values)} values; at most {MAX_VALUES}", "--param")
    return SweepAxis(name, values)


def _whole_values(spec: str, name: str, low: str, high: str, step: str | None) -> list[int]:
    """The values of a whole-number param's ``LO..HI[:STEP]``, in exact integers (as floats,
    numbers past 2**53 would move to their neighbours)."""
    bounds = [_whole(text, name) for text in (low, high, step or "1")]
    if not all(INT_MIN <= v <= INT_MAX for v in bounds):
        shown = spec if len(spec) <= 80 else spec[:60] + "…"
        raise UsageProblem(
            f"`{shown}`: numbers are at most {INT_MAX:,} in size (signed 64 bits)", "--param"
        )
    lo, hi, delta = bounds
    if delta <= 0 or hi < lo:
        raise UsageProblem(f"`{spec}`: need LO <= HI and a positive STEP", "--param")
    count = (hi - lo) // delta + 1  # counted before building: a huge range is refused
    if count > MAX_VALUES:
        raise UsageProblem(f"`{spec}` gives {count:,} values; at most {MAX_VALUES}", "--param")
    return list(range(lo, hi + 1, delta))


def _whole(text: str, name: str) -> int:
    """A whole number written as one (``12``, also ``12.0``); one of more digits than any
    64-bit number has is past the range (Python converts at most 4,300 digits)."""
    if len(text.lstrip("-").split(".")[0].lstrip("0")) > 20:
        return INT_MAX + 1 if not text.startswith("-") else INT_MIN - 1
    try:
        return int(text)
    except ValueError:
        pass
    value = float(text)
    if not value.is_integer():
        raise UsageProblem(f"param `{name}` holds whole numbers", "--param")
    if abs(value) > 2**53:  # a float that far out is not the number written
        raise UsageProblem(f"`{text}`: write a whole number this large in digits", "--param")
    return int(value)


_LENGTHS = re.compile(r"\s*([a-z_][a-z0-9_]*)\s*=\s*([^:]*?)\s*\.\.\s*([^:]*?)\s*(?::\s*(.*?))?\s*")


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


# The unit a swept duration's values are written in: the STEP's (else LO's) when
# every value is a whole number of it, else the largest unit that is.
_UNIT_ORDER = ("week", "day", "hour", "minute")


def _duration_axis(
    model: CheckedPolicy, spec: str, name: str, low: str, high: str, step: str | None
) -> SweepAxis:
    """A duration param's values, ``LO..HI[:STEP]`` written as `--set` takes a
    duration (`7d..35d:7d`, `"7 days".."5 weeks":"1 week"`); STEP defaults to
    one of LO's unit."""
    try:
        lo, hi = parse_duration(low), parse_duration(high)
        delta = parse_duration(step) if step else ast.Duration(amount=1, unit=lo.unit)
    except ValueError as exc:
        zero = step is not None and re.fullmatch(r"-.*|0+(\.0*)?\s*[a-z ]*", step.strip())
        why = "a positive STEP is needed" if zero else str(exc)
        raise UsageProblem(f"`{spec}`: {why}", "--param") from None
    if hi.seconds < lo.seconds:
        raise UsageProblem(f"`{spec}`: need LO <= HI", "--param")
    count = math.floor((hi.seconds - lo.seconds) / delta.seconds + 1e-9) + 1
    if count > MAX_VALUES:
        raise UsageProblem(f"`{spec}` gives {count} values; at most {MAX_VALUES}", "--param")
    seconds = [lo.seconds + k * delta.seconds for k in range(count)]
    units = [delta.unit, *_UNIT_ORDER]
    unit = next(u for u in units if all((s / UNIT_SECONDS[u]).is_integer() for s in seconds))
    values = [ast.Duration(amount=round(s / UNIT_SECONDS[unit]), unit=unit) for s in seconds]
    for value in values:
        try:
            bind(model, {name: value})  # checked with the policy before any run (cached)
        except ValueError as exc:
            raise UsageProblem(f"`{spec}`: {exc}", "--param") from None
    return SweepAxis(name, values)


def _as_swept(axis: SweepAxis, value: Any) -> Any:
    """``value`` as the axis writes it: a duration param's `30 days` is the
    row `30 days` of a sweep in days, and its `4 weeks` in a sweep in weeks."""
    if isinstance(value, ast.Duration):
        return next((v for v in axis.values if v.seconds == value.seconds), value)
    return value


def check_axes(axes: Sequence[SweepAxis], limit: int = MAX_COMBINATIONS) -> int:
    """How many combinations the axes make; :class:`UsageProblem` (``--param``), before any
    work, for a param given twice or more than ``limit`` combinations."""
    if not axes:
        raise UsageProblem("give at least one --param NAME=LO..HI[:STEP]", "--param")
    names = [axis.name for axis in axes]
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise UsageProblem(f"`{twice[0]}` is given twice: give each param once", "--param")
    combinations = math.prod(len(axis.values) for axis in axes)
    if combinations > limit:
        counts = " x ".join(str(len(axis.values)) for axis in axes)
        raise UsageProblem(
            f"the params give {counts} = {combinations:,} combinations, each a full run; at most "
            f"{limit:,} (a hard limit): widen the STEPs or sweep fewer params at once",
            "--param",
        )
    return combinations


@holds_long_lived
def sweep(
    model: CheckedPolicy,
    params: Sequence[str | SweepAxis],
    source: Source,
    options: SimulationOptions | None = None,
    *,
    reuse: bool = True,
) -> SweepReport:
    """Run ``model`` over the source's leads once per combination of the
    swept params (``NAME=LO..HI[:STEP]`` specs or :class:`SweepAxis`), on top
    of ``options.params``; a row of metrics per combination, in order.

    When no swept param is read by a score (they are in stage conditions,
    disqualifiers, recycle rules or routes), each lead's scores are computed
    once for all the combinations (:mod:`mqldsl.simulation.reuse`) on the
    Python engine, and from :data:`~mqldsl.simulation.reuse.CACHE_FROM`
    combinations on, for a policy that does not recycle, the leads are
    re-thresholded with `tune`'s decision cache; ``reuse=False`` runs every
    combination in full, as when a swept param feeds a score. The report is
    the same either way.

    Raises :class:`UsageProblem`,
    :class:`~mqldsl.simulation.simulate.ScenarioProblem` and
    :class:`~mqldsl.warehouse.scoring.SqlUnsupported`.
    """
    options = options or SimulationOptions()
    check_engine(model, options.engine, options.memory_limit)
    stage = mql_stage(model, options.mql_stage)
    axes = [p if isinstance(p, SweepAxis) else parse_sweep_param(model, p) for p in params]
    check_axes(axes)
    sqls = sql_stage(model, options.sql_stage)
    scenario = open_scenario(source.scenario, model) if source.scenario is not None else None
    seed = source.seed if source.seed is not None else (scenario.seed if scenario else 1)
    loaded = load_leads(model, scenario, source.journeys, seed, source.leads, source.accounts)
    moment = source.as_of if source.as_of is not None else loaded.default_as_of
    rows = []
    as_of = ""
    counted, later = len(loaded.leads), 0  # (set from the first row's report)
    with contextlib.ExitStack() as stack:
        engine = None
        if options.engine == "duckdb":
            # One DuckDB holds the leads for every combination.
            from mqldsl.warehouse.engine import DuckDBEngine

            engine = stack.enter_context(DuckDBEngine(model, memory_limit=options.memory_limit))
            engine.load_leads(iter(loaded.leads))
        combinations = [
            dict(options.params)
            | {axis.name: value for axis, value in zip(axes, combination, strict=True)}
            for combination in itertools.product(*(axis.values for axis in axes))
        ]
        reusing = (
            reuse
            and options.engine == "python"
            and len(combinations) > 1
            and not score_params(model) & {axis.name for axis in axes}
        )
        # tune's cache re-evaluates conditions at fixed instants: not where a swept duration
        # param moves the instants (SPEC §5.2, §7), recycling restarts timelines or hot-event
        # routes hand over at events (cache_refusal).
        rethreshold = cache_refusal(model, [axis.name for axis in axes]) is None
        per_call = variants_per_call(len(loaded.leads)) if reusing else 1
        for first in range(0, len(combinations), per_call):
            group = combinations[first : first + per_call]
            decided: list[list[LeadRecord]] | list[None] = [None] * len(group)
            if reusing and rethreshold and len(group) >= CACHE_FROM:
                decided = decide_by_cache(
                    model,
                    options.params,
                    [{axis.name: values[axis.name] for axis in axes} for values in group],
                    loaded.leads,
                    moment,
                    stage,
                    sqls,
                    options.jobs,
                )
            elif reusing:
                decided = decide_variants(
                    [(model, values) for values in group],
                    loaded.leads,
                    moment,
                    stage,
                    sqls,
                    options.jobs,
                    handoff_scores=False,  # a row has no score distributions
                )
            for values, records in zip(group, decided, strict=True):
                spec = RunSpec(
                    params=values,
                    as_of=moment,
                    mql_stage=stage,
                    sql_stage=sqls,
                    scenario=scenario,
                    seed=seed,
                    rejected=loaded.rejected,
                    engine=options.engine,
                    jobs=options.jobs,
                )
                report = run_policy(
                    model, loaded.leads, spec, loaded=engine, decided=records
                ).report
                as_of = report.as_of
                # (the leads that existed at the as-of instant: the same for every row)
                counted, later = report.leads, report.timing.get("leads_after_as_of", 0)
                rows.append(
                    SweepRow({axis.name: values[axis.name] for axis in axes}, report.metrics)
                )
    # The values the policy runs with today (declared, or set by --set): the sweep marks them.
    running = {name: info.value for name, info in model.params.items()} | dict(options.params)
    return SweepReport(
        title=model.title,
        file=model.source.name,
        as_of=as_of,
        leads=counted,
        leads_after_as_of=later,
        version=model.version,
        sha256=model.sha256,
        source=source.described(seed),
        params=[axis.name for axis in axes],
        rows=rows,
        current={axis.name: _as_swept(axis, running[axis.name]) for axis in axes},
        notes=loaded.lines,
        rejected=loaded.rejected,
    )


__all__ = [
    "MAX_COMBINATIONS",
    "MAX_VALUES",
    "SweepAxis",
    "check_axes",
    "parse_sweep_param",
    "sweep",
]
