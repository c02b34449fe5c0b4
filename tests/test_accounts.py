"""Accounts and buying groups (SPEC §9): account scores on both evaluators and on the SQL
back end (DuckDB, the printed query, Parquet tables), reading accounts (the accounts file,
account profiles, grouping in input order), the checker's errors, and the shipped
account-based policy. Spark: tests/test_spark_engine.py."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_file, check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import Event, Lead, parse_instant
from mqldsl.io.journeys import ReadReport
from mqldsl.io.scoring import decision_line, read_leads

from .helpers import run
from .policy_gen import AS_OF as POLICY_AS_OF
from .policy_gen import account_leads as account_leads_of_policy
from .policy_gen import policies

ROOT = Path(__file__).resolve().parent.parent
ABM = ROOT / "policies" / "abm.mql"
AS_OF = parse_instant("2026-11-01T00:00:00Z")
DAY = 86400.0

FLEXIBLE = """policy "accounts, flexible"
lead { role: enum(security, it, finance, other) }
account { employees: int, target: bool }
event page_view { path: text }
event demo_request
event webinar
param group_min = 30
score group on account range 0 to 80 decay 20% every 5 days {
  +20 when count(distinct contact with page_view where path starts with "/pricing" within 14 days) >= 2
  +15 when demo_request within 30 days
  +10 per contact with webinar within 30 days, max 30
  +5 per contact with event where role == finance within 10 days
  -10 when no event within 20 days
  +10 when target and employees >= 500
}
score warmth on account = group + (days since demo_request) / 10
score intent { +10 per page_view within 7 days, max 30 }
stages {
  visitor
  lead when intent >= 10 or account.group >= 10
  mql when account.group >= group_min and intent >= 10 or account.warmth >= 50
}
route mql to abm when account.target, sla 2 hours
route mql to inbound
"""

# ---------------------------------------------------------------- random accounts

TYPES = ("page_view", "demo_request", "webinar", "webinar_attended", "pricing_call", "unsubscribe")
PATHS = ("/pricing", "/pricing/enterprise", "/blog", "/docs")


@st.composite
def account_leads(draw: st.DrawFn) -> list[Lead]:
    """One account's leads (1 to 4), each with its own events; times on whole hours and
    on window edges, some after the as-of instant."""
    size = draw(st.integers(1, 4))
    profile = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "employees": st.integers(0, 5000),
                "target": st.booleans(),
                "tier": st.sampled_from(["strategic", "enterprise", "commercial"]),
            },
        )
    )
    leads = []
    for number in range(size):
        events = []
        for index in range(draw(st.integers(0, 6))):
            kind = draw(st.sampled_from(TYPES))
            days = draw(st.sampled_from([0, 1, 2.5, 5, 7, 13, 14, 20, 29, 30, 31, 45, 60, 61, -1]))
            fields = {"path": draw(st.sampled_from(PATHS))} if kind == "page_view" else {}
            events.append(Event(at=AS_OF - days * DAY, type=kind, fields=fields, index=index))
        events.sort(key=lambda e: e.at)
        lead_profile = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "role": st.sampled_from(["security", "it", "finance", "other"]),
                    "email_kind": st.sampled_from(["corporate", "free", "disposable"]),
                    "seniority": st.sampled_from(["ic", "manager", "director", "executive"]),
                },
            )
        )
        leads.append(
            Lead(
                id=f"L-{number}",
                profile=lead_profile,
                events=tuple(events),
                account="A-1",
                account_profile=profile,
            )
        )
    return [
        msgspec.structs.replace(lead, colleagues=tuple(o for o in leads if o is not lead))
        for lead in leads
    ]


def _model(text: str | None = None):  # type: ignore[no-untyped-def]
    result = check_file(ABM) if text is None else check_text(text, "accounts.mql")
    assert result.model is not None, [d.message for d in result.diagnostics]
    return result.model


@pytest.mark.parametrize("text", [None, FLEXIBLE], ids=["abm", "flexible"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account=account_leads())
def test_compiled_equals_interpreted_with_accounts(text: str | None, account: list[Lead]) -> None:
    model = _model(text)
    compiled = Evaluator(model)
    reference = Interpreter(model)
    for lead in account:
        fast = compiled.run(lead, AS_OF, explain=True)
        slow = reference.result(lead, AS_OF)
        assert fast.decision.to_json() == slow.decision.to_json()
        assert decision_line(compiled.run(lead, AS_OF).decision) == decision_line(slow.decision)
        assert [(s.at, s.stage, s.reason, s.scores) for s in fast.steps] == [
            (s.at, s.stage, s.reason, s.scores) for s in slow.steps
        ]
        assert fast.first_entries == slow.first_entries
        assert fast.contributions == slow.contributions


# ---------------------------------------------------------------- the SQL back end

ABM_NO_RECYCLE = re.sub(r"recycle mql to lead .*?\n.*?\n", "", ABM.read_text())


@st.composite
def several_accounts(draw: st.DrawFn) -> list[Lead]:
    """Leads of one to three accounts and zero to two leads without an account, shuffled
    (input order is not account order)."""
    leads: list[Lead] = []
    for number in range(draw(st.integers(1, 3))):
        for lead in draw(account_leads()):
            leads.append(
                msgspec.structs.replace(lead, id=f"{lead.id}-{number}", account=f"A-{number}")
            )
    for number in range(draw(st.integers(0, 2))):
        alone = draw(account_leads())[0]
        leads.append(
            msgspec.structs.replace(alone, id=f"S-{number}", account=None, account_profile={})
        )
    order = draw(st.permutations(range(len(leads))))
    return [leads[i] for i in order]


def _grouped(leads: list[Lead], model: CheckedPolicy) -> list[Lead]:
    """The leads as the reader gives them: events of declared types only, each lead with
    its account's other leads (input order) as colleagues."""
    kept = [
        msgspec.structs.replace(
            lead, events=tuple(e for e in lead.events if e.type in model.events)
        )
        for lead in leads
    ]
    return [
        msgspec.structs.replace(
            lead,
            colleagues=tuple(
                o for o in kept if o is not lead and lead.account and o.account == lead.account
            ),
        )
        for lead in kept
    ]


