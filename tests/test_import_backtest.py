"""`mqldsl import` (CSV exports with a mapping) and the backtest metrics of
`simulate --journeys` on real outcomes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mqldsl.io.errors import UsageProblem
from mqldsl.io.policy import load_policy
from mqldsl.render.outputs import report_text
from mqldsl.simulation.simulate import SimulationOptions, simulate
from mqldsl.simulation.sources import Source

from .conftest import ROOT
from .helpers import run

AS_OF = 1_796_083_200.0  # 2026-12-01T00:00:00Z

DATA = ROOT.parent / "shared" / "data"
XED_POLICY = str(ROOT / "policies" / "xeducation.mql")
XED_MAPPING = str(ROOT / "policies" / "xeducation.toml")


HEADER = "Prospect ID,Lead Origin,Lead Source,Do Not Email,What is your current occupation,TotalVisits,Total Time Spent on Website,Page Views Per Visit,Last Activity,Converted\n"


def test_import_maps_values_and_reports_bad_rows(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(
        HEADER
        + "a1,Lead Add Form,Google,No,Working Professional,5,1200,3.5,SMS Sent,1\n"
        + "a2,API,Weird Source,Yes,Select,,0,0,Email Opened,0\n"
        + "a3,Carrier Pigeon,Google,No,Student,2,10,1,Email Opened,0\n"
        + "a4,API,Google,No,Student,many,10,1,Email Opened,0\n"
        + "a5,API,Google,No\n"
        + "a1,API,Google,No,Student,1,10,1,Email Opened,0\n"
    )
    out = tmp_path / "journeys.jsonl"
    code, _, err = run(
        "import", str(leads), "--policy", XED_POLICY, "--mapping", XED_MAPPING, "-o", str(out)
    )
    assert code == 1
    journeys = [json.loads(line) for line in out.read_text().splitlines()]
    assert journeys[0] == {
        "id": "a1",
        "profile": {
            "origin": "lead_add_form",
            "source": "google",
            "do_not_email": False,
            "occupation": "working_professional",
            "total_visits": 5,
            "time_on_site": 1200,
            "pages_per_visit": 3.5,
            "last_activity": "sms_sent",
        },
        "events": [],
        "truth": {"buyer": True},
    }
    assert journeys[1]["profile"]["source"] == "other"  # the `other` fallback
    assert "occupation" not in journeys[1]["profile"]  # "Select" means missing
    assert "total_visits" not in journeys[1]["profile"]
    assert ":4: error[E756]: column `Lead Origin`: `Carrier Pigeon` has no mapping" in err
    assert ":5: error[E705]: column `TotalVisits` → total_visits: expected a number" in err
    assert ":6: error[E708]: fewer values than columns" in err
    assert ":7: error[E704]: duplicate id `a1`" in err
    assert "6 read, 2 used, 4 rejected" in err


def test_mapping_errors_name_the_key(tmp_path: Path) -> None:
    mapping = tmp_path / "bad.toml"
    mapping.write_text('[source]\nid = "Prospect ID"\n[profile.ocupation]\ncolumn = "x"\n')
    leads = tmp_path / "leads.csv"
    leads.write_text(HEADER)
    code, _, err = run(
        "import",
        str(leads),
        "--policy",
        XED_POLICY,
        "--mapping",
        str(mapping),
        "-o",
        str(tmp_path / "o.jsonl"),
    )
    assert code == 1
    assert (
        "profile.ocupation: the policy has no lead field `ocupation`; did you mean `occupation`?"
        in err
    )


def _independent_backtest(
    journeys: Path, decisions: list[dict[str, object]]
) -> tuple[float, float, float]:
    truth = {
        j["id"]: j["truth"]["buyer"] for j in map(json.loads, journeys.read_text().splitlines())
    }
    mqls = [d for d in decisions if "mql" in d["entered"]]  # type: ignore[operator]
    precision = sum(truth[d["id"]] for d in mqls) / len(mqls)  # type: ignore[index]
    base = sum(truth.values()) / len(truth)
    recall = sum(truth[d["id"]] for d in mqls) / sum(truth.values())  # type: ignore[index]
    return round(precision, 4), round(recall, 4), round(precision / base, 4)


def test_backtest_metrics_equal_an_independent_computation(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    rows = []
    for i in range(200):
        occupation = ["Working Professional", "Unemployed", "Student"][i % 3]
        time_on_site = (i * 37) % 2000
        converted = int((occupation == "Working Professional" and time_on_site > 300) or i % 7 == 0)
        rows.append(
            f"L{i},Landing Page Submission,Google,No,{occupation},{i % 9},{time_on_site},2,Email Opened,{converted}\n"
        )
    leads.write_text(HEADER + "".join(rows))
    journeys = tmp_path / "journeys.jsonl"
    assert (
        run(
            "import",
            str(leads),
            "--policy",
            XED_POLICY,
            "--mapping",
            XED_MAPPING,
            "-o",
            str(journeys),
        )[0]
        == 0
    )
    result = simulate(load_policy(XED_POLICY), Source(journeys=journeys, as_of=AS_OF))
    report = result.to_json()
    _, text, _ = run("score", XED_POLICY, str(journeys), "--as-of", "2026-12-01")
    precision, recall, lift = _independent_backtest(
        journeys, [json.loads(line) for line in text.splitlines()]
    )
    assert report["metrics"]["mql_precision"] == precision
    assert report["metrics"]["buyer_recall"] == recall
    assert report["backtest"]["lift"] == lift
    deciles = report["backtest"]["scores"]["fit"]["deciles"]
    assert sum(d["leads"] for d in deciles) == 200
    gain = report["backtest"]["scores"]["engagement"]["gain"]
    assert (gain[-1]["flagged"], gain[-1]["buyers_caught"]) == (1.0, 1.0)
    assert [g["buyers_caught"] for g in gain] == sorted(g["buyers_caught"] for g in gain)
    assert report["metrics"]["sqls"] is None  # no sales outcome in this export
    assert "lift" in report_text(result)


@pytest.mark.skipif(
    not (DATA / "xeducation" / "xeducation_Leads.csv").exists(),
    reason="../shared/data/xeducation is not present",
)
def test_backtest_on_the_real_x_education_export(tmp_path: Path) -> None:
    source = DATA / "xeducation" / "xeducation_Leads.csv"
    journeys = tmp_path / "xeducation.jsonl"
    code, _, err = run(
        "import", str(source), "--policy", XED_POLICY, "--mapping", XED_MAPPING, "-o", str(journeys)
    )
    assert code == 0, err
    with open(source, newline="", encoding="utf-8-sig") as stream:
        rows = list(csv.DictReader(stream))
    assert f"{len(rows):,} read, {len(rows):,} used, 0 rejected" in err
    report = simulate(load_policy(XED_POLICY), Source(journeys=journeys, as_of=AS_OF)).to_json()
    _, text, _ = run("score", XED_POLICY, str(journeys), "--as-of", "2026-12-01")
    precision, recall, lift = _independent_backtest(
        journeys, [json.loads(line) for line in text.splitlines()]
    )
    assert report["backtest"]["base_rate"] == round(
        sum(r["Converted"] == "1" for r in rows) / len(rows), 4
    )
    assert (
        report["metrics"]["mql_precision"],
        report["metrics"]["buyer_recall"],
        report["backtest"]["lift"],
    ) == (precision, recall, lift)
    assert report["backtest"]["lift"] > 1.5  # the policy picks real buyers far better than chance


OLIST_POLICY = str(ROOT / "policies" / "olist.mql")
OLIST_MAPPING = str(ROOT / "policies" / "olist.toml")


def test_import_joins_a_table_for_the_truth_and_makes_events(tmp_path: Path) -> None:
    leads = tmp_path / "mqls.csv"
    leads.write_text(
        "mql_id,first_contact_date,landing_page_id,origin\nm1,2018-02-01,p1,social\nm2,2018-03-05,p2,\nm3,2018-13-01,p3,email\n"
    )
    deals = tmp_path / "deals.csv"
    deals.write_text("mql_id,won_date,business_segment\nm1,2018-02-26 19:58:54,pet\n")
    out = tmp_path / "olist.jsonl"
    code, _, err = run(
        "import",
        str(leads),
        "--policy",
        OLIST_POLICY,
        "--mapping",
        OLIST_MAPPING,
        "--table",
        f"deals={deals}",
        "-o",
        str(out),
    )
    assert code == 1
    first, second = (json.loads(line) for line in out.read_text().splitlines())
    assert first["events"] == [{"type": "first_contact", "at": "2018-02-01T00:00:00Z"}]
    # the won date is a win date (the export has no SQL date); the lead exists from its first contact
    assert first["truth"] == {
        "buyer": True,
        "created_at": "2018-02-01T00:00:00Z",
        "won_at": "2018-02-26T19:58:54Z",
    }
    assert second["truth"] == {"buyer": False, "created_at": "2018-03-05T00:00:00Z"}
    assert "origin" not in second["profile"]
    assert (
        ":4: error[E757]: column `first_contact_date`: `2018-13-01` does not match the format %Y-%m-%d"
        in err
    )
    code, _, err = run(
        "import", str(leads), "--policy", OLIST_POLICY, "--mapping", OLIST_MAPPING, "-o", str(out)
    )
    assert code == 1
    assert "give the file with --table deals=FILE" in err


@pytest.mark.skipif(not (DATA / "olist").exists(), reason="../shared/data/olist is not present")
def test_backtest_on_the_real_olist_funnel(tmp_path: Path) -> None:
    journeys = tmp_path / "olist.jsonl"
    code, _, err = run(
        "import",
        str(DATA / "olist" / "olist_marketing_qualified_leads_dataset.csv"),
        "--policy",
        OLIST_POLICY,
        "--mapping",
        OLIST_MAPPING,
        "--table",
        f"deals={DATA / 'olist' / 'olist_closed_deals_dataset.csv'}",
        "-o",
        str(journeys),
    )
    assert code == 0, err
    assert "8,000 read, 8,000 used, 0 rejected" in err
    report = simulate(load_policy(OLIST_POLICY), Source(journeys=journeys)).to_json()
    assert report["backtest"]["buyers"] == 842
    assert report["backtest"]["base_rate"] == round(842 / 8000, 4)
    _, text, _ = run("score", OLIST_POLICY, str(journeys), "--as-of", report["as_of"])
    mqls = {d["id"] for d in map(json.loads, text.splitlines()) if "mql" in d["entered"]}
    with open(DATA / "olist" / "olist_closed_deals_dataset.csv", newline="") as stream:
        won = {row["mql_id"] for row in csv.DictReader(stream)}
    assert report["metrics"]["mqls"] == len(mqls)
    # every deal was won by the default as-of (the latest won date): precision counts them all
    assert report["metrics"]["mql_precision"] == round(len(mqls & won) / len(mqls), 4)
    assert report["metrics"]["sqls"] is None  # the export has no SQL date: no SQL figure
    assert report["backtest"]["lift"] > 1.0


@pytest.mark.skipif(not (DATA / "olist").exists(), reason="../shared/data/olist is not present")
def test_conversion_by_segment_equals_an_independent_count(tmp_path: Path) -> None:
    olist = DATA / "olist"
    journeys = tmp_path / "olist.jsonl"
    run(
        "import",
        str(olist / "olist_marketing_qualified_leads_dataset.csv"),
        "--policy",
        OLIST_POLICY,
        "--mapping",
        OLIST_MAPPING,
        "--table",
        f"deals={olist / 'olist_closed_deals_dataset.csv'}",
        "-o",
        str(journeys),
    )
    model = load_policy(OLIST_POLICY)
    report = simulate(model, Source(journeys=journeys), SimulationOptions(segment_field="origin"))
    assert report.backtest is not None
    segments = report.backtest["by_segment"]
    with open(olist / "olist_marketing_qualified_leads_dataset.csv", newline="") as stream:
        mqls = list(csv.DictReader(stream))
    with open(olist / "olist_closed_deals_dataset.csv", newline="") as stream:
        won = {row["mql_id"] for row in csv.DictReader(stream)}
    for origin in ("organic_search", "social", "email"):
        rows = [r for r in mqls if r["origin"] == origin]
        assert segments[origin]["leads"] == len(rows)
        assert segments[origin]["conversion"] == round(
            sum(r["mql_id"] in won for r in rows) / len(rows), 4
        )
    code, _, err = run(
        "simulate", OLIST_POLICY, "--journeys", str(journeys), "--segment", "channel"
    )
    assert code == 2 and "no lead field `channel`" in err
    with pytest.raises(UsageProblem, match="no lead field `channel`"):
        simulate(model, Source(journeys=journeys), SimulationOptions(segment_field="channel"))


# The Olist funnel's shape (from ../shared/data/olist: 842 won of 8,000; days from first
# contact to won at the 25th, 50th, 75th and 90th percentiles). Tolerances: the win rate
# within 1.5 points, each quantile within 40% (the median within 25%).
OLIST_WIN_RATE = 842 / 8000
OLIST_DAYS = {0.25: 5, 0.5: 14, 0.75: 55, 0.9: 162}


def _quantiles(days: list[float]) -> dict[float, float]:
    days = sorted(days)
    return {q: days[int(len(days) * q)] for q in OLIST_DAYS}


def test_the_olist_scenario_matches_the_real_funnel(tmp_path: Path) -> None:
    import datetime as dt

    out = tmp_path / "olist.jsonl"
    code, _, err = run(
        "generate", str(ROOT / "simulations" / "olist.toml"), "--seed", "3", "-o", str(out)
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    buyers = [r for r in rows if r["truth"]["buyer"]]
    assert abs(len(buyers) / len(rows) - OLIST_WIN_RATE) < 0.015
    days = [
        (
            dt.datetime.fromisoformat(r["truth"]["window_closes"])
            - dt.datetime.fromisoformat(r["events"][0]["at"])
        ).total_seconds()
        / 86400
        for r in buyers
    ]
    for q, value in _quantiles(days).items():
        tolerance = 0.25 if q == 0.5 else 0.4
        assert abs(value - OLIST_DAYS[q]) <= tolerance * OLIST_DAYS[q] + 1, (q, value)


@pytest.mark.skipif(not (DATA / "olist").exists(), reason="../shared/data/olist is not present")
def test_the_stated_olist_shape_is_the_real_one() -> None:
    import datetime as dt

    with open(DATA / "olist" / "olist_marketing_qualified_leads_dataset.csv", newline="") as stream:
        first = {r["mql_id"]: r["first_contact_date"] for r in csv.DictReader(stream)}
    with open(DATA / "olist" / "olist_closed_deals_dataset.csv", newline="") as stream:
        won = {r["mql_id"]: r["won_date"] for r in csv.DictReader(stream)}
    assert len(won) / len(first) == OLIST_WIN_RATE
    days = [
        (
            dt.datetime.strptime(won[k], "%Y-%m-%d %H:%M:%S")
            - dt.datetime.strptime(first[k], "%Y-%m-%d")
        ).days
        for k in won
    ]
    assert _quantiles([float(d) for d in days]) == {q: float(v) for q, v in OLIST_DAYS.items()}
