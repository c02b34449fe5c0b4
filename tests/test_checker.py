"""The checker: one behaviour per test, one line per case.

`BASE` declares a small schema; each case appends statements and lists the
(code, line, column) diagnostics it must produce — exactly those.
"""

from __future__ import annotations

import pytest

from mqldsl.analysis.checker import check_text
from mqldsl.language.parser import parse_text
from mqldsl.language.printer import format_policy

BASE = """policy "t"
effective 2026-12-01

lead {
  role: enum(secops, developer, student)
  company_size: int
  revenue: number
  email: text
  verified: bool
  signup: date
  stack: set of text
  tags: set of enum(hot, cold)
}

event page_view { path: text, section: enum(blog, pricing) }
event demo_request
event unsubscribe

param fit_min = 30
param allowed = [secops, developer]

score fit {
  +20 when company_size between 200 and 5000
  +10 when role == secops
}

score intent {
  +5 per page_view within 14 days, max 20
}

stages {
  visitor
  mql when fit >= fit_min and intent >= 10 or demo_request within 30 days
}
"""
BASE_LINES = BASE.count("\n")


def diagnostics(extra: str, *, warnings: bool = False) -> list[tuple[str, int, int]]:
    result = check_text(BASE + extra, "t.mql")
    return [
        (d.code, d.span.line - BASE_LINES, d.span.column)
        for d in result.diagnostics
        if warnings or d.is_error
    ]


def errors_of(extra: str) -> list[str]:
    return [code for code, _, _ in diagnostics(extra)]


def message(extra: str, code: str) -> str:
    result = check_text(BASE + extra, "t.mql")
    found = [d for d in result.diagnostics if d.code == code]
    assert found, [d.render(result.source) for d in result.diagnostics]
    d = found[0]
    return f"{d.message} | {d.hint}"


def test_base_policy_is_valid() -> None:
    result = check_text(BASE, "t.mql")
    assert result.model is not None, [d.render(result.source) for d in result.diagnostics]


# ---------------------------------------------------------------- names (E2xx)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('disqualify "x" when compnay_size > 3\n', [("E201", 1, 21)]),
        ('disqualify "x" when role == secop\n', [("E207", 1, 29)]),
        ('disqualify "x" when role in [secops, studnt]\n', [("E207", 1, 38)]),
        ('disqualify "x" when tags contains warm\n', [("E207", 1, 35)]),
        ('disqualify "x" when demo_requets within 3 days\n', [("E202", 1, 21)]),
        ('disqualify "x" when count(page_veiw) > 3\n', [("E202", 1, 27)]),
        ('disqualify "x" when page_view where pth == "/x"\n', [("E201", 1, 37)]),
        ('disqualify "x" when account.tier == gold\n', [("E214", 1, 21)]),
        ('disqualify "x" when mql\n', [("E209", 1, 21)]),
        ('disqualify "x" when demo_request == true\n', [("E209", 1, 21)]),
        ('disqualify "x" when page_view where demo_request ever\n', [("E316", 1, 37)]),
        ('disqualify "x" when page_view where count(demo_request) > 1\n', [("E316", 1, 37)]),
        (
            'disqualify "x" when page_view where (count(demo_request within 3 days) > 1)\n',
            [("E316", 1, 38)],
        ),
        # `no EVENT` and `days since EVENT` inside a `where`: E316, not a reserved word
        ('disqualify "x" when page_view where no demo_request within 7 days\n', [("E316", 1, 37)]),
        (
            'disqualify "x" when page_view where pth == "/x" or no event\n',
            [("E201", 1, 37), ("E316", 1, 52)],
        ),
        ('disqualify "x" when page_view where days since demo_request < 3\n', [("E316", 1, 37)]),
        ("route mqll to q\n", [("E206", 1, 1)]),
        ("param fit_min = 40\n", [("E208", 1, 1)]),
        ("event demo_request\n", [("E208", 1, 1)]),
        ("score fit {\n}\n", [("E208", 1, 1)]),
        ("score role {\n}\n", [("E208", 1, 1)]),
        ("version 1\nversion 2\n", [("E213", 2, 1)]),
    ],
)
def test_name_errors(extra: str, expected: list[tuple[str, int, int]]) -> None:
    assert diagnostics(extra) == expected


