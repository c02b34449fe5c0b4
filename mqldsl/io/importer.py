"""`mqldsl import`: CRM-style CSV exports to SPEC §12 journeys, driven by a
mapping file (docs/import.md). Every row is imported or reported with its
line number and reason; the summary counts both."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.types import Type
from mqldsl.engine.runtime import format_instant
from mqldsl.io.csvrows import CsvTable, Row, open_input
from mqldsl.io.errors import UsageProblem
from mqldsl.io.files import write_output
from mqldsl.io.journeys import count_line
from mqldsl.io.mapping import (
    TRUTH_INSTANTS,
    ColumnRule,
    EventRule,
    Mapping,
    MappingError,
    load_mapping,
)
from mqldsl.io.problems import Problem
from mqldsl.io.values import RecordError, convert, instant


@dataclass
class ImportReport:
    """How many records were read and imported, and the rejected ones (file, line, reason).
    A record is a row of the leads export, or a row of a joined table that cannot be joined
    (unreadable, or a second row with a key already seen)."""

    read: int = 0
    imported: int = 0
    rejected: list[Problem] = field(default_factory=list)

    def reject(
        self,
        file: str,
        line: int,
        reason: str,
        code: str = "E700",
        column: int = 0,
        hint: str | None = None,
    ) -> None:
        self.rejected.append(Problem(file, line, reason, code, column, hint))

    def summary_lines(self, shown: int = 50) -> list[str]:
        """The first ``shown`` rejected records, then ``N read, N used, N rejected``."""
        lines = [problem.render() for problem in self.rejected[:shown]]
        if len(self.rejected) > shown:
            lines.append(f"... and {len(self.rejected) - shown:,} more rejected records")
        lines.append(count_line(self.read, self.imported, len(self.rejected)))
        return lines


def _value(row: dict[str, Any], rule: ColumnRule, mapping: Mapping) -> Any:
    """The mapped value of a cell; None for missing."""
    if rule.exists:
        return row.get(rule.column) is not None
    raw = row.get(rule.column)
    if raw is None or raw.strip() in mapping.missing:
        return None  # missing, or a joined table without a row for this lead
    text = raw.strip()
    if rule.values is not None:
        if text in rule.values:
            return rule.values[text]
        if rule.other is not None:
            return rule.other
        raise RecordError(
            f"column `{rule.column}`: `{text}` has no mapping (add it to `values` or give `other`)",
            "E756",
        )
    if rule.format is not None:
        try:
            moment = dt.datetime.strptime(text, rule.format)
        except ValueError:
            raise RecordError(
                f"column `{rule.column}`: `{text}` does not match the format {rule.format}", "E757"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment
    return text


def _instant(value: Any, column: str, code: str) -> str:
    """A mapped value as an instant (a date is its midnight, UTC)."""
    if isinstance(value, dt.datetime):
        text = value.isoformat()
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise RecordError(
                f"column `{column}`: `{value}` is not a date or instant", code
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        text = moment.isoformat()
    else:
        raise RecordError(f"column `{column}`: expected a date or instant", code)
    try:
        return format_instant(instant(text))
    except ValueError as exc:
        raise RecordError(f"column `{column}`: {exc}", code) from None


def _typed(value: Any, kind: Type, column: str, target: str, code: str) -> Any:
    """A mapped value as the JSON of a field of type ``kind`` (a date read with a format is
    its day)."""
    if isinstance(value, dt.datetime) and kind.kind == "date":
        value = value.date().isoformat()
    try:
        converted = convert(value, kind)
    except RecordError as exc:
        raise RecordError(f"column `{column}` → {target}: {exc}", code) from None
    if isinstance(converted, frozenset):
        return sorted(converted)
    if isinstance(converted, dt.date):
        return converted.isoformat()
    return converted


def _read_table(
    path: str, key: str, report: ImportReport, bad: dict[str, Problem]
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The table's rows by their join key, and its columns. A row that cannot be read, or
    whose key is already on an earlier row (that row is kept), is a rejected record; a row
    rejected whose key can still be read goes into ``bad`` (its lead is rejected too, as
    `score` does with a rejected events row: joining without it would import wrong truth)."""
    rows: dict[str, Row] = {}
    with open_input(path) as stream:
        table = CsvTable(stream, path)
        table.require(key, what="joined table")
        position = table.columns.index(key)
        for row in table.rows():
            if not isinstance(row, Row):
                report.read += 1
                report.rejected.append(row.problem)
                if row.cells is not None and position < len(row.cells):
                    bad.setdefault(row.cells[position], row.problem)
                continue
            value = row.cells[key]
            first = rows.get(value)
            if first is None:
                rows[value] = row
                continue
            report.read += 1
            report.reject(
                path,
                row.line,
                f"duplicate key `{value}` in column `{key}` (first on line {first.line}, "
                "which is joined)",
                "E755",
                hint="a joined table has one row per lead: remove or merge the duplicates",
            )
    return {value: row.cells for value, row in rows.items()}, table.columns


