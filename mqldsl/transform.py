"""Lark parse tree -> typed AST (:mod:`mqldsl.ast`).

One explicit Transformer builds every node with its span. Problems the
grammar cannot express (reserved words used as names, months, invalid dates,
unknown escapes and types) become diagnostics here rather than exceptions.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Any

from lark import Token, Transformer, v_args

from . import ast
from .diagnostics import Diagnostic, error
from .source import Source, Span

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
SIMPLE_TYPES = ("int", "number", "bool", "text", "date")
UNITS = {"minute", "hour", "day", "week"}

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _number(text: str) -> ast.Number:
    return float(text) if "." in text else int(text)


@v_args(inline=True, meta=True)
class AstBuilder(Transformer[Token, list[ast.Item]]):
    """Builds AST nodes from Lark's tree; problems that the grammar cannot
    express (reserved names, bad dates, months) become diagnostics here."""

    def __init__(self, source: Source) -> None:
        super().__init__(visit_tokens=False)
        self.source = source
        self.file = source.name
        self.diagnostics: list[Diagnostic] = []

    # -- helpers

    def _span(self, meta: Any) -> Span:
        if getattr(meta, "empty", True):
            return Span.point(self.file, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

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

    # -- header

    def start(self, meta: Any, *items: Any) -> list[ast.Item]:
        return [item for item in items if item is not None]

    def string(self, meta: Any, token: Token) -> ast.StringLit:
        return ast.StringLit(value=self._string(token), span=self._tok_span(token))

    def policy_title(self, meta: Any, title: ast.StringLit) -> ast.PolicyTitle:
        return ast.PolicyTitle(title=title.value, span=self._span(meta))

    def version(self, meta: Any, number: Token) -> ast.Version:
        return ast.Version(number=_number(number), span=self._span(meta))

    def owner(self, meta: Any, owner: ast.StringLit) -> ast.Owner:
        return ast.Owner(owner=owner.value, span=self._span(meta))

    def effective(self, meta: Any, token: Token) -> ast.Effective:
        return ast.Effective(date=self._date(token), span=self._span(meta))

    def about(self, meta: Any, text: ast.StringLit) -> ast.About:
        return ast.About(text=text.value, span=self._span(meta))

    def include(self, meta: Any, path: ast.StringLit) -> ast.Include:
        span = self._span(meta)
        self.diagnostics.append(
            error(
                "E112",
                "`include` is not supported yet",
                span,
                "copy the shared declarations into this policy for now",
            )
        )
        return ast.Include(path=path.value, span=span)

    # -- declarations

    def field_block(self, meta: Any, *fields: ast.FieldDecl | None) -> tuple[ast.FieldDecl, ...]:
        return tuple(f for f in fields if f is not None)

    def lead_block(self, meta: Any, fields: tuple[ast.FieldDecl, ...]) -> ast.LeadBlock:
        return ast.LeadBlock(fields=fields, span=self._span(meta))

    def account_block(self, meta: Any, fields: tuple[ast.FieldDecl, ...]) -> ast.AccountBlock:
        return ast.AccountBlock(fields=fields, span=self._span(meta))

    def event_decl(
        self,
        meta: Any,
        name: Token,
        description: ast.StringLit | None,
        fields: tuple[ast.FieldDecl, ...] | None,
    ) -> ast.EventDecl:
        return ast.EventDecl(
            name=self._ident(name),
            description=description.value if description else None,
            fields=fields,
            span=self._span(meta),
        )

    def field(
        self, meta: Any, name: Token, type_: ast.TypeExpr, description: ast.StringLit | None
    ) -> ast.FieldDecl:
        return ast.FieldDecl(
            name=self._ident(name),
            type=type_,
            description=description.value if description else None,
            span=self._span(meta),
        )

    def simple_type(self, meta: Any, name: Token) -> ast.SimpleType:
        text = str(name)
        if text not in SIMPLE_TYPES:
            close = difflib.get_close_matches(text, [*SIMPLE_TYPES, "enum", "set"], n=1)
            aliases = {
                "string": "text",
                "str": "text",
                "float": "number",
                "integer": "int",
                "boolean": "bool",
                "decimal": "number",
                "datetime": "date",
            }
            suggestion = aliases.get(text) or (close[0] if close else None)
            self.diagnostics.append(
                error(
                    "E113",
                    f"unknown type `{text}`",
                    self._tok_span(name),
                    (f"did you mean `{suggestion}`? " if suggestion else "")
                    + "the types are int, number, bool, text, date, enum(...), set of text "
                    "and set of enum(...)",
                )
            )
        return ast.SimpleType(name=text, span=self._span(meta))

    def enum_type(self, meta: Any, *members: Token | None) -> ast.EnumType:
        return ast.EnumType(
            members=tuple(self._ident(m) for m in members if m is not None), span=self._span(meta)
        )

    def set_type(self, meta: Any, element: ast.TypeExpr) -> ast.SetType:
        return ast.SetType(element=element, span=self._span(meta))

    def param_decl(
        self, meta: Any, name: Token, value: ast.Value, description: ast.StringLit | None
    ) -> ast.Param:
        return ast.Param(
            name=self._ident(name),
            value=value,
            description=description.value if description else None,
            span=self._span(meta),
        )

    # -- scores

    def score_rules(
        self, meta: Any, name: Token, description: ast.StringLit | None, *rest: Any
    ) -> ast.Score:
        range_: ast.RangeOption | None = None
        decay: ast.DecayOption | None = None
        rules: list[ast.Rule] = []
        for item in rest:
            if isinstance(item, ast.RangeOption):
                range_ = item
            elif isinstance(item, ast.DecayOption):
                decay = item
            elif item is not None:
                rules.append(item)
        return ast.Score(
            name=self._ident(name),
            description=description.value if description else None,
            range=range_,
            decay=decay,
            rules=tuple(rules),
            formula=None,
            span=self._span(meta),
        )

    def score_formula(
        self, meta: Any, name: Token, description: ast.StringLit | None, formula: ast.Expr
    ) -> ast.Score:
        return ast.Score(
            name=self._ident(name),
            description=description.value if description else None,
            range=None,
            decay=None,
            rules=None,
            formula=formula,
            span=self._span(meta),
        )

    def range_option(self, meta: Any, low: ast.NumberLit, high: ast.NumberLit) -> ast.RangeOption:
        return ast.RangeOption(low=low.value, high=high.value, span=self._span(meta))

    def decay_option(self, meta: Any, percent: Token, every: ast.Duration) -> ast.DecayOption:
        return ast.DecayOption(percent=_number(percent), every=every, span=self._span(meta))

    def when_rule(
        self, meta: Any, points: Token, condition: ast.Expr, label: ast.StringLit | None
    ) -> ast.WhenRule:
        return ast.WhenRule(
            points=_number(str(points).lstrip("+")),
            condition=condition,
            label=label.value if label else None,
            span=self._span(meta),
        )

    def per_rule(
        self,
        meta: Any,
        points: Token,
        pattern: ast.Pattern,
        cap: Token | None,
        label: ast.StringLit | None,
    ) -> ast.PerRule:
        return ast.PerRule(
            points=_number(str(points).lstrip("+")),
            pattern=pattern,
            max=_number(cap) if cap is not None else None,
            label=label.value if label else None,
            span=self._span(meta),
        )

    # -- lifecycle

    def stages_block(
        self, meta: Any, locked: Token | None, *stages: ast.Stage | None
    ) -> ast.Stages:
        return ast.Stages(
            locked=locked is not None,
            stages=tuple(s for s in stages if s is not None),
            span=self._span(meta),
        )

    def stage(
        self, meta: Any, name: Token, description: ast.StringLit | None, condition: ast.Expr | None
    ) -> ast.Stage:
        return ast.Stage(
            name=self._ident(name),
            description=description.value if description else None,
            condition=condition,
            span=self._span(meta),
        )

    def disqualify(self, meta: Any, reason: ast.StringLit, condition: ast.Expr) -> ast.Disqualify:
        return ast.Disqualify(reason=reason.value, condition=condition, span=self._span(meta))

    def recycle(
        self,
        meta: Any,
        from_stage: Token,
        to_stage: Token,
        condition: ast.Expr,
        description: ast.StringLit | None,
    ) -> ast.Recycle:
        return ast.Recycle(
            from_stage=self._ident(from_stage),
            to_stage=self._ident(to_stage),
            condition=condition,
            description=description.value if description else None,
            span=self._span(meta),
        )

    def route(
        self,
        meta: Any,
        stage: Token,
        queue: Token,
        condition: ast.Expr | None,
        sla: ast.Duration | None,
    ) -> ast.Route:
        return ast.Route(
            stage=self._ident(stage),
            queue=self._ident(queue),
            condition=condition,
            sla=sla,
            span=self._span(meta),
        )

    # -- examples

    def example(
        self,
        meta: Any,
        name: ast.StringLit,
        at: ast.DateLit | ast.InstantLit | None,
        *items: ast.ExampleItem | None,
    ) -> ast.Example:
        return ast.Example(
            name=name.value,
            at=at,
            items=tuple(i for i in items if i is not None),
            span=self._span(meta),
        )

    def record(self, meta: Any, *entries: ast.Entry | None) -> tuple[ast.Entry, ...]:
        return tuple(e for e in entries if e is not None)

    def entry(self, meta: Any, name: Token, value: ast.Value) -> ast.Entry:
        return ast.Entry(name=self._ident(name), value=value, span=self._span(meta))

    def example_lead(self, meta: Any, entries: tuple[ast.Entry, ...]) -> ast.ExampleLead:
        return ast.ExampleLead(entries=entries, span=self._span(meta))

    def example_event(
        self,
        meta: Any,
        name: Token,
        entries: tuple[ast.Entry, ...] | None,
        *times: ast.TimeRef,
    ) -> ast.ExampleEvent:
        return ast.ExampleEvent(
            event=self._ident(name), entries=entries, times=tuple(times), span=self._span(meta)
        )

    def ago(self, meta: Any, duration: ast.Duration) -> ast.RelativeTime:
        return ast.RelativeTime(sign=-1, duration=duration, span=self._span(meta))

    def later(self, meta: Any, duration: ast.Duration) -> ast.RelativeTime:
        return ast.RelativeTime(sign=1, duration=duration, span=self._span(meta))

    def expect_stage(self, meta: Any, stage: Token) -> ast.ExpectStage:
        return ast.ExpectStage(stage=self._ident(stage), span=self._span(meta))

    def expect_disqualified(
        self, meta: Any, reason: ast.StringLit | None
    ) -> ast.ExpectDisqualified:
        return ast.ExpectDisqualified(
            reason=reason.value if reason else None, span=self._span(meta)
        )

    def expect_score(
        self, meta: Any, score: Token, op: Token, value: ast.NumberLit
    ) -> ast.ExpectScore:
        return ast.ExpectScore(
            score=self._ident(score),
            op=str(op),  # type: ignore[arg-type]
            value=value.value,
            span=self._span(meta),
        )

    def expect_route(self, meta: Any, queue: Token) -> ast.ExpectRoute:
        return ast.ExpectRoute(queue=self._ident(queue), span=self._span(meta))

    # -- values and literals

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

    def date(self, meta: Any, token: Token) -> ast.DateLit:
        return ast.DateLit(value=self._date(token), span=self._tok_span(token))

    def instant(self, meta: Any, token: Token) -> ast.InstantLit:
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
                value = parsed.astimezone(dt.UTC)
        return ast.InstantLit(value=value, span=span)

    def number(self, meta: Any, token: Token) -> ast.NumberLit:
        return ast.NumberLit(value=_number(token), span=self._span(meta))

    def negative(self, meta: Any, token: Token) -> ast.NumberLit:
        return ast.NumberLit(value=-_number(token), span=self._span(meta))

    def true(self, meta: Any) -> ast.BoolLit:
        return ast.BoolLit(value=True, span=self._span(meta))

    def false(self, meta: Any) -> ast.BoolLit:
        return ast.BoolLit(value=False, span=self._span(meta))

    def member(self, meta: Any, token: Token) -> ast.Name:
        return ast.Name(name=self._ident(token), span=self._tok_span(token))

    def value_list(self, meta: Any, *items: ast.Value | None) -> ast.ListLit:
        return ast.ListLit(items=tuple(i for i in items if i is not None), span=self._span(meta))

    list_ = value_list

    def duration(self, meta: Any, amount: Token, unit: Token) -> ast.Duration:
        text = str(unit)
        base = text[:-1] if text.endswith("s") else text
        span = self._span(meta)
        if base not in UNITS:
            days = {"month": 30, "year": 365}[base]
            self.diagnostics.append(
                error(
                    "E105",
                    f"`{text}` is not a duration unit: months and years vary in length",
                    self._tok_span(unit),
                    f"write days, e.g. `{_number(amount) * days} days`",
                )
            )
            base = "day"
        return ast.Duration(amount=_number(amount), unit=base, span=span)

    # -- expressions

    def name(self, meta: Any, token: Token) -> ast.Name:
        return ast.Name(name=self._ident(token), span=self._tok_span(token))

    def account_ref(self, meta: Any, token: Token) -> ast.AccountRef:
        return ast.AccountRef(field=self._ident(token), span=self._span(meta))

    def or_(self, meta: Any, *operands: ast.Expr) -> ast.Or:
        return ast.Or(operands=operands, span=self._span(meta))

    def and_(self, meta: Any, *operands: ast.Expr) -> ast.And:
        return ast.And(operands=operands, span=self._span(meta))

    def not_(self, meta: Any, operand: ast.Expr) -> ast.Not:
        return ast.Not(operand=operand, span=self._span(meta))

    def compare(self, meta: Any, left: ast.Expr, op: Token, right: ast.Expr) -> ast.Compare:
        return ast.Compare(op=str(op), left=left, right=right, span=self._span(meta))  # type: ignore[arg-type]

    def between(self, meta: Any, operand: ast.Expr, low: ast.Expr, high: ast.Expr) -> ast.Between:
        return ast.Between(operand=operand, low=low, high=high, span=self._span(meta))

    def in_(self, meta: Any, operand: ast.Expr, collection: ast.Expr) -> ast.Membership:
        return ast.Membership(
            operand=operand, collection=collection, negated=False, span=self._span(meta)
        )

    def not_in(self, meta: Any, operand: ast.Expr, collection: ast.Expr) -> ast.Membership:
        return ast.Membership(
            operand=operand, collection=collection, negated=True, span=self._span(meta)
        )

    def contains(self, meta: Any, operand: ast.Expr, value: ast.Expr) -> ast.TextTest:
        return ast.TextTest(op="contains", operand=operand, value=value, span=self._span(meta))

    def starts_with(self, meta: Any, operand: ast.Expr, value: ast.Expr) -> ast.TextTest:
        return ast.TextTest(op="starts with", operand=operand, value=value, span=self._span(meta))

    def ends_with(self, meta: Any, operand: ast.Expr, value: ast.Expr) -> ast.TextTest:
        return ast.TextTest(op="ends with", operand=operand, value=value, span=self._span(meta))

    def is_missing(self, meta: Any, operand: ast.Expr) -> ast.Presence:
        return ast.Presence(operand=operand, missing=True, span=self._span(meta))

    def is_present(self, meta: Any, operand: ast.Expr) -> ast.Presence:
        return ast.Presence(operand=operand, missing=False, span=self._span(meta))

    def _arith(self, op: str, meta: Any, left: ast.Expr, right: ast.Expr) -> ast.Arith:
        return ast.Arith(op=op, left=left, right=right, span=self._span(meta))  # type: ignore[arg-type]

    def add(self, meta: Any, left: ast.Expr, right: ast.Expr) -> ast.Arith:
        return self._arith("+", meta, left, right)

    def sub(self, meta: Any, left: ast.Expr, right: ast.Expr) -> ast.Arith:
        return self._arith("-", meta, left, right)

    def mul(self, meta: Any, left: ast.Expr, right: ast.Expr) -> ast.Arith:
        return self._arith("*", meta, left, right)

    def div(self, meta: Any, left: ast.Expr, right: ast.Expr) -> ast.Arith:
        return self._arith("/", meta, left, right)

    def neg(self, meta: Any, operand: ast.Expr) -> ast.Unary:
        return ast.Unary(op="-", operand=operand, span=self._span(meta))

    def _event_name(self, token: Token) -> str | None:
        return None if token.type == "ANY_EVENT" else self._ident(token)

    def pattern(self, meta: Any, event: Token, *rest: Any) -> ast.Pattern:
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
        return ast.Pattern(
            event=self._event_name(event), where=where, window=window, span=self._span(meta)
        )

    def no(self, meta: Any, pattern: ast.Pattern) -> ast.NoEvents:
        return ast.NoEvents(pattern=pattern, span=self._span(meta))

    def count(self, meta: Any, pattern: ast.Pattern) -> ast.Count:
        return ast.Count(pattern=pattern, span=self._span(meta))

    def days_since(self, meta: Any, event: Token, where: ast.Expr | None) -> ast.DaysSince:
        return ast.DaysSince(event=self._event_name(event), where=where, span=self._span(meta))