@pytest.mark.parametrize("text", [ABM_NO_RECYCLE, FLEXIBLE], ids=["abm", "flexible"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leads=several_accounts())
def test_duckdb_decides_accounts_as_python_does(text: str, leads: list[Lead]) -> None:
    from mqldsl.io.scoring import decision_line
    from mqldsl.warehouse.engine import DuckDBEngine

    model = _model(text)
    journeys = _grouped(leads, model)
    evaluator = Evaluator(model)
    python = [decision_line(evaluator.decide(lead, AS_OF)) for lead in journeys]
    with DuckDBEngine(model, threads=1) as engine:
        engine.load_leads(iter(journeys))
        sql = [decision_line(item.decision) for item in engine.decide(AS_OF)]
    assert sql == python


# ---------------------------------------------------------------- the figures, by hand


def _lead(lead_id: str, profile: dict[str, str], events: list[tuple[str, float, str]]) -> Lead:
    return Lead(
        id=lead_id,
        profile=profile,
        events=tuple(
            Event(
                at=AS_OF - days * DAY,
                type=kind,
                fields={"path": path} if kind == "page_view" else {},
                index=i,
            )
            for i, (kind, days, path) in enumerate(sorted(events, key=lambda e: -e[1]))
        ),
        account="A-9",
        account_profile={"target": True, "employees": 2000, "tier": "strategic"},
    )


def _account(*leads: Lead) -> list[Lead]:
    return [
        msgspec.structs.replace(lead, colleagues=tuple(o for o in leads if o is not lead))
        for lead in leads
    ]


def test_buying_group_by_hand() -> None:
    """abm.mql's buying_group, computed by hand for one account of four people."""
    security = _lead(
        "S",
        {"role": "security", "seniority": "director", "email_kind": "corporate"},
        [("page_view", 3, "/pricing")],
    )
    it = _lead(
        "I",
        {"role": "it", "seniority": "manager", "email_kind": "corporate"},
        [("page_view", 10, "/pricing/enterprise"), ("webinar_attended", 20, "")],
    )
    finance = _lead(
        "F",
        {"role": "finance", "seniority": "executive", "email_kind": "corporate"},
        [("webinar_attended", 5, ""), ("webinar_attended", 40, "")],
    )
    old = _lead("O", {"role": "other"}, [("page_view", 20, "/pricing"), ("demo_request", 31, "")])
    account = _account(security, it, finance, old)
    # Two people (S, I) read pricing within 14 days: +20. No demo within 30 days (O's is 31
    # days old): 0. Webinar attendees within 30 days: I and F, +10 each (max 30): +20.
    # Finance active within 30 days: F, +10 (max 10). Named account: +10. Strategic: +5.
    # Total 65.
    evaluator = Evaluator(_model())
    for lead in account:
        decision = evaluator.decide(lead, AS_OF)
        assert decision.account_scores == {"buying_group": 65}
        assert decision.account == "A-9"
    # Alone, S's account reads only S's events: one pricing reader; target, strategic: 15.
    alone = msgspec.structs.replace(security, colleagues=())
    assert evaluator.decide(alone, AS_OF).account_scores == {"buying_group": 15}


def test_a_colleague_makes_an_mql_at_the_instant_of_their_demo_request() -> None:
    """The lead's timeline has the colleague's event: `entered` names its instant."""
    lead = _lead(
        "S",
        {"role": "security", "seniority": "director", "email_kind": "corporate"},
        [("page_view", 5, "/pricing")],
    )
    colleague = _lead(
        "I",
        {"role": "it", "seniority": "manager", "email_kind": "corporate"},
        [("page_view", 4, "/pricing"), ("demo_request", 2, "")],
    )
    first, _ = _account(lead, colleague)
    decision = Evaluator(_model()).decide(first, AS_OF)
    # fit: security 20 + director 15 + target 10 + 2000 employees 10 = 55; intent 5 + 15 < 30.
    # buying_group: target 10 + strategic 5, and two pricing readers +20 from the instant the
    # colleague reads pricing (4 days ago): 35 >= buying_group_min, so S is an MQL from then.
    assert decision.stage == "mql"
    assert decision.entered["mql"] == AS_OF - 4 * DAY
    assert decision.account_scores == {"buying_group": 50}  # and the demo request: +15
    assert decision.route is not None and decision.route.queue == "abm_sdr"
    assert decision.scores == {"fit": 55, "intent": 20}


def test_decision_json_carries_the_account() -> None:
    lead = _lead("S", {"role": "security"}, [])
    line = Evaluator(_model()).decide(lead, AS_OF).to_json()
    assert list(line)[:6] == ["id", "account", "as_of", "stage", "scores", "account_scores"]
    assert line["account"] == "A-9"
    assert line["account_scores"] == {"buying_group": 15}


# ---------------------------------------------------------------- reading accounts


def _write(path: Path, rows: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def _journey(lead_id: str, account: str | None, days: list[float], **extra: object) -> dict:
    events = [{"type": "page_view", "at": _at(d), "path": "/pricing"} for d in days]
    row: dict[str, object] = {"id": lead_id, "profile": {"role": "it"}, "events": events}
    if account is not None:
        row["account"] = account
    row.update(extra)
    return row


def _at(days: float) -> str:
    from mqldsl.engine.runtime import format_instant

    return format_instant(AS_OF - days * DAY)


def test_leads_are_grouped_whatever_the_order(tmp_path: Path) -> None:
    """Unsorted input gives every lead its colleagues, and keeps the input order."""
    rows = [
        _journey("L1", "A", [3]),
        _journey("L2", "B", [2]),
        _journey("L3", None, [1]),
        _journey("L4", "A", [4]),
        _journey("L5", "B", []),
    ]
    path = _write(tmp_path / "j.jsonl", rows)
    report = ReadReport()
    leads = list(read_leads(_model(), path, None, report))
    assert [lead.id for lead in leads] == ["L1", "L2", "L3", "L4", "L5"]
    assert {lead.id: [c.id for c in lead.colleagues] for lead in leads} == {
        "L1": ["L4"],
        "L2": ["L5"],
        "L3": [],
        "L4": ["L1"],
        "L5": ["L2"],
    }
    assert report.rejected_count == 0


def test_a_pipe_is_read_whole_and_an_empty_account_is_none(tmp_path: Path) -> None:
    # A pipe cannot be read twice (the quick pass that finds each account's last line drained
    # it: nothing was read, silently); `"account": ""` is no account, as an empty cell of a
    # leads table is (it made one shared account named "").
    rows = [
        _journey("L1", "A", [3]),
        _journey("L2", "", [2]),
        _journey("L3", "", [1]),
        _journey("L4", "A", [4]),
    ]
    path = _write(tmp_path / "j.jsonl", rows)
    fifo = tmp_path / "j.pipe"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=lambda: fifo.write_bytes(Path(path).read_bytes()), daemon=True)
    feeder.start()
    report = ReadReport()
    piped: list[Lead] = []
    reader = threading.Thread(
        target=lambda: piped.extend(read_leads(_model(), str(fifo), None, report)), daemon=True
    )
    reader.start()
    reader.join(30)
    if reader.is_alive():  # opening the pipe a second time waits for a writer: let it end
        with open(fifo, "wb"):
            pass
        pytest.fail("reading the pipe did not end")
    leads = list(read_leads(_model(), path, None, ReadReport()))
    for found in (piped, leads):
        assert [(lead.id, lead.account) for lead in found] == [
            ("L1", "A"),
            ("L2", None),
            ("L3", None),
            ("L4", "A"),
        ]
        assert {lead.id: [c.id for c in lead.colleagues] for lead in found} == {
            "L1": ["L4"],
            "L2": [],
            "L3": [],
            "L4": ["L1"],
        }
    assert report.read == 4 and report.rejected_count == 0


def test_explain_and_timeline_say_what_the_reading_rejected(tmp_path: Path) -> None:
    # L2's account profile disagrees with L1's: it is rejected (E715), and L3's explanation
    # counts its account without L2's visits: said on standard error, exit 1, as `score` does.
    rows = [
        _journey("L1", "A", [3], account_profile={"target": True}),
        _journey("L2", "A", [2], account_profile={"target": False}),
        _journey("L3", "A", [1]),
    ]
    path = _write(tmp_path / "j.jsonl", rows)
    for command in ("explain", "timeline"):
        code, out, err = run(command, str(ABM), path, "--lead", "L3", "--as-of", "2026-11-01")
        assert code == 1, err
        assert "L3" in out  # the explanation is written first
        assert f"{path}:2: error[E715]" in err
        assert err.splitlines()[-1] == "3 read, 2 used, 1 rejected"


def test_accounts_file_and_disagreeing_profiles(tmp_path: Path) -> None:
    accounts = _write(
        tmp_path / "accounts.jsonl",
        [{"id": "A", "profile": {"target": True, "employees": 50}}, {"id": "B", "profile": {}}],
    )
    rows = [
        _journey("L1", "A", [3]),
        _journey("L2", "A", [], account_profile={"target": False}),
        _journey("L3", "B", [], account_profile={"employees": 7}),
        _journey("L4", "B", [], account_profile={"employees": 7}),
    ]
    path = _write(tmp_path / "j.jsonl", rows)
    report = ReadReport()
    leads = {lead.id: lead for lead in read_leads(_model(), path, None, report, accounts)}
    assert sorted(leads) == ["L1", "L3", "L4"]
    assert leads["L1"].account_profile == {"target": True, "employees": 50}
    assert leads["L3"].account_profile == {"employees": 7}
    assert report.rejected_count == 1
    problem = report.rejected[0]
    assert problem.line == 2 and problem.code == "E715"
    assert f"{accounts} line 1" in problem.message


def test_score_cli_with_accounts_and_unknown_key(tmp_path: Path) -> None:
    accounts = _write(tmp_path / "a.jsonl", [{"id": "A", "profile": {"target": True}}])
    rows = [
        _journey("L1", "A", [3]),
        _journey("L2", "A", [2], acount_profile={"target": False}),
    ]
    path = _write(tmp_path / "j.jsonl", rows)
    status, out, err = run(
        "score", str(ABM), path, "--accounts", accounts, "--as-of", "2026-11-01T00:00:00Z"
    )
    assert status == 0, err
    decisions = [orjson.loads(line) for line in out.splitlines()]
    assert [d["account_scores"] for d in decisions] == [{"buying_group": 30}] * 2
    assert "ignored unknown key `acount_profile`" in err
    assert "did you mean `account_profile`?" in err


def test_max_errors_stops_in_the_accounts_file(tmp_path: Path) -> None:
    """--max-errors counts the accounts file's bad lines too: after the second bad line
    nothing more is read, and the summary says how many lines were left (accounts file and
    journeys file) and that every record read was rejected."""
    accounts = tmp_path / "a.jsonl"
    accounts.write_text(
        '{"id": "A", "profile": {"target": "yes"}}\n'  # line 1: a text for a boolean
        "not json\n"  # line 2: the second rejected record: reading stops here
        '{"id": "B", "profile": {}}\n'  # lines 3-4: not read
        "also not json\n"
    )
    path = _write(tmp_path / "j.jsonl", [_journey(f"L{i}", "A", [3]) for i in range(5)])
    status, out, err = run(
        "score", str(ABM), path, "--accounts", str(accounts), "--max-errors", "2"
    )
    assert status == 1, err
    assert out == ""
    assert f"{accounts}:2" in err and f"{accounts}:4" not in err
    # 2 lines of the accounts file (3 and 4) and the 5 journey lines
    assert "stopped after 2 rejected records (--max-errors); 7 lines not read" in err
    assert "2 read" in err and "0 used" in err and "2 rejected" in err


def test_accounts_with_a_policy_without_accounts_is_a_usage_error(tmp_path: Path) -> None:
    accounts = _write(tmp_path / "a.jsonl", [{"id": "A", "profile": {}}])
    path = _write(tmp_path / "j.jsonl", [_journey("L1", "A", [3])])
    status, _, err = run(
        "score", str(ROOT / "policies" / "saas_trial.mql"), path, "--accounts", accounts
    )
    assert status == 2, err
    assert "--accounts" in err


# ---------------------------------------------------------------- the checker

HEAD = """policy "p"
lead { role: enum(a, b) }
account { size: int }
event ev { n: int }
score fit { +10 when role == a }
"""


def _codes(text: str) -> list[str]:
    return [d.code for d in check_text(text, "t.mql").diagnostics]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("score g on account { +5 when fit > 3 }", "E240"),
        ("score g on account { +5 when role == a }", "E243"),
        ("score g { +5 when count(distinct contact with ev) >= 1 }", "E241"),
        ("score g { +5 per contact with ev }", "E241"),
        ("score g on account { +5 when ev ever }\nscore h { +1 when g > 2 }", "E242"),
        ("score g on account { +5 when count(every contact with ev) > 1 }", "E140"),
        ("score g on account { +5 when ev ever }\nscore h { +1 when account.gg > 2 }", "E214"),
    ],
)
def test_account_misuse_is_an_error(text: str, code: str) -> None:
    found = _codes(HEAD + text + "\nstages { a\n b when fit > 1 }\n")
    assert code in found, found


