"""SLA compliance per queue and the scores at the MQL instant, each against
an independent computation written here: the Acme world's journeys and the
policy's decisions (its stage timeline), with the sales replay written out
as docs/scenarios.md describes it, and the histograms binned in exact
arithmetic. Then the reports that show them (terminal, Markdown, HTML)."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Event, Lead
from mqldsl.io.journeys import ReadReport
from mqldsl.io.policy import load_policy
from mqldsl.io.scoring import read_leads
from mqldsl.render import reports
from mqldsl.simulation.results import SimulationReport
from mqldsl.simulation.simulate import SimulationOptions, simulate
from mqldsl.simulation.sources import Source, generate_journeys
from mqldsl.simulation.whatif import whatif

from .conftest import ROOT
from .sales_by_hand import Request, Touched, accepted, replay, slots, sql_chance, standing

SCENARIO = ROOT / "simulations" / "acme.toml"
POLICY = ROOT / "policies" / "acme.mql"
SEED = 5
HOUR = 3600.0
# policies/acme.mql: `route mql to sdr_inbound when channel == inbound, sla 5 minutes`,
# `route mql to sdr_outbound, sla 1 day`, `route sql to account_exec, sla 1 day`
SLA = {"sdr_inbound": 5 * 60.0, "sdr_outbound": 24 * HOUR, "account_exec": 24 * HOUR}
LATER = ("mql", "sql")  # the MQL stage and the ones after it


def _queue(stage: str, profile: dict[str, Any]) -> str:
    if stage == "sql":
        return "account_exec"
    return "sdr_inbound" if profile.get("channel") == "inbound" else "sdr_outbound"


def _requests(evaluator: Evaluator, lead: Lead, profile: dict[str, Any], as_of: float) -> Any:
    """The lead's decision and its requests for a touch: every handoff of its timeline (SPEC
    §8: entries, re-entries and the SQL entry), to the queue its stage's routes choose; at
    one instant the last stands."""
    result = evaluator.run(lead, as_of)
    return result, standing((h.at, _queue(h.stage, profile)) for h in result.handoffs)


def _decide(journeys: Path, as_of: float, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Each lead of the journeys under policies/acme.mql run with ``params``:
    whether a buyer, its scores at the as-of, for an MQL its handoff (the
    first step of its timeline at the MQL stage or later), queue and scores
    at the handoff, and its requests for a touch."""
    model = load_policy(str(POLICY))
    rows = {j["id"]: j for j in map(json.loads, journeys.read_text().splitlines())}
    evaluator = Evaluator(model, params)
    leads = []
    for lead in read_leads(model, str(journeys), None, ReadReport()):
        row = rows[lead.id]
        result, requests = _requests(evaluator, lead, row["profile"], as_of)
        step = next((s for s in result.steps if s.stage in LATER), None)
        entry = {
            "id": lead.id,
            "buyer": bool(row["truth"].get("buyer")),
            "now": dict(result.decision.scores),
            "handoff": None,
            "lead": lead,
            "row": row,
            "params": params,
            "requests": requests,
        }
        if step is not None:
            entry["handoff"] = step.at
            entry["queue"] = _queue(step.stage, row["profile"])
            entry["then"] = dict(evaluator.run(lead, step.at).decision.scores)
        leads.append(entry)
    return leads


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One seeded Acme world: its journeys, the policy's decisions
    (:func:`_decide`) and mqldsl's report over the same world."""
    journeys = tmp_path_factory.mktemp("acme") / "acme.jsonl"
    generate_journeys(SCENARIO, journeys, seed=SEED)
    config = tomllib.loads(SCENARIO.read_text())
    start = config["scenario"]["start"]
    end = start + dt.timedelta(days=config["scenario"]["days"])
    as_of = dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC).timestamp()
    report = simulate(load_policy(str(POLICY)), Source(scenario=SCENARIO, seed=SEED))
    return {
        "journeys": journeys,
        "leads": _decide(journeys, as_of, {}),
        "as_of": as_of,
        "config": config,
        "start": start,
        "report": report,
    }


