"""Requests that used to crash, hang or mislead, each answered plainly now (found by a review
of the #15 work): an early as-of on a what-if over journeys, tune and time travel, a truth date
mapped to a missing column, malformed sweep ranges, gates over metrics with no data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mqldsl.io.errors import terminal_text
from mqldsl.simulation import gates
from mqldsl.simulation.constraints import Constraints

from .conftest import ROOT
from .helpers import run

ACME = str(ROOT / "policies" / "acme.mql")
SCENARIO = str(ROOT / "simulations" / "acme.toml")
AS_OF_EARLY = "2026-10-01T00:00:00Z"


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("j") / "acme.jsonl"
    code, _, err = run("generate", SCENARIO, "--leads", "300", "--seed", "4", "-o", str(out))
    assert code == 0, err
    return out


def arrived_by(path: Path, instant: str) -> int:
    """Leads whose creation date (else first event) is at or before the instant, counted here."""
    count = 0
    for line in path.read_text().splitlines():
        lead = json.loads(line)
        at = (lead.get("truth") or {}).get("created_at") or min(
            (e["at"] for e in lead["events"]), default=None
        )
        count += at is None or at <= instant
    return count


def test_whatif_over_journeys_as_of_before_some_leads_arrived(journeys: Path) -> None:
    code, _, err = run(
        "whatif", ACME, "--set", "mql_intent_min=30", "--journeys", str(journeys),
        "--as-of", AS_OF_EARLY, "-o", str(journeys.parent / "w.json"),
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((journeys.parent / "w.json").read_text())
    expected = arrived_by(journeys, AS_OF_EARLY)
    assert 0 < expected < 300
    assert report["base"]["leads"] == report["proposed"]["leads"] == expected


def test_tune_counts_only_the_leads_that_existed_at_the_as_of(journeys: Path) -> None:
    code, out, err = run(
        "tune", ACME, "--param", "mql_intent_min=30..50:10", "--journeys", str(journeys),
        "--maximize", "buyer_recall", "--as-of", AS_OF_EARLY, "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["leads"]["fit"] + report["leads"]["holdout"] == arrived_by(journeys, AS_OF_EARLY)
    assert any("did not exist yet" in note for note in report["notes"])


@pytest.mark.parametrize(
    ("metric", "as_of", "values", "why"),
    [
        ("buyer_recall", "2020-01-01T00:00:00Z", "30..50:10", "no lead to fit on: none of the"),
        ("sla_met", None, "30..50:10", "SLA and first-touch metrics need a sales replay"),
    ],
)
def test_tune_says_why_a_metric_has_no_data(
    journeys: Path, metric: str, as_of: str | None, values: str, why: str
) -> None:
    when = ["--as-of", as_of] if as_of else []
    code, _, err = run(
        "tune", ACME, "--param", f"mql_intent_min={values}", "--journeys", str(journeys),
        "--maximize", metric, *when,
    )  # fmt: skip
    assert code == 1
    assert why in err
    if as_of is None:  # (no lead at all is said before any candidate is tried)
        assert f"`{metric}` has no data on these leads for any candidate" in err


def test_tune_refuses_a_missing_output_folder_before_searching(journeys: Path) -> None:
    code, _, err = run(
        "tune", ACME, "--param", "mql_intent_min=30..50:10", "--journeys", str(journeys),
        "--maximize", "buyer_recall", "-o", "/nonexistent-folder/tuned.mql",
    )  # fmt: skip
    assert code == 2
    assert "the folder '/nonexistent-folder' does not exist" in err


@pytest.mark.parametrize(
    "command",
    [
        ["docs", ACME],
        ["simulate", ACME],
        ["whatif", ACME, "--set", "mql_intent_min=30"],
        ["sweep", ACME, "--param", "mql_intent_min=30..50:10"],
        ["score", ACME, "--as-of", "2026-11-01T00:00:00Z"],
    ],
)
def test_every_command_refuses_a_missing_output_folder_as_a_usage_error(
    journeys: Path, command: list[str]
) -> None:
    source = [str(journeys)] if command[0] == "score" else []
    if command[0] in ("simulate", "whatif", "sweep"):
        source = ["--journeys", str(journeys)]
    code, out, err = run(*command, *source, "-o", "/nonexistent-folder/out.json")
    assert code == 2, err
    assert "Invalid value for -o: the folder '/nonexistent-folder' does not exist" in err
    assert out == ""  # refused before any work


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mql_intent_min=1.2.3..5", "is not NAME=LO..HI[:STEP]"),
        ("mql_intent_min=...5", "is not NAME=LO..HI[:STEP]"),
        ("mql_intent_min=0..100000000:1", "gives 100,000,001 values; at most 200"),
        ("mql_intent_min=1..9223372036854775806:1", "gives 9,223,372,036,854,775,806 values"),
        ("mql_intent_min=0..9223372036854775808", "numbers are at most 9,223,372,036,854,775,807"),
        ("mql_intent_min=1.5..3", "holds whole numbers"),
        ("mql_intent_min=0..1" + "0" * 5000, "numbers are at most 9,223,372,036,854,775,807"),
    ],
)
def test_sweep_refuses_malformed_or_huge_ranges(spec: str, message: str) -> None:
    code, _, err = run("sweep", ACME, "--param", spec, "--scenario", SCENARIO, "--leads", "20")
    assert code == 2
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        # whole numbers are exact, to the ends of the 64-bit range (as floats, 2**53 + 1
        # would be 2**53)
        ("mql_intent_min=9007199254740993..9007199254740995", [2**53 + 1, 2**53 + 2, 2**53 + 3]),
        ("mql_intent_min=9223372036854775807..9223372036854775807", [2**63 - 1]),
        ("mql_intent_min=-9223372036854775808..-9223372036854775807", [-(2**63), 1 - 2**63]),
        ("mql_intent_min=10.0..30:10", [10, 20, 30]),
    ],
)
def test_sweep_values_of_a_whole_param_are_exact(spec: str, values: list[int]) -> None:
    from mqldsl.io.policy import load_policy
    from mqldsl.simulation.sweep import parse_sweep_param

    axis = parse_sweep_param(load_policy(ACME), spec)
    assert axis.values == values
    assert all(type(value) is int for value in axis.values)


def test_a_truth_date_mapped_to_a_missing_column_is_refused(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "mql_id,first_contact_date,landing_page_id,origin\n"
        "A,2018-01-05,p1,organic_search\nB,2018-02-01,p2,email\n"
    )
    deals = tmp_path / "deals.csv"
    deals.write_text("mql_id,won_date\nA,2018-03-01 10:00:00\n")
    good = (ROOT / "policies" / "olist.toml").read_text()
    assert '"deals.won_date"' in good
    mapping = tmp_path / "olist.toml"
    args = [
        "import", str(leads), "--policy", str(ROOT / "policies" / "olist.mql"),
        "--table", f"deals={deals}", "-o", str(tmp_path / "out.jsonl"),
    ]  # fmt: skip
    mapping.write_text(good)
    code, _, err = run(*args, "--mapping", str(mapping))
    assert code == 0, err
    first = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert first["truth"]["won_at"] == "2018-03-01T10:00:00Z"
    (tmp_path / "out.jsonl").unlink()
    mapping.write_text(good.replace('"deals.won_date"', '"deals.won_dat"'))  # a typo
    code, _, err = run(*args, "--mapping", str(mapping))
    assert code == 1, err
    assert "truth.won_at: no column `deals.won_dat`" in err
    assert not (tmp_path / "out.jsonl").exists()


def test_a_gate_over_a_metric_with_no_data_never_holds_even_under_not() -> None:
    def lookup(node: object) -> None:
        return None

    def problem(message: str) -> ValueError:
        return ValueError(message)

    for text in ("x > 0", "not x > 0", "not (x > 0 and x < 1)", "x > 0 or not x > 0"):
        assert not gates.holds(gates.evaluate(gates.parse(text, problem), lookup, problem)), text
    # Known parts still decide: false and unknown is false, true or unknown is true.
    values = {"mqls": 5, "sla_met": None}
    assert Constraints("mqls > 1 or sla_met > 0.5").holds(values)
    assert not Constraints("not sla_met > 0.5").holds(values)
    assert Constraints("not sla_met > 0.5").broken(values) == ["not sla_met > 0.5"]


def test_tune_says_when_the_objective_has_no_data(journeys: Path) -> None:
    code, out, err = run(
        "tune", ACME, "--param", "mql_intent_min=30..50:10", "--journeys", str(journeys),
        "--maximize", "sla_met",
    )  # fmt: skip
    assert code == 1
    assert "`sla_met` has no data on these leads" in err and "Traceback" not in err
    assert out == ""


def test_terminal_text_escapes_control_characters_only() -> None:
    assert terminal_text("plain, accentué, 🚀\tand\nlines") == "plain, accentué, 🚀\tand\nlines"
    assert terminal_text("a\x1b[31mb\rc\x08d\x7fe\x85") == (
        "a\\u001b[31mb\\u000dc\\u0008d\\u007fe\\u0085"
    )
    # a right-to-left override would show what follows it backwards
    assert terminal_text("id\u202eexe.txt") == "id\\u202eexe.txt"
    assert (
        terminal_text("family: \U0001f468\u200d\U0001f469") == "family: \U0001f468\u200d\U0001f469"
    )


def test_a_value_with_control_characters_is_shown_not_obeyed(tmp_path: Path) -> None:
    """A value or a file name from the command line or the input reaches the terminal with
    its control characters written out: an escape sequence or a carriage return in it would
    otherwise recolour or overwrite the message that names it."""
    journeys = tmp_path / "one.jsonl"
    journeys.write_text('{"id": "L1", "events": []}\n')
    code, _, err = run(
        "score", ACME, str(journeys), "--crm", "hubspot", "-o", str(tmp_path / "o.csv"),
        "--crm-map", "mq\x1b[31m\rl=x",
    )  # fmt: skip
    assert code == 2
    assert "\r" not in err  # (click itself strips escape sequences, but only when piped)
    assert "`mq\\u001b[31m\\u000dl` is not a stage of the policy" in err
    named = tmp_path / "leads\x1b[2J.jsonl"
    named.write_text('{"id": "L1", "events": []}\n{"id": \n')
    code, _, err = run("score", ACME, str(named), "--as-of", AS_OF_EARLY)
    assert code == 1
    assert "leads\\u001b[2J.jsonl:2:" in err
    empty = tmp_path / "no\rpolicies"
    empty.mkdir()
    code, _, err = run("fmt", str(empty))
    assert code == 2 and "\r" not in err and "no\\u000dpolicies" in err


def test_a_diagnostic_shows_control_characters_with_its_caret_in_place(tmp_path: Path) -> None:
    """A control character in a policy line is written out in the snippet, and the caret
    under a later name moves with it."""
    policy = tmp_path / "p.mql"
    text = Path(ACME).read_text()
    line = "  +15 when role in [security_engineer, secops]"
    assert line in text
    policy.write_text(text.replace(line, '  +15 when role == "a\x07\x08b" and compnay_size > 3'))
    code, out, _ = run("check", str(policy))
    assert code == 1
    assert "\x07" not in out and "\x08" not in out
    lines = out.splitlines()
    at = next(i for i, shown in enumerate(lines) if "E201" in shown)
    source, carets = lines[at + 1], lines[at + 2]
    assert '"a\\u0007\\u0008b"' in source
    assert carets.index("^") == source.index("compnay_size")


def test_an_example_name_with_control_characters_is_shown_written_out(tmp_path: Path) -> None:
    policy = tmp_path / "p.mql"
    name = "A blog subscriber is not yet a lead"
    text = Path(ACME).read_text()
    assert f'example "{name}"' in text
    policy.write_text(text.replace(f'example "{name}"', 'example "Blog\x08\x08\x08\x08Lead"'))
    code, out, _ = run("test", str(policy))
    assert code == 0
    assert "\x08" not in out
    assert "PASS  Blog\\u0008\\u0008\\u0008\\u0008Lead" in out


def test_whatif_over_journeys_refuses_replications(journeys: Path) -> None:
    # (they were ignored without a word: a journeys file is compared once, with a bootstrap)
    code, out, err = run(
        "whatif", ACME, "--set", "mql_intent_min=30", "--journeys", str(journeys),
        "--replications", "3",
    )  # fmt: skip
    assert code == 2 and out == ""
    assert "Invalid value for --replications: replications repeat a scenario" in err


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["score", "{missing}.mql", "{journeys}"], "{missing}.mql:1:1: error[E100]: cannot read"),
        (["score", ACME, "{missing}.jsonl"], "{missing}.jsonl: error[E960]: cannot read the file"),
        (
            ["score", ACME, "{folder}"],
            "{folder}: error[E960]: cannot read the file: is a directory",
        ),
        (["explain", ACME, "{journeys}", "--lead", "x", "--accounts", "{missing}.jsonl"], "E960"),
        (["whatif", ACME, "{missing}.mql", "--journeys", "{journeys}"], "E100"),
        (["simulate", ACME, "--scenario", "{missing}.toml"], "{missing}.toml: error[E960]"),
        (["diff", ACME, "{folder}"], "{folder}:1:1: error[E100]: cannot read the file"),
    ],
)
def test_an_input_file_that_cannot_be_read_is_a_problem_with_the_input(
    tmp_path: Path, args: list[str], shown: str
) -> None:
    """A missing file or a folder where an input file goes is reported as `check` and
    docs/errors.md (E960) say, exit 1; it was click's usage error, exit 2."""
    journeys = tmp_path / "j.jsonl"
    journeys.write_text("")
    names = {"missing": str(tmp_path / "nope"), "folder": str(tmp_path), "journeys": str(journeys)}
    code, out, err = run(*(arg.format(**names) for arg in args))
    assert code == 1, err
    assert shown.format(**names) in err and "Usage:" not in err and out == ""


