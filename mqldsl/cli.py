"""The ``mqldsl`` command. Each command is a thin shell over the library:
parse the arguments, call the library, print, choose the exit code.

Exit codes (SPEC §13): 0 success; 1 the input has problems; 2 the command
line itself is wrong.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from mqldsl import __version__

if TYPE_CHECKING:
    from mqldsl.check.model import CheckedPolicy
    from mqldsl.engine.runtime import Lead
    from mqldsl.language.diagnostics import Diagnostic
    from mqldsl.language.source import Source

MAX_PER_FILE = 50


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mqldsl")
def cli() -> None:
    """Lead-qualification policies as code: check, format and test MQL/SQL
    rules written in the mqldsl policy language; score and explain leads;
    simulate a rule change before rollout; import CRM exports; and publish
    the shared definitions document."""


def _print_diagnostics(
    diagnostics: Sequence[Diagnostic], source: Source | None, limit: int = MAX_PER_FILE
) -> None:
    for diagnostic in diagnostics[:limit]:
        click.echo(diagnostic.render(source))
    if len(diagnostics) > limit:
        file = diagnostics[0].span.file
        click.echo(f"{file}: ... and {len(diagnostics) - limit} more")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print the diagnostics.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def check(paths: tuple[str, ...], output_format: str, strict: bool) -> None:
    """Parse, type-check and lint policies.

    PATHS are .mql files or folders (every .mql file under a folder is
    checked). Prints every problem found, then a summary; exits 1 when there
    is an error (with --strict, also on a warning).
    """
    from mqldsl.check.checker import check_file
    from mqldsl.io.files import expand_policy_paths
    from mqldsl.language.diagnostics import summary, to_json

    files = expand_policy_paths(paths)
    if not files:
        raise click.UsageError("no .mql files found in " + ", ".join(paths))
    everything: list[Diagnostic] = []
    for file in files:
        result = check_file(file)
        diagnostics = result.diagnostics
        everything.extend(diagnostics)
        if output_format == "text":
            _print_diagnostics(diagnostics, result.source)
    if output_format == "json":
        click.echo(to_json(everything))
    else:
        noun = "file" if len(files) == 1 else "files"
        click.echo(f"checked {len(files)} {noun}: {summary(everything)}", err=True)
    failed = any(d.is_error for d in everything) or (strict and bool(everything))
    sys.exit(1 if failed else 0)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--check", "check_only", is_flag=True, help="Change nothing; exit 1 if a file would change."
)
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Print what would change as a unified diff; change nothing.",
)
def fmt(paths: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Rewrite policies in canonical form.

    PATHS are .mql files or folders; `-` reads a policy from standard input
    and writes the formatted text to standard output. Comments are kept.
    A file with syntax errors is reported and left untouched.
    """
    import difflib

    from mqldsl.io.files import expand_policy_paths, write_atomic
    from mqldsl.language.diagnostics import sort_diagnostics
    from mqldsl.language.parser import parse_bytes, parse_file
    from mqldsl.language.printer import format_policy

    files = expand_policy_paths(paths)
    if not files:
        raise click.UsageError("no .mql files found in " + ", ".join(paths))
    failed = False
    changed: list[str] = []
    unchanged = 0
    for file in files:
        if file == "-":
            result = parse_bytes(sys.stdin.buffer.read(), "<stdin>")
        else:
            result = parse_file(file)
        if result.policy is None or any(d.is_error for d in result.diagnostics):
            _print_diagnostics(sort_diagnostics(result.diagnostics), result.source)
            failed = True
            continue
        original = result.source.text
        formatted = format_policy(result.policy, result.source)
        _verify(result, formatted)
        if file == "-":
            click.echo(formatted, nl=False)
            continue
        if formatted == original:
            unchanged += 1
            continue
        changed.append(file)
        if show_diff:
            click.echo(
                "".join(
                    difflib.unified_diff(
                        original.splitlines(keepends=True),
                        formatted.splitlines(keepends=True),
                        fromfile=file,
                        tofile=file + " (formatted)",
                    )
                ),
                nl=False,
            )
        elif check_only:
            click.echo(f"would reformat {file}")
        else:
            write_atomic(file, formatted)
            click.echo(f"reformatted {file}", err=True)
    verb = "would be reformatted" if (check_only or show_diff) else "reformatted"
    if any(f != "-" for f in files):
        click.echo(
            f"{len(changed)} {'file' if len(changed) == 1 else 'files'} {verb}, "
            f"{unchanged} unchanged",
            err=True,
        )
    if failed or ((check_only or show_diff) and changed):
        sys.exit(1)


# ---------------------------------------------------------------- shared options


class _Instant(click.ParamType):  # type: ignore[type-arg]
    """An instant (`2026-11-01T09:30:00Z`) or a date (midnight UTC)."""

    name = "instant"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        from mqldsl.engine.runtime import date_seconds, parse_instant

        text = str(value)
        try:
            if "T" not in text:
                import datetime as dt

                return date_seconds(dt.date.fromisoformat(text))
            return parse_instant(text)
        except ValueError as exc:
            self.fail(f"{text!r} is not an instant such as 2026-11-01T09:30:00Z or a date: {exc}")


INSTANT = _Instant()

_SIZE_UNITS = {"kb": "KB", "mb": "MB", "gb": "GB", "tb": "TB"}
_SIZE_UNITS |= {"kib": "KiB", "mib": "MiB", "gib": "GiB", "tib": "TiB"}


class _MemorySize(click.ParamType):  # type: ignore[type-arg]
    """A memory size for DuckDB: a number and a unit, e.g. 512MB or 4GB."""

    name = "size"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value).strip()
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)", text)
        if match is None or match.group(2).lower() not in _SIZE_UNITS or float(match.group(1)) <= 0:
            self.fail(
                f"{text!r} is not a memory size: write a positive number and a unit "
                "(KB, MB, GB, TB, or KiB, MiB, GiB, TiB), e.g. 4GB",
                param,
                ctx,
            )
        return match.group(1) + _SIZE_UNITS[match.group(2).lower()]