@pytest.mark.parametrize(
    ("contacts", "codes"),
    [
        ('contact "c1" { ev at -1 day }\n  contact "c2" { ev at -1 day }', []),
        ('contact "c1" { ev at -1 day }\n  contact "c1" { ev at -2 days }', ["E208"]),
        # the example's own lead has the example's name as id: a contact cannot take it
        ('contact "e" { ev at -1 day }', ["E208"]),
    ],
)
def test_an_examples_contacts_are_other_people(contacts: str, codes: list[str]) -> None:
    text = HEAD + "score g on account { +5 per contact with ev }\nstages { a\n b when fit > 1 }\n"
    text += f'example "e" at 2026-11-01T00:00:00Z {{\n  {contacts}\n  expect stage a\n}}\n'
    assert [c for c in _codes(text) if c.startswith("E")] == codes


def test_account_scores_read_fields_params_and_other_account_scores() -> None:
    text = HEAD + (
        "param big = 100\n"
        "score g on account { +5 when size > big\n +5 per contact with ev where role == a and n > 1 }\n"
        "score h on account = g * 2 + account.size / 100\n"
        "stages { a\n b when account.h > 1 and fit > 1 }\n"
    )
    assert [c for c in _codes(text) if c.startswith("E")] == []


def test_shipped_abm_policy_checks_and_its_examples_pass() -> None:
    status, out, err = run("check", "--strict", str(ABM))
    assert status == 0, out + err
    status, out, err = run("test", str(ABM))
    assert status == 0, out + err
    assert "0 failed" in out


