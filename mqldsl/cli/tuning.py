"""The `tune` command: search params for the values that maximise a metric
under constraints (SPEC §14.2, docs/tune.md)."""

from __future__ import annotations

import json
import sys

import click

from mqldsl.cli.common import INSTANT, InputPath, cli, echo_lines, params, policy_file, reported
from mqldsl.cli.simulation import exit_on_rejects


@cli.command()
@policy_file
@click.option(
    "--param",
    "specs",
    multiple=True,
    required=True,
    metavar="NAME=LO..HI[:STEP]",
    help="A param and the values to try (repeat for several).",
)
@click.option("--journeys", type=InputPath(), help="Tune on these journeys.")
@click.option(
    "--accounts",
    type=InputPath(),
    help='With --journeys: the accounts\' fields (JSON Lines, {"id": ..., "profile": {...}}).',
)
@click.option(
    "--scenario",
    "scenario_path",
    type=InputPath(),
    help="Tune on journeys generated from this scenario.",
)
@click.option("--maximize", required=True, metavar="METRIC", help="The metric to maximise.")
@click.option(
    "--subject-to",
    metavar="EXPR",
    help='Constraints on the fitting part, e.g. "mql_precision >= 0.85 and sla_met >= 0.9".',
)
@click.option(
    "--holdout",
    type=float,
    metavar="FRACTION",
    help="Hold out this fraction of the leads (by a seeded hash of their id). Without it "
    "or --holdout-after, nothing is held out: the figures are of the fitting part only.",
)
@click.option(
    "--holdout-after",
    type=INSTANT,
    metavar="DATE",
    help="Hold out the leads that arrived after this date (created_at, else first event).",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the tuned policy here."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown", "html"]),
    default="text",
    show_default=True,
    help="text: the report for a terminal; json: every figure (docs/tune.md); markdown; "
    "html: a page with the trade-off chart (redirect it to a file).",
)
@click.option("--seed", type=int, help="Seed of the holdout hash, the scenario and Optuna.")
@click.option(
    "--trials",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="Optuna trials when the grid has more than 2,000 combinations.",
)
@click.option("--as-of", type=INSTANT, help="Default: the end of the data.")
@click.option("--leads", type=click.IntRange(1), help="With --scenario: this many leads.")
@click.option(
    "--set", "assignments", multiple=True, metavar="PARAM=VALUE", help="Override a param."
)
@click.option("--mql-stage", default="mql", show_default=True, help="The stage that counts as MQL.")
@click.option("--sql-stage", default=None, help="The stage that counts as SQL (default: `sql`).")
@click.option(
    "--allow-rejects",
    is_flag=True,
    help="Exit 0 even when records of --journeys were rejected (default: exit 1).",
)
def tune(
    policy: str,
    specs: tuple[str, ...],
    journeys: str | None,
    accounts: str | None,
    scenario_path: str | None,
    maximize: str,
    subject_to: str | None,
    holdout: float | None,
    holdout_after: float | None,
    output: str | None,
    output_format: str,
    seed: int | None,
    trials: int,
    as_of: float | None,
    leads: int | None,
    assignments: tuple[str, ...],
    mql_stage: str,
    sql_stage: str | None,
    allow_rejects: bool,
) -> None:
    """Search params for the values that maximise a metric under
    constraints, fitted on part of the leads and checked on the rest.

    Exits 1 when no candidate satisfies the constraints on the fitting part, or when
    records of --journeys were rejected (unless --allow-rejects).
    """
    from mqldsl import api
    from mqldsl.cli.common import load_policy
    from mqldsl.render.tuning import tune_html, tune_markdown, tune_text

    if holdout is not None and holdout_after is not None:
        raise click.UsageError("give --holdout or --holdout-after, not both")
    if (journeys is None) == (scenario_path is None):
        raise click.UsageError("give exactly one of --journeys and --scenario")
    model = load_policy(policy)
    overrides = params(model, assignments)
    with reported():
        report = api.tune(
            model,
            list(specs),
            maximize=maximize,
            subject_to=subject_to,
            scenario=scenario_path,
            journeys=journeys,
            accounts=accounts,
            holdout=holdout,
            holdout_after=holdout_after,
            seed=seed,
            leads=leads,
            as_of=as_of,
            params=overrides,
            trials=trials,
            output=output,
            mql_stage=mql_stage,
            sql_stage=sql_stage,
        )
    if report.summary:
        echo_lines([report.summary])
    data = report.to_json()
    if output_format == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif output_format == "markdown":
        click.echo(tune_markdown(data), nl=False)
    elif output_format == "html":
        click.echo(tune_html(data), nl=False)
    else:
        click.echo(tune_text(data), nl=False)
    if report.best is None:
        echo_lines(
            [
                f"error: no candidate satisfies `{report.subject_to}` on the fitting part "
                f"({report.search['evaluated']} tried); loosen the constraints or widen --param"
            ]
        )
    exit_on_rejects(journeys, report.rejected, allow_rejects)
    if report.best is None:
        sys.exit(1)
