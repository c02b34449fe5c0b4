"""`mqldsl score` as a library call: validate a scoring request, then decide
every lead with the Python engine (:mod:`mqldsl.io.scoring`) or with the
compiled SQL in an embedded DuckDB, or with the Python evaluator inside
Spark (:mod:`mqldsl.warehouse.spark_engine`), writing the decisions to a file or to
standard output."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.runtime import Lead
from mqldsl.io.accounts import read_accounts
from mqldsl.io.crm import crm_stages
from mqldsl.io.errors import InputProblem, UsageProblem
from mqldsl.io.files import write_output
from mqldsl.io.journeys import ReadReport
from mqldsl.io.scoring import (
    ScoreOptions,
    TableFormat,
    decision_line,
    read_numbered_leads,
    score_journeys,
    summary_lines,
    write_table,
)


class SqlUnsupported(InputProblem):
    """The SQL back end cannot evaluate the policy faithfully: the E6xx
    diagnostics, then a line saying so."""


class EngineProblem(InputProblem):
    """DuckDB failed (bad tables, out of memory): one line, `error: ...`."""


def require_sql(model: CheckedPolicy) -> None:
    """:class:`SqlUnsupported` unless the SQL back end can evaluate ``model``."""
    from mqldsl.warehouse.compiler import sql_diagnostics

    problems = sql_diagnostics(model)
    if problems:
        raise SqlUnsupported(
            [
                *(diagnostic.render(model.source) for diagnostic in problems),
                f"{model.source.name}: the SQL back end cannot evaluate this policy",
            ]
        )


def engine_problem(exc: Exception) -> str:
    """One line for a DuckDB failure; running out of memory says what to do."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(exc, duckdb.OutOfMemoryException):
        return (
            f"DuckDB ran out of memory ({first}); raise --memory-limit, or leave it out "
            "to let DuckDB use up to 80% of the machine's memory"
        )
    return first


def check_memory_limit(memory_limit: str | None, engine: str) -> None:
    """A memory limit is DuckDB's: :class:`UsageProblem` with another engine."""
    if memory_limit is not None and engine != "duckdb":
        raise UsageProblem("--memory-limit sets DuckDB's memory: use it with --engine duckdb")


@dataclass(frozen=True)
class ScoreRequest:
    """What to score and where the decisions go.

    ``journeys`` is a JSON Lines file or a leads CSV (with ``events``);
    ``leads_table`` (DuckDB only) is a Parquet or CSV leads table, with
    ``events`` its events table. ``output`` is a `.jsonl` or `.csv` file
    (None: JSON Lines on standard output); ``crm`` with ``crm_map`` items
    (STAGE=VALUE) and a ``crm_mapping`` TOML file makes the CSV the one that
    CRM imports.
    """

    options: ScoreOptions
    journeys: str | None = None
    leads_table: str | None = None
    events: str | None = None
    output: str | None = None
    engine: str = "python"
    memory_limit: str | None = None
    crm: str | None = None
    crm_map: tuple[str, ...] = ()
    crm_mapping: str | None = None

    @property
    def to_csv(self) -> bool:
        return self.output is not None and self.output.lower().endswith(".csv")


@dataclass
class ScoreOutcome:
    """How many leads were decided, and what reading them rejected."""

    evaluated: int
    report: ReadReport = field(default_factory=ReadReport)

    @property
    def failed(self) -> bool:
        """A record was rejected (the command exits 1)."""
        return self.report.rejected_count > 0

    def summary_lines(self) -> list[str]:
        """The summary for standard error: rejected records, ignored data, counts."""
        return summary_lines(self.evaluated, self.report)