def test_a_month_or_a_bad_escape_does_not_hide_the_other_problems() -> None:
    extra = (
        'disqualify "x" when page_view within 2 months\n'
        'disqualify "y" when compnay_size > 3\n'
        'disqualify "z" when email == "a\\qb"\n'
    )
    assert diagnostics(extra) == [("E105", 1, 40), ("E201", 2, 21), ("E104", 3, 32)]
    assert check_text(BASE + extra, "t.mql").model is None
    # A syntax error still stops before the checker: the AST may be incomplete.
    assert errors_of(extra + "score broken {\n  5 when x\n}\n") == ["E105", "E104", "E108"]


def test_unknown_names_suggest_the_closest_declared_name() -> None:
    assert "did you mean `company_size`?" in message(
        'disqualify "x" when compnay_size > 3\n', "E201"
    )
    assert "did you mean `secops`?" in message('disqualify "x" when role == secop\n', "E207")
    assert "did you mean `demo_request`?" in message(
        'disqualify "x" when demo_requets ever\n', "E202"
    )


def test_where_resolves_event_fields_before_lead_fields() -> None:
    assert (
        errors_of('disqualify "x" when page_view where section == pricing and role == secops\n')
        == []
    )
    assert errors_of('disqualify "x" when page_view where section == secops\n') == ["E207"]


def test_duplicate_fields_events_stages_examples() -> None:
    policy = 'policy "d"\nlead {\n  a: int\n  a: text\n}\nevent e { f: int, f: int }\nstages {\n  v\n  v when e ever\n}\n'
    result = check_text(
        policy
        + 'example "x" at 2026-01-01T00:00:00Z {\n}\nexample "x" at 2026-01-01T00:00:00Z {\n}\n'
    )
    codes = [(d.code, d.span.line) for d in result.diagnostics if d.is_error]
    assert codes == [("E208", 4), ("E208", 6), ("E208", 9), ("E208", 13)]


def test_score_cycle_is_reported_once_with_the_whole_cycle() -> None:
    extra = "score a = b + 1\nscore b = c * 2\nscore c {\n  +1 when a > 3\n}\n"
    result = check_text(BASE + extra)
    cycles = [d for d in result.diagnostics if d.code == "E210"]
    assert len(cycles) == 1
    assert cycles[0].message == "scores depend on each other in a cycle: a -> b -> c -> a"


def test_self_reference_is_a_cycle() -> None:
    assert errors_of("score s = s + 1\n") == ["E210"]


# ---------------------------------------------------------------- types (E3xx)


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        ('role == "secops"', "E301"),
        ("company_size == secops", "E201"),
        ('email > "a"', "E301"),
        ("verified == 1", "E301"),
        ("signup between 1 and 3", "E302"),
        ('company_size between "a" and "b"', "E302"),
        ('company_size in [1, "two"]', "E303"),
        ('stack in ["aws"]', "E303"),
        ("role in company_size", "E303"),
        ("company_size contains 3", "E304"),
        ("stack contains 3", "E304"),
        ('role starts with "s"', "E304"),
        ("email ends with 3", "E304"),
        ("email + 1 > 3", "E305"),
        ("-role > 1", "E305"),
        ("company_size", "E306"),
        ("fit + 1", "E306"),
        ("not company_size", "E306"),
        ("fit is missing", "E315"),
        ("(fit + 1) is present", "E315"),
        ("page_view within 0 days", "E314"),
    ],
)
def test_type_errors_in_conditions(condition: str, code: str) -> None:
    assert errors_of(f'disqualify "x" when {condition}\n') == [code]


