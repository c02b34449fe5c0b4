"""One parse test per construct of the language (SPEC §2-§10)."""

from __future__ import annotations

import datetime as dt

import pytest

from mqldsl.language import ast
from mqldsl.language.parser import parse_text
from mqldsl.language.source import Span

from .helpers import HEADER, codes, condition, item, parse_ok

UTC = dt.UTC


def n(name: str) -> ast.Name:
    return ast.Name(name=name)


def num(value: ast.Number) -> ast.NumberLit:
    return ast.NumberLit(value=value)


# ---------------------------------------------------------------- header


def test_header_items() -> None:
    policy = parse_ok(
        'policy "Acme"\nversion 4\nowner "Marketing Ops"\neffective 2026-12-01\nabout "short"\n'
    )
    assert policy.items == (
        ast.PolicyTitle(title="Acme"),
        ast.Version(number=4),
        ast.Owner(owner="Marketing Ops"),
        ast.Effective(date=dt.date(2026, 12, 1)),
        ast.About(text="short"),
    )


def test_triple_quoted_about_spans_lines() -> None:
    node = item('about """\nLine one.\n  Line "two".\n"""')
    assert node == ast.About(text='Line one.\n  Line "two".')


def test_string_escapes() -> None:
    node = item(r'owner "a \"quoted\" \\ name\twith\nbreak"')
    assert node == ast.Owner(owner='a "quoted" \\ name\twith\nbreak')


def test_comments_are_collected_and_ignored() -> None:
    policy = parse_ok('# top\npolicy "t"  # trailing\n# "not a string"\nversion 1 # v\n')
    assert [c.text for c in policy.comments] == ["# top", "# trailing", '# "not a string"', "# v"]
    assert policy.items == (ast.PolicyTitle(title="t"), ast.Version(number=1))


def test_hash_inside_string_is_not_a_comment() -> None:
    policy = parse_ok('policy "a # b"\n')
    assert policy.title == "a # b"
    assert policy.comments == ()


def test_crlf_line_endings() -> None:
    policy = parse_ok('policy "t"\r\nversion 2\r\n')
    assert policy.items[1] == ast.Version(number=2)


def test_file_without_final_newline() -> None:
    assert parse_ok('policy "t"\nversion 2').items[1] == ast.Version(number=2)


# ---------------------------------------------------------------- declarations


def test_lead_fields_with_every_type() -> None:
    node = item(
        "lead {\n"
        '  size: int "Employees"\n'
        "  revenue: number\n"
        "  verified: bool\n"
        "  title: text\n"
        "  signup: date\n"
        "  role: enum(a, b, c)\n"
        "  stack: set of text\n"
        "  tags: set of enum(x, y)\n"
        "}"
    )
    assert isinstance(node, ast.LeadBlock)
    assert [(f.name, f.type, f.description) for f in node.fields] == [
        ("size", ast.SimpleType(name="int"), "Employees"),
        ("revenue", ast.SimpleType(name="number"), None),
        ("verified", ast.SimpleType(name="bool"), None),
        ("title", ast.SimpleType(name="text"), None),
        ("signup", ast.SimpleType(name="date"), None),
        ("role", ast.EnumType(members=("a", "b", "c")), None),
        ("stack", ast.SetType(element=ast.SimpleType(name="text")), None),
        ("tags", ast.SetType(element=ast.EnumType(members=("x", "y"))), None),
    ]


def test_fields_may_be_separated_by_commas_on_one_line() -> None:
    node = item("lead { a: int, b: text }")
    assert isinstance(node, ast.LeadBlock)
    assert [f.name for f in node.fields] == ["a", "b"]


def test_enum_may_span_lines() -> None:
    node = item("lead {\n  role: enum(a,\n    b,\n    c)\n}")
    assert isinstance(node, ast.LeadBlock)
    assert node.fields[0].type == ast.EnumType(members=("a", "b", "c"))


