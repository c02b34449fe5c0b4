"""policies/abm.mql decided by hand (issue #19, "Must show").

A small evaluator of the shipped account-based policy, written here from the SPEC alone
(§4 scores, §5 patterns, §6 time, §7 locked stages and recycling, §8 routes, §9 accounts)
with abm.mql's rules hard-coded in plain Python. It uses mqldsl only to generate journeys
(simulations/abm.toml) and to get the decisions under test (`mqldsl score`); nothing of the
engine's evaluators, runtime helpers or checker. Scores are computed exactly (fractions),
rounded to two decimals half away from zero. The documented reading of docs/language.md
("Accounts and buying groups") is followed where the SPEC leaves room: a lead's timeline has
the instants of its colleagues' events, and after a recycle events at or before the recycle
instant (its own and its colleagues') no longer count in anything the lead reads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import orjson
import pytest

from mqldsl import api
from tests.helpers import run

ROOT = Path(__file__).resolve().parent.parent
ABM = ROOT / "policies" / "abm.mql"
SCENARIO = ROOT / "simulations" / "abm.toml"

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
WINDOWS = (14 * DAY, 30 * DAY, 60 * DAY)  # every `within` of abm.mql
STAGES = ("lead", "mql", "sql")
FIT_MIN, INTENT_MIN, GROUP_MIN = 25, 30, 35  # the params' declared values


def _seconds(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _text(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _round2(value: Fraction) -> Fraction:
    """Two decimals, half away from zero (SPEC §4)."""
    sign = -1 if value < 0 else 1
    hundredths = math.floor(abs(value) * 100 + Fraction(1, 2))
    return sign * Fraction(hundredths, 100)


def _clamp(value: Fraction, low: int, high: int) -> Fraction:
    return max(Fraction(low), min(Fraction(high), value))


@dataclass(frozen=True)
class Event:
    at: int
    type: str
    path: str | None


@dataclass
class Contact:
    id: str
    account: str | None
    profile: dict[str, Any]
    events: list[Event]
    colleagues: list[Contact] = field(default_factory=list)  # the account's leads, itself too
    account_profile: dict[str, Any] = field(default_factory=dict)


def _in(event: Event, moment: int, window: int | None, since: int | None) -> bool:
    """The event counts at `moment`: not after it, inside `within window` (half-open,
    SPEC §6; None: ever), and after the recycle instant `since` (SPEC §7)."""
    if event.at > moment or (since is not None and event.at <= since):
        return False
    return window is None or moment - window < event.at


def _fit(lead: Contact) -> Fraction:
    profile, account = lead.profile, lead.account_profile
    points = 0
    if profile.get("role") in ("security", "it"):
        points += 20
    if profile.get("role") == "finance":
        points += 10
    if profile.get("seniority") in ("director", "executive"):
        points += 15
    if profile.get("seniority") == "manager":
        points += 5
    if account.get("target") is True:
        points += 10
    employees = account.get("employees")
    if employees is not None and employees >= 1000:
        points += 10
    if profile.get("email_kind") in ("free", "disposable"):
        points -= 40
    return _round2(_clamp(Fraction(points), 0, 60))


def _decay(event: Event, moment: int) -> Fraction:
    """10% every 7 days by the event's age (SPEC §4)."""
    return Fraction(9, 10) ** ((moment - event.at) // WEEK)


def _intent(lead: Contact, moment: int, since: int | None) -> Fraction:
    def matching(kind: str, window: int, prefix: str = "") -> list[Event]:
        return [
            e
            for e in lead.events
            if e.type == kind
            and _in(e, moment, window, since)
            and (not prefix or (e.path or "").startswith(prefix))
        ]

    views = min(
        Fraction(20),
        sum((5 * _decay(e, moment) for e in matching("page_view", 30 * DAY)), Fraction(0)),
    )
    pricing = min(
        Fraction(30),
        sum(
            (15 * _decay(e, moment) for e in matching("page_view", 14 * DAY, "/pricing")),
            Fraction(0),
        ),
    )
    demos = matching("demo_request", 30 * DAY)
    demo = 40 * _decay(max(demos, key=lambda e: e.at), moment) if demos else Fraction(0)
    webinars = min(
        Fraction(20),
        sum((10 * _decay(e, moment) for e in matching("webinar_attended", 60 * DAY)), Fraction(0)),
    )
    return _round2(_clamp(views + pricing + demo + webinars, 0, 100))


def _buying_group(lead: Contact, moment: int, since: int | None) -> Fraction:
    """The account score over every lead of the account (SPEC §9)."""

    def has(contact: Contact, kind: str | None, window: int, prefix: str = "") -> bool:
        return any(
            (kind is None or e.type == kind)
            and _in(e, moment, window, since)
            and (not prefix or (e.path or "").startswith(prefix))
            for e in contact.events
        )

    people = lead.colleagues
    points = 0
    if sum(has(c, "page_view", 14 * DAY, "/pricing") for c in people) >= 2:
        points += 20
    if sum(has(c, "demo_request", 30 * DAY) for c in people) >= 1:
        points += 15
    points += min(30, 10 * sum(has(c, "webinar_attended", 30 * DAY) for c in people))
    finance = [c for c in people if c.profile.get("role") == "finance"]
    points += min(10, 10 * sum(has(c, None, 30 * DAY) for c in finance))
    if lead.account_profile.get("target") is True:
        points += 10
    if lead.account_profile.get("tier") == "strategic":
        points += 5
    return _round2(_clamp(Fraction(points), 0, 100))


def _reasons(lead: Contact, moment: int) -> list[str]:
    """Holding disqualifiers, in declared order; they see the whole history (SPEC §7)."""
    reasons = []
    if any(e.type == "unsubscribe" and e.at <= moment for e in lead.events):
        reasons.append("Unsubscribed")
    if lead.profile.get("email_kind") == "disposable":
        reasons.append("Not a corporate email")
    return reasons


def _holding(lead: Contact, moment: int, since: int | None) -> int:
    """The furthest stage whose condition holds now (0 lead, 1 mql, 2 sql)."""
    fit = _fit(lead)
    if fit >= FIT_MIN and any(
        e.type == "pricing_call" and _in(e, moment, 30 * DAY, since) for e in lead.events
    ):
        return 2
    if fit >= FIT_MIN and (
        _intent(lead, moment, since) >= INTENT_MIN
        or _buying_group(lead, moment, since) >= GROUP_MIN
    ):
        return 1
    return 0


def _recycles(lead: Contact, moment: int, since: int | None) -> bool:
    """recycle mql to lead when no event within 60 days and account.buying_group < 35."""
    quiet = not any(_in(e, moment, 60 * DAY, since) for e in lead.events)
    return quiet and _buying_group(lead, moment, since) < GROUP_MIN


def _instants(lead: Contact, as_of: int) -> list[int]:
    """SPEC §7 and §9: every event time of the lead and its colleagues, each plus every
    window, the decay steps (intent is the only decaying score: the lead's own events), and
    the as-of instant; those after it do not exist."""
    moments = {as_of}
    for contact in lead.colleagues:
        for event in contact.events:
            moments.add(event.at)
            moments.update(event.at + window for window in WINDOWS)
    for event in lead.events:
        moments.update(range(event.at + WEEK, as_of + 1, WEEK))
    return sorted(m for m in moments if m <= as_of)


def _route(lead: Contact, stage: str) -> tuple[str, str, int] | None:
    """The first route of the stage whose condition holds (account.target is a field)."""
    if stage == "sql":
        return ("ae_team", "1 day", DAY)
    if stage == "mql":
        if lead.account_profile.get("target") is True:
            return ("abm_sdr", "2 hours", 2 * HOUR)
        return ("sdr_inbound", "1 day", DAY)
    return None


@dataclass
class Outcome:
    decision: dict[str, Any]
    recycled: int = 0
    via_account: bool = False  # an MQL at T that its own intent would not make


def decide(lead: Contact, as_of: int) -> Outcome:
    """The decision as of `as_of` (SPEC §7, locked): walk the timeline; at each instant a
    recycle of the current stage first, then the furthest of the stage reached and the
    stage holding now; `entered` is the first instant of the latest stay of each stage shown."""
    stage = 0
    since: int | None = None
    shown: str | None = None
    entered: dict[str, int] = {}
    recycled = 0
    for moment in _instants(lead, as_of):
        blocked = bool(_reasons(lead, moment))
        if not blocked:  # nothing moves while a disqualifier holds
            if stage == 1 and _recycles(lead, moment, since):
                stage, since = 0, moment
                recycled += 1
            stage = max(stage, _holding(lead, moment, since))
        now = "disqualified" if blocked else STAGES[stage]
        if now != shown:
            entered[now] = moment
            shown = now
    assert shown is not None
    reasons = _reasons(lead, as_of)
    route = None
    if not reasons and (target := _route(lead, shown)) is not None:
        queue, sla, length = target
        route = {
            "queue": queue,
            "sla": sla,
            "due": _text(entered[shown] + length),
            "entered": _text(entered[shown]),
        }
    intent = _intent(lead, as_of, since)
    decision = {
        "id": lead.id,
        "stage": shown,
        "scores": {"fit": _fit(lead), "intent": intent},
        "account_scores": {"buying_group": _buying_group(lead, as_of, since)},
        "disqualified": reasons,
        "route": route,
        "entered": {name: _text(moment) for name, moment in entered.items()},
    }
    via_account = shown == "mql" and intent < INTENT_MIN
    return Outcome(decision, recycled, via_account)


def _contacts(rows: Sequence[dict[str, Any]]) -> list[Contact]:
    leads = [
        Contact(
            row["id"],
            row.get("account"),
            dict(row.get("profile") or {}),
            sorted(
                (Event(_seconds(e["at"]), e["type"], e.get("path")) for e in row["events"]),
                key=lambda e: e.at,
            ),
        )
        for row in rows
    ]
    accounts: dict[str, list[Contact]] = {}
    for lead in leads:
        if lead.account is not None:
            accounts.setdefault(lead.account, []).append(lead)
    profiles: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("account") is not None and row.get("account_profile"):
            profiles.setdefault(row["account"], dict(row["account_profile"]))
    for lead in leads:
        lead.colleagues = accounts[lead.account] if lead.account is not None else [lead]
        lead.account_profile = profiles.get(lead.account, {}) if lead.account else {}
    return leads


def _with_pricing_calls(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sales books pricing calls (the scenario's sales replay, not `generate`, gives them):
    three days and five hours after each demo request, and for every seventh lead with three
    or more events two days after its third, so the `sql` stage and its route are exercised.
    Every third lead with events, and every lead quiet since early October, comes back with
    a demo request in mid-December (after a recycle for some: they must re-qualify on fresh
    behaviour only)."""
    for number, row in enumerate(rows):
        events = sorted(row["events"], key=lambda e: _seconds(e["at"]))
        quiet = bool(events) and _seconds(events[-1]["at"]) < _seconds("2026-10-05T00:00:00Z")
        if (number % 3 == 0 and events) or quiet:
            back = _seconds("2026-12-12T10:00:00Z") + (number % 48) * HOUR
            events.append({"type": "demo_request", "at": _text(back)})
        calls = [
            _seconds(e["at"]) + 3 * DAY + 5 * HOUR for e in events if e["type"] == "demo_request"
        ]
        if number % 7 == 0 and len(events) >= 3:
            calls.append(_seconds(events[2]["at"]) + 2 * DAY)
        events.extend({"type": "pricing_call", "at": _text(moment)} for moment in calls)
        row["events"] = sorted(events, key=lambda e: _seconds(e["at"]))
    return rows


def _engine(journeys: Path, as_of: str) -> list[dict[str, Any]]:
    status, out, err = run("score", str(ABM), str(journeys), "--as-of", as_of)
    assert status == 0, err
    return [orjson.loads(line) for line in out.splitlines()]


def _comparable(decision: dict[str, Any]) -> dict[str, Any]:
    """The engine's decision with its numbers as exact fractions (2 decimals)."""
    return {
        "id": decision["id"],
        "stage": decision["stage"],
        "scores": {name: Fraction(str(value)) for name, value in decision["scores"].items()},
        "account_scores": {
            name: Fraction(str(value)) for name, value in decision["account_scores"].items()
        },
        "disqualified": decision["disqualified"],
        "route": decision["route"],
        "entered": decision["entered"],
    }


@pytest.mark.parametrize(
    ("seed", "instants"),
    [
        (5, ("2026-10-20T12:00:00Z", "2027-01-20T00:00:00Z")),
        (23, ("2026-11-14T06:30:00Z", "2026-12-24T17:45:00Z")),
    ],
)
def test_abm_decisions_agree_with_a_hand_evaluator(
    seed: int, instants: tuple[str, str], tmp_path: Path
) -> None:
    generated = tmp_path / "generated.jsonl"
    assert api.generate(SCENARIO, generated, seed=seed, leads=220) == 220
    rows = _with_pricing_calls([orjson.loads(line) for line in generated.read_bytes().splitlines()])
    journeys = tmp_path / "journeys.jsonl"
    journeys.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    leads = _contacts(rows)
    seen: dict[str, int] = {}
    for as_of in instants:
        engine = _engine(journeys, as_of)
        assert [d["id"] for d in engine] == [lead.id for lead in leads]
        for lead, actual in zip(leads, engine, strict=True):
            assert actual["as_of"] == as_of and actual["account"] == lead.account
            outcome = decide(lead, _seconds(as_of))
            assert _comparable(actual) == outcome.decision, (lead.id, as_of)
            decision = outcome.decision
            for name, holds in (
                ("recycled", outcome.recycled > 0),
                (
                    "requalified after a recycle",
                    outcome.recycled > 0 and decision["stage"] != "lead",
                ),
                ("mql through the account", outcome.via_account),
                ("sql", decision["stage"] == "sql"),
                ("abm_sdr", (decision["route"] or {}).get("queue") == "abm_sdr"),
                ("sdr_inbound", (decision["route"] or {}).get("queue") == "sdr_inbound"),
                ("disqualified", decision["stage"] == "disqualified"),
                ("decayed", decision["scores"]["intent"].denominator > 1),
                (
                    "entered lead, then mql",
                    "lead" in decision["entered"] and "mql" in decision["entered"],
                ),
            ):
                seen[name] = seen.get(name, 0) + int(holds)
    # The comparison is only worth something if the data reached every part of the policy.
    assert all(seen.values()), seen


def test_score_names_each_broken_accounts_line_and_the_counts_add_up(tmp_path: Path) -> None:
    """`mqldsl score` with a journeys file and an accounts file, both with broken lines:
    each is named file:line with its code, the good accounts give their fields (decisions
    checked by hand), and the summary's counts add up (read = used + rejected)."""
    generated = tmp_path / "generated.jsonl"
    api.generate(SCENARIO, generated, seed=5, leads=30)
    rows = [orjson.loads(line) for line in generated.read_bytes().splitlines()]
    for row in rows:
        row.pop("account_profile", None)  # the accounts file gives the fields
    ids = list(dict.fromkeys(row["account"] for row in rows))
    first, second, third = ids[0], ids[1], ids[2]
    journey_lines = [orjson.dumps(row).decode() for row in rows]
    journey_lines.insert(4, '{"id": "S-broken", "account": ')  # line 5: not JSON
    journeys = tmp_path / "journeys.jsonl"
    journeys.write_text("\n".join(journey_lines) + "\n")
    good = {"tier": "strategic", "target": True, "employees": 5000}
    account_lines = [
        orjson.dumps({"id": first, "profile": good}).decode(),
        '{"id": "A-x", "profile": {',
        orjson.dumps({"id": second, "profile": {"tier": "commercial", "colour": "red"}}).decode(),
        orjson.dumps({"id": first, "profile": {"tier": "commercial"}}).decode(),
        orjson.dumps({"id": third, "profil": {"tier": "enterprise"}}).decode(),
        "",
        orjson.dumps({"id": third, "profile": {"tier": "gold"}}).decode(),
    ]
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text("\n".join(account_lines) + "\n")
    as_of = "2026-10-25T00:00:00Z"
    status, out, err = run(
        "score", str(ABM), str(journeys), "--accounts", str(accounts), "--as-of", as_of
    )
    assert status == 1, err
    problems = [line for line in err.splitlines() if ": error[" in line]
    # The leads of `third`, whose accounts line was rejected, and of `first`, given twice
    # with two profiles, are rejected with them (E716): decided without the account's fields
    # (or with the wrong ones) they could be at the wrong stage.
    lost = [
        n
        for n, line in enumerate(journey_lines, 1)
        if f'"account":"{third}"' in line or f'"account":"{first}"' in line
    ]
    assert lost
    assert [re.sub(r": error\[(E\d+)\].*", r" \1", line) for line in problems] == [
        f"{accounts}:2:27 E701",
        f"{accounts}:4 E704",
        f"{accounts}:5 E705",
        f"{accounts}:7 E705",
        # (each file's problems in line order)
        *sorted(
            [f"{journeys}:5:31 E701", *(f"{journeys}:{n} E716" for n in lost)],
            key=lambda text: int(text.removeprefix(f"{journeys}:").split(":")[0].split()[0]),
        ),
    ], err
    assert f"first at {accounts} line 1" in problems[1]
    assert "unknown key `profil`" in problems[2]
    assert "`gold`" in problems[3] or '"gold"' in problems[3]
    assert "ignored unknown account field `colour`: 1 time" in err
    counts = re.search(r"(\d+) read, (\d+) used, (\d+) rejected", err.splitlines()[-1])
    assert counts is not None, err
    read, used, rejected = (int(number) for number in counts.groups())
    assert (read, used, rejected) == (len(rows) + 5, len(rows) - len(lost), 5 + len(lost))
    assert read == used + rejected
    # The good accounts lines give their accounts' fields: decided by hand with them.
    leads = [lead for lead in _contacts(rows) if lead.account not in (first, third)]
    profiles = {second: {"tier": "commercial"}}
    for lead in leads:
        lead.account_profile = profiles.get(lead.account or "", {})
    decisions = [orjson.loads(line) for line in out.splitlines()]
    assert [d["id"] for d in decisions] == [lead.id for lead in leads]
    for lead, actual in zip(leads, decisions, strict=True):
        assert _comparable(actual) == decide(lead, _seconds(as_of)).decision, lead.id
    assert any(d["account"] == second for d in decisions)


def _row(lead_id: str, account: str | None, profile: dict[str, str], events: list[Any]) -> dict:
    row: dict[str, Any] = {"id": lead_id, "profile": profile}
    if account is not None:
        row["account"] = account
    row["events"] = [
        {"type": kind, "at": _text(moment), **({"path": path} if path else {})}
        for kind, moment, path in events
    ]
    return row


def test_edges_of_time_by_hand(tmp_path: Path) -> None:
    """Hand-made journeys at the edges the generator seldom reaches: window ends exactly,
    decay steps exactly, a tie in rounding, an MQL at the very first instant, an event at the
    as-of instant, a jump to `sql`, a lead without an account, and a colleague's event at the
    very instant of a recycle (it no longer counts for the recycled lead)."""
    as_of = _seconds("2026-11-01T00:00:00Z")
    director = {"email_kind": "corporate", "role": "security", "seniority": "director"}
    manager = {"email_kind": "corporate", "role": "it", "seniority": "manager"}
    recycle_at = as_of - 5 * DAY
    rows = [
        # An MQL at its account's first instant: the entry stage was never occupied.
        _row("E-1", "A-first", director, [("demo_request", as_of - 10 * DAY, None)]),
        # A view exactly 30 days old is out; one exactly 7 days old has decayed once; one
        # exactly 21 days old decays to 5 x 0.729 = 3.645, rounded half away: 3.65.
        _row(
            "E-2",
            "A-edge",
            manager,
            [
                ("page_view", as_of - 30 * DAY, "/blog"),
                ("page_view", as_of - 21 * DAY, "/blog"),
                ("page_view", as_of - 7 * DAY, "/pricing"),
            ],
        ),
        _row("E-3", None, manager, [("page_view", as_of - 21 * DAY, "/docs")]),
        # A demo at the as-of instant counts; a pricing call with a demo jumps to sql.
        _row("E-4", "A-now", director, [("demo_request", as_of, None)]),
        _row(
            "E-5",
            "A-now",
            manager,
            [
                ("page_view", as_of - 40 * DAY, "/docs"),
                ("demo_request", as_of - 3 * DAY, None),
                ("pricing_call", as_of - 3 * DAY, None),
            ],
        ),
        # Recycled exactly 60 days after its demo; the colleague's pricing view at that very
        # instant no longer counts for it, so one reader of pricing is not a buying group.
        _row(
            "E-6",
            "A-recycle",
            director,
            [
                ("demo_request", recycle_at - 60 * DAY, None),
                ("page_view", recycle_at + DAY, "/pricing"),
            ],
        ),
        _row("E-7", "A-recycle", manager, [("page_view", recycle_at, "/pricing")]),
    ]
    rows[5]["account_profile"] = {"tier": "strategic", "target": True}
    rows[0]["account_profile"] = {"tier": "commercial", "target": False}
    journeys = tmp_path / "edges.jsonl"
    journeys.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    engine = {d["id"]: d for d in _engine(journeys, _text(as_of))}
    expected = {lead.id: decide(lead, as_of).decision for lead in _contacts(rows)}
    for lead_id, decision in expected.items():
        assert _comparable(engine[lead_id]) == decision, lead_id
    # The edges were reached (the hand evaluator's own figures, checked once more by hand).
    assert expected["E-1"]["entered"] == {"mql": _text(as_of - 10 * DAY)}
    # 4.5 + 3.645 for the views, 13.5 for pricing: 21.645, rounded half away.
    assert expected["E-2"]["scores"]["intent"] == Fraction("21.65")
    assert expected["E-3"]["scores"]["intent"] == Fraction("3.65")
    assert engine["E-3"]["account"] is None
    assert expected["E-4"]["route"]["due"] == _text(as_of + DAY)
    assert expected["E-5"]["entered"]["sql"] == _text(as_of - 3 * DAY)
    assert "mql" not in expected["E-5"]["entered"]
    assert expected["E-6"]["stage"] == "lead"
    assert expected["E-6"]["entered"]["lead"] == _text(recycle_at)
    assert expected["E-6"]["account_scores"]["buying_group"] == 15
    assert expected["E-7"]["account_scores"]["buying_group"] == 35
