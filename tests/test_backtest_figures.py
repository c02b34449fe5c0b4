"""SPEC §14.1 on the simulate/backtest report: no time travel, figures that do
not depend on the order of the input lines, and only what the data supports
(no weekly series without real event times; the partial last week marked).
Every figure is checked against a computation written here, in plain Python
over the raw CSVs or the journeys."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Event, Lead
from mqldsl.io.journeys import JourneyReader
from mqldsl.io.policy import load_policy
from mqldsl.render.outputs import report_document, report_text
from mqldsl.simulation.simulate import simulate
from mqldsl.simulation.sources import Source, generate_journeys

from .conftest import ROOT
from .helpers import run

DATA = ROOT.parent / "shared" / "data"
OLIST = DATA / "olist"
OLIST_POLICY = str(ROOT / "policies" / "olist.mql")
OLIST_MAPPING = str(ROOT / "policies" / "olist.toml")
XED_POLICY = str(ROOT / "policies" / "xeducation.mql")
XED_MAPPING = str(ROOT / "policies" / "xeducation.toml")
T = dt.datetime(2018, 1, 1, tzinfo=dt.UTC)
needs_olist = pytest.mark.skipif(not OLIST.exists(), reason="../shared/data/olist is not present")


@pytest.fixture(scope="module")
def olist_journeys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not OLIST.exists():
        pytest.skip("../shared/data/olist is not present")
    out = tmp_path_factory.mktemp("olist") / "olist.jsonl"
    code, _, err = run(
        "import",
        str(OLIST / "olist_marketing_qualified_leads_dataset.csv"),
        "--policy",
        OLIST_POLICY,
        "--mapping",
        OLIST_MAPPING,
        "--table",
        f"deals={OLIST / 'olist_closed_deals_dataset.csv'}",
        "-o",
        str(out),
    )
    assert code == 0, err
    return out


def _olist_csv() -> tuple[dict[str, dict[str, str]], dict[str, dt.datetime]]:
    """The raw leads by id, and each won deal's date."""
    with open(OLIST / "olist_marketing_qualified_leads_dataset.csv", newline="") as stream:
        leads = {row["mql_id"]: row for row in csv.DictReader(stream)}
    with open(OLIST / "olist_closed_deals_dataset.csv", newline="") as stream:
        won = {
            row["mql_id"]: dt.datetime.strptime(row["won_date"], "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=dt.UTC
            )
            for row in csv.DictReader(stream)
        }
    return leads, won


def _first_contact(row: dict[str, str]) -> dt.datetime:
    return dt.datetime.strptime(row["first_contact_date"], "%Y-%m-%d").replace(tzinfo=dt.UTC)


def _channel(origin: str) -> int:
    """policies/olist.mql's `channel` score, read off the policy by hand."""
    if origin in ("organic_search", "paid_search", "direct_traffic", "unknown"):
        return 30
    if origin == "referral":
        return 10
    if origin in ("email", "other", "display", "other_publicities"):
        return -10
    return 5 if origin == "" else 0


