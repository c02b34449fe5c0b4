"""Reading lead journeys (SPEC §12) and validating them against a policy.

JSON Lines, one lead a line::

    {"id": "L-1", "account": "A-17", "profile": {"role": "secops"},
     "events": [{"type": "page_view", "at": "2026-10-30T12:00:00Z", "path": "/pricing"}],
     "truth": {"buyer": true}}

or CSV: a leads table (``id``, optional ``account``, one column per profile
field) and an events table (``lead_id``, ``type``, ``at``, one column per
event field). Every record read is either turned into a :class:`Lead` or
counted as rejected with its line number and reason; unknown event types and
unknown fields are counted and reported once each. Nothing is dropped
silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mqldsl.analysis.model import CheckedPolicy, FieldInfo
from mqldsl.analysis.types import Type
from mqldsl.engine.runtime import Event, Lead, parse_instant
from mqldsl.io.problems import Problem


class RecordError(ValueError):
    """A record that cannot be used; the message says why."""


@dataclass
class ReadReport:
    """What reading a journey file found besides good leads."""

    read: int = 0
    rejected: list[Problem] = field(default_factory=list)  # the first `keep` of them
    rejected_count: int = 0
    unknown_event_types: Counter[str] = field(default_factory=Counter)
    unknown_fields: Counter[str] = field(default_factory=Counter)
    unknown_event_fields: Counter[str] = field(default_factory=Counter)
    events_after_as_of: int = 0
    keep: int = 200  # how many rejected lines to keep with their reasons
    limit: int | None = None  # stop reading after this many rejected records

    @property
    def full(self) -> bool:
        return self.limit is not None and self.rejected_count >= self.limit

    def reject(
        self,
        file: str,
        line: int,
        reason: str,
        code: str = "E700",
        column: int = 0,
        hint: str | None = None,
    ) -> None:
        """Count one rejected record, and keep its problem (the first ``keep`` of them)."""
        self.rejected_count += 1
        if len(self.rejected) < self.keep:
            self.rejected.append(Problem(file, line, reason, code, column, hint))

    def notes(self) -> list[str]:
        """One line per kind of ignored data, for the summary."""
        lines = []
        for kind, counter in (
            ("unknown event type", self.unknown_event_types),
            ("unknown profile field", self.unknown_fields),
            ("unknown event field", self.unknown_event_fields),
        ):
            for name, count in sorted(counter.items()):
                lines.append(f"ignored {kind} `{name}`: {count} time{'s' if count != 1 else ''}")
        return lines


# ---------------------------------------------------------------- values


def convert(value: Any, kind: Type) -> Any:
    """A JSON (or CSV text) value as the runtime value of a declared type."""
    k = kind.kind
    if k == "int":
        if isinstance(value, bool):
            raise RecordError("expected a whole number, got true/false")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise RecordError(f"expected a whole number, got {_show(value)}")
    if k == "number":
        if isinstance(value, bool):
            raise RecordError("expected a number, got true/false")
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                pass
            else:
                return int(number) if number.is_integer() and "." not in value else number
        raise RecordError(f"expected a number, got {_show(value)}")
    if k == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise RecordError(f"expected true or false, got {_show(value)}")
    if k == "text":
        if isinstance(value, str):
            return value
        raise RecordError(f"expected text, got {_show(value)}")
    if k == "date":
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise RecordError(f"expected a date such as 2026-12-01, got {_show(value)}")
    if k == "enum":
        if isinstance(value, str) and value in kind.members:
            return value
        raise RecordError(f"{_show(value)} is not one of {', '.join(kind.members)}")
    if k == "set":
        items = value
        if isinstance(value, str):
            items = [part.strip() for part in value.split(";") if part.strip()]
        if not isinstance(items, list):
            raise RecordError(f"expected a list, got {_show(value)}")
        element = kind.element
        assert element is not None
        return frozenset(convert(item, element) for item in items)
    raise RecordError(f"unsupported type {kind}")  # pragma: no cover


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _record(
    raw: Mapping[str, Any], fields: Mapping[str, FieldInfo], unknown: Counter[str], where: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in raw.items():
        info = fields.get(name)
        if info is None:
            unknown[name] += 1
            continue
        if value is None or value == "":
            continue  # missing
        try:
            values[name] = convert(value, info.type)
        except RecordError as exc:
            raise RecordError(f"{where} `{name}`: {exc}") from None
    return values


# ---------------------------------------------------------------- truth

# The dated outcomes a journey's truth may carry (SPEC §12, docs/reports.md):
# when the lead was created, became sales qualified, was won, and when a
# (simulated) buyer's window closed. Each is an instant, or null.
TRUTH_INSTANTS = ("created_at", "sql_at", "won_at", "window_closes")


def _check_truth(truth: Any) -> None:
    """RecordError for a truth that the metrics could not read: not an
    object, a `buyer` that is not true/false, or a date that is not an
    instant (the metrics would otherwise ignore it without a word)."""
    if not isinstance(truth, dict):
        raise RecordError('"truth" must be an object')
    buyer = truth.get("buyer")
    if buyer is not None and not isinstance(buyer, bool):
        raise RecordError(f'"truth.buyer": expected true or false, got {_show(buyer)}')
    for key in TRUTH_INSTANTS:
        value = truth.get(key)
        if value is None:
            continue
        try:
            parse_instant(value)
        except ValueError as exc:
            raise RecordError(f'"truth.{key}": {exc}') from None


# ---------------------------------------------------------------- JSON Lines


class JourneyReader:
    """Validates journeys against a checked policy's schema."""

    def __init__(
        self,
        model: CheckedPolicy,
        report: ReadReport | None = None,
        check_duplicates: bool = True,
    ) -> None:
        """``check_duplicates=False`` leaves duplicate ids to the caller (the
        parallel scorer checks them across chunks)."""
        self.model = model
        self.report = report or ReadReport()
        self.check_duplicates = check_duplicates
        self._seen: set[str] = set()

    def lead(self, raw: Any, *, where: str = "") -> Lead:
        """A lead from one decoded JSON object; RecordError if it is unusable."""
        if not isinstance(raw, dict):
            raise RecordError("a journey line must be a JSON object")
        lead_id = raw.get("id")
        if isinstance(lead_id, bool) or not isinstance(lead_id, str | int) or lead_id == "":
            raise RecordError('missing "id" (a string)')
        lead_id = str(lead_id)
        if lead_id in self._seen:
            raise RecordError(f"duplicate id `{lead_id}`")
        profile_raw = raw.get("profile", {})
        if profile_raw is None:
            profile_raw = {}
        if not isinstance(profile_raw, dict):
            raise RecordError('"profile" must be an object')
        profile = _record(
            profile_raw, self.model.fields, self.report.unknown_fields, "profile field"
        )
        account_raw = raw.get("account_profile", {}) or {}
        if not isinstance(account_raw, dict):
            raise RecordError('"account_profile" must be an object')
        account_profile = _record(
            account_raw, self.model.account_fields, self.report.unknown_fields, "account field"
        )
        events_raw = raw.get("events", [])
        if events_raw is None:
            events_raw = []
        if not isinstance(events_raw, list):
            raise RecordError('"events" must be a list')
        events = []
        for position, item in enumerate(events_raw):
            event = self.event(item, position)
            if event is not None:
                events.append(event)
        events.sort(key=lambda e: e.at)
        account = raw.get("account")
        truth = raw.get("truth")
        if truth is not None:
            _check_truth(truth)
        if self.check_duplicates:
            self._seen.add(lead_id)
        return Lead(
            id=lead_id,
            profile=profile,
            events=tuple(events),
            account=str(account) if account is not None else None,
            account_profile=account_profile,
            truth=truth,
        )

    def event(self, item: Any, position: int) -> Event | None:
        if not isinstance(item, dict):
            raise RecordError(f"event {position + 1} is not an object")
        kind = item.get("type")
        if not isinstance(kind, str):
            raise RecordError(f'event {position + 1} has no "type"')
        try:
            at = parse_instant(item.get("at"))  # type: ignore[arg-type]
        except ValueError as exc:
            raise RecordError(f'event {position + 1} ({kind}): "at": {exc}') from None
        info = self.model.events.get(kind)
        if info is None:
            self.report.unknown_event_types[kind] += 1
            return None
        raw_fields = {k: v for k, v in item.items() if k not in ("type", "at")}
        fields = _record(
            raw_fields,
            info.fields,
            self.report.unknown_event_fields,
            f"event {position + 1} ({kind}) field",
        )
        return Event(at=at, type=kind, fields=fields, index=position)

    def read_jsonl(self, path: str | Path) -> Iterator[Lead]:
        """Good leads, in input order; bad lines go to the report."""
        name = str(path)
        with open(path, "rb") as stream:
            for number, line in enumerate(stream, start=1):
                if self.report.full:
                    return
                if not line.strip():
                    continue
                self.report.read += 1
                try:
                    raw = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    self.report.reject(name, number, f"invalid JSON: {_json_reason(exc)}")
                    continue
                try:
                    yield self.lead(raw)
                except RecordError as exc:
                    self.report.reject(name, number, str(exc))

    def read_csv(self, leads: str | Path, events: str | Path | None) -> Iterator[Lead]:
        """Leads from a leads table and an events table (CRM exports)."""
        grouped: dict[str, list[tuple[int, dict[str, str]]]] = {}
        events_name = str(events) if events is not None else ""
        bad_events: dict[str, tuple[int, str]] = {}
        if events is not None:
            with open(events, newline="", encoding="utf-8-sig") as stream:
                reader = csv.DictReader(stream)
                missing = {"lead_id", "type", "at"} - set(reader.fieldnames or ())
                if missing:
                    raise RecordError(
                        f"{events_name}: the events table needs the columns lead_id, type and at "
                        f"(missing: {', '.join(sorted(missing))})"
                    )
                for row in reader:
                    line = reader.line_num
                    if None in row:
                        bad_events.setdefault(row.get("lead_id") or "", (line, "too many columns"))
                        continue
                    grouped.setdefault(row["lead_id"], []).append((line, row))
        name = str(leads)
        with open(leads, newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            if "id" not in (reader.fieldnames or ()):
                raise RecordError(f"{name}: the leads table needs an `id` column")
            for row in reader:
                if self.report.full:
                    return
                line = reader.line_num
                self.report.read += 1
                if None in row:
                    self.report.reject(name, line, "more values than columns")
                    continue
                lead_id = row.get("id") or ""
                if lead_id in bad_events:
                    event_line, reason = bad_events[lead_id]
                    self.report.reject(name, line, f"{events_name}:{event_line}: {reason}")
                    continue
                profile = {k: v for k, v in row.items() if k not in ("id", "account")}
                raw_events = []
                for event_line, event_row in grouped.pop(lead_id, []):
                    item: dict[str, Any] = {
                        k: v for k, v in event_row.items() if k != "lead_id" and v != ""
                    }
                    item["_line"] = event_line
                    raw_events.append(item)
                try:
                    yield self._csv_lead(
                        lead_id, row.get("account"), profile, raw_events, events_name
                    )
                except RecordError as exc:
                    self.report.reject(name, line, str(exc))
        for lead_id, rows in sorted(grouped.items()):
            for line, _ in rows:
                self.report.reject(events_name, line, f"no lead with id `{lead_id}`")

    def _csv_lead(
        self,
        lead_id: str,
        account: str | None,
        profile: dict[str, str],
        raw_events: list[dict[str, Any]],
        events_name: str,
    ) -> Lead:
        events = []
        for item in raw_events:
            line = item.pop("_line")
            try:
                event = self.event(item, 0)
            except RecordError as exc:
                raise RecordError(f"{events_name}:{line}: {exc}") from None
            if event is not None:
                events.append(event)
        if not lead_id:
            raise RecordError("empty id")
        if lead_id in self._seen:
            raise RecordError(f"duplicate id `{lead_id}`")
        values = _record(profile, self.model.fields, self.report.unknown_fields, "profile field")
        events.sort(key=lambda e: e.at)
        self._seen.add(lead_id)
        return Lead(id=lead_id, profile=values, events=tuple(events), account=account or None)


def _json_reason(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    return text[:120]