def test_account_block() -> None:
    node = item("account { tier: enum(smb, enterprise) }")
    assert isinstance(node, ast.AccountBlock)
    assert node.fields[0].name == "tier"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "event newsletter_signup",
            ast.EventDecl(name="newsletter_signup", description=None, fields=None),
        ),
        (
            'event demo_request "Asked for a demo"',
            ast.EventDecl(name="demo_request", description="Asked for a demo", fields=None),
        ),
        ("event noop {}", ast.EventDecl(name="noop", description=None, fields=())),
        (
            "event page_view { path: text }",
            ast.EventDecl(
                name="page_view",
                description=None,
                fields=(
                    ast.FieldDecl(name="path", type=ast.SimpleType(name="text"), description=None),
                ),
            ),
        ),
    ],
)
def test_event_declarations(text: str, expected: ast.EventDecl) -> None:
    assert item(text) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("param p = 30", num(30)),
        ("param p = -5", num(-5)),
        ("param p = 12.5", num(12.5)),
        ('param p = "x"', ast.StringLit(value="x")),
        ("param p = true", ast.BoolLit(value=True)),
        ("param p = 2026-01-31", ast.DateLit(value=dt.date(2026, 1, 31))),
        ("param p = secops", n("secops")),
        ("param p = [a, b]", ast.ListLit(items=(n("a"), n("b")))),
    ],
)
def test_param_literals(text: str, value: ast.Value) -> None:
    node = item(text)
    assert isinstance(node, ast.Param)
    assert node.value == value


def test_param_description() -> None:
    assert item('param mql_fit_min = 30 "Lowest fit"') == ast.Param(
        name="mql_fit_min", value=num(30), description="Lowest fit"
    )


# ---------------------------------------------------------------- scores


def test_score_with_when_and_per_rules() -> None:
    node = item(
        'score intent "Buying signals" {\n'
        '  +5 per page_view where path starts with "/pricing" within 14 days, max 20\n'
        '  +30 when demo_request within 60 days "Demo"\n'
        "  -20 when no event within 30 days\n"
        "  +2.5 per email_click\n"
        "}"
    )
    assert isinstance(node, ast.Score)
    assert node.description == "Buying signals"
    assert node.rules == (
        ast.PerRule(
            points=5,
            pattern=ast.Pattern(
                event="page_view",
                where=ast.TextTest(
                    op="starts with", operand=n("path"), value=ast.StringLit(value="/pricing")
                ),
                window=ast.Duration(amount=14, unit="day"),
            ),
            max=20,
            label=None,
        ),
        ast.WhenRule(
            points=30,
            condition=ast.Pattern(
                event="demo_request", where=None, window=ast.Duration(amount=60, unit="day")
            ),
            label="Demo",
        ),
        ast.WhenRule(
            points=-20,
            condition=ast.NoEvents(
                pattern=ast.Pattern(
                    event=None, where=None, window=ast.Duration(amount=30, unit="day")
                )
            ),
            label=None,
        ),
        ast.PerRule(
            points=2.5,
            pattern=ast.Pattern(event="email_click", where=None, window=None),
            max=None,
            label=None,
        ),
    )


def test_score_options_range_and_decay() -> None:
    node = item("score intent range 0 to 100 decay 10% every 7 days {\n  +5 per page_view\n}")
    assert isinstance(node, ast.Score)
    assert node.range == ast.RangeOption(low=0, high=100)
    assert node.decay == ast.DecayOption(percent=10, every=ast.Duration(amount=7, unit="day"))


def test_score_range_with_negative_low() -> None:
    node = item("score s range -50 to 50 {\n}")
    assert isinstance(node, ast.Score)
    assert node.range == ast.RangeOption(low=-50, high=50)
    assert node.rules == ()


def test_derived_score() -> None:
    node = item('score total "Blend" = 0.4 * fit + 0.6 * intent')
    assert isinstance(node, ast.Score)
    assert node.rules is None
    assert node.formula == ast.Arith(
        op="+",
        left=ast.Arith(op="*", left=num(0.4), right=n("fit")),
        right=ast.Arith(op="*", left=num(0.6), right=n("intent")),
    )


