"""Accounts (SPEC §9): the accounts file, and leads grouped by account.

A policy with account fields or account scores decides a lead together with the
other leads of its account: their events count in account scores, and the
account's fields come from an accounts file (``--accounts FILE``, JSON Lines
``{"id": "A-17", "profile": {...}}``) or from the ``account_profile`` of the
account's leads. Two different profiles for one account — two leads, or a
lead and the accounts file — reject the later lead, naming both places.

Grouping keeps the input streaming where it can (docs/accounts.md): a JSON
Lines journey file is first read once for its account ids alone (the index:
the last line of each account), then the leads are read and each one is
decided as soon as the last line of its account has been read. A file sorted
(or grouped) by account is therefore decided lead by lead, holding one
account at a time; a file that is not holds each account's leads from its
first line to its last. Decisions keep the input order either way. Standard
input and CSV tables cannot be read twice: their leads are held until the end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import orjson

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.runtime import Lead
from mqldsl.io.csvrows import open_input
from mqldsl.io.journeys import (
    ReadReport,
    json_problem,
    record_id,
    record_values,
    remaining_lines,
)
from mqldsl.io.values import RecordError, id_problem, show


@dataclass(frozen=True)
class AccountRecord:
    """One account of the accounts file: its fields and where they were read."""

    profile: Mapping[str, Any]
    place: str  # "accounts.jsonl line 7"
    # The line was rejected (its problem is in the report): the account's leads are rejected
    # with it (E716), since deciding them without its fields could give the wrong stage.
    rejected: bool = False


def read_accounts(
    path: str | Path, model: CheckedPolicy, report: ReadReport
) -> dict[str, AccountRecord]:
    """The accounts of an accounts file (JSON Lines, ``{"id", "profile"}`` a line), checked
    against the policy's account fields; a bad line is a rejected record in ``report``, and
    is counted as read there too (a record of its own, like an events row of no lead), so
    the summary's counts add up: read = used + rejected."""
    name = str(path)
    accounts: dict[str, AccountRecord] = {}
    with open_input(path) as stream:
        for number, line in enumerate(stream, start=1):
            if report.full:  # --max-errors: the journeys are not read either
                report.stop(remaining_lines(stream, line))
                break
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            if not line.strip():
                continue
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                reason, column = json_problem(exc, line)
                report.read += 1
                report.reject(name, number, reason, "E701", column)
                continue
            place = f"{name} line {number}"
            try:
                account_id, profile = _account(raw, model, report)
            except RecordError as exc:
                report.read += 1
                report.reject(name, number, str(exc), exc.code)
                known = record_id(raw)  # (the same ids as a journey line's)
                if known is not None and known not in accounts:
                    accounts[known] = AccountRecord({}, place, rejected=True)
                continue
            if account_id in accounts:
                first = accounts[account_id]
                if not first.rejected and dict(first.profile) == profile:
                    continue  # the same account again, word for word: nothing to choose
                report.read += 1
                report.reject(
                    name,
                    number,
                    f"account `{account_id}` is given twice (first at {first.place}"
                    + (
                        ", rejected above)"
                        if first.rejected
                        else f"): {_difference(first.profile, profile)}"
                    ),
                    "E704",
                )
                # Two profiles: which is the account's is not known, so its leads are
                # rejected with it (E716), as for a line rejected outright (SPEC §9).
                accounts[account_id] = AccountRecord(
                    {}, f"{first.place} and line {number}", rejected=True
                )
                continue
            accounts[account_id] = AccountRecord(profile, place)
    return accounts


def _difference(first: Mapping[str, Any], second: Mapping[str, Any]) -> str:
    """The first field (in name order) two profiles of one account disagree on, in words."""
    for key in sorted(set(first) | set(second)):
        if key not in second:
            return f"`{key}` is {show(first[key])} there and missing here"
        if key not in first:
            return f"`{key}` is missing there and {show(second[key])} here"
        if first[key] != second[key]:
            return f"`{key}` is {show(first[key])} there and {show(second[key])} here"
    return "they differ"


_ACCOUNT_KEYS = ("id", "profile")