def _deciles(pairs: list[tuple[int, bool]]) -> list[tuple[int, int]]:
    """(leads, buyers) per decile, cut on score values: a lead's decile is
    set by the share of leads scored strictly higher."""
    size = len(pairs)
    cells = [[0, 0] for _ in range(10)]
    for value, buyer in pairs:
        higher = sum(1 for other, _ in pairs if other > value)
        cells[10 * higher // size][0] += 1
        cells[10 * higher // size][1] += buyer
    return [(leads, buyers) for leads, buyers in cells]


# ---------------------------------------------------------------- no time travel


@needs_olist
def test_olist_as_of_2018_counts_only_leads_and_wins_known_then(olist_journeys: Path) -> None:
    leads, won = _olist_csv()
    existing = {k for k, row in leads.items() if _first_contact(row) <= T}
    won_by_t = {k for k in existing if k in won and won[k] <= T}
    won_later = {k for k in existing if k in won and won[k] > T}
    mqls = {k for k in existing if _channel(leads[k]["origin"]) >= 20}  # contacted within 30 days
    result = simulate(
        load_policy(OLIST_POLICY), Source(journeys=olist_journeys, as_of=T.timestamp())
    )
    report = result.to_json()
    assert report["leads"] == len(existing) == 2011
    assert report["timing"]["leads_after_as_of"] == 8000 - len(existing)
    assert report["timing"]["outcomes_after_as_of"] == len(won_later)
    assert sum(report["stages"].values()) == len(existing)
    assert report["metrics"]["mqls"] == len(mqls)
    # wins by T among the MQLs: 2, not 50 (48 won later); the export has no SQL date, so
    # policies/olist.toml maps the won date to truth.won_at and there is no SQL figure
    assert len(mqls & won_by_t) == 2 and len(mqls & set(won)) == 50
    assert report["metrics"]["sqls"] is None
    assert report["metrics"]["buyers"] == report["backtest"]["buyers"] == len(won_by_t) == 3
    assert report["metrics"]["mql_precision"] == round(len(mqls & won_by_t) / len(mqls), 4)
    assert report["metrics"]["buyer_recall"] == round(len(mqls & won_by_t) / len(won_by_t), 4)
    base = len(won_by_t) / len(existing)
    assert report["backtest"]["base_rate"] == round(base, 4)
    assert report["backtest"]["lift"] == round(len(mqls & won_by_t) / len(mqls) / base, 4)
    text = report_text(result)
    assert f"left out: {8000 - len(existing)} leads that did not exist yet" in text
    assert f"not counted: {len(won_later)} outcomes" in text


@needs_olist
def test_olist_default_as_of_sees_every_outcome(olist_journeys: Path) -> None:
    leads, won = _olist_csv()
    report = simulate(load_policy(OLIST_POLICY), Source(journeys=olist_journeys)).to_json()
    assert report["as_of"] == max(won.values()).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert report["backtest"]["buyers"] == len(won) == 842
    assert report["timing"]["leads_after_as_of"] == 0
    assert report["timing"]["outcomes_after_as_of"] == 0
    assert report["timing"]["event_times"] is True
    # the series stops at the data's latest first contact, not at the later won dates
    latest = max(_first_contact(row) for row in leads.values())
    assert report["metrics"]["mqls_per_week"][-1]["week"] == _week(latest) == "2018-W22"
    weeks_after = max(won.values()).isocalendar()[1] - latest.isocalendar()[1]  # both in 2018
    assert (
        f"the {weeks_after} weeks after it, up to the as-of instant, have no events"
        in report["timing"]["weekly_note"]
    )
    mqls = {k for k, row in leads.items() if _channel(row["origin"]) >= 20}
    assert report["metrics"]["mql_precision"] == round(len(mqls & set(won)) / len(mqls), 4)
    assert report["metrics"]["sqls"] is None  # won dates are wins, not SQL dates


def test_created_at_and_later_outcomes_follow_the_as_of(tmp_path: Path) -> None:
    journeys = tmp_path / "j.jsonl"
    rows = [
        # created in November, first event in December: there from its creation
        {
            "id": "a",
            "events": [{"type": "first_contact", "at": "2018-12-05T00:00:00Z"}],
            "truth": {"buyer": True, "created_at": "2018-11-20T00:00:00Z"},
        },
        # created after its first event: not there before its creation
        {
            "id": "b",
            "profile": {"origin": "paid_search"},
            "events": [{"type": "first_contact", "at": "2018-11-01T00:00:00Z"}],
            "truth": {
                "buyer": True,
                "sql_at": "2018-11-20T00:00:00Z",
                "created_at": "2018-11-15T00:00:00Z",
            },
        },
        {
            "id": "c",
            "profile": {"origin": "paid_search"},
            "events": [{"type": "first_contact", "at": "2018-11-01T00:00:00Z"}],
            "truth": {"buyer": True, "sql_at": "2018-12-20T00:00:00Z"},
        },
        {"id": "d", "events": [], "truth": {"buyer": False}},  # no time at all: always counted
    ]
    journeys.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = load_policy(OLIST_POLICY)

    def at(day: str) -> dict[str, Any]:
        moment = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()
        return simulate(model, Source(journeys=journeys, as_of=moment)).to_json()

    early = at("2018-11-10")
    assert early["leads"] == 2 and early["timing"]["leads_after_as_of"] == 2  # c, d
    assert early["metrics"]["sqls"] == 0 and early["backtest"]["buyers"] == 0
    assert early["timing"]["outcomes_after_as_of"] == 1
    mid = at("2018-12-01")
    assert mid["leads"] == 4 and mid["timing"]["leads_after_as_of"] == 0
    assert mid["metrics"]["sqls"] == 1 and mid["backtest"]["buyers"] == 2  # a, b; c later
    late = at("2018-12-31")
    assert late["leads"] == 4 and late["metrics"]["sqls"] == 2 and late["backtest"]["buyers"] == 3


# ---------------------------------------------------------------- order-free


@needs_olist
def test_olist_deciles_equal_an_independent_cut_on_score_values(olist_journeys: Path) -> None:
    leads, won = _olist_csv()
    for as_of in (T, None):
        known = {
            k: row for k, row in leads.items() if as_of is None or _first_contact(row) <= as_of
        }
        pairs = [
            (_channel(row["origin"]), k in won and (as_of is None or won[k] <= as_of))
            for k, row in known.items()
        ]
        source = Source(journeys=olist_journeys, as_of=as_of.timestamp() if as_of else None)
        report = simulate(load_policy(OLIST_POLICY), source).to_json()
        deciles = report["backtest"]["scores"]["channel"]["deciles"]
        assert [(d["leads"], d["buyers"]) for d in deciles] == _deciles(pairs)
        assert [d["conversion"] for d in deciles] == [
            round(b / n, 4) if n else None for n, b in _deciles(pairs)
        ]
        for d in deciles:
            values = {v for v, _ in pairs if d["leads"] and d["lowest"] <= v <= d["highest"]}
            assert sum(1 for v, _ in pairs if v in values) == d["leads"]  # ties never split
        if as_of is T:
            page = report_document(simulate(load_policy(OLIST_POLICY), source), Path("r.md"))
            for d in deciles:
                if d["leads"]:
                    assert f"| {d['decile']} | " in page and f" | {d['leads']} | " in page
        total = sum(b for _, b in pairs)
        gain = report["backtest"]["scores"]["channel"]["gain"]
        for point in gain:
            flagged = [b for v, b in pairs if v >= point["score_at_least"]]
            assert point["flagged"] == round(len(flagged) / len(pairs), 4)
            assert point["buyers_caught"] == round(sum(flagged) / total, 4)


def _shuffled_report(journeys: Path, order: random.Random, tmp: Path, **source: Any) -> str:
    lines = journeys.read_text().splitlines(keepends=True)
    order.shuffle(lines)
    shuffled = tmp / f"shuffled-{order.random()}.jsonl"
    shuffled.write_text("".join(lines))
    report = simulate(load_policy(source.pop("policy")), Source(journeys=shuffled, **source))
    shuffled.unlink()
    return json.dumps(_figures(report.to_json()), sort_keys=True)


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    """A report without its `source` (the file's name, which the shuffled copy changes)."""
    return {key: value for key, value in report.items() if key != "source"}


@needs_olist
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_shuffling_the_olist_lines_changes_no_figure(
    olist_journeys: Path, tmp_path: Path, seed: int
) -> None:
    order = random.Random(seed)
    for as_of in (T.timestamp(), None):
        first = json.dumps(
            _figures(
                simulate(
                    load_policy(OLIST_POLICY), Source(journeys=olist_journeys, as_of=as_of)
                ).to_json()
            ),
            sort_keys=True,
        )
        assert (
            _shuffled_report(olist_journeys, order, tmp_path, policy=OLIST_POLICY, as_of=as_of)
            == first
        )


@settings(max_examples=15, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["Working Professional", "Student", "Unemployed", "Businessman"]),
            st.integers(0, 2000),
            st.integers(0, 9),
            st.booleans(),
        ),
        min_size=12,
        max_size=60,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_shuffling_lines_changes_no_figure_nor_a_decile(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, int, int, bool]], seed: int
) -> None:
    """Many ties (few distinct scores): every decile holds whole tie groups,
    and the report is the same in any line order."""
    order = random.Random(seed)
    tmp = tmp_path_factory.mktemp("x")
    journeys = tmp / "j.jsonl"
    occupations = {
        "Working Professional": "working_professional",
        "Student": "student",
        "Unemployed": "unemployed",
        "Businessman": "businessman",
    }
    journeys.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"L{i}",
                    "profile": {
                        "occupation": occupations[occupation],
                        "time_on_site": seconds,
                        "total_visits": visits,
                    },
                    "truth": {"buyer": buyer},
                }
            )
            + "\n"
            for i, (occupation, seconds, visits, buyer) in enumerate(rows)
        )
    )
    model = load_policy(XED_POLICY)
    first = simulate(model, Source(journeys=journeys, as_of=T.timestamp())).to_json()
    again = _shuffled_report(journeys, order, tmp, policy=XED_POLICY, as_of=T.timestamp())
    assert again == json.dumps(_figures(first), sort_keys=True)
    fit = {"working_professional": 35, "businessman": 15, "student": -25, "unemployed": 0}
    pairs = [(max(0, fit[occupations[o]]), b) for o, _, _, b in rows]  # fit has range 0 to 100
    deciles = first["backtest"]["scores"]["fit"]["deciles"]
    assert [(d["leads"], d["buyers"]) for d in deciles] == _deciles(pairs)