def test_per_rule_max_on_next_line_after_comma() -> None:
    node = item("score s {\n  +5 per page_view within 14 days,\n    max 20\n}")
    assert isinstance(node, ast.Score) and node.rules is not None
    assert isinstance(node.rules[0], ast.PerRule)
    assert node.rules[0].max == 20


# ---------------------------------------------------------------- lifecycle


def test_stages_flexible_and_locked() -> None:
    node = item(
        "stages locked {\n"
        '  visitor "Known to us"\n'
        "  lead when content_download ever\n"
        '  mql "Qualified" when fit >= 30\n'
        "}"
    )
    assert node == ast.Stages(
        locked=True,
        stages=(
            ast.Stage(name="visitor", description="Known to us", condition=None),
            ast.Stage(
                name="lead",
                description=None,
                condition=ast.Pattern(event="content_download", where=None, window="ever"),
            ),
            ast.Stage(
                name="mql",
                description="Qualified",
                condition=ast.Compare(op=">=", left=n("fit"), right=num(30)),
            ),
        ),
    )
    assert isinstance(item("stages {\n  visitor\n}"), ast.Stages)


def test_a_stage_may_be_named_lead_even_first() -> None:
    node = item("stages {\n  lead\n  mql when x\n}")
    assert isinstance(node, ast.Stages)
    assert [s.name for s in node.stages] == ["lead", "mql"]


def test_disqualify_recycle_route() -> None:
    assert item('disqualify "Competitor" when email_kind == competitor') == ast.Disqualify(
        reason="Competitor",
        condition=ast.Compare(op="==", left=n("email_kind"), right=n("competitor")),
    )
    assert item('recycle mql to lead when no event within 45 days "Gone cold"') == ast.Recycle(
        from_stage="mql",
        to_stage="lead",
        condition=ast.NoEvents(
            pattern=ast.Pattern(event=None, where=None, window=ast.Duration(amount=45, unit="day"))
        ),
        description="Gone cold",
    )
    assert item("route mql to sdr_inbound when channel == inbound, sla 5 minutes") == ast.Route(
        stage="mql",
        queue="sdr_inbound",
        condition=ast.Compare(op="==", left=n("channel"), right=n("inbound")),
        sla=ast.Duration(amount=5, unit="minute"),
    )
    assert item("route sql to account_exec") == ast.Route(
        stage="sql", queue="account_exec", condition=None, sla=None
    )


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("1 minute", 1, "minute"),
        ("90 minutes", 90, "minute"),
        ("1 hour", 1, "hour"),
        ("4 hours", 4, "hour"),
        ("1 day", 1, "day"),
        ("2 days", 2, "day"),
        ("1 week", 1, "week"),
        ("3 weeks", 3, "week"),
        ("1.5 hours", 1.5, "hour"),
    ],
)
def test_duration_units(text: str, amount: ast.Number, unit: str) -> None:
    node = item(f"route mql to q, sla {text}")
    assert isinstance(node, ast.Route)
    assert node.sla == ast.Duration(amount=amount, unit=unit)


# ---------------------------------------------------------------- examples


