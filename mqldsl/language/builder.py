"""Lark's reductions -> typed AST (:mod:`mqldsl.language.ast`).

One explicit transformer builds every node with its span, embedded in Lark's
LALR parser: each rule's node is made as the parser reduces it, so no parse
tree is built and walked (the large-policy benchmark depends on this). The
spans come from :class:`SpanTracker`. Problems the grammar cannot express
(reserved words used as names, months, invalid dates, unknown escapes and
types, conditions nested too deeply) become diagnostics here rather than
exceptions.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, TypeVar

from lark import Token, Transformer, v_args
from lark.grammar import Rule, Terminal

from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic, error
from mqldsl.language.source import Source, Span
from mqldsl.language.suggestions import closest

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
SIMPLE_TYPES = ("int", "number", "bool", "text", "date")
UNITS = {"minute", "hour", "day", "week"}

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _number(text: str) -> ast.Number:
    return float(text) if "." in text else int(text)


@v_args(inline=True)
class AstBuilder(Transformer[Token, list[ast.Item]]):
    """Builds AST nodes while Lark parses (an embedded transformer, so no
    parse tree is built first); problems that the grammar cannot express
    (reserved names, bad dates, months) become diagnostics here.

    One builder serves one parser; :meth:`begin` prepares it for a file. A
    method's own node spans ``self.here``, which :class:`SpanTracker` sets to
    the extent of the rule being reduced just before the method is called."""

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

    def start(self, *items: Any) -> list[ast.Item]:
        return [item for item in items if item is not None]

    def string(self, token: Token) -> ast.StringLit:
        return ast.StringLit(value=self._string(token), span=self._tok_span(token))

    def policy_title(self, title: ast.StringLit) -> ast.PolicyTitle:
        return ast.PolicyTitle(title=title.value, span=self.here)

    def version(self, number: Token) -> ast.Version:
        return ast.Version(number=_number(number), span=self.here)

    def owner(self, owner: ast.StringLit) -> ast.Owner:
        return ast.Owner(owner=owner.value, span=self.here)

    def effective(self, token: Token) -> ast.Effective:
        return ast.Effective(date=self._date(token), span=self.here)

    def about(self, text: ast.StringLit) -> ast.About:
        return ast.About(text=text.value, span=self.here)

    def include(self, path: ast.StringLit) -> ast.Include:
        span = self.here
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

    def field_block(self, *fields: ast.FieldDecl | None) -> tuple[ast.FieldDecl, ...]:
        return tuple(f for f in fields if f is not None)

    def lead_block(self, fields: tuple[ast.FieldDecl, ...]) -> ast.LeadBlock:
        return ast.LeadBlock(fields=fields, span=self.here)

    def account_block(self, fields: tuple[ast.FieldDecl, ...]) -> ast.AccountBlock:
        return ast.AccountBlock(fields=fields, span=self.here)

    def event_decl(
        self,
        name: Token,
        description: ast.StringLit | None,
        fields: tuple[ast.FieldDecl, ...] | None,
    ) -> ast.EventDecl:
        return ast.EventDecl(
            name=self._ident(name),
            description=description.value if description else None,
            fields=fields,
            span=self.here,
        )

    def field(
        self, name: Token, type_: ast.TypeExpr, description: ast.StringLit | None
    ) -> ast.FieldDecl:
        return ast.FieldDecl(
            name=self._ident(name),
            type=type_,
            description=description.value if description else None,
            span=self.here,
        )

    def simple_type(self, name: Token) -> ast.SimpleType:
        text = str(name)
        if text not in SIMPLE_TYPES:
            aliases = {
                "string": "text",
                "str": "text",
                "float": "number",
                "integer": "int",
                "boolean": "bool",
                "decimal": "number",
                "datetime": "date",
            }
            suggestion = aliases.get(text) or closest(text, [*SIMPLE_TYPES, "enum", "set"])
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
        return ast.SimpleType(name=text, span=self.here)

    def enum_type(self, *members: Token | None) -> ast.EnumType:
        return ast.EnumType(
            members=tuple(self._ident(m) for m in members if m is not None), span=self.here
        )

    def set_type(self, element: ast.TypeExpr) -> ast.SetType:
        return ast.SetType(element=element, span=self.here)

    def param_decl(
        self, name: Token, value: ast.Value, description: ast.StringLit | None
    ) -> ast.Param:
        return ast.Param(
            name=self._ident(name),
            value=value,
            description=description.value if description else None,
            span=self.here,
        )

    # -- scores

    def score_rules(self, name: Token, description: ast.StringLit | None, *rest: Any) -> ast.Score:
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
            span=self.here,
        )

    def score_formula(
        self, name: Token, description: ast.StringLit | None, formula: ast.Expr
    ) -> ast.Score:
        return ast.Score(
            name=self._ident(name),
            description=description.value if description else None,
            range=None,
            decay=None,
            rules=None,
            formula=formula,
            span=self.here,
        )

    def range_option(self, low: ast.NumberLit, high: ast.NumberLit) -> ast.RangeOption:
        return ast.RangeOption(low=low.value, high=high.value, span=self.here)

    def decay_option(self, percent: Token, every: ast.Duration) -> ast.DecayOption:
        return ast.DecayOption(percent=_number(percent), every=every, span=self.here)

    def when_rule(
        self, points: Token, condition: ast.Expr, label: ast.StringLit | None
    ) -> ast.WhenRule:
        return ast.WhenRule(
            points=_number(str(points).lstrip("+")),
            condition=condition,
            label=label.value if label else None,
            span=self.here,
        )

    def per_rule(
        self,
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
            span=self.here,
        )

    # -- lifecycle

    def stages_block(self, locked: Token | None, *stages: ast.Stage | None) -> ast.Stages:
        return ast.Stages(
            locked=locked is not None,
            stages=tuple(s for s in stages if s is not None),
            span=self.here,
        )

    def stage(
        self, name: Token, description: ast.StringLit | None, condition: ast.Expr | None
    ) -> ast.Stage:
        return ast.Stage(
            name=self._ident(name),
            description=description.value if description else None,
            condition=condition,
            span=self.here,
        )

    def disqualify(self, reason: ast.StringLit, condition: ast.Expr) -> ast.Disqualify:
        return ast.Disqualify(reason=reason.value, condition=condition, span=self.here)

    def recycle(
        self,
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
            span=self.here,
        )

    def route(
        self,
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
            span=self.here,
        )

    # -- examples

    def example(
        self,
        name: ast.StringLit,
        at: ast.DateLit | ast.InstantLit | None,
        *items: ast.ExampleItem | None,
    ) -> ast.Example:
        return ast.Example(
            name=name.value,
            at=at,
            items=tuple(i for i in items if i is not None),
            span=self.here,
        )

    def record(self, *entries: ast.Entry | None) -> tuple[ast.Entry, ...]:
        return tuple(e for e in entries if e is not None)

    def entry(self, name: Token, value: ast.Value) -> ast.Entry:
        return ast.Entry(name=self._ident(name), value=value, span=self.here)

    def example_lead(self, entries: tuple[ast.Entry, ...]) -> ast.ExampleLead:
        return ast.ExampleLead(entries=entries, span=self.here)

    def example_event(
        self,
        name: Token,
        entries: tuple[ast.Entry, ...] | None,
        *times: ast.TimeRef,
    ) -> ast.ExampleEvent:
        return ast.ExampleEvent(
            event=self._ident(name), entries=entries, times=tuple(times), span=self.here
        )

    def ago(self, duration: ast.Duration) -> ast.RelativeTime:
        return ast.RelativeTime(sign=-1, duration=duration, span=self.here)

    def later(self, duration: ast.Duration) -> ast.RelativeTime:
        return ast.RelativeTime(sign=1, duration=duration, span=self.here)

    def expect_stage(self, stage: Token) -> ast.ExpectStage:
        return ast.ExpectStage(stage=self._ident(stage), span=self.here)

    def expect_disqualified(self, reason: ast.StringLit | None) -> ast.ExpectDisqualified:
        return ast.ExpectDisqualified(reason=reason.value if reason else None, span=self.here)

    def expect_score(self, score: Token, op: Token, value: ast.NumberLit) -> ast.ExpectScore:
        return ast.ExpectScore(
            score=self._ident(score),
            op=str(op),  # type: ignore[arg-type]
            value=value.value,
            span=self.here,
        )

    def expect_route(self, queue: Token) -> ast.ExpectRoute:
        return ast.ExpectRoute(queue=self._ident(queue), span=self.here)

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
                value = parsed.astimezone(dt.UTC)
        return ast.InstantLit(value=value, span=span)

    def number(self, token: Token) -> ast.NumberLit:
        return ast.NumberLit(value=_number(token), span=self.here)

    def negative(self, token: Token) -> ast.NumberLit:
        return ast.NumberLit(value=-_number(token), span=self.here)

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

    def count(self, pattern: ast.Pattern) -> ast.Count:
        return self._nest(ast.Count(pattern=pattern, span=self.here), pattern)

    def days_since(self, event: Token, where: ast.Expr | None) -> ast.DaysSince:
        node = ast.DaysSince(event=self._event_name(event), where=where, span=self.here)
        return self._nest(node, where)


# ---------------------------------------------------------------- spans

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

    def __init__(self, builder: AstBuilder) -> None:
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
