"""Handoff packets (`score --handoff`): what sales receives for each lead handed over at
or before the as-of instant, checked against the journeys read independently."""

from __future__ import annotations

import json
from pathlib import Path

from .helpers import run
from .test_explain import POLICY, record


def test_packets_for_handed_over_leads_only_with_reasons_and_activity(tmp_path: Path) -> None:
    policy = tmp_path / "p.mql"
    policy.write_text(POLICY)
    hot = [
        {"type": "page_view", "at": "2026-11-28T10:00:00Z", "path": "/pricing"},
        {"type": "page_view", "at": "2026-11-29T10:00:00Z", "path": "/docs"},
        {"type": "page_view", "at": "2026-11-30T10:00:00Z", "path": "/pricing"},
        {"type": "demo_request", "at": "2026-11-30T11:00:00Z"},
        {"type": "page_view", "at": "2026-12-02T10:00:00Z", "path": "/after"},  # after as-of
    ]
    cold = [{"type": "page_view", "at": "2026-11-30T10:00:00Z", "path": "/blog"}]
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(record("HOT", hot) + "\n" + record("COLD", cold) + "\n")
    out = tmp_path / "packets.jsonl"
    code, _, err = run(
        "score", str(policy), str(journeys), "--as-of", "2026-12-01T00:00:00Z",
        "--handoff", "-o", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert "1 handoff packet; 1 of 2 leads read had no handoff at or before the as-of" in err
    (packet,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert packet["id"] == "HOT"
    # The packet names the policy as the lead's decision does.
    code, decisions, _ = run("score", str(policy), str(journeys), "--as-of", "2026-12-01T00:00:00Z")
    assert json.loads(decisions.splitlines()[0])["policy"] == packet["policy"]
    assert packet["policy"]["version"] == 3 and len(packet["policy"]["sha256"]) == 64
    assert (packet["queue"], packet["sla"]) == ("sdr_inbound", "5 minutes")
    assert (packet["handed_over_at"], packet["due"]) == (
        "2026-11-30T11:00:00Z",
        "2026-11-30T11:05:00Z",
    )
    # fit 65 (size 500); intent: the demo request +35 and two pricing views +5 (under a
    # week old: no decay); activity: three page views +15.
    assert packet["scores"] == {"fit": 65, "intent": 45, "activity": 15}
    assert [(r["reason"], r["points"]) for r in packet["reasons"]] == [
        ("Right size", 65),
        ("At least one demo request in the last 30 days", 35),
        ("Browsing", 15),
        ('For each page view where path starts with "/pricing" in the last 60 days', 10),
    ]
    assert [e["fields"]["path"] for e in packet["reasons"][3]["events"]] == ["/pricing", "/pricing"]
    # Key activity: every event up to the as-of instant, by type, the most recent first.
    seen = [e for e in hot if e["at"] <= "2026-12-01T00:00:00Z"]
    views = [e for e in seen if e["type"] == "page_view"]
    assert packet["activity"] == [
        {
            "event": "demo_request",
            "description": "Asked for a demo",
            "count": 1,
            "first": "2026-11-30T11:00:00Z",
            "last": "2026-11-30T11:00:00Z",
            "values": {},
        },
        {
            "event": "page_view",
            "description": None,
            "count": len(views),
            "first": views[0]["at"],
            "last": views[-1]["at"],
            "values": {"path": ["/pricing", "/docs"]},
        },
    ]


def test_a_packet_says_why_at_the_handoff_and_lists_penalties(tmp_path: Path) -> None:
    policy = tmp_path / "p.mql"
    policy.write_text(
        POLICY.replace(
            '+65 when size >= 100 "Right size"',
            '+80 when size >= 100 "Right size"\n  -15 when channel == inbound "Inbound, not qualified by SDRs"',
        )
    )
    events = [
        {"type": "page_view", "at": "2026-11-28T10:00:00Z", "path": "/pricing"},
        {"type": "demo_request", "at": "2026-11-30T11:00:00Z"},
    ]
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(record("P", events) + "\n")
    code, out, err = run(
        "score", str(policy), str(journeys), "--as-of", "2026-12-01T00:00:00Z", "--handoff"
    )
    assert code == 0, err
    packet = json.loads(out)
    # At the handoff (the demo request): fit 80 - 15 = 65; intent 5 + 35 = 40 < 50, so the
    # second option held: a demo request within 30 days and fit 65 >= 60.
    assert packet["at_handoff"] == {
        "scores": {"fit": 65, "intent": 40, "activity": 5},
        "events": [{"at": "2026-11-30T11:00:00Z", "type": "demo_request", "fields": {}}],
        "held": [
            "demo_request within 30 days: 1 matching, the last demo_request at that moment "
            "(2026-11-30 11:00 UTC)",
            "fit 65 >= 60",
        ],
    }
    assert [(p["reason"], p["points"]) for p in packet["penalties"]] == [
        ("Inbound, not qualified by SDRs", -15)
    ]
    assert all(r["points"] > 0 for r in packet["reasons"])


def test_handoff_refuses_options_it_cannot_honour(tmp_path: Path) -> None:
    policy = tmp_path / "p.mql"
    policy.write_text(POLICY)
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(record("A", []) + "\n")
    refused = (
        ["-o", str(tmp_path / "x.csv")],
        ["-o", str(tmp_path / "x.json")],
        ["--engine", "duckdb"],
        ["--explain"],
        ["--crm-map", "mql=MQL"],
        ["--memory-limit", "1GB"],
    )
    for extra in refused:
        code, _, err = run(
            "score", str(policy), str(journeys), "--as-of", "2026-12-01T00:00:00Z",
            "--handoff", *extra,
        )  # fmt: skip
        assert code == 2 and "Traceback" not in err, (extra, err)


def test_a_packet_names_the_colleague_whose_event_tipped_the_lead(tmp_path: Path) -> None:
    """X1 becomes an MQL when its colleague X2 views a pricing page (SPEC §9): the packet's
    events at the handoff, and the account rule's events, say whose they are."""
    lines = [
        {
            "id": "X1",
            "account": "ACC",
            "account_profile": {"tier": "strategic", "target": True, "employees": 4000},
            "profile": {"email_kind": "corporate", "role": "security", "seniority": "director"},
            "events": [{"type": "page_view", "at": "2026-11-20T10:00:00Z", "path": "/pricing"}],
        },
        {
            "id": "X2",
            "account": "ACC",
            "profile": {"email_kind": "corporate", "role": "finance", "seniority": "manager"},
            "events": [{"type": "page_view", "at": "2026-11-22T10:00:00Z", "path": "/pricing/x"}],
        },
    ]
    journeys = tmp_path / "j.jsonl"
    journeys.write_text("".join(json.dumps(line) + "\n" for line in lines))
    policy = str(Path(__file__).parent.parent / "policies" / "abm.mql")
    code, out, err = run(
        "score", policy, str(journeys), "--as-of", "2026-11-30T00:00:00Z", "--handoff"
    )
    assert code == 0, err
    packet = json.loads(out.splitlines()[0])
    assert packet["at_handoff"]["events"] == [
        {
            "at": "2026-11-22T10:00:00Z",
            "type": "page_view",
            "fields": {"path": "/pricing/x"},
            "contact": "X2",
        }
    ]
    contacts = {e.get("contact") for r in packet["reasons"] for e in r["events"]}
    assert "X2" in contacts