def test_example_with_every_kind_of_line() -> None:
    node = item(
        'example "Demo request" at 2026-11-01T09:30:00+02:00 {\n'
        '  lead { email_kind: corporate, company_size: 900, tech_stack: ["aws"], verified: true }\n'
        "  demo_request at -1 hour\n"
        '  page_view { path: "/pricing" } at -3 days, -2 days, 2026-10-30T12:00:00Z\n'
        "  trial_started at +1 day, 2026-10-01\n"
        "  expect stage mql\n"
        '  expect disqualified "Competitor"\n'
        "  expect disqualified\n"
        "  expect fit >= 30\n"
        "  expect intent == -20\n"
        "  expect route sdr_inbound\n"
        "  expect not disqualified\n"
        "  expect stage in [lead, mql]\n"
        "  expect fit between -5 and mql_fit_min\n"
        "  expect fit < mql_fit_min\n"
        "  expect route none\n"
        "  expect due +5 minutes\n"
        "  expect due 2026-11-01T09:35:00+02:00\n"
        "}"
    )
    assert isinstance(node, ast.Example)
    assert node.at == ast.InstantLit(value=dt.datetime(2026, 11, 1, 7, 30, tzinfo=UTC))
    lead, demo, views, trial, *expects = node.items
    assert lead == ast.ExampleLead(
        entries=(
            ast.Entry(name="email_kind", value=n("corporate")),
            ast.Entry(name="company_size", value=num(900)),
            ast.Entry(name="tech_stack", value=ast.ListLit(items=(ast.StringLit(value="aws"),))),
            ast.Entry(name="verified", value=ast.BoolLit(value=True)),
        )
    )
    assert demo == ast.ExampleEvent(
        event="demo_request",
        entries=None,
        times=(ast.RelativeTime(sign=-1, duration=ast.Duration(amount=1, unit="hour")),),
    )
    assert isinstance(views, ast.ExampleEvent)
    assert views.entries == (ast.Entry(name="path", value=ast.StringLit(value="/pricing")),)
    assert views.times[2] == ast.InstantLit(value=dt.datetime(2026, 10, 30, 12, tzinfo=UTC))
    assert isinstance(trial, ast.ExampleEvent)
    assert trial.times == (
        ast.RelativeTime(sign=1, duration=ast.Duration(amount=1, unit="day")),
        ast.DateLit(value=dt.date(2026, 10, 1)),
    )
    assert expects == [
        ast.ExpectStage(stage="mql"),
        ast.ExpectDisqualified(reason="Competitor"),
        ast.ExpectDisqualified(reason=None),
        ast.ExpectScore(score="fit", op=">=", value=num(30)),
        ast.ExpectScore(score="intent", op="==", value=num(-20)),
        ast.ExpectRoute(queue="sdr_inbound"),
        ast.ExpectNotDisqualified(),
        ast.ExpectStageIn(stages=("lead", "mql")),
        ast.ExpectBetween(score="fit", low=num(-5), high=n("mql_fit_min")),
        ast.ExpectScore(score="fit", op="<", value=n("mql_fit_min")),
        ast.ExpectNoRoute(),
        ast.ExpectDue(
            when=ast.RelativeTime(sign=1, duration=ast.Duration(amount=5, unit="minute"))
        ),
        ast.ExpectDue(when=ast.InstantLit(value=dt.datetime(2026, 11, 1, 7, 35, tzinfo=UTC))),
    ]


def test_example_without_at_and_multiline_lead_record() -> None:
    node = item('example "e" {\n  lead {\n    role: secops\n    size: 10\n  }\n}')
    assert isinstance(node, ast.Example)
    assert node.at is None
    assert node.items == (
        ast.ExampleLead(
            entries=(
                ast.Entry(name="role", value=n("secops")),
                ast.Entry(name="size", value=num(10)),
            )
        ),
    )


# ---------------------------------------------------------------- expressions


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparisons(op: str) -> None:
    assert condition(f"fit {op} 30") == ast.Compare(op=op, left=n("fit"), right=num(30))  # type: ignore[arg-type]


def test_between_in_not_in() -> None:
    assert condition("size between 200 and 5000") == ast.Between(
        operand=n("size"), low=num(200), high=num(5000)
    )
    assert condition("role in [a, b]") == ast.Membership(
        operand=n("role"), collection=ast.ListLit(items=(n("a"), n("b"))), negated=False
    )
    assert condition("role not in [a]") == ast.Membership(
        operand=n("role"), collection=ast.ListLit(items=(n("a"),)), negated=True
    )


def test_text_tests_and_presence() -> None:
    assert condition('stack contains "aws"') == ast.TextTest(
        op="contains", operand=n("stack"), value=ast.StringLit(value="aws")
    )
    assert condition('path starts with "/p"') == ast.TextTest(
        op="starts with", operand=n("path"), value=ast.StringLit(value="/p")
    )
    assert condition('email ends with ".edu"') == ast.TextTest(
        op="ends with", operand=n("email"), value=ast.StringLit(value=".edu")
    )
    assert condition("size is missing") == ast.Presence(operand=n("size"), missing=True)
    assert condition("size is present") == ast.Presence(operand=n("size"), missing=False)


