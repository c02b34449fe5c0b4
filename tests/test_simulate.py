"""Scenarios, `generate`, `simulate`, `whatif` and `sweep`: the library
functions, and the command line's options, messages and exit codes."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mqldsl.analysis.checker import check_file
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.io.errors import UsageProblem
from mqldsl.io.policy import load_policy, param_values
from mqldsl.io.scoring import ScoreOptions
from mqldsl.render.explanation import sample_json
from mqldsl.render.outputs import report_document, report_text, write_report
from mqldsl.simulation.scenario import ScenarioError, load_scenario
from mqldsl.simulation.simulate import SimulationOptions, simulate
from mqldsl.simulation.sources import ScenarioProblem, Source, generate_journeys
from mqldsl.simulation.sweep import parse_sweep_param, sweep
from mqldsl.simulation.whatif import whatif
from mqldsl.warehouse.scoring import ScoreRequest, score

from .conftest import ROOT
from .helpers import run

ACME = str(ROOT / "policies" / "acme.mql")
SCENARIO = str(ROOT / "simulations" / "acme.toml")


AS_OF = 1_796_083_200.0  # 2026-12-01T00:00:00Z


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "acme.jsonl"
    assert generate_journeys(SCENARIO, path, leads=600, seed=3) == 600
    return path


@pytest.fixture(scope="module")
def acme() -> CheckedPolicy:
    return load_policy(ACME)


def decisions(model: CheckedPolicy, journeys: Path, tmp: Path, *sets: str) -> list[dict]:
    """What `score` decides for every lead, as an independent count."""
    out = tmp / f"decisions{len(sets)}.jsonl"
    options = ScoreOptions(as_of=AS_OF, params=param_values(model, sets))
    outcome = score(model, ScoreRequest(options, journeys=str(journeys), output=str(out)))
    assert not outcome.failed
    return [json.loads(line) for line in out.read_text().splitlines()]


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
            ("role = { student = 0.8,", "role = { studnet = 0.8,"),
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
            "personas.security_buyer.buyer_rate: must be between 0 and 1, got 1.5",
        ),
        (
            (
                "channel = { inbound = 1 }\ntech_stack = { aws = 0.3 }\n\n[personas.student.events",
                "channel = { inbound = 0 }\ntech_stack = { aws = 0.3 }\n\n[personas.student.events",
            ),
            "personas.student.profile.channel: the weights sum to zero",
        ),
        (("sql_rate = 0.65", "sql_rate = -0.1"), "sales.sql_rate: must be between 0 and 1"),
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
    with pytest.raises(ScenarioProblem) as problem:
        simulate(model, Source(scenario=path))
    assert expected in "\n".join(problem.value.lines)
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
    generate_journeys(SCENARIO, a, leads=200, seed=5)
    generate_journeys(SCENARIO, b, leads=200, seed=5)
    generate_journeys(SCENARIO, c, leads=200, seed=6)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    lines = [json.loads(line) for line in a.read_text().splitlines()]
    assert len(lines) == 200
    assert all("truth" in line and isinstance(line["truth"]["buyer"], bool) for line in lines)
    assert any(line["truth"]["buyer"] for line in lines)
    assert all("window_closes" in line["truth"] for line in lines if line["truth"]["buyer"])


def test_generate_command(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    code, _, err = run("generate", SCENARIO, "--leads", "20", "--seed", "5", "-o", str(path))
    assert code == 0 and err == "20 journeys generated\n"
    generate_journeys(SCENARIO, tmp_path / "b.jsonl", leads=20, seed=5)
    assert path.read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    code, _, err = run("generate", SCENARIO, "--leads", "1", "-o", str(path))
    assert code == 0 and err == "1 journey generated\n"
    code, _, err = run("generate", SCENARIO, "--leads", "20", "--days", "3")
    assert code == 2 and "give --leads or --days, not both" in err


def test_generated_truth_behaves_like_a_real_funnel(
    acme: CheckedPolicy, journeys: Path, tmp_path: Path
) -> None:
    by_id = {d["id"]: d for d in decisions(acme, journeys, tmp_path)}
    truth = {
        j["id"]: j["truth"]["buyer"] for j in map(json.loads, journeys.read_text().splitlines())
    }
    buyers = [by_id[i] for i, b in truth.items() if b]
    others = [by_id[i] for i, b in truth.items() if not b]
    mean = lambda ds: sum(d["scores"]["intent"] for d in ds) / len(ds)  # noqa: E731
    qualified = lambda d: bool({"mql", "sql"} & set(d["entered"]))  # noqa: E731
    assert mean(buyers) > mean(others) + 5  # buyers show more intent
    # most non-buyers never qualify, but some engage enough to (the world is not rigged)
    assert 0.03 < sum(map(qualified, others)) / len(others) < 0.2
    assert sum(map(qualified, buyers)) / len(buyers) > 0.3


# ---------------------------------------------------------------- simulate


def test_simulate_stage_counts_and_mqls_equal_an_independent_count(
    acme: CheckedPolicy, journeys: Path, tmp_path: Path
) -> None:
    result = simulate(acme, Source(journeys=journeys, as_of=AS_OF))
    report = result.to_json()
    decided = decisions(acme, journeys, tmp_path)
    stages = Counter(d["stage"] for d in decided)
    assert {k: v for k, v in report["stages"].items() if v} == dict(stages)
    assert report["metrics"]["mqls"] == sum(
        1 for d in decided if {"mql", "sql"} & set(d["entered"])
    )
    truth = {
        j["id"]: j["truth"]["buyer"] for j in map(json.loads, journeys.read_text().splitlines())
    }
    mqls = [d for d in decided if {"mql", "sql"} & set(d["entered"])]
    assert report["metrics"]["mql_precision"] == round(
        sum(truth[d["id"]] for d in mqls) / len(mqls), 4
    )
    assert report["metrics"]["sla_met"] is None  # no sales replay on real journeys
    assert set(report["definitions"]) >= {"mqls", "mql_precision", "buyer_recall", "sla_met"}
    assert "MQLs" in report_text(result)


def test_simulate_command_prints_the_summary_and_writes_the_same_report(
    acme: CheckedPolicy, journeys: Path, tmp_path: Path
) -> None:
    report_file = tmp_path / "report.json"
    args = ["simulate", ACME, "--journeys", str(journeys), "--as-of", "2026-12-01"]
    code, out, err = run(*args, "-o", str(report_file))
    assert code == 0 and err == f"{journeys}: 600 read, 600 used, 0 rejected\nwrote {report_file}\n"
    result = simulate(acme, Source(journeys=journeys, as_of=AS_OF))
    assert out == report_text(result)
    assert report_file.read_text() == report_document(result, report_file)
    code, _, err = run(*args, "-o", str(tmp_path / "report.txt"))
    assert code == 2 and "the report must end in .json, .html or .md" in err
    code, _, err = run("simulate", ACME)
    assert code == 2 and "give exactly one of --scenario and --journeys" in err
    code, _, err = run(*args, "--mql-stage", "nope")
    assert code == 2 and "the policy has no stage `nope`" in err


def test_simulate_reruns_are_byte_identical(acme: CheckedPolicy, tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for target in (first, second):
        write_report(simulate(acme, Source(scenario=SCENARIO, leads=400)), target)
    assert first.read_bytes() == second.read_bytes()
    report = json.loads(first.read_text())
    assert report["as_of"] == "2026-12-01T00:00:00Z"  # the end of the scenario's period
    assert report["metrics"]["sla_met"] is not None


def test_slower_first_touch_loses_sqls(acme: CheckedPolicy, tmp_path: Path) -> None:
    text = (
        Path(SCENARIO).read_text().replace('policy = "../policies/acme.mql"', f'policy = "{ACME}"')
    )
    slow = tmp_path / "slow.toml"
    slow.write_text(
        text.replace("capacity_per_day = 14", "capacity_per_day = 1").replace(
            "capacity_per_day = 6", "capacity_per_day = 1"
        )
    )
    fast = tmp_path / "fast.toml"
    fast.write_text(
        text.replace("capacity_per_day = 14", "capacity_per_day = 40").replace(
            "capacity_per_day = 6", "capacity_per_day = 40"
        )
    )
    results = {}
    for name, path in (("slow", slow), ("fast", fast)):
        results[name] = simulate(acme, Source(scenario=path, leads=1500)).metrics
    assert (
        results["fast"]["median_hours_to_first_touch"]
        < results["slow"]["median_hours_to_first_touch"]
    )
    assert results["fast"]["sqls"] > results["slow"]["sqls"]


def test_html_and_markdown_reports_are_self_contained(acme: CheckedPolicy, tmp_path: Path) -> None:
    result = simulate(acme, Source(scenario=SCENARIO, leads=300))
    page = tmp_path / "report.html"
    write_report(result, page)
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text
    # nothing is fetched: no scripts, stylesheets or images from elsewhere
    assert "<script" not in text and "<link" not in text and 'src="http' not in text
    markdown = tmp_path / "report.md"
    write_report(result, markdown)
    assert "| MQL precision |" in markdown.read_text()


# ---------------------------------------------------------------- whatif


def test_whatif_transitions_equal_an_independent_count(
    acme: CheckedPolicy, journeys: Path, tmp_path: Path
) -> None:
    options = SimulationOptions(params=param_values(acme, ["mql_intent_min=25"]))
    result = whatif(acme, None, Source(journeys=journeys, as_of=AS_OF), options)
    report = result.to_json()
    pairs = Counter(
        (a["stage"], b["stage"])
        for a, b in zip(
            decisions(acme, journeys, tmp_path),
            decisions(acme, journeys, tmp_path, "mql_intent_min=25"),
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
    assert {
        "what": "param mql_intent_min",
        "base": 40,
        "proposed": 25,
        "leads": report["moved_leads"],
    } in report["attribution"]
    if pairs:
        sample = report["samples"][0]
        for side in ("base", "proposed"):
            why = sample[side]["explanation"]
            assert why["lead"] == sample["id"] and why["stage"] == sample[side]["stage"]
            assert set(why["scores"]) == set(sample[side]["scores"])
    assert "what-if" in report_text(result)


def test_a_what_ifs_sample_leads_are_explained_as_the_run_left_them(acme: CheckedPolicy) -> None:
    """Over a scenario the sales replay moves accepted leads into `sql` (a `sales_accepted`
    event at their first touch). The sample leads were explained by a second replay of those
    leads alone, which touched them at other times or not at all: a lead counted `lead -> sql`
    was shown as `lead -> lead`. Each sample is now one of the report's transitions, and says
    why it is at its stage under each policy (and why not at the other's)."""
    options = SimulationOptions(params=param_values(acme, ["mql_intent_min=30"]))
    source = Source(scenario=SCENARIO, leads=2000, seed=7)
    report = whatif(acme, None, source, options, replications=1, describe=sample_json).to_json()
    moves = {(t["from"], t["to"]) for t in report["transitions"]}
    samples = report["samples"]
    assert len(samples) == 3
    order = [stage.name for stage in acme.stages.stages]
    for sample in samples:
        base, proposed = sample["base"], sample["proposed"]
        assert (base["stage"], proposed["stage"]) in moves, sample["id"]
        for side, other in ((base, proposed), (proposed, base)):
            assert side["explanation"]["stage"] == side["stage"]
            titles = [section["title"] for section in side["why"]]
            assert titles[0] == f"Why {side['stage']}"
            later = order.index(other["stage"]) > order.index(side["stage"])
            assert (f"Why not {other['stage']}" in titles) == later, titles
    # At least one sample was accepted by sales under one policy only (the case that broke).
    assert any("sql" in (s["base"]["stage"], s["proposed"]["stage"]) for s in samples)


def test_whatif_command_prints_the_summary_and_writes_the_same_report(
    acme: CheckedPolicy, journeys: Path, tmp_path: Path
) -> None:
    report_file = tmp_path / "whatif.json"
    args = ["whatif", ACME, "--journeys", str(journeys), "--as-of", "2026-12-01"]
    code, out, err = run(*args, "--set", "mql_intent_min=25", "-o", str(report_file))
    assert code == 0 and err == f"{journeys}: 600 read, 600 used, 0 rejected\nwrote {report_file}\n"
    options = SimulationOptions(params={"mql_intent_min": 25})
    source = Source(journeys=journeys, as_of=AS_OF)
    result = whatif(acme, None, source, options, describe=sample_json)  # as the command does
    assert out == report_text(result)
    assert report_file.read_text() == report_document(result, report_file)
    code, _, err = run(*args)
    assert code == 2 and "give a PROPOSED policy, or --set PARAM=VALUE to change BASE" in err
    code, _, err = run(*args, "--set", "nope=1")
    assert code == 2 and "--set" in err and "nope" in err


def test_whatif_with_two_policies_attributes_rules(
    acme: CheckedPolicy, journeys: Path, tmp_path: Path
) -> None:
    proposed = tmp_path / "proposed.mql"
    proposed.write_text(
        Path(ACME)
        .read_text()
        .replace(
            "+2 per page_view within 30 days, max 10", "+10 per page_view within 30 days, max 40"
        )
    )
    result = whatif(acme, load_policy(proposed), Source(journeys=journeys, as_of=AS_OF))
    report = result.to_json()
    assert report["changed_leads"] == sum(t["leads"] for t in report["transitions"])
    assert report["changed_leads"] > 0
    rules = {item["what"]: item["leads"] for item in report["attribution"] if "leads" in item}
    # the changed rule is one rule across both versions, named as in the proposed policy
    # the rule's points are compared at the as-of instant: a lead it moved
    # earlier, whose points have since decayed to the same, is not counted
    assert list(rules) == ["rule intent: +10 per page_view within 30 days, max 40"]
    assert report["changed_leads"] <= rules[next(iter(rules))] <= report["moved_leads"]
    assert report["moved_leads"] >= report["changed_leads"]


SUBSCRIBER = '  subscriber "Reads our content" when newsletter_signup ever\n'
LEAD = '  lead "Engaged with an offer" when content_download ever or trial_started ever\n'
ROUTES = (
    "route mql to sdr_inbound when channel == inbound, sla 5 minutes\n"
    "route mql to sdr_outbound, sla 1 day\n"
)


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        # the first route whose condition holds assigns the queue (SPEC §8)
        (lambda t: t.replace(ROUTES, "".join(reversed(ROUTES.splitlines(True)))), "route order"),
        (lambda t: t.replace(SUBSCRIBER + LEAD, LEAD + SUBSCRIBER), "stage order"),
        (lambda t: t.replace("stages {", "stages locked {"), "stage mode"),
    ],
)
def test_whatif_and_diff_name_an_order_or_mode_that_moved_leads(
    acme: CheckedPolicy, journeys: Path, tmp_path: Path, edit: Any, what: str
) -> None:
    # (the two policies were "the same" to the what-if, and the moved leads unattributed)
    text = Path(ACME).read_text()
    assert ROUTES in text and SUBSCRIBER + LEAD in text and "stages {" in text
    proposed = tmp_path / "proposed.mql"
    proposed.write_text(edit(text))
    report = whatif(acme, load_policy(proposed), Source(journeys=journeys, as_of=AS_OF)).to_json()
    # the one change the edit made, named
    assert [c["what"].startswith(what) for c in report["changes"]] == [True], report["changes"]
    moved = {item["what"]: item["leads"] for item in report["attribution"] if "leads" in item}
    assert report["moved_leads"] > 0
    assert sum(n for w, n in moved.items() if w.startswith(what)) == report["moved_leads"]
    code, out, _ = run("diff", ACME, str(proposed))
    assert code == 0 and out.startswith(what), out


