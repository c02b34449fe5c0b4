"""The front door: what a notebook or another program calls (docs/api.md).

Each function is one capability of the command line, without the command line: the same
checks, the same figures, the same bytes in the reports. Policies may be given as a path or as
an already checked :class:`~mqldsl.analysis.model.CheckedPolicy` (from :func:`load`); params as a
mapping ``{"mql_intent_min": 30}``, checked against the policy's declared types exactly as
``--set`` is; instants as ``"2026-12-01T00:00:00Z"``, a timezone-aware ``datetime`` or epoch
seconds.

Problems are exceptions, never printed: :class:`Problem` (bad input: a policy with errors, a
broken scenario, a journeys file that cannot be read; ``lines`` says what) and
:class:`UsageError` (a request that cannot be right: an unknown param, a value of the wrong
type, an unknown stage).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mqldsl.analysis.checker import CheckResult, check_file, check_text
from mqldsl.analysis.durations import timedelta_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Decision, Lead, parse_instant, to_seconds
from mqldsl.io.errors import InputProblem, UsageProblem
from mqldsl.io.journeys import JourneyReader, ReadReport, RecordError
from mqldsl.io.policy import load_policy, param_values
from mqldsl.io.scoring import explain_lead, read_leads, summary_lines
from mqldsl.render.diff import Change
from mqldsl.render.diff import diff as semantic_diff
from mqldsl.render.document import render as render_document
from mqldsl.render.explanation import sample_json
from mqldsl.render.outputs import report_text, sweep_text, write_report
from mqldsl.simulation.results import SimulationReport, SweepReport, WhatIfReport
from mqldsl.simulation.simulate import SimulationOptions
from mqldsl.simulation.simulate import simulate as run_simulation
from mqldsl.simulation.sources import Source, generate_journeys
from mqldsl.simulation.sweep import SweepAxis
from mqldsl.simulation.sweep import sweep as run_sweep
from mqldsl.simulation.tune import TuneReport
from mqldsl.simulation.whatif import whatif as run_whatif
from mqldsl.warehouse.scoring import policy_sql

Problem = InputProblem
UsageError = UsageProblem
PolicyLike = CheckedPolicy | str | os.PathLike[str]
Instant = str | dt.datetime | float
Params = Mapping[str, Any]


def check(policy: str | os.PathLike[str] | None = None, *, text: str | None = None) -> CheckResult:
    """Parse and check a policy file (or ``text``) and return every diagnostic: errors,
    warnings, and the checked model when there are no errors. Never raises for a bad
    policy; ``result.ok`` says whether it can be used."""
    if text is not None:
        return check_text(text, str(policy) if policy is not None else "<policy>")
    if policy is None:
        raise UsageError("give a policy file or text=")
    return check_file(Path(policy))


def load(policy: PolicyLike) -> CheckedPolicy:
    """The checked policy; :class:`Problem` (its diagnostics, one a line) if it has errors."""
    if isinstance(policy, CheckedPolicy):
        return policy
    return load_policy(Path(policy))


def compile(policy: PolicyLike, params: Params | None = None) -> Evaluator:
    """The policy compiled for fast evaluation, with ``params`` overriding its declared
    values. ``evaluator.decide(lead, as_of_seconds)`` decides one lead;
    ``evaluator.source`` shows the generated Python."""
    model = load(policy)
    return Evaluator(model, _params(model, params))


def lead(policy: PolicyLike, record: Mapping[str, Any]) -> Lead:
    """A lead from one journey record (the JSON Lines format of docs/language.md:
    ``{"id": ..., "profile": {...}, "events": [{"type": ..., "at": ...}, ...]}``),
    validated against the policy's declared fields and events."""
    try:
        return JourneyReader(load(policy)).lead(dict(record))
    except RecordError as exc:
        raise Problem([f"lead {record.get('id', '?')}: {exc}"]) from None


def decide(
    policy: PolicyLike | Evaluator,
    lead_or_record: Lead | Mapping[str, Any],
    as_of: Instant,
    params: Params | None = None,
) -> Decision:
    """Where one lead stands as of ``as_of``: stage, scores, disqualifiers, route and SLA
    due time, when it entered each stage, and the policy that decided (``decision.policy``:
    version, sha256 of the canonical text, params that differ from the file's)."""
    evaluator = policy if isinstance(policy, Evaluator) else compile(policy, params)
    one = _lead(evaluator.model, lead_or_record)
    return evaluator.decide(one, instant(as_of))