def test_fmt_keeps_account_forms(tmp_path: Path) -> None:
    copy = tmp_path / "abm.mql"
    copy.write_text(ABM.read_text())
    status, _, err = run("fmt", "--check", str(copy))
    assert status == 0, err


def test_every_engine_scores_accounts_and_takes_the_accounts_file(tmp_path: Path) -> None:
    """`--engine duckdb` decides a policy with accounts (with `--accounts`) as the Python
    engine does, rejecting the same lead (E715) with the same message."""
    accounts = _write(tmp_path / "a.jsonl", [{"id": "A", "profile": {"target": True}}])
    rows = [
        _journey("L1", "A", [3]),
        _journey("L2", "B", [2], account_profile={"target": True, "tier": "strategic"}),
        _journey("L3", "A", [1], account_profile={"target": False}),
        _journey("L4", None, [5]),
        _journey("L5", "B", [13]),
    ]
    path = _write(tmp_path / "j.jsonl", rows)
    outputs = []
    for engine in ("python", "duckdb"):
        status, out, err = run(
            "score",
            _abm_without_recycling(tmp_path),
            path,
            "--accounts",
            accounts,
            "--engine",
            engine,
            "--as-of",
            "2026-11-01T00:00:00Z",
        )
        assert status == 1 and "E715" in err and "j.jsonl:3" in err, err
        outputs.append((out, err))
    assert outputs[0] == outputs[1]
    decisions = [orjson.loads(line) for line in outputs[0][0].splitlines()]
    assert [(d["id"], d["account"]) for d in decisions] == [
        ("L1", "A"),
        ("L2", "B"),
        ("L4", None),
        ("L5", "B"),
    ]
    # The CSV table has a column per score, account scores included, on both engines.
    tables = []
    for engine in ("python", "duckdb"):
        target = tmp_path / f"{engine}.csv"
        status, _, err = run(
            "score", _abm_without_recycling(tmp_path), path, "--accounts", accounts,
            "--engine", engine, "--as-of", "2026-11-01T00:00:00Z", "-o", str(target),
        )  # fmt: skip
        assert status == 1, err
        tables.append(target.read_text())
    assert tables[0] == tables[1]
    assert tables[0].splitlines()[:2] == [
        "id,as_of,stage,fit,intent,buying_group,disqualified,queue",
        "L1,2026-11-01T00:00:00Z,lead,30,20,10,,",  # fit: it 20 + target 10; intent 5 + 15
    ]
    # A: target 10, one pricing reader. B: target 10 + strategic 5 + two pricing readers
    # within 14 days (L2 2 days ago, L5 13 days ago) 20. L4 alone: no account fields.
    assert [d["account_scores"]["buying_group"] for d in decisions] == [10, 35, 0, 35]


