"""The mapping file of `mqldsl import` (docs/import.md): which CSV column fills which lead
field, event, truth key and joined table, checked against the policy.

Every problem is a :class:`~mqldsl.io.problems.Problem` at the line of the key at fault
(``tomllib`` gives no positions: :func:`key_lines` finds them in the text), with a code of the
``E75x`` range.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.types import BOOL, INSTANT, Type
from mqldsl.io.errors import InputProblem
from mqldsl.io.files import not_utf8
from mqldsl.io.problems import Problem
from mqldsl.io.values import RecordError, convert
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
    key: tuple[str | int, ...] = ()  # where the rule is in the mapping file


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
    path: str = ""
    # Accounts (SPEC §9): the column of the lead's account id, and the account's fields
    # (often from a joined companies table: `companies.employees`).
    account: str | None = None
    account_profile: dict[str, ColumnRule] = field(default_factory=dict)
    # A joined table matched on a column of the export other than the lead id (`on`).
    joins: dict[str, str] = field(default_factory=dict)
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def problem(
        self, key: tuple[str | int, ...], message: str, code: str, at: str | None = None
    ) -> Problem:
        """A problem of ``key`` at its line in the mapping file (at the line of its key
        ``at`` when it has one)."""
        line = line_of(self.lines, (*key, at) if at else key)
        return Problem(self.path, line, f"{dotted(key)}: {message}", code)

    def rules(self) -> list[ColumnRule]:
        """Every column rule, in the file's order of sections."""
        found = [*self.profile.values(), *self.account_profile.values(), *self.truth.values()]
        for event in self.events:
            found += [event.at, *event.fields.values()]
        return found


_TOP = ("source", "profile", "account_profile", "truth", "events", "tables")
_SOURCE_KEYS = ("id", "account", "missing")
# The truth a mapping can write (SPEC §12, docs/import.md): who bought, and
# the instants the lead was created, became sales qualified and was won.
TRUTH_KEYS = ("buyer", "created_at", "sql_at", "won_at")
TRUTH_INSTANTS = ("created_at", "sql_at", "won_at")
_RULE_KEYS = ("column", "values", "other", "format", "exists")
_EVENT_KEYS = ("type", "at", "fields")
_KEY = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*""")


# ---------------------------------------------------------------- positions


def _parts(text: str) -> list[str]:
    """The parts of a dotted TOML key (``a."b c".d``), unquoted."""
    parts = []
    rest = text.strip()
    while rest:
        match = _KEY.match(rest)
        if match is None:
            break
        parts.append(match.group(1).strip("\"'"))
        rest = rest[match.end() :].lstrip(".")
    return parts


def key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """The line of each table header and key of a TOML text, by path (``("events", 0,
    "at")``). Simple by design: one key a line, inline tables read on their own line."""
    lines: dict[tuple[str | int, ...], int] = {}
    arrays: Counter[tuple[str | int, ...]] = Counter()
    table: tuple[str | int, ...] = ()

    def indexed(parts: list[str]) -> tuple[str | int, ...]:
        path: tuple[str | int, ...] = ()
        for part in parts:
            path += (part,)
            if arrays[path]:
                path += (arrays[path] - 1,)
        return path

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("[["):
            parts = _parts(line[2 : line.find("]]")])
            name = (*indexed(parts[:-1]), parts[-1]) if parts else ()
            arrays[name] += 1
            table = (*name, arrays[name] - 1)
            lines.setdefault(name, number)
            lines.setdefault(table, number)
        elif line.startswith("["):
            table = indexed(_parts(line[1 : line.find("]")]))
            for end in range(1, len(table) + 1):
                lines.setdefault(table[:end], number)
        elif "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            path = table + tuple(_parts(key))
            lines.setdefault(path, number)
            if value.strip().startswith("{"):
                for inner in re.finditer(
                    r"""("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""", value
                ):
                    lines.setdefault((*path, inner.group(1).strip("\"'")), number)
    return lines


def line_of(lines: dict[tuple[str | int, ...], int], key: tuple[str | int, ...]) -> int:
    """The line of ``key``, or of the nearest table that holds it (0: unknown)."""
    while key:
        if key in lines:
            return lines[key]
        key = key[:-1]
    return 0


def dotted(key: tuple[str | int, ...]) -> str:
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# ---------------------------------------------------------------- loading


