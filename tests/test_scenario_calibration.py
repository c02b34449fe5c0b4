"""The shipped scenarios against the world: Acme's MQL precision and
MQL-to-SQL inside published B2B ranges, the Olist scenario's shape over time
against the real CSVs, and the scenario features that express them
(`[[periods]]`, `non_buyers_evaluate`). Every figure is computed here, from
the generated journeys and the policy's decisions, not read from mqldsl's
metrics (which are then compared with it)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import statistics
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mqldsl.analysis.checker import check_file
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Event, Lead
from mqldsl.io.journeys import ReadReport
from mqldsl.io.policy import load_policy
from mqldsl.io.scoring import read_leads
from mqldsl.simulation.scenario import ScenarioError, load_scenario
from mqldsl.simulation.simulate import simulate
from mqldsl.simulation.sources import Source, generate_journeys

from .conftest import ROOT
from .sales_by_hand import Request, accepted, replay, slots, sql_chance, standing

DATA = ROOT.parent / "shared" / "data"
ACME_SCENARIO = ROOT / "simulations" / "acme.toml"
OLIST_SCENARIO = ROOT / "simulations" / "olist.toml"

# Published ranges (sources and reasoning in docs/scenarios.md). MQL to SQL: from the
# cross-industry median (13 %) to top performers (40 %). MQL precision (share of MQLs
# with a real buying project): at least about the MQL-to-SQL median, at most the middle
# of the 40-60 % of MQLs that sales accepts in demand-waterfall benchmarks (a judgement).
MQL_TO_SQL_RANGE = (0.13, 0.40)
PRECISION_RANGE = (0.15, 0.50)
HOUR = 3600.0


def _instant(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _acme_queue(profile: dict[str, Any]) -> str:
    return "sdr_inbound" if profile.get("channel") == "inbound" else "sdr_outbound"


def _enterprise_queue(profile: dict[str, Any]) -> str:
    if profile.get("target_account") is True:
        return "strategic_ae"
    return {"na": "bdr_na", "emea": "bdr_emea", "apac": "bdr_apac"}.get(
        profile.get("region", ""), "bdr_latam"
    )


def _saas_queue(profile: dict[str, Any]) -> str:
    if profile.get("company_size", 0) >= 200:
        return "sales_assist"
    return "sdr_plg" if profile.get("country") in ("US", "CA") else "sdr_plg_intl"


def _abm_queue(journey: dict[str, Any], stage: str) -> str:
    if stage == "sql":
        return "ae_team"
    return "abm_sdr" if journey["account_profile"].get("target") is True else "sdr_inbound"


# The queue of an entry's handoff as each policy's routes say (on profile fields; abm's on
# the account's `target`; an SQL goes to the account executives).
QUEUES = {
    "acme": lambda journey, stage: (
        "account_exec" if stage == "sql" else _acme_queue(journey["profile"])
    ),
    "enterprise": lambda journey, stage: (
        "enterprise_ae" if stage == "sql" else _enterprise_queue(journey["profile"])
    ),
    "saas_trial": lambda journey, stage: (
        "account_exec" if stage == "sql" else _saas_queue(journey["profile"])
    ),
    "abm": _abm_queue,
}
SQL_QUEUE = {"acme": "account_exec", "enterprise": "enterprise_ae", "saas_trial": "account_exec",
             "abm": "ae_team"}  # fmt: skip
# The event each policy's SQL stage asks for: the replay records an acceptance as it.
ACCEPTANCE = {
    "acme": "sales_accepted",
    "enterprise": "sales_accepted",
    "saas_trial": "sales_accepted",
    "abm": "pricing_call",
}


def funnel(name: str, seed: int, tmp: Path) -> dict[str, Any]:
    """Precision and the expected MQL-to-SQL of policies/NAME.mql on one
    seeded world of simulations/NAME.toml, from the journeys and the
    policy's decisions alone."""
    scenario = ROOT / "simulations" / f"{name}.toml"
    config = tomllib.loads(scenario.read_text())
    journeys = tmp / f"{name}{seed}.jsonl"
    generate_journeys(scenario, journeys, seed=seed)
    model = load_policy(str(ROOT / "policies" / f"{name}.mql"))
    start = config["scenario"]["start"]
    end = start + dt.timedelta(days=config["scenario"]["days"])
    as_of = dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC).timestamp()
    # the policy's decisions: the first instant each lead reached the MQL stage or later,
    # and every handoff of its timeline (SPEC §8): an entry's goes to the queue its stage's
    # routes choose (QUEUES), a hot event's (saas_trial's `route mql to sdr_inbound on
    # sales_contact_request`) to that route's queue; at one instant the last stands.
    evaluator = Evaluator(model, {})
    leads = {j["id"]: j for j in map(json.loads, journeys.read_text().splitlines())}
    read = {lead.id: lead for lead in read_leads(model, str(journeys), None, ReadReport())}

    def made(lead: Lead) -> tuple[float | None, list[Request]]:
        result = evaluator.run(lead, as_of)
        entries = result.first_entries
        entered = [entries[s][0] for s in ("mql", "sql") if s in entries]
        asked = standing(
            (
                h.at,
                model.routes[h.route].queue
                if h.event >= 0
                else QUEUES[name](leads[lead.id], h.stage),
            )
            for h in result.handoffs
        )
        return (min(entered) if entered else None), asked

    handoffs = []
    requests: dict[str, list[Request]] = {}
    for lead in read.values():
        first, requests[lead.id] = made(lead)
        if first is not None:
            handoffs.append((first, lead.id))
    buyers = [i for _, i in handoffs if leads[i]["truth"]["buyer"]]
    # The sales replay, written out (tests/sales_by_hand.py): a buyer touched before its
    # window closes becomes an SQL with probability sql_rate * 0.5^(delay / half-life), a
    # non-buyer with non_buyer_sql_rate; an accepted lead gets the acceptance event at its
    # touch and makes the requests the policy then gives it.
    sales = config["sales"]
    chances: dict[str, float] = {}

    def accept(lead_id: str, handoff: float, touch: float) -> list[Request] | None:
        chance = sql_chance(sales, leads[lead_id]["truth"], handoff, touch)
        chances[lead_id] = chance
        if not accepted(seed, lead_id, chance):
            return None
        lead = read[lead_id]
        event = Event(at=touch, type=ACCEPTANCE[name], fields={}, index=len(lead.events))
        moved = msgspec.structs.replace(
            lead, events=tuple(sorted([*lead.events, event], key=lambda e: e.at))
        )
        return made(moved)[1]

    def capacity(queue: str) -> list[float]:
        per_day = (
            sales.get("queues", {})
            .get(queue, {})
            .get("capacity_per_day", sales["sdr_capacity_per_day"])
        )
        return slots(round(per_day), sales, start, as_of)

    replayed = replay(requests, dict((i, at) for at, i in handoffs), capacity, accept)
    delays = [(t.touch - t.at) / HOUR for t in replayed if t.touch is not None]
    # an MQL never touched by the as-of instant has no chance
    outcomes = [chances.get(i, 0.0) for _, i in handoffs]
    mqls = len(handoffs)
    return {
        "journeys": journeys,
        "mqls": mqls,
        "precision": len(buyers) / mqls,
        "mql_to_sql": sum(outcomes) / mqls,
        "mql_to_sql_sd": math.sqrt(sum(p * (1 - p) for p in outcomes)) / mqls,
        "median_delay": statistics.median(delays),
        "requests": Counter(t.queue for t in replayed),
    }


