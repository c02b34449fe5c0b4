"""`mqldsl import`: CRM-style CSV exports to SPEC §12 journeys, driven by a
mapping file (docs/import.md). Every row is imported or reported with its
line number and reason; the summary counts both."""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.runtime import format_instant, to_seconds
from mqldsl.io.errors import InputProblem, UsageProblem
from mqldsl.io.files import write_output
from mqldsl.io.journeys import RecordError, convert
from mqldsl.io.problems import Problem
from mqldsl.language.suggestions import did_you_mean


class MappingError(InputProblem):
    """A mapping file with problems, or a table it needs that was not given."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.problems = problems


@dataclass(frozen=True)
class ColumnRule:
    column: str
    values: dict[str, Any] | None = None
    other: Any = None
    format: str | None = None  # strptime format for dates and instants
    exists: bool = False  # true when the (joined) row exists


@dataclass(frozen=True)
class EventRule:
    type: str
    at: ColumnRule
    fields: dict[str, ColumnRule]


@dataclass
class Mapping:
    id: str
    missing: tuple[str, ...]
    profile: dict[str, ColumnRule]
    truth: dict[str, ColumnRule]
    events: list[EventRule]
    tables: dict[str, str]  # table name -> key column
    event_rows: dict[str, Any] | None = None
    path: str = ""
    unknown_values: dict[str, set[str]] = field(default_factory=dict)


_SOURCE_KEYS = {"id", "missing"}
# The truth a mapping can write (SPEC §12, docs/import.md): who bought, and
# the instants the lead was created, became sales qualified and was won.
TRUTH_KEYS = ("buyer", "created_at", "sql_at", "won_at")
_TRUTH_INSTANTS = ("created_at", "sql_at", "won_at")
_RULE_KEYS = {"column", "values", "other", "format", "exists"}


def _rule(raw: Any, where: str, problems: list[str]) -> ColumnRule | None:
    if isinstance(raw, str):
        return ColumnRule(column=raw)
    if not isinstance(raw, dict) or "column" not in raw:
        problems.append(f"{where}: expected a column name or a table with `column`")
        return None
    for key in raw:
        if key not in _RULE_KEYS:
            close = did_you_mean(key, sorted(_RULE_KEYS))
            problems.append(f"{where}.{key}: unknown key" + (f"; {close}" if close else ""))
    values = raw.get("values")
    if values is not None and not isinstance(values, dict):
        problems.append(f"{where}.values: expected a table of CSV value = value")
        values = None
    return ColumnRule(
        column=str(raw["column"]),
        values={str(k): v for k, v in values.items()} if values else None,
        other=raw.get("other"),
        format=raw.get("format"),
        exists=bool(raw.get("exists", False)),
    )


def load_mapping(path: str | Path, model: CheckedPolicy) -> Mapping:
    name = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError([f"{name}: cannot read the mapping: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError([f"{name}: invalid TOML: {exc}"]) from None
    problems: list[str] = []
    for key in raw:
        if key not in {"source", "profile", "truth", "events", "tables", "event_rows"}:
            problems.append(f"{name}: {key}: unknown table")
    source = raw.get("source", {})
    if "id" not in source:
        problems.append(f"{name}: source.id: name the column that holds the lead id")
    for key in source:
        if key not in _SOURCE_KEYS:
            problems.append(f"{name}: source.{key}: unknown key")
    profile: dict[str, ColumnRule] = {}
    for field_name, spec in raw.get("profile", {}).items():
        if field_name not in model.fields:
            close = did_you_mean(field_name, list(model.fields))
            problems.append(
                f"{name}: profile.{field_name}: the policy has no lead field `{field_name}`"
                + (f"; {close}" if close else "")
            )
            continue
        rule = _rule(spec, f"{name}: profile.{field_name}", problems)
        if rule is not None:
            profile[field_name] = rule
    truth: dict[str, ColumnRule] = {}
    for key, spec in raw.get("truth", {}).items():
        if key not in TRUTH_KEYS:
            close = did_you_mean(key, list(TRUTH_KEYS))
            problems.append(
                f"{name}: truth.{key}: truth has `buyer`, `created_at`, `sql_at` and `won_at`"
                + (f"; {close}" if close else "")
            )
            continue
        rule = _rule(spec, f"{name}: truth.{key}", problems)
        if rule is not None:
            truth[key] = rule
    events: list[EventRule] = []
    for index, spec in enumerate(raw.get("events", [])):
        where = f"{name}: events[{index}]"
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in model.events:
            problems.append(f"{where}.type: `{kind}` is not an event of the policy")
            continue
        at = _rule(spec.get("at"), f"{where}.at", problems)
        fields = {}
        for field_name, field_spec in spec.get("fields", {}).items():
            if field_name not in model.events[kind].fields:
                problems.append(
                    f"{where}.fields.{field_name}: event `{kind}` has no field `{field_name}`"
                )
                continue
            rule = _rule(field_spec, f"{where}.fields.{field_name}", problems)
            if rule is not None:
                fields[field_name] = rule
        if at is not None:
            events.append(EventRule(kind, at, fields))
    tables = {}
    for table, spec in raw.get("tables", {}).items():
        if not isinstance(spec, dict) or "key" not in spec:
            problems.append(
                f"{name}: tables.{table}: give the `key` column that joins it to the leads"
            )
            continue
        tables[table] = str(spec["key"])
    if any(key in truth for key in ("sql_at", "won_at")) and "buyer" not in truth:
        problems.append(
            f"{name}: truth: map `buyer` too: the backtest reads who bought from `buyer`, "
            "and an SQL or won date without it would be ignored"
        )
    if problems:
        raise MappingError(problems)
    missing = source.get("missing", [""])
    return Mapping(
        id=str(source["id"]),
        missing=tuple(str(m) for m in missing),
        profile=profile,
        truth=truth,
        events=events,
        tables=tables,
        event_rows=raw.get("event_rows"),
        path=name,
    )


@dataclass
class ImportReport:
    """How many rows were read and imported, and the rejected ones (file,
    line, reason)."""

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


def _value(row: dict[str, str], rule: ColumnRule, mapping: Mapping) -> Any:
    """The mapped value of a cell; None for missing."""
    if rule.exists:
        return row.get(rule.column) is not None
    if rule.column not in row:
        table = rule.column.split(".", 1)[0] + "."
        if "." in rule.column and table in row:
            return None  # a joined table without a row for this lead
        raise RecordError(f"no column `{rule.column}`")
    raw = row[rule.column]
    if raw is None or raw.strip() in mapping.missing:
        return None
    text = raw.strip()
    if rule.values is not None:
        if text in rule.values:
            return rule.values[text]
        if rule.other is not None:
            return rule.other
        raise RecordError(
            f"column `{rule.column}`: `{text}` has no mapping (add it to `values` or give `other`)"
        )
    if rule.format is not None:
        try:
            moment = dt.datetime.strptime(text, rule.format)
        except ValueError:
            raise RecordError(
                f"column `{rule.column}`: `{text}` does not match the format {rule.format}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment
    return text


def _instant(value: Any, column: str) -> str:
    if isinstance(value, dt.datetime):
        return format_instant(to_seconds(value))
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise RecordError(f"column `{column}`: `{value}` is not a date or instant") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return format_instant(to_seconds(moment))
    raise RecordError(f"column `{column}`: expected a date or instant")


def _read_table(path: str, key: str) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The table's rows by their join key, and its columns."""
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.DictReader(stream)
        columns = list(reader.fieldnames or ())
        if key not in columns:
            raise MappingError([f"{path}: no column `{key}` to join on"])
        return {row[key]: row for row in reader}, columns


