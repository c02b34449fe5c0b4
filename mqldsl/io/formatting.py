"""`mqldsl fmt` as a library call: the canonical text of a parsed policy,
refused when printing it again would change its meaning."""

from __future__ import annotations

from mqldsl.language import ast
from mqldsl.language.parser import ParseResult, parse_text
from mqldsl.language.printer import canonical_items, format_policy


class MeaningChanged(Exception):
    """The formatter would change the meaning of a policy (a bug in mqldsl)."""


def formatted(result: ParseResult) -> str:
    """The canonical text of a policy that parsed without errors;
    :class:`MeaningChanged` if that text parses to a different policy."""
    assert result.policy is not None
    text = format_policy(result.policy, result.source)
    included = result.policy.first(ast.PolicyTitle) is None  # a file policies include
    again = parse_text(text, result.source.name, included)
    if again.policy != canonical_items(result.policy):
        raise MeaningChanged(
            f"{result.source.name}: the formatter would change the meaning of this policy; "
            "nothing was written. Please report this as a bug."
        )
    return text


__all__ = ["MeaningChanged", "formatted"]
