"""`simulate` as a library call, and what `simulate`, `whatif` and `sweep`
share: the options of a run (:class:`SimulationOptions`) and their
validation against a policy. Where the leads come from is
:mod:`mqldsl.simulation.sources`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.parallel import can_fork, holds_long_lived, keep
from mqldsl.io.errors import UsageProblem
from mqldsl.io.problems import Problem
from mqldsl.simulation.results import SimulationReport
from mqldsl.simulation.run import RunSpec, decide_generated, run_policy
from mqldsl.simulation.sources import (
    GeneratedJourneys,
    Source,
    load_leads,
    open_scenario,
    scenario_end,
)
from mqldsl.warehouse.scoring import check_memory_limit, require_sql


class Progress(Protocol):
    """Told how many more leads are done; closed when the run ends."""

    def __call__(self, done: int) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[int, str], Progress]
"""Makes a :class:`Progress` for a run of this many lead evaluations, with a label."""


@dataclass(frozen=True)
class SimulationOptions:
    """How to run a policy: ``params`` it runs with (for `whatif`, the
    changes to the proposed policy), the stages that count as MQL and SQL
    (SQL default: `sql` if the policy has it), processes (``jobs``), the
    engine ("python" or "duckdb", with DuckDB's ``memory_limit``), the lead
    field that splits the backtest (``segment_field``, `simulate` only) and a
    ``progress`` factory."""

    params: Mapping[str, Any] = field(default_factory=dict)
    mql_stage: str = "mql"
    sql_stage: str | None = None
    jobs: int = 1
    engine: str = "python"
    memory_limit: str | None = None
    segment_field: str | None = None
    progress: ProgressFactory | None = None


def check_engine(model: CheckedPolicy, engine: str, memory_limit: str | None = None) -> None:
    """:class:`UsageProblem` for a memory limit without DuckDB;
    :class:`~mqldsl.warehouse.scoring.SqlUnsupported` when DuckDB is asked for and
    cannot evaluate the policy."""
    check_memory_limit(memory_limit, engine)
    if engine == "duckdb":
        require_sql(model)


def mql_stage(model: CheckedPolicy, name: str, option: str = "--mql-stage") -> str:
    """``name`` if the policy has that stage; :class:`UsageProblem` otherwise."""
    if name not in model.stage_names:
        raise UsageProblem(
            f"the policy has no stage `{name}` (stages: {', '.join(model.stage_names)})", option
        )
    return name


def sql_stage(model: CheckedPolicy, name: str | None) -> str | None:
    """The SQL stage: ``name``, or `sql` if the policy has it."""
    if name is None:
        return "sql" if "sql" in model.stage_names else None
    return mql_stage(model, name, "--sql-stage")


@holds_long_lived
def simulate(
    model: CheckedPolicy, source: Source, options: SimulationOptions | None = None
) -> SimulationReport:
    """Funnel metrics of ``model`` over the source's leads (with a sales
    replay for a scenario, a backtest for real journeys with outcomes).

    Raises :class:`UsageProblem` for options that do not fit the policy,
    :class:`ScenarioProblem` for a broken scenario and
    :class:`~mqldsl.warehouse.scoring.SqlUnsupported` when DuckDB cannot evaluate
    the policy. The report's ``notes`` list the records rejected on reading.
    """
    options = options or SimulationOptions()
    check_engine(model, options.engine, options.memory_limit)
    stage = mql_stage(model, options.mql_stage)
    sqls = sql_stage(model, options.sql_stage)
    segment = options.segment_field
    if segment is not None and segment not in model.fields:
        raise UsageProblem(f"the policy has no lead field `{segment}`", "--segment")
    scenario = open_scenario(source.scenario, model) if source.scenario is not None else None
    seed = source.seed if source.seed is not None else (scenario.seed if scenario else 1)
    spec = RunSpec(
        params=options.params,
        as_of=0.0,  # set below, from the source
        mql_stage=stage,
        sql_stage=sqls,
        scenario=scenario,
        seed=seed,
        segment_field=segment,
        engine=options.engine,
        jobs=options.jobs,
        memory_limit=options.memory_limit,
    )
    if scenario is not None and _overlapped(model, spec):
        # Decided while they are generated: the same records, on two or more cores.
        spec = replace(
            spec, as_of=source.as_of if source.as_of is not None else scenario_end(scenario)
        )
        count = source.leads
        progress = options.progress(count, "simulating") if options.progress and count else None
        generated = GeneratedJourneys(model, scenario)
        try:
            made, decided = decide_generated(
                model, generated.journeys(seed, source.leads), generated.lead, spec, progress
            )
        finally:
            if progress is not None:
                progress.close()
        keep()  # the journeys and records, until the report is made
        made_report = run_policy(model, made, spec, decided=decided).report
        return replace(made_report, source=source.described(seed))
    loaded = load_leads(model, scenario, source.journeys, seed, source.leads, source.accounts)
    as_of = source.as_of if source.as_of is not None else loaded.default_as_of
    spec = replace(spec, as_of=as_of, rejected=loaded.rejected)
    progress = options.progress(len(loaded.leads), "evaluating") if options.progress else None
    try:
        run = run_policy(model, loaded.leads, spec, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    return replace(run.report, notes=loaded.lines, source=source.described(seed))


def _overlapped(model: CheckedPolicy, spec: RunSpec) -> bool:
    """Whether a scenario's leads are decided while they are generated
    (:func:`~mqldsl.simulation.run.decide_generated`): with two or more jobs on the Python
    engine where processes fork, unless the policy has accounts (a lead's colleagues are
    known only once all are generated) or the run is split by segment."""
    return (
        spec.jobs > 1
        and spec.engine == "python"
        and spec.segment_field is None
        and not model.uses_accounts
        and can_fork()
    )


def rejects_problem(journeys: str | Path | None, rejected: int) -> str | None:
    """The line that makes a run over journeys with ``rejected`` records fail (E850; None
    when none was rejected): the figures leave those records out, so a gate must not pass
    on them unless the caller allows it (`--allow-rejects`)."""
    if not rejected:
        return None
    problem = Problem(
        str(journeys),
        0,
        f"{rejected} record{'s' if rejected != 1 else ''} rejected; the figures leave "
        f"{'them' if rejected != 1 else 'it'} out",
        "E850",
        hint="fix the records reported above, or give --allow-rejects to exit 0 anyway",
    )
    return problem.render()


__all__ = [
    "Progress",
    "ProgressFactory",
    "SimulationOptions",
    "Source",
    "check_engine",
    "mql_stage",
    "rejects_problem",
    "simulate",
    "sql_stage",
]