def test_fail_if_gates_a_change(acme: CheckedPolicy, journeys: Path) -> None:
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
    options = SimulationOptions(params={"mql_intent_min": 10})
    result = whatif(acme, None, Source(journeys=journeys, as_of=AS_OF), options)
    assert result.fail_if("mqls.delta_pct > 5")
    assert result.fail_if("mqls.delta_pct > 100000") == []
    # Journeys carry no first touches: SLA met has no data, so a gate on it cannot hold; the
    # verdict says so instead of a bare "passed" (a CI gate that can never fire)
    code, out, _ = run(*args, "--fail-if", "sla_met.delta < 0 or mqls.delta_pct > 100000")
    assert code == 0
    assert "passed (nothing held); no data for sla_met.delta: a comparison with it is" in out
    code, out, _ = run(*args, "--fail-if", "changed_leads > 0")
    assert code == 1 and "(changed_leads = " in out and "(changed_leads = 0" not in out
    assert re.search(r"\(changed_leads = [0-9]+\)", out), out  # a count, not `42.0`


def test_whatif_over_a_scenario_uses_replications(acme: CheckedPolicy) -> None:
    options = SimulationOptions(params=param_values(acme, ["mql_fit_min=20"]))
    result = whatif(acme, None, Source(scenario=SCENARIO, leads=300), options, replications=3)
    interval = result.delta["mqls"].ci95
    assert interval is not None and interval[0] <= interval[1]