def test_boolean_precedence_not_over_and_over_or() -> None:
    a, b, c = n("a"), n("b"), n("c")
    assert condition("a or b and c") == ast.Or(operands=(a, ast.And(operands=(b, c))))
    assert condition("not a and b") == ast.And(operands=(ast.Not(operand=a), b))
    assert condition("(a or b) and c") == ast.And(operands=(ast.Or(operands=(a, b)), c))
    assert condition("not x == 1") == ast.Not(
        operand=ast.Compare(op="==", left=n("x"), right=num(1))
    )


def test_arithmetic_precedence_and_unary_minus() -> None:
    assert condition("a + b * c - -d > 0") == ast.Compare(
        op=">",
        left=ast.Arith(
            op="-",
            left=ast.Arith(op="+", left=n("a"), right=ast.Arith(op="*", left=n("b"), right=n("c"))),
            right=ast.Unary(op="-", operand=n("d")),
        ),
        right=num(0),
    )
    assert condition("a / 2 >= 1") == ast.Compare(
        op=">=", left=ast.Arith(op="/", left=n("a"), right=num(2)), right=num(1)
    )


def test_event_patterns() -> None:
    assert condition("demo_request") == n("demo_request")
    assert condition("demo_request ever") == ast.Pattern(
        event="demo_request", where=None, window="ever"
    )
    assert condition("event within 30 days") == ast.Pattern(
        event=None, where=None, window=ast.Duration(amount=30, unit="day")
    )
    assert condition("no unsubscribe") == ast.NoEvents(
        pattern=ast.Pattern(event="unsubscribe", where=None, window=None)
    )
    assert condition("count(page_view within 7 days) >= 3") == ast.Compare(
        op=">=",
        left=ast.Count(
            pattern=ast.Pattern(
                event="page_view", where=None, window=ast.Duration(amount=7, unit="day")
            )
        ),
        right=num(3),
    )
    assert condition("days since demo_request < 7") == ast.Compare(
        op="<", left=ast.DaysSince(event="demo_request", where=None), right=num(7)
    )
    assert condition('days since page_view where path == "/x"') == ast.DaysSince(
        event="page_view",
        where=ast.Compare(op="==", left=n("path"), right=ast.StringLit(value="/x")),
    )


def test_where_condition_ends_at_the_window() -> None:
    # SPEC §5: `within` after a where-condition always belongs to the pattern.
    assert condition(
        "content_download where kind == case_study or kind == checklist within 30 days"
    ) == (
        ast.Pattern(
            event="content_download",
            where=ast.Or(
                operands=(
                    ast.Compare(op="==", left=n("kind"), right=n("case_study")),
                    ast.Compare(op="==", left=n("kind"), right=n("checklist")),
                )
            ),
            window=ast.Duration(amount=30, unit="day"),
        )
    )


def test_account_reference_and_literals() -> None:
    assert condition("account.tier == enterprise") == ast.Compare(
        op="==", left=ast.AccountRef(field="tier"), right=n("enterprise")
    )
    assert condition("signup > 2026-01-01") == ast.Compare(
        op=">", left=n("signup"), right=ast.DateLit(value=dt.date(2026, 1, 1))
    )
    assert condition("verified == true") == ast.Compare(
        op="==", left=n("verified"), right=ast.BoolLit(value=True)
    )


# ---------------------------------------------------------------- continuation lines (SPEC §2)


def test_statement_continues_after_and_or_operator_or_comma() -> None:
    expected = ast.And(operands=(n("a"), n("b"), n("c")))
    assert condition("a and\n    b and\n  c") == expected
    assert condition("a\n  and b\n  and c") == expected
    assert condition("x >\n 1") == ast.Compare(op=">", left=n("x"), right=num(1))
    assert condition("x in [a,\n b,\n c]") == ast.Membership(
        operand=n("x"), collection=ast.ListLit(items=(n("a"), n("b"), n("c"))), negated=False
    )
    assert condition("(a\n or b)") == ast.Or(operands=(n("a"), n("b")))