def _table(model: CheckedPolicy, request: ScoreRequest) -> TableFormat | None:
    """The CSV format asked for (None for JSON Lines); validates the options
    in the order the command always has."""
    stages = crm_stages(model, request.crm, request.crm_map, request.crm_mapping, request.to_csv)
    if request.to_csv and request.options.explain:
        raise UsageProblem("--explain needs JSON Lines output (-o FILE.jsonl or standard output)")
    if request.journeys is None and request.leads_table is None:
        raise UsageProblem("give the journeys: a JOURNEYS file, or --leads LEADS (a table)")
    if request.journeys is not None and request.leads_table is not None:
        raise UsageProblem("give JOURNEYS or --leads LEADS (a table), not both")
    if request.leads_table is not None and request.engine not in ("duckdb", "spark"):
        raise UsageProblem(
            "--leads reads warehouse tables: use it with --engine duckdb or --engine spark"
        )
    check_memory_limit(request.memory_limit, request.engine)
    if request.engine == "duckdb" and (request.options.explain or request.options.jobs > 1):
        raise UsageProblem(
            "--explain and --jobs belong to the Python engine; "
            "--engine duckdb uses every core by itself"
        )
    if request.engine == "spark" and request.options.jobs > 1:
        raise UsageProblem("--jobs belongs to the Python engine; Spark sets its own parallelism")
    return TableFormat(request.crm, stages) if request.to_csv else None


def score(model: CheckedPolicy, request: ScoreRequest) -> ScoreOutcome:
    """Decide every lead the request names and write the decisions to
    ``request.output`` (atomically) or standard output, in input order.

    Raises :class:`UsageProblem` for options that do not go together,
    :class:`SqlUnsupported` when DuckDB cannot evaluate the policy and
    :class:`EngineProblem` when DuckDB fails.
    """
    table = _table(model, request)
    report = ReadReport()
    if request.options.accounts is not None and not model.uses_accounts:
        raise UsageProblem(
            "--accounts: the policy declares no account fields or account scores, so an "
            "accounts file would change nothing"
        )
    if request.engine == "duckdb":
        require_sql(model)
        evaluated = write_output(
            request.output, lambda sink: score_duckdb(model, request, sink, report, table)
        )
        return ScoreOutcome(evaluated, report)
    if request.engine == "spark":
        from mqldsl.warehouse.spark_engine import score_spark

        source = request.journeys or request.leads_table or ""
        leads_table = request.leads_table
        if leads_table is not None and leads_table.lower().endswith(".csv"):
            source, leads_table = leads_table, None  # a leads CSV: the Python reader's
        evaluated = write_output(
            request.output,
            lambda sink: score_spark(
                model, source, request.events, request.options, sink, report, table, leads_table
            ),
        )
        return ScoreOutcome(evaluated, report)
    journeys = request.journeys
    assert journeys is not None
    if request.options.jobs > 1 and (request.to_csv or journeys.lower().endswith(".csv")):
        raise UsageProblem("--jobs works with JSON Lines input and output")
    evaluated = write_output(
        request.output,
        lambda sink: score_journeys(
            model, journeys, sink, request.options, report, events=request.events, table=table
        ),
    )
    return ScoreOutcome(evaluated, report)


def score_duckdb(
    model: CheckedPolicy,
    request: ScoreRequest,
    sink: IO[bytes],
    report: ReadReport,
    table: TableFormat | None = None,
) -> int:
    """Decide the leads in an embedded DuckDB with the compiled query and
    write the decisions to ``sink`` (JSON Lines, or the CSV ``table``); the
    number decided. :class:`EngineProblem` when DuckDB fails."""
    import duckdb

    from mqldsl.warehouse.engine import DuckDBEngine, EngineError

    options = request.options
    report.limit = options.max_errors
    lines = array("q")  # the line of each lead loaded (E900 names it)
    with DuckDBEngine(model, memory_limit=request.memory_limit) as engine:
        try:
            leads_table = request.leads_table
            if leads_table is not None and not leads_table.lower().endswith(".csv"):
                engine.load_tables(leads_table, request.events, report)
                if options.accounts is not None:
                    records = read_accounts(options.accounts, model, report)
                    engine.load_accounts({k: r.profile for k, r in records.items()})
                    engine.drop_lost_accounts(records, report, leads_table)
            else:
                source = leads_table if leads_table is not None else request.journeys
                assert source is not None
                numbered = read_numbered_leads(
                    model, source, request.events, report, options.accounts
                )
                engine.load_leads(_noting_lines(numbered, lines))
            engine.drop_long_timelines(
                options.as_of, report, leads_table or request.journeys or "", lines
            )
            decided = engine.decide(options.as_of, options.params)
        except (EngineError, duckdb.Error) as exc:
            raise EngineProblem([f"error: {engine_problem(exc)}"]) from exc
        decisions = (item.decision for item in decided)
        if table is not None:

            def fill(write: Callable[[Any], None]) -> int:
                count = 0
                for decision in decisions:
                    write(decision)
                    count += 1
                return count

            return write_table(sink, model, table, fill)
        count = 0
        for decision in decisions:
            sink.write(decision_line(decision))
            count += 1
        return count


