"""The input tables of the DuckDB engine: ``leads`` and ``events``, with one
typed column per field of the policy, loaded in one of two ways:

- **Journeys** (JSON Lines or CSV) go through the same reader as the Python
  engine (so a bad record is rejected with the same message), are written as
  normalised JSON Lines into a temporary folder, and are loaded by DuckDB's
  own JSON reader. Python holds one lead at a time.
- **Parquet tables** (`--leads LEADS.parquet --events EVENTS.parquet`, as
  exported from a warehouse) are read by DuckDB directly and validated in SQL:
  a lead with a missing id, a duplicate id, a value that is not of its
  field's type or not a member of its enum, or an event without a valid
  instant is rejected and reported by row; events of undeclared types are
  counted; events of unknown leads are reported.

Either way the ``leads`` table keeps the input order in its column
:data:`ORDER`.

A policy with account fields or account scores (SPEC §9) adds an ``account``
column to ``leads`` and an ``accounts`` table (``id`` and one column per
account field). From journeys, the leads come grouped by the Python reader
(:mod:`mqldsl.io.accounts`: the accounts file, the leads' `account_profile`,
the same rejections), and each account's resolved fields make one row. With
Parquet tables, the leads table's ``account`` column names the account and
the accounts file (``--accounts``) gives the fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlglot import exp

from mqldsl.analysis.model import CheckedPolicy, FieldInfo
from mqldsl.analysis.types import Type
from mqldsl.engine.runtime import Lead
from mqldsl.io.journeys import ReadReport

if TYPE_CHECKING:
    import duckdb

ORDER = "mqldsl ord"  # the input-order column: a name no policy can give a field
EVENT_ORDER = "mqldsl seq"  # the events' input order (hot-event routes, SPEC §8)


class EngineError(Exception):
    """Input (or a setting) that the DuckDB engine cannot take (reported,
    exit code 1)."""


def _sql_type(kind: Type) -> str:
    """The DuckDB column type of a field of type ``kind``."""
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


def quote(name: str) -> str:
    """A DuckDB identifier, quoted by sqlglot."""
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def literal(text: str) -> str:
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
    """A profile or event value as JSON: a set as a sorted list, a date in ISO form."""
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class InputTables:
    """The ``leads`` and ``events`` tables of one DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, model: CheckedPolicy, folder: str) -> None:
        """``folder`` holds the temporary JSON Lines files while they load."""
        self.con = con
        self.model = model
        self.folder = folder

    def create(self) -> None:
        """(Re)create the two tables, empty."""
        fields = ", ".join(
            f"{quote(name)} {_sql_type(info.type)}" for name, info in self.model.fields.items()
        )
        account = ", account VARCHAR" if self.model.uses_accounts else ""
        self.con.execute(
            f"CREATE OR REPLACE TABLE leads (id VARCHAR, {quote(ORDER)} BIGINT{account}"
            + (f", {fields}" if fields else "")
            + ")"
        )
        if self.model.uses_accounts:
            account_fields = "".join(
                f", {quote(name)} {_sql_type(info.type)}"
                for name, info in self.model.account_fields.items()
            )
            self.con.execute(f"CREATE OR REPLACE TABLE accounts (id VARCHAR{account_fields})")
        event_fields = ", ".join(
            f"{quote(name)} {_sql_type(info.type)}"
            for name, info in event_columns(self.model).items()
        )
        self.con.execute(
            'CREATE OR REPLACE TABLE events (lead_id VARCHAR, type VARCHAR, "at" TIMESTAMP, '
            + f"{quote(EVENT_ORDER)} BIGINT"
            + (f", {event_fields}" if event_fields else "")
            + ")"
        )

    def load_leads(self, leads: Iterator[Lead]) -> int:
        """Load validated leads (in order) through DuckDB's JSON reader; the
        number of leads loaded."""
        self.create()
        lead_path = Path(self.folder) / "leads.jsonl"
        event_path = Path(self.folder) / "events.jsonl"
        account_path = Path(self.folder) / "accounts.jsonl"
        count = 0
        sequence = 0  # the events' input order
        accounts: set[str] = set()
        with (
            open(lead_path, "wb") as lead_out,
            open(event_path, "wb") as event_out,
            open(account_path, "wb") as account_out,
        ):
            for lead in leads:
                row = {name: _plain(value) for name, value in lead.profile.items()}
                row["id"] = lead.id
                row[ORDER] = count
                if self.model.uses_accounts:
                    row["account"] = lead.account
                    if lead.account is not None and lead.account not in accounts:
                        # Every lead of an account carries the account's one resolved profile.
                        accounts.add(lead.account)
                        fields = {k: _plain(v) for k, v in lead.account_profile.items()}
                        account_out.write(orjson.dumps({**fields, "id": lead.account}) + b"\n")
                lead_out.write(orjson.dumps(row) + b"\n")
                for event in lead.events:
                    item = {name: _plain(value) for name, value in event.fields.items()}
                    item["lead_id"] = lead.id
                    item["type"] = event.type
                    item["at"] = round(event.at * 1_000_000)
                    item[EVENT_ORDER] = sequence
                    sequence += 1
                    event_out.write(orjson.dumps(item) + b"\n")
                count += 1
        self._insert_json("leads", lead_path, self._lead_json_columns())
        self._insert_json("events", event_path, self._event_json_columns(), events=True)
        if self.model.uses_accounts:
            self._insert_json("accounts", account_path, self._account_json_columns())
        lead_path.unlink()
        event_path.unlink()
        account_path.unlink()
        return count

    def _account_json_columns(self) -> dict[str, str]:
        columns = {"id": "VARCHAR"}
        columns.update({name: _sql_type(i.type) for name, i in self.model.account_fields.items()})
        return columns

    def _lead_json_columns(self) -> dict[str, str]:
        columns = {"id": "VARCHAR", ORDER: "BIGINT"}
        if self.model.uses_accounts:
            columns["account"] = "VARCHAR"
        columns.update({name: _sql_type(i.type) for name, i in self.model.fields.items()})
        return columns

    def _event_json_columns(self) -> dict[str, str]:
        columns = {"lead_id": "VARCHAR", "type": "VARCHAR", "at": "BIGINT", EVENT_ORDER: "BIGINT"}
        columns.update({name: _sql_type(i.type) for name, i in event_columns(self.model).items()})
        return columns

    def _insert_json(
        self, table: str, path: Path, columns: dict[str, str], events: bool = False
    ) -> None:
        if path.stat().st_size == 0:
            return
        spec = "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in columns.items()) + "}"
        names = [quote(k) for k in columns]
        if events:
            names = [('make_timestamp("at") AS "at"' if k == '"at"' else k) for k in names]
        self.con.execute(
            f"INSERT INTO {table} SELECT {', '.join(names)} FROM read_json("
            f"{literal(str(path))}, format = 'newline_delimited', columns = {spec})"
        )

    def load_accounts(self, accounts: Mapping[str, Mapping[str, Any]]) -> None:
        """Fill the ``accounts`` table: each account's fields, by account id (the records
        of an accounts file, :func:`mqldsl.io.accounts.read_accounts`)."""
        path = Path(self.folder) / "accounts.jsonl"
        with open(path, "wb") as out:
            for account_id, profile in accounts.items():
                fields = {k: _plain(v) for k, v in profile.items()}
                out.write(orjson.dumps({**fields, "id": account_id}) + b"\n")
        self._insert_json("accounts", path, self._account_json_columns())
        path.unlink()

    def load_tables(self, leads: str, events: str | None, report: ReadReport) -> int:
        """Load Parquet tables exported from a warehouse, validating them in
        SQL (rejected rows go to ``report``); the number of leads loaded."""
        self.create()
        self._check_leads(leads, report)
        if events is not None:
            self._check_events(events, report)
        for rn, problem in self.con.execute(
            "SELECT rn, problem FROM checked_leads WHERE problem IS NOT NULL ORDER BY rn"
        ).fetchall():
            report.reject(leads, int(rn), str(problem), _code(str(problem)))
        report.read += self.con.execute("SELECT count(*) FROM checked_leads").fetchone()[0]  # type: ignore[index]
        names = [quote(n) for n in self.model.fields]
        account = ", account" if self.model.uses_accounts else ""
        self.con.execute(
            f"INSERT INTO leads SELECT id, rn{account}{''.join(', ' + n for n in names)} "
            "FROM checked_leads WHERE problem IS NULL"
        )
        if events is not None:
            event_names = [quote(n) for n in event_columns(self.model)]
            self.con.execute(
                'INSERT INTO events SELECT e.lead_id, e.type, e."at", e.rn'
                + "".join(", e." + n for n in event_names)
                + " FROM checked_events e JOIN leads l ON l.id = e.lead_id"
            )
        return int(self.con.execute("SELECT count(*) FROM leads").fetchone()[0])  # type: ignore[index]

    def _check_leads(self, leads: str, report: ReadReport) -> None:
        """``checked_leads``: the leads table typed, with the problem of each
        row (NULL: none); its unknown columns are counted in ``report``."""
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
        if self.model.uses_accounts:
            # The lead's account (SPEC §9); none when the table has no `account` column.
            values.insert(
                0,
                "nullif(CAST(account AS VARCHAR), '') AS account"
                if "account" in have
                else "CAST(NULL AS VARCHAR) AS account",
            )
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

    def _check_events(self, events: str, report: ReadReport) -> None:
        """``checked_events``: the events of declared types, typed, with the
        problem of each row; a lead with a broken event takes its problem.
        Events of undeclared types are counted and events of unknown leads
        rejected in ``report``."""
        raw_events = _reader(events)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW raw_events AS SELECT * FROM {raw_events}")
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
        declared = ", ".join(literal(n) for n in self.model.events) or "NULL"
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
            report.read += 1  # an events row of no lead is a record of its own
            report.reject(events, int(rn), f"no lead with id `{lead_id}`", "E711")


