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

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from mqldsl.analysis.model import CheckedPolicy, FieldInfo
from mqldsl.engine.fused import DecodedSchema
from mqldsl.engine.runtime import Event, Lead
from mqldsl.io.csvrows import Bad, CsvTable, Row, open_input
from mqldsl.io.errors import UsageProblem
from mqldsl.io.fastdecode import FastDecoder
from mqldsl.io.problems import Problem
from mqldsl.io.values import TRUTH_KEYS, RecordError, convert, id_problem, instant, show
from mqldsl.language.suggestions import did_you_mean

# A lead as engine/fused.py's function reads it: see FastDecoder.parts.
Parts = tuple[Lead, Any, list[Any], list[float]]

#: The top-level keys of a journey line (SPEC §12); any other is counted and reported.
JOURNEY_KEYS = ("id", "account", "profile", "account_profile", "events", "truth")


@dataclass
class ReadReport:
    """What reading a journey file found besides good leads."""

    read: int = 0
    rejected: list[Problem] = field(default_factory=list)  # the first `keep` of them
    rejected_count: int = 0
    unknown_event_types: Counter[str] = field(default_factory=Counter)
    unknown_fields: Counter[str] = field(default_factory=Counter)
    unknown_event_fields: Counter[str] = field(default_factory=Counter)
    unknown_keys: Counter[str] = field(default_factory=Counter)  # top-level keys of a line
    unknown_truth_keys: Counter[str] = field(default_factory=Counter)  # keys of a `truth`
    # (an accounts file's profiles, a lead's account_profile: fields the policy's `account`
    # block does not declare)
    unknown_account_fields: Counter[str] = field(default_factory=Counter)
    # A leads table read without its events table (`--events`): said, since a forgotten
    # option decides every lead on its profile alone.
    without_events: str | None = None
    # The `account_profile`s of lines without an account, not read (SPEC §9: a lead without an
    # account has no account fields); one key, "", counted
    lone_profiles: Counter[str] = field(default_factory=Counter)
    keep: int = 200  # how many rejected lines to keep with their reasons
    limit: int | None = None  # stop reading after this many rejected records
    not_read: int | None = None  # lines left unread when the limit stopped reading (-1: unknown)
    # The ids of the kept rejected JSON Lines records that had one, with their lines (so that
    # `explain --lead ID` can say that the lead's own line was rejected)
    rejected_ids: dict[str, int] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return self.limit is not None and self.rejected_count >= self.limit

    def stop(self, left: int) -> None:
        """The limit stopped reading a file with ``left`` lines unread (-1: unknown); added
        to the lines left unread in the files stopped before it (an accounts file, SPEC §9)."""
        if self.not_read is None:
            self.not_read = left
        elif self.not_read < 0 or left < 0:
            self.not_read = -1
        else:
            self.not_read += left

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

    def in_order(self) -> list[Problem]:
        """The problems kept, each file's in line order (the files in the order their first
        problem came): a lead rejected when its account was settled (E715, E716) is found
        after the lines read since, but is told at its own line."""
        files = list(dict.fromkeys(problem.file for problem in self.rejected))
        return sorted(self.rejected, key=lambda problem: (files.index(problem.file), problem.line))

    def rejected_lead(self, lead_id: str | None, line: int) -> None:
        """Note that the record of ``lead_id`` at ``line`` was rejected (the first ``keep``
        of them), so that `explain --lead` can say so instead of "no lead with id"."""
        if lead_id is not None and len(self.rejected_ids) < self.keep:
            self.rejected_ids.setdefault(lead_id, line)

    def add(self, problem: Problem) -> None:
        """Count one rejected record with its problem."""
        self.rejected_count += 1
        if len(self.rejected) < self.keep:
            self.rejected.append(problem)

    def ignored(self) -> list[dict[str, int]] | None:
        """What was ignored (unknown event types, profile fields, event fields, keys), as
        plain counts for another process; None for nothing."""
        counters = self._ignored_counters()
        return [dict(counter) for counter in counters] if any(counters) else None

    def add_ignored(self, counts: list[dict[str, int]]) -> None:
        """Add what another reading ignored (:meth:`ignored`)."""
        for counter, added in zip(self._ignored_counters(), counts, strict=True):
            counter.update(added)

    def clear_ignored(self) -> None:
        for counter in self._ignored_counters():
            counter.clear()

    def _ignored_counters(self) -> tuple[Counter[str], ...]:
        return (
            self.unknown_event_types,
            self.unknown_fields,
            self.unknown_event_fields,
            self.unknown_keys,
            self.lone_profiles,
            self.unknown_truth_keys,
            self.unknown_account_fields,
        )

    def notes(self) -> list[str]:
        """One line per kind of ignored data, for the summary."""
        lines = []
        for name, count in sorted(self.unknown_keys.items()):
            hint = did_you_mean(name, JOURNEY_KEYS)
            lines.append(
                f"ignored unknown key `{_printable(name)}` in journey lines: {count} "
                f"time{'s' if count != 1 else ''}" + (f" ({hint})" if hint else "")
            )
        if self.without_events is not None:
            lines.append(
                f"no events table was given with the leads table {self.without_events} "
                "(--events EVENTS.csv): every lead is decided on its profile alone"
            )
        for name, count in sorted(self.unknown_truth_keys.items()):
            hint = did_you_mean(name, TRUTH_KEYS)
            lines.append(
                f"ignored unknown key `{_printable(name)}` in truth: {count} "
                f"time{'s' if count != 1 else ''}" + (f" ({hint})" if hint else "")
            )
        if count := self.lone_profiles[""]:
            lines.append(
                "ignored the account_profile of a lead without an account (SPEC §9: it has no "
                f"account fields): {count} time{'s' if count != 1 else ''}"
            )
        for kind, counter in (
            ("unknown event type", self.unknown_event_types),
            ("unknown profile field", self.unknown_fields),
            ("unknown account field", self.unknown_account_fields),
            ("unknown event field", self.unknown_event_fields),
        ):
            for name, count in sorted(counter.items()):
                lines.append(
                    f"ignored {kind} `{_printable(name)}`: {count} time{'s' if count != 1 else ''}"
                )
        return lines


