"""The account metrics of a run (SPEC §9 "Metrics"), for a policy with account fields or
account scores: MQAs (marketing qualified accounts: accounts with at least one lead at
the MQL stage or beyond) beside MQLs, account-level precision and recall (an account is
a buyer when any of its leads is), and each MQA's entry point (the first of its leads to
reach MQL; ties: input order). A lead without an account is an account of its own.

The records carry their account (:attr:`~mqldsl.simulation.records.LeadRecord.account`);
records without one (a policy without accounts) give no account metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mqldsl.engine.runtime import format_instant
from mqldsl.simulation.records import LeadRecord

DEFINITIONS: dict[str, str] = {
    "accounts": "accounts with at least one lead that existed at the as-of instant "
    "(a lead without an account is an account of its own)",
    "mqas": "marketing qualified accounts: accounts with at least one lead that reached the "
    "MQL stage (or a later one) at any instant up to the as-of instant",
    "buyer_accounts": "accounts that are real buyers: accounts with at least one lead whose "
    "ground truth says it is a real buyer, as known at the as-of instant",
    "mqa_precision": "share of MQAs that are buyer accounts (of the MQAs whose leads have "
    "ground truth)",
    "account_recall": "share of buyer accounts that became an MQA before their buying window "
    "closed (the latest window of their buyer leads; without one, by the as-of instant)",
}
#: The account metrics, in report order (numbers a what-if compares and a gate may name).
NAMES = list(DEFINITIONS)


@dataclass(frozen=True)
class AccountOutcome:
    """One account's part in the account metrics: whether it is an MQA (and its entry
    point, the first of its leads to reach MQL), whether its leads have ground truth,
    whether it is a buyer, and whether it was recalled (an MQA before its window closed)."""

    key: tuple[str, str]
    entry: LeadRecord | None
    known: bool
    buyer: bool
    recalled: bool

    @property
    def mqa(self) -> bool:
        return self.entry is not None


def outcome(key: tuple[str, str], members: Sequence[LeadRecord]) -> AccountOutcome:
    """The outcome of the account ``key`` from its leads' records, in input order."""
    entry = None
    for record in members:  # the earliest handoff; ties: the first in input order
        if record.handoff is None:
            continue
        if entry is None or entry.handoff is None or record.handoff < entry.handoff:
            entry = record
    buyers = [r for r in members if r.buyer]
    closes = [r.window_closes for r in buyers]
    recalled = bool(buyers) and entry is not None
    if recalled and closes and all(c is not None for c in closes):
        assert entry is not None and entry.handoff is not None
        recalled = entry.handoff < max(c for c in closes if c is not None)  # (before it)
    return AccountOutcome(
        key=key,
        entry=entry,
        known=any(r.buyer is not None for r in members),
        buyer=bool(buyers),
        recalled=recalled,
    )


def groups(records: Sequence[LeadRecord]) -> dict[tuple[str, str], list[LeadRecord]]:
    """The records of each account, accounts in the order of their first record."""
    found: dict[tuple[str, str], list[LeadRecord]] = {}
    for record in records:
        assert record.account is not None
        found.setdefault(record.account, []).append(record)
    return found


def outcomes(records: Sequence[LeadRecord]) -> list[AccountOutcome]:
    """Each account's outcome, accounts in the order of their first record."""
    return [outcome(key, members) for key, members in groups(records).items()]


def uses_accounts(records: Sequence[LeadRecord]) -> bool:
    """Whether the records carry accounts (the policy has accounts)."""
    return bool(records) and records[0].account is not None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def account_metrics(records: Sequence[LeadRecord]) -> dict[str, Any]:
    """Every metric of :data:`DEFINITIONS`; the truth-based ones are None without truth."""
    found = outcomes(records)
    with_truth = any(a.known for a in found)
    mqas = [a for a in found if a.mqa]
    buyers = [a for a in found if a.buyer]
    judged = [a for a in mqas if a.known]
    return {
        "accounts": len(found),
        "mqas": len(mqas),
        "buyer_accounts": len(buyers) if with_truth else None,
        "mqa_precision": _share(sum(1 for a in judged if a.buyer), len(judged))
        if with_truth
        else None,
        "account_recall": _share(sum(1 for a in buyers if a.recalled), len(buyers))
        if with_truth
        else None,
    }


def entry_points(records: Sequence[LeadRecord]) -> dict[str, Any]:
    """Each MQA's entry point (the first of its leads to reach MQL; ties: input order):
    how many MQAs each segment (the persona, or the `--segment` field) entered, most
    first, and every MQA with its entry lead and instant, in the order of the accounts'
    first records."""
    found = [a for a in outcomes(records) if a.entry is not None]
    by_segment: dict[str, int] = {}
    rows = []
    for account in found:
        entry = account.entry
        assert entry is not None and entry.handoff is not None
        segment = entry.segment if entry.segment is not None else "(none)"
        by_segment[segment] = by_segment.get(segment, 0) + 1
        kind, name = account.key
        rows.append(
            {
                "account": name if kind == "account" else None,
                "lead": entry.id,
                "at": format_instant(entry.handoff),
                "segment": entry.segment,
            }
        )
    ordered = dict(sorted(by_segment.items(), key=lambda kv: (-kv[1], kv[0])))
    return {"by_segment": ordered, "mqas": rows}


def account_report(records: Sequence[LeadRecord]) -> dict[str, Any] | None:
    """The report's `accounts` section (None without accounts): the MQAs' entry points
    (the account metrics themselves are in `metrics`, their definitions in `definitions`)."""
    if not uses_accounts(records):
        return None
    return {"entry_points": entry_points(records)}


__all__ = [
    "DEFINITIONS",
    "NAMES",
    "AccountOutcome",
    "account_metrics",
    "account_report",
    "entry_points",
    "groups",
    "outcome",
    "outcomes",
    "uses_accounts",
]
