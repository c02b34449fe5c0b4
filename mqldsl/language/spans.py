"""Spans for the AST built inside Lark's parser: :class:`SpanTracker`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lark import Token
from lark.grammar import Rule, Terminal

from mqldsl.language.expression_builder import ExpressionBuilder
from mqldsl.language.source import Span

Extent = tuple[object, int, int, int, int]
Callback = Callable[[list[Any]], Any]


class SpanTracker:
    """Gives every node the span of the text it was parsed from.

    Lark's ``propagate_positions`` annotates parse trees, and with the builder
    embedded in the parser there is no tree. So the tracker wraps the parser's
    reduction callbacks instead: a wrapped callback sees the rule's raw
    children (keywords and punctuation included), takes the rule's extent from
    its first and last child, hands it to the builder as ``here``, and
    remembers the extent of the value it returns. Like Lark's containers, a
    node passed up through ``( ... )`` keeps its own span but counts with the
    parentheses when a parent measures itself."""

    def __init__(self, builder: ExpressionBuilder) -> None:
        self.builder = builder
        self.extents: dict[int, Extent] = {}
        # After a syntax error, recovery may hand a rule a value from a
        # statement that was cut short; the rule then yields None and the
        # statement is dropped (its syntax error is reported).
        self.lenient = False

    def reset(self) -> None:
        self.extents.clear()
        self.lenient = False

    def install(self, callbacks: dict[Any, Callback]) -> None:
        for rule, inner in list(callbacks.items()):
            if not isinstance(rule, Rule):
                continue
            if _passes_through(rule):
                continue
            callbacks[rule] = self._wrap(inner)

    def _wrap(self, inner: Callback) -> Callback:
        extents = self.extents
        builder = self.builder

        def callback(children: list[Any]) -> Any:
            # Inlined for speed: this runs once per reduction.
            line = column = end_line = end_column = 0
            for child in children:
                if child is None:
                    continue
                if type(child) is Token:
                    line, column = child.line, child.column  # type: ignore[assignment]
                    break
                entry = extents.get(id(child))
                if entry is not None and entry[0] is child:
                    line, column = entry[1], entry[2]
                    break
            if line:
                for child in reversed(children):
                    if child is None:
                        continue
                    if type(child) is Token:
                        end_line, end_column = child.end_line, child.end_column  # type: ignore[assignment]
                        break
                    entry = extents.get(id(child))
                    if entry is not None and entry[0] is child:
                        end_line, end_column = entry[3], entry[4]
                        break
                builder.here = Span(builder.file, line, column, end_line, end_column)
            else:
                builder.here = Span.point(builder.file, 1, 1)
            try:
                result = inner(children)
            except Exception:
                if not self.lenient:
                    raise
                return None
            if line and result is not None and type(result) is not Token:
                extents[id(result)] = (result, line, column, end_line, end_column)
            return result

        return callback


def _passes_through(rule: Rule) -> bool:
    """A `?rule` with a single kept symbol hands its child up unchanged."""
    if not rule.options.expand1 or rule.alias or len(rule.expansion) != 1:
        return False
    symbol = rule.expansion[0]
    if isinstance(symbol, Terminal):
        return not symbol.filter_out
    return not symbol.name.startswith("_")