__all__ = [
    "EngineProblem",
    "ScoreOutcome",
    "ScoreRequest",
    "SqlUnsupported",
    "check_memory_limit",
    "engine_problem",
    "policy_sql",
    "require_sql",
    "score",
    "score_duckdb",
]


def _noting_lines(numbered: Iterator[tuple[Lead, int]], lines: array[int]) -> Iterator[Lead]:
    """The leads of ``numbered``, their lines appended to ``lines`` as they pass."""
    for lead, line in numbered:
        lines.append(line)
        yield lead


def policy_sql(
    model: CheckedPolicy,
    as_of: float,
    params: dict[str, object],
    dialect: str = "duckdb",
    leads_table: str = "leads",
    events_table: str = "events",
    accounts_table: str = "accounts",
    events_order: str | None = None,
) -> str:
    """The SQL query (with a final `;` and newline) that decides every lead
    of ``model`` in a warehouse, in ``dialect``, reading the named tables
    (NAME or SCHEMA.NAME; ``accounts_table`` for a policy with accounts);
    ``events_order`` (a column of the events table) is the events' input order,
    which orders the hot-event handoffs of one instant (SPEC §8).
    Raises :class:`SqlUnsupported`, :class:`UsageProblem` for a bad table
    name and :class:`InputProblem` when sqlglot cannot write the dialect."""
    import sqlglot

    from mqldsl.language.diagnostics import DiagnosticsError
    from mqldsl.warehouse.compiler import compile_sql

    require_sql(model)
    tables: list[sqlglot.exp.Table] = []
    named = [
        (leads_table, "--leads-table"),
        (events_table, "--events-table"),
        (accounts_table, "--accounts-table"),
    ]
    for name, option in named:
        try:
            table = sqlglot.exp.to_table(name)
        except sqlglot.errors.SqlglotError:  # a parse error, or a quote never closed
            table = None
        if not isinstance(table, sqlglot.exp.Table) or not table.name:
            raise UsageProblem(
                f"`{name}` is not a table name: a table name is NAME or SCHEMA.NAME, each part "
                'letters, digits and _ or quoted as "..." (a quote inside doubled: "")',
                option,
            )
        tables.append(table)
    if events_order is not None and not events_order.strip():
        raise UsageProblem("an empty name is no column of the events table", "--events-order")
    try:
        compiled = compile_sql(
            model,
            as_of,
            params,
            leads_table=tables[0].sql(dialect=dialect),
            events_table=tables[1].sql(dialect=dialect),
            accounts_table=tables[2].sql(dialect=dialect),
            event_order_column=events_order,
            policy_columns=True,
        )
        return compiled.sql(dialect) + ";\n"
    except DiagnosticsError as exc:  # pragma: no cover - require_sql ran first
        raise SqlUnsupported([d.render(model.source) for d in exc.diagnostics]) from None
    except sqlglot.errors.UnsupportedError as exc:
        raise InputProblem(
            [f"error: sqlglot cannot write this query for {dialect}: {exc}"]
        ) from None