def test_a_lead_without_an_account_has_no_account_fields(tmp_path: Path) -> None:
    """SPEC §9: "A lead without an account is an account of its own, without account fields."
    An `account_profile` on such a line is not read (the Python engine read it, DuckDB did
    not), and the summary says it was ignored; both engines alike, fast path or not."""
    rows = [
        _journey("L1", None, [3], account_profile={"target": True, "tier": "strategic"}),
        _journey("L2", "", [2], account_profile={"target": True}),
        _journey("L3", "A", [1], account_profile={"target": True}),
    ]
    path = _write(tmp_path / "j.jsonl", rows)
    outputs = []
    for engine in ("python", "duckdb"):
        status, out, err = run(
            "score", _abm_without_recycling(tmp_path), path, "--engine", engine,
            "--as-of", "2026-11-01T00:00:00Z",
        )  # fmt: skip
        assert status == 0, err
        assert (
            "ignored the account_profile of a lead without an account (SPEC §9: it has no "
            "account fields): 2 times"
        ) in err
        outputs.append(out)
    assert outputs[0] == outputs[1]
    decisions = [orjson.loads(line) for line in outputs[0].splitlines()]
    # fit: role it 20, and +10 only where the account is a target: L3's, not L1's or L2's
    assert [(d["id"], d["account"], d["scores"]["fit"]) for d in decisions] == [
        ("L1", None, 20),
        ("L2", None, 20),
        ("L3", "A", 30),
    ]


def test_explain_of_a_lead_rejected_with_its_account_says_so(tmp_path: Path) -> None:
    rows = [
        _journey("L1", "A", [3], account_profile={"target": True}),
        _journey("L2", "A", [2], account_profile={"target": False}),
    ]
    path = _write(tmp_path / "j.jsonl", rows)
    code, _, err = run(
        "explain", _abm_without_recycling(tmp_path), path, "--lead", "L2",
        "--as-of", "2026-11-01T00:00:00Z",
    )  # fmt: skip
    assert code == 1
    assert "j.jsonl:2: error[E715]" in err
    assert f"the line of lead `L2` ({path}:2) was rejected (above)" in err


def _abm_without_recycling(folder: Path) -> str:
    """policies/abm.mql without its recycle rule (the SQL back end refuses recycling)."""
    path = folder / "abm.mql"
    path.write_text(ABM_NO_RECYCLE)
    return str(path)


def _abm_journeys(tmp_path: Path) -> tuple[str, str]:
    """A journeys file for abm.mql (two accounts in shuffled order, a lead without one) and
    an accounts file."""
    accounts = _write(
        tmp_path / "accounts.jsonl",
        [
            {"id": "A", "profile": {"target": True, "tier": "strategic", "employees": 3000}},
            {"id": "B", "profile": {"target": False, "tier": "commercial", "employees": 40}},
        ],
    )
    rows = [
        _journey("L1", "A", [3, 20]),
        _journey("L2", "B", [2]),
        _journey("L3", "A", [1], events_extra=True),
        _journey("L4", None, [5]),
        _journey("L5", "B", [13, 40]),
        _journey("L6", "A", []),
    ]
    for row in rows:
        if row.pop("events_extra", None):
            row["events"].append({"type": "demo_request", "at": _at(0.5)})  # type: ignore[union-attr]
            row["profile"] = {
                "role": "finance",
                "seniority": "executive",
                "email_kind": "corporate",
            }
    return _write(tmp_path / "j.jsonl", rows), accounts


def test_printed_sql_with_accounts_decides_as_python(tmp_path: Path) -> None:
    """What `mqldsl sql` prints for a policy with accounts reads `leads.account` and the
    `accounts` table: run in a fresh DuckDB, it gives the Python engine's decisions. Every
    dialect prints."""
    import duckdb

    policy = _abm_without_recycling(tmp_path)
    journeys, accounts = _abm_journeys(tmp_path)
    for dialect in ("spark", "snowflake", "bigquery", "postgres"):
        status, query, err = run("sql", policy, "--dialect", dialect, "--as-of", "2026-11-01")
        assert status == 0, err
        assert "account_score_buying_group" in query
    status, query, err = run(
        "sql", policy, "--as-of", "2026-11-01", "--accounts-table", "crm.accounts"
    )
    assert status == 0, err
    status, expected, err = run(
        "score", policy, journeys, "--accounts", accounts, "--as-of", "2026-11-01"
    )
    assert status == 0, err
    con = duckdb.connect()
    con.execute("CREATE SCHEMA crm")
    con.execute(
        "CREATE TABLE crm.accounts (id VARCHAR, employees DOUBLE, tier VARCHAR, target BOOLEAN)"
    )
    con.execute("INSERT INTO crm.accounts VALUES ('A', 3000, 'strategic', true)")
    con.execute("INSERT INTO crm.accounts VALUES ('B', 40, 'commercial', false)")
    con.execute(
        "CREATE TABLE leads (id VARCHAR, account VARCHAR, email_kind VARCHAR, role VARCHAR, "
        "seniority VARCHAR)"
    )
    con.execute('CREATE TABLE events (lead_id VARCHAR, type VARCHAR, "at" TIMESTAMP, path VARCHAR)')
    for line in Path(journeys).read_text().splitlines():
        raw = json.loads(line)
        profile = raw["profile"]
        con.execute(
            "INSERT INTO leads VALUES (?, ?, ?, ?, ?)",
            [raw["id"], raw.get("account")]
            + [profile.get(k) for k in ("email_kind", "role", "seniority")],
        )
        for event in raw["events"]:
            con.execute(
                "INSERT INTO events VALUES (?, ?, CAST(? AS TIMESTAMPTZ), ?)",
                [raw["id"], event["type"], event["at"], event.get("path")],
            )
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(query).fetchall()
    names = [d[0] for d in con.description]
    got = {row[0]: dict(zip(names, row, strict=True)) for row in rows}
    decisions = [orjson.loads(line) for line in expected.splitlines()]
    assert sorted(got) == sorted(d["id"] for d in decisions)
    for decision in decisions:
        row = got[decision["id"]]
        assert row["account"] == decision["account"]
        assert row["stage"] == decision["stage"]
        assert row["score_fit"] == decision["scores"]["fit"]
        assert row["account_score_buying_group"] == decision["account_scores"]["buying_group"]
    # L3 (finance) asked for a demo 12 hours ago: account A's buying group is 10 (target)
    # + 5 (strategic) + 15 (a demo) + 10 (finance) = 40, and two pricing readers (L1 3 days
    # ago, L3 1 day ago) +20: 60. B: one pricing reader within 14 days each... L2 and L5: +20.
    assert {d["id"]: d["account_scores"]["buying_group"] for d in decisions} == {
        "L1": 60,
        "L2": 20,
        "L3": 60,
        "L4": 0,
        "L5": 20,
        "L6": 60,
    }


