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
    assert "1 handoff packet (1 leads not handed over at the as-of instant)" in err
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
    assert [e["path"] for e in packet["reasons"][3]["events"]] == ["/pricing", "/pricing"]
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


def test_handoff_refuses_options_it_cannot_honour(tmp_path: Path) -> None:
    policy = tmp_path / "p.mql"
    policy.write_text(POLICY)
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(record("A", []) + "\n")
    for extra in (["-o", str(tmp_path / "x.csv")], ["--engine", "duckdb"], ["--explain"]):
        code, _, err = run(
            "score", str(policy), str(journeys), "--as-of", "2026-12-01T00:00:00Z",
            "--handoff", *extra,
        )  # fmt: skip
        assert code == 2 and "Traceback" not in err, (extra, err)