@pytest.mark.parametrize(
    "condition",
    [
        "role == secops",
        "secops == role",
        "role != developer",
        "role in allowed",
        "role not in [student]",
        'email == "a@b.c"',
        'email contains "@"',
        'stack contains "aws"',
        "tags contains hot",
        "company_size >= 10 and revenue < 2.5",
        "revenue between 1 and company_size",
        "signup > 2026-01-01",
        "verified == true",
        "verified",
        "company_size is missing or company_size > 10",
        "count(page_view where section == pricing within 7 days) >= 2",
        "days since demo_request < 3.5",
        "no event within 30 days",
        "demo_request",
        "fit * 2 - intent / 3 > 1",
    ],
)
def test_well_typed_conditions(condition: str) -> None:
    assert errors_of(f'disqualify "x" when {condition}\n') == []


def test_text_vs_enum_hint() -> None:
    assert "without quotes" in message('disqualify "x" when role == "secops"\n', "E301")


def test_score_options_and_points() -> None:
    assert errors_of("score s range 10 to 5 {\n  +1 when verified\n}\n") == ["E309"]
    assert errors_of("score s decay 100% every 7 days {\n  +1 per page_view\n}\n") == ["E310"]
    assert errors_of("score s decay 10% every 0 days {\n  +1 per page_view\n}\n") == ["E314"]
    assert errors_of("score s {\n  +1 per page_view, max 0\n}\n") == ["E311"]
    assert errors_of("score s {\n  +0 when verified\n}\n") == ["E312"]
    assert errors_of("score s = verified\n") == ["E313"]
    assert errors_of('score s = "a"\n') == ["E313"]


def test_param_values() -> None:
    assert errors_of("param at_time = 2026-01-01T00:00:00Z\n") == ["E307"]
    assert errors_of(
        'param wrong_roles = [secops, dev]\ndisqualify "x" when role in wrong_roles\n'
    ) == ["E207"]
    assert errors_of('param default_role = studnt\ndisqualify "x" when role == default_role\n') == [
        "E207"
    ]


# ---------------------------------------------------------------- structure (E4xx)


def test_stages_structure() -> None:
    assert [d.code for d in check_text('policy "x"\n').diagnostics] == ["E401"]
    two = BASE + "stages {\n  a\n}\n"
    assert [d.code for d in check_text(two).diagnostics if d.is_error] == ["E402"]
    bad = 'policy "x"\nevent e\nstages {\n  a when e ever\n  b\n}\n'
    assert [(d.code, d.span.line) for d in check_text(bad).diagnostics if d.is_error] == [
        ("E403", 4),
        ("E404", 5),
    ]
    assert [d.code for d in check_text('policy "x"\nstages {\n}\n').diagnostics] == ["E409"]


def test_recycle_needs_locked_stages_and_moves_back() -> None:
    assert errors_of("recycle mql to visitor when no event within 30 days\n") == ["E405"]
    locked = BASE.replace("stages {", "stages locked {")
    result = check_text(locked + "recycle visitor to mql when no event within 30 days\n")
    assert [d.code for d in result.diagnostics if d.is_error] == ["E406"]
    result = check_text(locked + "recycle mql to lead when no event within 30 days\n")
    assert [d.code for d in result.diagnostics if d.is_error] == ["E206"]
    result = check_text(locked + "recycle mql to visitor when no event within 30 days\n")
    assert result.model is not None


def test_examples_are_checked_against_the_schema() -> None:
    example = 'example "e" {\n  lead { role: secop, company_size: 1.5, email: hello, stack: ["a"], verified: "yes" }\n'
    example += '  page_view { path: "/x", sectoin: blog } at -1 day\n  demo_requst at -1 day\n'
    example += "  unsubscribe at +1 day, 2027-01-01\n"
    example += '  expect stage mqll\n  expect fitt >= 3\n  expect disqualified "Nope"\n  expect route nowhere\n}\n'
    assert diagnostics(example) == [
        ("E207", 2, 16),
        ("E308", 2, 37),
        ("E308", 2, 49),
        ("E308", 2, 80),
        ("E203", 3, 27),
        ("E202", 4, 3),
        ("E408", 5, 18),
        ("E408", 5, 26),
        ("E206", 6, 3),
        ("E205", 7, 3),
        ("E211", 8, 3),
        ("E212", 9, 3),
    ]