def import_rows(
    model: CheckedPolicy,
    mapping: Mapping,
    leads: str,
    tables: dict[str, str],
    report: ImportReport,
) -> Iterator[dict[str, Any]]:
    joined = {}
    available: set[str] = set()
    for table, key in mapping.tables.items():
        if table not in tables:
            raise MappingError(
                [f"{mapping.path}: tables.{table}: give the file with --table {table}=FILE"]
            )
        joined[table], table_columns = _read_table(tables[table], key)
        available.update(f"{table}.{column}" for column in table_columns)
    seen: set[str] = set()
    with open(leads, newline="", encoding="utf-8-sig") as stream:
        reader = csv.DictReader(stream)
        columns = reader.fieldnames or []
        if mapping.id not in columns:
            raise MappingError(
                [f"{leads}: no id column `{mapping.id}` (columns: {', '.join(columns[:12])})"]
            )
        available.update(columns)
        # A truth date read from a column that does not exist would be missing on every row,
        # and every outcome would then count at every as-of: refuse the mapping instead.
        for key in _TRUTH_INSTANTS:
            rule = mapping.truth.get(key)
            if rule is not None and rule.column not in available:
                raise MappingError(
                    [
                        f"{mapping.path}: truth.{key}: no column `{rule.column}` in {leads}"
                        " or the joined tables"
                    ]
                )
        for row in reader:
            line = reader.line_num
            report.read += 1
            if None in row:
                report.reject(leads, line, "more values than columns")
                continue
            if any(value is None for value in row.values()):
                report.reject(leads, line, "fewer values than columns")
                continue
            full: dict[str, Any] = dict(row)
            for table, rows in joined.items():
                match = rows.get(row[mapping.id])
                for column, value in (match or {}).items():
                    full[f"{table}.{column}"] = value
                full[f"{table}."] = match
            try:
                yield _journey(model, mapping, full, seen)
                report.imported += 1
            except RecordError as exc:
                report.reject(leads, line, str(exc))