def _replay(
    world: dict[str, Any], leads: list[dict[str, Any]] | None = None, sales_replay: bool = True
) -> dict[str, dict[str, int]]:
    """SLA compliance per queue from the sales replay written out (tests/sales_by_hand.py):
    each queue touches its requests first come, first served, at its evenly spaced
    working-hour slots, a touch answering the lead's earlier requests in its queue; an
    accepted lead gets `sales_accepted` at its touch and makes the requests the policy then
    gives it. A request is judged once touched or once its deadline has passed by the as-of
    instant, and met when touched by then. Without ``sales_replay`` (real journeys), only
    the requests per queue."""
    sales = world["config"]["sales"]
    as_of = world["as_of"]
    decided = {lead["id"]: lead for lead in (world["leads"] if leads is None else leads)}
    model = load_policy(str(POLICY))
    evaluator = Evaluator(model, next(iter(decided.values()))["params"])

    def capacity(queue: str) -> list[float]:
        per_day = (
            sales.get("queues", {})
            .get(queue, {})
            .get("capacity_per_day", sales["sdr_capacity_per_day"])
        )
        return slots(round(per_day), sales, world["start"], as_of)

    def accept(lead_id: str, handoff: float, touch: float) -> list[Request] | None:
        entry = decided[lead_id]
        if not accepted(SEED, lead_id, sql_chance(sales, entry["row"]["truth"], handoff, touch)):
            return None
        lead = entry["lead"]
        event = Event(at=touch, type="sales_accepted", fields={}, index=len(lead.events))
        moved = msgspec.structs.replace(
            lead, events=tuple(sorted([*lead.events, event], key=lambda e: e.at))
        )
        return _requests(evaluator, moved, entry["row"]["profile"], as_of)[1]

    requests = {i: lead["requests"] for i, lead in decided.items()}
    mqls = {i: lead["handoff"] for i, lead in decided.items() if lead["handoff"] is not None}
    if sales_replay:
        replayed = replay(requests, mqls, capacity, accept)
    else:
        replayed = [Touched(i, at, q, None, False) for i, r in requests.items() for at, q in r]
    found: dict[str, dict[str, int]] = {}
    for queue, sla in SLA.items():
        mine = [t for t in replayed if t.queue == queue]
        judged = [t for t in mine if t.touch is not None or t.at + sla <= as_of]
        met = [t for t in judged if t.touch is not None and t.touch <= t.at + sla]
        found[queue] = {"handoffs": len(mine), "judged": len(judged), "met": len(met)}
    return found


def test_sla_per_queue_matches_an_independent_replay(world: dict[str, Any]) -> None:
    report: SimulationReport = world["report"]
    expected = _replay(world)
    assert expected["sdr_inbound"]["handoffs"] > 50 and expected["sdr_outbound"]["handoffs"] > 20
    queues = {q["queue"]: q for q in report.sla["queues"]}
    assert list(queues) == ["sdr_inbound", "sdr_outbound", "account_exec"]
    assert report.sla["note"] is None
    for queue, want in expected.items():
        got = queues[queue]
        assert got["handoffs"] == want["handoffs"], queue
        assert got["with_sla"] == want["handoffs"], queue
        assert got["judged"] == want["judged"], queue
        assert got["met"] == want["met"], queue
        assert got["not_due"] == want["handoffs"] - want["judged"], queue
        share = round(want["met"] / want["judged"], 4) if want["judged"] else None
        assert got["share"] == share, queue
    assert queues["sdr_inbound"]["sla"] == "5 minutes"
    # the queues add up to the report's overall SLA figure
    judged = sum(w["judged"] for w in expected.values())
    met = sum(w["met"] for w in expected.values())
    assert report.metrics["sla_met"] == round(met / judged, 4)
    # a 5-minute SLA is met far less often than a 1-day one
    assert queues["sdr_inbound"]["share"] < queues["sdr_outbound"]["share"]


def counts(pairs: list[tuple[float, bool]], buyers: bool, low: float, high: float) -> list[int]:
    """20 equal bins from ``low`` to ``high`` (the last one closed), in exact
    arithmetic: the leads of one group (buyers or not) in each."""
    bins = [0] * 20
    for value, buyer in pairs:
        if buyer == buyers:
            share = (Fraction(value) - Fraction(low)) / (Fraction(high) - Fraction(low))
            bins[min(19, int(share * 20))] += 1
    return bins