@pytest.mark.parametrize(
    ("name", "seed"),
    # each scenario's own seed first
    [
        ("acme", 42),
        ("acme", 1),
        ("acme", 2),
        ("enterprise", 11),
        ("saas_trial", 7),
        ("abm", 19),
        ("abm", 3),
    ],
)
def test_precision_and_mql_to_sql_are_in_the_published_ranges(
    name: str, seed: int, tmp_path: Path
) -> None:
    found = funnel(name, seed, tmp_path)
    assert PRECISION_RANGE[0] <= found["precision"] <= PRECISION_RANGE[1], found
    assert MQL_TO_SQL_RANGE[0] <= found["mql_to_sql"] <= MQL_TO_SQL_RANGE[1], found
    # mqldsl's report over the same world says the same
    model = load_policy(str(ROOT / "policies" / f"{name}.mql"))
    scenario = ROOT / "simulations" / f"{name}.toml"
    simulated = simulate(model, Source(scenario=scenario, seed=seed))
    report = simulated.metrics
    assert report["mqls"] == found["mqls"]
    assert report["mql_precision"] == round(found["precision"], 4)
    # its SQLs are draws: within four standard deviations of the expected rate
    assert abs(report["mql_to_sql"] - found["mql_to_sql"]) <= 4 * found["mql_to_sql_sd"] + 1e-3
    assert MQL_TO_SQL_RANGE[0] <= report["mql_to_sql"] <= MQL_TO_SQL_RANGE[1]
    assert abs(report["median_hours_to_first_touch"] - found["median_delay"]) < 0.01
    # every request for a touch (SPEC §8), queue by queue: re-entries and SQL handoffs too
    queues = simulated.sla["queues"]
    assert {q["queue"]: q["handoffs"] for q in queues if q["handoffs"]} == found["requests"]
    assert found["requests"][SQL_QUEUE[name]] > 0