def _printable(name: str) -> str:
    """``name`` as the terminal can show it: control characters escaped as JSON does."""
    return name if name.isprintable() else json.dumps(name, ensure_ascii=False)[1:-1]


def record_values(
    raw: Mapping[str, Any],
    fields: Mapping[str, FieldInfo],
    unknown: Counter[str],
    where: str,
    code: str = "E705",
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
            raise RecordError(f"{where} `{name}`: {exc}", code) from None
    return values


# ---------------------------------------------------------------- truth

# The dated outcomes a journey's truth may carry (SPEC §12, docs/reports.md):
# when the lead was created, became sales qualified, was won, and when a
# (simulated) buyer's window closed. Each is an instant, or null.
TRUTH_INSTANTS = ("created_at", "sql_at", "won_at", "window_closes")


def unknown_truth_keys(truth: dict[str, Any]) -> list[str]:
    """The keys of ``truth`` that nothing reads (a misspelt `sql_date` would be lost)."""
    return [key for key in truth if key not in TRUTH_KEYS]


def check_truth(truth: Any) -> None:
    """RecordError for a truth that the metrics could not read: not an
    object, a `buyer` that is not true/false, or a date that is not an
    instant (the metrics would otherwise ignore it without a word)."""
    if not isinstance(truth, dict):
        raise RecordError('"truth" must be an object', "E707")
    buyer = truth.get("buyer")
    if buyer is not None and not isinstance(buyer, bool):
        raise RecordError(f'"truth.buyer": expected true or false, got {show(buyer)}', "E707")
    for key in TRUTH_INSTANTS:
        value = truth.get(key)
        if value is None:
            continue
        try:
            instant(value)
        except ValueError as exc:
            raise RecordError(f'"truth.{key}": {exc}', "E707") from None


# ---------------------------------------------------------------- JSON Lines


class JourneyReader:
    """Validates journeys against a checked policy's schema."""

    def __init__(
        self,
        model: CheckedPolicy,
        report: ReadReport | None = None,
        check_duplicates: bool = True,
        fast: bool = True,
    ) -> None:
        """``check_duplicates=False`` leaves duplicate ids to the caller (the
        parallel scorer checks them across chunks). ``fast=False`` reads every JSON Lines
        journey with the validator alone (the fast path gives the same leads, messages and
        counts: docs/robustness.md)."""
        self.model = model
        self.report = report or ReadReport()
        self.check_duplicates = check_duplicates
        self._seen: set[str] = set()
        self._fast = FastDecoder.build(model, check_truth) if fast else None
        self.line = 0  # the line of the lead last yielded (of the leads table for a CSV)

    def decoded(self, line: bytes) -> Lead | None:
        """The lead on a JSON Lines ``line`` read by the fast path (typed decoding), or None:
        the line is for :meth:`lead` (after ``orjson.loads``), which gives the lead, or the
        rejection with its message and code, and counts what it ignores."""
        if self._fast is None:
            return None
        lead = self._fast.lead(line, self._seen)
        if lead is not None and self.check_duplicates:
            self._seen.add(lead.id)
        return lead

    def lead(self, raw: Any, *, where: str = "") -> Lead:
        """A lead from one decoded JSON object; RecordError if it is unusable."""
        if not isinstance(raw, dict):
            raise RecordError("a journey line must be a JSON object", "E701")
        lead_id = record_id(raw)
        if lead_id is None:
            raise RecordError(id_problem(raw), "E703")
        if lead_id in self._seen:
            raise RecordError(f"duplicate id `{lead_id}`", "E704")
        for key in raw:
            if key not in JOURNEY_KEYS:
                self.report.unknown_keys[str(key)] += 1
        profile_raw = raw.get("profile", {})
        if profile_raw is None:
            profile_raw = {}
        if not isinstance(profile_raw, dict):
            raise RecordError('"profile" must be an object', "E705")
        profile = record_values(
            profile_raw, self.model.fields, self.report.unknown_fields, "profile field"
        )
        account_raw = raw.get("account_profile", {}) or {}
        if not isinstance(account_raw, dict):
            raise RecordError('"account_profile" must be an object', "E705")
        account_profile = record_values(
            account_raw,
            self.model.account_fields,
            self.report.unknown_account_fields,
            "account field",
        )
        events_raw = raw.get("events", [])
        if events_raw is None:
            events_raw = []
        if not isinstance(events_raw, list):
            raise RecordError('"events" must be a list', "E706")
        events = []
        for position, item in enumerate(events_raw):
            event = self.event(item, position)
            if event is not None:
                events.append(event)
        events.sort(key=lambda e: e.at)
        account = raw.get("account")
        if account is not None and (
            isinstance(account, bool) or not isinstance(account, str | int)
        ):
            raise RecordError(f'"account" must be an id (a string), got {show(account)}', "E705")
        truth = raw.get("truth")
        if truth is not None:
            check_truth(truth)
            self.report.unknown_truth_keys.update(unknown_truth_keys(truth))
        if (account is None or account == "") and account_profile:
            self.report.lone_profiles[""] += 1  # (SPEC §9: no account, no account fields)
            account_profile = {}
        if self.check_duplicates:
            self._seen.add(lead_id)
        return Lead(
            id=lead_id,
            profile=profile,
            events=tuple(events),
            # (an empty account is none, as an empty cell of a leads table: SPEC §9)
            account=str(account) if account is not None and account != "" else None,
            account_profile=account_profile,
            truth=truth,
        )

    def event(self, item: Any, position: int) -> Event | None:
        if not isinstance(item, dict):
            raise RecordError(f"event {position + 1} is not an object", "E706")
        kind = item.get("type")
        if not isinstance(kind, str):
            if "type" in item:
                message = f'event {position + 1}: "type" must be text, got {show(kind)}'
                raise RecordError(message, "E706")
            raise RecordError(f'event {position + 1} has no "type"', "E706")
        info = self.model.events.get(kind)
        if info is None:  # counted and ignored (SPEC §12), whatever else it holds
            self.report.unknown_event_types[kind] += 1
            return None
        try:
            at = instant(item.get("at"))
        except ValueError as exc:
            raise RecordError(f'event {position + 1} ({kind}): "at": {exc}', "E706") from None
        raw_fields = {k: v for k, v in item.items() if k not in ("type", "at")}
        fields = record_values(
            raw_fields,
            info.fields,
            self.report.unknown_event_fields,
            f"event {position + 1} ({kind}) field",
            "E706",
        )
        return Event(at=at, type=kind, fields=fields, index=position)

    @property
    def schema(self) -> DecodedSchema | None:
        """How the typed decoder's records look (for engine/fused.py), or None when this
        reader has no typed decoder."""
        return None if self._fast is None else self._fast.schema

    def parts(self, line: bytes) -> Parts | None:
        """What engine/fused.py's function reads of a JSON Lines ``line`` (see
        ``FastDecoder.parts``), or None: :meth:`decoded` reads the line."""
        if self._fast is None:
            return None
        parts = self._fast.parts(line, self._seen)
        if parts is not None and self.check_duplicates:
            self._seen.add(parts[0].id)
        return parts

    def whole(self, parts: Parts) -> Lead:
        """The whole lead of what :meth:`read_parts` or :meth:`parts` gave (see
        ``FastDecoder.whole``)."""
        assert self._fast is not None
        return self._fast.whole(parts)

    def read_jsonl(self, path: str | Path) -> Iterator[Lead]:
        """Good leads, in input order; bad lines go to the report."""
        return self._read_jsonl(path, None)  # type: ignore[return-value]  # (no parts)

    def read_parts(self, path: str | Path) -> Iterator[Lead | Parts]:
        """:meth:`read_jsonl`, each lead the typed decoder reads for engine/fused.py given as
        :meth:`FastDecoder.parts <mqldsl.io.fastdecode.FastDecoder.parts>` gives it (a
        tuple), the others as leads."""
        fast = self._fast
        return self._read_jsonl(path, None if fast is None else fast.parts)

    def _read_jsonl(
        self, path: str | Path, parts: Callable[[bytes, set[str]], Parts | None] | None
    ) -> Iterator[Lead | Parts]:
        name = str(path)
        decoded = self.decoded
        seen = self._seen
        duplicates = self.check_duplicates
        with open_input(path) as stream:
            for number, line in enumerate(stream, start=1):
                if self.report.full:
                    self.report.stop(remaining_lines(stream, line))
                    return
                if number == 1:
                    line = line.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark
                if not line.strip():
                    continue
                self.report.read += 1
                self.line = number
                if parts is not None:
                    read = parts(line, seen)
                    if read is not None:
                        if duplicates:
                            seen.add(read[0].id)
                        yield read
                        continue
                lead = decoded(line)
                if lead is not None:
                    yield lead
                    continue
                try:
                    raw = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    reason, column = json_problem(exc, line)
                    self.report.reject(name, number, reason, "E701", column)
                    continue
                try:
                    yield self.lead(raw)
                except RecordError as exc:
                    self.report.reject(name, number, str(exc), exc.code)
                    self.report.rejected_lead(record_id(raw), number)

    def read_csv(self, leads: str | Path, events: str | Path | None) -> Iterator[Lead]:
        """Leads from a leads table and an events table (CRM exports). A lead row is one
        record; an events row that cannot be read or names no lead is a record of its own,
        rejected (the lead it names, when it names one, is rejected with it)."""
        grouped: dict[str, list[tuple[int, dict[str, str]]]] = {}
        events_name = str(events) if events is not None else ""
        bad_events: dict[str, Problem] = {}
        report = self.report
        if events is None:
            report.without_events = str(leads)
        else:
            with open_input(events) as stream:
                table = CsvTable(stream, events_name)
                table.require("lead_id", "type", "at", what="events table")
                at = table.columns.index("lead_id")
                for row in table.rows():
                    if isinstance(row, Row):
                        grouped.setdefault(row.cells["lead_id"], []).append((row.line, row.cells))
                        continue
                    report.read += 1
                    report.add(row.problem)
                    if row.cells is not None and at < len(row.cells):
                        bad_events.setdefault(row.cells[at], row.problem)
        name = str(leads)
        with open_input(leads) as stream:
            table = CsvTable(stream, name)
            table.require("id", what="leads table")
            for row in table.rows():
                if report.full:
                    report.stop(1 + table.remaining())
                    return
                report.read += 1
                if isinstance(row, Bad):
                    report.add(row.problem)
                    id_at = table.columns.index("id")
                    if row.cells is not None and id_at < len(row.cells):
                        report.rejected_lead(row.cells[id_at], row.problem.line)
                    continue
                lead_id = row.cells["id"]
                if lead_id in bad_events:
                    grouped.pop(lead_id, None)
                    problem = bad_events[lead_id]
                    report.reject(
                        name,
                        row.line,
                        f"its events row {problem.where} was rejected ({problem.code})",
                        "E712",
                    )
                    report.rejected_lead(lead_id, row.line)
                    continue
                profile = {k: v for k, v in row.cells.items() if k not in ("id", "account")}
                raw_events = []
                for event_line, event_row in grouped.pop(lead_id, []):
                    item: dict[str, Any] = {
                        k: v for k, v in event_row.items() if k != "lead_id" and v != ""
                    }
                    item["_line"] = event_line
                    raw_events.append(item)
                self.line = row.line
                try:
                    yield self._csv_lead(
                        lead_id, row.cells.get("account"), profile, raw_events, events_name
                    )
                except RecordError as exc:
                    report.reject(name, row.line, str(exc), exc.code)
                    report.rejected_lead(lead_id, row.line)
        for lead_id, rows in sorted(grouped.items()):
            for line, _ in rows:
                if report.full:
                    return
                report.read += 1
                report.reject(events_name, line, f"no lead with id `{lead_id}`", "E711")

    def _csv_lead(
        self,
        lead_id: str,
        account: str | None,
        profile: dict[str, str],
        raw_events: list[dict[str, Any]],
        events_name: str,
    ) -> Lead:
        if not lead_id:
            raise RecordError("empty id", "E703")
        if lead_id in self._seen:
            raise RecordError(f"duplicate id `{lead_id}`", "E704")
        events = []
        for item in raw_events:
            line = item.pop("_line")
            try:
                event = self.event(item, 0)
            except RecordError as exc:
                raise RecordError(f"{events_name}:{line}: {exc}", exc.code) from None
            if event is not None:
                events.append(event)
        values = record_values(
            profile, self.model.fields, self.report.unknown_fields, "profile field"
        )
        events.sort(key=lambda e: e.at)
        self._seen.add(lead_id)
        return Lead(id=lead_id, profile=values, events=tuple(events), account=account or None)


def json_problem(exc: orjson.JSONDecodeError, line: bytes) -> tuple[str, int]:
    """The reason and the column of a JSON line that does not parse (the column past the
    end when the line ends too early)."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:  # (orjson says "str is not valid UTF-8: surrogates...")
        return (
            f"the line is not UTF-8 text (byte 0x{line[bad.start]:02x} cannot be decoded): "
            "save the file as UTF-8",
            bad.start + 1,
        )
    column = exc.colno if exc.lineno == 1 else len(line.rstrip(b"\r\n")) + 1
    reason = f"invalid JSON: {exc.msg[:120]}"
    if exc.msg.startswith(("unexpected end of data", "unexpected content after document")):
        reason += " (one lead a line: is this line broken in two, or two lines run together?)"
    return reason, column


def count_line(read: int, used: int, rejected: int) -> str:
    """The count every command that reads records prints: ``N read, N used, N rejected``."""
    return f"{read:,} read, {used:,} used, {rejected:,} rejected"


def check_events_option(journeys: str, events: str | None) -> None:
    """:class:`UsageProblem` for ``--events`` given with a JSON Lines journeys file (its
    events are on each line; the option would be ignored)."""
    if events is not None and Path(journeys).suffix.lower() != ".csv":
        raise UsageProblem(
            f"--events goes with a leads table (JOURNEYS ending in .csv); {journeys} is JSON "
            "Lines, whose events are on each lead's line: leave out --events",
            "--events",
        )


def record_id(raw: Any) -> str | None:
    """The id of a decoded journey line, as text; None when it has none a lead can take (not an
    object, or an id that is missing, empty, or not a string or a whole number: E701, E703)."""
    if not isinstance(raw, dict):
        return None
    lead_id = raw.get("id")
    if isinstance(lead_id, bool) or not isinstance(lead_id, str | int) or lead_id == "":
        return None
    return str(lead_id)


def remaining_lines(stream: BinaryIO, current: bytes) -> int:
    """The lines left in ``stream``, ``current`` (read, not used) included; counted in
    blocks, without decoding."""
    count = 1 if current else 0
    last = b"\n"
    while chunk := stream.read(1 << 20):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


__all__ = [
    "TRUTH_INSTANTS",
    "JourneyReader",
    "ReadReport",
    "RecordError",  # from mqldsl.io.values, where values are read
    "check_events_option",
    "check_truth",
    "count_line",
    "json_problem",
    "record_id",
    "remaining_lines",
]