# ---------------------------------------------------------------- only what the data supports


@pytest.mark.skipif(
    not (DATA / "xeducation" / "xeducation_Leads.csv").exists(),
    reason="../shared/data/xeducation is not present",
)
def test_x_education_has_no_event_times_and_no_weekly_series(tmp_path: Path) -> None:
    journeys = tmp_path / "x.jsonl"
    code, _, err = run(
        "import",
        str(DATA / "xeducation" / "xeducation_Leads.csv"),
        "--policy",
        XED_POLICY,
        "--mapping",
        XED_MAPPING,
        "-o",
        str(journeys),
    )
    assert code == 0, err
    # independently: the imported journeys carry no event at all
    assert all(not json.loads(line)["events"] for line in journeys.read_text().splitlines())
    result = simulate(load_policy(XED_POLICY), Source(journeys=journeys, as_of=T.timestamp()))
    report = result.to_json()
    assert report["metrics"]["mqls"] > 0
    assert report["metrics"]["mqls_per_week"] == []
    assert report["timing"]["event_times"] is False
    assert "no real event times" in report["timing"]["weekly_note"]
    assert "no real event times" in report_text(result)
    for suffix in ("md", "html"):
        page = report_document(result, tmp_path / f"r.{suffix}")
        assert "no real event times" in page
        assert "MQLs per week" in page


