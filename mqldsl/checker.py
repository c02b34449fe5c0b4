"""The checker: resolves every name, types every expression and checks the
structure of a policy (SPEC §3-§11). It reports every problem it can find
(E2xx names, E3xx types, E4xx structure) and, through :mod:`mqldsl.lints`,
the W5xx warnings; on success it returns the :class:`CheckedPolicy` that all
back ends read.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import ast
from . import types as T
from .diagnostics import Diagnostic, error, sort_diagnostics
from .model import (
    Bounds,
    CheckedPolicy,
    EventInfo,
    FieldInfo,
    ParamInfo,
    Ref,
    ScoreInfo,
)
from .parser import ParseResult, parse_file, parse_source
from .source import Source, Span

_ONE_ONLY: dict[type, str] = {
    ast.PolicyTitle: "policy",
    ast.Version: "version",
    ast.Owner: "owner",
    ast.Effective: "effective",
    ast.About: "about",
    ast.LeadBlock: "lead",
    ast.AccountBlock: "account",
}


@dataclass(frozen=True)
class CheckResult:
    source: Source
    policy: ast.Policy | None
    model: CheckedPolicy | None
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return self.model is not None


def check_file(path: str | Path) -> CheckResult:
    return _checked(parse_file(path))


def check_source(source: Source) -> CheckResult:
    return _checked(parse_source(source))


def check_text(text: str, name: str = "<policy>") -> CheckResult:
    return check_source(Source(name, text))


def _checked(parsed: ParseResult) -> CheckResult:
    if parsed.policy is None:
        return CheckResult(parsed.source, None, None, sort_diagnostics(parsed.diagnostics))
    model, diagnostics = check_policy(parsed.policy, parsed.source)
    return CheckResult(
        parsed.source, parsed.policy, model, sort_diagnostics([*parsed.diagnostics, *diagnostics])
    )


def check_policy(
    policy: ast.Policy, source: Source
) -> tuple[CheckedPolicy | None, list[Diagnostic]]:
    """Check a parsed policy. The model is None when there is an error."""
    from .lints import lint, suppress

    checker = _Checker(policy, source)
    model = checker.run()
    diagnostics = checker.diagnostics
    if model is not None:
        diagnostics = diagnostics + lint(model)
    diagnostics = suppress(diagnostics, policy.comments)
    if any(d.is_error for d in diagnostics):
        return None, diagnostics
    return model, diagnostics


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


@dataclass(frozen=True)
class _Scope:
    event: str | None = None  # inside `where` of this event
    in_where: bool = False
    score: str | None = None  # inside the rules of this score


_TOP = _Scope()


class _Checker:
    def __init__(self, policy: ast.Policy, source: Source) -> None:
        self.policy = policy
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.fields: dict[str, FieldInfo] = {}
        self.account_fields: dict[str, FieldInfo] = {}
        self.has_account = False
        self.events: dict[str, EventInfo] = {}
        self.params: dict[str, ParamInfo] = {}
        self.score_nodes: dict[str, ast.Score] = {}
        self.stage_names: dict[str, ast.Stage] = {}
        self.types: dict[int, T.Type] = {}
        self.refs: dict[int, Ref] = {}
        self.deps: dict[str, set[str]] = {}
        self.windows: set[float] = set()

    # ------------------------------------------------------------ helpers

    def err(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(error(code, message, span, hint))

    def _all_names(self) -> list[str]:
        return [*self.fields, *self.params, *self.score_nodes, *self.events]

    # ------------------------------------------------------------ run

    def run(self) -> CheckedPolicy | None:
        items = self.policy.items
        self._one_only(items)
        self._declare_fields(items)
        self._declare_events(items)
        self._declare_params(items)
        self._declare_scores(items)
        stages = self._declare_stages(items)
        self._check_scores()
        order = self._score_order()
        disqualifiers = tuple(self.policy.of_type(ast.Disqualify))
        for d in disqualifiers:
            self._condition(d.condition, _TOP)
        recycles = tuple(self.policy.of_type(ast.Recycle))
        routes = tuple(self.policy.of_type(ast.Route))
        if stages is not None:
            self._check_recycles(stages, recycles)
            self._check_routes(routes)
        examples = tuple(self.policy.of_type(ast.Example))
        self._check_examples(examples, disqualifiers, routes)
        if any(d.is_error for d in self.diagnostics) or stages is None or order is None:
            return None
        from .lints import score_bounds

        header = self.policy
        version = header.first(ast.Version)
        owner = header.first(ast.Owner)
        effective = header.first(ast.Effective)
        about = header.first(ast.About)
        model = CheckedPolicy(
            policy=self.policy,
            source=self.source,
            title=self.policy.title,
            version=version.number if version else None,
            owner=owner.owner if owner else None,
            effective=effective.date if effective else None,
            about=about.text if about else None,
            fields=self.fields,
            account_fields=self.account_fields,
            events=self.events,
            params=self.params,
            scores={},
            score_order=order,
            stages=stages,
            disqualifiers=disqualifiers,
            recycles=recycles,
            routes=routes,
            examples=examples,
            windows=tuple(sorted(self.windows)),
            types=self.types,
            refs=self.refs,
        )
        bounds: dict[str, Bounds] = {}
        for name in order:
            node = self.score_nodes[name]
            bounds[name] = score_bounds(model, node, bounds)
            model.scores[name] = ScoreInfo(
                name=name,
                node=node,
                depends_on=tuple(sorted(self.deps.get(name, ()))),
                bounds=bounds[name],
            )
        model.scores = {name: model.scores[name] for name in self.score_nodes}
        return model

    # ------------------------------------------------------------ declarations

    def _one_only(self, items: Sequence[ast.Item]) -> None:
        first: dict[type, ast.Item] = {}
        for item in items:
            kind = type(item)
            if kind in _ONE_ONLY:
                if kind in first:
                    self.err(
                        "E213",
                        f"`{_ONE_ONLY[kind]}` is declared twice",
                        item.span,
                        f"the first is on line {first[kind].span.line}; keep one",
                    )
                else:
                    first[kind] = item

    def _field_table(
        self, decls: Sequence[ast.FieldDecl], what: str
    ) -> dict[str, FieldInfo]:
        table: dict[str, FieldInfo] = {}
        for decl in decls:
            if decl.name in table:
                self.err(
                    "E208",
                    f"{what} `{decl.name}` is declared twice",
                    decl.span,
                    f"the first is on line {table[decl.name].node.span.line}",
                )
                continue
            self._check_type(decl.type)
            table[decl.name] = FieldInfo(decl.name, T.from_ast(decl.type), decl.description, decl)
        return table

    def _check_type(self, node: ast.TypeExpr) -> None:
        if isinstance(node, ast.EnumType):
            seen: set[str] = set()
            for name in node.members:
                if name in seen:
                    self.err("E208", f"enum member `{name}` is listed twice", node.span)
                seen.add(name)
        elif isinstance(node, ast.SetType):
            element = node.element
            if not (
                isinstance(element, ast.EnumType)
                or (isinstance(element, ast.SimpleType) and element.name == "text")
            ):
                self.err(
                    "E301",
                    f"`set of {_type_text(element)}` is not supported",
                    node.span,
                    "sets hold text or enum members: write `set of text` or `set of enum(...)`",
                )
            self._check_type(element)

    def _declare_fields(self, items: Sequence[ast.Item]) -> None:
        lead = next((i for i in items if isinstance(i, ast.LeadBlock)), None)
        if lead is not None:
            self.fields = self._field_table(lead.fields, "lead field")
        account = next((i for i in items if isinstance(i, ast.AccountBlock)), None)
        if account is not None:
            self.has_account = True
            self.account_fields = self._field_table(account.fields, "account field")

    def _declare_events(self, items: Sequence[ast.Item]) -> None:
        for decl in (i for i in items if isinstance(i, ast.EventDecl)):
            if decl.name in self.events:
                self.err(
                    "E208",
                    f"event `{decl.name}` is declared twice",
                    decl.span,
                    f"the first is on line {self.events[decl.name].node.span.line}",
                )
                continue
            fields = self._field_table(decl.fields or (), f"field of event `{decl.name}`:")
            self.events[decl.name] = EventInfo(decl.name, decl.description, fields, decl)

    def _declare_params(self, items: Sequence[ast.Item]) -> None:
        for decl in (i for i in items if isinstance(i, ast.Param)):
            if decl.name in self.params:
                self.err(
                    "E208",
                    f"param `{decl.name}` is declared twice",
                    decl.span,
                    f"the first is on line {self.params[decl.name].node.span.line}",
                )
                continue
            if decl.name in self.fields:
                self.err(
                    "E208",
                    f"`{decl.name}` is already a lead field; a param needs its own name",
                    decl.span,
                )
                continue
            kind, value = _param_value(decl.value)
            if kind.kind == "error":
                self.err(
                    "E307",
                    "a param's value is a number, text, true/false, a date, an enum member "
                    "or a list of them",
                    decl.value.span,
                )
            self.params[decl.name] = ParamInfo(decl.name, kind, value, decl.description, decl)

    def _declare_scores(self, items: Sequence[ast.Item]) -> None:
        for score in (i for i in items if isinstance(i, ast.Score)):
            name = score.name
            if name in self.score_nodes:
                self.err(
                    "E208",
                    f"score `{name}` is declared twice",
                    score.span,
                    f"the first is on line {self.score_nodes[name].span.line}",
                )
                continue
            for other, kind in ((self.fields, "lead field"), (self.params, "param"), (self.events, "event")):
                if name in other:
                    self.err(
                        "E208",
                        f"`{name}` is already a {kind}; a score needs its own name",
                        score.span,
                    )
            self.score_nodes[name] = score
        for event in self.events:
            if event in self.fields or event in self.params:
                self.err(
                    "E208",
                    f"`{event}` is both an event and a lead field or param",
                    self.events[event].node.span,
                    "give the event another name",
                )

    def _declare_stages(self, items: Sequence[ast.Item]) -> ast.Stages | None:
        blocks = [i for i in items if isinstance(i, ast.Stages)]
        if not blocks:
            span = self.policy.items[0].span if self.policy.items else Span.point(self.source.name, 1, 1)
            self.err(
                "E401",
                "the policy has no `stages` block",
                span,
                "add `stages { visitor ... mql when ... }` listing the funnel in order",
            )
            return None
        for extra in blocks[1:]:
            self.err(
                "E402",
                "a policy has exactly one `stages` block",
                extra.span,
                f"merge it into the block on line {blocks[0].span.line}",
            )
        block = blocks[0]
        if not block.stages:
            self.err("E412", "the `stages` block lists no stage", block.span, "list at least an entry stage")
            return None
        for index, stage in enumerate(block.stages):
            if stage.name in self.stage_names:
                self.err(
                    "E208",
                    f"stage `{stage.name}` is declared twice",
                    stage.span,
                    f"the first is on line {self.stage_names[stage.name].span.line}",
                )
            self.stage_names.setdefault(stage.name, stage)
            if index == 0 and stage.condition is not None:
                self.err(
                    "E403",
                    f"the entry stage `{stage.name}` cannot have a condition",
                    stage.condition.span,
                    "every lead starts in the first stage: list a stage without `when` first",
                )
            elif index > 0 and stage.condition is None:
                self.err(
                    "E404",
                    f"stage `{stage.name}` needs a condition",
                    stage.span,
                    "only the first (entry) stage has no `when`",
                )
            if stage.condition is not None:
                self._condition(stage.condition, _TOP)
        return block

    # ------------------------------------------------------------ scores

    def _check_scores(self) -> None:
        for name, score in self.score_nodes.items():
            self.deps[name] = set()
            scope = _Scope(score=name)
            if score.range is not None and not score.range.low < score.range.high:
                self.err(
                    "E309",
                    f"the range of `{name}` is empty: {_num(score.range.low)} is not below "
                    f"{_num(score.range.high)}",
                    score.range.span,
                    "write `range LOW to HIGH` with LOW < HIGH",
                )
            if score.decay is not None:
                if not 0 < score.decay.percent < 100:
                    self.err(
                        "E310",
                        f"decay must be between 0% and 100% (exclusive), not {_num(score.decay.percent)}%",
                        score.decay.span,
                    )
                self._duration(score.decay.every)
            if score.formula is not None:
                kind = self._expr(score.formula, scope)
                if not kind.is_numeric and kind.kind != "error":
                    self.err(
                        "E313",
                        f"the formula of score `{name}` is {_a(kind)}, not a number",
                        score.formula.span,
                    )
            for rule in score.rules or ():
                if rule.points == 0:
                    self.err("E312", "a rule must give non-zero points", rule.span, "remove the rule or give it points")
                if isinstance(rule, ast.WhenRule):
                    self._condition(rule.condition, scope)
                else:
                    self._pattern(rule.pattern, scope)
                    if rule.max is not None and rule.max <= 0:
                        self.err("E311", "`max` must be positive", rule.span, "write e.g. `, max 20`")

    def _score_order(self) -> tuple[str, ...] | None:
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done
        reported: set[frozenset[str]] = set()
        ok = True

        def visit(name: str, path: list[str]) -> None:
            nonlocal ok
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = path[path.index(name) :] + [name]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    ok = False
                    self.err(
                        "E210",
                        "scores depend on each other in a cycle: " + " -> ".join(cycle),
                        self.score_nodes[cycle[0]].span,
                        "a score may use only scores that do not use it back",
                    )
                return
            state[name] = 1
            for dep in sorted(self.deps.get(name, ())):
                visit(dep, [*path, name])
            state[name] = 2
            order.append(name)

        for name in self.score_nodes:
            visit(name, [])
        return tuple(order) if ok else None

    # ------------------------------------------------------------ expressions

    def _duration(self, duration: ast.Duration) -> None:
        if duration.amount <= 0:
            self.err("E315", "a duration must be positive", duration.span, "e.g. `30 days`")

    def _condition(self, node: ast.Expr, scope: _Scope) -> None:
        kind = self._expr(node, scope)
        if kind.kind not in ("bool", "error"):
            self._not_a_condition(node, kind)

    def _not_a_condition(self, node: ast.Expr, kind: T.Type) -> None:
        hint = "compare it, e.g. `fit >= 30`" if kind.is_numeric else None
        self.err("E306", f"this is {_a(kind)}, not a condition (true or false)", node.span, hint)

    def _value(
        self,
        node: ast.Expr,
        scope: _Scope,
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

    def _unknown_name(self, node: ast.Name, scope: _Scope, expected: T.Type | None) -> T.Type:
        candidates = self._all_names()
        if scope.event is not None and scope.event in self.events:
            candidates += list(self.events[scope.event].fields)
        hint = did_you_mean(node.name, candidates)
        if hint is None and expected is not None and expected.kind == "text":
            hint = f'to compare with text, write it in quotes: "{node.name}"'
        self.err("E201", f"unknown name `{node.name}`", node.span, hint)
        self.types[id(node)] = T.ERROR
        return T.ERROR

    def _name(self, node: ast.Name, scope: _Scope, expected: T.Type | None = None) -> T.Type:
        name = node.name
        kind: T.Type
        if expected is not None and expected.kind == "enum" and name in expected.members:
            self.refs[id(node)] = Ref("member", name)
            kind = expected
        elif scope.event is not None and name in self._event_fields(scope.event):
            self.refs[id(node)] = Ref("event_field", name, scope.event)
            kind = self._event_fields(scope.event)[name].type
        elif name in self.fields:
            self.refs[id(node)] = Ref("field", name)
            kind = self.fields[name].type
        elif name in self.params:
            self.refs[id(node)] = Ref("param", name)
            kind = self.params[name].type
        elif name in self.score_nodes:
            self.refs[id(node)] = Ref("score", name)
            if scope.score is not None:
                self.deps.setdefault(scope.score, set()).add(name)
            kind = T.NUMBER
        elif name in self.events:
            if scope.in_where:
                self.err(
                    "E317",
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
                did_you_mean(name, expected.members) or f"the members are {', '.join(expected.members)}",
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
        scope: _Scope,
        expected: T.Type | None = None,
        allow_member: bool = False,
    ) -> T.Type:
        kind = self._value(node, scope, expected, allow_member)
        self._no_event_operand(node)
        return kind

    def _expr(self, node: ast.Expr, scope: _Scope) -> T.Type:
        kind = self._infer(node, scope)
        self.types[id(node)] = kind
        return kind

    def _infer(self, node: ast.Expr, scope: _Scope) -> T.Type:  # noqa: C901
        if isinstance(node, ast.NumberLit):
            return T.INT if isinstance(node.value, int) else T.NUMBER
        if isinstance(node, ast.StringLit):
            return T.TEXT
        if isinstance(node, ast.BoolLit):
            return T.BOOL
        if isinstance(node, ast.DateLit):
            return T.DATE
        if isinstance(node, ast.InstantLit):
            return T.INSTANT
        if isinstance(node, ast.ListLit):
            # A list outside `in`: its names can only be enum members.
            elements = [self._operand(i, scope, allow_member=True) for i in node.items]
            return T.Type("list", element=elements[0] if elements else T.ERROR)
        if isinstance(node, ast.Name):
            kind = self._name(node, scope)
            if kind.kind == "member":
                return self._unknown_name(node, scope, None)
            return kind
        if isinstance(node, ast.AccountRef):
            return self._account(node)
        if isinstance(node, ast.Not):
            self._condition(node.operand, scope)
            return T.BOOL
        if isinstance(node, ast.And | ast.Or):
            for operand in node.operands:
                self._condition(operand, scope)
            return T.BOOL
        if isinstance(node, ast.Compare):
            return self._compare(node, scope)
        if isinstance(node, ast.Between):
            return self._between(node, scope)
        if isinstance(node, ast.Membership):
            return self._membership(node, scope)
        if isinstance(node, ast.TextTest):
            return self._text_test(node, scope)
        if isinstance(node, ast.Presence):
            operand = node.operand
            if isinstance(operand, ast.Name):
                kind = self._name(operand, scope)
                ref = self.refs.get(id(operand))
                if ref is None or ref.kind not in ("field", "event_field"):
                    self.err(
                        "E316",
                        f"`is {'missing' if node.missing else 'present'}` tests a field of the "
                        "lead, an account or an event",
                        operand.span,
                        f"`{operand.name}` is not a field",
                    )
            elif isinstance(operand, ast.AccountRef):
                self._account(operand)
            else:
                self._expr(operand, scope)
                self.err(
                    "E316",
                    f"`is {'missing' if node.missing else 'present'}` tests a field, not an expression",
                    operand.span,
                )
            return T.BOOL
        if isinstance(node, ast.Arith):
            left = self._operand(node.left, scope)
            right = self._operand(node.right, scope)
            for side, kind in ((node.left, left), (node.right, right)):
                if not kind.is_numeric and kind.kind != "error":
                    self.err("E305", f"`{node.op}` needs numbers; this is {_a(kind)}", side.span)
                    return T.ERROR
            return T.NUMBER if node.op == "/" else T.numeric_join(left, right)
        if isinstance(node, ast.Unary):
            kind = self._operand(node.operand, scope)
            if not kind.is_numeric and kind.kind != "error":
                self.err("E305", f"`-` needs a number; this is {_a(kind)}", node.operand.span)
                return T.ERROR
            return kind
        if isinstance(node, ast.Pattern):
            self._pattern(node, scope)
            return T.BOOL
        if isinstance(node, ast.NoEvents):
            self._pattern(node.pattern, scope)
            self.types[id(node.pattern)] = T.BOOL
            return T.BOOL
        if isinstance(node, ast.Count):
            self._pattern(node.pattern, scope)
            self.types[id(node.pattern)] = T.BOOL
            return T.INT
        if isinstance(node, ast.DaysSince):
            self._event_pattern(node.event, node.where, node.span, scope)
            return T.NUMBER
        raise TypeError(f"unknown node {type(node).__name__}")  # pragma: no cover

    def _account(self, node: ast.AccountRef) -> T.Type:
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
            self.err(
                "E214",
                f"unknown account field `{node.field}`",
                node.span,
                did_you_mean(node.field, self.account_fields),
            )
            return T.ERROR
        self.refs[id(node)] = Ref("account_field", node.field)
        return info.type

    def _pattern(self, node: ast.Pattern, scope: _Scope) -> None:
        self._event_pattern(node.event, node.where, node.span, scope)
        if isinstance(node.window, ast.Duration):
            self._duration(node.window)
            self.windows.add(node.window.seconds)
        self.types[id(node)] = T.BOOL

    def _event_pattern(
        self, event: str | None, where: ast.Expr | None, span: Span, scope: _Scope
    ) -> None:
        if scope.in_where:
            self.err(
                "E317",
                "a `where` condition speaks of one event and the lead: it cannot hold an event pattern",
                span,
            )
            return
        if event is not None and event not in self.events:
            hint = did_you_mean(event, self.events)
            if event in self.fields or event in self.params or event in self.score_nodes:
                self.err("E209", f"`{event}` is not an event", span, hint or "patterns match declared events")
            else:
                self.err("E202", f"unknown event `{event}`", span, hint or "declare it with `event NAME`")
            return
        if where is not None:
            self._condition(where, _Scope(event=event, in_where=True, score=scope.score))

    def _compare(self, node: ast.Compare, scope: _Scope) -> T.Type:
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
            return T.BOOL  # a member-valued param compared with an enum: checked above
        if node.op in ("<", "<=", ">", ">="):
            if not (T.ordered(left) and T.ordered(right) and T.comparable(left, right)):
                self.err(
                    "E301",
                    f"cannot order {_a(left)} and {_a(right)} with `{node.op}`",
                    node.span,
                    "`<`, `<=`, `>`, `>=` compare numbers or dates",
                )
        elif not T.comparable(left, right):
            hint = None
            if {left.kind, right.kind} == {"enum", "text"}:
                hint = "enum members are written without quotes"
            self.err("E301", f"cannot compare {_a(left)} with {_a(right)}", node.span, hint)
        return T.BOOL

    def _param_member(self, node: ast.Expr, enum: T.Type) -> None:
        """A param holding an enum member, compared with an enum."""
        if not isinstance(node, ast.Name) or node.name not in self.params:
            return
        info = self.params[node.name]
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

    def _between(self, node: ast.Between, scope: _Scope) -> T.Type:
        kinds = [self._operand(part, scope) for part in (node.operand, node.low, node.high)]
        if any(k.kind == "error" for k in kinds):
            return T.BOOL
        if not all(T.ordered(k) for k in kinds) or not (
            T.comparable(kinds[0], kinds[1]) and T.comparable(kinds[0], kinds[2])
        ):
            self.err(
                "E302",
                f"`between` needs numbers or dates; here: {', '.join(_a(k) for k in kinds)}",
                node.span,
            )
        return T.BOOL

    def _membership(self, node: ast.Membership, scope: _Scope) -> T.Type:
        operand = self._operand(node.operand, scope)
        collection = node.collection
        if operand.kind == "error":
            return T.BOOL
        if operand.kind in ("set", "list"):
            self.err(
                "E303",
                f"`in` tests one value; this is {_a(operand)}",
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
                    self.err("E303", f"{_a(operand)} is never equal to {_a(kind)}", item.span)
            self.types[id(collection)] = T.Type("list", element=operand)
            return T.BOOL
        kind = self._operand(collection, scope)
        if kind.kind == "error":
            return T.BOOL
        if kind.kind not in ("set", "list"):
            self.err(
                "E303",
                f"`in` needs a list such as `[a, b]` or a set; this is {_a(kind)}",
                collection.span,
            )
            return T.BOOL
        element = kind.element or T.ERROR
        if element.kind == "member" and operand.kind == "enum":
            self._members_in(collection, operand)
        elif element.kind != "member" and not T.comparable(operand, element):
            self.err("E303", f"{_a(operand)} is never in {_a(kind)}", node.span)
        return T.BOOL

    def _members_in(self, collection: ast.Expr, enum: T.Type) -> None:
        if isinstance(collection, ast.Name) and collection.name in self.params:
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

    def _text_test(self, node: ast.TextTest, scope: _Scope) -> T.Type:
        operand = self._operand(node.operand, scope)
        if operand.kind == "error":
            self._expr(node.value, scope)
            return T.BOOL
        if node.op == "contains" and operand.kind == "set":
            element = operand.element or T.ERROR
            value = self._operand(node.value, scope, element)
            if value.kind not in ("error", "member") and not T.comparable(element, value):
                hint = "enum members are written without quotes" if element.kind == "enum" else None
                self.err("E304", f"{_a(operand)} never contains {_a(value)}", node.value.span, hint)
            return T.BOOL
        value = self._operand(node.value, scope)
        if operand.kind != "text":
            what = "a set or a text" if node.op == "contains" else "a text"
            self.err("E304", f"`{node.op}` needs {what}; this is {_a(operand)}", node.operand.span)
        elif value.kind not in ("text", "error"):
            self.err("E304", f"`{node.op}` needs a text value; this is {_a(value)}", node.value.span)
        return T.BOOL

    # ------------------------------------------------------------ lifecycle

    def _check_recycles(self, stages: ast.Stages, recycles: Sequence[ast.Recycle]) -> None:
        order = [s.name for s in stages.stages]
        for recycle in recycles:
            if not stages.locked:
                self.err(
                    "E405",
                    "`recycle` needs `stages locked`",
                    recycle.span,
                    "in flexible stages a lead already falls back when its signals fade; "
                    "write `stages locked { ... }` to lock stages and recycle",
                )
            known = True
            for name in (recycle.from_stage, recycle.to_stage):
                if name not in self.stage_names:
                    known = False
                    self.err("E206", f"unknown stage `{name}`", recycle.span, did_you_mean(name, order))
            if known and order.index(recycle.from_stage) <= order.index(recycle.to_stage):
                self.err(
                    "E406",
                    f"`recycle {recycle.from_stage} to {recycle.to_stage}` must move a lead back "
                    "to an earlier stage",
                    recycle.span,
                    f"stages are in funnel order: {', '.join(order)}",
                )
            self._condition(recycle.condition, _TOP)

    def _check_routes(self, routes: Sequence[ast.Route]) -> None:
        for route in routes:
            if route.stage not in self.stage_names:
                self.err(
                    "E206",
                    f"unknown stage `{route.stage}`",
                    route.span,
                    did_you_mean(route.stage, self.stage_names),
                )
            if route.condition is not None:
                self._condition(route.condition, _TOP)
            if route.sla is not None:
                self._duration(route.sla)

    # ------------------------------------------------------------ examples

    def _check_examples(
        self,
        examples: Sequence[ast.Example],
        disqualifiers: Sequence[ast.Disqualify],
        routes: Sequence[ast.Route],
    ) -> None:
        effective = self.policy.first(ast.Effective)
        names: dict[str, ast.Example] = {}
        reasons = [d.reason for d in disqualifiers]
        queues = [r.queue for r in routes]
        for example in examples:
            if example.name in names:
                self.err(
                    "E208",
                    f'example "{example.name}" is declared twice',
                    example.span,
                    f"the first is on line {names[example.name].span.line}; examples need distinct names",
                )
            names.setdefault(example.name, example)
            at = example_instant(example, effective.date if effective else None)
            if at is None:
                self.err(
                    "E408",
                    f'example "{example.name}" needs `at INSTANT`: the policy has no `effective` date',
                    example.span,
                    'write `example "..." at 2026-12-01T00:00:00Z { ... }` or add `effective DATE`',
                )
            leads = [i for i in example.items if isinstance(i, ast.ExampleLead)]
            for extra in leads[1:]:
                self.err("E208", "an example has one `lead { ... }` record", extra.span)
            for item in example.items:
                if isinstance(item, ast.ExampleLead):
                    self._record(item.entries, self.fields, "lead field")
                elif isinstance(item, ast.ExampleEvent):
                    self._example_event(item, at)
                elif isinstance(item, ast.ExpectStage):
                    if item.stage not in self.stage_names:
                        self.err(
                            "E206",
                            f"unknown stage `{item.stage}`",
                            item.span,
                            did_you_mean(item.stage, self.stage_names)
                            or ("a disqualified lead is tested with `expect disqualified`"
                                if item.stage == "disqualified" else None),
                        )
                elif isinstance(item, ast.ExpectDisqualified):
                    if item.reason is not None and item.reason not in reasons:
                        self.err(
                            "E211",
                            f'no disqualifier has the reason "{item.reason}"',
                            item.span,
                            did_you_mean(item.reason, reasons)
                            or ("the reasons are " + ", ".join(f'"{r}"' for r in reasons) if reasons else None),
                        )
                elif isinstance(item, ast.ExpectScore):
                    if item.score not in self.score_nodes:
                        self.err(
                            "E205",
                            f"unknown score `{item.score}`",
                            item.span,
                            did_you_mean(item.score, self.score_nodes),
                        )
                elif isinstance(item, ast.ExpectRoute) and item.queue not in queues:
                    self.err(
                        "E212",
                        f"no route sends leads to the queue `{item.queue}`",
                        item.span,
                        did_you_mean(item.queue, queues),
                    )

    def _example_event(self, item: ast.ExampleEvent, at: dt.datetime | None) -> None:
        info = self.events.get(item.event)
        if info is None:
            self.err(
                "E202",
                f"unknown event `{item.event}`",
                item.span,
                did_you_mean(item.event, self.events) or "declare it with `event NAME`",
            )
            return
        if item.entries is not None:
            self._record(item.entries, info.fields, f"field of event `{item.event}`", event=item.event)
        for time in item.times:
            if isinstance(time, ast.RelativeTime):
                self._duration(time.duration)
                if time.sign > 0:
                    self.err(
                        "E410",
                        "this event would happen after the example's instant, so it would be ignored",
                        time.span,
                        f"write `-{time.duration.text()}` for an event before the instant",
                    )
            elif at is not None and _absolute(time) > at:
                self.err(
                    "E410",
                    "this event is after the example's instant, so it would be ignored",
                    time.span,
                    "give the example a later `at`, or the event an earlier time",
                )

    def _record(
        self,
        entries: Sequence[ast.Entry],
        table: dict[str, FieldInfo],
        what: str,
        event: str | None = None,
    ) -> None:
        seen: dict[str, ast.Entry] = {}
        for entry in entries:
            if entry.name in seen:
                self.err("E208", f"`{entry.name}` is given twice", entry.span)
                continue
            seen[entry.name] = entry
            info = table.get(entry.name)
            if info is None:
                code = "E203" if event else "E201"
                self.err(
                    code,
                    f"unknown {what} `{entry.name}`",
                    entry.span,
                    did_you_mean(entry.name, table),
                )
                continue
            problem = value_problem(entry.value, info.type)
            if problem is not None:
                message, hint = problem
                code = "E207" if message.startswith("`") and "member" in message else "E308"
                self.err(code, f"{entry.name}: {message}", entry.value.span, hint)


# ---------------------------------------------------------------- values


def example_instant(example: ast.Example, effective: dt.date | None) -> dt.datetime | None:
    """The instant an example is evaluated at (SPEC §10)."""
    if example.at is None:
        if effective is None:
            return None
        return dt.datetime.combine(effective, dt.time(), tzinfo=dt.UTC)
    return _absolute(example.at)


def _absolute(value: ast.DateLit | ast.InstantLit) -> dt.datetime:
    if isinstance(value, ast.InstantLit):
        return value.value
    return dt.datetime.combine(value.value, dt.time(), tzinfo=dt.UTC)


def value_problem(value: ast.Value, kind: T.Type) -> tuple[str, str | None] | None:
    """Why a written value does not fit a declared type (None when it fits)."""
    if kind.kind == "int":
        if isinstance(value, ast.NumberLit) and isinstance(value.value, int):
            return None
        return "expected a whole number", None
    if kind.kind == "number":
        return None if isinstance(value, ast.NumberLit) else ("expected a number", None)
    if kind.kind == "bool":
        return None if isinstance(value, ast.BoolLit) else ("expected true or false", None)
    if kind.kind == "text":
        if isinstance(value, ast.StringLit):
            return None
        hint = f'write "{value.name}"' if isinstance(value, ast.Name) else None
        return "expected text in double quotes", hint
    if kind.kind == "date":
        return None if isinstance(value, ast.DateLit) else ("expected a date such as 2026-12-01", None)
    if kind.kind == "enum":
        if isinstance(value, ast.Name):
            if value.name in kind.members:
                return None
            return (
                f"`{value.name}` is not a member of {kind}",
                did_you_mean(value.name, kind.members) or f"the members are {', '.join(kind.members)}",
            )
        hint = f"write {value.value} without quotes" if isinstance(value, ast.StringLit) else None
        return f"expected a member of {kind}", hint
    if kind.kind == "set":
        if not isinstance(value, ast.ListLit):
            return "expected a list such as [a, b]", None
        element = kind.element or T.ERROR
        for item in value.items:
            problem = value_problem(item, element)  # type: ignore[arg-type]
            if problem is not None:
                return problem
        return None
    return None


def _param_value(node: ast.Value) -> tuple[T.Type, object]:
    if isinstance(node, ast.NumberLit):
        return (T.INT if isinstance(node.value, int) else T.NUMBER), node.value
    if isinstance(node, ast.StringLit):
        return T.TEXT, node.value
    if isinstance(node, ast.BoolLit):
        return T.BOOL, node.value
    if isinstance(node, ast.DateLit):
        return T.DATE, node.value
    if isinstance(node, ast.Name):
        return T.member(node.name), node.name
    if isinstance(node, ast.ListLit):
        kinds = [_param_value(i) for i in node.items]  # type: ignore[arg-type]
        if any(k.kind in ("error", "list") for k, _ in kinds):
            return T.ERROR, None
        element = kinds[0][0] if kinds else T.ERROR
        if element.kind == "member":
            element = T.Type("member", member=None)
        return T.Type("list", element=element), tuple(v for _, v in kinds)
    return T.ERROR, None


def _a(kind: T.Type) -> str:
    text = str(kind)
    if kind.kind == "member":
        return text
    if kind.kind in ("int", "instant", "enum", "error"):
        return ("an " if text[0] in "aeiou" else "a ") + text
    if kind.kind in ("set", "list"):
        return "a " + text
    return {"number": "a number", "bool": "true/false", "text": "text", "date": "a date"}.get(
        kind.kind, text
    )


def _num(value: ast.Number) -> str:
    from .printer import number

    return number(value)


def _type_text(node: ast.TypeExpr) -> str:
    from .printer import type_expr

    return type_expr(node)
