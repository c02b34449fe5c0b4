"""The dates in a journey's truth (SPEC §12, §14.1 "No time travel"): the
generator writes each lead's arrival as `truth.created_at`, `import` maps
`created_at`, `sql_at` and `won_at`, and the reader rejects a truth the
metrics could not read. Every count is checked against a computation
written here over the generated or imported journeys."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from mqldsl.io.policy import load_policy
from mqldsl.simulation.simulate import simulate
from mqldsl.simulation.sources import Source, generate_journeys

from .conftest import ROOT
from .helpers import run

ACME = str(ROOT / "policies" / "acme.mql")
ACME_SCENARIO = ROOT / "simulations" / "acme.toml"
OLIST_POLICY = str(ROOT / "policies" / "olist.mql")
T = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC)


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_generated_leads_carry_their_arrival_and_count_only_from_it(tmp_path: Path) -> None:
    seed, count = 7, 600
    journeys = tmp_path / "acme.jsonl"
    generate_journeys(ACME_SCENARIO, journeys, seed=seed, leads=count)
    rows = [json.loads(line) for line in journeys.read_text().splitlines()]
    start = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)  # simulations/acme.toml: 91 days from here
    created = {r["id"]: _instant(r["truth"]["created_at"]) for r in rows}
    for r in rows:
        assert start <= created[r["id"]] < start + dt.timedelta(days=91)
        for event in r["events"]:
            assert created[r["id"]] <= _instant(event["at"])  # known from its arrival on
    existing = {k for k, at in created.items() if at <= T}
    # the case the arrival settles: leads without events, arrived after T
    silent_later = [r for r in rows if not r["events"] and created[r["id"]] > T]
    assert silent_later
    # by the first event alone (the rule without created_at), they would count at T
    by_first_event = {
        r["id"] for r in rows if not r["events"] or _instant(r["events"][0]["at"]) <= T
    }
    assert by_first_event != existing
    model = load_policy(ACME)
    for source in (
        Source(scenario=ACME_SCENARIO, seed=seed, leads=count, as_of=T.timestamp()),
        Source(journeys=journeys, as_of=T.timestamp()),
    ):
        report = simulate(model, source).to_json()
        assert report["leads"] == len(existing)
        assert sum(report["stages"].values()) == len(existing)
        assert report["timing"]["leads_after_as_of"] == count - len(existing)
    # at the end of the period every generated lead exists
    report = simulate(model, Source(scenario=ACME_SCENARIO, seed=seed, leads=count)).to_json()
    assert report["leads"] == count and report["timing"]["leads_after_as_of"] == 0


def test_the_reader_rejects_truth_the_metrics_cannot_read(tmp_path: Path) -> None:
    journeys = tmp_path / "j.jsonl"
    rows = [
        {"id": "a", "truth": {"buyer": True, "created_at": "2018-01-02T00:00:00Z"}},
        {"id": "b", "truth": {"buyer": True, "created_at": "2018-01-02"}},
        {"id": "c", "truth": {"buyer": "yes"}},
        {"id": "d", "truth": {"buyer": True, "won_at": "soon"}},
        {"id": "e", "truth": {"buyer": False, "sql_at": None}},
    ]
    journeys.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = run("score", OLIST_POLICY, str(journeys), "--as-of", "2018-02-01")
    assert code == 1
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a", "e"]
    assert ':2: error[E707]: "truth.created_at": `2018-01-02` has no time zone' in err
    assert ':3: error[E707]: "truth.buyer": expected true or false, got "yes"' in err
    assert ':4: error[E707]: "truth.won_at": `soon` is not an instant' in err
    assert "5 read, 2 used, 3 rejected" in err


def test_import_maps_created_sql_and_won_dates_and_the_backtest_reads_them(
    tmp_path: Path,
) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "id,contact,created,sql,won,bought,origin\n"
        "a,2018-01-05,2018-01-01,2018-01-10,2018-02-01,yes,organic_search\n"
        "b,2018-01-20,2018-01-18,2018-01-25,,no,paid_search\n"
        "c,2018-01-03,2018-01-02,,,no,organic_search\n"
        "d,2018-01-31,2018-01-30,2018-02-02,2018-03-01,yes,direct_traffic\n"
        "e,,2018-02-10,,,no,social\n"
        "f,2018-01-04,2018-01-04,2018-01-06,2018-01-20,no,email\n"
    )
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[source]\nid = "id"\n'
        '[profile.origin]\ncolumn = "origin"\n'
        '[[events]]\ntype = "first_contact"\nat = { column = "contact", format = "%Y-%m-%d" }\n'
        "[truth]\n"
        'buyer = { column = "bought", values = { "yes" = true, "no" = false } }\n'
        'created_at = { column = "created", format = "%Y-%m-%d" }\n'
        'sql_at = { column = "sql", format = "%Y-%m-%d" }\n'
        'won_at = { column = "won", format = "%Y-%m-%d" }\n'
    )
    out = tmp_path / "j.jsonl"
    code, _, err = run(
        "import", str(leads), "--policy", OLIST_POLICY, "--mapping", str(mapping), "-o", str(out)
    )
    assert code == 1
    assert ":7: error[E707]: column `won`: a won date for a lead whose buyer truth is false" in err
    journeys = {j["id"]: j for j in map(json.loads, out.read_text().splitlines())}
    assert journeys["a"]["truth"] == {
        "buyer": True,
        "created_at": "2018-01-01T00:00:00Z",
        "sql_at": "2018-01-10T00:00:00Z",
        "won_at": "2018-02-01T00:00:00Z",
    }
    assert journeys["c"]["truth"] == {"buyer": False, "created_at": "2018-01-02T00:00:00Z"}
    assert "f" not in journeys
    model = load_policy(OLIST_POLICY)
    for day in ("2018-01-15", "2018-01-31", "2018-02-15", "2018-03-15"):
        moment = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
        # independently, from the CSV: who existed, who was an SQL, who had won by then
        rows = [line.split(",") for line in leads.read_text().splitlines()[1:]]
        rows = [r for r in rows if r[0] != "f"]

        def by(text: str, moment: dt.datetime = moment) -> bool:
            return bool(text) and dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC) <= moment

        existing = [r for r in rows if by(r[2])]
        # an MQL: contacted within 30 days with a channel score >= 20 (organic, paid, direct)
        good = ("organic_search", "paid_search", "direct_traffic")
        mqls = [r for r in existing if by(r[1]) and r[6] in good]
        later = [r for r in existing if (r[3] and not by(r[3])) or (r[4] and not by(r[4]))]
        wins = [r for r in existing if r[5] == "yes" and r not in later]
        report = simulate(model, Source(journeys=out, as_of=moment.timestamp())).to_json()
        assert report["leads"] == len(existing), day
        assert report["timing"]["leads_after_as_of"] == len(rows) - len(existing), day
        assert report["metrics"]["mqls"] == len(mqls), day
        assert report["metrics"]["sqls"] == sum(1 for r in mqls if by(r[3])), day
        assert report["backtest"]["buyers"] == len(wins), day
        assert report["timing"]["outcomes_after_as_of"] == len(later), day


def test_truth_mapping_errors_name_the_key(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("id,won\na,2018-01-01\n")
    mapping = tmp_path / "bad.toml"
    mapping.write_text('[source]\nid = "id"\n[truth]\nwon_date = "won"\nwon_at = "won"\n')
    code, _, err = run(
        "import",
        str(leads),
        "--policy",
        OLIST_POLICY,
        "--mapping",
        str(mapping),
        "-o",
        str(tmp_path / "o.jsonl"),
    )
    assert code == 1
    assert (
        "truth.won_date: truth has `buyer`, `created_at`, `sql_at` and `won_at`; "
        "did you mean `won_at`?" in err
    )
    assert "truth: map `buyer` too" in err
    assert not (tmp_path / "o.jsonl").exists()
