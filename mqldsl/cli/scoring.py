"""Commands that decide leads: score, sql, explain, timeline, import."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from mqldsl.cli.common import (
    INSTANT,
    JOURNEYS_PATH,
    OUTPUT_OR_STDOUT,
    POLICY_PATH,
    InputPath,
    accounts_option,
    as_of_or_now,
    cli,
    echo_lines,
    events_option,
    journey_file,
    load_policy,
    memory_limit_option,
    params,
    policy_file,
    reported,
    set_option,
    standard_input,
    standard_output,
)

if TYPE_CHECKING:
    from mqldsl.analysis.model import CheckedPolicy
    from mqldsl.engine.runtime import Lead
    from mqldsl.io.journeys import ReadReport
    from mqldsl.io.scoring import ScoreOptions


#: `-o FILE` of `explain` and `timeline` (`-`: standard output, where they write without it).
write_option = click.option(
    "-o",
    "--output",
    type=OUTPUT_OR_STDOUT,
    callback=standard_output,
    help="Write to FILE (`-`: standard output).",
)


@cli.command()
@policy_file
@click.argument("journeys", required=False, type=JOURNEYS_PATH, callback=standard_input)
@click.option("--as-of", type=INSTANT, help="Evaluate as of this instant (default: now).")
@set_option
@click.option(
    "-o",
    "--output",
    type=OUTPUT_OR_STDOUT,
    callback=standard_output,
    help="Write to FILE.jsonl or FILE.csv (`-`: standard output).",
)
@click.option("--explain", is_flag=True, help="Add each decision's explanation (JSON Lines only).")
@click.option(
    "--handoff",
    is_flag=True,
    help="Write a handoff packet (queue, due, top reasons, key activity) for each lead "
    "handed over at or before the as-of instant, instead of decisions (JSON Lines).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes deciding leads (the same decisions, in input order).",
)
@click.option("--max-errors", type=click.IntRange(1), help="Stop after this many rejected records.")
@click.option(
    "--crm",
    type=click.Choice(["hubspot", "salesforce"]),
    help="Write what this CRM imports (with -o FILE.csv).",
)
@click.option(
    "--crm-map", "crm_map", multiple=True, metavar="STAGE=VALUE", help="The CRM value of a stage."
)
@click.option(
    "--crm-mapping",
    type=InputPath(),
    help="A TOML file whose [stages] table maps stages to CRM values.",
)
@events_option
@click.option(
    "--engine",
    type=click.Choice(["python", "duckdb", "spark"]),
    default="python",
    show_default=True,
    help="Evaluate in Python, as SQL in an embedded DuckDB, or with the Python "
    "evaluator inside Spark (same output).",
)
@click.option(
    "--leads",
    "leads_table",
    type=InputPath(),
    help="With --engine duckdb or spark: a leads table (Parquet or CSV) instead of JOURNEYS; "
    "--events gives its events table.",
)
@memory_limit_option
@accounts_option
def score(
    policy: str,
    journeys: str | None,
    as_of: float | None,
    assignments: tuple[str, ...],
    output: str | None,
    explain: bool,
    handoff: bool,
    jobs: int,
    max_errors: int | None,
    crm: str | None,
    crm_map: tuple[str, ...],
    crm_mapping: str | None,
    events: str | None,
    engine: str,
    leads_table: str | None,
    memory_limit: str | None,
    accounts: str | None,
) -> None:
    """Decide every lead in JOURNEYS (JSON Lines, or a leads CSV with --events).

    Writes one decision per lead, in input order: JSON Lines to standard
    output or -o FILE.jsonl, a flat table for -o FILE.csv. The summary goes to
    standard error; exits 1 when a record was rejected.

    `--engine duckdb` compiles the policy to SQL (see `mqldsl sql`) and runs it
    in an embedded DuckDB; it also reads Parquet tables exported from a
    warehouse: `--leads LEADS.parquet --events EVENTS.parquet`. `--engine spark`
    runs the Python evaluator on Spark's executors (every policy; see docs/spark.md).
    """
    from mqldsl.io.scoring import ScoreOptions
    from mqldsl.warehouse.scoring import ScoreRequest
    from mqldsl.warehouse.scoring import score as score_leads

    model = load_policy(policy)
    options = ScoreOptions(
        as_of=as_of_or_now(as_of),
        params=params(model, assignments),
        explain=explain,
        jobs=jobs,
        max_errors=max_errors,
        accounts=accounts,
    )
    if handoff:
        others = [crm, leads_table, memory_limit, *crm_map, crm_mapping]
        _handoff(model, journeys, events, options, output, engine, any(o for o in others))
        return
    request = ScoreRequest(
        options=options,
        journeys=journeys,
        leads_table=leads_table,
        events=events,
        output=output,
        engine=engine,
        memory_limit=memory_limit,
        crm=crm,
        crm_map=crm_map,
        crm_mapping=crm_mapping,
    )
    with reported():
        outcome = score_leads(model, request)
    lines = outcome.summary_lines()
    if output is not None and not output.lower().endswith((".jsonl", ".ndjson", ".json", ".csv")):
        lines.insert(0, f"wrote JSON Lines to {output} (a name ending in .csv writes a table)")
    echo_lines(lines)
    sys.exit(1 if outcome.failed else 0)


def _handoff(
    model: CheckedPolicy,
    journeys: str | None,
    events: str | None,
    options: ScoreOptions,
    output: str | None,
    engine: str,
    other: bool,
) -> None:
    from mqldsl.render.handoff import write_packets

    if options.explain or options.jobs > 1 or engine != "python" or other:
        raise click.UsageError(
            "--handoff writes packets with the Python engine in one process: leave out "
            "--explain, --jobs, --engine duckdb, --leads, --memory-limit and the --crm options"
        )
    if output is not None and not output.endswith(".jsonl"):
        raise click.BadParameter("handoff packets are JSON Lines: -o FILE.jsonl", param_hint="-o")
    if journeys is None:
        raise click.UsageError("--handoff needs JOURNEYS")
    with reported():
        outcome = write_packets(model, journeys, events, options, output)
    echo_lines(outcome.summary_lines())
    sys.exit(1 if outcome.failed else 0)


@cli.command("sql")
@policy_file
@click.option(
    "--dialect",
    type=click.Choice(["duckdb", "spark", "snowflake", "bigquery", "postgres"]),
    default="duckdb",
    show_default=True,
    help="The SQL dialect to write (through sqlglot).",
)
@click.option("--as-of", type=INSTANT, help="Decide as of this instant (default: now).")
@set_option
@click.option(
    "--leads-table", default="leads", show_default=True, help="The leads table (may be db.table)."
)
@click.option(
    "--events-table",
    default="events",
    show_default=True,
    help="The events table (may be db.table).",
)
@click.option(
    "--accounts-table",
    default="accounts",
    show_default=True,
    help="The accounts table of a policy with accounts (may be db.table).",
)
@click.option(
    "--events-order",
    metavar="COLUMN",
    help="A column of the events table that gives the events' input order: hot-event routes "
    "hand off the events of one instant in that order, the last standing (as `score` does).",
)
@click.option(
    "-o",
    "--output",
    type=OUTPUT_OR_STDOUT,
    callback=standard_output,
    help="Write the query to FILE (`-`: standard output).",
)
def sql_command(
    policy: str,
    dialect: str,
    as_of: float | None,
    assignments: tuple[str, ...],
    leads_table: str,
    events_table: str,
    accounts_table: str,
    events_order: str | None,
    output: str | None,
) -> None:
    """Print the SQL query that decides every lead of POLICY in a warehouse.

    The query reads `leads(id, <lead fields>)` and `events(lead_id, type, at,
    <event fields>)` and returns one row per lead: id, as_of, stage, one
    `score_<name>` column per score, disqualified (the reasons, in declared
    order), queue, sla, due, one `entered_<stage>` column per stage, and the
    policy (policy_version, policy_sha256, policy_params). It gives the same
    decisions as `mqldsl score` (see docs/sql.md). A policy with accounts also
    reads `leads.account` and `accounts(id, <account fields>)`, and returns
    `account` and one `account_score_<name>` column per account score. With
    hot-event routes it also returns `route_entered` (the handoff instant).
    """
    from mqldsl.io.files import write_output
    from mqldsl.warehouse.scoring import policy_sql, require_sql

    model = load_policy(policy)
    with reported():
        require_sql(model)  # before the params, as the command always has
    when = as_of_or_now(as_of)
    values = params(model, assignments)
    with reported():
        data = policy_sql(
            model, when, values, dialect, leads_table, events_table, accounts_table, events_order
        ).encode()
        write_output(output, lambda sink: sink.write(data))


explanation_format = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "md", "html"]),
    default="text",
    show_default=True,
    help="Text for a terminal, JSON for tools, Markdown for a ticket or wiki, HTML for a page.",
)


@cli.command()
@policy_file
@journey_file
@click.option("--lead", "lead_id", required=True, help="The id of the lead to explain.")
@click.option("--as-of", type=INSTANT, help="Evaluate as of this instant (default: now).")
@set_option
@explanation_format
@click.option(
    "--why-not",
    "why_not",
    metavar="STAGE",
    help="Only why the lead is not at STAGE: each failing clause, its values and shortfall.",
)
@write_option
@events_option
@accounts_option
def explain(
    policy: str,
    journeys: str,
    lead_id: str,
    as_of: float | None,
    assignments: tuple[str, ...],
    output_format: str,
    why_not: str | None,
    output: str | None,
    events: str | None,
    accounts: str | None,
) -> None:
    """Why a lead is where it is (SPEC §8.0): each clause of its stage with the values
    used and, for a stage entered earlier, when and what tipped it; why not the next
    stages (failing clauses and shortfalls); disqualifiers with their evidence; every
    point with its events, decay and caps; the history with each handoff."""
    model = load_policy(policy)
    if why_not is not None and why_not not in model.stage_names:
        raise click.BadParameter(
            f"`{why_not}` is not a stage of {policy}; its stages are "
            + ", ".join(model.stage_names),
            param_hint="--why-not",
        )
    values = params(model, assignments)
    lead, report = _find_lead(model, journeys, events, lead_id, accounts)
    _write_explanation(model, values, lead, as_of, output_format, output, why_not)
    _exit_on_rejected(report)


@cli.command()
@policy_file
@journey_file
@click.option("--lead", "lead_id", required=True, help="The id of the lead.")
@click.option("--as-of", type=INSTANT, help="Up to this instant (default: now).")
@set_option
@explanation_format
@write_option
@events_option
@accounts_option
def timeline(
    policy: str,
    journeys: str,
    lead_id: str,
    as_of: float | None,
    assignments: tuple[str, ...],
    output_format: str,
    output: str | None,
    events: str | None,
    accounts: str | None,
) -> None:
    """The lead's stage history: each change of stage with the reason, the event that
    tipped it and the scores at that instant, each recycle and disqualification, and
    each handoff with its queue and due time."""
    model = load_policy(policy)
    lead, report = _find_lead(model, journeys, events, lead_id, accounts)
    values = params(model, assignments)
    _write_explanation(model, values, lead, as_of, output_format, output, None, history=True)
    _exit_on_rejected(report)


def _write_explanation(
    model: CheckedPolicy,
    values: dict[str, Any],
    lead: Lead,
    as_of: float | None,
    output_format: str,
    output: str | None,
    why_not: str | None,
    history: bool = False,
) -> None:
    import json

    from mqldsl.io.files import write_output
    from mqldsl.io.scoring import explain_lead
    from mqldsl.render.explanation import (
        outline,
        render_explanation,
        timeline_outline,
        why_not_outline,
    )

    with reported():
        decision, data = explain_lead(model, values, lead, as_of_or_now(as_of))
    if output_format == "json":
        if history:
            # (every handoff too: the hot events' are not changes of stage, SPEC §8.0)
            whole = data.to_json()
            body: dict[str, Any] = {
                **decision,
                "timeline": whole["timeline"],
                "handoffs": whole["handoffs"],
            }
        elif why_not is not None:
            body = {
                **decision,
                "why_not": {**data.check(why_not).to_json(), "status": data.status(why_not)},
            }
        else:
            body = {**decision, "explanation": data.to_json()}
        text = json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    else:
        if history:
            sections = timeline_outline(data)
        elif why_not is not None:
            sections = why_not_outline(data, why_not)
        else:
            sections = outline(data)
        text = render_explanation(sections, output_format)
    if output is None:
        click.echo(text, nl=False)
        return
    payload = text.encode()
    with reported():
        write_output(output, lambda sink: sink.write(payload))


def _find_lead(
    model: CheckedPolicy, journeys: str, events: str | None, lead_id: str, accounts: str | None
) -> tuple[Lead, ReadReport]:
    from mqldsl.io.journeys import ReadReport
    from mqldsl.io.scoring import LeadNotFound, find_lead

    report = ReadReport()
    try:
        with reported():
            return find_lead(model, journeys, events, lead_id, accounts, report), report
    except LeadNotFound as exc:
        echo_lines(exc.rejected)
        raise click.ClickException(exc.message) from None


def _exit_on_rejected(report: ReadReport) -> None:
    """After the explanation: the records the reading rejected (a colleague's among them
    changes the lead's account scores) and what it ignored, then exit 1 if it rejected any
    (every record read is used or rejected, and said: docs/import.md)."""
    from mqldsl.io.scoring import summary_lines

    if report.rejected_count or report.notes():
        lines = summary_lines(report.read - report.rejected_count, report)
        echo_lines(lines[:-1] if not report.rejected_count else lines)
    if report.rejected_count:
        sys.exit(1)


@cli.command(name="import")
@click.argument("leads", type=InputPath())
@click.option(
    "--policy",
    type=POLICY_PATH,
    required=True,
    help="The policy whose schema the journeys follow.",
)
@click.option(
    "--mapping",
    type=InputPath(),
    required=True,
    help="The mapping file (docs/import.md).",
)
@click.option(
    "--table",
    "tables",
    multiple=True,
    metavar="NAME=FILE",
    help="A table the mapping joins to the leads.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    required=True,
    help="The journeys file to write (JSON Lines).",
)
def import_command(
    leads: str, policy: str, mapping: str, tables: tuple[str, ...], output: str
) -> None:
    """Turn a CRM-style CSV export into journeys (SPEC §12), as the mapping
    says. Every row is imported or reported with its line number."""
    from mqldsl.io.importer import import_journeys

    model = load_policy(policy)
    with reported():
        report = import_journeys(model, mapping, leads, tables, output)
    echo_lines(report.summary_lines())
    sys.exit(1 if report.rejected else 0)