class _Loader:
    def __init__(self, name: str, text: str, model: CheckedPolicy) -> None:
        self.name = name
        self.model = model
        self.lines = key_lines(text)
        self.problems: list[Problem] = []

    def add(self, key: tuple[str | int, ...], message: str, code: str = "E750") -> None:
        where = f"{dotted(key)}: " if key else ""
        self.problems.append(Problem(self.name, line_of(self.lines, key), where + message, code))

    def table(self, raw: Any, key: tuple[str | int, ...]) -> dict[str, Any]:
        if isinstance(raw, dict):
            return raw
        self.add(key, f"expected a table, got {_kind(raw)}", "E753")
        return {}

    def unknown(
        self, raw: dict[str, Any], key: tuple[str | int, ...], known: tuple[str, ...]
    ) -> None:
        for name in raw:
            if name not in known:
                close = did_you_mean(name, list(known))
                self.add((*key, name), "unknown key" + (f"; {close}" if close else ""))

    def rule(self, raw: Any, key: tuple[str | int, ...], kind: Type) -> ColumnRule | None:
        """A column rule; ``kind`` is the type it fills."""
        if isinstance(raw, str):
            return ColumnRule(column=raw, key=key)
        if not isinstance(raw, dict) or not isinstance(raw.get("column"), str):
            self.add(
                key, f"expected a column name or a table with `column`, got {_kind(raw)}", "E753"
            )
            return None
        self.unknown(raw, key, _RULE_KEYS)
        values = raw.get("values")
        if values is not None and not isinstance(values, dict):
            self.add((*key, "values"), "expected a table of CSV value = value", "E753")
            values = None
        mapped = [((*key, "values", str(k)), v) for k, v in (values or {}).items()]
        if raw.get("other") is not None:
            mapped.append(((*key, "other"), raw["other"]))
        for where, value in mapped:
            if kind.kind == "instant":
                continue
            if key == ("truth", "buyer") and not isinstance(value, bool):
                self.add(where, f"the buyer truth is true or false, not {_kind(value)}", "E753")
                continue
            try:
                convert(value, kind)
            except RecordError as exc:
                self.add(where, f"this value does not fit the {kind} it fills: {exc}", "E753")
        fmt = raw.get("format")
        if fmt is not None and not isinstance(fmt, str):
            self.add(
                (*key, "format"),
                f'expected a strptime format such as "%Y-%m-%d", got {_kind(fmt)}',
                "E753",
            )
            fmt = None
        if fmt is not None and kind.kind not in ("date", "instant"):
            self.add(
                (*key, "format"),
                f"a format reads dates and instants, not {kind} values",
                "E753",
            )
        exists = raw.get("exists", False)
        if not isinstance(exists, bool):
            self.add((*key, "exists"), f"expected true or false, got {_kind(exists)}", "E753")
            exists = False
        return ColumnRule(
            column=raw["column"],
            values={str(k): v for k, v in values.items()} if values else None,
            other=raw.get("other"),
            format=fmt,
            exists=exists,
            key=key,
        )

    def missing(self, raw: Any) -> tuple[str, ...]:
        """``source.missing``: a list of texts, or one text (a list of one); an empty cell is
        always missing."""
        if isinstance(raw, str):
            return ("", raw)
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return ("", *raw)
        self.add(
            ("source", "missing"),
            f'expected a list of texts such as ["", "Select"], got {_kind(raw)}',
            "E753",
        )
        return ("",)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f'the text "{value[:30]}"'
    return f"the value {value!r}"[:40]


