"""Commands that simulate: generate, simulate, whatif, sweep."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from mqldsl.cli.common import (
    INSTANT,
    OUTPUT_OR_STDOUT,
    POLICY_PATH,
    InputPath,
    check_output,
    cli,
    echo_lines,
    load_policy,
    memory_limit_option,
    params,
    policy_file,
    reported,
    standard_output,
    with_options,
)
from mqldsl.io.errors import terminal_text

if TYPE_CHECKING:
    from mqldsl.analysis.model import CheckedPolicy
    from mqldsl.render.outputs import Report
    from mqldsl.simulation.simulate import SimulationOptions
    from mqldsl.simulation.sources import Source


def check_report_output(output: str | None) -> None:
    """Before the run (minutes, for a large one): a report's ``-o`` names a format
    (`.json`, `.md`, `.html`) and a folder where it can be written."""
    check_output(output)
    if output is not None and not output.lower().endswith((".json", ".md", ".html", ".htm")):
        raise click.BadParameter("the report must end in .json, .html or .md", param_hint="-o")


@cli.command()
@click.argument("scenario", type=InputPath())
@click.option(
    "--policy",
    type=POLICY_PATH,
    help="The policy whose schema the journeys follow (default: the one the scenario names).",
)
@click.option("--seed", type=int, help="Random seed (default: the scenario's).")
@click.option(
    "--leads", type=click.IntRange(1), help="Generate exactly this many leads (at most 10,000,000)."
)
@click.option(
    "--days", type=click.IntRange(1), help="Generate this many days of arrivals (at most 3650)."
)
@click.option(
    "-o",
    "--output",
    type=OUTPUT_OR_STDOUT,
    callback=standard_output,
    help="Write JSON Lines here; without it (or with `-`), to standard output.",
)
def generate(
    scenario: str,
    policy: str | None,
    seed: int | None,
    leads: int | None,
    days: int | None,
    output: str | None,
) -> None:
    """Synthetic journeys (SPEC §12, with `truth`) from a scenario.

    The same scenario and seed give byte-identical output.
    """
    from mqldsl.simulation.sources import generate_journeys

    with reported():
        count = generate_journeys(
            scenario, output, policy=policy, seed=seed, leads=leads, days=days
        )
    echo_lines([f"{count} journey{'' if count == 1 else 's'} generated"])


_sim_source = [
    click.option(
        "--scenario",
        "scenario_path",
        type=InputPath(),
        help="Generate journeys from this scenario.",
    ),
    click.option(
        "--journeys",
        type=InputPath(),
        help="Use these journeys (JSON Lines).",
    ),
    click.option(
        "--accounts",
        type=InputPath(),
        help='With --journeys: the accounts\' fields (JSON Lines, {"id": ..., "profile": {...}}).',
    ),
    click.option(
        "--as-of",
        type=INSTANT,
        help="Default: the end of the scenario's period, or the latest event in the journeys.",
    ),
    click.option("--seed", type=int, help="Random seed (default: the scenario's)."),
    click.option("--leads", type=click.IntRange(1), help="With --scenario: this many leads."),
    click.option(
        "--set", "assignments", multiple=True, metavar="PARAM=VALUE", help="Override a param."
    ),
    click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False),
        help="Write the report: .json, .html or .md.",
    ),
    click.option(
        "--mql-stage", default="mql", show_default=True, help="The stage that counts as MQL."
    ),
    click.option(
        "--sql-stage", default=None, help="The stage that counts as SQL (default: `sql` if any)."
    ),
    click.option(
        "--jobs",
        type=click.IntRange(1, 64),
        default=1,
        show_default=True,
        help="Processes for evaluating leads.",
    ),
    click.option(
        "--engine",
        type=click.Choice(["python", "duckdb"]),
        default="python",
        show_default=True,
        help="Decide the leads in Python, or as SQL in an embedded DuckDB (same metrics).",
    ),
    memory_limit_option,
    click.option(
        "--allow-rejects",
        is_flag=True,
        help="Exit 0 even when records of --journeys were rejected (default: exit 1).",
    ),
]


class _Progress:
    """A progress bar on standard error, only when it is a terminal."""

    def __init__(self, total: int, label: str) -> None:
        self.bar: Any = None
        if sys.stderr.isatty() and total >= 2000:
            self.bar = click.progressbar(length=total, label=label, file=sys.stderr)
            self.bar.__enter__()

    def __call__(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _source(
    scenario: str | None,
    journeys: str | None,
    seed: int | None,
    leads: int | None,
    as_of: Any,
    accounts: str | None = None,
) -> Source:
    from mqldsl.simulation.sources import Source

    with reported():
        return Source(
            scenario=scenario,
            journeys=journeys,
            seed=seed,
            leads=leads,
            as_of=as_of,
            accounts=accounts,
        )


def _options(
    models: list[CheckedPolicy],
    assignments: tuple[str, ...],
    mql_stage: str,
    sql_stage: str | None,
    jobs: int,
    engine: str,
    memory_limit: str | None,
    segment_field: str | None = None,
) -> SimulationOptions:
    """The run options, checked as the commands always have: the engine
    first, then the `--set` params against the last policy."""
    from mqldsl.simulation.simulate import SimulationOptions, check_engine

    with reported():
        for model in models:
            check_engine(model, engine, memory_limit)
    return SimulationOptions(
        params=params(models[-1], assignments),
        mql_stage=mql_stage,
        sql_stage=sql_stage,
        jobs=jobs,
        engine=engine,
        memory_limit=memory_limit,
        segment_field=segment_field,
        progress=_Progress,
    )


def _show(report: Report, output: str | None) -> None:
    """Print the report's notes and summary, and write its file."""
    from mqldsl.render.outputs import report_text, write_report

    echo_lines(report.notes)
    click.echo(report_text(report), nl=False)
    if output is not None:
        with reported():
            write_report(report, output)
        echo_lines([f"wrote {output}"])