def explain(
    policy: PolicyLike,
    lead_or_record: Lead | Mapping[str, Any],
    as_of: Instant,
    params: Params | None = None,
) -> dict[str, Any]:
    """Why the lead stands where it does: the ``explanation`` object of ``mqldsl explain
    --format json`` (docs/explain.md: why this stage, why not the next ones, every point
    with its events, the history with each handoff). The decision it explains, with the
    policy that made it, is :func:`decide`'s."""
    model = load(policy)
    one = _lead(model, lead_or_record)
    return explain_lead(model, _params(model, params), one, instant(as_of))[1].to_json()


def score(
    policy: PolicyLike,
    journeys: str | os.PathLike[str],
    as_of: Instant,
    params: Params | None = None,
) -> Iterator[Decision]:
    """Decide every lead of a JSON Lines journeys file, in file order. Records that cannot
    be read are counted; if any were, :class:`Problem` is raised after the last decision,
    naming each (file, line and reason), so nothing is dropped silently."""
    model = load(policy)
    evaluator = Evaluator(model, _params(model, params))
    moment = instant(as_of)
    report = ReadReport()
    evaluated = 0
    for one in read_leads(model, os.fspath(journeys), None, report):
        evaluated += 1
        yield evaluator.decide(one, moment)
    if report.rejected_count:
        raise Problem(summary_lines(evaluated, report))


def generate(
    scenario: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    policy: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    leads: int | None = None,
    days: int | None = None,
) -> int:
    """Write synthetic journeys from a scenario to a JSON Lines file (``mqldsl generate``),
    atomically; returns how many. The scenario is checked against ``policy`` (default: the
    policy the scenario names). The same seed gives the same bytes."""
    return generate_journeys(
        Path(scenario),
        Path(output),
        policy=os.fspath(policy) if policy is not None else None,
        seed=seed,
        leads=leads,
        days=days,
    )


def simulate(
    policy: PolicyLike,
    *,
    scenario: str | os.PathLike[str] | None = None,
    journeys: str | os.PathLike[str] | None = None,
    accounts: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    leads: int | None = None,
    as_of: Instant | None = None,
    params: Params | None = None,
    mql_stage: str = "mql",
    sql_stage: str | None = None,
    segment: str | None = None,
    jobs: int = 1,
    engine: str = "python",
) -> SimulationReport:
    """Funnel metrics of the policy over a scenario's generated leads (with a sales replay)
    or over real journeys (with a backtest when outcomes are known): ``mqldsl simulate``.
    ``report.to_json()`` is the JSON report file."""
    model = load(policy)
    source = _source(scenario, journeys, seed, leads, as_of, accounts)
    options = _options(model, params, mql_stage, sql_stage, jobs, engine, segment)
    return run_simulation(model, source, options)


def compare(
    base: PolicyLike,
    proposed: PolicyLike | None = None,
    *,
    params: Params | None = None,
    scenario: str | os.PathLike[str] | None = None,
    journeys: str | os.PathLike[str] | None = None,
    accounts: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    leads: int | None = None,
    as_of: Instant | None = None,
    replications: int = 5,
    mql_stage: str = "mql",
    sql_stage: str | None = None,
    jobs: int = 1,
    engine: str = "python",
    fail_if: str | None = None,
) -> WhatIfReport:
    """The what-if (``mqldsl whatif``): ``base`` against ``proposed`` (or against ``base``
    with ``params`` changed) over the same leads, metric by metric with the change and a
    95% interval, the leads that moved between stages, and what moved them.
    ``report.fail_if("mqls.delta_pct > 20")`` is the ``--fail-if`` gate; ``fail_if``
    puts its verdict in the report (``report.gate``)."""
    base_model = load(base)
    proposed_model = load(proposed) if proposed is not None else None
    source = _source(scenario, journeys, seed, leads, as_of, accounts)
    options = _options(proposed_model or base_model, params, mql_stage, sql_stage, jobs, engine)
    return run_whatif(
        base_model,
        proposed_model,
        source,
        options,
        replications=replications,
        fail_if=fail_if,
        describe=sample_json,
    )