def _week(moment: dt.datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


@needs_olist
def test_olist_weekly_series_equals_an_independent_count(
    olist_journeys: Path, tmp_path: Path
) -> None:
    leads, _ = _olist_csv()
    as_of = dt.datetime(2018, 1, 3, 12, tzinfo=dt.UTC)  # a Wednesday: its week is partial
    counts = Counter(
        _week(_first_contact(row))
        for row in leads.values()
        if _first_contact(row) <= as_of and _channel(row["origin"]) >= 20
    )
    result = simulate(
        load_policy(OLIST_POLICY), Source(journeys=olist_journeys, as_of=as_of.timestamp())
    )
    weeks = result.to_json()["metrics"]["mqls_per_week"]
    # every week from the first handoff's to the as-of's, empty weeks included
    monday = min(_first_contact(r) for r in leads.values() if _channel(r["origin"]) >= 20)
    monday -= dt.timedelta(days=monday.weekday())
    latest = max(_first_contact(r) for r in leads.values() if _first_contact(r) <= as_of)
    expected = []
    while monday <= latest:
        expected.append(
            {
                "week": _week(monday),
                "mqls": counts.get(_week(monday), 0),
                "partial": as_of < monday + dt.timedelta(days=7),
            }
        )
        monday += dt.timedelta(days=7)
    assert weeks == expected
    assert [w["week"] for w in weeks if w["partial"]] == ["2018-W01"]
    assert "2018-W01 is partial" in report_text(result)
    page = report_document(result, tmp_path / "r.html")
    assert "2018-W01 (partial)" in page
    markdown = report_document(result, tmp_path / "r.md")
    assert "| 2018-W01 (partial) |" in markdown


# ---------------------------------------------------------------- the sales replay


ACME = str(ROOT / "policies" / "acme.mql")
ACME_SCENARIO = ROOT / "simulations" / "acme.toml"


def _independent_replay(
    leads: list[Lead], model: Any, scenario: dict[str, Any], seed: int, as_of: float
) -> dict[str, float]:
    """The sales replay as docs/reports.md describes it, written out here:
    each queue touches its handoffs first come, first served, in evenly
    spaced slots of its working hours; a touched buyer becomes an SQL with
    chance sql_rate * 0.5 ** (hours of delay / half-life) (none after its
    window closed), anyone else with chance non_buyer_sql_rate, drawn from
    Random(f"{seed}/{id}"). Returns the accepted leads' touch instants."""
    evaluator = Evaluator(model, {})
    sales = scenario["sales"]
    opening, closing = sales["working_hours"]
    workdays = [
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(d) for d in sales["working_days"]
    ]
    handoffs: dict[str, list[tuple[float, Lead]]] = {}
    for lead in leads:
        steps = evaluator.run(lead, as_of).steps
        handoff = next((s.at for s in steps if s.stage in ("mql", "sql")), None)
        if handoff is None:
            continue
        queue = "sdr_inbound" if lead.profile.get("channel") == "inbound" else "sdr_outbound"
        handoffs.setdefault(queue, []).append((handoff, lead))
    start = dt.datetime.combine(scenario["scenario"]["start"], dt.time(), tzinfo=dt.UTC)
    accepted: dict[str, float] = {}
    for queue, waiting in handoffs.items():
        per_day = round(sales["queues"][queue]["capacity_per_day"])
        slots = []
        day = start
        while day.timestamp() <= as_of:
            if day.weekday() in workdays:
                for k in range(per_day):
                    at = day.timestamp() + opening * 3600 + k * (closing - opening) * 3600 / per_day
                    if at <= as_of:
                        slots.append(at)
            day += dt.timedelta(days=1)
        position = 0
        for handoff, lead in sorted(waiting, key=lambda item: (item[0], item[1].id)):
            while position < len(slots) and slots[position] < handoff:
                position += 1
            if position == len(slots):
                continue
            touch = slots[position]
            position += 1
            draw = random.Random(f"{seed}/{lead.id}").random()
            truth = lead.truth or {}
            if truth["buyer"]:
                closes = truth.get("window_closes")
                if closes and touch > dt.datetime.fromisoformat(closes).timestamp():
                    continue
                chance = sales["sql_rate"] * 0.5 ** (
                    (touch - handoff) / 3600 / sales["sql_half_life_hours"]
                )
            else:
                chance = sales["non_buyer_sql_rate"]
            if draw < chance:
                accepted[lead.id] = touch
    return accepted


def test_the_replay_moves_accepted_leads_into_the_sql_stage(tmp_path: Path) -> None:
    import tomllib

    model = load_policy(ACME)
    scenario = tomllib.loads(ACME_SCENARIO.read_text())
    seed, count = 11, 900
    journeys = tmp_path / "acme.jsonl"
    generate_journeys(ACME_SCENARIO, journeys, seed=seed, leads=count)
    leads = list(JourneyReader(model).read_jsonl(journeys))
    result = simulate(model, Source(scenario=ACME_SCENARIO, seed=seed, leads=count))
    report = result.to_json()
    as_of = dt.datetime.fromisoformat(report["as_of"]).timestamp()
    accepted = _independent_replay(leads, model, scenario, seed, as_of)
    # the policy decides again, each accepted lead with a sales_accepted event at its touch
    evaluator = Evaluator(model, {})
    stages: Counter[str] = Counter()
    for lead in leads:
        if lead.id in accepted:
            event = Event(at=accepted[lead.id], type="sales_accepted", fields={})
            lead = msgspec.structs.replace(
                lead, events=tuple(sorted([*lead.events, event], key=lambda e: e.at))
            )
        stages[evaluator.run(lead, as_of).decision.stage] += 1
    assert len(accepted) > 10
    assert report["sales"]["accepted"] == len(accepted)
    assert report["stages"]["sql"] == stages["sql"] == len(accepted)
    assert report["metrics"]["sqls"] == report["stages"]["sql"]
    assert {k: v for k, v in report["stages"].items() if v} == dict(stages)
    assert report["sales"]["acceptance_event"] == "sales_accepted"
    assert "gets a `sales_accepted` event at its first touch" in report_text(result)


def test_sqls_that_left_the_stage_are_counted_and_explained(tmp_path: Path) -> None:
    import tomllib

    text = (
        Path(ACME)
        .read_text()
        .replace(
            'sql "Sales qualified" when sales_accepted ever',
            'sql "Sales qualified" when sales_accepted within 2 days',
        )
    )
    policy = tmp_path / "acme.mql"
    policy.write_text(text)
    scenario = tmp_path / "acme.toml"
    scenario.write_text(ACME_SCENARIO.read_text().replace('"../policies/acme.mql"', f'"{policy}"'))
    model = load_policy(str(policy))
    seed, count = 5, 700
    journeys = tmp_path / "acme.jsonl"
    generate_journeys(scenario, journeys, seed=seed, leads=count)
    leads = list(JourneyReader(model).read_jsonl(journeys))
    result = simulate(model, Source(scenario=scenario, seed=seed, leads=count))
    report = result.to_json()
    as_of = dt.datetime.fromisoformat(report["as_of"]).timestamp()
    accepted = _independent_replay(leads, model, tomllib.loads(scenario.read_text()), seed, as_of)
    evaluator = Evaluator(model, {})
    still = 0
    for lead in leads:
        if lead.id in accepted:
            event = Event(at=accepted[lead.id], type="sales_accepted", fields={})
            lead = msgspec.structs.replace(
                lead, events=tuple(sorted([*lead.events, event], key=lambda e: e.at))
            )
            still += evaluator.run(lead, as_of).decision.stage == "sql"
    assert report["metrics"]["sqls"] == len(accepted)  # each entered the stage at its touch
    assert report["stages"]["sql"] == still < len(accepted)
    assert report["sales"]["left_sql_stage"] == len(accepted) - still
    assert f"{len(accepted) - still} of them have left `sql`" in report_text(result)


def test_the_report_says_where_sqls_come_from_without_an_acceptance_event(tmp_path: Path) -> None:
    text = (
        Path(ACME)
        .read_text()
        .replace(
            'sql "Sales qualified" when sales_accepted ever',
            'sql "Sales qualified" when fit >= 60 and intent >= 80',
        )
    )
    policy = tmp_path / "acme.mql"
    policy.write_text(text)
    scenario = tmp_path / "acme.toml"
    scenario.write_text(ACME_SCENARIO.read_text().replace('"../policies/acme.mql"', f'"{policy}"'))
    result = simulate(load_policy(str(policy)), Source(scenario=scenario, leads=600))
    report = result.to_json()
    assert report["sales"]["acceptance_event"] is None
    assert report["metrics"]["sqls"] == report["sales"]["accepted"]
    assert "names no event" in report["sales"]["note"]
    assert "SQLs are the handoffs the replay accepted" in report_text(result)