def test_acme_non_buyers_engage_like_buyers(tmp_path: Path) -> None:
    """Non-buyers request demos, start trials and ask for ROI figures: the
    policy cannot tell them from buyers by those events alone."""
    journeys = tmp_path / "acme.jsonl"
    generate_journeys(ACME_SCENARIO, journeys)
    rows = [json.loads(line) for line in journeys.read_text().splitlines()]
    for kind in ("demo_request", "trial_started", "roi_calc_request"):
        doing = [r for r in rows if any(e["type"] == kind for e in r["events"])]
        share = sum(not r["truth"]["buyer"] for r in doing) / len(doing)
        assert 0.3 < share < 0.9, (kind, share)  # neither all buyers nor all noise
    personas = Counter(
        r["truth"]["persona"]
        for r in rows
        if not r["truth"]["buyer"] and any(e["type"] == "demo_request" for e in r["events"])
    )
    for persona in ("student", "consultant", "competitor", "tire_kicker", "security_buyer"):
        assert personas[persona] > 0, personas
    assert all("window_closes" not in r["truth"] for r in rows if not r["truth"]["buyer"])


# ---------------------------------------------------------------- Olist over time

OLIST = DATA / "olist"


def _week(day: dt.date) -> int:
    """Weeks since the first day of the Olist export (2017-06-14)."""
    return (day - dt.date(2017, 6, 14)).days // 7


def _shape(days: list[tuple[dt.date, bool]]) -> dict[str, Any]:
    weeks = Counter(_week(d) for d, _ in days)
    months = Counter(d.strftime("%Y-%m") for d, _ in days)
    years = {year: [won for d, won in days if d.year == year] for year in (2017, 2018)}
    return {
        "weeks": [weeks[w] for w in range(_week(dt.date(2018, 5, 31)) + 1)],
        "months": months,
        "share_2017": len(years[2017]) / len(days),
        "win_2017": sum(years[2017]) / len(years[2017]),
        "win_2018": sum(years[2018]) / len(years[2018]),
    }


@pytest.mark.skipif(not OLIST.exists(), reason="../shared/data/olist is not present")
@pytest.mark.parametrize("seed", [None, 3])
def test_the_olist_scenario_has_the_real_shape_over_time(seed: int | None, tmp_path: Path) -> None:
    with open(OLIST / "olist_marketing_qualified_leads_dataset.csv", newline="") as stream:
        first = {r["mql_id"]: r["first_contact_date"] for r in csv.DictReader(stream)}
    with open(OLIST / "olist_closed_deals_dataset.csv", newline="") as stream:
        won = {r["mql_id"] for r in csv.DictReader(stream)}
    real = _shape([(dt.date.fromisoformat(d), k in won) for k, d in first.items()])
    out = tmp_path / "olist.jsonl"
    generate_journeys(OLIST_SCENARIO, out, seed=seed)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    made = _shape(
        [(dt.date.fromisoformat(r["events"][0]["at"][:10]), r["truth"]["buyer"]) for r in rows]
    )
    # The real shape (what the issue reports), so that the tolerances below mean something.
    assert min(real["weeks"][1:-1]) <= 10 and max(real["weeks"]) > 300
    assert abs(real["share_2017"] - 0.25) < 0.01
    assert abs(real["win_2017"] - 0.03) < 0.005 and abs(real["win_2018"] - 0.13) < 0.005
    # Tolerances: weekly counts correlate at 0.9 or more, the busiest week within 20 %;
    # each month within 20 % (+10 leads, for June 2017's four); the share of 2017 leads
    # within 3 points; each year's win rate within 2 points.
    assert statistics.correlation(real["weeks"], made["weeks"]) >= 0.9
    assert abs(max(made["weeks"]) - max(real["weeks"])) <= 0.2 * max(real["weeks"])
    for month, count in real["months"].items():
        assert abs(made["months"][month] - count) <= 0.2 * count + 10, month
    assert abs(made["share_2017"] - real["share_2017"]) <= 0.03
    assert abs(made["win_2017"] - real["win_2017"]) <= 0.02
    assert abs(made["win_2018"] - real["win_2018"]) <= 0.02
    # policies/olist.mql makes an MQL of every search, direct or untracked lead at its first
    # contact: the share of those that were won (real 12.8 %) within 2 points
    sales_ready = {"organic_search", "paid_search", "direct_traffic", "unknown"}
    with open(OLIST / "olist_marketing_qualified_leads_dataset.csv", newline="") as stream:
        real_mqls = [r["mql_id"] for r in csv.DictReader(stream) if r["origin"] in sales_ready]
    made_mqls = [r for r in rows if r["profile"].get("origin") in sales_ready]
    real_precision = sum(k in won for k in real_mqls) / len(real_mqls)
    assert abs(real_precision - 0.128) < 0.001
    made_precision = sum(r["truth"]["buyer"] for r in made_mqls) / len(made_mqls)
    assert abs(made_precision - real_precision) <= 0.02


