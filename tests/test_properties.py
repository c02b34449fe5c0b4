"""Properties of the front end (hypothesis):

- parsing never raises: any text, and mutations of valid policies, give a
  policy or diagnostics;
- printing a random valid AST and parsing it back gives the same AST;
- `fmt` is idempotent on generated policies.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqldsl.language import ast
from mqldsl.language.parser import parse_bytes, parse_text
from mqldsl.language.printer import canonical_items, format_policy

from .conftest import POLICIES
from .strategies import policies

SHIPPED = [p.read_text(encoding="utf-8") for p in POLICIES]
TOKENS = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    "==",
    "+20",
    "-5",
    "when",
    "per",
    "within",
    "ever",
    "and",
    "or",
    "not",
    "\n",
    "\n  and ",
    '"',
    '"""',
    "#",
    "30 days",
    "3 months",
    "stages",
    "score",
    "lead",
    "event",
    "policy",
    "2026-13-01",
    "x",
    "Z",
    "\\",
    "\t",
    "\x00",
    "é",
    "%",
]


def _never_raises(text: str) -> None:
    result = parse_text(text, "fuzz.mql")
    assert (result.policy is None) == any(
        d.is_error for d in result.diagnostics
    ) or result.policy is not None
    for diagnostic in result.diagnostics:
        assert diagnostic.code.startswith("E1"), diagnostic
        assert diagnostic.span.line >= 1
        assert "__ANON" not in diagnostic.message and "_NL" not in diagnostic.message
        assert "__ANON" not in (diagnostic.hint or "")
        diagnostic.render(result.source)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    _never_raises(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    result = parse_bytes(data, "fuzz.mql")
    for diagnostic in result.diagnostics:
        diagnostic.render(result.source)


@st.composite
def mutated_policy(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SHIPPED))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(text)))
        action = draw(st.sampled_from(["delete", "insert", "duplicate_line"]))
        if action == "delete":
            length = draw(st.integers(min_value=1, max_value=20))
            text = text[:position] + text[position + length :]
        elif action == "insert":
            text = text[:position] + draw(st.sampled_from(TOKENS)) + text[position:]
        else:
            lines = text.split("\n")
            index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines.insert(index, lines[index])
            text = "\n".join(lines)
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_policy())
def test_mutated_policies_never_raise(text: str) -> None:
    _never_raises(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_print_then_parse_gives_the_same_ast(policy: ast.Policy) -> None:
    text = format_policy(policy)
    result = parse_text(text, "generated.mql")
    assert result.policy is not None, (
        "\n".join(d.render(result.source) for d in result.diagnostics) + "\n" + text
    )
    assert result.policy == canonical_items(policy), text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_fmt_is_idempotent_on_generated_policies(policy: ast.Policy) -> None:
    once = format_policy(policy)
    parsed = parse_text(once, "generated.mql")
    assert parsed.policy is not None
    twice = format_policy(parsed.policy, parsed.source)
    assert twice == once


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_checker_never_raises_on_any_parseable_policy(policy: ast.Policy) -> None:
    from mqldsl.analysis.checker import check_text

    result = check_text(format_policy(policy), "generated.mql")
    for diagnostic in result.diagnostics:
        diagnostic.render(result.source)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_policy())
def test_checker_never_raises_on_mutated_policies(text: str) -> None:
    from mqldsl.analysis.checker import check_text

    result = check_text(text, "fuzz.mql")
    for diagnostic in result.diagnostics:
        diagnostic.render(result.source)
