"""The expectations of an example (SPEC §10) and `mqldsl test` around them.

The policy is policies/acme.mql with one example appended; each expectation is shown
holding and failing, with the failure message `mqldsl test` prints. The figures are worked
out by hand in the comments, from acme.mql's rules, not from the engine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mqldsl.analysis.checker import check_text
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.examples import run_example
from mqldsl.language import ast
from mqldsl.language.parser import parse_text
from mqldsl.language.printer import format_policy

from .conftest import ROOT
from .helpers import run

ACME_PATH = ROOT / "policies" / "acme.mql"
ACME = ACME_PATH.read_text(encoding="utf-8")

# The demo lead: fit = 20 (company_size 900 is between 200 and 5000) + 15 (role secops) = 35;
# intent = 30 (a demo request within 60 days; an event in the last 30 days, so no "Gone
# quiet"). It is an MQL (a demo request within 60 days and fit 35 >= 10) since its demo request
# at 2026-10-31T23:00:00Z; an inbound MQL goes to sdr_inbound with a 5-minute SLA, so it is
# due at 23:05, 55 minutes before the example's instant 2026-11-01T00:00:00Z.
DEMO = (
    "lead { email_kind: corporate, role: secops, company_size: 900, channel: inbound }\n"
    "demo_request at -1 hour\n"
)
# The same lead from a competitor: disqualified "Competitor"; fit 35 - 100 = -65; no route.
COMPETITOR = DEMO.replace("corporate", "competitor")


def example(body: str, policy: str = ACME, params: dict[str, object] | None = None) -> list[str]:
    """The failures of one example appended to ``policy``, as `mqldsl test` prints them
    (empty: every expectation holds)."""
    text = policy + '\nexample "case" at 2026-11-01 {\n' + body + "}\n"
    result = check_text(text, "acme.mql")
    assert result.model is not None, [d.render(result.source) for d in result.diagnostics]
    case = result.model.examples[-1]
    outcome = run_example(Evaluator(result.model, params), case)
    return [f"expected {f.expected}, got {f.actual}" for f in outcome.failures]


# ---------------------------------------------------------------- each expectation


@pytest.mark.parametrize(
    ("body", "failures"),
    [
        (DEMO + "expect not disqualified\n", []),
        (
            COMPETITOR + "expect not disqualified\n",
            ['expected not disqualified, got disqualified "Competitor"'],
        ),
        (DEMO + "expect stage in [mql, sql]\n", []),
        (
            DEMO + "expect stage in [lead, visitor]\n",
            ["expected stage in [lead, visitor], got stage mql"],
        ),
        (
            COMPETITOR + "expect stage in [visitor]\n",
            ["expected stage in [visitor], got stage disqualified"],
        ),
        # both ends are included, as in conditions
        (DEMO + "expect fit between 35 and 35\nexpect fit between 30 and 35\n", []),
        (
            DEMO + "expect fit between 36 and 50\n",
            ["expected fit between 36 and 50, got fit is 35"],
        ),
        (COMPETITOR + "expect fit between -70 and -60\n", []),
        (DEMO + "expect route none\n", ["expected route none, got route sdr_inbound"]),
        (COMPETITOR + "expect route none\n", []),
        (COMPETITOR + "expect route sdr_inbound\n", ["expected route sdr_inbound, got no route"]),
    ],
)
def test_expectation_holds_or_says_what_it_got(body: str, failures: list[str]) -> None:
    assert example(body) == failures


def test_numbers_may_be_params_and_a_failure_shows_the_param_value() -> None:
    # mql_fit_min = 30, mql_intent_min = 40: fit 35 >= 30; 30 <= intent 30 <= 40
    assert example(DEMO + "expect fit >= mql_fit_min\n") == []
    assert example(DEMO + "expect intent between mql_fit_min and mql_intent_min\n") == []
    assert example(DEMO + "expect intent >= mql_intent_min\n") == [
        "expected intent >= mql_intent_min (40), got intent is 30"
    ]
    assert example(DEMO + "expect fit between mql_intent_min and 50\n") == [
        "expected fit between mql_intent_min (40) and 50, got fit is 35"
    ]


def test_a_param_in_an_expectation_takes_the_evaluators_value() -> None:
    # With mql_fit_min set to 36 the demo lead (fit 35) is still an MQL through its demo
    # request, but fit >= mql_fit_min no longer holds.
    assert example(DEMO + "expect fit >= mql_fit_min\n", params={"mql_fit_min": 36}) == [
        "expected fit >= mql_fit_min (36), got fit is 35"
    ]


@pytest.mark.parametrize(
    ("body", "failures"),
    [
        # entered mql at 23:00 + 5 minutes = 23:05 = the instant (00:00) - 55 minutes
        (DEMO + "expect due -55 minutes\nexpect due 2026-10-31T23:05:00Z\n", []),
        (DEMO + "expect due 2026-10-31T23:05:00+00:00\n", []),
        (
            DEMO + "expect due +5 minutes\n",
            [
                "expected due 2026-11-01T00:05:00Z (+5 minutes), "
                "got due 2026-10-31T23:05:00Z (route sdr_inbound)"
            ],
        ),
        # a date is its midnight UTC
        (
            DEMO + "expect due 2026-10-31\n",
            ["expected due 2026-10-31T00:00:00Z, got due 2026-10-31T23:05:00Z (route sdr_inbound)"],
        ),
        # outbound: sdr_outbound, 1 day: 2026-10-31T23:00 + 24 hours = 2026-11-01T23:00,
        # 23 hours after the instant
        (DEMO.replace("inbound", "outbound") + "expect due +23 hours\n", []),
        (
            COMPETITOR + "expect due -55 minutes\n",
            ["expected due 2026-10-31T23:05:00Z (-55 minutes), got no route"],
        ),
    ],
)
def test_expect_due_is_the_route_deadline(body: str, failures: list[str]) -> None:
    assert example(body) == failures


def test_expect_due_on_a_route_without_sla_says_so() -> None:
    policy = ACME.replace("route sql to account_exec, sla 1 day", "route sql to account_exec")
    body = DEMO + "sales_accepted at -30 minutes\nexpect route account_exec\nexpect due +1 day\n"
    assert example(body, policy) == [
        "expected due 2026-11-02T00:00:00Z (+1 day), got route account_exec without an SLA"
    ]


def test_expect_not_disqualified_parses_as_its_own_expectation() -> None:
    # It used to be a syntax error ("expected a comparison") that misled about the fix.
    result = parse_text('policy "t"\nexample "e" {\n  expect not disqualified\n}\n')
    assert not result.diagnostics
    assert result.policy is not None
    (case,) = result.policy.of_type(ast.Example)
    assert case.items == (ast.ExpectNotDisqualified(),)


# ---------------------------------------------------------------- the checker


def check_codes(body: str, policy: str = ACME) -> list[tuple[str, int, int, str]]:
    """(code, line within the example, column, message) of each diagnostic."""
    text = policy + '\nexample "case" at 2026-11-01 {\n' + body + "}\n"
    first = text.count("\n", 0, text.index('example "case"')) + 1
    result = check_text(text, "acme.mql")
    return [
        (d.code, d.span.line - first, d.span.column, d.message + (f" / {d.hint}" if d.hint else ""))
        for d in result.diagnostics
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "expect fit >= mql_fit_mni",
            ("E204", 1, 15, "unknown param `mql_fit_mni` / did you mean `mql_fit_min`?"),
        ),
        (
            "expect fit between 10 and mql_intnet_min",
            ("E204", 1, 27, "unknown param `mql_intnet_min` / did you mean `mql_intent_min`?"),
        ),
        (
            "expect fit >= intent",
            (
                "E209",
                1,
                15,
                "`intent` is a score, not a param: a score is compared with a number or a "
                "numeric param / did you mean `mql_intent_min`?",
            ),
        ),
        (
            "expect fit >= region",
            (
                "E209",
                1,
                15,
                "`region` is a lead field, not a param: a score is compared with a number or a "
                "numeric param",
            ),
        ),
        (
            "expect fit >= owner_name",
            (
                "E301",
                1,
                15,
                "`>=` compares a score with a number; the param `owner_name` holds text / write a number, or name a param that holds a number",
            ),
        ),
        (
            "expect fit between owner_name and 50",
            (
                "E302",
                1,
                20,
                "`between` compares a score with a number; the param `owner_name` holds text / write a number, or name a param that holds a number",
            ),
        ),
        (
            "expect fit between 50 and 10",
            (
                "E411",
                1,
                1,
                "`expect fit between 50 and 10` can never pass: the low end is above the high end / write the lower end first",
            ),
        ),
        (
            "expect fit between mql_intent_min and mql_fit_min",
            (
                "E411",
                1,
                1,
                "`expect fit between mql_intent_min (40) and mql_fit_min (30)` can never pass: the low end is above the high end / write the lower end first",
            ),
        ),
        (
            "expect stage in [lead, mqll]",
            ("E206", 1, 1, "unknown stage `mqll` / did you mean `mql`?"),
        ),
        ("expect stage in [mql, sql, mql]", ("E208", 1, 1, "`mql` is listed twice")),
        ("expect due -0 minutes", ("E314", 1, 13, "a duration must be positive / e.g. `30 days`")),
        (
            "expect fitt between 1 and 2",
            ("E205", 1, 1, "unknown score `fitt` / did you mean `fit`?"),
        ),
    ],
)
def test_expectation_errors(line: str, expected: tuple[str, int, int, str]) -> None:
    policy = ACME.replace(
        "param mql_fit_min = 30", 'param owner_name = "Marketing"\nparam mql_fit_min = 30'
    )
    found = check_codes("  " + line + "\n", policy)
    assert [d for d in found if d[0].startswith("E")] == [
        (expected[0], expected[1], expected[2] + 2, expected[3])
    ]


def test_expect_due_needs_a_route_with_an_sla() -> None:
    policy = re.sub(r", sla 1 day|, sla 5 minutes", "", ACME)
    assert check_codes(DEMO + "expect due -55 minutes\n", policy) == [
        (
            "E412",
            3,
            1,
            "`expect due` checks a route's SLA deadline, and no route has an SLA / give a route "
            "an SLA (`route mql to sdr, sla 5 minutes`), or expect the queue with "
            "`expect route QUEUE`",
        )
    ]


def test_a_param_only_an_expectation_uses_is_not_unused() -> None:
    policy = ACME.replace("param mql_fit_min = 30", "param mql_fit_min = 30\nparam floor = 20")
    text = policy + '\nexample "case" at 2026-11-01 {\n' + DEMO + "expect fit >= floor\n}\n"
    result = check_text(text, "acme.mql")
    assert [d.code for d in result.diagnostics if d.code == "W503"] == []
    without = check_text(policy, "acme.mql")
    assert [d.message for d in without.diagnostics if d.code == "W503"] == [
        "param `floor` is declared but never used"
    ]


# ---------------------------------------------------------------- mqldsl test


@pytest.fixture
def acme_with_cases(tmp_path: Path) -> Path:
    """acme.mql (118 lines) with two more examples: one whose new expectations all hold
    (lines 120-128), one whose expectations all fail (lines 130-138, expectations from 133)."""
    path = tmp_path / "acme.mql"
    path.write_text(
        ACME
        + '\nexample "Every new expectation holds" at 2026-11-01 {\n'
        + DEMO
        + "expect not disqualified\nexpect stage in [mql, sql]\nexpect fit between 30 and 40\n"
        "expect fit >= mql_fit_min\nexpect due -55 minutes\n}\n"
        + '\nexample "Every new expectation fails" at 2026-11-01 {\n'
        + COMPETITOR
        + "expect not disqualified\nexpect stage in [lead, mql]\nexpect intent between 40 and 50\n"
        "expect intent >= mql_intent_min\nexpect due +5 minutes\n}\n"
    )
    return path


def test_test_prints_each_failed_expectation(acme_with_cases: Path) -> None:
    code, out, _ = run("test", str(acme_with_cases))
    assert code == 1
    assert "  PASS  Every new expectation holds" in out
    start = out.index("  FAIL  Every new expectation fails")
    lines = out[start:].splitlines()[1:6]
    assert [line.strip() for line in lines] == [
        'expected not disqualified, got disqualified "Competitor"  (line 133)',
        "expected stage in [lead, mql], got stage disqualified  (line 134)",
        "expected intent between 40 and 50, got intent is 30  (line 135)",
        "expected intent >= mql_intent_min (40), got intent is 30  (line 136)",
        "expected due 2026-11-01T00:05:00Z (+5 minutes), got no route  (line 137)",
    ]
    assert out.splitlines()[-1] == "7 passed, 1 failed"


def test_test_on_a_file_that_cannot_be_read_says_so_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "broken.mql"
    path.write_text(ACME.replace("expect intent == 10", "expect intent =="))
    code, out, _ = run("test", str(path))
    assert code == 1
    assert "error[E101]" in out
    assert f"{path}: could not be read (1 error); no example ran" in out
    assert out.splitlines()[-1] == "0 passed, 0 failed, 1 file could not be read"
    assert "0 passed, 0 failed\n" not in out


def test_test_on_a_file_with_check_errors_says_so(tmp_path: Path) -> None:
    path = tmp_path / "typo.mql"
    path.write_text(ACME.replace("expect intent == 10", "expect intent >= mql_intent_mni"))
    code, out, _ = run("test", str(path), str(ACME_PATH))
    assert code == 1
    assert "error[E204]: unknown param `mql_intent_mni`" in out
    assert f"{path}: could not be read (1 error); no example ran" in out
    assert out.splitlines()[-1] == "6 passed, 0 failed, 1 file could not be read"


def test_k_runs_the_examples_whose_name_contains_the_text_ignoring_case() -> None:
    # acme.mql: "A demo request from a fitting account is an MQL" is the one name with "demo"
    code, out, _ = run("test", "-k", "DEMO", str(ACME_PATH))
    assert code == 0
    assert out.splitlines() == [
        f"{ACME_PATH}: 1 example (5 deselected)",
        "  PASS  A demo request from a fitting account is an MQL",
        "1 passed, 0 failed, 5 deselected",
    ]
    # three names contain "an mql": "... makes a lead, not an MQL", "... is never an MQL",
    # "... is an MQL"
    code, out, _ = run("test", "-k", "an mql", str(ACME_PATH))
    assert out.splitlines()[-1] == "3 passed, 0 failed, 3 deselected"


def test_k_matching_no_example_says_so_and_exits_1() -> None:
    code, out, err = run("test", "-k", "webinar", str(ACME_PATH))
    assert code == 1
    assert 'no example name contains "webinar" (6 deselected)' in err
    assert "PASS" not in out


def test_k_runs_only_failing_examples_it_selects(acme_with_cases: Path) -> None:
    code, out, _ = run("test", "-k", "holds", str(acme_with_cases))
    assert code == 0
    assert out.splitlines()[-1] == "1 passed, 0 failed, 7 deselected"


def acme_parts_covered() -> tuple[int, int]:
    """(parts exercised, parts) of acme.mql by its own examples, counted by hand."""
    # fit rules: 10; intent rules: 9; stages: 5; disqualifiers: 2; routes: 3 -> 29 parts.
    # Exercised: fit +20 (size 200-5000), +10 (50-199: the case-study lead has 120), +15
    # (secops), +5 (it_manager), -100 (competitor); intent +10 per content_download, +30 demo,
    # -20 gone quiet (the visitor); all 5 stages; "Competitor"; routes mql->sdr_inbound and
    # sql->account_exec. 5 + 3 + 5 + 1 + 2 = 16.
    return 16, 29


def test_coverage_gives_the_share_of_parts_exercised() -> None:
    covered, total = acme_parts_covered()
    code, out, _ = run("test", "--coverage", str(ACME_PATH))
    assert code == 0
    percent = covered * 1000 // total  # tenths, rounded down: 551 -> 55.1
    line = f"  coverage: {covered} of {total} parts exercised ({percent // 10}.{percent % 10}%)"
    assert line in out.splitlines()
    assert sum(1 for ln in out.splitlines() if ln.startswith("  not covered: ")) == total - covered


def test_coverage_with_k_leaves_out_files_none_of_whose_examples_ran() -> None:
    # Only "A demo request from a fitting account is an MQL" runs. It exercises fit +20
    # (size 900) and +15 (secops), intent +30 (demo request), the stage mql (the lead is an
    # MQL from its first instant, never a visitor) and the route to sdr_inbound: 5 of 29.
    saas = ROOT / "policies" / "saas_trial.mql"
    model = check_text(saas.read_text(), str(saas)).model
    assert model is not None
    code, out, _ = run("test", "--coverage", "-k", "FITTING account", str(ACME_PATH), str(saas))
    assert code == 0
    assert str(saas) not in out
    assert out.splitlines()[-2:] == [
        "coverage: 5 of 29 parts exercised (17.2%)",
        f"1 passed, 0 failed, {5 + len(model.examples)} deselected",
    ]


@pytest.mark.parametrize(
    ("threshold", "code"), [("55", 0), ("55.17", 0), ("55.18", 1), ("60", 1), ("0", 0), ("100", 1)]
)
def test_fail_under_compares_the_exact_share(threshold: str, code: int) -> None:
    # 16 / 29 = 55.172...%: at or below 55.17 passes, 55.18 does not
    exit_code, out, _ = run("test", "--fail-under", threshold, str(ACME_PATH))
    assert exit_code == code
    assert "coverage: 16 of 29 parts exercised (55.1%)" in out  # --fail-under implies coverage
    below = f"coverage 55.1% is below --fail-under {float(threshold):g}%"
    assert (below in out.splitlines()) == (code == 1)
    assert out.splitlines()[-1] == "6 passed, 0 failed"


@pytest.mark.parametrize("value", ["-1", "100.5", "nan", "inf", "half", ""])
def test_fail_under_refuses_what_is_not_a_percentage(value: str) -> None:
    code, _, err = run("test", "--fail-under", value, str(ACME_PATH))
    assert code == 2
    assert "is not a percentage from 0 to 100" in err


def test_json_gives_examples_totals_and_coverage(acme_with_cases: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mql"
    broken.write_text('policy "b"\nstages {\n  a\n')
    code, out, _ = run(
        "test", "--format", "json", "--fail-under", "50", str(acme_with_cases), str(broken)
    )
    assert code == 1
    data = json.loads(out)
    assert data["totals"] == {"passed": 7, "failed": 1, "deselected": 0, "unreadable_files": 1}
    names = [(e["name"], e["status"]) for e in data["examples"]]
    assert names[-2:] == [
        ("Every new expectation holds", "passed"),
        ("Every new expectation fails", "failed"),
    ]
    failing = data["examples"][-1]
    assert failing["file"] == str(acme_with_cases) and failing["line"] == 130
    assert failing["failures"][0] == {
        "line": 133,
        "expectation": "expect not disqualified",
        "expected": "not disqualified",
        "actual": 'disqualified "Competitor"',
    }
    assert failing["failures"][2]["expectation"] == "expect intent between 40 and 50"
    acme, unreadable = data["files"]
    assert acme["ran"] == 8 and acme["deselected"] == 0 and unreadable["ran"] == 0
    assert unreadable["readable"] is False and unreadable["diagnostics"][0]["code"] == "E109"
    # The two new examples exercise nothing new (the same rules, stage, route, disqualifier)
    assert acme["coverage"]["covered"] == 16 and acme["coverage"]["total"] == 29
    assert data["coverage"]["covered"] == 16 and data["coverage"]["total"] == 29
    assert data["coverage"]["percent"] == pytest.approx(100 * 16 / 29)
    assert data["coverage"]["below"] is False and data["coverage"]["fail_under"] == 50
    assert len(data["coverage"]["uncovered"]) == 13
    assert {"file", "kind", "line", "text"} == set(data["coverage"]["uncovered"][0])


def test_json_without_coverage_has_none() -> None:
    code, out, _ = run("test", "--format", "json", "-k", "competitor", str(ACME_PATH))
    assert code == 0
    data = json.loads(out)
    assert data["coverage"] is None
    assert data["keyword"] == "competitor"
    assert data["totals"] == {"passed": 1, "failed": 0, "deselected": 5, "unreadable_files": 0}


# ---------------------------------------------------------------- the definitions document


def test_definitions_document_says_each_new_expectation_in_words(acme_with_cases: Path) -> None:
    code, text, _ = run("docs", str(acme_with_cases))
    assert code == 0
    block = text[text.index("#### Every new expectation holds") :]
    block = block[: block.index("\n####")]
    expected = next(line for line in block.splitlines() if line.startswith("- Expected: "))
    assert expected == (
        "- Expected: not disqualified, stage “Marketing qualified” (`mql`) or “Sales qualified” "
        "(`sql`), fit between 30 and 40 (both included), fit is at least the param "
        "`mql_fit_min`, follow-up due 55 minutes before the example's moment "
        "(2026-10-31 23:05 UTC)"
    )
    assert "- Check: the current rules agree." in block


def test_diff_notices_a_changed_expectation(tmp_path: Path) -> None:
    old = tmp_path / "old.mql"
    new = tmp_path / "new.mql"
    base = ACME + '\nexample "Due" at 2026-11-01 {\n' + DEMO + "expect due -55 minutes\n}\n"
    old.write_text(base)
    new.write_text(base.replace("expect due -55 minutes", "expect due -50 minutes"))
    code, out, _ = run("diff", str(old), str(new))
    assert code == 0
    assert 'example "Due"' in out


def test_expect_account_score_between(tmp_path: Path) -> None:
    """SPEC §10 has `expect SCORE between A and B` and `expect account.SCORE OP N`; the
    account form of `between` was a syntax error. The free-email example of abm.mql: its
    colleague L-7 (finance) requested a demo (+15) and attended a webinar (+10) in the last
    30 days, finance is involved (+10), the account is on the list (+10) and strategic (+5):
    buying_group = 50."""
    text = (ROOT / "policies" / "abm.mql").read_text(encoding="utf-8")
    holds = text.replace(
        "  expect stage lead\n  expect account.buying_group >= 35\n",
        "  expect stage lead\n  expect account.buying_group between 45 and 55\n",
    )
    assert holds != text
    policy = tmp_path / "abm.mql"
    policy.write_text(holds)
    code, out, err = run("test", str(policy))
    assert code == 0, out + err
    policy.write_text(holds.replace("between 45 and 55", "between 60 and buying_group_min"))
    code, out, _ = run("check", str(policy))
    assert code == 1 and "can never pass: the low end is above the high end" in out
    assert "`expect account.buying_group between 60 and buying_group_min (35)`" in out
    policy.write_text(holds.replace("between 45 and 55", "between 60 and 80"))
    code, out, _ = run("test", str(policy))
    assert code == 1
    assert "expected account.buying_group between 60 and 80, got account.buying_group is 50" in out
    parsed = parse_text(holds).policy
    assert parsed is not None
    formatted = format_policy(parsed)
    assert "  expect account.buying_group between 45 and 55\n" in formatted
    again = parse_text(formatted).policy
    assert again is not None and format_policy(again) == formatted