def test_sweep_shows_the_threshold_trade_off(acme: CheckedPolicy, journeys: Path) -> None:
    result = sweep(acme, ["mql_intent_min=20..60:20"], Source(journeys=journeys, as_of=AS_OF))
    rows = result.to_json()["rows"]
    assert [r["params"]["mql_intent_min"] for r in rows] == [20, 40, 60]
    mqls = [r["metrics"]["mqls"] for r in rows]
    assert mqls == sorted(mqls, reverse=True)
    with pytest.raises(UsageProblem) as problem:
        parse_sweep_param(acme, "mql_intent_min=a..b")
    assert problem.value.option == "--param"
    code, _, _ = run("sweep", ACME, "--param", "mql_intent_min=a..b", "--journeys", str(journeys))
    assert code == 2


def test_sweep_command_prints_a_table_and_writes_the_same_report(
    acme: CheckedPolicy, journeys: Path, tmp_path: Path
) -> None:
    report_file = tmp_path / "sweep.json"
    code, out, err = run(
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
    assert code == 0 and err == f"{journeys}: 600 read, 600 used, 0 rejected\nwrote {report_file}\n"
    result = sweep(acme, ["mql_intent_min=20..60:20"], Source(journeys=journeys, as_of=AS_OF))
    assert out == report_text(result)
    head, columns, *rows = out.splitlines()
    assert head.startswith("sweep: Acme Cloud Security lead qualification — ")
    assert "version 4, sha256 " in head and f"; journeys {journeys}" in head
    assert columns.split()[0] == "mql_intent_min" and len(rows) == 3
    assert report_file.read_text() == report_document(result, report_file)


def test_jobs_give_the_same_report(acme: CheckedPolicy) -> None:
    source = Source(scenario=SCENARIO, leads=2500)
    one = simulate(acme, source)
    two = simulate(acme, source, SimulationOptions(jobs=2))
    assert one.to_json() == two.to_json()


def test_leads_asked_of_a_scenario_without_a_rate_follow_the_weekday_shape(
    tmp_path: Path,
) -> None:
    """`per_day = 0` with `--leads N`: the N arrivals keep to the weekday shape (they were
    spread over every day, weekends with no weight included)."""
    text = Path(SCENARIO).read_text().replace("per_day = 40", "per_day = 0")
    text = text.replace('"../policies/acme.mql"', json.dumps(str(ROOT / "policies" / "acme.mql")))
    text = text.replace(
        "weekday_shape = [1.2, 1.25, 1.2, 1.1, 0.9, 0.2, 0.15]",
        "weekday_shape = [0, 0, 1, 0, 0, 0, 0]",
    )
    scenario = tmp_path / "s.toml"
    scenario.write_text(text)
    out = tmp_path / "j.jsonl"
    code, _, err = run("generate", str(scenario), "--leads", "40", "--seed", "3", "-o", str(out))
    assert code == 0, err
    days = {
        dt.datetime.fromisoformat(json.loads(line)["truth"]["created_at"]).weekday()
        for line in out.read_text().splitlines()
    }
    assert days == {2}  # Wednesday only


def test_the_reading_summary_counts_as_every_command_does(tmp_path: Path) -> None:
    # `simulate` printed `1200 read`, `score` and `import` `1,200 read`.
    journeys = tmp_path / "j.jsonl"
    generate_journeys(SCENARIO, journeys, leads=1200, seed=2)
    code, _, err = run("simulate", ACME, "--journeys", str(journeys))
    assert code == 0, err
    assert f"{journeys}: 1,200 read, 1,200 used, 0 rejected" in err
    code, _, err = run("score", ACME, str(journeys))
    assert err.splitlines()[-1] == "1,200 read, 1,200 used, 0 rejected"
