"""The canonical printer (`mqldsl fmt`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqldsl.language import ast
from mqldsl.language.parser import parse_file, parse_text
from mqldsl.language.printer import canonical_items, format_policy

from .conftest import POLICIES
from .helpers import HEADER

GOLDEN = Path(__file__).parent / "golden" / "fmt"


def fmt(text: str) -> str:
    result = parse_text(text, "t.mql")
    assert result.policy is not None, [d.render(result.source) for d in result.diagnostics]
    return format_policy(result.policy, result.source)


def test_golden_messy_policy_becomes_canonical(update_golden: bool) -> None:
    source = GOLDEN / "messy.mql"
    expected = GOLDEN / "messy.expected"
    actual = fmt(source.read_text(encoding="utf-8"))
    if update_golden:
        expected.write_text(actual, encoding="utf-8")
    assert actual == expected.read_text(encoding="utf-8")


def test_messy_policy_keeps_every_comment_and_its_meaning() -> None:
    text = (GOLDEN / "messy.mql").read_text(encoding="utf-8")
    before = parse_text(text).policy
    after_text = fmt(text)
    after = parse_text(after_text).policy
    assert before is not None and after is not None
    assert [c.text for c in after.comments] == sorted(
        [c.text for c in before.comments], key=[c.text for c in after.comments].index
    )
    assert sorted(c.text for c in after.comments) == sorted(c.text for c in before.comments)
    assert after == canonical_items(before)


@pytest.mark.parametrize("path", POLICIES, ids=[p.name for p in POLICIES])
def test_shipped_policies_are_canonical(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert fmt(text) == text


@pytest.mark.parametrize("path", [*POLICIES, GOLDEN / "messy.mql"], ids=lambda p: p.name)
def test_fmt_is_idempotent(path: Path) -> None:
    result = parse_file(path)
    assert result.policy is not None
    once = format_policy(result.policy, result.source)
    assert fmt(once) == once


def test_items_are_printed_in_spec_order_with_blank_lines_between_kinds() -> None:
    text = HEADER + 'route mql to q\nevent b\nevent a\nparam p = 1\nowner "o"\n'
    assert (
        fmt(text) == 'policy "t"\nowner "o"\n\nevent b\nevent a\n\nparam p = 1\n\nroute mql to q\n'
    )


def test_spacing_is_normalised() -> None:
    text = HEADER + 'disqualify   "x"   when  a==1   and b  in [ c ,d ]\n'
    assert fmt(text) == HEADER + '\ndisqualify "x" when a == 1 and b in [c, d]\n'


def test_long_condition_is_broken_before_or_then_and() -> None:
    long_a = " and ".join(f"field_{i} >= {i * 1000}" for i in range(6))
    long_b = " and ".join(f"other_{i} == {i}" for i in range(3))
    text = HEADER + f"stages {{\n  visitor\n  mql when {long_a} or {long_b}\n}}\n"
    out = fmt(text)
    lines = out.splitlines()
    assert lines[4].startswith("  mql when field_0 >= 0")
    assert all(len(line) <= 100 for line in lines), out
    assert any(line.strip().startswith("or other_0") for line in lines)
    assert any(line.strip().startswith("and field_") for line in lines)
    assert parse_text(out).policy == parse_text(text).policy


def test_parentheses_are_kept_only_where_precedence_needs_them() -> None:
    text = HEADER + 'disqualify "x" when (a or b) and (c) and not (d == 1) and ((e + 1) * 2 > 3)\n'
    assert 'disqualify "x" when (a or b) and c and not d == 1 and (e + 1) * 2 > 3' in fmt(text)


def test_open_where_pattern_is_parenthesised_when_something_follows() -> None:
    pattern = ast.Pattern(
        event="page_view",
        where=ast.Compare(op="==", left=ast.Name(name="path"), right=ast.StringLit(value="/p")),
        window=None,
    )
    node = ast.And(operands=(pattern, ast.Name(name="b")))
    policy = ast.Policy(
        items=(ast.PolicyTitle(title="t"), ast.Disqualify(reason="r", condition=node))
    )
    out = format_policy(policy)
    assert 'when (page_view where path == "/p") and b' in out
    assert parse_text(out).policy == policy


def test_event_fields_stay_on_one_line_when_short() -> None:
    assert "event page_view { path: text, section: enum(a, b) }" in fmt(
        HEADER + "event page_view {\n  path: text\n  section: enum(a, b)\n}\n"
    )


def test_block_comment_positions() -> None:
    text = HEADER + (
        "score fit {  # opening\n"
        "  # before rule\n"
        "  +5 when a > 1  # after rule\n"
        "  # closing\n"
        "}  # after block\n"
    )
    assert fmt(text) == HEADER + (
        "\nscore fit {  # opening\n"
        "  # before rule\n"
        "  +5 when a > 1  # after rule\n"
        "  # closing\n"
        "}  # after block\n"
    )


def test_about_with_lines_uses_triple_quotes() -> None:
    out = fmt(HEADER + 'about "one\\ntwo"\n')
    assert out == HEADER + 'about """\none\ntwo\n"""\n'


def test_every_expectation_is_printed_canonically_and_keeps_its_meaning() -> None:
    messy = HEADER + (
        'example "e" at 2026-11-01 {\n'
        "  expect   not    disqualified\n"
        "  expect stage in [ lead ,\n    mql, ]\n"
        "  expect fit between +5 and mql_fit_min\n"
        "  expect intent   between -10 and 2.50\n"
        "  expect fit>=mql_fit_min\n"
        "  expect route   none\n"
        "  expect due +5 minutes\n"
        "  expect due -1 hour\n"
        "  expect due 2026-11-01T00:05:00+00:00\n"
        "  expect due 2026-11-02\n"
        "}\n"
    )
    canonical = HEADER + (
        '\nexample "e" at 2026-11-01 {\n'
        "  expect not disqualified\n"
        "  expect stage in [lead, mql]\n"
        "  expect fit between 5 and mql_fit_min\n"
        "  expect intent between -10 and 2.5\n"
        "  expect fit >= mql_fit_min\n"
        "  expect route none\n"
        "  expect due +5 minutes\n"
        "  expect due -1 hour\n"
        "  expect due 2026-11-01T00:05:00Z\n"
        "  expect due 2026-11-02\n"
        "}\n"
    )
    assert fmt(messy) == canonical
    assert fmt(canonical) == canonical
    assert parse_text(canonical).policy == parse_text(messy).policy


@pytest.mark.parametrize(
    "text",
    [
        # a pragma after several fields of one line: fmt puts each field on its own line
        'policy "P"\nlead { role: enum(a, b)\n  x: int, y: int, z: int  # mqldsl: allow W505\n}\n'
        "stages {\n  v\n  m when role == a\n}\n",
        # the same on the first line of the block
        'policy "P"\nlead { role: enum(a, b), x: int, y: int  # mqldsl: allow W505\n  z: int\n}\n'
        "stages {\n  v\n  m when role == a and z > 1\n}\n",
        # a condition over two lines, each with its pragma: fmt joins them on one line
        'policy "P"\nlead { role: enum(a, b) }\nevent ev\nscore s { +1 when ev ever }\n'
        "stages {\n  v\n  m when s >= 5 and  # mqldsl: allow W501\n"
        "    role != a  # mqldsl: allow W508\n}\n",
    ],
)
def test_fmt_keeps_what_pragmas_allow(text: str) -> None:
    from mqldsl.analysis.checker import check_text

    def warnings(source: str) -> list[str]:
        result = check_text(source, "p.mql")
        return sorted(d.code for d in result.diagnostics if not d.is_error)

    out = fmt(text)
    assert out.count("\n") > text.count("\n") or "W501 # mqldsl: allow W508" in out
    assert warnings(out) == warnings(text)
    assert "W505" not in warnings(out) and "W508" not in warnings(out)
    assert fmt(out) == out


def test_instants_of_the_first_centuries_keep_four_digits() -> None:
    """strftime's %Y writes the year 1 as `1`: the printed policy did not read back (fmt
    refused it as a change of meaning), nor did explanations print a readable instant."""
    from mqldsl.engine.runtime import parse_instant
    from mqldsl.render.explanation import when

    text = (
        'policy "y"\n\nevent e\n\nstages {\n  v\n  m when e\n}\n\n'
        'example "x" at 0001-01-02T00:00:00Z {\n  e at 0001-01-01T09:30:05Z\n  expect stage m\n}\n'
    )
    result = parse_text(text)
    assert result.policy is not None
    printed = format_policy(result.policy, result.source)
    assert printed == text
    assert "e at 0001-01-01T09:30:05Z" in printed
    assert when(parse_instant("0001-01-01T09:30:05Z")) == "0001-01-01 09:30:05 UTC"
    assert when(parse_instant("0099-12-31T23:59:00Z")) == "0099-12-31 23:59 UTC"
