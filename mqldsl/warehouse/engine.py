"""The embedded DuckDB engine (`mqldsl score --engine duckdb`, and the
simulator's `--engine duckdb`).

The journeys are loaded into two tables (:mod:`mqldsl.warehouse.tables`), then the
compiled query (:mod:`mqldsl.warehouse.compiler`) runs over them, in chunks of
leads that fit the memory limit, and its rows come back in input order, in
batches, as the same :class:`~mqldsl.engine.runtime.Decision` objects that
the Python engine makes (:mod:`mqldsl.warehouse.rows`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mqldsl.analysis.bound import bind
from mqldsl.analysis.limits import MAX_INSTANTS
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.runtime import Lead, TimelineTooLong, too_long
from mqldsl.io.accounts import AccountRecord, lost_account
from mqldsl.io.journeys import ReadReport
from mqldsl.warehouse.builders import timestamp
from mqldsl.warehouse.compiler import MAX_COUNT, SqlPolicy, compile_sql
from mqldsl.warehouse.rows import RowReader, SqlDecision
from mqldsl.warehouse.tables import (
    EVENT_ORDER,
    ORDER,
    EngineError,
    InputTables,
    event_columns,
    literal,
    quote,
)

__all__ = [
    "BATCH",
    "BYTES_PER_ROW",
    "MAX_COUNT",
    "MIN_CHUNK_ROWS",
    "ORDER",
    "DuckDBEngine",
    "EngineError",
    "RowReader",
    "SqlDecision",
    "event_columns",
]

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
                self.con.execute(f"SET memory_limit = {literal(memory_limit)}")
            except duckdb.Error as exc:
                self.con.close()
                raise EngineError(
                    f"DuckDB does not take the memory limit {memory_limit!r}: {exc}"
                ) from None

        self._tmp = tempfile.TemporaryDirectory(prefix="mqldsl-duckdb-")
        self.con.execute(f"SET temp_directory = {literal(self._tmp.name)}")
        # Results are ordered by the query itself: DuckDB need not keep
        # insertion order, which lets large queries spill more freely.
        self.con.execute("SET preserve_insertion_order = false")
        self._tables = InputTables(self.con, model, self._tmp.name)

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ tables

    def load_leads(self, leads: Iterator[Lead]) -> int:
        """Load validated leads (in order) through DuckDB's JSON reader."""
        return self._tables.load_leads(leads)

    def load_tables(self, leads: str, events: str | None, report: ReadReport) -> int:
        """Load Parquet tables exported from a warehouse, validating them in SQL."""
        return self._tables.load_tables(leads, events, report)

    def load_accounts(self, accounts: Mapping[str, Mapping[str, Any]]) -> None:
        """The account fields of each account (by id), for leads loaded from tables."""
        self._tables.load_accounts(accounts)

    def _events_read(self) -> str:
        """A query of the events each lead's timeline is built on, as (lid, the event's
        columns): its own, and with account scores (SPEC §9) its account's other leads'."""
        if not self.model.reads_account_scores:
            return "SELECT lead_id AS lid, * FROM events"
        group = (
            "CASE WHEN account IS NULL THEN 'l:' || id ELSE 'a:' || CAST(account AS VARCHAR) END"
        )
        return (
            f"SELECT r.id AS lid, e.* FROM events AS e "
            f"JOIN (SELECT id, {group} AS gk FROM leads) AS o ON o.id = e.lead_id "
            f"JOIN (SELECT id, {group} AS gk FROM leads) AS r ON r.gk = o.gk"
        )

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
            event_order_column=EVENT_ORDER,
            first_entries=first_entries,
        )

    def decide(
        self, as_of: float, params: Mapping[str, Any] | None = None, first_entries: bool = False
    ) -> Iterator[SqlDecision]:
        """Every loaded lead's decision, in input order. EngineError when a
        lead has more events than the query's packed counters can count."""
        most = self.con.execute(
            "SELECT coalesce(max(n), 0) FROM "
            f"(SELECT count(*) AS n FROM ({self._events_read()}) GROUP BY lid)"
        ).fetchone()
        if most is not None and most[0] > MAX_COUNT:
            whose = "an account's leads have" if self.model.reads_account_scores else "a lead has"
            raise EngineError(
                f"{whose} {most[0]:,} events; the SQL back end counts at most {MAX_COUNT:,} "
                "per lead: score these journeys with the Python engine"
            )
        long = self.long_timelines(as_of, limit=1, params=params)
        if long:
            lead_id, size, events, oldest = long[0]
            raise TimelineTooLong(f"lead `{lead_id}`: " + self._too_long(size, events, oldest))
        chunks = self._chunks()
        if len(chunks) <= 1:
            compiled = self.compile(as_of, params, first_entries)
            cursor = self.con.execute(compiled.sql("duckdb", pretty=False))
            return self._rows(cursor, RowReader(compiled, [d[0] for d in cursor.description]))
        return self._chunked(self.compile(as_of, params, first_entries, chunked=True), chunks)

    def long_timelines(
        self, as_of: float, limit: int | None = None, params: Mapping[str, Any] | None = None
    ) -> list[tuple[str, int, int, float]]:
        """The leads whose timeline is longer than :data:`MAX_INSTANTS` (counted as
        ``engine.runtime.timeline_size`` counts it), in input order: (id, size, events, the
        oldest event's instant). At most ``limit`` of them. ``params`` may give a duration
        param another length (SPEC §5.2)."""
        model = bind(self.model, params)
        periods = sorted(
            {
                round(info.node.decay.every.seconds * 1_000_000)
                for info in model.scores.values()
                if info.node.decay is not None
            }
        )
        windows = sorted({round(w * 1_000_000) for w in model.windows})
        at_us = "date_diff('microsecond', TIMESTAMP '1970-01-01', e.\"at\")"
        age = f"date_diff('microsecond', e.\"at\", {timestamp(as_of).sql('duckdb')})"
        terms = ["1"]
        terms += [f"CAST({age} >= {w} AS BIGINT)" for w in windows]
        terms += [f"CAST(floor({age} / {p}) AS BIGINT)" for p in periods]
        declared = ", ".join(literal(name) for name in self.model.events) or "NULL"
        order = quote(ORDER)
        rows = self.con.execute(
            f"""
            WITH times AS (
                SELECT e.lid AS lid, e."at" AS "at", count(*) AS n
                FROM ({self._events_read()}) AS e
                WHERE {age} >= 0 AND e.type IN ({declared})
                GROUP BY e.lid, e."at"
            ),
            sizes AS (  -- (events at one instant share their instants: counted once)
                SELECT e.lid AS lid, 1 + sum({" + ".join(terms)}) AS size,
                       sum(e.n) AS n, min({at_us}) AS oldest
                FROM times AS e
                GROUP BY e.lid
            )
            SELECT s.lid, s.size, s.n, s.oldest FROM sizes AS s JOIN leads AS l ON l.id = s.lid
            WHERE s.size > {MAX_INSTANTS} ORDER BY l.{order}
            {f"LIMIT {int(limit)}" if limit is not None else ""}
            """
        ).fetchall()
        return [(str(lid), int(size), int(n), int(at) / 1_000_000) for lid, size, n, at in rows]

    def drop_long_timelines(
        self, as_of: float, report: ReadReport, source: str, lines: Sequence[int] = ()
    ) -> None:
        """Reject (code E900) and drop the leads whose timeline is too long: the Python
        engine rejects the same leads. ``lines``: the line of each lead loaded, in input
        order (none: leads from tables, reported without a line)."""
        long = self.long_timelines(as_of)
        ids = ", ".join(literal(lead_id) for lead_id, _, _, _ in long)
        places: dict[str, int] = {}
        if long and lines:
            order = quote(ORDER)
            found = self.con.execute(f"SELECT id, {order} FROM leads WHERE id IN ({ids})")
            places = {str(lead_id): int(place) for lead_id, place in found.fetchall()}
        for lead_id, size, events, oldest in long:
            message = f"lead `{lead_id}`: " + self._too_long(size, events, oldest)
            place = places.get(lead_id)
            report.reject(source, 0 if place is None else lines[place], message, code="E900")
        if long:
            self.con.execute(f"DELETE FROM events WHERE lead_id IN ({ids})")
            self.con.execute(f"DELETE FROM leads WHERE id IN ({ids})")

    def drop_lost_accounts(
        self, records: Mapping[str, AccountRecord], report: ReadReport, source: str
    ) -> None:
        """Reject (E716) and drop the leads of the accounts whose line of the accounts file
        was rejected (leads from tables: reported without a line, by id), as the Python
        engine does (:func:`mqldsl.io.accounts.resolve_account`)."""
        lost = {account: record for account, record in records.items() if record.rejected}
        if not lost or not self.model.uses_accounts:  # (no account column to read)
            return
        accounts = ", ".join(literal(account) for account in lost)
        order = quote(ORDER)
        found = self.con.execute(
            f"SELECT id, account FROM leads WHERE account IN ({accounts}) ORDER BY {order}"
        ).fetchall()
        for lead_id, account in found:
            message, hint = lost_account(str(account), lost[str(account)])
            report.reject(source, 0, f"lead `{lead_id}`: {message}", "E716", hint=hint)
        self.con.execute(
            f"DELETE FROM events WHERE lead_id IN (SELECT id FROM leads WHERE account IN "
            f"({accounts}))"
        )
        self.con.execute(f"DELETE FROM leads WHERE account IN ({accounts})")

    def _too_long(self, size: int, events: int, oldest: float) -> str:
        periods = [
            info.node.decay.every.seconds
            for info in self.model.scores.values()
            if info.node.decay is not None
        ]
        return too_long(size, MAX_INSTANTS, events, oldest, periods)

    def _chunked(self, part: SqlPolicy, chunks: list[tuple[int, int]]) -> Iterator[SqlDecision]:
        """The same query over consecutive ranges of leads (in input order),
        so that each run holds one chunk in memory."""
        query = part.sql("duckdb", pretty=False)
        order = quote(ORDER)
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
        if budget is None or self.model.reads_account_scores:
            # An account score reads the events of leads anywhere in the input: one run.
            return [(0, -1)]
        total = self.con.execute(
            "SELECT (SELECT count(*) FROM leads) + (SELECT count(*) FROM events)"
        ).fetchone()
        if total is None or total[0] <= budget:
            return [(0, -1)]
        order = quote(ORDER)
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