def _code(problem: str) -> str:
    """The code of a problem found in SQL (the codes the Python reader gives)."""
    if problem == "empty id":
        return "E703"
    if problem.startswith("duplicate id"):
        return "E704"
    return "E706" if problem.startswith("event ") else "E705"


def _reader(path: str) -> str:
    """The DuckDB table function that reads an input table."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        # The file's own row numbers: they report rejected rows and keep the input order.
        return f"read_parquet({literal(path)}, file_row_number = true)"
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
            values.append(f"CAST(NULL AS {_sql_type(info.type)}) AS {quote(name)}")
            continue
        value, (bad, message) = _validated(quote(name), info.type, f"{what} `{name}`")
        values.append(f"{value} AS {quote(name)}")
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
        return value, (bad + ")", literal(f"{what}: {message}"))
    if k == "bool":
        value = f"try_cast({column} AS BOOLEAN)"
        return value, (
            f"{present} AND {value} IS NULL",
            literal(f"{what}: expected true or false"),
        )
    if k == "date":
        value = f"try_cast({column} AS DATE)"
        return value, (
            f"{present} AND {value} IS NULL",
            literal(f"{what}: expected a date such as 2026-12-01"),
        )
    if k == "enum":
        members = ", ".join(literal(m) for m in kind.members)
        value = f"nullif(CAST({column} AS VARCHAR), '')"
        return value, (
            f"{value} IS NOT NULL AND {value} NOT IN ({members})",
            f"{literal(what + ': ' + chr(34))} || {value} || {literal(chr(34))} || "
            + literal(" is not one of " + ", ".join(kind.members)),
        )
    if k == "set":
        value = f"CAST({column} AS VARCHAR[])"
        bad = f"{present} AND try_cast({column} AS VARCHAR[]) IS NULL"
        if kind.element is not None and kind.element.kind == "enum":
            members = ", ".join(literal(m) for m in kind.element.members)
            bad = (
                f"{bad} OR len(list_filter(try_cast({column} AS VARCHAR[]), "
                f"lambda x: x NOT IN ({members}))) > 0"
            )
        return f"try_cast({column} AS VARCHAR[])", (
            bad,
            literal(f"{what}: a value is not allowed"),
        )
    value = f"nullif(CAST({column} AS VARCHAR), '')"
    return value, ("FALSE", "NULL")
