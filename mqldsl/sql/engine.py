"""The embedded DuckDB engine (`mqldsl score --engine duckdb`).

Journeys reach DuckDB in one of two ways:

- **JSON Lines or CSV journeys** go through the same reader as the Python
  engine (so a bad record is rejected with the same message), are written as
  normalised JSON Lines into a temporary directory, and are loaded by
  DuckDB's own JSON reader. Python holds one lead at a time.
- **Parquet tables** (`--leads LEADS.parquet --events EVENTS.parquet`, as
  exported from a warehouse) are read by DuckDB directly and validated in SQL:
  a lead with a missing id, a duplicate id, a value that is not of its
  field's type or not a member of its enum, or an event without a valid
  instant is rejected and reported by row; events of undeclared types are
  counted; events of unknown leads are reported.

Then the compiled query (:mod:`mqldsl.sql.compiler`) runs, and its rows come
back in input order, in batches, as the same :class:`~mqldsl.engine.runtime.Decision`
objects that the Python engine makes.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlglot import exp

from mqldsl.check.model import CheckedPolicy, FieldInfo
from mqldsl.check.types import Type
from mqldsl.engine.runtime import UTC, Decision, Lead, RouteDecision, round_score, to_seconds
from mqldsl.io.journeys import ReadReport
from mqldsl.sql.compiler import DISQUALIFIED, MAX_COUNT, SqlPolicy, compile_sql

ORDER = "mqldsl ord"  # the input-order column: a name no policy can give a field
BATCH = 10_000
# The leads are decided in chunks of about one row (a lead or an event) per
# this many bytes of DuckDB's memory limit. DuckDB spills sorts and joins, but
# the query as a whole does not run under a limit much below its natural peak
# (measured on the Acme benchmark: about 500 bytes per row), so the engine
# bounds the rows each run sees instead.
BYTES_PER_ROW = 2048
MIN_CHUNK_ROWS = 50_000
_CHUNK_LEADS = "mqldsl_chunk_leads"
_CHUNK_EVENTS = "mqldsl_chunk_events"
_MEMORY_UNITS = {
    "bytes": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


class EngineError(Exception):
    """Input that the DuckDB engine cannot load (reported, exit code 1)."""


def _sql_type(kind: Type) -> str:
    k = kind.kind
    if k in ("int", "number"):
        return "DOUBLE"
    if k == "bool":
        return "BOOLEAN"
    if k == "date":
        return "DATE"
    if k == "set":
        return "VARCHAR[]"
    return "VARCHAR"


def _quote(name: str) -> str:
    """A DuckDB identifier, quoted by sqlglot."""
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _literal(text: str) -> str:
    """A DuckDB string literal, escaped by sqlglot."""
    return exp.Literal.string(text).sql("duckdb")


def event_columns(model: CheckedPolicy) -> dict[str, FieldInfo]:
    """The events table's field columns: one per event field name."""
    columns: dict[str, FieldInfo] = {}
    for event in model.events.values():
        for name, info in event.fields.items():
            columns.setdefault(name, info)
    return columns


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass
class SqlDecision:
    """A decision and, for the simulator, the first entry into each stage
    with the index of the route chosen then (-1: none)."""

    decision: Decision
    first_entries: dict[str, tuple[float, int]]