def test_next_line_starting_with_or_continues_even_after_a_comment() -> None:
    assert condition("a  # first\n  # more\n  or b") == ast.Or(operands=(n("a"), n("b")))


def test_names_that_start_with_and_or_or_do_not_continue() -> None:
    policy = parse_ok(HEADER + 'disqualify "r" when a\nroute order_desk to q\n')
    assert isinstance(policy.items[2], ast.Route)


def test_keywords_are_names_where_the_grammar_expects_a_name() -> None:
    policy = parse_ok(
        HEADER + "lead { score: int, stage: text }\nstages {\n  visitor\n  lead when score > 3\n}\n"
    )
    assert isinstance(policy.items[1], ast.LeadBlock)
    assert [f.name for f in policy.items[1].fields] == ["score", "stage"]


# ---------------------------------------------------------------- spans


def test_every_node_has_a_span_with_line_and_column() -> None:
    policy = parse_ok(HEADER + "route mql to q when channel == inbound, sla 5 minutes\n")
    route = policy.items[1]
    assert isinstance(route, ast.Route)
    assert (route.span.line, route.span.column, route.span.end_line) == (2, 1, 2)
    assert route.condition is not None
    assert (route.condition.span.line, route.condition.span.column) == (2, 21)
    assert route.condition.span.end_column == 39


def _slice(text: str, span: Span) -> str:
    lines = text.split("\n")
    if span.line == span.end_line:
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]
    first = lines[span.line - 1][span.column - 1 :]
    middle = lines[span.line : span.end_line - 1]
    last = lines[span.end_line - 1][: span.end_column - 1]
    return "\n".join([first, *middle, last])


def test_spans_cover_keywords_brackets_and_operators() -> None:
    text = (
        HEADER
        + "score fit range 0 to 90 {\n"
        + "  +5 when not (size > 3) and -size < 2\n"
        + '  +2 per page_view where path starts with "/p" within 30 days, max 10\n'
        + "  -1 when account.tier is missing\n"
        + "}\n"
    )
    policy = parse_ok(text)
    score = policy.items[1]
    assert isinstance(score, ast.Score) and score.rules is not None and score.range is not None
    assert _slice(text, score.span) == text[text.index("score") : text.rindex("}") + 1]
    assert _slice(text, score.range.span) == "range 0 to 90"
    when, per, missing = score.rules
    assert isinstance(when, ast.WhenRule) and isinstance(when.condition, ast.And)
    assert _slice(text, when.span) == "+5 when not (size > 3) and -size < 2"
    negated, compare = when.condition.operands
    # A parenthesised operand keeps its own span; its parent spans the parentheses.
    assert _slice(text, negated.span) == "not (size > 3)"
    assert isinstance(negated, ast.Not)
    assert _slice(text, negated.operand.span) == "size > 3"
    assert isinstance(compare, ast.Compare)
    assert _slice(text, compare.left.span) == "-size"
    assert isinstance(per, ast.PerRule)
    assert _slice(text, per.span) == per_text(text)
    assert _slice(text, per.pattern.span) == 'page_view where path starts with "/p" within 30 days'
    assert isinstance(missing, ast.WhenRule)
    assert _slice(text, missing.condition.span) == "account.tier is missing"


def per_text(text: str) -> str:
    start = text.index("+2 per")
    return text[start : text.index("max 10") + len("max 10")]


def test_conditions_nest_up_to_64_levels() -> None:
    deep = "not " * 63 + "size > 1"
    parse_ok(HEADER + f'disqualify "r" when {deep}\n')
    too_deep = "not " * 64 + "size > 1"
    result = parse_text(HEADER + f'disqualify "r" when {too_deep}\n', "t.mql")
    assert [(d.code, d.span.line, d.span.column) for d in result.diagnostics] == [("E101", 2, 21)]
    assert "nested too deeply (more than 64 levels)" in result.diagnostics[0].message
    chain = "size" + " + 1" * 70 + " > 3"
    assert [d.code for d in parse_text(HEADER + f'disqualify "r" when {chain}\n').diagnostics] == [
        "E101"
    ]