@pytest.mark.parametrize("command", ["simulate", "whatif", "sweep"])
def test_a_report_name_without_a_format_is_refused_before_the_run(
    tmp_path: Path, command: str
) -> None:
    # It ran the whole simulation, printed its report, then refused `-o r.txt` (exit 2).
    extra = {"simulate": [], "whatif": ["--set", "mql_intent_min=30"],
             "sweep": ["--param", "mql_intent_min=30..40:10"]}[command]  # fmt: skip
    code, out, err = run(
        command,
        ACME,
        *extra,
        "--scenario",
        SCENARIO,
        "--leads",
        "50",
        "-o",
        str(tmp_path / "r.txt"),
    )
    assert code == 2 and out == ""
    assert "Invalid value for -o: the report must end in .json, .html or .md" in err


def test_leads_with_journeys_and_a_misspelt_sweep_param_are_usage_errors(journeys: Path) -> None:
    # `--leads` with `--journeys` was ignored without a word; a misspelt `--param` had no hint.
    for command in (["simulate", ACME], ["sweep", ACME, "--param", "mql_intent_min=30..40:10"]):
        code, out, err = run(*command, "--journeys", str(journeys), "--leads", "5")
        assert code == 2 and out == ""
        assert "--journeys reads every lead of its file: leave out --leads" in err
    code, _, err = run(
        "sweep", ACME, "--param", "mql_intnt_min=30..40:10", "--journeys", str(journeys)
    )
    assert code == 2 and "unknown param `mql_intnt_min`; did you mean `mql_intent_min`?" in err