def _journey(
    model: CheckedPolicy, mapping: Mapping, row: dict[str, Any], seen: set[str]
) -> dict[str, Any]:
    lead_id = (row.get(mapping.id) or "").strip()
    if not lead_id:
        raise RecordError(f"empty id in column `{mapping.id}`")
    if lead_id in seen:
        raise RecordError(f"duplicate id `{lead_id}`")
    profile: dict[str, Any] = {}
    for name, rule in mapping.profile.items():
        value = _value(row, rule, mapping)
        if value is None:
            continue
        kind = model.fields[name].type
        try:
            converted = convert(value, kind)
        except RecordError as exc:
            raise RecordError(f"column `{rule.column}` → {name}: {exc}") from None
        if isinstance(converted, frozenset):
            converted = sorted(converted)
        elif isinstance(converted, dt.date):
            converted = converted.isoformat()
        profile[name] = converted
    events = []
    for event in mapping.events:
        at = _value(row, event.at, mapping)
        if at is None:
            continue
        item: dict[str, Any] = {"type": event.type, "at": _instant(at, event.at.column)}
        for name, rule in event.fields.items():
            value = _value(row, rule, mapping)
            if value is not None:
                item[name] = value
        events.append(item)
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
                    f"column `{rule.column}`: the buyer truth needs true/false (use `values`)"
                )
            if value is not None:
                truth["buyer"] = value
    for key in _TRUTH_INSTANTS:
        if key not in mapping.truth:
            continue
        rule = mapping.truth[key]
        value = row.get(rule.column) if rule.column in row else None
        if value is not None and str(value).strip() not in mapping.missing:
            truth[key] = _instant(_value(row, rule, mapping), rule.column)
    if truth.get("buyer") is False and "won_at" in truth:
        raise RecordError(
            f"column `{mapping.truth['won_at'].column}`: a won date for a lead whose buyer "
            "truth is false (check the `buyer` mapping)"
        )
    seen.add(lead_id)
    journey: dict[str, Any] = {"id": lead_id, "profile": profile, "events": events}
    if truth:
        journey["truth"] = truth
    return journey


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