def test_parquet_leads_with_an_account_column_and_the_accounts_file(tmp_path: Path) -> None:
    """`--engine duckdb --leads LEADS.parquet` reads the leads' `account` column and takes
    the account fields from `--accounts`: the decisions of the same journeys in JSON Lines."""

    policy = _abm_without_recycling(tmp_path)
    journeys, accounts = _abm_journeys(tmp_path)
    leads, events = _as_tables(journeys, tmp_path, ["role", "email_kind", "seniority"])
    as_of = ("--as-of", "2026-11-01")
    status, expected, err = run("score", policy, journeys, "--accounts", accounts, *as_of)
    assert status == 0, err
    status, out, err = run(
        "score", policy, "--leads", str(leads), "--events", str(events),
        "--accounts", accounts, "--engine", "duckdb", *as_of,
    )  # fmt: skip
    assert status == 0, err
    assert out == expected


ACCOUNT_FIELDS_ONLY = """policy "account fields only"
lead { role: enum(security, it, finance, other) }
account { employees: int, tier: enum(strategic, enterprise, commercial) }
event page_view { path: text }
score fit { +10 when role == it
  +20 when account.employees >= 1000
  +5 when account.tier == strategic }
stages { lead
  mql when fit >= 25 and page_view within 14 days }
"""


@pytest.mark.parametrize("text", [ABM_NO_RECYCLE, ACCOUNT_FIELDS_ONLY], ids=["abm", "fields"])
def test_duckdb_in_chunks_with_accounts(text: str, tmp_path: Path) -> None:
    """Deciding in chunks of a few rows: a policy with account scores is decided in one run
    (a lead reads its colleagues wherever they are); one with account fields only is chunked.
    Either way the Python engine's decisions, in input order."""
    from mqldsl.io.scoring import decision_line
    from mqldsl.warehouse.engine import DuckDBEngine

    model = _model(text)
    journeys, accounts = _abm_journeys(tmp_path)
    leads = list(read_leads(model, journeys, None, ReadReport(), accounts))
    evaluator = Evaluator(model)
    python = [decision_line(evaluator.decide(lead, AS_OF)) for lead in leads]
    with DuckDBEngine(model, threads=1, chunk_rows=3) as engine:
        engine.load_leads(iter(leads))
        assert (len(engine._chunks()) == 1) == model.reads_account_scores
        sql = [decision_line(item.decision) for item in engine.decide(AS_OF)]
    assert sql == python
    assert b'"account":"A"' in python[0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("lead { account: text }\naccount { size: int }", "a lead field named `account`"),
        ("lead { role: text }\naccount { id: int }", "an account field named `id`"),
    ],
)
def test_sql_names_that_clash_with_the_account_columns(fields: str, message: str) -> None:
    """With accounts, `leads.account` and `accounts.id` are the tables' own columns (E603)."""
    from mqldsl.warehouse.compiler import sql_diagnostics

    text = f'policy "p"\n{fields}\nevent ev\nstages {{ a\n b when ev ever }}\n'
    model = _model(text)
    found = [(d.code, d.message) for d in sql_diagnostics(model)]
    assert len(found) == 1 and found[0][0] == "E603" and message in found[0][1], found
    # Without accounts, a lead field may be called `account`.
    plain = _model('policy "p"\nlead { account: text }\nevent ev\nstages { a\n b when ev ever }\n')
    assert sql_diagnostics(plain) == []


def test_diff_names_account_level_changes(tmp_path: Path) -> None:
    text = ABM.read_text()
    edited = tmp_path / "abm.mql"
    edited.write_text(
        text.replace(
            "+10 per contact with webinar_attended within 30 days, max 30",
            "+10 per webinar_attended within 30 days, max 30",
        ).replace(
            'count(distinct contact with page_view where path starts with "/pricing" within 14 '
            "days) >= 2",
            'count(distinct contact with page_view where path starts with "/pricing" within 14 '
            "days) >= 3",
        )
    )
    status, out, err = run("diff", str(ABM), str(edited))
    assert status == 0, err
    assert 'rule "Webinar attendees" counts: for each person at the account → for each event' in out
    assert "the number of people at the account with page views" in out
    assert "is at least 3" in out


