"""Small harness shared by the tests: parse a snippet, get its diagnostics as
(code, line, column) triples, so that each case is one line."""

from __future__ import annotations

from click.testing import CliRunner

from mqldsl.cli import cli
from mqldsl.language import ast
from mqldsl.language.parser import parse_text

HEADER = 'policy "t"\n'


def parse_ok(text: str) -> ast.Policy:
    result = parse_text(text, "t.mql")
    assert result.policy is not None, "\n".join(d.render(result.source) for d in result.diagnostics)
    assert not result.diagnostics, [d.render(result.source) for d in result.diagnostics]
    return result.policy


def item(text: str) -> ast.Item:
    """Parse one statement after a policy header and return it."""
    policy = parse_ok(HEADER + text)
    assert len(policy.items) == 2, policy.items
    return policy.items[1]


def condition(text: str) -> ast.Expr:
    """Parse a condition as written after `when` in a disqualifier."""
    node = item(f'disqualify "r" when {text}')
    assert isinstance(node, ast.Disqualify)
    return node.condition


def codes(text: str) -> list[tuple[str, int, int]]:
    result = parse_text(text, "t.mql")
    return [(d.code, d.span.line, d.span.column) for d in result.diagnostics]


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    """Run the `mqldsl` command; (exit code, stdout, stderr). A Python
    exception other than SystemExit fails the test: bad input never raises."""
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr
