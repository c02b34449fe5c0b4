"""`include` (SPEC §3.1): golden diagnostics for every include error (each
names the file and line where the problem is written), the included
declarations behave as if written at the `include` line (a policy split into
files decides exactly like the one text on random journeys), the hash covers
the included files, `fmt` leaves includes alone, `docs` names each
declaration's file, and every command reads a policy's includes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mqldsl
from mqldsl.analysis.checker import check_file, check_text
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Lead
from mqldsl.language.includes import MAX_DEPTH, reader_of

from .conftest import ROOT
from .helpers import run
from .policy_gen import AS_OF, SCHEMA, leads, policies

GOLDEN = Path(__file__).parent / "golden" / "includes"
CASES = sorted(p for p in GOLDEN.iterdir() if p.is_dir())
OUTBOUND = ROOT / "policies" / "acme_outbound.mql"
COMMON = ROOT / "policies" / "common"


def render(case: Path) -> str:
    """What `mqldsl check main.mql` prints, run in the case's folder."""
    cwd = os.getcwd()
    os.chdir(case)
    try:
        result = check_file("main.mql")
        return "".join(d.render(result.source) + "\n" for d in result.diagnostics)
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_golden_include_diagnostics(case: Path, update_golden: bool) -> None:
    expected = case / "expected.txt"
    actual = render(case)
    if update_golden:
        expected.write_text(actual, encoding="utf-8")
    assert actual == expected.read_text(encoding="utf-8")


def test_each_include_error_is_where_it_is_written() -> None:
    """Read off the golden output: file, line and code of every diagnostic."""

    def places(case: str) -> set[tuple[str, int, str]]:
        found = re.findall(r"^(\S+?):(\d+):\d+: \w+\[(\w+)\]", render(GOLDEN / case), re.M)
        return {(file, int(line), code) for file, line, code in found}

    assert places("missing") == {("main.mql", 2, "E112")}
    assert places("cycle") == {("b.mql", 2, "E115")}
    assert "include cycle: a.mql -> b.mql -> a.mql" in render(GOLDEN / "cycle")
    assert places("not_allowed") == {
        ("shared.mql", 1, "E116"),
        ("shared.mql", 3, "E116"),
        ("shared.mql", 4, "E116"),
    }
    # the include line counts where SPEC §3's order puts it: after the policy's own fields
    # and events, before its params; the error is at the policy's own declaration (the
    # file being written), naming the shared file's
    twice = render(GOLDEN / "twice_declared")
    assert places("twice_declared") == {
        ("main.mql", 4, "E208"),
        ("main.mql", 6, "E208"),
        ("main.mql", 7, "E208"),
    }
    assert "the other is at shared.mql:2" in twice
    assert "the other is at shared.mql:5" in twice
    assert "the first is at shared.mql:6" in twice
    assert places("included_twice") == {("b.mql", 1, "E117")}
    assert "it is included at a.mql:1" in render(GOLDEN / "included_twice")
    assert places("absolute") == {("main.mql", 2, "E117")}
    assert places("name_error") == {("shared.mql", 3, "E201")}
    # the snippet is the included file's own line
    assert "    3 |   +10 when compnay_size > 100" in render(GOLDEN / "name_error")
    assert places("syntax_error") == {("shared.mql", 3, "E101")}
    nested = os.path.join("common", "b.mql")
    assert places("nested_missing") == {(os.path.join("common", "a.mql"), 1, "E112")}
    assert f"`{nested}`" in render(GOLDEN / "nested_missing")
    assert places("merged_fields") == {("main.mql", 4, "E208")}
    assert "the other is at common/a.mql:3" in render(GOLDEN / "merged_fields")


def test_includes_nest_at_most_max_depth(tmp_path: Path) -> None:
    for index in range(MAX_DEPTH + 1):
        (tmp_path / f"f{index}.mql").write_text(f'include "f{index + 1}.mql"\n')
    (tmp_path / f"f{MAX_DEPTH + 1}.mql").write_text("event deep\n")
    main = tmp_path / "main.mql"
    main.write_text('policy "Deep"\ninclude "f0.mql"\nstages { visitor }\n')
    result = check_file(main)
    assert [d.code for d in result.diagnostics] == ["E117"]
    assert f"more than {MAX_DEPTH} files deep" in result.diagnostics[0].message
    # one level less is fine
    (tmp_path / f"f{MAX_DEPTH - 2}.mql").write_text("event deep\n")
    assert check_file(main).ok


def test_lead_blocks_of_several_files_merge_in_load_order() -> None:
    files = {
        "a.mql": "lead {\n  role: enum(secops, other)\n}\n",
        "b.mql": 'include "a.mql"\nlead {\n  size: int\n}\n',
    }
    text = 'policy "P"\ninclude "b.mql"\nlead {\n  region: text\n}\nstages { visitor }\n'
    model = check_text(text, "main.mql", read=reader_of(files)).model
    assert model is not None
    # each file's own fields, then (at its include line, after them) the included file's
    assert list(model.fields) == ["region", "size", "role"]
    # two lead blocks in one file stay an error
    twice = 'policy "P"\nlead {\n  a: int\n}\nlead {\n  b: int\n}\nstages { visitor }\n'
    assert [d.code for d in check_text(twice, "main.mql").diagnostics] == ["E213"]


# ---------------------------------------------------------------- as if written at the line


def split(text: str) -> tuple[str, dict[str, str]]:
    """The generated policy ``text`` (policy_gen's layout) as a policy that
    includes `shared/scores.mql`, which includes `schema.mql` (its folder):
    half of the lead fields, the events and the params in the schema, the
    other half of the lead fields in the policy, the scores and the
    disqualifiers in `scores.mql`. Written by hand: text moved, nothing
    re-printed."""
    head, rest = text.split(SCHEMA, 1)
    scores_part, lifecycle = rest.split("stages", 1)
    lifecycle = "stages" + lifecycle
    disqualify = [line for line in lifecycle.splitlines() if line.startswith("disqualify ")]
    others = [line for line in lifecycle.splitlines() if not line.startswith("disqualify ")]
    lead_block, declarations = SCHEMA.split("}\n", 1)
    fields = lead_block.removeprefix("lead {\n").splitlines()
    # (the policy's own fields count before the included ones: SPEC §3 puts `include` after
    # the lead block)
    schema = "lead {\n" + "\n".join(fields[4:]) + "\n}\n" + declarations
    own_fields = "lead {\n" + "\n".join(fields[:4]) + "\n}\n"
    scores = '# scores\ninclude "schema.mql"\n' + scores_part + "\n".join(disqualify) + "\n"
    main = head + 'include "shared/scores.mql"\n' + own_fields + "\n".join(others) + "\n"
    return main, {"shared/schema.mql": schema, "shared/scores.mql": scores}


def without_stamp(decision_json: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in decision_json.items() if key != "policy"}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policies(), st.lists(leads(), min_size=1, max_size=4))
def test_a_policy_split_into_files_decides_like_the_one_text(
    text: str, journeys: list[Lead]
) -> None:
    whole = check_text(text, "whole.mql").model
    assert whole is not None, text
    main, files = split(text)
    result = check_text(main, "main.mql", read=reader_of(files))
    errors = [d.render(result.source) for d in result.diagnostics if d.is_error]
    assert result.model is not None, "\n".join(errors) + "\n" + main + str(files)
    parts = result.model
    assert [file.relative for file in parts.includes] == ["shared/scores.mql", "shared/schema.mql"]
    # the same declarations, in the same order
    assert list(parts.fields) == list(whole.fields)
    assert list(parts.events) == list(whole.events)
    assert list(parts.params) == list(whole.params)
    assert list(parts.scores) == list(whole.scores)
    assert [d.reason for d in parts.disqualifiers] == [d.reason for d in whole.disqualifiers]
    one, split_up = Evaluator(whole), Evaluator(parts)
    for lead in journeys:
        expected = one.run(lead, AS_OF)
        actual = split_up.run(lead, AS_OF)
        assert without_stamp(actual.decision.to_json()) == without_stamp(
            expected.decision.to_json()
        )
        # (a reason names the line of its rule: the lines differ between the two texts)
        assert [(s.at, s.stage, lineless(s.reason)) for s in actual.steps] == [
            (s.at, s.stage, lineless(s.reason)) for s in expected.steps
        ]


def lineless(reason: str | None) -> str | None:
    return re.sub(r"\(line \d+\)", "(line)", reason) if reason is not None else None


# ---------------------------------------------------------------- the shipped example


def inlined_outbound() -> str:
    """policies/acme_outbound.mql with its include lines replaced by the
    files' text, by hand (text substitution)."""
    schema = (COMMON / "acme_schema.mql").read_text(encoding="utf-8")
    fit = (COMMON / "acme_fit.mql").read_text(encoding="utf-8")
    fit = fit.replace('include "acme_schema.mql"\n', schema)
    main = OUTBOUND.read_text(encoding="utf-8")
    return main.replace('include "common/acme_fit.mql"\n', fit)


def test_the_shipped_policy_with_includes_decides_like_its_inlined_copy(tmp_path: Path) -> None:
    inlined = tmp_path / "inlined.mql"
    inlined.write_text(inlined_outbound(), encoding="utf-8")
    journeys = tmp_path / "leads.jsonl"
    records = []
    for index, (profile, events) in enumerate(
        [
            ({"email_kind": "corporate", "role": "secops", "company_size": 900}, ["email_reply"]),
            (
                {"email_kind": "corporate", "role": "secops", "company_size": 900},
                ["email_reply", "meeting_booked"],
            ),
            ({"email_kind": "competitor", "role": "secops"}, ["meeting_booked"]),
            ({"email_kind": "personal", "role": "it_manager"}, ["page_view", "demo_request"]),
            ({"company_size": 300}, ["meeting_booked", "sales_accepted"]),
            ({"company_size": 300}, ["meeting_booked", "unsubscribe"]),
        ]
    ):
        records.append(
            {
                "id": f"L-{index}",
                "profile": profile,
                "events": [
                    {"type": kind, "at": f"2026-12-0{1 + n}T10:00:00Z", "path": "/pricing"}
                    if kind == "page_view"
                    else {"type": kind, "at": f"2026-12-0{1 + n}T10:00:00Z"}
                    for n, kind in enumerate(events)
                ],
            }
        )
    journeys.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    as_of = "2026-12-10T00:00:00Z"
    ours = [without_stamp(d.to_json()) for d in mqldsl.score(OUTBOUND, journeys, as_of)]
    theirs = [without_stamp(d.to_json()) for d in mqldsl.score(inlined, journeys, as_of)]
    assert ours == theirs
    assert {d["stage"] for d in ours} >= {"engaged", "mql", "sql"}
    assert any(d["disqualified"] for d in ours)


# ---------------------------------------------------------------- the hash


def expected_hash(main: Path, included: list[tuple[str, Path]]) -> str:
    """The documented hash (docs/decisions.md), computed here: the formatted
    policy, then per included file in load order NUL, `include PATH`, NUL,
    newline and its formatted text (`mqldsl fmt -` prints each)."""
    text = fmt_text(main.read_text(encoding="utf-8"))
    for relative, path in included:
        text += f"\0include {relative}\0\n" + fmt_text(path.read_text(encoding="utf-8"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fmt_text(text: str) -> str:
    code, out, err = run("fmt", "-", input=text)
    assert code == 0, err
    return out


def test_the_hash_covers_the_included_files(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    main = tmp_path / "policies" / "acme_outbound.mql"
    fit = tmp_path / "policies" / "common" / "acme_fit.mql"
    schema = tmp_path / "policies" / "common" / "acme_schema.mql"
    code, out, _ = run("check", "--hash", str(main))
    assert code == 0
    shown = re.search(r"sha256 ([0-9a-f]{64})", out)
    assert shown
    assert shown.group(1) == expected_hash(
        main, [("common/acme_fit.mql", fit), ("common/acme_schema.mql", schema)]
    )
    # the decisions name the same hash
    journeys = tmp_path / "one.jsonl"
    journeys.write_text('{"id": "L-1", "profile": {}, "events": []}\n')
    decision = next(mqldsl.score(main, journeys, "2026-12-10T00:00:00Z"))
    assert decision.policy.sha256 == shown.group(1)
    # reformatting an included file does not change it; a change of meaning does
    schema.write_text(schema.read_text().replace("event unsubscribe", "event   unsubscribe"))
    assert mqldsl.load(main).sha256 == shown.group(1)
    schema.write_text(schema.read_text().replace("unsubscribe ever", "unsubscribe within 9 days"))
    changed = mqldsl.load(main).sha256
    assert changed != shown.group(1)
    # and it does not depend on the folder a command runs from
    cwd = os.getcwd()
    os.chdir(tmp_path / "policies")
    try:
        assert mqldsl.load("acme_outbound.mql").sha256 == changed
    finally:
        os.chdir(cwd)


def test_a_policy_without_includes_keeps_its_hash() -> None:
    acme = ROOT / "policies" / "acme.mql"
    expected = hashlib.sha256(fmt_text(acme.read_text(encoding="utf-8")).encode()).hexdigest()
    assert mqldsl.load(acme).sha256 == expected


# ---------------------------------------------------------------- the tools


def test_fmt_formats_each_file_alone_and_keeps_includes(tmp_path: Path) -> None:
    shared = tmp_path / "shared.mql"
    shared.write_text("event    demo_request\nlead {\n role :int\n}\n")
    main = tmp_path / "main.mql"
    main.write_text(
        'policy "P"\nparam x = 1\ninclude "shared.mql"\nstages {\n  visitor\n'
        "  mql when role > x and demo_request ever\n}\n"
    )
    code, _, err = run("fmt", str(tmp_path))
    assert code == 0, err
    assert main.read_text() == (
        'policy "P"\n\ninclude "shared.mql"\n\nparam x = 1\n\nstages {\n  visitor\n'
        "  mql when role > x and demo_request ever\n}\n"
    )
    assert shared.read_text() == "lead {\n  role: int\n}\n\nevent demo_request\n"
    assert run("fmt", "--check", str(tmp_path))[0] == 0
    assert check_file(main).ok


def test_check_and_test_on_a_folder_skip_included_files_and_check_them_through_policies() -> None:
    code, out, err = run("check", str(ROOT / "policies"))
    assert code == 0, out
    assert "acme_schema" not in out + err
    code, out, _ = run("test", str(ROOT / "policies"))
    assert code == 0
    assert "common" not in out
    assert f"{OUTBOUND}: 5 examples" in out


def test_an_included_file_checked_alone_says_what_it_is(tmp_path: Path) -> None:
    code, out, _ = run("check", str(COMMON / "acme_schema.mql"))
    assert code == 1
    assert "error[E111]" in out
    assert "a file of shared declarations is not a policy" in out


def test_docs_name_the_file_of_each_included_declaration() -> None:
    text = mqldsl.docs(OUTBOUND)
    assert "this policy includes `common/acme_fit.mql`, `common/acme_schema.mql`" in text
    assert "The lead fields come from `common/acme_schema.mql`." in text
    assert "### fit — How closely the lead matches our ideal customer profile\n\n" in text
    assert "From `common/acme_fit.mql`." in text
    assert (
        "| email reply (`email_reply`) | Answered an outbound email "
        "(from `common/acme_schema.mql`) |  |" in text
    )
    assert "| Competitor (from `common/acme_schema.mql`) |" in text
    # the policy's own declarations name no file
    assert "### engagement — How the prospect answered our outreach\n\n|" in text
    assert "Lowest fit score an outbound MQL may have |" in text
    html = mqldsl.docs(OUTBOUND, "html")
    assert "<p>From <code>common/acme_fit.mql</code>.</p>" in html


def test_diff_compares_the_merged_policies(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "policies", tmp_path / "old")
    shutil.copytree(ROOT / "policies", tmp_path / "new")
    fit = tmp_path / "new" / "common" / "acme_fit.mql"
    fit.write_text(fit.read_text().replace("+15 when role in", "+25 when role in"))
    changes = [
        c.text()
        for c in mqldsl.diff(
            tmp_path / "old" / "acme_outbound.mql", tmp_path / "new" / "acme_outbound.mql"
        )
    ]
    assert len(changes) == 1
    assert "15" in changes[0] and "25" in changes[0]


def test_text_without_a_file_includes_relative_to_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "shared.mql").write_text("event demo_request\n")
    text = (
        'policy "P"\ninclude "shared.mql"\nstages {\n  visitor\n  mql when demo_request ever\n}\n'
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert mqldsl.check(text=text).ok
    finally:
        os.chdir(cwd)
    assert [d.code for d in mqldsl.check(text=text).diagnostics] == ["E112"]


def test_commands_read_includes(tmp_path: Path) -> None:
    journeys = tmp_path / "one.jsonl"
    journeys.write_text(
        '{"id": "L-1", "profile": {"role": "secops", "company_size": 900}, '
        '"events": [{"type": "meeting_booked", "at": "2026-12-09T00:00:00Z"}]}\n'
    )
    code, out, err = run("score", str(OUTBOUND), str(journeys), "--as-of", "2026-12-10")
    assert code == 0, err
    assert json.loads(out)["stage"] == "mql"
    code, out, err = run("sql", str(OUTBOUND), "--as-of", "2026-12-10")
    assert code == 0, err
    assert "meeting_booked" in out
    code, out, err = run(
        "explain", str(OUTBOUND), str(journeys), "--lead", "L-1", "--as-of", "2026-12-10"
    )
    assert code == 0, err
    assert "(common/acme_fit.mql line 7)" in out  # a rule of an included file names it


def test_spark_executors_get_the_included_texts_not_the_driver_files(tmp_path: Path) -> None:
    """A Spark job carries the included files' text: an executor checks the
    policy without the driver's folder (here: deleted before it runs)."""
    from mqldsl.engine.runtime import Event
    from mqldsl.io.scoring import ScoreOptions
    from mqldsl.warehouse.spark_engine import SparkJob, job_evaluator

    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    main = tmp_path / "policies" / "acme_outbound.mql"
    model = mqldsl.load(main)
    job = SparkJob.of(model, ScoreOptions(as_of=mqldsl.instant("2026-12-10T00:00:00Z"), params={}))
    assert [name for name, _ in job.included] == [file.name for file in model.includes]
    shutil.rmtree(tmp_path / "policies")
    evaluator = job_evaluator(job)
    lead = Lead(
        id="L-1",
        profile={"role": "secops", "company_size": 900},
        events=(
            Event(at=mqldsl.instant("2026-12-09T00:00:00Z"), type="meeting_booked", fields={}),
        ),
    )
    decision = evaluator.decide(lead, job.as_of)
    assert decision.stage == "mql"
    assert decision.policy.sha256 == model.sha256


def test_tune_output_refuses_a_param_of_an_included_file(tmp_path: Path) -> None:
    from mqldsl.io.errors import UsageProblem
    from mqldsl.simulation.tune_output import tuned_policy_text

    files = {"shared.mql": "param low = 5\nevent demo_request\n"}
    text = 'policy "P"\ninclude "shared.mql"\nparam high = 9\nstages {\n  visitor\n'
    text += "  mql when demo_request ever and low < high\n}\n"
    model = check_text(text, "main.mql", read=reader_of(files)).model
    assert model is not None
    assert "param high = 10" in tuned_policy_text(model, {"high": 10})
    with pytest.raises(UsageProblem, match=r"declared in the included file shared\.mql"):
        tuned_policy_text(model, {"low": 6})


def test_a_shared_file_may_declare_what_this_policy_does_not_use() -> None:
    """W503-W505 (unused) are for the policy's own declarations: a shared
    schema serves several policies."""
    files = {"shared.mql": "lead {\n  size: int\n}\nevent unused_here\nparam spare = 1\n"}
    text = 'policy "P"\ninclude "shared.mql"\nevent own_unused\nstages { visitor }\n'
    result = check_text(text, "main.mql", read=reader_of(files))
    unused = [
        (d.code, d.span.file) for d in result.diagnostics if d.code in ("W503", "W504", "W505")
    ]
    assert unused == [("W504", "main.mql")]


def test_check_on_a_folder_reports_a_headerless_file_that_no_policy_includes(
    tmp_path: Path,
) -> None:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    stray = tmp_path / "policies" / "common" / "stray.mql"
    stray.write_text("event forgotten\n")
    code, out, err = run("check", str(tmp_path / "policies"))
    assert code == 1
    assert f"{stray}:1:1: error[E111]" in out
    assert "acme_schema" not in out
    shipped = len(list((ROOT / "policies").glob("*.mql")))
    assert f"checked {shipped + 1} files: 1 error, 0 warnings" in err


def test_account_blocks_merge_and_allow_comments_work_in_included_files() -> None:
    files = {
        "shared.mql": (
            "account {\n  tier: enum(gold, silver)\n}\n"
            "event spare  # mqldsl: allow W504\n"
            "score fit {\n  +10 when account.tier == gold\n  +5 when size > 10 and size < 5\n}\n"
        )
    }
    text = (
        'policy "P"\ninclude "shared.mql"\nlead {\n  size: int\n}\naccount {\n  seats: int\n}\n'
        "stages {\n  visitor\n  mql when fit >= 10 and account.seats > 5\n}\n"
    )
    result = check_text(text, "main.mql", read=reader_of(files))
    assert result.model is not None
    assert list(result.model.account_fields) == ["seats", "tier"]
    codes = {(d.code, d.span.file, d.span.line) for d in result.diagnostics}
    assert ("W502", "shared.mql", 7) in codes  # a warning in the included file, where written
    quiet = files["shared.mql"].replace("size < 5\n", "size < 5  # mqldsl: allow W502\n")
    result = check_text(text, "main.mql", read=reader_of({"shared.mql": quiet}))
    assert not any(d.span.file == "shared.mql" for d in result.diagnostics)


def test_a_scenario_naming_a_policy_with_includes_generates_and_simulates(tmp_path: Path) -> None:
    scenario = ROOT / "simulations" / "acme_outbound.toml"
    out = tmp_path / "leads.jsonl"
    assert mqldsl.generate(scenario, out, leads=200) == 200
    kinds = {e["type"] for line in out.read_text().splitlines() for e in json.loads(line)["events"]}
    assert {"email_reply", "meeting_booked"} <= kinds  # events of the included schema
    report = mqldsl.simulate(OUTBOUND, journeys=out, as_of="2026-12-01T00:00:00Z").to_json()
    decisions = list(mqldsl.score(OUTBOUND, out, "2026-12-01T00:00:00Z"))
    mqls = sum(1 for d in decisions if "mql" in d.entered)  # counted here, from the decisions
    assert report["metrics"]["mqls"] == mqls > 0


def test_a_policy_reads_at_most_max_files_included_files() -> None:
    from mqldsl.language.includes import MAX_FILES

    files = {f"f{i}.mql": f"event e{i}  # mqldsl: allow W504\n" for i in range(MAX_FILES + 1)}
    lines = "".join(f'include "f{i}.mql"\n' for i in range(MAX_FILES + 1))
    text = f'policy "Many"\n{lines}stages {{ visitor }}\n'
    result = check_text(text, "main.mql", read=reader_of(files))
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("E117", MAX_FILES + 2)]
    assert f"at most {MAX_FILES} included files" in result.diagnostics[0].message
    fewer = text.replace(f'include "f{MAX_FILES}.mql"\n', "")
    assert check_text(fewer, "main.mql", read=reader_of(files)).ok


# ---------------------------------------------------------------- found by review


def test_an_include_path_with_a_nul_character_is_an_error_not_a_crash(tmp_path: Path) -> None:
    # Found by the property test: os.path.realpath raises ValueError on "\x00".
    text = 'policy "p"\ninclude "\x00common/fields.mql"\nstages {\n  a\n}\n'
    result = check_text(text, "main.mql", read=reader_of({}))
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("E117", 2)]
    assert "NUL character" in result.diagnostics[0].message
    policy = tmp_path / "nul.mql"
    policy.write_text(text)
    code, out, err = run("check", str(policy))
    # (a file with a NUL byte is not read as a policy at all: E100, binary)
    assert code == 1 and "Traceback" not in out + err
    assert f"{policy}:1:1: error[E100]" in out + err


def test_an_include_that_is_not_a_regular_file_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.mql")  # opening a pipe to read would wait for a writer
    (tmp_path / "folder.mql").mkdir()
    for target in ("pipe.mql", "folder.mql"):
        policy = tmp_path / f"uses_{target.split('.')[0]}.mql"
        policy.write_text(f'policy "p"\ninclude "{target}"\nstages {{\n  a\n}}\n')
        code, out, err = run("check", str(policy))
        assert code == 1, err
        pattern = (
            rf"error\[E112\]: cannot read the included file `\S*{target}`: "
            "(not a regular file|Is a directory)"
        )
        assert re.search(pattern, out + err), out + err
    code, out, err = run("check", str(tmp_path / "pipe.mql"))
    assert code == 1 and "E100" in out + err and "not a regular file" in out + err


def test_a_header_inside_a_long_string_does_not_make_a_policy(tmp_path: Path) -> None:
    shared = tmp_path / "shared.mql"
    shared.write_text(
        '# shared\nevent demo\nscore s """\npolicy "quoted"\n""" {\n  +1 when demo ever\n}\n'
    )
    (tmp_path / "p.mql").write_text('policy "p"\ninclude "shared.mql"\nstages {\n  a\n}\n')
    code, out, err = run("fmt", "--check", str(shared))
    assert "E111" not in out + err, err
    code, out, err = run("check", str(tmp_path))
    assert code == 0, err


def test_test_on_a_folder_runs_a_file_without_header_that_nothing_includes(
    tmp_path: Path,
) -> None:
    (tmp_path / "forgot.mql").write_text(
        'event e\nstages {\n  a\n}\nexample "x" {\n  expect stage a\n}\n'
    )
    code, out, err = run("test", str(tmp_path))
    assert code == 1 and "forgot.mql:1:1: error[E111]" in out + err
    (tmp_path / "ok.mql").write_text('policy "ok"\nstages {\n  a\n}\n')
    code, out, err = run("test", str(tmp_path))
    assert code == 1 and "forgot.mql:1:1: error[E111]" in out + err


def test_a_name_of_two_kinds_says_where_the_other_is(tmp_path: Path) -> None:
    (tmp_path / "s.mql").write_text("lead { role: text }\nevent demo\n")
    (tmp_path / "p.mql").write_text(
        'policy "p"\ninclude "s.mql"\nparam role = 3\nscore demo { +1 when true }\n'
        "stages {\n  a\n}\n"
    )
    code, out, err = run("check", str(tmp_path / "p.mql"))
    assert code == 1
    assert "`role` is already a lead field; a param needs its own name" in out + err
    assert re.search(r"the field is at \S*s\.mql:1\b", out + err)
    assert "`demo` is already an event; a score needs its own name" in out + err
    assert re.search(r"the event is at \S*s\.mql:2\b", out + err)


def test_an_include_written_after_own_declarations_is_warned(tmp_path: Path) -> None:
    (tmp_path / "dq.mql").write_text('event spam_report\ndisqualify "Spam" when spam_report ever\n')
    late = (
        'policy "p"\nevent unsubscribe\ndisqualify "Unsubscribed" when unsubscribe ever\n'
        'include "dq.mql"\nstages {\n  a\n}\n'
    )
    (tmp_path / "late.mql").write_text(late)
    result = check_file(tmp_path / "late.mql")
    codes = [(d.code, d.span.line) for d in result.diagnostics]
    assert ("W509", 4) in codes
    # The reasons come in the order the warning describes: the included one first.
    assert result.model is not None
    assert [d.reason for d in result.model.disqualifiers] == ["Spam", "Unsubscribed"]
    early = late.replace('include "dq.mql"\n', "").replace(
        'policy "p"\n', 'policy "p"\ninclude "dq.mql"\n'
    )
    (tmp_path / "early.mql").write_text(early)
    assert "W509" not in [d.code for d in check_file(tmp_path / "early.mql").diagnostics]
    allowed = late.replace('include "dq.mql"\n', 'include "dq.mql"  # mqldsl: allow W509\n')
    (tmp_path / "allowed.mql").write_text(allowed)
    assert "W509" not in [d.code for d in check_file(tmp_path / "allowed.mql").diagnostics]


def test_a_broken_policy_does_not_make_its_shared_files_orphans(tmp_path: Path) -> None:
    (tmp_path / "t.mql").write_text("event demo\n")
    (tmp_path / "s.mql").write_text('include "t.mql"\nevent other\n')
    (tmp_path / "p.mql").write_text('policy "p"\ninclude "s.mql"\nscore {\nstages {\n  a\n}\n')
    for command in ("check", "test"):
        code, out, err = run(command, str(tmp_path))
        assert code == 1
        assert "E111" not in out + err, out + err
        assert "p.mql:3" in out + err


def test_docs_say_which_fields_an_included_file_declares(tmp_path: Path) -> None:
    (tmp_path / "c.mql").write_text("lead { size: int }\naccount { tier: text }\n")
    (tmp_path / "p.mql").write_text(
        'policy "Docs"\ninclude "c.mql"\nlead { role: text }\naccount { target: bool }\n'
        "stages {\n  a\n}\n"
    )
    code, text, err = run("docs", str(tmp_path / "p.mql"))
    assert code == 0, err
    assert (
        "The lead field `size` comes from `c.mql`. The other lead fields are the policy's" in text
    )
    assert "The account field `tier` comes from `c.mql`." in text
    assert "The lead fields come from" not in text


def test_an_item_an_included_file_may_not_hold_does_not_hide_other_errors(tmp_path: Path) -> None:
    (tmp_path / "r.mql").write_text("event demo\nroute mql to sdr\n")
    (tmp_path / "p.mql").write_text(
        'policy "p"\ninclude "r.mql"\nlead { n: int }\nscore s { +1 when n == "a" }\n'
        "stages {\n  a\n  mql when demo ever\n}\nroute mqll to sdr\n"
    )
    result = check_file(tmp_path / "p.mql")
    assert result.model is None
    codes = sorted(d.code for d in result.diagnostics if d.is_error)
    assert codes == ["E116", "E206", "E301"], codes


def test_check_folder_reports_a_shared_files_problem_once(tmp_path: Path) -> None:
    (tmp_path / "s.mql").write_text("lead { n: int }\nscore s { +1 when regin == 1 }\n")
    for name in ("a", "b"):
        (tmp_path / f"{name}.mql").write_text(
            f'policy "{name}"\ninclude "s.mql"\nstages {{\n  x\n}}\n'
        )
    code, out, err = run("check", str(tmp_path))
    assert code == 1
    assert (out + err).count("unknown name `regin`") == 1, out + err
    assert "checked 2 files: 1 error" in err


def test_an_include_in_spec_order_after_the_events_is_canonical(tmp_path: Path) -> None:
    """SPEC §3's table puts `include` after the lead fields and the events; a file written in
    that order got W509 and `fmt --check` moved the line up to the header."""
    (tmp_path / "shared.mql").write_text(
        'disqualify "Competitor" when k < 0\nscore s { +1 when k > 0 }\n'
    )
    text = (
        'policy "Spec order"\n\nlead {\n  k: int\n}\n\nevent demo\n\ninclude "shared.mql"\n\n'
        "score t {\n  +1 when demo ever\n}\n\nstages {\n  visitor\n  l when s >= 1\n}\n\n"
        'disqualify "Own" when k < -5\n'
    )
    main = tmp_path / "main.mql"
    main.write_text(text)
    result = check_file(main)
    assert "W509" not in [d.code for d in result.diagnostics]
    assert run("fmt", "--check", str(main))[0] == 0
    assert result.model is not None
    assert list(result.model.scores) == ["s", "t"]  # the included score at the include line
    assert [d.reason for d in result.model.disqualifiers] == ["Competitor", "Own"]