def exit_on_rejects(journeys: str | None, rejected: int, allow_rejects: bool) -> None:
    """Exit 1 (E850) after the report is out when records were rejected, unless allowed."""
    from mqldsl.simulation.simulate import rejects_problem

    line = rejects_problem(journeys, rejected)
    if line is not None and not allow_rejects:
        echo_lines([line])
        sys.exit(1)


@cli.command()
@policy_file
@with_options(_sim_source)
@click.option(
    "--segment", "segment_field", help="A lead field: the backtest shows conversion by its values."
)
def simulate(
    policy: str,
    scenario_path: str | None,
    journeys: str | None,
    accounts: str | None,
    as_of: float | None,
    seed: int | None,
    leads: int | None,
    assignments: tuple[str, ...],
    output: str | None,
    mql_stage: str,
    sql_stage: str | None,
    jobs: int,
    engine: str,
    memory_limit: str | None,
    allow_rejects: bool,
    segment_field: str | None,
) -> None:
    """Funnel metrics of POLICY over a scenario's journeys (with a sales
    replay) or over real journeys, each metric with its definition."""
    from mqldsl.simulation.simulate import simulate as run

    check_report_output(output)
    source = _source(scenario_path, journeys, seed, leads, as_of, accounts)
    model = load_policy(policy)
    options = _options(
        [model], assignments, mql_stage, sql_stage, jobs, engine, memory_limit, segment_field
    )
    with reported():
        report = run(model, source, options)
    _show(report, output)
    exit_on_rejects(journeys, report.rejected, allow_rejects)


@cli.command()
@click.argument("base", type=POLICY_PATH)
@click.argument("proposed", required=False, type=POLICY_PATH)
@with_options(_sim_source)
@click.option(
    "--replications",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="Scenario replications (different seeds) for the 95% intervals.",
)
@click.option(
    "--fail-if",
    "fail_if",
    metavar="EXPR",
    help='Exit 1 when this holds, e.g. "mqls.delta_pct > 20 or proposed.mql_precision < 0.3".',
)
def whatif(
    base: str,
    proposed: str | None,
    scenario_path: str | None,
    journeys: str | None,
    accounts: str | None,
    as_of: float | None,
    seed: int | None,
    leads: int | None,
    assignments: tuple[str, ...],
    output: str | None,
    mql_stage: str,
    sql_stage: str | None,
    jobs: int,
    engine: str,
    memory_limit: str | None,
    allow_rejects: bool,
    replications: int,
    fail_if: str | None,
) -> None:
    """What a rule change does before rollout: BASE and PROPOSED (or BASE with
    --set params changed) over the same journeys, metric by metric, with the
    change, a 95% interval, the leads that move between stages and why."""
    from mqldsl.render.explanation import sample_json
    from mqldsl.simulation.failif import FailIfError
    from mqldsl.simulation.whatif import whatif as compare

    check_report_output(output)
    given = click.get_current_context().get_parameter_source("replications")
    if journeys is not None and given is click.core.ParameterSource.COMMANDLINE:
        raise click.BadParameter(
            "replications repeat a scenario with other seeds; over journeys the intervals "
            "come from a bootstrap of the leads",
            param_hint="--replications",
        )
    source = _source(scenario_path, journeys, seed, leads, as_of, accounts)
    if proposed is None and not assignments:
        raise click.UsageError("give a PROPOSED policy, or --set PARAM=VALUE to change BASE")
    base_model = load_policy(base)
    proposed_model = load_policy(proposed) if proposed else None
    models = [base_model] if proposed_model is None else [base_model, proposed_model]
    options = _options(models, assignments, mql_stage, sql_stage, jobs, engine, memory_limit)
    try:
        with reported():
            report = compare(
                base_model,
                proposed_model,
                source,
                options,
                replications=replications,
                fail_if=fail_if,
                describe=sample_json,
            )
    except FailIfError as exc:
        message = str(exc).removeprefix("--fail-if: ")
        raise click.BadParameter(terminal_text(message), param_hint="--fail-if") from None
    _show(report, output)
    failed = report.gate is not None and report.gate.failed
    if report.gate is not None and failed:
        echo_lines([f"fail-if held: {part}" for part in report.gate.held])
    exit_on_rejects(journeys, report.data.rejected if report.data else 0, allow_rejects)
    if failed:
        sys.exit(1)


@cli.command()
@policy_file
@click.option(
    "--param",
    "specs",
    multiple=True,
    required=True,
    metavar="NAME=LO..HI[:STEP]",
    help="A param and the values to try; repeat for several (every combination is run).",
)
@with_options(_sim_source)
def sweep(
    policy: str,
    specs: tuple[str, ...],
    scenario_path: str | None,
    journeys: str | None,
    accounts: str | None,
    as_of: float | None,
    seed: int | None,
    leads: int | None,
    assignments: tuple[str, ...],
    output: str | None,
    mql_stage: str,
    sql_stage: str | None,
    jobs: int,
    engine: str,
    memory_limit: str | None,
    allow_rejects: bool,
) -> None:
    """The main metrics for each value of one or more params (every
    combination): the threshold-tuning view."""
    from mqldsl.simulation.sweep import sweep as run

    check_report_output(output)
    source = _source(scenario_path, journeys, seed, leads, as_of, accounts)
    model = load_policy(policy)
    options = _options([model], assignments, mql_stage, sql_stage, jobs, engine, memory_limit)
    with reported():
        report = run(model, specs, source, options)
    _show(report, output)
    exit_on_rejects(journeys, report.rejected, allow_rejects)