def sweep(
    policy: PolicyLike,
    grid: Sequence[str] | Mapping[str, Sequence[Any]],
    *,
    scenario: str | os.PathLike[str] | None = None,
    journeys: str | os.PathLike[str] | None = None,
    accounts: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    leads: int | None = None,
    as_of: Instant | None = None,
    params: Params | None = None,
    mql_stage: str = "mql",
    sql_stage: str | None = None,
    jobs: int = 1,
    engine: str = "python",
) -> SweepReport:
    """Run the policy once per combination of param values (``mqldsl sweep``): ``grid`` is
    either ``["mql_min=40..80:10"]`` specs or a mapping of each param to the values to try
    (``{"mql_min": [40, 50, 60]}``). A row of metrics per combination, in order."""
    model = load(policy)
    source = _source(scenario, journeys, seed, leads, as_of, accounts)
    options = _options(model, params, mql_stage, sql_stage, jobs, engine)
    return run_sweep(model, _grid(model, grid), source, options)


def tune(
    policy: PolicyLike,
    grid: Sequence[str] | Mapping[str, Sequence[Any]],
    *,
    maximize: str,
    subject_to: str | None = None,
    scenario: str | os.PathLike[str] | None = None,
    journeys: str | os.PathLike[str] | None = None,
    accounts: str | os.PathLike[str] | None = None,
    holdout: float | None = None,
    holdout_after: Instant | None = None,
    seed: int | None = None,
    leads: int | None = None,
    as_of: Instant | None = None,
    params: Params | None = None,
    trials: int = 200,
    output: str | os.PathLike[str] | None = None,
    mql_stage: str = "mql",
    sql_stage: str | None = None,
) -> TuneReport:
    """Search params for the values that maximise a metric under constraints (``mqldsl
    tune``, docs/tune.md): ``grid`` as for :func:`sweep`; ``maximize`` a metric name,
    ``subject_to`` constraints like ``"mql_precision >= 0.85"``; fitted on the leads not held
    out (``holdout``: a fraction, by a seeded hash of the lead id; ``holdout_after``: the leads
    that arrived after that instant: created, else first seen). ``report.best`` is None when
    no candidate satisfies the constraints. ``output``: write the policy with the best values
    and its version increased (atomically); ``report.diff`` then lists the changes."""
    from mqldsl.io.files import check_folder, write_atomic
    from mqldsl.simulation.tune import tune as run_tune
    from mqldsl.simulation.tune_output import check_writable, checked_text, tuned_policy_text

    if output is not None:
        check_folder(Path(output))
    model = load(policy)
    specs = _grid(model, grid)
    source = _source(scenario, journeys, seed, leads, as_of, accounts)
    options = SimulationOptions(
        params=_params(model, params), mql_stage=mql_stage, sql_stage=sql_stage
    )
    if output is not None:  # (before the search: a refusal must not come after it)
        tuned = [s.name if isinstance(s, SweepAxis) else s.split("=", 1)[0].strip() for s in specs]
        check_writable(model, [*options.params, *tuned])
    report = run_tune(
        model,
        specs,
        source,
        maximize,
        subject_to,
        holdout=holdout,
        holdout_after=instant(holdout_after) if holdout_after is not None else None,
        trials=trials,
        options=options,
    )
    if output is not None and report.best is not None:
        # The `--set` values too: the report's figures are those of the policy with them.
        text = tuned_policy_text(model, {**options.params, **report.best}, output)
        proposed = checked_text(text, str(output))
        write_atomic(Path(output), text)
        changes = [change.text() for change in semantic_diff(model, proposed)]
        report = dataclasses.replace(report, output=str(output), diff=changes)
    return report


def docs(
    policy: PolicyLike,
    format: str = "markdown",
    *,
    previous: PolicyLike | None = None,
    simulation: SimulationReport | WhatIfReport | Mapping[str, Any] | None = None,
    date: str | None = None,
) -> str:
    """The shared MQL/SQL definitions document (``mqldsl docs``), as Markdown or HTML, with
    a change log against ``previous`` and a summary of a simulation or what-if report."""
    if format not in ("markdown", "html"):
        raise UsageError(f"format is markdown or html, not {format!r}")
    model = load(policy)
    changes = semantic_diff(load(previous), model) if previous is not None else None
    summary: dict[str, Any] | None = None
    if isinstance(simulation, SimulationReport | WhatIfReport):
        summary = simulation.to_json()
    elif simulation is not None:
        summary = dict(simulation)
    return render_document(model, format, changes=changes, simulation=summary, date=date)


def diff(old: PolicyLike, new: PolicyLike) -> list[Change]:
    """What changed between two versions of a policy (``mqldsl diff``): one
    :class:`~mqldsl.render.diff.Change` per changed rule, stage, param or declaration (a
    changed description is ``reworded``: no change in meaning)."""
    return semantic_diff(load(old), load(new))


