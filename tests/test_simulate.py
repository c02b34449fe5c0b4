"""Scenarios, `generate`, `simulate`, `whatif` and `sweep`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from mqldsl.check.checker import check_file
from mqldsl.simulate.scenario import ScenarioError, load_scenario

from .conftest import ROOT
from .helpers import run

ACME = str(ROOT / "policies" / "acme.mql")
SCENARIO = str(ROOT / "simulations" / "acme.toml")


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "acme.jsonl"
    code, _, err = run("generate", SCENARIO, "--leads", "600", "--seed", "3", "-o", str(path))
    assert code == 0, err
    return path


# ---------------------------------------------------------------- scenarios


def test_shipped_scenarios_fit_their_policies() -> None:
    for name in ("acme", "saas_trial", "enterprise", "olist"):
        model = check_file(ROOT / "policies" / f"{name}.mql").model
        assert model is not None
        scenario = load_scenario(ROOT / "simulations" / f"{name}.toml", model)
        assert scenario.personas


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("[arrivals]", "[arrivals]\nper_dya = 3"),
            "arrivals.per_dya: unknown key; did you mean `per_day`?",
        ),
        (
            ("role = { student = 1 }", "role = { studnet = 1 }"),
            "personas.student.profile.role.studnet: `studnet` is not a member of the enum; did you mean `student`?",
        ),
        (
            ("[personas.student.profile]", "[personas.student.profile]\nrol = { student = 1 }"),
            "personas.student.profile.rol: unknown lead field; did you mean `role`?",
        ),
        (
            ("content_download = 0.12", "content_downlod = 0.12"),
            "personas.student.events.dormant.content_downlod: unknown event type; did you mean `content_download`?",
        ),
        (
            ("buyer_rate = 0.35", "buyer_rate = 1.5"),
            "personas.security_buyer.buyer_rate: must be between 0.0 and 1.0, got 1.5",
        ),
        (
            (
                "channel = { inbound = 1 }\n\n[personas.student.events",
                "channel = { inbound = 0 }\n\n[personas.student.events",
            ),
            "personas.student.profile.channel: the weights sum to zero",
        ),
        (("sql_rate = 0.65", "sql_rate = -0.1"), "sales.sql_rate: must be between 0.0 and 1.0"),
    ],
)
def test_bad_scenarios_name_the_file_line_and_key(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = Path(SCENARIO).read_text()
    assert change[0] in text
    path = tmp_path / "bad.toml"
    path.write_text(
        text.replace(change[0], change[1], 1).replace(
            'policy = "../policies/acme.mql"', f'policy = "{ACME}"'
        )
    )
    model = check_file(ACME).model
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, model)
    problems = "\n".join(info.value.problems)
    assert expected in problems
    line = int(problems.split(f"{path}:")[1].split(":")[0])
    assert line > 1
    code, _, err = run("simulate", ACME, "--scenario", str(path))
    assert code == 1
    assert expected in err
    assert "Traceback" not in err


def test_invalid_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[scenario\nname = "x"\n')
    code, _, err = run("simulate", ACME, "--scenario", str(path))
    assert code == 1
    assert f"{path}:1:" in err and "invalid TOML" in err


# ---------------------------------------------------------------- generate


def test_generate_is_byte_identical_for_a_seed(tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in ("a.jsonl", "b.jsonl", "c.jsonl"))
    run("generate", SCENARIO, "--leads", "200", "--seed", "5", "-o", str(a))
    run("generate", SCENARIO, "--leads", "200", "--seed", "5", "-o", str(b))
    run("generate", SCENARIO, "--leads", "200", "--seed", "6", "-o", str(c))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    lines = [json.loads(line) for line in a.read_text().splitlines()]
    assert len(lines) == 200
    assert all("truth" in line and isinstance(line["truth"]["buyer"], bool) for line in lines)
    assert any(line["truth"]["buyer"] for line in lines)
    assert all("window_closes" in line["truth"] for line in lines if line["truth"]["buyer"])


def test_generated_truth_behaves_like_a_real_funnel(journeys: Path) -> None:
    code, out, _ = run("score", ACME, str(journeys), "--as-of", "2026-12-01")
    assert code == 0
    decisions = {d["id"]: d for d in map(json.loads, out.splitlines())}
    truth = {
        j["id"]: j["truth"]["buyer"] for j in map(json.loads, journeys.read_text().splitlines())
    }
    buyers = [decisions[i] for i, b in truth.items() if b]
    others = [decisions[i] for i, b in truth.items() if not b]
    mean = lambda ds: sum(d["scores"]["intent"] for d in ds) / len(ds)  # noqa: E731
    qualified = lambda d: bool({"mql", "sql"} & set(d["entered"]))  # noqa: E731
    assert mean(buyers) > mean(others) + 5  # buyers show more intent
    assert sum(map(qualified, others)) / len(others) < 0.1  # most non-buyers never qualify
    assert sum(map(qualified, buyers)) / len(buyers) > 0.3


# ---------------------------------------------------------------- simulate


def test_simulate_stage_counts_and_mqls_equal_an_independent_count(
    journeys: Path, tmp_path: Path
) -> None:
    report_file = tmp_path / "report.json"
    code, out, _ = run(
        "simulate",
        ACME,
        "--journeys",
        str(journeys),
        "--as-of",
        "2026-12-01",
        "-o",
        str(report_file),
    )
    assert code == 0
    report = json.loads(report_file.read_text())
    _, decisions_text, _ = run("score", ACME, str(journeys), "--as-of", "2026-12-01")
    decisions = [json.loads(line) for line in decisions_text.splitlines()]
    stages = Counter(d["stage"] for d in decisions)
    assert {k: v for k, v in report["stages"].items() if v} == dict(stages)
    assert report["metrics"]["mqls"] == sum(
        1 for d in decisions if {"mql", "sql"} & set(d["entered"])
    )
    truth = {
        j["id"]: j["truth"]["buyer"] for j in map(json.loads, journeys.read_text().splitlines())
    }
    mqls = [d for d in decisions if {"mql", "sql"} & set(d["entered"])]
    assert report["metrics"]["mql_precision"] == round(
        sum(truth[d["id"]] for d in mqls) / len(mqls), 4
    )
    assert report["metrics"]["sla_met"] is None  # no sales replay on real journeys
    assert set(report["definitions"]) >= {"mqls", "mql_precision", "buyer_recall", "sla_met"}
    assert "MQLs" in out


def test_simulate_reruns_are_byte_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for target in (first, second):
        code, _, _ = run(
            "simulate", ACME, "--scenario", SCENARIO, "--leads", "400", "-o", str(target)
        )
        assert code == 0
    assert first.read_bytes() == second.read_bytes()
    report = json.loads(first.read_text())
    assert report["as_of"] == "2026-12-01T00:00:00Z"  # the end of the scenario's period
    assert report["metrics"]["sla_met"] is not None


def test_slower_first_touch_loses_sqls(tmp_path: Path) -> None:
    text = (
        Path(SCENARIO).read_text().replace('policy = "../policies/acme.mql"', f'policy = "{ACME}"')
    )
    slow = tmp_path / "slow.toml"
    slow.write_text(
        text.replace("capacity_per_day = 8", "capacity_per_day = 1").replace(
            "capacity_per_day = 4", "capacity_per_day = 1"
        )
    )
    fast = tmp_path / "fast.toml"
    fast.write_text(
        text.replace("capacity_per_day = 8", "capacity_per_day = 40").replace(
            "capacity_per_day = 4", "capacity_per_day = 40"
        )
    )
    results = {}
    for name, path in (("slow", slow), ("fast", fast)):
        report = tmp_path / f"{name}.json"
        run("simulate", ACME, "--scenario", str(path), "--leads", "1500", "-o", str(report))
        results[name] = json.loads(report.read_text())["metrics"]
    assert (
        results["fast"]["median_hours_to_first_touch"]
        < results["slow"]["median_hours_to_first_touch"]
    )
    assert results["fast"]["sqls"] > results["slow"]["sqls"]


def test_html_and_markdown_reports_are_self_contained(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    run("simulate", ACME, "--scenario", SCENARIO, "--leads", "300", "-o", str(page))
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text
    # nothing is fetched: no scripts, stylesheets or images from elsewhere
    assert "<script" not in text and "<link" not in text and 'src="http' not in text
    markdown = tmp_path / "report.md"
    run("simulate", ACME, "--scenario", SCENARIO, "--leads", "300", "-o", str(markdown))
    assert "| MQL precision |" in markdown.read_text()


# ---------------------------------------------------------------- whatif


def test_whatif_transitions_equal_an_independent_count(journeys: Path, tmp_path: Path) -> None:
    report_file = tmp_path / "whatif.json"
    code, out, _ = run(
        "whatif",
        ACME,
        "--set",
        "mql_intent_min=25",
        "--journeys",
        str(journeys),
        "--as-of",
        "2026-12-01",
        "-o",
        str(report_file),
    )
    assert code == 0
    report = json.loads(report_file.read_text())
    _, base_text, _ = run("score", ACME, str(journeys), "--as-of", "2026-12-01")
    _, new_text, _ = run(
        "score", ACME, str(journeys), "--as-of", "2026-12-01", "--set", "mql_intent_min=25"
    )
    pairs = Counter(
        (a["stage"], b["stage"])
        for a, b in zip(
            map(json.loads, base_text.splitlines()),
            map(json.loads, new_text.splitlines()),
            strict=True,
        )
        if a["stage"] != b["stage"]
    )
    assert {(t["from"], t["to"]): t["leads"] for t in report["transitions"]} == dict(pairs)
    assert (
        report["delta"]["mqls"]["diff"]
        == report["proposed"]["metrics"]["mqls"] - report["base"]["metrics"]["mqls"]
    )
    assert report["delta"]["mqls"]["ci95"] is not None  # bootstrap over leads
    assert {"what": "param mql_intent_min", "base": 40, "proposed": 25} in report["attribution"]
    if pairs:
        assert report["samples"] and "Lead " in report["samples"][0]["base"]["explanation"]
    assert "what-if" in out


def test_whatif_with_two_policies_attributes_rules(journeys: Path, tmp_path: Path) -> None:
    proposed = tmp_path / "proposed.mql"
    proposed.write_text(
        Path(ACME)
        .read_text()
        .replace(
            "+2 per page_view within 30 days, max 10", "+10 per page_view within 30 days, max 40"
        )
    )
    report_file = tmp_path / "w.json"
    code, _, _ = run(
        "whatif",
        ACME,
        str(proposed),
        "--journeys",
        str(journeys),
        "--as-of",
        "2026-12-01",
        "-o",
        str(report_file),
    )
    assert code == 0
    report = json.loads(report_file.read_text())
    assert report["changed_leads"] == sum(t["leads"] for t in report["transitions"])
    assert report["changed_leads"] > 0
    rules = {item["what"]: item["leads"] for item in report["attribution"] if "leads" in item}
    # the changed rule is one rule across both versions, named as in the proposed policy
    assert rules == {
        "rule intent: +10 per page_view within 30 days, max 40": report["changed_leads"]
    }


def test_fail_if_gates_a_change(journeys: Path) -> None:
    args = [
        "whatif",
        ACME,
        "--set",
        "mql_intent_min=10",
        "--journeys",
        str(journeys),
        "--as-of",
        "2026-12-01",
    ]
    code, _, err = run(*args, "--fail-if", "mqls.delta_pct > 5 or proposed.mql_precision < 0.01")
    assert code == 1
    assert "fail-if held: mqls.delta_pct > 5" in err
    code, _, _ = run(*args, "--fail-if", "mqls.delta_pct > 100000")
    assert code == 0
    code, _, err = run(*args, "--fail-if", "mqls.delta_pc > 5")
    assert code == 2
    assert "did you mean `mqls.delta_pct`" in err


def test_whatif_over_a_scenario_uses_replications(tmp_path: Path) -> None:
    report_file = tmp_path / "w.json"
    code, _, _ = run(
        "whatif",
        ACME,
        "--set",
        "mql_fit_min=20",
        "--scenario",
        SCENARIO,
        "--leads",
        "300",
        "--replications",
        "3",
        "-o",
        str(report_file),
    )
    assert code == 0
    report = json.loads(report_file.read_text())
    interval = report["delta"]["mqls"]["ci95"]
    assert interval is not None and interval[0] <= interval[1]


def test_sweep_shows_the_threshold_trade_off(journeys: Path, tmp_path: Path) -> None:
    report_file = tmp_path / "sweep.json"
    code, _, _ = run(
        "sweep",
        ACME,
        "--param",
        "mql_intent_min=20..60:20",
        "--journeys",
        str(journeys),
        "--as-of",
        "2026-12-01",
        "-o",
        str(report_file),
    )
    assert code == 0
    rows = json.loads(report_file.read_text())["rows"]
    assert [r["params"]["mql_intent_min"] for r in rows] == [20, 40, 60]
    mqls = [r["metrics"]["mqls"] for r in rows]
    assert mqls == sorted(mqls, reverse=True)
    code, _, _ = run("sweep", ACME, "--param", "mql_intent_min=a..b", "--journeys", str(journeys))
    assert code == 2


def test_jobs_give_the_same_report(tmp_path: Path) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    run("simulate", ACME, "--scenario", SCENARIO, "--leads", "2500", "-o", str(one))
    run("simulate", ACME, "--scenario", SCENARIO, "--leads", "2500", "--jobs", "2", "-o", str(two))
    assert one.read_bytes() == two.read_bytes()