def test_scores_at_the_mql_instant_are_binned_as_computed_here(world: dict[str, Any]) -> None:
    report: SimulationReport = world["report"]
    mqls = [lead for lead in world["leads"] if lead["handoff"] is not None]
    assert report.metrics["mqls"] == len(mqls)
    moved = 0
    for name, data in report.score_distributions.items():
        now = [(lead["now"][name], lead["buyer"]) for lead in world["leads"]]
        then = [(lead["then"][name], lead["buyer"]) for lead in mqls]
        moved += sum(lead["now"][name] != lead["then"][name] for lead in mqls)
        low = min(v for v, _ in now + then)
        high = max(v for v, _ in now + then)
        assert data["edges"][0] == low and data["edges"][-1] == pytest.approx(high)

        assert data["buyers"] == counts(now, True, low, high), name
        assert data["others"] == counts(now, False, low, high), name
        assert data["at_mql"]["buyers"] == counts(then, True, low, high), name
        assert data["at_mql"]["others"] == counts(then, False, low, high), name
        assert data["at_mql"]["leads"] == len(mqls)
        medians = data["medians"]["at_mql"]
        assert medians["buyers"] == statistics.median(v for v, b in then if b)
        assert medians["others"] == statistics.median(v for v, b in then if not b)
        assert data["medians"]["as_of"]["buyers"] == statistics.median(v for v, b in now if b)
    assert moved > 0  # the two instants differ: the test can tell them apart


def test_the_reports_show_sla_by_queue_and_both_histograms(world: dict[str, Any]) -> None:
    data = world["report"].to_json()
    inbound = next(q for q in data["sla"]["queues"] if q["queue"] == "sdr_inbound")
    cell = f"{inbound['met']} of {inbound['judged']} ({reports.show(inbound['share'])})"
    text = reports.simulate_text(data)
    assert "SLA met by queue" in text and cell in text
    markdown = reports.simulate_markdown(data)
    assert "## SLA by queue" in markdown
    assert f"| sdr_inbound | 5 minutes | {inbound['handoffs']} | {cell} |" in markdown
    assert "## Scores now and when each lead became an MQL" in markdown
    html = reports.simulate_html(data)
    assert "<h2>SLA by queue</h2>" in html and f"<td>{cell}</td>" in html
    for name in data["score_distributions"]:
        assert f"{name} now (at the as-of)" in html
        assert f"{name} when each lead became an MQL" in html
        assert f"{name} score at the MQL handoff" in html


def test_journeys_without_touches_say_sla_is_not_measured(
    world: dict[str, Any], tmp_path: Path
) -> None:
    journeys = tmp_path / "acme.jsonl"
    generate_journeys(SCENARIO, journeys, seed=SEED)
    model = load_policy(str(POLICY))
    report = simulate(model, Source(journeys=journeys, as_of=world["as_of"]))
    expected = _replay(world, sales_replay=False)
    assert report.sla["note"] and "not measured" in report.sla["note"]
    for entry in report.sla["queues"]:
        assert entry["handoffs"] == expected[entry["queue"]]["handoffs"]
        assert entry["judged"] is entry["met"] is entry["share"] is None
    data = report.to_json()
    assert "not measured" in reports.simulate_text(data)
    assert "0 of 0" not in reports.simulate_markdown(data)
    assert "| not measured |" in reports.simulate_markdown(data)


def test_the_whatif_shows_sla_by_queue_under_both_policies(world: dict[str, Any]) -> None:
    model = load_policy(str(POLICY))
    report = whatif(
        model,
        None,
        Source(scenario=SCENARIO, seed=SEED),
        SimulationOptions(params={"mql_intent_min": 30}),
        replications=2,
    ).to_json()
    base = _replay(world)
    proposed = _replay(world, _decide(world["journeys"], world["as_of"], {"mql_intent_min": 30}))
    assert base != proposed
    for side, expected in (("base", base), ("proposed", proposed)):
        for entry in report[side]["sla"]["queues"]:
            want = expected[entry["queue"]]
            assert (entry["handoffs"], entry["judged"], entry["met"]) == (
                want["handoffs"],
                want["judged"],
                want["met"],
            ), (side, entry["queue"])
    inbound = [base["sdr_inbound"], proposed["sdr_inbound"]]
    cells = [f"{q['met']} of {q['judged']}" for q in inbound]
    markdown = reports.whatif_markdown(report)
    row = next(line for line in markdown.splitlines() if line.startswith("| sdr_inbound |"))
    assert cells[0] in row and cells[1] in row and row.index(cells[0]) < row.rindex(cells[1])
    assert "Figures from replication 1." in markdown
    html = reports.whatif_html(report)
    assert "<h2>SLA by queue</h2>" in html and "met the SLA (proposed)" in html
    assert "sdr_inbound" in reports.whatif_text(report)


def test_duckdb_gives_the_same_scores_at_the_mql_instant(world: dict[str, Any]) -> None:
    model = load_policy(str(POLICY))
    source = Source(journeys=world["journeys"], as_of=world["as_of"])
    python = simulate(model, source).score_distributions
    duckdb = simulate(model, source, SimulationOptions(engine="duckdb")).score_distributions
    assert duckdb == python
    assert all(data["at_mql"]["leads"] > 0 for data in python.values())