def test_example_without_at_needs_an_effective_date() -> None:
    policy = BASE.replace("effective 2026-12-01\n", "")
    result = check_text(policy + 'example "e" {\n  expect stage visitor\n}\n')
    assert [d.code for d in result.diagnostics if d.is_error] == ["E407"]


# ---------------------------------------------------------------- warnings (W5xx)


def warnings_of(extra: str, base: str = BASE) -> list[str]:
    result = check_text(base + extra)
    return sorted({d.code for d in result.diagnostics if not d.is_error})


def test_unreachable_threshold_names_the_bound() -> None:
    text = message('disqualify "x" when fit >= 80\n', "W501")
    assert text.startswith("`fit >= 80` can never hold: fit is at most 30")
    assert "W501" in warnings_of('disqualify "x" when intent > 20\n')
    assert "W501" in warnings_of('disqualify "x" when 25 < intent\n')
    assert "W501" in warnings_of('disqualify "x" when fit < 0\n')
    assert "W501" not in warnings_of('disqualify "x" when fit >= 30\n')


def test_bounds_follow_caps_range_and_formulas() -> None:
    extra = (
        "score capped range 0 to 50 {\n  +40 when verified\n  +40 per page_view\n  -10 when demo_request ever\n}\n"
        "score blend = 0.5 * fit + capped - 10\n"
    )
    result = check_text(BASE + extra)
    assert result.model is not None
    bounds = {name: (s.bounds.low, s.bounds.high) for name, s in result.model.scores.items()}
    assert bounds == {
        "fit": (0, 30),
        "intent": (0, 20),
        "capped": (0, 50),
        "blend": (-10, 55),
    }
    assert result.model.score_order.index("fit") < result.model.score_order.index("blend")


def test_rules_that_can_never_fire() -> None:
    assert "W502" in warnings_of('disqualify "x" when company_size between 500 and 200\n')
    assert "W502" in warnings_of('disqualify "x" when role in []\n')
    assert "W502" in warnings_of('disqualify "x" when role == secops and role == student\n')
    assert "W502" in warnings_of('disqualify "x" when company_size > 500 and company_size < 100\n')
    assert "W502" not in warnings_of(
        'disqualify "x" when company_size > 100 and company_size < 500\n'
    )


def test_unused_declarations() -> None:
    policy = 'policy "u"\nlead { a: int, b: int }\nevent e\nevent f\nparam p = 1\nstages {\n  v\n  m when e ever and a > 1\n}\n'
    result = check_text(policy)
    found = {(d.code, d.span.line) for d in result.diagnostics}
    assert ("W505", 2) in found  # b
    assert ("W504", 4) in found  # f
    assert ("W503", 5) in found  # p


def test_stage_not_covered_by_an_example() -> None:
    result = check_text(BASE + 'example "v" {\n  expect stage visitor\n}\n')
    uncovered = [d for d in result.diagnostics if d.code == "W506"]
    assert [d.message for d in uncovered] == ["no example expects the stage `mql`"]


def test_shadowed_route() -> None:
    result = check_text(BASE + "route mql to a\nroute mql to b when role == secops\n")
    shadowed = [d for d in result.diagnostics if d.code == "W507"]
    assert [d.span.line - BASE_LINES for d in shadowed] == [2]


def test_negative_test_on_a_field_that_may_be_missing() -> None:
    assert "W508" in warnings_of('disqualify "x" when role != student\n')
    assert "W508" in warnings_of('disqualify "x" when role not in [student]\n')
    assert "W508" in warnings_of('disqualify "x" when not (company_size > 10)\n')
    guarded = 'disqualify "x" when role is present and role != student\n'
    assert "W508" not in warnings_of(guarded)