def test_periods_shape_arrivals_with_a_fixed_number_of_leads(tmp_path: Path) -> None:
    """`--leads N` spreads the N leads by the periods' rates too."""
    out = tmp_path / "olist.jsonl"
    assert generate_journeys(OLIST_SCENARIO, out, leads=3000, seed=5) == 3000
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    in_2017 = [r for r in rows if r["events"][0]["at"] < "2018"]
    # the file's rates: 2,002 of 8,000 expected leads arrive in 2017
    assert abs(len(in_2017) / len(rows) - 0.25) < 0.03
    june = [r for r in rows if r["events"][0]["at"] < "2017-07"]
    assert len(june) < 10  # 0.24 a day for 17 days of 8,000 ≈ 1.5 in 3,000


# ---------------------------------------------------------------- the scenario features


def _olist_with(tmp: Path, old: str, new: str) -> Path:
    text = OLIST_SCENARIO.read_text()
    assert old in text
    path = tmp / "bad.toml"
    path.write_text(
        text.replace(old, new, 1).replace(
            'policy = "../policies/olist.mql"', f'policy = "{ROOT / "policies" / "olist.mql"}"'
        )
    )
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected", "line_has"),
    [
        (
            "buyer_rates = { search = 0.036,",
            "buyer_rates = { serch = 0.036,",
            "periods.1.buyer_rates.serch: unknown persona; did you mean `search`?",
            "serch",
        ),
        (
            "buyer_rates = { search = 0.159,",
            "buyer_rates = { search = 1.59,",
            "periods.8.buyer_rates.search: must be between 0 and 1, got 1.59",
            "1.59",
        ),
        (
            "from = 2017-09-01",
            "from = 2017-07-15",
            "periods.4.from: 2017-07-15 is not after the previous period's start (2017-08-01); "
            "list the periods in time order",
            "2017-07-15",
        ),
        (
            "from = 2017-06-14",
            "from = 2016-06-14",
            "periods.1.from: 2016-06-14 is outside the scenario's period",
            "2016-06-14",
        ),
        (
            "per_day = 7.71",
            "per_dya = 7.71",
            "periods.2.per_dya: unknown key; did you mean `per_day`?",
            "per_dya",
        ),
        (
            "from = 2017-10-01",
            "from = 2017",
            "periods.5.from: expected the date the period starts, e.g. 2017-06-14",
            "from = 2017",
        ),
        (
            "buyer_rate = 0.127",
            "buyer_rate = 0.127\nnon_buyers_evaluate = 2",
            "personas.search.non_buyers_evaluate: must be between 0 and 1, got 2",
            "non_buyers_evaluate",
        ),
    ],
)
def test_bad_periods_name_the_file_line_and_key(
    tmp_path: Path, old: str, new: str, expected: str, line_has: str
) -> None:
    path = _olist_with(tmp_path, old, new)
    model = check_file(ROOT / "policies" / "olist.mql").model
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, model)
    problem = next(p for p in info.value.problems if expected in p)
    line = int(problem.split(f"{path}:")[1].split(":")[0])
    assert line_has in path.read_text().splitlines()[line - 1], problem


def test_a_period_keeps_what_it_does_not_set(tmp_path: Path) -> None:
    scenario = load_scenario(OLIST_SCENARIO)
    december = scenario.period_at(dt.date(2017, 12, 24))
    may = scenario.period_at(dt.date(2018, 5, 31))
    assert december is not None and may is not None
    assert december.per_day == 6.45 and december.buyer_rates == {
        "search": 0.036,
        "other_channels": 0.019,
    }
    assert may.per_day == 42.03 and may.buyer_rates["search"] == 0.159
    assert scenario.period_at(dt.date(2017, 6, 13)) is None  # before the first period
    path = _olist_with(
        tmp_path,
        "per_day = 45.07           # 1,352",
        "weights = { search = 0, other_channels = 0 }",
    )
    with pytest.raises(
        ScenarioError, match=r"periods\.11\.weights: the persona weights sum to zero"
    ):
        load_scenario(path)


def test_generation_with_periods_is_byte_identical(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    generate_journeys(OLIST_SCENARIO, a, seed=9, days=60)
    generate_journeys(OLIST_SCENARIO, b, seed=9, days=60)
    assert a.read_bytes() == b.read_bytes()