class DuckDBEngine:
    """An embedded DuckDB database holding one set of journeys."""

    def __init__(
        self,
        model: CheckedPolicy,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        chunk_rows: int | None = None,
    ) -> None:
        """``memory_limit`` (e.g. "4GB") caps DuckDB's memory; beyond it,
        DuckDB spills to a temporary folder. Default: DuckDB's own (80% of
        RAM). The leads are decided in chunks of about ``chunk_rows`` leads
        and events (default: from the memory limit, BYTES_PER_ROW)."""
        import duckdb

        self.model = model
        self.chunk_rows = chunk_rows
        self.con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1})
        self.con.execute("SET TimeZone = 'UTC'")
        if memory_limit is not None:
            try:
                self.con.execute(f"SET memory_limit = {_literal(memory_limit)}")
            except duckdb.Error as exc:
                self.con.close()
                raise EngineError(
                    f"DuckDB does not take the memory limit {memory_limit!r}: {exc}"
                ) from None

        self._tmp = tempfile.TemporaryDirectory(prefix="mqldsl-duckdb-")
        self.con.execute(f"SET temp_directory = {_literal(self._tmp.name)}")
        # Results are ordered by the query itself: DuckDB need not keep
        # insertion order, which lets large queries spill more freely.
        self.con.execute("SET preserve_insertion_order = false")

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ tables

    def _create_tables(self) -> None:
        fields = ", ".join(
            f"{_quote(name)} {_sql_type(info.type)}" for name, info in self.model.fields.items()
        )
        self.con.execute(
            f"CREATE OR REPLACE TABLE leads (id VARCHAR, {_quote(ORDER)} BIGINT"
            + (f", {fields}" if fields else "")
            + ")"
        )
        event_fields = ", ".join(
            f"{_quote(name)} {_sql_type(info.type)}"
            for name, info in event_columns(self.model).items()
        )
        self.con.execute(
            'CREATE OR REPLACE TABLE events (lead_id VARCHAR, type VARCHAR, "at" TIMESTAMP'
            + (f", {event_fields}" if event_fields else "")
            + ")"
        )

    def load_leads(self, leads: Iterator[Lead]) -> int:
        """Load validated leads (in order) through DuckDB's JSON reader."""
        self._create_tables()
        lead_path = Path(self._tmp.name) / "leads.jsonl"
        event_path = Path(self._tmp.name) / "events.jsonl"
        count = 0
        with open(lead_path, "wb") as lead_out, open(event_path, "wb") as event_out:
            for lead in leads:
                row = {name: _plain(value) for name, value in lead.profile.items()}
                row["id"] = lead.id
                row[ORDER] = count
                lead_out.write(orjson.dumps(row) + b"\n")
                for event in lead.events:
                    item = {name: _plain(value) for name, value in event.fields.items()}
                    item["lead_id"] = lead.id
                    item["type"] = event.type
                    item["at"] = round(event.at * 1_000_000)
                    event_out.write(orjson.dumps(item) + b"\n")
                count += 1
        self._insert_json("leads", lead_path, self._lead_json_columns())
        self._insert_json("events", event_path, self._event_json_columns(), events=True)
        lead_path.unlink()
        event_path.unlink()
        return count

    def _lead_json_columns(self) -> dict[str, str]:
        columns = {"id": "VARCHAR", ORDER: "BIGINT"}
        columns.update({name: _sql_type(i.type) for name, i in self.model.fields.items()})
        return columns

    def _event_json_columns(self) -> dict[str, str]:
        columns = {"lead_id": "VARCHAR", "type": "VARCHAR", "at": "BIGINT"}
        columns.update({name: _sql_type(i.type) for name, i in event_columns(self.model).items()})
        return columns

    def _insert_json(
        self, table: str, path: Path, columns: dict[str, str], events: bool = False
    ) -> None:
        if path.stat().st_size == 0:
            return
        spec = "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in columns.items()) + "}"
        names = [_quote(k) for k in columns]
        if events:
            names = [('make_timestamp("at") AS "at"' if k == '"at"' else k) for k in names]
        self.con.execute(
            f"INSERT INTO {table} SELECT {', '.join(names)} FROM read_json("
            f"{_literal(str(path))}, format = 'newline_delimited', columns = {spec})"
        )

    def load_tables(self, leads: str, events: str | None, report: ReadReport) -> int:
        """Load Parquet tables exported from a warehouse, validating them in SQL."""
        self._create_tables()
        raw_leads = _reader(leads)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW raw_leads AS SELECT * FROM {raw_leads}")
        have = {row[0] for row in self.con.execute("DESCRIBE raw_leads").fetchall()}
        have.discard("file_row_number")
        if "id" not in have:
            raise EngineError(f"{leads}: the leads table needs an `id` column")
        checks: list[str] = ["CASE WHEN id IS NULL OR CAST(id AS VARCHAR) = '' THEN 'empty id'"]
        values = _typed_columns(self.model.fields, have, "profile field", checks)
        checks.append(
            "WHEN row_number() OVER (PARTITION BY CAST(id AS VARCHAR) ORDER BY rn) > 1 "
            "THEN 'duplicate id `' || CAST(id AS VARCHAR) || '`'"
        )
        problem_sql = " ".join(checks) + " END"
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE checked_leads AS SELECT rn, CAST(id AS VARCHAR) AS id, "
            f"{problem_sql} AS problem"
            + "".join(f", {v}" for v in values)
            + " FROM (SELECT file_row_number + 1 AS rn, * FROM raw_leads)"
        )
        for name in sorted(have - set(self.model.fields) - {"id", "account"}):
            report.unknown_fields[name] = self.con.execute(
                "SELECT count(*) FROM raw_leads"
            ).fetchone()[0]  # type: ignore[index]
        if events is not None:
            raw_events = _reader(events)
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW raw_events AS SELECT * FROM {raw_events}"
            )
            have_events = {row[0] for row in self.con.execute("DESCRIBE raw_events").fetchall()}
            have_events.discard("file_row_number")
            missing = {"lead_id", "type", "at"} - have_events
            if missing:
                raise EngineError(
                    f"{events}: the events table needs the columns lead_id, type and at "
                    f"(missing: {', '.join(sorted(missing))})"
                )
            columns = event_columns(self.model)
            event_checks = [
                'CASE WHEN try_cast("at" AS TIMESTAMP) IS NULL THEN '
                "'event ' || CAST(rn AS VARCHAR) || ' (' || coalesce(type, '?') || '): "
                '"at" is not an instant\''
            ]
            declared = ", ".join(_literal(n) for n in self.model.events) or "NULL"
            event_values = _typed_columns(columns, have_events, "event field", event_checks)
            event_problem = " ".join(event_checks) + " END"
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE checked_events AS SELECT rn, "
                "CAST(lead_id AS VARCHAR) AS lead_id, type, "
                'try_cast("at" AS TIMESTAMP) AS "at", '
                f"{event_problem} AS problem"
                + "".join(f", {v}" for v in event_values)
                + " FROM (SELECT file_row_number + 1 AS rn, * FROM raw_events) "
                f"WHERE type IN ({declared})"
            )
            for kind, times in self.con.execute(
                f"SELECT type, count(*) FROM raw_events WHERE type NOT IN ({declared}) "
                "OR type IS NULL GROUP BY type ORDER BY type"
            ).fetchall():
                report.unknown_event_types[str(kind)] += int(times)
            # A lead with a broken event is rejected, as the Python reader does.
            self.con.execute(
                "UPDATE checked_leads SET problem = b.problem FROM ("
                "SELECT lead_id, min_by(problem, rn) AS problem FROM checked_events "
                "WHERE problem IS NOT NULL GROUP BY lead_id) AS b "
                "WHERE checked_leads.id = b.lead_id AND checked_leads.problem IS NULL"
            )
            for rn, lead_id in self.con.execute(
                "SELECT rn, lead_id FROM checked_events e WHERE NOT EXISTS "
                "(SELECT 1 FROM checked_leads l WHERE l.id = e.lead_id) ORDER BY rn"
            ).fetchall():
                report.reject(events, int(rn), f"no lead with id `{lead_id}`")
        for rn, problem in self.con.execute(
            "SELECT rn, problem FROM checked_leads WHERE problem IS NOT NULL ORDER BY rn"
        ).fetchall():
            report.reject(leads, int(rn), str(problem))
        report.read += self.con.execute("SELECT count(*) FROM checked_leads").fetchone()[0]  # type: ignore[index]
        names = [_quote(n) for n in self.model.fields]
        self.con.execute(
            f"INSERT INTO leads SELECT id, rn{''.join(', ' + n for n in names)} "
            "FROM checked_leads WHERE problem IS NULL"
        )
        if events is not None:
            event_names = [_quote(n) for n in event_columns(self.model)]
            self.con.execute(
                'INSERT INTO events SELECT e.lead_id, e.type, e."at"'
                + "".join(", e." + n for n in event_names)
                + " FROM checked_events e JOIN leads l ON l.id = e.lead_id"
            )
        return int(self.con.execute("SELECT count(*) FROM leads").fetchone()[0])  # type: ignore[index]

    # ------------------------------------------------------------ deciding

    def compile(
        self,
        as_of: float,
        params: Mapping[str, Any] | None = None,
        first_entries: bool = False,
        chunked: bool = False,
    ) -> SqlPolicy:
        """The query over the loaded tables, or (``chunked``) over the views
        of one chunk that :meth:`_chunked` sets up."""
        leads, events = (_CHUNK_LEADS, _CHUNK_EVENTS) if chunked else ("leads", "events")
        return compile_sql(
            self.model,
            as_of,
            params,
            leads_table=leads,
            events_table=events,
            order_column=ORDER,
            first_entries=first_entries,
        )

    def decide(
        self, as_of: float, params: Mapping[str, Any] | None = None, first_entries: bool = False
    ) -> Iterator[SqlDecision]:
        """Every loaded lead's decision, in input order. EngineError when a
        lead has more events than the query's packed counters can count."""
        most = self.con.execute(
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM events GROUP BY lead_id)"
        ).fetchone()
        if most is not None and most[0] > MAX_COUNT:
            raise EngineError(
                f"a lead has {most[0]:,} events; the SQL back end counts at most {MAX_COUNT:,} "
                "per lead: score these journeys with the Python engine"
            )
        chunks = self._chunks()
        if len(chunks) <= 1:
            compiled = self.compile(as_of, params, first_entries)
            cursor = self.con.execute(compiled.sql("duckdb", pretty=False))
            return self._rows(cursor, RowReader(compiled, [d[0] for d in cursor.description]))
        return self._chunked(self.compile(as_of, params, first_entries, chunked=True), chunks)

    def _chunked(self, part: SqlPolicy, chunks: list[tuple[int, int]]) -> Iterator[SqlDecision]:
        """The same query over consecutive ranges of leads (in input order),
        so that each run holds one chunk in memory."""
        query = part.sql("duckdb", pretty=False)
        order = _quote(ORDER)
        for low, high in chunks:
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {_CHUNK_LEADS} AS "
                f"SELECT * FROM leads WHERE {order} BETWEEN {low} AND {high}"
            )
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {_CHUNK_EVENTS} AS SELECT * FROM events "
                f"WHERE lead_id IN (SELECT id FROM {_CHUNK_LEADS})"
            )
            cursor = self.con.execute(query)
            yield from self._rows(cursor, RowReader(part, [d[0] for d in cursor.description]))

    def _chunks(self) -> list[tuple[int, int]]:
        """Ranges of the input order holding about ``chunk_rows`` leads and
        events each (a lead with more events than that is a chunk of its own)."""
        budget = self.chunk_rows or self._default_chunk_rows()
        if budget is None:
            return [(0, -1)]
        total = self.con.execute(
            "SELECT (SELECT count(*) FROM leads) + (SELECT count(*) FROM events)"
        ).fetchone()
        if total is None or total[0] <= budget:
            return [(0, -1)]
        order = _quote(ORDER)
        rows = self.con.execute(
            f"""
            WITH sizes AS (
                SELECT l.{order} AS ord, 1 + coalesce(e.n, 0) AS size
                FROM leads AS l
                LEFT JOIN (SELECT lead_id, count(*) AS n FROM events GROUP BY lead_id) AS e
                    ON e.lead_id = l.id
            ), running AS (
                SELECT ord, sum(size) OVER (ORDER BY ord ROWS UNBOUNDED PRECEDING) AS upto
                FROM sizes
            )
            SELECT min(ord), max(ord) FROM running
            GROUP BY (upto - 1) // {int(budget)} ORDER BY 1
            """
        ).fetchall()
        return [(int(low), int(high)) for low, high in rows]

    def _default_chunk_rows(self) -> int | None:
        row = self.con.execute("SELECT current_setting('memory_limit')").fetchone()
        limit = _memory_bytes(str(row[0])) if row else None
        if limit is None:
            return None
        return max(MIN_CHUNK_ROWS, limit // BYTES_PER_ROW)

    @staticmethod
    def _rows(cursor: Any, read: RowReader) -> Iterator[SqlDecision]:
        while True:
            rows = cursor.fetchmany(BATCH)
            if not rows:
                return
            for row in rows:
                yield read(row)


def _memory_bytes(text: str) -> int | None:
    """DuckDB's rendering of a memory size ("12.5 GiB") in bytes."""
    parts = text.split()
    if len(parts) != 2 or parts[1].lower() not in _MEMORY_UNITS:
        return None
    try:
        return int(float(parts[0]) * _MEMORY_UNITS[parts[1].lower()])
    except ValueError:
        return None


class RowReader:
    """Turns a result row of the compiled query (from any engine) into the
    decision the Python engine makes."""

    def __init__(self, compiled: SqlPolicy, columns: Sequence[str]) -> None:
        position = {name: i for i, name in enumerate(columns)}
        self.as_of = compiled.as_of
        self.scores = [(name, position[col]) for name, col in compiled.score_columns.items()]
        self.entered = [(stage, position[col]) for stage, col in compiled.entered_columns.items()]
        self.firsts = [
            (stage, position[at], position[route])
            for stage, (at, route) in compiled.first_columns.items()
        ]
        self.i_id, self.i_stage = position["id"], position["stage"]
        self.i_dq, self.i_queue = position["disqualified"], position["queue"]
        self.i_sla, self.i_due = position["sla"], position["due"]

    def __call__(self, row: Sequence[Any]) -> SqlDecision:
        stage = row[self.i_stage]
        times = [(name, _seconds(row[i])) for name, i in self.entered if row[i] is not None]
        times.sort(key=lambda item: item[1])
        entered = dict(times)
        route = None
        if stage != DISQUALIFIED and row[self.i_queue] is not None:
            due = row[self.i_due]
            route = RouteDecision(
                queue=row[self.i_queue],
                sla=row[self.i_sla],
                due=_seconds(due) if due is not None else None,
                entered=entered[stage],
            )
        decision = Decision(
            id=row[self.i_id],
            as_of=self.as_of,
            stage=stage,
            scores={name: round_score(row[i]) for name, i in self.scores},
            disqualified=tuple(row[self.i_dq] or ()),
            route=route,
            entered=entered,
        )
        first = {
            name: (_seconds(row[a]), int(row[r]))
            for name, a, r in self.firsts
            if row[a] is not None
        }
        return SqlDecision(decision, first)


def _seconds(value: dt.datetime) -> float:
    return to_seconds(value.replace(tzinfo=UTC))


def _reader(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        # The file's own row numbers: they report rejected rows and keep the input order.
        return f"read_parquet({_literal(path)}, file_row_number = true)"
    raise EngineError(f"{path}: --leads/--events tables must be Parquet (.parquet) or CSV (.csv)")


def _typed_columns(
    fields: Mapping[str, FieldInfo], have: set[str], what: str, checks: list[str]
) -> list[str]:
    """The typed select expression of each declared field (NULL when the
    table lacks its column); adds a `WHEN bad THEN message` per field to
    ``checks``."""
    values = []
    for name, info in fields.items():
        if name not in have:
            values.append(f"CAST(NULL AS {_sql_type(info.type)}) AS {_quote(name)}")
            continue
        value, (bad, message) = _validated(_quote(name), info.type, f"{what} `{name}`")
        values.append(f"{value} AS {_quote(name)}")
        checks.append(f"WHEN {bad} THEN {message}")
    return values


def _validated(column: str, kind: Type, what: str) -> tuple[str, tuple[str, str]]:
    """The typed value of a raw column, and (failing test, message)."""
    k = kind.kind
    present = f"{column} IS NOT NULL"
    if k in ("int", "number"):
        value = f"try_cast({column} AS DOUBLE)"
        bad = f"{present} AND ({value} IS NULL"
        if k == "int":
            bad += f" OR {value} <> floor({value})"
        message = "expected a whole number" if k == "int" else "expected a number"
        return value, (bad + ")", _literal(f"{what}: {message}"))
    if k == "bool":
        value = f"try_cast({column} AS BOOLEAN)"
        return value, (
            f"{present} AND {value} IS NULL",
            _literal(f"{what}: expected true or false"),
        )
    if k == "date":
        value = f"try_cast({column} AS DATE)"
        return value, (
            f"{present} AND {value} IS NULL",
            _literal(f"{what}: expected a date such as 2026-12-01"),
        )
    if k == "enum":
        members = ", ".join(_literal(m) for m in kind.members)
        value = f"nullif(CAST({column} AS VARCHAR), '')"
        return value, (
            f"{value} IS NOT NULL AND {value} NOT IN ({members})",
            f"{_literal(what + ': ' + chr(34))} || {value} || {_literal(chr(34))} || "
            + _literal(" is not one of " + ", ".join(kind.members)),
        )
    if k == "set":
        value = f"CAST({column} AS VARCHAR[])"
        bad = f"{present} AND try_cast({column} AS VARCHAR[]) IS NULL"
        if kind.element is not None and kind.element.kind == "enum":
            members = ", ".join(_literal(m) for m in kind.element.members)
            bad = (
                f"{bad} OR len(list_filter(try_cast({column} AS VARCHAR[]), "
                f"x -> x NOT IN ({members}))) > 0"
            )
        return f"try_cast({column} AS VARCHAR[])", (
            bad,
            _literal(f"{what}: a value is not allowed"),
        )
    value = f"nullif(CAST({column} AS VARCHAR), '')"
    return value, ("FALSE", "NULL")