def _check_columns(mapping: Mapping, leads: str, available: set[str]) -> None:
    """:class:`MappingError` for a rule whose column is in none of the tables: it would be
    missing on every row (a truth date so counted at every as-of instant)."""
    problems = []
    for rule in mapping.rules():
        column = rule.column
        if column in available or (rule.exists and column.endswith(".") and column in available):
            continue
        problems.append(
            mapping.problem(
                rule.key,
                f"no column `{column}` in {leads} or the joined tables",
                "E754",
                at="column",
            ).render()
        )
    if mapping.account is not None and mapping.account not in available:
        problems.append(
            mapping.problem(
                ("source", "account"), f"no column `{mapping.account}` in {leads}", "E754"
            ).render()
        )
    if problems:
        raise MappingError(problems)


def import_rows(
    model: CheckedPolicy,
    mapping: Mapping,
    leads: str,
    tables: dict[str, str],
    report: ImportReport,
) -> Iterator[dict[str, Any]]:
    joined = {}
    available: set[str] = set()
    bad: dict[str, dict[str, Problem]] = {}  # per table: join keys whose row was rejected
    for table, key in mapping.tables.items():
        if table not in tables:
            raise MappingError(
                [
                    mapping.problem(
                        ("tables", table), f"give the file with --table {table}=FILE", "E754"
                    ).render()
                ]
            )
        bad[table] = {}
        joined[table], table_columns = _read_table(tables[table], key, report, bad[table])
        available.update(f"{table}.{column}" for column in table_columns)
        available.add(f"{table}.")
    seen: set[str] = set()
    with open_input(leads) as stream:
        reader = CsvTable(stream, leads)
        reader.require(mapping.id, what="leads export (source.id)")
        for table, column in mapping.joins.items():
            reader.require(column, what=f"leads export (tables.{table}.on)")
        available.update(reader.columns)
        _check_columns(mapping, leads, available)
        for row in reader.rows():
            report.read += 1
            if not isinstance(row, Row):
                report.rejected.append(row.problem)
                continue
            # Each joined table matches a column of the export: the lead id, or its `on`.
            keys = {t: row.cells.get(mapping.joins.get(t, mapping.id)) for t in joined}
            problem = next(
                (bad[t][k] for t, k in keys.items() if k is not None and k in bad[t]), None
            )
            if problem is not None:
                report.reject(
                    leads,
                    row.line,
                    f"its row {problem.where} in a joined table was rejected ({problem.code})",
                    "E712",
                )
                continue
            full: dict[str, Any] = dict(row.cells)
            for table, rows in joined.items():
                value = keys[table]
                match = rows.get(value) if value is not None else None
                for column, value in (match or {}).items():
                    full[f"{table}.{column}"] = value
                full[f"{table}."] = match
            try:
                yield _journey(model, mapping, full, seen)
                report.imported += 1
            except RecordError as exc:
                report.reject(leads, row.line, str(exc), exc.code)


