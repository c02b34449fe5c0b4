"""Lark's reductions -> typed AST, part one: the values and expressions of
the language (literals, durations, names, conditions, event patterns), and
the state and helpers that every rule of the builder shares.

:class:`mqldsl.language.builder.AstBuilder` adds the statements. Problems the
grammar cannot express become diagnostics here rather than exceptions:
reserved words used as names, months and years, invalid dates and instants,
unknown escapes, and conditions nested too deeply.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, TypeVar

from lark import Token, Transformer, v_args

from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic, error
from mqldsl.language.source import Source, Span

RESERVED = frozenset(
    [
        "and",
        "or",
        "not",
        "in",
        "between",
        "contains",
        "starts",
        "ends",
        "with",
        "is",
        "missing",
        "present",
        "no",
        "count",
        "days",
        "since",
        "where",
        "within",
        "ever",
        "per",
        "max",
        "when",
        "true",
        "false",
        "event",
    ]
)

# Conditions deeper than this are refused (E101); real policies nest a handful
# of levels, and every later stage (checker, compilers, printer) recurses.
MAX_NESTING = 64
_N = TypeVar("_N")
UNITS = {"minute", "hour", "day", "week"}

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def to_number(text: str) -> ast.Number:
    """A number token's value: an int unless it has a decimal point. A whole number with more
    digits than any 64-bit number has is infinite (out of range, E114) without being converted
    (Python converts at most 4,300 digits)."""
    if "." in text:
        return float(text)
    if len(text.lstrip("+-").lstrip("0")) > 20:
        return -math.inf if text.startswith("-") else math.inf
    return int(text)


def _shown(text: str) -> str:
    """A number as a message quotes it: a very long one cut in the middle."""
    if len(text) <= 40:
        return text
    return f"{text[:16]}…{text[-8:]} ({len(text):,} characters)"


#: The largest magnitude a number in a policy may have: the signed 64-bit range that the SQL
#: back end's BIGINT holds (and a float holds every whole number to 2**53 exactly).
NUMBER_LIMIT = 2**63 - 1
#: The longest duration: 10,000 years of 365.25 days, the length of the calendar (E114).
DURATION_LIMIT_DAYS = 3_652_500
_UNIT_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "week": 7.0}


@v_args(inline=True)
class ExpressionBuilder(Transformer[Token, list[ast.Item]]):
    """The builder's shared state and the rules for values and expressions.

    One builder serves one parser; :meth:`begin` prepares it for a file. A
    method's own node spans ``self.here``, which
    :class:`~mqldsl.language.spans.SpanTracker` sets to the extent of the rule
    being reduced just before the method is called. (Lark applies ``v_args``
    class by class, so a subclass is decorated too.)"""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.begin(Source("<policy>", ""))

    def begin(self, source: Source) -> None:
        self.source = source
        self.file = source.name
        self.diagnostics: list[Diagnostic] = []
        self.here = Span.point(self.file, 1, 1)
        self.depths: dict[int, int] = {}

    def finish(self) -> None:
        """Forget the nesting depths of the last file. They are keyed by
        node id, which is safe because the span tracker keeps every node of a
        file alive until its parse ends."""
        self.depths = {}

    # -- helpers

    def _nest(self, node: _N, *children: object) -> _N:
        """Record how deeply ``node`` nests expressions; every later stage
        walks conditions recursively, so a condition nested beyond
        MAX_NESTING levels is refused here, once, where it crosses the limit."""
        depths = self.depths
        depth = 1
        for child in children:
            below = depths.get(id(child))
            if below is not None and below >= depth:
                depth = below + 1
        depths[id(node)] = depth
        if depth == MAX_NESTING + 1:
            self.diagnostics.append(
                error(
                    "E101",
                    f"this condition is nested too deeply (more than {MAX_NESTING} levels)",
                    self.here,
                    "split it: give parts of it their own score, or simplify it",
                )
            )
        return node

    def _tok_span(self, token: Token) -> Span:
        return Span(
            self.file,
            token.line or 1,
            token.column or 1,
            token.end_line or token.line or 1,
            token.end_column or (token.column or 1) + len(token),
        )

    def _ident(self, token: Token) -> str:
        text = str(token)
        if text in RESERVED:
            self.diagnostics.append(
                error(
                    "E106",
                    f"`{text}` is a reserved word and cannot be used as a name",
                    self._tok_span(token),
                    "choose another name",
                )
            )
        return text

    def _soft_word(self, token: Token, word: str, hint: str) -> None:
        """E140 when a word the grammar takes as any name (so that it stays free as an event or
        field name elsewhere) is not the keyword this form needs."""
        if str(token) != word:
            self.diagnostics.append(
                error("E140", f"expected `{word}`, found `{token}`", self._tok_span(token), hint)
            )

    def _string(self, token: Token) -> str:
        raw = str(token)
        long = token.type == "LONG_STRING"
        body = raw[3:-3] if long else raw[1:-1]
        offset = (token.start_pos or 0) + (3 if long else 1)

        def unescape(match: re.Match[str]) -> str:
            char = match.group(1)
            if char in _ESCAPES:
                return _ESCAPES[char]
            self.diagnostics.append(
                error(
                    "E104",
                    f"unknown escape `\\{char}` in a string",
                    self.source.span(offset + match.start(), offset + match.end()),
                    'the escapes are \\" \\\\ \\n and \\t; write \\\\ for a backslash',
                )
            )
            return char

        value = _ESCAPE.sub(unescape, body)
        if long:
            value = value.replace("\r\n", "\n")
            if value.startswith("\n"):
                value = value[1:]
            if value.endswith("\n"):
                value = value[:-1]
        return value

    def _number(self, token: Token, text: str | None = None) -> ast.Number:
        """:func:`to_number`, with E114 for a number beyond :data:`NUMBER_LIMIT`."""
        value = to_number(text if text is not None else str(token))
        if not abs(value) <= NUMBER_LIMIT:
            self.diagnostics.append(
                error(
                    "E114",
                    f"`{_shown(str(token))}` is out of range: numbers in a policy are at most "
                    f"{NUMBER_LIMIT:,} in size",
                    self._tok_span(token),
                    "use a smaller number",
                )
            )
            return 0
        return value

    def _date(self, token: Token) -> dt.date:
        try:
            return dt.date.fromisoformat(str(token))
        except ValueError:
            self.diagnostics.append(
                error(
                    "E107",
                    f"`{token}` is not a valid date",
                    self._tok_span(token),
                    "write a date as YYYY-MM-DD, e.g. 2026-12-01",
                )
            )
            return dt.date(1970, 1, 1)

    # -- values and literals

    def string(self, token: Token) -> ast.StringLit:
        return ast.StringLit(value=self._string(token), span=self._tok_span(token))

    def date(self, token: Token) -> ast.DateLit:
        return ast.DateLit(value=self._date(token), span=self._tok_span(token))

    def instant(self, token: Token) -> ast.InstantLit:
        text = str(token)
        span = self._tok_span(token)
        value = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            self.diagnostics.append(
                error(
                    "E107",
                    f"`{text}` is not a valid instant",
                    span,
                    "write an instant as YYYY-MM-DDTHH:MM:SSZ, e.g. 2026-12-01T09:30:00Z",
                )
            )
        else:
            if parsed.tzinfo is None:
                self.diagnostics.append(
                    error(
                        "E107",
                        f"the instant `{text}` has no time zone",
                        span,
                        f"add `Z` for UTC (`{text}Z`) or an offset such as `+02:00`",
                    )
                )
            else:
                try:
                    value = parsed.astimezone(dt.UTC)
                except OverflowError:
                    self.diagnostics.append(
                        error(
                            "E107",
                            f"the instant `{text}` is outside the calendar: in UTC it is "
                            "before 0001-01-01T00:00:00Z or after 9999-12-31T23:59:59Z",
                            span,
                            "write an instant from year 1 to year 9999 in UTC",
                        )
                    )
        return ast.InstantLit(value=value, span=span)

    def number(self, token: Token) -> ast.NumberLit:
        return ast.NumberLit(value=self._number(token), span=self.here)

    def negative(self, token: Token) -> ast.NumberLit:
        return ast.NumberLit(value=-self._number(token), span=self.here)

    def true(self) -> ast.BoolLit:
        return ast.BoolLit(value=True, span=self.here)

    def false(self) -> ast.BoolLit:
        return ast.BoolLit(value=False, span=self.here)

    def member(self, token: Token) -> ast.Name:
        return ast.Name(name=self._ident(token), span=self._tok_span(token))

    def value_list(self, *items: ast.Value | None) -> ast.ListLit:
        kept = tuple(i for i in items if i is not None)
        return self._nest(ast.ListLit(items=kept, span=self.here), *kept)

    list_ = value_list

    def duration(self, amount: Token, unit: Token) -> ast.Duration:
        text = str(unit)
        base = text[:-1] if text.endswith("s") else text
        span = self.here
        if base not in UNITS:
            days = {"month": 30, "year": 365}[base]
            count = to_number(str(amount)) * days
            self.diagnostics.append(
                error(
                    "E105",
                    f"`{text}` is not a duration unit: months and years vary in length",
                    self._tok_span(unit),
                    f"write days, e.g. `{count} days`" if math.isfinite(count) else "write days",
                )
            )
            base = "day"
        number = self._number(amount)
        if number * _UNIT_DAYS[base] > DURATION_LIMIT_DAYS:
            self.diagnostics.append(
                error(
                    "E114",
                    f"`{amount} {text}` is out of range: a duration is at most "
                    f"{DURATION_LIMIT_DAYS:,} days (10,000 years)",
                    span,
                    "use a shorter duration",
                )
            )
            number = 1
        return ast.Duration(amount=number, unit=base, span=span)

    def duration_param(self, name: Token) -> ast.Duration:
        # The param's value is not known yet: the checker resolves it (SPEC §5.2). A unit
        # word (`within days`) is a param's name too when one is declared so (SPEC §2:
        # units are keywords only where the grammar expects them; `param day = 1 day`, in
        # this file or an included one); the checker says E101 when none is. `days` is a
        # reserved word (`days since`): never a name, so a unit without its number here.
        if str(name) in RESERVED:
            before = self.source.text[: name.start_pos or 0].rstrip().rsplit(None, 1)[-1:]
            keyword = f" after `{before[0]}`" if before else ""
            self.diagnostics.append(
                error(
                    "E101",
                    f"expected a duration such as `30 days`{keyword}, found `{name}`",
                    self._tok_span(name),
                )
            )
            return ast.Duration(amount=1, unit="day", span=self.here)
        return ast.Duration(amount=0, unit="day", param=self._ident(name), span=self.here)

    # -- expressions

    def name(self, token: Token) -> ast.Name:
        return ast.Name(name=self._ident(token), span=self._tok_span(token))

    def account_ref(self, token: Token) -> ast.AccountRef:
        return ast.AccountRef(field=self._ident(token), span=self.here)

    def or_(self, *operands: ast.Expr) -> ast.Or:
        return self._nest(ast.Or(operands=operands, span=self.here), *operands)

    def and_(self, *operands: ast.Expr) -> ast.And:
        return self._nest(ast.And(operands=operands, span=self.here), *operands)

    def not_(self, operand: ast.Expr) -> ast.Not:
        return self._nest(ast.Not(operand=operand, span=self.here), operand)

    def compare(self, left: ast.Expr, op: Token, right: ast.Expr) -> ast.Compare:
        node = ast.Compare(op=str(op), left=left, right=right, span=self.here)  # type: ignore[arg-type]
        return self._nest(node, left, right)

    def between(self, operand: ast.Expr, low: ast.Expr, high: ast.Expr) -> ast.Between:
        node = ast.Between(operand=operand, low=low, high=high, span=self.here)
        return self._nest(node, operand, low, high)

    def in_(self, operand: ast.Expr, collection: ast.Expr) -> ast.Membership:
        node = ast.Membership(operand=operand, collection=collection, negated=False, span=self.here)
        return self._nest(node, operand, collection)

    def not_in(self, operand: ast.Expr, collection: ast.Expr) -> ast.Membership:
        node = ast.Membership(operand=operand, collection=collection, negated=True, span=self.here)
        return self._nest(node, operand, collection)

    def contains(self, operand: ast.Expr, value: ast.Expr) -> ast.TextTest:
        node = ast.TextTest(op="contains", operand=operand, value=value, span=self.here)
        return self._nest(node, operand, value)

    def starts_with(self, operand: ast.Expr, value: ast.Expr) -> ast.TextTest:
        node = ast.TextTest(op="starts with", operand=operand, value=value, span=self.here)
        return self._nest(node, operand, value)

    def ends_with(self, operand: ast.Expr, value: ast.Expr) -> ast.TextTest:
        node = ast.TextTest(op="ends with", operand=operand, value=value, span=self.here)
        return self._nest(node, operand, value)

    def is_missing(self, operand: ast.Expr) -> ast.Presence:
        return self._nest(ast.Presence(operand=operand, missing=True, span=self.here), operand)

    def is_present(self, operand: ast.Expr) -> ast.Presence:
        return self._nest(ast.Presence(operand=operand, missing=False, span=self.here), operand)

    def _arith(self, op: str, left: ast.Expr, right: ast.Expr) -> ast.Arith:
        node = ast.Arith(op=op, left=left, right=right, span=self.here)  # type: ignore[arg-type]
        return self._nest(node, left, right)

    def add(self, left: ast.Expr, right: ast.Expr) -> ast.Arith:
        return self._arith("+", left, right)

    def sub(self, left: ast.Expr, right: ast.Expr) -> ast.Arith:
        return self._arith("-", left, right)

    def mul(self, left: ast.Expr, right: ast.Expr) -> ast.Arith:
        return self._arith("*", left, right)

    def div(self, left: ast.Expr, right: ast.Expr) -> ast.Arith:
        return self._arith("/", left, right)

    def neg(self, operand: ast.Expr) -> ast.Unary:
        return self._nest(ast.Unary(op="-", operand=operand, span=self.here), operand)

    def _event_name(self, token: Token) -> str | None:
        return None if token.type == "ANY_EVENT" else self._ident(token)

    def pattern(self, event: Token, *rest: Any) -> ast.Pattern:
        where: ast.Expr | None = None
        window: ast.Window = None
        for item in rest:
            if item is None:
                continue
            if isinstance(item, ast.Duration):
                window = item
            elif isinstance(item, Token) and item.type == "EVER":
                window = "ever"
            else:
                where = item
        node = ast.Pattern(
            event=self._event_name(event), where=where, window=window, span=self.here
        )
        return self._nest(node, where)

    def no(self, pattern: ast.Pattern) -> ast.NoEvents:
        return self._nest(ast.NoEvents(pattern=pattern, span=self.here), pattern)

    def w_no(self, event: Token) -> ast.NoEvents:
        """`no EVENT` inside a `where` (the checker refuses it there: E316)."""
        pattern = ast.Pattern(
            event=self._event_name(event), where=None, window=None, span=self._tok_span(event)
        )
        return self.no(pattern)

    def w_days_since(self, event: Token) -> ast.DaysSince:
        """`days since EVENT` inside a `where` (the checker refuses it there: E316)."""
        return self.days_since(event, None)

    def count(self, pattern: ast.Pattern) -> ast.Count:
        return self._nest(ast.Count(pattern=pattern, span=self.here), pattern)

    def aggregate(
        self,
        function: Token,
        event: Token,
        field: Token,
        where: ast.Expr | None,
        window: ast.Duration | Token | None,
    ) -> ast.Aggregate:
        # The pattern spans `EVENT.FIELD [where COND] [window]`, inside the parentheses.
        end = self._tok_span(field)
        if window is not None:
            end = window.span if isinstance(window, ast.Duration) else self._tok_span(window)
        elif where is not None:
            end = where.span
        start = self._tok_span(event)
        span = Span(self.file, start.line, start.column, end.end_line, end.end_column)
        pattern = ast.Pattern(
            event=self._event_name(event),
            where=where,
            window="ever" if isinstance(window, Token) else window,
            span=span,
        )
        self._nest(pattern, where)
        node = ast.Aggregate(
            function=str(function),  # type: ignore[arg-type]
            field=self._ident(field),
            pattern=pattern,
            span=self.here,
        )
        return self._nest(node, pattern)

    def contact_count(
        self, distinct: Token, contact: Token, pattern: ast.Pattern
    ) -> ast.ContactCount:
        hint = "write `count(distinct contact with PATTERN)`"
        self._soft_word(distinct, "distinct", hint)
        self._soft_word(contact, "contact", hint)
        return self._nest(ast.ContactCount(pattern=pattern, span=self.here), pattern)

    def days_since(self, event: Token, where: ast.Expr | None) -> ast.DaysSince:
        node = ast.DaysSince(event=self._event_name(event), where=where, span=self.here)
        return self._nest(node, where)