def _account(raw: Any, model: CheckedPolicy, report: ReadReport) -> tuple[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise RecordError('an accounts line must be a JSON object {"id": ..., "profile": {...}}')
    account_id = record_id(raw)
    if account_id is None:
        raise RecordError(id_problem(raw), "E703")
    for key in raw:
        if key not in _ACCOUNT_KEYS:
            raise RecordError(
                f"unknown key `{key}` in an accounts line: the keys are `id` and `profile`",
                "E705",
            )
    profile = raw.get("profile", {})
    if profile is None:
        profile = {}
    if not isinstance(profile, dict):
        raise RecordError(f'"profile" must be an object, got {show(profile)}', "E705")
    values = record_values(
        profile, model.account_fields, report.unknown_account_fields, "account field"
    )
    return account_id, values


def index_accounts(path: str | Path) -> dict[str, int] | None:
    """The last line of each account in a JSON Lines journey file (a quick pass that reads
    only the `account` keys); None for standard input or a pipe (it cannot be read twice:
    its leads are then held to the end). Lines that cannot be read are skipped here: the
    real pass reports them."""
    if str(path) == "-" or not Path(path).is_file():
        return None
    last: dict[str, int] = {}
    with open_input(path) as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                raw = orjson.loads(line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(raw, dict):
                account = raw.get("account")
                if (
                    isinstance(account, str | int)
                    and not isinstance(account, bool)
                    and account != ""
                ):
                    last[str(account)] = number
    return last


class AccountGrouper:
    """Gives each lead its colleagues and its account's fields (SPEC §9), in input order.

    Feed it the leads as they are read, each with its line; :meth:`ready` yields the
    leads whose accounts are complete. ``last`` is the index of :func:`index_accounts`
    (None: nothing is complete before :meth:`finish`)."""

    def __init__(
        self,
        file: str,
        report: ReadReport,
        accounts: Mapping[str, AccountRecord] | None = None,
        last: Mapping[str, int] | None = None,
    ) -> None:
        self.file = file
        self.report = report
        self.accounts = accounts or {}
        self.last = last
        self._pending: deque[tuple[Lead, int]] = deque()
        self._members: dict[str, list[tuple[Lead, int]]] = {}
        self._resolved: dict[int, Lead] = {}  # held leads of settled accounts, by id()
        self._line = 0

    def add(self, lead: Lead, line: int) -> None:
        self._line = max(self._line, line)
        self._pending.append((lead, line))
        if lead.account is not None:
            self._members.setdefault(lead.account, []).append((lead, line))

    def ready(self) -> Iterator[tuple[Lead, int]]:
        """The leads at the head of the input whose accounts have been read in full, each
        with its line."""
        if self.last is None:
            return
        while self._pending:
            lead, _ = self._pending[0]
            account = lead.account
            if account is not None and self.last.get(account, 0) > self._line:
                return
            yield from self._release()

    def finish(self) -> Iterator[tuple[Lead, int]]:
        """Every lead still held (the input has ended), each with its line."""
        while self._pending:
            yield from self._release()

    def _release(self) -> Iterator[tuple[Lead, int]]:
        lead, line = self._pending.popleft()
        account = lead.account
        if account is None:
            yield lead, line
            return
        if account in self._members:
            self._resolve(account)
        decided = self._resolved.pop(id(lead), None)
        if decided is not None:
            yield decided, line
        # A lead whose account profile disagreed has been rejected: nothing to yield.

    def _resolve(self, account: str) -> None:
        """Settle one account: its profile, its members, each member with its colleagues."""
        members = self._members.pop(account)
        resolved, rejected = resolve_account(
            account, members, self.accounts.get(account), self.file
        )
        for line, message, code, hint in rejected:
            self.report.reject(self.file, line, message, code, hint=hint)
        for original, lead, _ in resolved:
            self._resolved[id(original)] = lead
        for lead, line in members:  # (so that `explain --lead` can say the line was rejected)
            if id(lead) not in self._resolved:
                self.report.rejected_lead(lead.id, line)


Rejection = tuple[int, str, str, str]  # line, message, code, hint


def lost_account(account: str, record: AccountRecord) -> tuple[str, str]:
    """E716's message and hint for a lead of ``account``, whose accounts line was rejected
    (or given twice with two profiles)."""
    return (
        f"its account `{account}` was rejected at {record.place}: deciding it without its "
        "account's fields could give the wrong stage",
        "correct the account's line in the accounts file",
    )


def resolve_account(
    account: str,
    members: Sequence[tuple[Lead, int]],
    record: AccountRecord | None,
    file: str,
) -> tuple[list[tuple[Lead, Lead, int]], list[Rejection]]:
    """One account settled (SPEC §9): its profile (the accounts file's ``record``, or its
    leads' where they agree) and each member with that profile and its colleagues.
    ``members`` are the account's leads with their lines, in input order. Returns each
    kept member (as given, resolved, its line) and the rejected ones (E715)."""
    if record is not None and record.rejected:
        lost, hint = lost_account(account, record)
        return [], [(line, lost, "E716", hint) for _, line in members]
    # An empty profile (in the accounts file or on a lead) says nothing: no conflict.
    profile: Mapping[str, Any] | None = record.profile if record and record.profile else None
    place = record.place if record is not None else None
    kept: list[tuple[Lead, int]] = []
    rejected: list[Rejection] = []
    for lead, line in members:
        given = lead.account_profile
        if given:
            if profile is None:
                profile, place = given, f"{file} line {line}"
            elif dict(given) != dict(profile):
                rejected.append(
                    (
                        line,
                        f"account `{account}`: this lead's account_profile differs from the one "
                        f"at {place} ({_difference(profile, given)})",
                        "E715",
                        "give one profile per account (or leave it to the accounts file)",
                    )
                )
                continue
        kept.append((lead, line))
    final = dict(profile or {})
    resolved = []
    for lead, line in kept:
        colleagues = tuple(
            msgspec.structs.replace(other, account_profile=final)
            for other, _ in kept
            if other is not lead
        )
        resolved.append(
            (
                lead,
                msgspec.structs.replace(lead, account_profile=final, colleagues=colleagues),
                line,
            )
        )
    return resolved, rejected


def grouped(
    leads: Iterator[tuple[Lead, int]],
    file: str,
    report: ReadReport,
    accounts: Mapping[str, AccountRecord] | None,
    last: Mapping[str, int] | None,
) -> Iterator[tuple[Lead, int]]:
    """The leads of ``leads`` (each with its line) with their colleagues and account fields,
    in input order, each with its line (see :class:`AccountGrouper`)."""
    grouper = AccountGrouper(file, report, accounts, last)
    for lead, line in leads:
        grouper.add(lead, line)
        yield from grouper.ready()
    yield from grouper.finish()