def _journey(
    model: CheckedPolicy, mapping: Mapping, row: dict[str, Any], seen: set[str]
) -> dict[str, Any]:
    lead_id = (row.get(mapping.id) or "").strip()
    if not lead_id:
        raise RecordError(f"empty id in column `{mapping.id}`", "E703")
    if lead_id in seen:
        raise RecordError(f"duplicate id `{lead_id}`", "E704")
    profile: dict[str, Any] = {}
    for name, rule in mapping.profile.items():
        value = _value(row, rule, mapping)
        if value is not None:
            profile[name] = _typed(value, model.fields[name].type, rule.column, name, "E705")
    events = [item for event in mapping.events if (item := _event(model, mapping, event, row))]
    truth = _truth(mapping, row)
    seen.add(lead_id)
    journey: dict[str, Any] = {"id": lead_id}
    if mapping.account is not None:
        account = (row.get(mapping.account) or "").strip()
        if account and account not in mapping.missing:
            journey["account"] = account
    journey["profile"] = profile
    if mapping.account is not None and journey.get("account") is not None:
        account_profile: dict[str, Any] = {}
        for name, rule in mapping.account_profile.items():
            value = _value(row, rule, mapping)
            if value is not None:
                kind = model.account_fields[name].type
                account_profile[name] = _typed(value, kind, rule.column, name, "E705")
        if account_profile:
            journey["account_profile"] = account_profile
    journey["events"] = events
    if truth:
        journey["truth"] = truth
    return journey


def _event(
    model: CheckedPolicy, mapping: Mapping, event: EventRule, row: dict[str, Any]
) -> dict[str, Any] | None:
    """The event a row makes (None when its instant is missing); its fields are checked
    against the policy's declaration of the event."""
    at = _value(row, event.at, mapping)
    if at is None:
        return None
    item: dict[str, Any] = {"type": event.type, "at": _instant(at, event.at.column, "E706")}
    declared = model.events[event.type].fields
    for name, rule in event.fields.items():
        value = _value(row, rule, mapping)
        if value is not None:
            target = f"event `{event.type}` field `{name}`"
            item[name] = _typed(value, declared[name].type, rule.column, target, "E706")
    return item


def _truth(mapping: Mapping, row: dict[str, Any]) -> dict[str, Any]:
    truth: dict[str, Any] = {}
    if "buyer" in mapping.truth:
        rule = mapping.truth["buyer"]
        if rule.exists and "." in rule.column:
            table = rule.column.split(".", 1)[0]
            truth["buyer"] = row.get(f"{table}.") is not None
        else:
            value = _value(row, rule, mapping)
            if value is not None and not isinstance(value, bool):
                raise RecordError(
                    f"column `{rule.column}`: the buyer truth needs true/false (use `values`), "
                    f"got `{value}`",
                    "E707",
                )
            if value is not None:
                truth["buyer"] = value
    for key in TRUTH_INSTANTS:
        dated = mapping.truth.get(key)
        if dated is None:
            continue
        value = _value(row, dated, mapping)
        if value is not None:
            truth[key] = _instant(value, dated.column, "E707")
    if truth.get("buyer") is False and "won_at" in truth:
        raise RecordError(
            f"column `{mapping.truth['won_at'].column}`: a won date for a lead whose buyer "
            "truth is false (check the `buyer` mapping)",
            "E707",
        )
    return truth


def table_files(tables: Sequence[str]) -> dict[str, str]:
    """``NAME=FILE`` items as a mapping; :class:`UsageProblem` (option
    ``--table``) for an item of another shape."""
    files = {}
    for item in tables:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UsageProblem(f"`{item}` is not NAME=FILE", "--table")
        files[name] = path
    return files


def import_journeys(
    model: CheckedPolicy,
    mapping: str | Path,
    leads: str,
    tables: Sequence[str],
    output: str | Path | None,
) -> ImportReport:
    """Turn the CSV export ``leads`` (joined with the ``NAME=FILE`` tables)
    into journeys as the mapping file says, written as JSON Lines to
    ``output`` (atomically; None: standard output). Every row is imported or
    rejected with its line number in the returned report.
    :class:`MappingError` for a mapping with problems."""
    files = table_files(tables)
    report = ImportReport()
    spec = load_mapping(mapping, model)

    def produce(sink: BinaryIO) -> int:
        count = 0
        for journey in import_rows(model, spec, leads, files, report):
            sink.write(orjson.dumps(journey) + b"\n")
            count += 1
        return count

    write_output(output, produce)
    return report


__all__ = [
    "ImportReport",
    "Mapping",
    "MappingError",
    "import_journeys",
    "import_rows",
    "load_mapping",
    "table_files",
]