def sql(
    policy: PolicyLike,
    dialect: str = "duckdb",
    *,
    as_of: Instant,
    params: Params | None = None,
    leads_table: str = "leads",
    events_table: str = "events",
    accounts_table: str = "accounts",
) -> str:
    """The policy as one SQL query (``mqldsl sql``) that decides every lead of
    ``leads_table`` as of ``as_of``, in ``dialect`` (duckdb, spark, snowflake, bigquery,
    postgres); a policy with accounts also reads ``accounts_table``. :class:`Problem` when
    the policy uses what SQL cannot do faithfully."""
    model = load(policy)
    return policy_sql(
        model,
        instant(as_of),
        _params(model, params),
        dialect,
        leads_table,
        events_table,
        accounts_table,
    )


def summary(report: SimulationReport | WhatIfReport | SweepReport) -> str:
    """The report as the terminal shows it (what ``mqldsl simulate``/``whatif``/``sweep``
    print)."""
    if isinstance(report, SweepReport):
        return sweep_text(report)
    return report_text(report)


def save(
    report: SimulationReport | WhatIfReport | SweepReport, path: str | os.PathLike[str]
) -> None:
    """Write the report atomically as JSON, Markdown or HTML, chosen by the file's suffix
    (``.json``, ``.md``, ``.html``), exactly as ``-o`` does."""
    write_report(report, Path(path))


def instant(value: Instant) -> float:
    """Epoch seconds from an ISO instant with a zone (or a date, read as midnight UTC), a
    timezone-aware datetime, or epoch seconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise UsageError(f"{value!r} has no time zone; give one (e.g. tzinfo=datetime.UTC)")
        return to_seconds(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_instant(value)
        except ValueError as exc:
            raise UsageError(f"`{value}` is not an instant: {exc}") from None
    raise UsageError(f"{value!r} is not an instant")


# ---------------------------------------------------------------- helpers


def _params(model: CheckedPolicy, params: Params | None) -> dict[str, object]:
    """Python values checked exactly as ``--set NAME=VALUE`` checks its text."""
    if not params:
        return {}
    return param_values(model, [f"{name}={_text(value)}" for name, value in params.items()])


def _options(
    model: CheckedPolicy,
    params: Params | None,
    mql_stage: str,
    sql_stage: str | None,
    jobs: int,
    engine: str,
    segment: str | None = None,
) -> SimulationOptions:
    return SimulationOptions(
        params=_params(model, params),
        mql_stage=mql_stage,
        sql_stage=sql_stage,
        jobs=jobs,
        engine=engine,
        segment_field=segment,
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.timedelta):  # a duration param's value (SPEC §5.2)
        return timedelta_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


def _lead(model: CheckedPolicy, value: Lead | Mapping[str, Any]) -> Lead:
    return value if isinstance(value, Lead) else lead(model, value)


def _source(
    scenario: str | os.PathLike[str] | None,
    journeys: str | os.PathLike[str] | None,
    seed: int | None,
    leads: int | None,
    as_of: Instant | None,
    accounts: str | os.PathLike[str] | None = None,
) -> Source:
    return Source(
        scenario=Path(scenario) if scenario is not None else None,
        journeys=Path(journeys) if journeys is not None else None,
        accounts=Path(accounts) if accounts is not None else None,
        seed=seed,
        leads=leads,
        as_of=instant(as_of) if as_of is not None else None,
    )


def _grid(
    model: CheckedPolicy, grid: Sequence[str] | Mapping[str, Sequence[Any]]
) -> list[str | SweepAxis]:
    if isinstance(grid, Mapping):
        return [_axis(model, name, values) for name, values in grid.items()]
    return list(grid)


def _axis(model: CheckedPolicy, name: str, values: Sequence[Any]) -> SweepAxis:
    checked = [_params(model, {name: value})[name] for value in values]
    if not checked:
        raise UsageError(f"no values to try for `{name}`")
    return SweepAxis(name, checked)


__all__ = [
    "Problem",
    "UsageError",
    "check",
    "compare",
    "compile",
    "decide",
    "diff",
    "docs",
    "explain",
    "generate",
    "instant",
    "lead",
    "load",
    "save",
    "score",
    "simulate",
    "sql",
    "summary",
    "sweep",
    "tune",
]