def test_spans_do_not_affect_equality() -> None:
    a = parse_text('policy "t"\nversion 1\n').policy
    b = parse_text('\n\npolicy   "t"\n\nversion    1').policy
    assert a == b


def test_reserved_words_cannot_be_names() -> None:
    assert codes(HEADER + "param within = 3\n") == [("E106", 2, 7)]
    assert codes(HEADER + "lead { max: int }\n") == [("E106", 2, 8)]


def test_span_tracker_drops_a_statement_only_after_a_syntax_error() -> None:
    from lark import Token

    from mqldsl.language.builder import AstBuilder
    from mqldsl.language.source import Source
    from mqldsl.language.spans import SpanTracker

    def broken(children: list[object]) -> object:
        raise ValueError("a value cut short by error recovery")

    builder = AstBuilder()
    builder.begin(Source("t.mql", "x"))
    tracker = SpanTracker(builder)
    callback = tracker._wrap(broken)
    token = Token("NAME", "x", 0, 1, 1, 1, 2, 1)
    with pytest.raises(ValueError):
        callback([token])  # without a syntax error, a failing rule is a bug: it surfaces
    tracker.lenient = True
    assert callback([token]) is None
    assert builder.here == Span("t.mql", 1, 1, 1, 2)


def test_a_very_long_line_is_excerpted_around_the_span() -> None:
    from mqldsl.language.source import Source, render_snippet

    line = "  +5 when " + " and ".join(f"a{i} > {i}" for i in range(60))
    column = line.index("a30 > 30") + 1
    span = Span("t.mql", 1, column, 1, column + len("a30 > 30"))
    code, carets = render_snippet(Source("t.mql", line + "\n"), span, "a hint")
    shown = code.removeprefix("    1 | ")
    assert shown.startswith("...") and shown.endswith("...") and len(shown) == 126
    start = carets.index("^")
    assert code[start : start + len("a30 > 30")] == "a30 > 30"
    assert carets.endswith("^^^^^^^^ a hint")
    # A line of ordinary length is shown whole.
    short = "  +5 when a > 1 and b > 2"
    code, _ = render_snippet(Source("t.mql", short + "\n"), Span("t.mql", 1, 11, 1, 16), None)
    assert code == "    1 | " + short


def _first(text: str) -> tuple[str, int, int, str | None]:
    d = parse_text(text, "t.mql").diagnostics[0]
    return (d.code, d.span.line, d.span.column, d.hint)


def test_a_misspelt_keyword_that_is_another_keyword_gets_a_suggestion() -> None:
    assert _first(HEADER + "stage {\n  visitor\n}\n") == ("E101", 2, 1, "did you mean `stages`?")


def test_an_unclosed_parenthesis_is_named_where_the_next_line_breaks() -> None:
    text = (
        HEADER + "score fit {\n  +5 when size > 3 and (role == a\n  +3 when demo within 3 days\n}\n"
    )
    code, line, column, hint = _first(text)
    assert (code, line, column) == ("E101", 4, 6)
    assert hint is not None and hint.startswith(
        "`(` opened on line 3 is still open, so this line was read as part of it; close it with `)`"
    )
    # A list deliberately continued on the next line (it ends with a comma) is
    # not blamed for an error further on.
    listed = HEADER + 'disqualify "r" when role in [a,\n  b c]\n'
    assert _first(listed)[:3] == ("E101", 3, 5)
    assert "still open" not in (_first(listed)[3] or "")


@pytest.mark.parametrize(
    "literal", ["3", "2.5", '"x"', "true", "false", "2026-01-01", "2026-01-01T09:00:00Z", "[1, 2]"]
)
def test_literals_read_the_same_inside_and_outside_where(literal: str) -> None:
    outside = condition(f"x == {literal}")
    inside = condition(f"pv where x == {literal}")
    assert isinstance(outside, ast.Compare)
    assert isinstance(inside, ast.Pattern) and isinstance(inside.where, ast.Compare)
    assert inside.where.right == outside.right
    assert type(outside.right).__name__ != "Name"


