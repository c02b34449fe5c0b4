"""Name resolution and typing of expressions (SPEC §5), for the checker.

Inside `where`, names resolve to the event's own fields first, then to lead
fields; a bare name that is no field, param, score or event can only be an
enum member, checked against the enum expected at its position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mqldsl.analysis import types as T
from mqldsl.analysis.model import EventInfo, FieldInfo, ParamInfo, Ref
from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic, error
from mqldsl.language.source import Source, Span
from mqldsl.language.suggestions import did_you_mean

# A duration's unit written alone (`within days`): E101 unless a param is called so.
_UNIT_WORD = re.compile(r"(minute|hour|day|week|month|year)s?")


@dataclass(frozen=True)
class Scope:
    """Where an expression sits, which decides what its names may mean."""

    event: str | None = None  # inside `where` of this event
    in_where: bool = False
    score: str | None = None  # inside the rules of this score
    account: bool = False  # inside an account score (`score NAME on account`, SPEC §9)


TOP = Scope()


class ExpressionChecker(ast.ContextVisitor[Scope, T.Type]):
    """Types expressions (one ``visit_<Kind>`` method each, in the scope
    where they sit); records each node's type and each name's referent."""

    policy: ast.Policy
    source: Source
    diagnostics: list[Diagnostic]
    fields: dict[str, FieldInfo]
    account_fields: dict[str, FieldInfo]
    has_account: bool
    events: dict[str, EventInfo]
    params: dict[str, ParamInfo]
    score_nodes: dict[str, ast.Score]
    stage_names: dict[str, ast.Stage]
    types: dict[int, T.Type]
    refs: dict[int, Ref]
    deps: dict[str, set[str]]
    windows: set[float]
    param_enums: dict[str, set[str]]  # a member param: the members of the enums it meets

    def err(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(error(code, message, span, hint))

    def _all_names(self) -> list[str]:
        return [*self.fields, *self.params, *self.score_nodes, *self.events]

    def _duration(self, duration: ast.Duration) -> None:
        if duration.param is not None:
            self._duration_param(duration, duration.param)
        elif duration.amount <= 0:
            self.err("E314", "a duration must be positive", duration.span, "e.g. `30 days`")

    def _duration_param(self, duration: ast.Duration, name: str) -> None:
        """A duration written as a param's name (SPEC §5.2): the param must be
        a duration param; :mod:`mqldsl.analysis.durations` gave it its value."""
        info = self.params.get(name)
        if info is None and _UNIT_WORD.fullmatch(name):
            # `within days`: a unit without its number (no param is called so)
            self.err(
                "E101",
                f"expected a duration such as `30 days`, found `{name}`",
                duration.span,
                f"a duration is a number and a unit: write `30 {name}`",
            )
            return
        if info is None:
            lengths = [n for n, p in self.params.items() if p.type == T.DURATION]
            self.err(
                "E204",
                f"unknown param `{name}`: a duration is a number and a unit, or a duration "
                "param's name",
                duration.span,
                did_you_mean(name, lengths or self.params)
                or f"e.g. `30 days`, or declare `param {name} = 30 days`",
            )
            return
        self.refs[id(duration)] = Ref("param", name)
        if info.type != T.DURATION and info.type.kind != "error":
            self.err(
                "E317",
                f"param `{name}` holds {T.noun(info.type)}, not a duration",
                duration.span,
                f"declare it as a duration, e.g. `param {name} = 30 days`",
            )

    def _condition(self, node: ast.Expr, scope: Scope) -> None:
        kind = self._expr(node, scope)
        if kind.kind not in ("bool", "error"):
            self._not_a_condition(node, kind)

    def _not_a_condition(self, node: ast.Expr, kind: T.Type) -> None:
        hint = "compare it, e.g. `fit >= 30`" if kind.is_numeric else None
        self.err(
            "E306", f"this is {T.noun(kind)}, not a condition (true or false)", node.span, hint
        )

    def _value(
        self,
        node: ast.Expr,
        scope: Scope,
        expected: T.Type | None = None,
        allow_member: bool = False,
    ) -> T.Type:
        """An operand: like _expr, but an unresolved bare name is checked
        against ``expected`` (an enum), left for the caller (``allow_member``),
        or reported as unknown."""
        if isinstance(node, ast.Name):
            kind = self._name(node, scope, expected)
            if self._unresolved(node) and not allow_member:
                return self._unknown_name(node, scope, expected)
            return kind
        return self._expr(node, scope)

    def _unresolved(self, node: ast.Expr) -> bool:
        ref = self.refs.get(id(node))
        return (
            isinstance(node, ast.Name)
            and ref is not None
            and ref.kind == "member"
            and self.types.get(id(node), T.ERROR).kind == "member"
        )

    def _unknown_name(self, node: ast.Name, scope: Scope, expected: T.Type | None) -> T.Type:
        candidates = self._all_names()
        if scope.event is not None and scope.event in self.events:
            candidates += list(self.events[scope.event].fields)
        hint = did_you_mean(node.name, candidates)
        owners = [name for name, info in self.events.items() if node.name in info.fields]
        if hint is None and owners:  # an event's field outside its pattern
            hint = (
                f"`{node.name}` is a field of the event `{owners[0]}`: test it in a pattern, "
                f"`{owners[0]} where {node.name} ...`"
            )
        if hint is None and expected is not None and expected.kind == "text":
            hint = f'to compare with text, write it in quotes: "{node.name}"'
        self.err("E201", f"unknown name `{node.name}`", node.span, hint)
        self.types[id(node)] = T.ERROR
        return T.ERROR

    def _name(self, node: ast.Name, scope: Scope, expected: T.Type | None = None) -> T.Type:
        name = node.name
        kind: T.Type
        if expected is not None and expected.kind == "enum" and name in expected.members:
            self.refs[id(node)] = Ref("member", name)
            kind = expected
        elif scope.event is not None and name in self._event_fields(scope.event):
            self.refs[id(node)] = Ref("event_field", name, scope.event)
            kind = self._event_fields(scope.event)[name].type
        elif scope.account and not scope.in_where and name in self.account_fields:
            # In an account score a bare name is first an account field (SPEC §9).
            self.refs[id(node)] = Ref("account_field", name)
            kind = self.account_fields[name].type
        elif scope.account and not scope.in_where and name in self.fields:
            self.err(
                "E243",
                f"`{name}` is a lead field: an account score speaks of the whole account",
                node.span,
                f"test it on the contacts' events, e.g. `count(distinct contact with event "
                f"where {name} ...)`",
            )
            kind = T.ERROR
        elif name in self.fields:
            self.refs[id(node)] = Ref("field", name)
            kind = self.fields[name].type
        elif name in self.params and self.params[name].type == T.DURATION:
            self.refs[id(node)] = Ref("param", name)
            self.err(
                "E317",
                f"`{name}` is a duration param; it stands only where a duration is written",
                node.span,
                f"write it after `within`, `every` or `sla`, e.g. `within {name}`",
            )
            kind = T.ERROR
        elif name in self.params:
            self.refs[id(node)] = Ref("param", name)
            kind = self.params[name].type
        elif name in self.score_nodes and scope.in_where:
            self.err(
                "E209",
                f"`{name}` is a score; a `where` condition speaks of one event and the "
                "lead's fields",
                node.span,
                "compare the score outside the pattern, joined with `and`",
            )
            kind = T.ERROR
        elif name in self.score_nodes and scope.account and not self.score_nodes[name].on_account:
            self.err(
                "E240",
                f"`{name}` is a lead score: it belongs to one contact, so an account score "
                "cannot read it",
                node.span,
                "read account fields, params and other account scores here",
            )
            kind = T.ERROR
        elif name in self.score_nodes and not scope.account and self.score_nodes[name].on_account:
            self.err(
                "E242",
                f"`{name}` is an account score: write `account.{name}`",
                node.span,
                f"`account.{name}` reads the score of the lead's account",
            )
            kind = T.ERROR
        elif name in self.score_nodes:
            self.refs[id(node)] = Ref("score", name)
            if scope.score is not None:
                self.deps.setdefault(scope.score, set()).add(name)
            kind = T.NUMBER
        elif name in self.events:
            if scope.in_where:
                self.err(
                    "E316",
                    f"`{name}` is an event: a `where` condition speaks of one event and the lead",
                    node.span,
                    "test other events outside the pattern, joined with `and`",
                )
                kind = T.ERROR
            else:
                self.refs[id(node)] = Ref("event", name)
                kind = T.BOOL
        elif name in self.stage_names:
            self.err(
                "E209",
                f"`{name}` is a stage; a condition cannot test a stage",
                node.span,
                "test the scores or events that the stage's own condition uses",
            )
            kind = T.ERROR
        elif expected is not None and expected.kind == "enum":
            self.err(
                "E207",
                f"`{name}` is not a member of {expected}",
                node.span,
                did_you_mean(name, expected.members)
                or f"the members are {', '.join(expected.members)}",
            )
            kind = T.ERROR
        else:
            self.refs[id(node)] = Ref("member", name)
            kind = T.member(name)
        self.types[id(node)] = kind
        return kind

    def _event_fields(self, event: str) -> dict[str, FieldInfo]:
        info = self.events.get(event)
        return info.fields if info else {}

    def _no_event_operand(self, node: ast.Expr) -> None:
        if isinstance(node, ast.Name) and self.refs.get(id(node), Ref("field", "")).kind == "event":
            self.err(
                "E209",
                f"`{node.name}` is an event, not a value",
                node.span,
                f"to test for it write `{node.name} ever` or `{node.name} within 30 days`; "
                f"to count it, `count({node.name})`",
            )

    def _operand(
        self,
        node: ast.Expr,
        scope: Scope,
        expected: T.Type | None = None,
        allow_member: bool = False,
    ) -> T.Type:
        kind = self._value(node, scope, expected, allow_member)
        self._no_event_operand(node)
        return kind

    def _expr(self, node: ast.Expr, scope: Scope) -> T.Type:
        kind = self.visit(node, scope)
        self.types[id(node)] = kind
        return kind

    # ------------------------------------------------------------ one method per kind

    def visit_NumberLit(self, node: ast.NumberLit, scope: Scope) -> T.Type:
        return T.INT if isinstance(node.value, int) else T.NUMBER

    def visit_StringLit(self, node: ast.StringLit, scope: Scope) -> T.Type:
        return T.TEXT

    def visit_BoolLit(self, node: ast.BoolLit, scope: Scope) -> T.Type:
        return T.BOOL

    def visit_DateLit(self, node: ast.DateLit, scope: Scope) -> T.Type:
        return T.DATE

    def visit_InstantLit(self, node: ast.InstantLit, scope: Scope) -> T.Type:
        return T.INSTANT

    def visit_ListLit(self, node: ast.ListLit, scope: Scope) -> T.Type:
        # A list outside `in`: its names can only be enum members.
        elements = [self._operand(i, scope, allow_member=True) for i in node.items]
        return T.Type("list", element=elements[0] if elements else T.ERROR)

    def visit_Name(self, node: ast.Name, scope: Scope) -> T.Type:
        kind = self._name(node, scope)
        if kind.kind == "member":
            return self._unknown_name(node, scope, None)
        return kind

    def visit_AccountRef(self, node: ast.AccountRef, scope: Scope) -> T.Type:
        return self._account(node, scope)

    def visit_Not(self, node: ast.Not, scope: Scope) -> T.Type:
        self._condition(node.operand, scope)
        return T.BOOL

    def visit_And(self, node: ast.And | ast.Or, scope: Scope) -> T.Type:
        for operand in node.operands:
            self._condition(operand, scope)
        return T.BOOL

    visit_Or = visit_And

    def visit_Presence(self, node: ast.Presence, scope: Scope) -> T.Type:
        operand = node.operand
        if isinstance(operand, ast.Name):
            self._name(operand, scope)
            ref = self.refs.get(id(operand))
            if ref is None or ref.kind not in ("field", "event_field", "account_field"):
                self.err(
                    "E315",
                    f"`is {'missing' if node.missing else 'present'}` tests a field of the "
                    "lead, an account or an event",
                    operand.span,
                    f"`{operand.name}` is not a field",
                )
        elif isinstance(operand, ast.AccountRef):
            self._account(operand, scope)
        else:
            self._expr(operand, scope)
            self.err(
                "E315",
                f"`is {'missing' if node.missing else 'present'}` tests a field, not an expression",
                operand.span,
            )
        return T.BOOL

    def visit_Arith(self, node: ast.Arith, scope: Scope) -> T.Type:
        left = self._operand(node.left, scope)
        right = self._operand(node.right, scope)
        for side, kind in ((node.left, left), (node.right, right)):
            if not kind.is_numeric and kind.kind != "error":
                self.err("E305", f"`{node.op}` needs numbers; this is {T.noun(kind)}", side.span)
                return T.ERROR
        return T.NUMBER if node.op == "/" else T.numeric_join(left, right)

    def visit_Unary(self, node: ast.Unary, scope: Scope) -> T.Type:
        kind = self._operand(node.operand, scope)
        if not kind.is_numeric and kind.kind != "error":
            self.err("E305", f"`-` needs a number; this is {T.noun(kind)}", node.operand.span)
            return T.ERROR
        return kind

    def visit_Pattern(self, node: ast.Pattern, scope: Scope) -> T.Type:
        self._pattern(node, scope)
        return T.BOOL

    def visit_NoEvents(self, node: ast.NoEvents, scope: Scope) -> T.Type:
        if self._other_events_in_where("`no ...`", node.span, scope):
            return T.ERROR
        self._pattern(node.pattern, scope)
        self.types[id(node.pattern)] = T.BOOL
        return T.BOOL

    def _other_events_in_where(self, form: str, span: Span, scope: Scope) -> bool:
        """E316 for a test of other events (``form``) inside a `where` condition (True when
        reported)."""
        if scope.in_where:
            self.err(
                "E316",
                f"a `where` condition speaks of one event and the lead: it cannot hold {form}",
                span,
                "test other events outside the pattern, joined with `and`",
            )
        return scope.in_where

    def _counted_in_where(self, node: ast.Count | ast.ContactCount, scope: Scope) -> bool:
        """E316 for `count(...)` inside a `where` condition (True when reported)."""
        if scope.in_where:
            self.err(
                "E316",
                "a `where` condition speaks of one event and the lead: it cannot hold `count(...)`",
                node.span,
                "compare the count outside the pattern, joined with `and`",
            )
        return scope.in_where

    def visit_Count(self, node: ast.Count, scope: Scope) -> T.Type:
        if self._counted_in_where(node, scope):
            return T.ERROR
        self._pattern(node.pattern, scope)
        self.types[id(node.pattern)] = T.BOOL
        return T.INT

    def visit_Aggregate(self, node: ast.Aggregate, scope: Scope) -> T.Type:
        """`sum/max/min/avg(EVENT.FIELD ...)`: EVENT a declared event (not the word `event`:
        a field is declared per event type), FIELD one of its int or number fields."""
        pattern = node.pattern
        if scope.in_where:
            self.err(
                "E316",
                "a `where` condition speaks of one event and the lead: "
                f"it cannot hold `{node.function}(...)`",
                node.span,
                "compare the total outside the pattern, joined with `and`",
            )
            return T.ERROR
        if pattern.event is None:
            having = [
                name
                for name, info in self.events.items()
                if node.field in info.fields and info.fields[node.field].type.is_numeric
            ]
            self.err(
                "E220",
                f"`{node.function}(event.{node.field})` needs one event type: a field is "
                "declared per event",
                node.span,
                f"write `{node.function}({having[0]}.{node.field})`"
                if having
                else f"name an event that declares `{node.field}`",
            )
            return T.ERROR
        self._pattern(pattern, scope)
        if pattern.event not in self.events:
            return T.ERROR  # reported by _pattern (E202, E209)
        fields = self.events[pattern.event].fields
        info = fields.get(node.field)
        span = self._field_span(pattern.event, node.field, node.span)
        if info is None:
            numeric = [name for name, f in fields.items() if f.type.is_numeric]
            self.err(
                "E203",
                f"unknown field `{node.field}` of event `{pattern.event}`",
                span,
                did_you_mean(node.field, fields)
                or (
                    f"its numeric fields are {', '.join(numeric)}"
                    if numeric
                    else f"`{pattern.event}` declares no int or number field"
                ),
            )
            return T.ERROR
        if not info.type.is_numeric:
            self.err(
                "E320",
                f"`{node.function}` needs a numeric field: `{pattern.event}.{node.field}` is "
                f"{T.noun(info.type)}",
                span,
                "aggregate an int or number field; to count the events, write "
                f"`count({pattern.event})`",
            )
            return T.ERROR
        if node.function == "avg":
            return T.NUMBER
        if node.function == "sum":
            return T.INT if info.type.kind == "int" else T.NUMBER
        return info.type  # max, min

    def _field_span(self, event: str, name: str, span: Span) -> Span:
        """The span of the field in `EVENT.FIELD` (the whole ``span`` if it is not found)."""
        found = self._name_span(f"{event}.{name}", span)
        if found is span:
            return span
        start = found.column + len(event) + 1
        return Span(found.file, found.line, start, found.line, start + len(name))

    def visit_ContactCount(self, node: ast.ContactCount, scope: Scope) -> T.Type:
        if self._counted_in_where(node, scope):
            return T.ERROR
        self._contact_allowed(node.span, scope)
        self._pattern(node.pattern, scope)
        self.types[id(node.pattern)] = T.BOOL
        return T.INT

    def _contact_allowed(self, span: Span, scope: Scope) -> None:
        """E241 for `distinct contact` / `per contact` outside an account score."""
        if not scope.account:
            self.err(
                "E241",
                "`contact` counts the leads of an account: it belongs in an account score",
                span,
                "declare the score with `score NAME on account { ... }` and read it in lead "
                "rules as `account.NAME`",
            )

    def visit_DaysSince(self, node: ast.DaysSince, scope: Scope) -> T.Type:
        if self._other_events_in_where("`days since`", node.span, scope):
            return T.ERROR
        self._event_pattern(node.event, node.where, node.span, scope)
        return T.NUMBER

    def _account(self, node: ast.AccountRef, scope: Scope = TOP) -> T.Type:
        score = self.score_nodes.get(node.field)
        if score is not None and score.on_account and node.field not in self.account_fields:
            if scope.in_where:
                self.err(
                    "E209",
                    f"`account.{node.field}` is a score; a `where` condition speaks of one event "
                    "and the lead's fields",
                    node.span,
                    "compare the score outside the pattern, joined with `and`",
                )
                return T.ERROR
            self.refs[id(node)] = Ref("score", node.field)
            if scope.score is not None:
                self.deps.setdefault(scope.score, set()).add(node.field)
            return T.NUMBER
        if not self.has_account:
            self.err(
                "E214",
                f"`account.{node.field}` needs an `account {{ ... }}` block",
                node.span,
                "declare the account fields first",
            )
            return T.ERROR
        info = self.account_fields.get(node.field)
        if info is None:
            account_scores = [n for n, s in self.score_nodes.items() if s.on_account]
            self.err(
                "E214",
                f"unknown account field `{node.field}`"
                + (" or account score" if account_scores else ""),
                node.span,
                did_you_mean(node.field, [*self.account_fields, *account_scores]),
            )
            return T.ERROR
        self.refs[id(node)] = Ref("account_field", node.field)
        return info.type

    def _pattern(self, node: ast.Pattern, scope: Scope) -> None:
        self._event_pattern(node.event, node.where, node.span, scope)
        if isinstance(node.window, ast.Duration):
            self._duration(node.window)
            self.windows.add(node.window.seconds)
        self.types[id(node)] = T.BOOL

    def _name_span(self, name: str, span: Span) -> Span:
        """The span of ``name`` where it first appears in ``span``'s first line."""
        line = self.source.line_text(span.line)
        index = line.find(name, span.column - 1)
        if index < 0:
            return span
        return Span(span.file, span.line, index + 1, span.line, index + 1 + len(name))

    def _event_pattern(
        self, event: str | None, where: ast.Expr | None, span: Span, scope: Scope
    ) -> None:
        if scope.in_where:
            self.err(
                "E316",
                "a `where` condition speaks of one event and the lead: "
                "it cannot hold an event pattern",
                span,
            )
            return
        if event is not None and event not in self.events:
            span = self._name_span(event, span)
            hint = did_you_mean(event, self.events)
            if event in self.fields or event in self.params or event in self.score_nodes:
                self.err(
                    "E209",
                    f"`{event}` is not an event",
                    span,
                    hint or "patterns match declared events",
                )
            else:
                self.err(
                    "E202", f"unknown event `{event}`", span, hint or "declare it with `event NAME`"
                )
            return
        if where is not None:
            inner = Scope(event=event, in_where=True, score=scope.score, account=scope.account)
            self._condition(where, inner)

    def visit_Compare(self, node: ast.Compare, scope: Scope) -> T.Type:
        left = self._operand(node.left, scope, allow_member=True)
        # A bare name on one side is resolved against the other side's enum.
        right = self._operand(
            node.right, scope, left if left.kind == "enum" else None, allow_member=True
        )
        if self._unresolved(node.left):
            if right.kind == "enum":
                left = self._member_against(node.left, right)
            else:
                return self._unknown_name(node.left, scope, right)  # type: ignore[arg-type]
        if self._unresolved(node.right):
            if left.kind == "error":
                return T.ERROR
            return self._unknown_name(node.right, scope, left)  # type: ignore[arg-type]
        for side, other in ((node.left, right), (node.right, left)):
            if other.kind == "enum":
                self._param_member(side, other)
        if left.kind == "error" or right.kind == "error":
            return T.BOOL
        if left.kind == "member" or right.kind == "member":
            # A member-valued param meets an enum (checked above) or another name; anything
            # else (a number, text, a date) can never equal a name and cannot be ordered.
            if {left.kind, right.kind} <= {"member", "enum"} and node.op in ("==", "!="):
                return T.BOOL
            self.err(
                "E301",
                f"cannot {'compare' if node.op in ('==', '!=') else 'order'} {T.noun(left)} "
                f"and {T.noun(right)} with `{node.op}`",
                node.span,
                "a param holding a bare name is an enum member: compare it with `==`, `!=` "
                "or `in` against an enum field",
            )
            return T.BOOL
        if node.op in ("<", "<=", ">", ">="):
            if not (T.ordered(left) and T.ordered(right) and T.comparable(left, right)):
                self.err(
                    "E301",
                    f"cannot order {T.noun(left)} and {T.noun(right)} with `{node.op}`",
                    node.span,
                    "`<`, `<=`, `>`, `>=` compare numbers or dates",
                )
        elif not T.comparable(left, right):
            hint = None
            if {left.kind, right.kind} == {"enum", "text"}:
                hint = "enum members are written without quotes"
            self.err("E301", f"cannot compare {T.noun(left)} with {T.noun(right)}", node.span, hint)
        return T.BOOL

    def _param_member(self, node: ast.Expr, enum: T.Type) -> None:
        """A param holding an enum member, compared with an enum."""
        if not isinstance(node, ast.Name) or node.name not in self.params:
            return
        info = self.params[node.name]
        if info.type.kind == "member":
            self.param_enums.setdefault(node.name, set()).update(enum.members)
        if info.type.kind == "member" and info.value not in enum.members:
            self.err(
                "E207",
                f"param `{node.name}` is `{info.value}`, which is not a member of {enum}",
                node.span,
                did_you_mean(str(info.value), enum.members),
            )

    def _member_against(self, node: ast.Expr, enum: T.Type) -> T.Type:
        assert isinstance(node, ast.Name)
        if node.name in enum.members:
            self.refs[id(node)] = Ref("member", node.name)
            self.types[id(node)] = enum
            return enum
        self.err(
            "E207",
            f"`{node.name}` is not a member of {enum}",
            node.span,
            did_you_mean(node.name, enum.members) or f"the members are {', '.join(enum.members)}",
        )
        self.types[id(node)] = T.ERROR
        return T.ERROR

    def visit_Between(self, node: ast.Between, scope: Scope) -> T.Type:
        kinds = [self._operand(part, scope) for part in (node.operand, node.low, node.high)]
        if any(k.kind == "error" for k in kinds):
            return T.BOOL
        if not all(T.ordered(k) for k in kinds) or not (
            T.comparable(kinds[0], kinds[1]) and T.comparable(kinds[0], kinds[2])
        ):
            self.err(
                "E302",
                f"`between` needs numbers or dates; here: {', '.join(T.noun(k) for k in kinds)}",
                node.span,
            )
        return T.BOOL

    def visit_Membership(self, node: ast.Membership, scope: Scope) -> T.Type:
        operand = self._operand(node.operand, scope)
        collection = node.collection
        if operand.kind == "error":
            return T.BOOL
        if operand.kind in ("set", "list"):
            self.err(
                "E303",
                f"`in` tests one value; this is {T.noun(operand)}",
                node.operand.span,
                "to test whether a set holds a value, write `SET contains VALUE`",
            )
            return T.BOOL
        if isinstance(collection, ast.ListLit):
            for item in collection.items:
                enum = operand if operand.kind == "enum" else None
                kind = self._operand(item, scope, enum)
                if enum is not None:
                    self._param_member(item, enum)
                if kind.kind != "error" and not T.comparable(operand, kind):
                    self.err(
                        "E303", f"{T.noun(operand)} is never equal to {T.noun(kind)}", item.span
                    )
            self.types[id(collection)] = T.Type("list", element=operand)
            return T.BOOL
        kind = self._operand(collection, scope)
        if kind.kind == "error":
            return T.BOOL
        if kind.kind not in ("set", "list"):
            self.err(
                "E303",
                f"`in` needs a list such as `[a, b]` or a set; this is {T.noun(kind)}",
                collection.span,
            )
            return T.BOOL
        element = kind.element or T.ERROR
        if element.kind == "member" and operand.kind == "enum":
            self._members_in(collection, operand)
        elif element.kind == "member" and operand.kind != "member":
            self.err(
                "E303",
                f"{T.noun(operand)} is never in {T.noun(kind)}",
                node.span,
                "a list of bare names holds enum members: test an enum field with `in`",
            )
        elif element.kind != "member" and not T.comparable(operand, element):
            self.err("E303", f"{T.noun(operand)} is never in {T.noun(kind)}", node.span)
        return T.BOOL

    def _members_in(self, collection: ast.Expr, enum: T.Type) -> None:
        if isinstance(collection, ast.Name) and collection.name in self.params:
            self.param_enums.setdefault(collection.name, set()).update(enum.members)
            value = self.params[collection.name].value
            if isinstance(value, tuple):
                for member in value:
                    if isinstance(member, str) and member not in enum.members:
                        self.err(
                            "E207",
                            f"`{member}` in param `{collection.name}` is not a member of {enum}",
                            collection.span,
                            did_you_mean(member, enum.members),
                        )

    def visit_TextTest(self, node: ast.TextTest, scope: Scope) -> T.Type:
        operand = self._operand(node.operand, scope)
        if operand.kind == "error":
            self._expr(node.value, scope)
            return T.BOOL
        if node.op == "contains" and operand.kind == "set":
            element = operand.element or T.ERROR
            value = self._operand(node.value, scope, element)
            if value.kind not in ("error", "member") and not T.comparable(element, value):
                hint = "enum members are written without quotes" if element.kind == "enum" else None
                self.err(
                    "E304",
                    f"{T.noun(operand)} never contains {T.noun(value)}",
                    node.value.span,
                    hint,
                )
            return T.BOOL
        value = self._operand(node.value, scope)
        if operand.kind != "text":
            what = "a set or a text" if node.op == "contains" else "a text"
            self.err(
                "E304", f"`{node.op}` needs {what}; this is {T.noun(operand)}", node.operand.span
            )
        elif value.kind not in ("text", "error"):
            self.err(
                "E304", f"`{node.op}` needs a text value; this is {T.noun(value)}", node.value.span
            )
        return T.BOOL