def load_mapping(path: str | Path, model: CheckedPolicy) -> Mapping:
    """The mapping file ``path`` checked against ``model``; :class:`MappingError` listing
    every problem with its line."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MappingError(
            [Problem(name, 0, f"cannot read the mapping: {exc}", "E751").render()]
        ) from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        where = not_utf8(name, data, exc)  # (its line, column and message; the code E751)
        problem = Problem(
            name,
            where.line,
            f"cannot read the mapping: {where.message}",
            "E751",
            where.column,
            hint="save the mapping as UTF-8",
        )
        raise MappingError([problem.render()]) from None
    try:
        raw = tomllib.loads(text)
    except RecursionError:
        raise MappingError(
            [Problem(name, 1, "invalid TOML: values nested too deeply to read", "E751").render()]
        ) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        place = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        line, column = (int(place[1]), int(place[2])) if place else (0, 0)
        if message.endswith("(at end of document)"):
            line = text.count("\n") + 1
        message = message[: place.start()] if place else message
        raise MappingError(
            [Problem(name, line, f"invalid TOML: {message}", "E751", column).render()]
        ) from None
    load = _Loader(name, text, model)
    load.unknown(raw, (), _TOP)
    source = load.table(raw.get("source", {}), ("source",))
    load.unknown(source, ("source",), _SOURCE_KEYS)
    if not isinstance(source.get("id"), str):
        load.add(("source", "id"), "name the column that holds the lead id", "E753")
    profile: dict[str, ColumnRule] = {}
    for field_name, spec in load.table(raw.get("profile", {}), ("profile",)).items():
        key = ("profile", field_name)
        info = model.fields.get(field_name)
        if info is None:
            close = did_you_mean(field_name, list(model.fields))
            load.add(
                key,
                f"the policy has no lead field `{field_name}`" + (f"; {close}" if close else ""),
                "E752",
            )
            continue
        rule = load.rule(spec, key, info.type)
        if rule is not None:
            profile[field_name] = rule
    if "account" in source and not isinstance(source["account"], str):
        load.add(("source", "account"), "name the column that holds the account id", "E753")
    account_profile: dict[str, ColumnRule] = {}
    for field_name, spec in load.table(
        raw.get("account_profile", {}), ("account_profile",)
    ).items():
        key = ("account_profile", field_name)
        info = model.account_fields.get(field_name)
        if info is None:
            close = did_you_mean(field_name, list(model.account_fields))
            load.add(
                key,
                f"the policy has no account field `{field_name}`" + (f"; {close}" if close else ""),
                "E752",
            )
            continue
        rule = load.rule(spec, key, info.type)
        if rule is not None:
            account_profile[field_name] = rule
    if account_profile and not isinstance(source.get("account"), str):
        load.add(
            ("account_profile",),
            "account fields need the account: name its column in `[source] account`",
            "E753",
        )
    truth: dict[str, ColumnRule] = {}
    for truth_key, spec in load.table(raw.get("truth", {}), ("truth",)).items():
        key = ("truth", truth_key)
        if truth_key not in TRUTH_KEYS:
            close = did_you_mean(truth_key, list(TRUTH_KEYS))
            load.add(
                key,
                "truth has `buyer`, `created_at`, `sql_at` and `won_at`"
                + (f"; {close}" if close else ""),
                "E752",
            )
            continue
        rule = load.rule(spec, key, BOOL if truth_key == "buyer" else INSTANT)
        if rule is not None:
            truth[truth_key] = rule
    events = _events(load, raw.get("events", []))
    tables = {}
    joins: dict[str, str] = {}
    for table, spec in load.table(raw.get("tables", {}), ("tables",)).items():
        key = ("tables", table)
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), str):
            load.add(key, "give the `key` column that joins it to the leads", "E753")
            continue
        load.unknown(spec, key, ("key", "on"))
        tables[table] = spec["key"]
        if "on" in spec:
            if isinstance(spec["on"], str):
                joins[table] = spec["on"]
            else:
                load.add((*key, "on"), "name the column of the export to match `key`", "E753")
    if any(key in truth for key in ("sql_at", "won_at")) and "buyer" not in truth:
        load.add(
            ("truth",),
            "map `buyer` too: the backtest reads who bought from `buyer`, "
            "and an SQL or won date without it would be ignored",
            "E752",
        )
    missing = load.missing(source["missing"]) if "missing" in source else ("",)
    if load.problems:
        ordered = sorted(load.problems, key=lambda problem: problem.line)
        raise MappingError([problem.render() for problem in ordered])
    return Mapping(
        id=str(source["id"]),
        missing=missing,
        profile=profile,
        truth=truth,
        events=events,
        tables=tables,
        path=name,
        lines=load.lines,
        account=source.get("account") if isinstance(source.get("account"), str) else None,
        account_profile=account_profile,
        joins=joins,
    )


def _events(load: _Loader, raw: Any) -> list[EventRule]:
    if not isinstance(raw, list):
        load.add(("events",), f"expected [[events]] tables, got {_kind(raw)}", "E753")
        return []
    events: list[EventRule] = []
    for index, spec in enumerate(raw):
        key: tuple[str | int, ...] = ("events", index)
        if not isinstance(spec, dict):
            load.add(key, f"expected a table, got {_kind(spec)}", "E753")
            continue
        load.unknown(spec, key, _EVENT_KEYS)
        kind = spec.get("type")
        info = load.model.events.get(kind) if isinstance(kind, str) else None
        if info is None:
            close = did_you_mean(kind, list(load.model.events)) if isinstance(kind, str) else None
            load.add(
                (*key, "type"),
                f"`{kind}` is not an event of the policy" + (f"; {close}" if close else ""),
                "E752",
            )
            continue
        assert isinstance(kind, str)
        at = load.rule(spec.get("at"), (*key, "at"), INSTANT)
        fields = {}
        for field_name, field_spec in load.table(spec.get("fields", {}), (*key, "fields")).items():
            field_key = (*key, "fields", field_name)
            field_info = info.fields.get(field_name)
            if field_info is None:
                load.add(field_key, f"event `{kind}` has no field `{field_name}`", "E752")
                continue
            rule = load.rule(field_spec, field_key, field_info.type)
            if rule is not None:
                fields[field_name] = rule
        if at is not None:
            events.append(EventRule(kind, at, fields))
    return events


__all__ = [
    "TRUTH_INSTANTS",
    "TRUTH_KEYS",
    "ColumnRule",
    "EventRule",
    "Mapping",
    "MappingError",
    "key_lines",
    "load_mapping",
]
