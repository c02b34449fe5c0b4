"""Accounts in simulations (SPEC §9 "Metrics", §14, §14.1): scenarios with `[accounts]`
(checked against the policy's account fields; contacts sharing the account's buying
state), leads evaluated with their colleagues in simulate and whatif, MQAs and the
account-level precision and recall and MQA entry points (each checked against an
independent computation here), and the bootstrap over accounts."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import parse_instant
from mqldsl.io.journeys import ReadReport
from mqldsl.io.policy import load_policy
from mqldsl.io.scoring import read_leads
from mqldsl.simulation.generate import generate
from mqldsl.simulation.intervals import paired_bootstrap
from mqldsl.simulation.metrics import metrics
from mqldsl.simulation.records import LeadRecord
from mqldsl.simulation.scenario import ScenarioError, load_scenario
from mqldsl.simulation.simulate import SimulationOptions, simulate
from mqldsl.simulation.sources import Source, open_scenario, scenario_leads
from mqldsl.simulation.whatif import whatif

from .helpers import run

ROOT = Path(__file__).resolve().parent.parent
ABM = ROOT / "policies" / "abm.mql"
SCENARIO = ROOT / "simulations" / "abm.toml"


def _scenario(tmp_path: Path, old: str, new: str) -> Path:
    text = SCENARIO.read_text()
    assert old in text
    path = tmp_path / "abm.toml"
    path.write_text(text.replace(old, new, 1).replace("../policies/", f"{ROOT}/policies/"))
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------- scenarios


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "tier = { strategic",
            "teir = { strategic",
            "accounts.profile.teir: unknown account field; did you mean `tier`?",
        ),
        (
            "strategic = 0.15,",
            "strategc = 0.15,",
            "`strategc` is not a member of the enum; did you mean `strategic`?",
        ),
        (
            "missing = { employees = 0.1 }",
            "missing = { employes = 0.1 }",
            "accounts.missing.employes: unknown account field; did you mean `employees`?",
        ),
        ("join_days = {", "join_dayz = {", "accounts.join_dayz: unknown key; did you mean"),
        (
            "contacts = { lognormal = [1.0, 0.6], min = 1, max = 12 }",
            "contacts = 3",
            "accounts.contacts: expected a distribution of contacts per account",
        ),
        ("max = 12 }", "max = 5000 }", "at most 1000 contacts an account (a hard limit)"),
    ],
)
def test_an_accounts_table_is_checked_against_the_policy(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    path = _scenario(tmp_path, old, new)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, load_policy(ABM))
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems
    # and the command line says it with the file and line, exit 1, no traceback
    code, _, err = run("generate", str(path), "--leads", "5")
    assert code == 1 and expected in err and "Traceback" not in err
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if new in text)
    assert f"abm.toml:{line}:" in err


def test_account_fields_for_a_policy_without_accounts_are_refused(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "[accounts.profile]", "[accounts.profile]")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, load_policy(ROOT / "policies" / "acme.mql"))
    text = "\n".join(caught.value.problems)
    assert "accounts.profile.employees: unknown account field: the policy declares no" in text


def test_same_seed_same_journeys_and_accounts_share_a_buying_state(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    for output in (one, two):
        code, _, err = run("generate", str(SCENARIO), "--seed", "4", "-o", str(output))
        assert code == 0, err
    assert one.read_bytes() == two.read_bytes()
    journeys = _lines(one)
    assert [j["id"] for j in journeys] == [f"S-{n:07d}" for n in range(1, len(journeys) + 1)]
    accounts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for journey in journeys:
        assert list(journey)[:4] == ["id", "account", "profile", "account_profile"]
        accounts[journey["account"]].append(journey)
    # each account's contacts are together, in arrival order, accounts in arrival order
    order = [j["account"] for j in journeys]
    assert order == sorted(order)
    firsts = [members[0]["truth"]["created_at"] for members in accounts.values()]
    assert firsts == sorted(firsts)
    sizes = [len(m) for m in accounts.values()]
    assert max(sizes) > 3 and min(sizes) == 1 and max(sizes) <= 12
    overlapping = 0
    for members in accounts.values():
        created = [m["truth"]["created_at"] for m in members]
        assert created == sorted(created)
        assert len({json.dumps(m["account_profile"]) for m in members}) == 1
        assert len({m["truth"]["buyer"] for m in members}) == 1
        assert len({m["truth"].get("window_closes") for m in members}) == 1
        # join within 21 days of the first contact
        start = parse_instant(created[0])
        assert all(parse_instant(c) - start <= 21 * 86400 for c in created)
        if members[0]["truth"]["buyer"] and len(members) > 1:
            # the buying group researches together: their demand falls in the same weeks
            spans = [
                (parse_instant(m["events"][0]["at"]), parse_instant(m["events"][-1]["at"]))
                for m in members
                if m["events"]
            ]
            if len(spans) > 1:
                overlapping += max(s for s, _ in spans) <= min(e for _, e in spans)
    assert overlapping > 10
    personas = {j["truth"]["persona"] for j in journeys}
    assert {"security", "it", "finance"} <= personas


def test_leads_with_accounts_come_out_exactly_as_asked(tmp_path: Path) -> None:
    scenario = open_scenario(SCENARIO, load_policy(ABM))
    made = list(generate(scenario, leads=37))
    assert len(made) == 37
    assert len({j["account"] for j in made}) < 37


def test_without_accounts_a_scenario_generates_leads_one_by_one(tmp_path: Path) -> None:
    text = SCENARIO.read_text()
    start, end = text.index("\n[accounts]\n"), text.index("\n[states]\n")
    path = tmp_path / "single.toml"
    path.write_text(text[:start] + text[end:].replace("../policies/", f"{ROOT}/policies/"))
    scenario = open_scenario(path, load_policy(ABM))
    assert scenario.accounts is None
    made = list(generate(scenario, leads=20))
    assert all(list(j) == ["id", "profile", "events", "truth"] for j in made)


# ---------------------------------------------------------------- evaluation


def test_generated_leads_reach_the_evaluator_with_their_colleagues() -> None:
    model = load_policy(ABM)
    leads = scenario_leads(model, open_scenario(SCENARIO, model), 3, 200)
    by_account: dict[str, list[str]] = defaultdict(list)
    for lead in leads:
        assert lead.account is not None
        by_account[lead.account].append(lead.id)
    for lead in leads:
        assert lead.account is not None
        others = [x for x in by_account[lead.account] if x != lead.id]
        assert [c.id for c in lead.colleagues] == others
        assert all(c.account_profile == lead.account_profile for c in lead.colleagues)
    # a colleague's events count: some lead is an MQL with too little intent of its own
    evaluator = Evaluator(model, {})
    as_of = parse_instant("2026-11-30T00:00:00Z")
    through_account = [
        lead
        for lead in leads
        if evaluator.run(lead, as_of).decision.stage != "lead"
        and evaluator.run(lead, as_of).decision.scores["intent"] < 30
    ]
    assert through_account


def _records_by_hand(journeys: Path, as_of: float) -> list[dict[str, Any]]:
    """Per lead, independently of the simulator: account, buyer, window, and the first
    instant at MQL or beyond (the evaluator with the colleagues read by io.scoring)."""
    model = load_policy(ABM)
    evaluator = Evaluator(model, {})
    names = model.stage_names
    raw = {j["id"]: j for j in _lines(journeys)}
    rows = []
    for lead in read_leads(model, str(journeys), None, ReadReport()):
        result = evaluator.run(lead, as_of)
        reached = [at for stage, (at, _) in result.first_entries.items() if names.index(stage) >= 1]
        truth = raw[lead.id]["truth"]
        created = parse_instant(truth["created_at"])
        if created > as_of:
            continue
        closes = truth.get("window_closes")
        rows.append(
            {
                "id": lead.id,
                "account": raw[lead.id].get("account") or f"own {lead.id}",
                "handoff": min(reached) if reached else None,
                "buyer": truth["buyer"],
                "closes": parse_instant(closes) if closes else None,
                "persona": truth["persona"],
            }
        )
    return rows


def _account_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    accounts: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        accounts.setdefault(row["account"], []).append(row)
    mqas, buyers, recalled, mqa_buyers, entries = 0, 0, 0, 0, []
    for name, members in accounts.items():
        timed = [m for m in members if m["handoff"] is not None]
        first = None
        for member in timed:  # earliest; the first in input order among equals
            if first is None or member["handoff"] < first["handoff"]:
                first = member
        buyer_rows = [m for m in members if m["buyer"]]
        if first is not None:
            mqas += 1
            mqa_buyers += bool(buyer_rows)
            entries.append((name, first["id"], first["persona"]))
        if buyer_rows:
            buyers += 1
            windows = [m["closes"] for m in buyer_rows]
            if first is not None and (
                None in windows or first["handoff"] <= max(w for w in windows if w)
            ):
                recalled += 1
    return {
        "accounts": len(accounts),
        "mqas": mqas,
        "buyer_accounts": buyers,
        "mqa_precision": round(mqa_buyers / mqas, 4),
        "account_recall": round(recalled / buyers, 4),
        "entries": entries,
    }


def test_mqas_precision_recall_and_entry_points_match_a_computation_by_hand(
    tmp_path: Path,
) -> None:
    journeys = tmp_path / "abm.jsonl"
    code, _, err = run("generate", str(SCENARIO), "--leads", "700", "-o", str(journeys))
    assert code == 0, err
    as_of = parse_instant("2026-11-15T00:00:00Z")
    report = simulate(load_policy(ABM), Source(journeys=journeys, as_of=as_of)).to_json()
    expected = _account_figures(_records_by_hand(journeys, as_of))
    m = report["metrics"]
    for name in ("accounts", "mqas", "buyer_accounts", "mqa_precision", "account_recall"):
        assert m[name] == expected[name], name
    assert 0 < m["mqas"] < m["mqls"] and 0 < m["mqa_precision"] < 1
    rows = report["accounts"]["entry_points"]["mqas"]
    assert [(r["account"], r["lead"], r["segment"]) for r in rows] == expected["entries"]
    by_segment: dict[str, int] = defaultdict(int)
    for _, _, persona in expected["entries"]:
        by_segment[persona] += 1
    assert report["accounts"]["entry_points"]["by_segment"] == dict(
        sorted(by_segment.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    for name in ("mqas", "mqa_precision", "account_recall"):
        assert name in report["definitions"]


def test_the_entry_point_of_a_tie_is_the_first_lead_in_input_order(tmp_path: Path) -> None:
    """A second person reading pricing lifts the account's buying group to 35 (20 for two
    pricing readers, 10 named, 5 strategic) and qualifies all three leads of the account at
    that instant: the entry point is the one read first, whatever its id."""
    profile = {"email_kind": "corporate", "role": "security", "seniority": "director"}
    account = {"tier": "strategic", "target": True, "employees": 5000}
    lines = [
        {"id": "L-9", "account": "A-1", "profile": profile, "account_profile": account,
         "events": [{"type": "page_view", "at": "2026-10-20T10:00:00Z", "path": "/pricing"}]},
        {"id": "L-1", "account": "A-1", "profile": profile,
         "events": [{"type": "page_view", "at": "2026-10-21T10:00:00Z", "path": "/pricing"}]},
        {"id": "L-5", "account": "A-1", "profile": {**profile, "role": "it"},
         "events": [{"type": "demo_request", "at": "2026-10-25T10:00:00Z"}]},
        {"id": "L-2", "profile": profile, "events": []},
    ]  # fmt: skip
    journeys = tmp_path / "tie.jsonl"
    journeys.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = simulate(
        load_policy(ABM), Source(journeys=journeys, as_of=parse_instant("2026-10-26T00:00:00Z"))
    ).to_json()
    entry = report["accounts"]["entry_points"]["mqas"]
    assert [(e["account"], e["lead"], e["at"]) for e in entry] == [
        ("A-1", "L-9", "2026-10-21T10:00:00Z")
    ]
    m = report["metrics"]
    assert (m["mqls"], m["mqas"], m["accounts"]) == (3, 1, 2)  # L-2 is an account of its own


def test_an_accounts_file_gives_the_same_figures_as_profiles_on_the_leads(
    tmp_path: Path,
) -> None:
    inline = tmp_path / "inline.jsonl"
    code, _, err = run("generate", str(SCENARIO), "--leads", "300", "-o", str(inline))
    assert code == 0, err
    bare, accounts = tmp_path / "bare.jsonl", tmp_path / "accounts.jsonl"
    profiles: dict[str, Any] = {}
    with bare.open("w") as out:
        for journey in _lines(inline):
            profiles[journey["account"]] = journey.pop("account_profile")
            out.write(json.dumps(journey) + "\n")
    accounts.write_text(
        "".join(json.dumps({"id": k, "profile": v}) + "\n" for k, v in profiles.items())
    )
    one = tmp_path / "one.json"
    two = tmp_path / "two.json"
    code, _, err = run("simulate", str(ABM), "--journeys", str(inline), "-o", str(one))
    assert code == 0, err
    code, _, err = run(
        "simulate", str(ABM), "--journeys", str(bare), "--accounts", str(accounts), "-o", str(two)
    )
    assert code == 0, err
    assert json.loads(one.read_text())["metrics"] == json.loads(two.read_text())["metrics"]
    # without the file the account fields are missing: fewer points, other figures
    code, out, err = run("simulate", str(ABM), "--journeys", str(bare))
    assert code == 0, err
    assert json.loads(one.read_text())["metrics"]["mqls"] > int(
        next(line.split()[-1] for line in out.splitlines() if line.strip().startswith("MQLs"))
    )
    # --accounts with a scenario, or for a policy without accounts, is misuse (exit 2)
    code, _, err = run(
        "simulate", str(ABM), "--scenario", str(SCENARIO), "--accounts", str(accounts)
    )
    assert code == 2 and "--accounts goes with --journeys" in err
    acme = ROOT / "policies" / "acme.mql"
    code, _, err = run("simulate", str(acme), "--journeys", str(bare), "--accounts", str(accounts))
    assert code == 2 and "declares no account fields" in err


def test_jobs_keep_each_lead_with_its_colleagues() -> None:
    """Each lead carries its colleagues, so a split across processes decides it as one
    process does: the same report."""
    model = load_policy(ABM)
    source = Source(scenario=SCENARIO, leads=2100)
    one = simulate(model, source).to_json()
    two = simulate(model, source, SimulationOptions(jobs=2)).to_json()
    assert one == two and one["metrics"]["mqas"] > 0


# ---------------------------------------------------------------- command line


def test_simulate_abm_reports_mqas_and_whatif_moves_leads_through_the_account_rule(
    tmp_path: Path,
) -> None:
    code, out, err = run("simulate", str(ABM), "--scenario", str(SCENARIO))
    assert code == 0, err
    assert "MQAs" in out and "MQA precision" in out and "buyer account recall" in out
    assert "MQA entry points (the first lead of each MQA to reach MQL)" in out
    report = tmp_path / "whatif.json"
    code, out, err = run(
        "whatif", str(ABM), "--scenario", str(SCENARIO), "--set", "buying_group_min=25",
        "--replications", "2", "-o", str(report),
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(report.read_text())
    moved = {(t["from"], t["to"]): t["leads"] for t in data["transitions"]}
    assert moved.get(("lead", "mql"), 0) > 0
    # a lower bar on the account score only ever qualifies more leads of the base's stage `lead`
    assert all(b != "lead" for _, b in moved)
    named = {a["what"]: a.get("leads") for a in data["attribution"]}
    # every moved lead is attributed: to the account rule's param, or (a few) to the sales
    # queue that the extra handoffs delayed
    assert named["param buying_group_min"] > 0.9 * data["moved_leads"] > 0
    assert sum(n for n in named.values() if n is not None) >= data["moved_leads"]
    assert data["delta"]["mqas"]["proposed"] >= data["delta"]["mqas"]["base"]
    assert "MQAs" in out and "param buying_group_min" in out
    # the same over Markdown and HTML
    for suffix in (".md", ".html"):
        path = tmp_path / f"whatif{suffix}"
        code, _, err = run(
            "whatif", str(ABM), "--scenario", str(SCENARIO), "--set", "buying_group_min=25",
            "--replications", "2", "--leads", "300", "-o", str(path),
        )  # fmt: skip
        assert code == 0, err
        assert "MQAs" in path.read_text()


def test_a_gate_may_name_the_account_metrics(tmp_path: Path) -> None:
    journeys = tmp_path / "abm.jsonl"
    code, _, err = run("generate", str(SCENARIO), "--leads", "300", "-o", str(journeys))
    assert code == 0, err
    code, out, err = run(
        "whatif", str(ABM), "--journeys", str(journeys), "--set", "buying_group_min=20",
        "--fail-if", "mqas.delta < 0",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run(
        "whatif", str(ABM), "--journeys", str(journeys), "--set", "buying_group_min=20",
        "--fail-if", "mqas.delta > 0",
    )  # fmt: skip
    assert code == 1 and "fail-if held: mqas.delta > 0" in err + out


# ---------------------------------------------------------------- bootstrap


def _record(lead: str, account: str, handoff: float | None, buyer: bool) -> LeadRecord:
    return LeadRecord(
        lead, "mql" if handoff is not None else "lead", (), handoff, None, None, buyer,
        None, 0.0, None, account=("account", account),
    )  # fmt: skip


def test_the_bootstrap_resamples_accounts_each_with_all_its_leads() -> None:
    """Independent computation: the same seeded draws of accounts (in key order), each
    draw's differences summed by hand over the drawn accounts' leads."""
    rng = np.random.default_rng(7)
    base, proposed = [], []
    for number in range(60):
        account = f"A-{number:03d}"
        size = 1 + number % 4
        for contact in range(size):
            lead = f"{account}-{contact}"
            buyer = number % 3 == 0
            a = 10.0 if rng.random() < 0.3 else None
            b = 10.0 if a is not None or rng.random() < 0.4 else None
            base.append(_record(lead, account, a, buyer))
            proposed.append(_record(lead, account, b, buyer))
    keys = [" ".join(r.account) for r in base]  # type: ignore[arg-type]

    def metrics_of(records: Any) -> dict[str, Any]:
        return metrics(records, 100.0, None, False)

    names = ["mqls", "mqas"]
    got = paired_bootstrap(base, proposed, keys, names, metrics_of, draws=1000, seed=5)
    # by hand: per account, the change in MQLs and whether it became an MQA
    units = sorted(set(keys))
    change = {"mqls": defaultdict(float), "mqas": defaultdict(float)}
    for a, b, key in zip(base, proposed, keys, strict=True):
        change["mqls"][key] += (b.handoff is not None) - (a.handoff is not None)
    for key in units:
        members = [i for i, k in enumerate(keys) if k == key]
        was = any(base[i].handoff is not None for i in members)
        now = any(proposed[i].handoff is not None for i in members)
        change["mqas"][key] = now - was
    draws = np.random.default_rng(5)
    diffs: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(10):  # chunks of 100 draws, as documented
        picks = draws.integers(0, len(units), size=(100, len(units)))
        for row in picks:
            for name in names:
                diffs[name].append(sum(change[name][units[i]] for i in row))
    for name in names:
        low, high = np.percentile(diffs[name], [2.5, 97.5])
        assert got[name] == [round(float(low), 4), round(float(high), 4)], name
    # resampling leads instead gives another interval for MQLs (accounts move together)
    by_lead = paired_bootstrap(
        base, proposed, [r.id for r in base], ["mqls"], metrics_of, draws=1000, seed=5
    )
    assert by_lead["mqls"] != got["mqls"]


def test_a_whatif_over_journeys_resamples_accounts(tmp_path: Path) -> None:
    journeys = tmp_path / "abm.jsonl"
    code, _, err = run("generate", str(SCENARIO), "--leads", "300", "-o", str(journeys))
    assert code == 0, err
    report = tmp_path / "w.json"
    code, _, err = run(
        "whatif", str(ABM), "--journeys", str(journeys), "--set", "buying_group_min=25",
        "-o", str(report),
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(report.read_text())
    assert data["data"]["intervals"] == {
        "method": "bootstrap",
        "draws": 1000,
        "resampled": "accounts",
    }
    interval = data["delta"]["mqas"]["ci95"]
    assert interval is not None and interval[0] <= data["delta"]["mqas"]["diff"] <= interval[1]
    assert statistics.fmean(interval) >= 0


# ---------------------------------------------------------------- sweep and tune


def test_sweep_and_tune_rows_carry_the_account_metrics_of_a_plain_run(tmp_path: Path) -> None:
    report = tmp_path / "sweep.json"
    code, _, err = run(
        "sweep", str(ABM), "--scenario", str(SCENARIO), "--leads", "300",
        "--param", "buying_group_min=20..40:20", "-o", str(report),
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(report.read_text())["rows"]
    for row in rows:
        value = row["params"]["buying_group_min"]
        alone = simulate(
            load_policy(ABM),
            Source(scenario=SCENARIO, leads=300),
            SimulationOptions(params={"buying_group_min": value}),
        ).to_json()["metrics"]
        for name in ("mqls", "accounts", "mqas", "mqa_precision", "account_recall"):
            assert row["metrics"][name] == alone[name], (value, name)
    assert rows[0]["metrics"]["mqas"] >= rows[-1]["metrics"]["mqas"]
    code, out, err = run(
        "tune", str(ABM), "--scenario", str(SCENARIO), "--leads", "300",
        "--param", "buying_group_min=20..40:20", "--maximize", "mqas", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["best"] == {"buying_group_min": 20}
    code, _, err = run(
        "tune", str(ROOT / "policies" / "acme.mql"), "--scenario",
        str(ROOT / "simulations" / "acme.toml"), "--leads", "100",
        "--param", "mql_fit_min=20..40:20", "--maximize", "mqas",
    )  # fmt: skip
    assert code == 2 and "`mqas` is an account metric" in err


def test_a_hash_holdout_keeps_each_account_whole() -> None:
    from mqldsl.simulation.tune import split_leads

    model = load_policy(ABM)
    leads = scenario_leads(model, open_scenario(SCENARIO, model), 2, 400)
    held, _, _ = split_leads(leads, 0.3, None, 9, by_account=True)
    parts: dict[str | None, set[bool]] = defaultdict(set)
    for lead, side in zip(leads, held, strict=True):
        parts[lead.account].add(side)
    assert all(len(sides) == 1 for sides in parts.values())
    assert 0.1 < sum(held) / len(held) < 0.5
    by_lead, _, _ = split_leads(leads, 0.3, None, 9)
    split = defaultdict(set)
    for lead, side in zip(leads, by_lead, strict=True):
        split[lead.account].add(side)
    assert any(len(sides) == 2 for sides in split.values())


def test_the_simulate_report_files_show_the_mqas_and_their_entry_points(tmp_path: Path) -> None:
    outputs = {}
    for suffix in (".json", ".md", ".html"):
        path = tmp_path / f"abm{suffix}"
        code, _, err = run(
            "simulate", str(ABM), "--scenario", str(SCENARIO), "--leads", "300", "-o", str(path)
        )
        assert code == 0, err
        outputs[suffix] = path.read_text()
    data = json.loads(outputs[".json"])
    first = data["accounts"]["entry_points"]["mqas"][0]
    for suffix in (".md", ".html"):
        text = outputs[suffix]
        assert "Marketing qualified accounts" in text and "MQA precision" in text
        assert f"{first['account']}: {first['lead']} at {first['at']}" in text
        assert data["definitions"]["mqas"] in text.replace("&#x27;", "'")
    # a policy without accounts: no account metrics, no accounts key, nothing in the files
    acme = simulate(
        load_policy(ROOT / "policies" / "acme.mql"),
        Source(scenario=ROOT / "simulations" / "acme.toml", leads=200),
    ).to_json()
    assert "accounts" not in acme and "mqas" not in acme["metrics"]
    assert "mqas" not in acme["definitions"]


def test_an_account_score_declared_first_does_not_shift_the_lead_scores(tmp_path: Path) -> None:
    """Records hold a decision's scores, the lead scores: score charts, the backtest and the
    scores at each handoff (computed once for both policies of a what-if, or per policy)
    name them by lead score, wherever the account score is declared."""
    text = ABM.read_text()
    text = text[: text.index("recycle mql")] + text[text.index("route sql") :]
    start = text.index('score buying_group on account "')
    end = text.index("stages locked")
    group = text[start:end]
    last = tmp_path / "last.mql"
    last.write_text(text)
    first = tmp_path / "first.mql"
    moved = text[:start] + text[end:]
    first.write_text(moved.replace('score fit "', group + 'score fit "', 1))
    source = Source(scenario=SCENARIO, leads=400)
    options = SimulationOptions(params={"buying_group_min": 25})
    reports = []
    for path in (last, first):
        model = load_policy(path)
        assert (next(iter(model.scores)) == "buying_group") == (path == first)
        shared = whatif(model, None, source, options, replications=1).to_json()
        alone = whatif(model, None, source, options, replications=1, reuse=False).to_json()
        assert shared == alone
        reports.append(shared)
    for key in ("score_distributions", "metrics", "stages"):
        assert reports[0]["base"][key] == reports[1]["base"][key], key
    assert list(reports[1]["base"]["score_distributions"]) == ["fit", "intent"]
    journeys = tmp_path / "abm.jsonl"
    code, _, err = run("generate", str(SCENARIO), "--leads", "300", "-o", str(journeys))
    assert code == 0, err
    backtests = [
        simulate(load_policy(path), Source(journeys=journeys)).to_json()["backtest"]
        for path in (last, first)
    ]
    assert backtests[0] == backtests[1] and list(backtests[0]["scores"]) == ["fit", "intent"]