def test_import_maps_accounts_from_a_companies_table(tmp_path: Path) -> None:
    """`import` fills `account` and `account_profile` from a joined companies table; the
    imported leads are then scored with their colleagues."""
    leads = tmp_path / "contacts.csv"
    leads.write_text(
        "contact_id,company_id,title,email,last_pricing,page\n"
        "c1,acme,Security Director,corporate,2026-10-29,/pricing\n"
        "c2,acme,IT Manager,corporate,2026-10-30,/pricing\n"
        "c3,,IT Manager,corporate,2026-10-30,/pricing\n"
    )
    companies = tmp_path / "companies.csv"
    companies.write_text("company_id,headcount,named\nacme,2400,yes\n")
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        "[source]\n"
        'id = "contact_id"\n'
        'account = "company_id"\n'
        "[profile.role]\n"
        'column = "title"\n'
        'values = { "Security Director" = "security", "IT Manager" = "it" }\n'
        "[profile.email_kind]\n"
        'column = "email"\n'
        "[account_profile.employees]\n"
        'column = "companies.headcount"\n'
        "[account_profile.target]\n"
        'column = "companies.named"\n'
        'values = { "yes" = true, "no" = false }\n'
        "[[events]]\n"
        'type = "page_view"\n'
        'at = { column = "last_pricing", format = "%Y-%m-%d" }\n'
        'fields = { path = { column = "page" } }\n'
        "[tables.companies]\n"
        'key = "company_id"\n'
        'on = "company_id"\n'
    )
    out = tmp_path / "journeys.jsonl"
    code, _, err = run(
        "import",
        str(leads),
        "--policy",
        str(ABM),
        "--mapping",
        str(mapping),
        "--table",
        f"companies={companies}",
        "-o",
        str(out),
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row.get("account") for row in rows] == ["acme", "acme", None]
    assert rows[0]["account_profile"] == {"employees": 2400, "target": True}
    assert "account_profile" not in rows[2]
    status, text, err = run("score", str(ABM), str(out), "--as-of", "2026-11-01T00:00:00Z")
    assert status == 0, err
    decisions = [orjson.loads(line) for line in text.splitlines()]
    # Two people at acme read pricing within 14 days (+20) and it is a named account (+10).
    assert [d["account_scores"]["buying_group"] for d in decisions] == [30, 30, 0]
    assert [d["account"] for d in decisions] == ["acme", "acme", None]


def test_import_mapping_names_unknown_account_fields(tmp_path: Path) -> None:
    leads = tmp_path / "contacts.csv"
    leads.write_text("contact_id,company_id\nc1,acme\n")
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[source]\nid = "contact_id"\naccount = "company"\n[account_profile.employes]\ncolumn = "x"\n'
    )
    code, _, err = run(
        "import", str(leads), "--policy", str(ABM), "--mapping", str(mapping), "-o", "-"
    )
    assert code == 1
    assert "the policy has no account field `employes`; did you mean `employees`?" in err


# ---------------------------------------------------------------- random account policies


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policies(accounts=True), account_leads_of_policy())
def test_compiled_equals_interpreted_on_random_account_policies(
    text: str, account: list[Lead]
) -> None:
    result = check_text(text, "generated.mql")
    assert result.model is not None, [d.message for d in result.diagnostics] + [text]
    compiled = Evaluator(result.model)
    reference = Interpreter(result.model)
    for lead in account:
        fast = compiled.run(lead, POLICY_AS_OF, explain=True)
        slow = reference.result(lead, POLICY_AS_OF)
        assert fast.decision.to_json() == slow.decision.to_json(), text
        # (not explained: the generated walk, its whole scores as ints, written the same)
        plain = compiled.run(lead, POLICY_AS_OF)
        assert decision_line(plain.decision) == decision_line(slow.decision), text
        assert [(s.at, s.stage, s.reason) for s in fast.steps] == [
            (s.at, s.stage, s.reason) for s in slow.steps
        ], text
        assert fast.first_entries == slow.first_entries, text
        assert fast.contributions == slow.contributions, text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(accounts=True))
def test_fmt_keeps_random_account_policies(text: str) -> None:
    from mqldsl.io.formatting import formatted
    from mqldsl.language.parser import parse_text

    once = formatted(parse_text(text, "generated.mql"))
    assert once == formatted(parse_text(once, "generated.mql"))
    first, second = check_text(text, "a.mql").model, check_text(once, "a.mql").model
    assert first is not None and second is not None
    assert first.sha256 == second.sha256


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policies(recycling=False, accounts=True), account_leads_of_policy())  # with hot routes
def test_duckdb_equals_python_on_random_account_policies(text: str, account: list[Lead]) -> None:
    """Random account policies (contact counts, per-contact rules, account aggregates) on
    DuckDB give the Python engine's decisions, byte for byte."""
    from mqldsl.io.scoring import decision_line
    from mqldsl.warehouse.engine import DuckDBEngine

    result = check_text(text, "generated.mql")
    assert result.model is not None, text
    evaluator = Evaluator(result.model)
    python = [decision_line(evaluator.decide(lead, POLICY_AS_OF)) for lead in account]
    with DuckDBEngine(result.model, threads=1) as engine:
        engine.load_leads(iter(account))
        sql = [decision_line(item.decision) for item in engine.decide(POLICY_AS_OF)]
    assert sql == python, text