def test_a_comment_can_allow_a_warning() -> None:
    assert "W508" not in warnings_of('disqualify "x" when role != student  # mqldsl: allow W508\n')
    assert "W508" not in warnings_of('# mqldsl: allow W508\ndisqualify "x" when role != student\n')
    assert "W508" in warnings_of('# mqldsl: allow W501\ndisqualify "x" when role != student\n')
    # A condition over two lines: the comment on its second line allows what the warning
    # points at, as after `fmt` joins the lines (it was reported before the join, not after).
    two_lines = (
        'policy "AL"\nlead { k: int }\nscore s {\n  +10 when k > 5 and  # first part\n'
        "    k < 3  # mqldsl: allow W502\n  +1 when k > 0\n}\n"
        "stages {\n  visitor\n  l when s >= 1\n}\n"
    )
    parsed = parse_text(two_lines).policy
    assert parsed is not None
    for text in (two_lines, format_policy(parsed)):
        assert "W502" not in {d.code for d in check_text(text).diagnostics}
        unallowed = text.replace("allow W502", "allow W501")
        assert "W502" in {d.code for d in check_text(unallowed).diagnostics}


# ---------------------------------------------------------------- the model


def test_model_records_windows_types_and_references() -> None:
    result = check_text(
        BASE + 'disqualify "x" when page_view where section == pricing within 3 hours\n'
    )
    model = result.model
    assert model is not None
    assert model.windows == (3 * 3600.0, 14 * 86400.0, 30 * 86400.0)
    assert model.stage_names == ("visitor", "mql")
    assert list(model.fields)[:2] == ["role", "company_size"]
    assert model.params["allowed"].value == ("secops", "developer")
    condition = model.disqualifiers[0].condition
    where = condition.where  # type: ignore[union-attr]
    assert model.ref(where.left).kind == "event_field"  # type: ignore[union-attr]
    assert model.ref(where.right).kind == "member"  # type: ignore[union-attr]
    assert str(model.type_of(where.left)) == "enum(blog, pricing)"  # type: ignore[union-attr]


# ---------------------------------------------------------------- --set overrides


def test_param_overrides_are_typed_like_the_declared_value() -> None:
    from mqldsl.analysis.params import ParamOverrideError, parse_param_override

    model = check_text(
        BASE + 'param label = "x"\nparam ratio = 0.5\nparam on = true\nparam start = 2026-01-01\n'
    ).model
    assert model is not None
    assert parse_param_override(model, "fit_min=25") == ("fit_min", 25)
    assert parse_param_override(model, "ratio=0.75") == ("ratio", 0.75)
    assert parse_param_override(model, "on=false") == ("on", False)
    assert parse_param_override(model, "label=hello world") == ("label", "hello world")
    import datetime as dt

    assert parse_param_override(model, "start=2026-02-01") == ("start", dt.date(2026, 2, 1))
    for bad, code in [
        ("fit_min=2.5", "E307"),
        ("fit_min=abc", "E307"),
        ("on=yes", "E307"),
        ("fit_mni=3", "E204"),
        ("fit_min", "E307"),
    ]:
        with pytest.raises(ParamOverrideError) as info:
            parse_param_override(model, bad)
        assert info.value.code == code, bad
    with pytest.raises(ParamOverrideError, match="did you mean `fit_min`"):
        parse_param_override(model, "fit_mni=3")


def test_an_event_field_outside_its_pattern_is_pointed_to_the_pattern() -> None:
    result = check_text(BASE + 'disqualify "x" when path == "/careers"\n', "t.mql")
    (problem,) = [d for d in result.diagnostics if d.is_error]
    assert (problem.code, problem.message) == ("E201", "unknown name `path`")
    assert problem.hint == (
        "`path` is a field of the event `page_view`: test it in a pattern, "
        "`page_view where path ...`"
    )