_memory_limit_option = click.option(
    "--memory-limit",
    type=_MemorySize(),
    help="With --engine duckdb: the memory DuckDB may use, e.g. 4GB (default: DuckDB's, "
    "80% of RAM); the leads are decided in chunks sized to fit it.",
)


def _engine_problem(exc: Exception) -> str:
    """One line for a DuckDB failure; running out of memory says what to do."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(exc, duckdb.OutOfMemoryException):
        return (
            f"DuckDB ran out of memory ({first}); raise --memory-limit, or leave it out "
            "to let DuckDB use up to 80% of the machine's memory"
        )
    return first


def _check_memory_limit(memory_limit: str | None, engine: str) -> None:
    if memory_limit is not None and engine != "duckdb":
        raise click.UsageError("--memory-limit sets DuckDB's memory: use it with --engine duckdb")


def _now() -> float:
    import datetime as dt

    from mqldsl.engine.runtime import to_seconds

    return to_seconds(dt.datetime.now(dt.UTC).replace(microsecond=0))


def _load_policy(path: str) -> CheckedPolicy:
    """Check a policy; print its diagnostics and exit 1 if it has errors."""
    from mqldsl.check.checker import check_file

    result = check_file(path)
    errors = [d for d in result.diagnostics if d.is_error]
    if result.model is None or errors:
        for diagnostic in result.diagnostics[:MAX_PER_FILE]:
            click.echo(diagnostic.render(result.source), err=True)
        click.echo(f"{path}: the policy has errors; no lead was read", err=True)
        sys.exit(1)
    return result.model


def _params(model: CheckedPolicy, assignments: Sequence[str]) -> dict[str, object]:
    from mqldsl.check.checker import ParamOverrideError, parse_param_override

    values: dict[str, object] = {}
    for assignment in assignments:
        try:
            name, value = parse_param_override(model, assignment)
        except ParamOverrideError as exc:
            raise click.BadParameter(
                f"error[{exc.code}]: {exc.message}" + (f"; {exc.hint}" if exc.hint else ""),
                param_hint="--set",
            ) from None
        values[name] = value
    return values


def _find_lead(model: CheckedPolicy, journeys: str, events: str | None, lead_id: str) -> Lead:
    from mqldsl.io.journeys import ReadReport
    from mqldsl.io.scoring import read_leads

    report = ReadReport()
    for lead in read_leads(model, journeys, events, report):
        if lead.id == lead_id:
            return lead
    for file, line, reason in report.rejected:
        click.echo(f"{file}:{line}: {reason}", err=True)
    raise click.ClickException(f"no lead with id `{lead_id}` in {journeys}")


_journey_file = click.argument("journeys", type=click.Path(exists=True, dir_okay=False))
_policy_file = click.argument("policy", type=click.Path(exists=True, dir_okay=False))
_events_option = click.option(
    "--events",
    type=click.Path(exists=True, dir_okay=False),
    help="With a leads CSV: the events table (lead_id, type, at, fields...).",
)


@cli.command()
@_policy_file
@click.argument("journeys", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--as-of", type=INSTANT, help="Evaluate as of this instant (default: now).")
@click.option(
    "--set", "assignments", multiple=True, metavar="PARAM=VALUE", help="Override a param."
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.jsonl or FILE.csv."
)
@click.option("--explain", is_flag=True, help="Add each decision's explanation (JSON Lines only).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Processes.")
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
    type=click.Path(exists=True, dir_okay=False),
    help="A TOML file whose [stages] table maps stages to CRM values.",
)
@_events_option
@click.option(
    "--engine",
    type=click.Choice(["python", "duckdb"]),
    default="python",
    show_default=True,
    help="Evaluate in Python, or as SQL in an embedded DuckDB (same output).",
)
@click.option(
    "--leads",
    "leads_table",
    type=click.Path(exists=True, dir_okay=False),
    help="With --engine duckdb: a leads table (Parquet or CSV) instead of JOURNEYS; "
    "--events gives its events table.",
)
@_memory_limit_option
def score(
    policy: str,
    journeys: str | None,
    as_of: float | None,
    assignments: tuple[str, ...],
    output: str | None,
    explain: bool,
    jobs: int,
    max_errors: int | None,
    crm: str | None,
    crm_map: tuple[str, ...],
    crm_mapping: str | None,
    events: str | None,
    engine: str,
    leads_table: str | None,
    memory_limit: str | None,
) -> None:
    """Decide every lead in JOURNEYS (JSON Lines, or a leads CSV with --events).

    Writes one decision per lead, in input order: JSON Lines to standard
    output or -o FILE.jsonl, a flat table for -o FILE.csv. The summary goes to
    standard error; exits 1 when a record was rejected.

    `--engine duckdb` compiles the policy to SQL (see `mqldsl sql`) and runs it
    in an embedded DuckDB; it also reads Parquet tables exported from a
    warehouse: `--leads LEADS.parquet --events EVENTS.parquet`.
    """
    from mqldsl.io.journeys import ReadReport
    from mqldsl.io.scoring import ScoreOptions, summary_lines

    model = _load_policy(policy)
    options = ScoreOptions(
        as_of=as_of if as_of is not None else _now(),
        params=_params(model, assignments),
        explain=explain,
        jobs=jobs,
        max_errors=max_errors,
    )
    to_csv = output is not None and output.lower().endswith(".csv")
    crm_stages = None
    if crm is not None or crm_map or crm_mapping:
        from mqldsl.io.crm import CrmMappingError, read_mapping_file, stage_mapping

        if crm is None or not to_csv:
            raise click.UsageError(
                "--crm needs -o FILE.csv (and --crm-map/--crm-mapping need --crm)"
            )
        overrides: dict[str, str] = {}
        if crm_mapping:
            try:
                overrides.update(read_mapping_file(crm_mapping))
            except CrmMappingError as exc:
                raise click.BadParameter(str(exc), param_hint="--crm-mapping") from None
        for item in crm_map:
            stage, sep, value = item.partition("=")
            if not sep:
                raise click.BadParameter(f"`{item}` is not STAGE=VALUE", param_hint="--crm-map")
            overrides[stage.strip()] = value.strip()
        try:
            crm_stages = stage_mapping(model, crm, overrides)
        except CrmMappingError as exc:
            raise click.BadParameter(str(exc), param_hint="--crm-map") from None
    if to_csv and explain:
        raise click.UsageError(
            "--explain needs JSON Lines output (-o FILE.jsonl or standard output)"
        )
    if (journeys is None) == (leads_table is None):
        raise click.UsageError("give JOURNEYS or --leads LEADS (a table), not both")
    if leads_table is not None and engine != "duckdb":
        raise click.UsageError("--leads reads warehouse tables: use it with --engine duckdb")
    _check_memory_limit(memory_limit, engine)
    report = ReadReport()
    if engine == "duckdb":
        if explain or jobs > 1:
            raise click.UsageError(
                "--explain and --jobs belong to the Python engine; "
                "--engine duckdb uses every core by itself"
            )
        _require_sql(model, policy)
        evaluated = _write_output(
            output,
            lambda sink: _score_duckdb(
                sink,
                model,
                journeys,
                leads_table,
                events,
                options,
                report,
                to_csv,
                crm,
                crm_stages,
                memory_limit,
            ),
        )
        for line in summary_lines(evaluated, report):
            click.echo(line, err=True)
        sys.exit(1 if report.rejected_count else 0)
    assert journeys is not None
    if jobs > 1 and (to_csv or journeys.lower().endswith(".csv")):
        raise click.UsageError("--jobs works with JSON Lines input and output")
    evaluated = _write_output(
        output,
        lambda sink: _score_into(
            sink, model, policy, journeys, events, options, report, to_csv, crm, crm_stages
        ),
    )
    for line in summary_lines(evaluated, report):
        click.echo(line, err=True)
    sys.exit(1 if report.rejected_count else 0)


def _require_sql(model: CheckedPolicy, policy: str) -> None:
    """Exit 1 with the E6xx diagnostics unless the SQL back end can evaluate
    the policy faithfully."""
    from mqldsl.sql.compiler import sql_diagnostics

    problems = sql_diagnostics(model)
    if problems:
        for diagnostic in problems:
            click.echo(diagnostic.render(model.source), err=True)
        click.echo(f"{policy}: the SQL back end cannot evaluate this policy", err=True)
        sys.exit(1)


def _csv_writer(text: Any, model: CheckedPolicy, crm: str | None, crm_stages: Any) -> Any:
    if crm is not None and crm_stages is not None:
        from mqldsl.io.crm import CrmWriter

        return CrmWriter(text, model, crm, crm_stages)
    from mqldsl.io.scoring import CsvWriter

    return CsvWriter(text, model)


def _score_duckdb(
    sink: Any,
    model: CheckedPolicy,
    journeys: str | None,
    leads_table: str | None,
    events: str | None,
    options: Any,
    report: Any,
    to_csv: bool,
    crm: str | None,
    crm_stages: dict[str, str] | None,
    memory_limit: str | None,
) -> int:
    import io

    import duckdb

    from mqldsl.io.scoring import decision_line, read_leads
    from mqldsl.sql.engine import DuckDBEngine, EngineError

    report.limit = options.max_errors
    with DuckDBEngine(model, memory_limit=memory_limit) as engine:
        try:
            if leads_table is not None and not leads_table.lower().endswith(".csv"):
                engine.load_tables(leads_table, events, report)
            elif leads_table is not None:
                engine.load_leads(read_leads(model, leads_table, events, report))
            else:
                assert journeys is not None
                engine.load_leads(read_leads(model, journeys, events, report))
            decided = engine.decide(options.as_of, options.params)
        except (EngineError, duckdb.Error) as exc:
            click.echo(f"error: {_engine_problem(exc)}", err=True)
            sys.exit(1)
        decisions = (item.decision for item in decided)
        count = 0
        if to_csv:
            text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=True)
            writer = _csv_writer(text, model, crm, crm_stages)
            for decision in decisions:
                writer.write(decision)
                count += 1
            text.flush()
            text.detach()
            return count
        for decision in decisions:
            sink.write(decision_line(decision))
            count += 1
        return count


def _score_into(
    sink: Any,
    model: CheckedPolicy,
    policy: str,
    journeys: str,
    events: str | None,
    options: Any,
    report: Any,
    to_csv: bool,
    crm: str | None = None,
    crm_stages: dict[str, str] | None = None,
) -> int:
    import io

    from mqldsl.io.scoring import score_parallel, score_sequential

    if options.jobs > 1:
        return score_parallel(policy, journeys, options, sink, report)
    if to_csv:
        text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=True)
        writer = _csv_writer(text, model, crm, crm_stages)
        count = score_sequential(model, journeys, events, options, writer.write, report)
        text.flush()
        text.detach()
        return count

    from mqldsl.io.scoring import decision_line

    def write(item: Any) -> None:
        sink.write(item if isinstance(item, bytes) else decision_line(item))

    return score_sequential(model, journeys, events, options, write, report)


def _write_output(output: str | None, produce: Callable[[BinaryIO], int]) -> int:
    """Run ``produce(binary sink)`` into standard output or atomically into a file."""
    from pathlib import Path

    from mqldsl.io.files import atomic_output

    if output is None:
        stream = sys.stdout.buffer
        count = produce(stream)
        stream.flush()
        return count
    folder = Path(output).parent
    if str(folder) and not folder.is_dir():
        raise click.BadParameter(f"the folder {str(folder)!r} does not exist", param_hint="-o")
    with atomic_output(output) as sink:
        return produce(sink)


@cli.command("sql")
@_policy_file
@click.option(
    "--dialect",
    type=click.Choice(["duckdb", "spark", "snowflake", "bigquery", "postgres"]),
    default="duckdb",
    show_default=True,
    help="The SQL dialect to write (through sqlglot).",
)
@click.option("--as-of", type=INSTANT, help="Decide as of this instant (default: now).")
@click.option(
    "--set", "assignments", multiple=True, metavar="PARAM=VALUE", help="Override a param."
)
@click.option(
    "--leads-table", default="leads", show_default=True, help="The leads table (may be db.table)."
)
@click.option(
    "--events-table",
    default="events",
    show_default=True,
    help="The events table (may be db.table).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the query to FILE.")
def sql_command(
    policy: str,
    dialect: str,
    as_of: float | None,
    assignments: tuple[str, ...],
    leads_table: str,
    events_table: str,
    output: str | None,
) -> None:
    """Print the SQL query that decides every lead of POLICY in a warehouse.

    The query reads `leads(id, <lead fields>)` and `events(lead_id, type, at,
    <event fields>)` and returns one row per lead: id, as_of, stage, one
    `score_<name>` column per score, disqualified (the reasons, in declared
    order), queue, sla, due and one `entered_<stage>` column per stage. It
    gives the same decisions as `mqldsl score` (see docs/sql.md).
    """
    import sqlglot

    from mqldsl.language.diagnostics import DiagnosticsError
    from mqldsl.sql.compiler import compile_sql

    model = _load_policy(policy)
    _require_sql(model, policy)
    when = as_of if as_of is not None else _now()
    try:
        tables = [sqlglot.exp.to_table(name) for name in (leads_table, events_table)]
    except sqlglot.errors.ParseError:
        raise click.BadParameter(
            "a table name is NAME or SCHEMA.NAME", param_hint="--leads-table/--events-table"
        ) from None
    try:
        compiled = compile_sql(
            model,
            when,
            _params(model, assignments),
            leads_table=tables[0].sql(dialect=dialect),
            events_table=tables[1].sql(dialect=dialect),
        )
        text = compiled.sql(dialect) + ";\n"
    except DiagnosticsError as exc:  # pragma: no cover - sql_diagnostics ran first
        _print_diagnostics(exc.diagnostics, model.source)
        sys.exit(1)
    except sqlglot.errors.UnsupportedError as exc:
        click.echo(f"error: sqlglot cannot write this query for {dialect}: {exc}", err=True)
        sys.exit(1)
    data = text.encode("utf-8")

    def produce(sink: BinaryIO) -> int:
        sink.write(data)
        return 1

    _write_output(output, produce)


@cli.command()
@_policy_file
@_journey_file
@click.option("--lead", "lead_id", required=True, help="The id of the lead to explain.")
@click.option("--as-of", type=INSTANT, help="Evaluate as of this instant (default: now).")
@click.option(
    "--set", "assignments", multiple=True, metavar="PARAM=VALUE", help="Override a param."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@_events_option
def explain(
    policy: str,
    journeys: str,
    lead_id: str,
    as_of: float | None,
    assignments: tuple[str, ...],
    output_format: str,
    events: str | None,
) -> None:
    """Why a lead is where it is: every score's rules with the points given and
    the events behind them, the stage conditions, disqualifiers, route and SLA."""
    import json

    from mqldsl.engine.evaluator import Evaluator
    from mqldsl.engine.explain import explanation, render_text

    model = _load_policy(policy)
    params = _params(model, assignments)
    lead = _find_lead(model, journeys, events, lead_id)
    moment = as_of if as_of is not None else _now()
    result = Evaluator(model, params).run(lead, moment, explain=True)
    data = explanation(model, lead, result)
    if output_format == "json":
        click.echo(
            json.dumps(
                {**result.decision.to_json(), "explanation": data}, indent=2, ensure_ascii=False
            )
        )
    else:
        click.echo(render_text(model, lead, data, moment), nl=False)


@cli.command()
@_policy_file
@_journey_file
@click.option("--lead", "lead_id", required=True, help="The id of the lead.")
@click.option("--as-of", type=INSTANT, help="Up to this instant (default: now).")
@click.option(
    "--set", "assignments", multiple=True, metavar="PARAM=VALUE", help="Override a param."
)
@_events_option
def timeline(
    policy: str,
    journeys: str,
    lead_id: str,
    as_of: float | None,
    assignments: tuple[str, ...],
    events: str | None,
) -> None:
    """The lead's stage history: when it entered each stage and why, with
    recycles and disqualification periods."""
    from mqldsl.engine.evaluator import Evaluator
    from mqldsl.engine.explain import render_timeline

    model = _load_policy(policy)
    lead = _find_lead(model, journeys, events, lead_id)
    moment = as_of if as_of is not None else _now()
    result = Evaluator(model, _params(model, assignments)).run(lead, moment)
    click.echo(render_timeline(lead, result.steps, moment), nl=False)


@cli.command(name="test")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--coverage",
    is_flag=True,
    help="List rules, stages, disqualifiers and routes no example exercised.",
)
def test_command(paths: tuple[str, ...], coverage: bool) -> None:
    """Run the examples inside policies and report `N passed, M failed`."""
    from mqldsl.check.checker import check_file
    from mqldsl.engine.evaluator import Evaluator
    from mqldsl.engine.examples import run_example
    from mqldsl.engine.explain import explanation, render_text
    from mqldsl.io.files import expand_policy_paths

    files = expand_policy_paths(paths)
    if not files:
        raise click.UsageError("no .mql files found in " + ", ".join(paths))
    passed = failed = 0
    broken = False
    for file in files:
        result = check_file(file)
        if result.model is None:
            _print_diagnostics([d for d in result.diagnostics if d.is_error], result.source)
            broken = True
            continue
        model = result.model
        evaluator = Evaluator(model)
        outcomes = [run_example(evaluator, example) for example in model.examples]
        click.echo(f"{file}: {len(outcomes)} example{'s' if len(outcomes) != 1 else ''}")
        for outcome in outcomes:
            if outcome.passed:
                passed += 1
                click.echo(f"  PASS  {outcome.example.name}")
                continue
            failed += 1
            click.echo(f"  FAIL  {outcome.example.name}  ({file}:{outcome.example.span.line})")
            for failure in outcome.failures:
                at = failure.expectation.span.line
                click.echo(
                    f"        expected {failure.expected}, got {failure.actual}  (line {at})"
                )
            data = explanation(model, outcome.lead, outcome.result)
            for line in render_text(model, outcome.lead, data, outcome.as_of).splitlines():
                click.echo(f"        | {line}" if line else "        |")
        if coverage:
            for line in _coverage(model, outcomes):
                click.echo(f"  not covered: {line}")
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or broken else 0)


def _coverage(model: CheckedPolicy, outcomes: Sequence[Any]) -> list[str]:
    from mqldsl.engine.explain import rule_text

    used_rules: set[tuple[str, int]] = set()
    stages: set[str] = set()
    reasons: set[str] = set()
    queues: set[tuple[str, str]] = set()
    for outcome in outcomes:
        decision = outcome.result.decision
        stages.update(step.stage for step in outcome.result.steps)
        reasons.update(decision.disqualified)
        if decision.route is not None:
            queues.add((decision.stage, decision.route.queue))
        for name, parts in (outcome.result.contributions or {}).items():
            for index, given in enumerate(parts):
                if given:
                    used_rules.add((name, index))
    lines = []
    for name, info in model.scores.items():
        for index, rule in enumerate(info.node.rules or ()):
            if (name, index) not in used_rules:
                lines.append(f"rule of {name} (line {rule.span.line}): {rule_text(rule)}")
    for stage in model.stages.stages:
        if stage.name not in stages:
            lines.append(f"stage {stage.name} (line {stage.span.line})")
    for d in model.disqualifiers:
        if d.reason not in reasons:
            lines.append(f'disqualifier "{d.reason}" (line {d.span.line})')
    for route in model.routes:
        if (route.stage, route.queue) not in queues:
            lines.append(f"route {route.stage} to {route.queue} (line {route.span.line})")
    return lines


# ---------------------------------------------------------------- simulation


def _scenario(path: str, model: CheckedPolicy) -> Any:
    from mqldsl.simulate.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path, model)
    except ScenarioError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        click.echo(f"{path}: the scenario has problems; nothing was simulated", err=True)
        sys.exit(1)


def _scenario_policy(path: str, policy: str | None) -> str:
    """The policy a scenario names (`[scenario] policy = "..."`, relative to it)."""
    import tomllib
    from pathlib import Path

    if policy is not None:
        return policy
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        click.echo(f"{path}:1: cannot read the scenario: {exc}", err=True)
        sys.exit(1)
    named = raw.get("scenario", {}).get("policy") if isinstance(raw.get("scenario"), dict) else None
    if not isinstance(named, str):
        raise click.UsageError(f"{path} names no policy (`[scenario] policy = ...`): give --policy")
    import os

    return os.path.relpath(Path(path).parent / named)


def _mql_stage(model: CheckedPolicy, name: str, option: str) -> str:
    if name not in model.stage_names:
        raise click.BadParameter(
            f"the policy has no stage `{name}` (stages: {', '.join(model.stage_names)})",
            param_hint=option,
        )
    return name


def _write_report(output: str | None, report: dict[str, Any], kind: str) -> None:
    from mqldsl.io.files import write_atomic
    from mqldsl.render import reports as render

    if output is None:
        return
    lower = output.lower()
    if lower.endswith(".json"):
        text = render.to_json(report)
    elif lower.endswith(".md"):
        text = (
            render.simulate_markdown(report)
            if kind == "simulate"
            else render.whatif_markdown(report)
        )
    elif lower.endswith((".html", ".htm")):
        text = render.simulate_html(report) if kind == "simulate" else render.whatif_html(report)
    else:
        raise click.BadParameter("the report must end in .json, .html or .md", param_hint="-o")
    write_atomic(output, text)
    click.echo(f"wrote {output}", err=True)


@cli.command()
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False),
    help="The policy whose schema the journeys follow (default: the one the scenario names).",
)
@click.option("--seed", type=int, help="Random seed (default: the scenario's).")
@click.option("--leads", type=click.IntRange(1), help="Generate exactly this many leads.")
@click.option("--days", type=click.IntRange(1), help="Generate this many days of arrivals.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write JSON Lines here (default: standard output).",
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
    import orjson

    from mqldsl.simulate.generate import generate as make

    if leads is not None and days is not None:
        raise click.UsageError("give --leads or --days, not both")
    model = _load_policy(_scenario_policy(scenario, policy))
    spec = _scenario(scenario, model)

    def produce(sink: BinaryIO) -> int:
        count = 0
        for journey in make(spec, seed=seed, leads=leads, days=days):
            sink.write(orjson.dumps(journey) + b"\n")
            count += 1
        return count

    count = _write_output(output, produce)
    click.echo(f"{count} journeys generated", err=True)


def _source_leads(
    model: CheckedPolicy, scenario: Any, journeys: str | None, seed: int, leads: int | None
) -> tuple[list[Lead], int, float]:
    """Leads, rejected count and default as-of from a scenario or a journeys file."""
    from mqldsl.engine.runtime import to_seconds
    from mqldsl.io.journeys import ReadReport
    from mqldsl.io.scoring import read_leads, summary_lines
    from mqldsl.simulate.whatif import scenario_leads

    if scenario is not None:
        return scenario_leads(model, scenario, seed, leads), 0, to_seconds(scenario.end)
    assert journeys is not None
    report = ReadReport()
    found = list(read_leads(model, journeys, None, report))
    if report.rejected_count:
        for line in summary_lines(len(found), report)[:-1]:
            click.echo(line, err=True)
    latest = max((e.at for lead in found for e in lead.events), default=_now())
    return found, report.rejected_count, latest


_sim_source = [
    click.option(
        "--scenario",
        "scenario_path",
        type=click.Path(exists=True, dir_okay=False),
        help="Generate journeys from this scenario.",
    ),
    click.option(
        "--journeys",
        type=click.Path(exists=True, dir_okay=False),
        help="Use these journeys (JSON Lines).",
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
    _memory_limit_option,
]


def _sql_stage(model: CheckedPolicy, name: str | None) -> str | None:
    if name is None:
        return "sql" if "sql" in model.stage_names else None
    return _mql_stage(model, name, "--sql-stage")


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


def _with(options: list[Any]) -> Callable[[Any], Any]:
    def wrap(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function

    return wrap


@cli.command()
@_policy_file
@_with(_sim_source)
@click.option(
    "--segment", "segment_field", help="A lead field: the backtest shows conversion by its values."
)
def simulate(
    policy: str,
    scenario_path: str | None,
    journeys: str | None,
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
    segment_field: str | None,
) -> None:
    """Funnel metrics of POLICY over a scenario's journeys (with a sales
    replay) or over real journeys, each metric with its definition."""
    from mqldsl.render.reports import simulate_text
    from mqldsl.simulate.whatif import run_policy

    if (scenario_path is None) == (journeys is None):
        raise click.UsageError("give exactly one of --scenario and --journeys")
    model = _load_policy(policy)
    _check_memory_limit(memory_limit, engine)
    if engine == "duckdb":
        _require_sql(model, policy)
    params = _params(model, assignments)
    stage = _mql_stage(model, mql_stage, "--mql-stage")
    scenario = _scenario(scenario_path, model) if scenario_path else None
    run_seed = seed if seed is not None else (scenario.seed if scenario else 1)
    found, rejected, default_as_of = _source_leads(model, scenario, journeys, run_seed, leads)
    moment = as_of if as_of is not None else default_as_of
    if segment_field is not None and segment_field not in model.fields:
        raise click.BadParameter(
            f"the policy has no lead field `{segment_field}`", param_hint="--segment"
        )
    progress = _Progress(len(found), "evaluating")
    result = run_policy(
        model,
        params,
        found,
        moment,
        scenario,
        run_seed,
        stage,
        rejected,
        sql_stage=_sql_stage(model, sql_stage),
        progress=progress,
        jobs=jobs,
        segment_field=segment_field,
        engine=engine,
        memory_limit=memory_limit,
    )
    progress.close()
    click.echo(simulate_text(result.report), nl=False)
    _write_report(output, result.report, "simulate")


@cli.command()
@click.argument("base", type=click.Path(exists=True, dir_okay=False))
@click.argument("proposed", required=False, type=click.Path(exists=True, dir_okay=False))
@_with(_sim_source)
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
    help='Exit 1 when this holds, e.g. "mqls.delta_pct > 20 or proposed.mql_precision < 0.35".',
)
def whatif(
    base: str,
    proposed: str | None,
    scenario_path: str | None,
    journeys: str | None,
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
    replications: int,
    fail_if: str | None,
) -> None:
    """What a rule change does before rollout: BASE and PROPOSED (or BASE with
    --set params changed) over the same journeys, metric by metric, with the
    change, a 95% interval, the leads that move between stages and why."""
    from mqldsl.engine.explain import explanation, render_text
    from mqldsl.render.reports import whatif_text
    from mqldsl.simulate.whatif import (
        FailIfError,
        bootstrap_delta,
        check_fail_if,
        run_policy,
        whatif_report,
    )

    if (scenario_path is None) == (journeys is None):
        raise click.UsageError("give exactly one of --scenario and --journeys")
    if proposed is None and not assignments:
        raise click.UsageError("give a PROPOSED policy, or --set PARAM=VALUE to change BASE")
    base_model = _load_policy(base)
    proposed_model = _load_policy(proposed) if proposed else base_model
    _check_memory_limit(memory_limit, engine)
    if engine == "duckdb":
        _require_sql(base_model, base)
        _require_sql(proposed_model, proposed or base)
    base_params: dict[str, Any] = {}
    proposed_params = _params(proposed_model, assignments)
    stage = _mql_stage(base_model, mql_stage, "--mql-stage")
    _mql_stage(proposed_model, mql_stage, "--mql-stage")
    scenario = _scenario(scenario_path, base_model) if scenario_path else None
    if scenario is not None and proposed:
        _scenario(scenario_path or "", proposed_model)
    run_seed = seed if seed is not None else (scenario.seed if scenario else 1)
    samples = []
    main: tuple[Any, Any] | None = None
    main_leads: list[Lead] = []
    moment = as_of
    for index in range(replications if scenario is not None else 1):
        found, rejected, default_as_of = _source_leads(
            base_model, scenario, journeys, run_seed + index, leads
        )
        moment = as_of if as_of is not None else default_as_of
        progress = _Progress(2 * len(found), f"replication {index + 1}")
        sqls = _sql_stage(base_model, sql_stage)
        a = run_policy(
            base_model,
            base_params,
            found,
            moment,
            scenario,
            run_seed + index,
            stage,
            rejected,
            sql_stage=sqls,
            progress=progress,
            jobs=jobs,
            engine=engine,
            memory_limit=memory_limit,
        )
        b = run_policy(
            proposed_model,
            proposed_params,
            found,
            moment,
            scenario,
            run_seed + index,
            stage,
            rejected,
            sql_stage=sqls,
            progress=progress,
            jobs=jobs,
            engine=engine,
            memory_limit=memory_limit,
        )
        progress.close()
        samples.append((a.report, b.report))
        if index == 0:
            main, main_leads = (a, b), found
    assert main is not None and moment is not None
    a, b = main
    changed = {x.id for x, y in zip(a.records, b.records, strict=True) if x.stage != y.stage}
    subset = [lead for lead in main_leads if lead.id in changed][:2000]
    ids = {lead.id for lead in subset}
    a.kept = run_policy(
        base_model, base_params, subset, moment, None, run_seed, stage, explain_ids=ids
    ).kept
    b.kept = run_policy(
        proposed_model, proposed_params, subset, moment, None, run_seed, stage, explain_ids=ids
    ).kept
    if scenario is None:
        samples = bootstrap_delta(a, b, moment, 100, run_seed, simulated=False)

    def explain(model: CheckedPolicy, lead: Lead, result: Any) -> str:
        return render_text(model, lead, explanation(model, lead, result), moment)

    report = whatif_report(base_model, proposed_model, a, b, samples, explain)
    click.echo(whatif_text(report), nl=False)
    _write_report(output, report, "whatif")
    if fail_if:
        try:
            held = check_fail_if(fail_if, report)
        except FailIfError as exc:
            raise click.BadParameter(str(exc), param_hint="--fail-if") from None
        if held:
            for part in held:
                click.echo(f"fail-if held: {part}", err=True)
            sys.exit(1)


def _sweep_values(model: CheckedPolicy, spec: str) -> tuple[str, list[Any]]:
    import re

    match = re.fullmatch(
        r"\s*([a-z_][a-z0-9_]*)\s*=\s*(-?[0-9.]+)\s*\.\.\s*(-?[0-9.]+)\s*(?::\s*([0-9.]+))?\s*",
        spec,
    )
    if not match:
        raise click.BadParameter(f"`{spec}` is not NAME=LO..HI[:STEP]", param_hint="--param")
    name, low, high, step = match.groups()
    info = model.params.get(name)
    if info is None:
        raise click.BadParameter(f"error[E204]: unknown param `{name}`", param_hint="--param")
    if not info.type.is_numeric:
        raise click.BadParameter(f"param `{name}` is not a number", param_hint="--param")
    whole = info.type.kind == "int"
    lo, hi = float(low), float(high)
    delta = float(step) if step else (1.0 if whole else (hi - lo) / 10 or 1.0)
    if delta <= 0 or hi < lo:
        raise click.BadParameter(
            f"`{spec}`: need LO <= HI and a positive STEP", param_hint="--param"
        )
    if whole and not (lo.is_integer() and hi.is_integer() and delta.is_integer()):
        raise click.BadParameter(f"param `{name}` holds whole numbers", param_hint="--param")
    values: list[Any] = []
    k = 0
    while lo + k * delta <= hi + 1e-9:
        value = lo + k * delta
        values.append(round(value) if whole else round(value, 6))
        k += 1
    if len(values) > 200:
        raise click.BadParameter(
            f"`{spec}` gives {len(values)} values; at most 200", param_hint="--param"
        )
    return name, values


@cli.command()
@_policy_file
@click.option(
    "--param",
    "specs",
    multiple=True,
    required=True,
    metavar="NAME=LO..HI[:STEP]",
    help="A param and the values to try.",
)
@_with(_sim_source)
def sweep(
    policy: str,
    specs: tuple[str, ...],
    scenario_path: str | None,
    journeys: str | None,
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
) -> None:
    """The main metrics for each value of one or more params (every
    combination): the threshold-tuning view."""
    import itertools

    from mqldsl.render.reports import LABELS, show, sweep_html, sweep_markdown
    from mqldsl.simulate.run import MAIN
    from mqldsl.simulate.whatif import run_policy

    if (scenario_path is None) == (journeys is None):
        raise click.UsageError("give exactly one of --scenario and --journeys")
    model = _load_policy(policy)
    _check_memory_limit(memory_limit, engine)
    if engine == "duckdb":
        _require_sql(model, policy)
    base = _params(model, assignments)
    stage = _mql_stage(model, mql_stage, "--mql-stage")
    axes = [_sweep_values(model, spec) for spec in specs]
    scenario = _scenario(scenario_path, model) if scenario_path else None
    run_seed = seed if seed is not None else (scenario.seed if scenario else 1)
    found, rejected, default_as_of = _source_leads(model, scenario, journeys, run_seed, leads)
    moment = as_of if as_of is not None else default_as_of
    rows = []
    with contextlib.ExitStack() as stack:
        loaded = None
        if engine == "duckdb":
            # One DuckDB holds the leads for every combination.
            from mqldsl.sql.engine import DuckDBEngine

            loaded = stack.enter_context(DuckDBEngine(model, memory_limit=memory_limit))
            loaded.load_leads(iter(found))
        for combination in itertools.product(*(values for _, values in axes)):
            params = dict(base)
            params.update({name: value for (name, _), value in zip(axes, combination, strict=True)})
            result = run_policy(
                model,
                params,
                found,
                moment,
                scenario,
                run_seed,
                stage,
                rejected,
                sql_stage=_sql_stage(model, sql_stage),
                jobs=jobs,
                engine=engine,
                loaded=loaded,
            )
            rows.append(
                {
                    "params": {name: params[name] for name, _ in axes},
                    "metrics": result.report["metrics"],
                }
            )
    report = {
        "policy": {"title": model.title, "file": model.source.name},
        "as_of": result.report["as_of"],
        "leads": len(found),
        "params": [name for name, _ in axes],
        "rows": rows,
    }
    header = [*(name for name, _ in axes), *(LABELS[m] for m in MAIN)]
    widths = [max(len(h), 8) for h in header]
    click.echo("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        cells = [show(v) for v in row["params"].values()] + [show(row["metrics"][m]) for m in MAIN]
        click.echo("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    if output is not None:
        from mqldsl.io.files import write_atomic
        from mqldsl.render.reports import to_json

        lower = output.lower()
        if lower.endswith(".json"):
            text = to_json(report)
        elif lower.endswith(".md"):
            text = sweep_markdown(report)
        elif lower.endswith((".html", ".htm")):
            text = sweep_html(report)
        else:
            raise click.BadParameter("the report must end in .json, .html or .md", param_hint="-o")
        write_atomic(output, text)
        click.echo(f"wrote {output}", err=True)


@cli.command()
@_policy_file
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="FILE.md or FILE.html (default: Markdown on standard output).",
)
@click.option(
    "--previous",
    type=click.Path(exists=True, dir_okay=False),
    help="The previous version, for the change log.",
)
@click.option(
    "--simulation",
    type=click.Path(exists=True, dir_okay=False),
    help="A simulate or whatif JSON report to summarise.",
)
@click.option("--date", help="A date to print in the footer (the output has none otherwise).")
def docs(
    policy: str, output: str | None, previous: str | None, simulation: str | None, date: str | None
) -> None:
    """The shared MQL/SQL definitions document, generated from the policy:
    stages, scores, parameters, disqualifiers, routing and SLAs, and the
    accepted and rejected example leads."""
    import json

    from mqldsl.io.files import write_atomic
    from mqldsl.render.diff import diff as semantic_diff
    from mqldsl.render.document import render

    model = _load_policy(policy)
    changes = semantic_diff(_load_policy(previous), model) if previous else None
    report = None
    if simulation:
        try:
            from pathlib import Path

            report = json.loads(Path(simulation).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(
                f"cannot read {simulation}: {exc}", param_hint="--simulation"
            ) from None
    kind = "html" if output and output.lower().endswith((".html", ".htm")) else "md"
    if output and kind == "md" and not output.lower().endswith(".md"):
        raise click.BadParameter("the document must end in .md or .html", param_hint="-o")
    text = render(model, kind, changes=changes, simulation=report, date=date)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
        click.echo(f"wrote {output}", err=True)


@cli.command(name="diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def diff_command(old: str, new: str, output_format: str) -> None:
    """What changed between two versions of a policy, in words, rule by rule."""
    import json

    from mqldsl.render.diff import diff as semantic_diff

    changes = semantic_diff(_load_policy(old), _load_policy(new))
    if output_format == "json":
        click.echo(json.dumps([c.to_json() for c in changes], indent=2, ensure_ascii=False))
    elif not changes:
        click.echo("no change in meaning")
    else:
        for change in changes:
            click.echo(change.text())


@cli.command(name="import")
@click.argument("leads", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="The policy whose schema the journeys follow.",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False),
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
    import orjson

    from mqldsl.io.importer import ImportReport, MappingError, import_rows, load_mapping

    model = _load_policy(policy)
    files = {}
    for item in tables:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"`{item}` is not NAME=FILE", param_hint="--table")
        files[name] = path
    report = ImportReport()
    try:
        spec = load_mapping(mapping, model)

        def produce(sink: BinaryIO) -> int:
            count = 0
            for journey in import_rows(model, spec, leads, files, report):
                sink.write(orjson.dumps(journey) + b"\n")
                count += 1
            return count

        _write_output(output, produce)
    except MappingError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    for file, line, reason in report.rejected[:50]:
        click.echo(f"{file}:{line}: {reason}", err=True)
    if len(report.rejected) > 50:
        click.echo(f"... and {len(report.rejected) - 50} more rejected rows", err=True)
    click.echo(f"{report.imported} rows imported, {len(report.rejected)} rejected", err=True)
    sys.exit(1 if report.rejected else 0)


def _verify(result: object, formatted: str) -> None:
    """The formatter must keep the meaning: refuse to write otherwise."""
    from mqldsl.language.parser import ParseResult, parse_text
    from mqldsl.language.printer import canonical_items

    assert isinstance(result, ParseResult) and result.policy is not None
    again = parse_text(formatted, result.source.name)
    if again.policy != canonical_items(result.policy):
        raise click.ClickException(
            f"{result.source.name}: the formatter would change the meaning of this policy; "
            "nothing was written. Please report this as a bug."
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="mqldsl")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # pragma: no cover - a bug, not bad input
        engine = sys.modules.get("mqldsl.sql.engine")
        if engine is not None and isinstance(exc, engine.EngineError):
            click.echo(f"error: {exc}", err=True)  # journeys the SQL engine cannot take
            sys.exit(1)
        duckdb = sys.modules.get("duckdb")
        if duckdb is not None and isinstance(exc, duckdb.OutOfMemoryException):
            click.echo(f"error: {_engine_problem(exc)}", err=True)  # a resource, not a bug
            sys.exit(1)
        if os.environ.get("MQLDSL_DEBUG"):
            raise
        click.echo(
            f"mqldsl: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in mqldsl; run again with MQLDSL_DEBUG=1 for details.",
            err=True,
        )
        sys.exit(3)