def test_handoff_packets_read_the_accounts_file(tmp_path: Path) -> None:
    """`score --handoff --accounts`: the packets are made with the account's fields (a
    named account routes to abm_sdr) and its colleagues (two pricing readers)."""
    accounts = _write(
        tmp_path / "a.jsonl",
        [{"id": "A", "profile": {"target": True, "tier": "strategic", "employees": 3000}}],
    )
    rows = [
        _journey(
            "L1",
            "A",
            [3],
            profile={"role": "security", "seniority": "director", "email_kind": "corporate"},
        ),
        _journey(
            "L2",
            "A",
            [2],
            profile={"role": "it", "seniority": "manager", "email_kind": "corporate"},
        ),
    ]
    path = _write(tmp_path / "j.jsonl", rows)
    status, out, err = run(
        "score",
        str(ABM),
        path,
        "--accounts",
        accounts,
        "--handoff",
        "--as-of",
        "2026-11-01T00:00:00Z",
    )
    assert status == 0, err
    packets = [orjson.loads(line) for line in out.splitlines()]
    assert [p["lead"] if "lead" in p else p["id"] for p in packets] == ["L1", "L2"]
    assert all("abm_sdr" in line for line in out.splitlines())


def test_a_rejected_accounts_line_rejects_its_accounts_leads(tmp_path: Path) -> None:
    """A lead whose account's line was rejected was decided without the account's fields (a
    wrong decision that looked right): it is rejected with it (E716), on every engine and
    from tables too. The same account given twice with the same profile is taken; with
    another, the message says which field differs."""

    policy = _abm_without_recycling(tmp_path)
    journeys, accounts = _abm_journeys(tmp_path)
    good = Path(accounts).read_text().splitlines()
    bad = good[0].replace('"strategic"', '"Strategic"')
    Path(accounts).write_text("\n".join([bad, good[1], good[1]]) + "\n")
    as_of = ("--as-of", "2026-11-01")
    lines = Path(journeys).read_text().splitlines()
    in_a = [n for n, line in enumerate(lines, 1) if orjson.loads(line).get("account") == "A"]
    assert len(in_a) == 3
    outputs = []
    for engine in ("python", "duckdb"):
        code, out, err = run("score", policy, journeys, "--accounts", accounts, "--engine", engine, *as_of)  # fmt: skip
        assert code == 1, err
        assert all(orjson.loads(line).get("account") != "A" for line in out.splitlines())
        for n in in_a:
            assert (
                f"{journeys}:{n}: error[E716]: its account `A` was rejected at {accounts} line 1"
                in err
            )
        assert f"{accounts}:1: error[E705]" in err and "E704" not in err  # (line 3 = line 2)
        assert err.splitlines()[-1] == "7 read, 3 used, 4 rejected"
        outputs.append(out)
    assert outputs[0] == outputs[1]
    # From tables: the same leads rejected, by id.
    leads, events = _as_tables(journeys, tmp_path, ["role"])
    code, out, err = run(
        "score", policy, "--leads", str(leads), "--events", str(events),
        "--accounts", accounts, "--engine", "duckdb", *as_of,
    )  # fmt: skip
    assert code == 1, err
    assert sorted(orjson.loads(line)["id"] for line in out.splitlines()) == ["L2", "L4", "L5"]
    assert err.count("error[E716]") == 3 and "lead `L1`: its account `A`" in err
    # Another profile for one account: the field that differs is named.
    other = good[1].replace('"commercial"', '"enterprise"')
    Path(accounts).write_text("\n".join([good[0], good[1], other]) + "\n")
    code, out, err = run("score", policy, journeys, "--accounts", accounts, *as_of)
    assert code == 1
    assert (
        f"{accounts}:3: error[E704]: account `B` is given twice (first at {accounts} line 2): "
        '`tier` is "commercial" there and "enterprise" here'
    ) in err
    # which profile is B's is not known: its leads are rejected too (they were decided with
    # the first)
    assert f"its account `B` was rejected at {accounts} line 2 and line 3" in err
    assert all(orjson.loads(line).get("account") != "B" for line in out.splitlines())


def test_rejected_records_are_listed_in_line_order(tmp_path: Path) -> None:
    # Line 2's account profile disagrees (E715, found when the account is settled, after
    # line 4 was read); line 4's event has no instant (E706). Listed 4 then 2 before.
    rows = [
        _journey("L1", "A", [3], account_profile={"employees": 5000}),
        _journey("L2", "A", [2], account_profile={"employees": 6000}),
        _journey("L3", "A", [1]),
        _journey("L4", "A", [1]),
    ]
    rows[3]["events"] = [{"type": "page_view", "at": "bad", "path": "/"}]
    path = _write(tmp_path / "j.jsonl", rows)
    status, _, err = run("score", str(ABM), path, "--as-of", "2026-11-01T00:00:00Z")
    assert status == 1
    problems = [line for line in err.splitlines() if ": error[" in line]
    assert [line.split(": error[")[1][:4] for line in problems] == ["E715", "E706"]
    assert problems[0].startswith(f"{path}:2:") and problems[1].startswith(f"{path}:4:")
    assert "(`employees` is 5000 there and 6000 here)" in problems[0]


def _as_tables(journeys: str, tmp_path: Path, fields: list[str]) -> tuple[Path, Path]:
    """The journeys as a warehouse exports them: a leads table (id, account and the profile
    ``fields``) and an events table (lead_id, type, at, path), Parquet."""
    import duckdb

    leads, events = tmp_path / "leads.parquet", tmp_path / "events.parquet"
    picked = "".join(f", profile.{name} AS {name}" for name in fields)
    struct = ", ".join(f"{name} VARCHAR" for name in fields)
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT id, account{picked} FROM read_json('{journeys}', columns = "
        f"{{id: 'VARCHAR', account: 'VARCHAR', profile: 'STRUCT({struct})'}})) "
        f"TO '{leads}' (FORMAT parquet)"
    )
    con.execute(
        f'COPY (SELECT id AS lead_id, e.type AS type, e."at" AS "at", e.path AS path FROM ('
        f"SELECT id, unnest(events) AS e FROM read_json('{journeys}', columns = {{id: "
        "'VARCHAR', events: 'STRUCT(type VARCHAR, \"at\" TIMESTAMP, path VARCHAR)[]'}))) "
        f"TO '{events}' (FORMAT parquet)"
    )
    return leads, events