def test_a_letter_outside_ascii_in_a_name_says_what_names_may_contain() -> None:
    for name, column in (("tëst", 9), ("Énergie", 8)):
        result = parse_text(HEADER + f"lead {{ {name}: int }}\n", "t.mql")
        d = result.diagnostics[0]
        assert (d.code, d.span.line, d.span.column) == ("E102", 2, column)
        assert d.message.endswith("names use only a-z, 0-9 and _")
    # An ASCII capital still gets the lower-case advice.
    d = parse_text(HEADER + "lead { Size: int }\n", "t.mql").diagnostics[0]
    assert (d.code, d.hint) == ("E102", "write `size`")


@pytest.mark.parametrize(
    "ending", ["in", "not in", "between", "contains", "starts with", "ends with", "==", "and"]
)
def test_recovery_skips_a_statement_continued_after_an_operator_word(ending: str) -> None:
    # The newline after `in` (or any operator that needs more) does not end the
    # statement, so recovery from an error earlier on the line resumes after the
    # continuation line, not inside it: one error, not a spurious second one.
    text = (
        HEADER + f"score fit {{\n  +5 when size > 3 3 role {ending}\n    [a, b]\n  +1 when x\n}}\n"
    )
    assert codes(text) == [("E101", 3, 20)]


def test_the_grammar_continues_before_the_words_of_the_continuation_table() -> None:
    # The grammar's _NL and _CONT terminals cannot import the table; they
    # must name the same words.
    from mqldsl.language.continuation import CONTINUE_BEFORE
    from mqldsl.language.parser import grammar_text

    words = "(?:" + "|".join(CONTINUE_BEFORE) + ")(?![a-z0-9_])"
    terminals = [
        line for line in grammar_text().splitlines() if line.startswith(("_NL:", "_CONT:"))
    ]
    assert len(terminals) == 2
    assert all(words in line for line in terminals)


def test_one_suggestion_helper_whatever_the_order_of_the_candidates() -> None:
    from mqldsl.language.suggestions import closest, did_you_mean

    names = ["company_size", "company_sizes", "country"]
    assert closest("company_sise", names) == closest("company_sise", reversed(names))
    assert did_you_mean("cuntry", names) == "did you mean `country`?"
    assert did_you_mean("zzz", names) is None
    assert closest("stagse", ["stages"], cutoff=0.75) == "stages"


@pytest.mark.parametrize(
    ("text", "code", "message", "hint"),
    [
        ("score s = a && b\n", "E102", "unexpected `&&`: the language writes `and`", "write `and`"),
        ("score s = a || b\n", "E102", "unexpected `||`: the language writes `or`", "write `or`"),
        (
            "stages {\n  v\n  l when k in (a, b)\n}\n",
            "E101",
            "unexpected `,`: a list of values is written in brackets",
            "write `x in [a, b]` (square brackets), not `x in (a, b)`",
        ),
        (
            "effective 2026-12-01T00:00:00Z\n",
            "E102",
            "an instant where a date goes: write the date alone, e.g. `2026-12-01`",
            None,
        ),
        ('version "2"\n', "E101", "unexpected string after `version`", "expected a number"),
        (  # and nothing more: what follows is the string's text (`Never` was an E102)
            'about """\nNever closed\nlead { k: int }\n',
            "E103",
            'unterminated string: the `"""` opened here is never closed',
            'close it with `"""` where the text ends',
        ),
    ],
)
def test_other_languages_habits_get_a_precise_message(
    text: str, code: str, message: str, hint: str | None
) -> None:
    # They said "unexpected character `&`: remove it", "names are written in lower case:
    # write `t00`", "unexpected a string", and nothing of brackets for `in (a, b)`.
    (d,) = parse_text(HEADER + text, "t.mql").diagnostics
    assert (d.code, d.message) == (code, message)
    if hint is not None:
        assert d.hint == hint
