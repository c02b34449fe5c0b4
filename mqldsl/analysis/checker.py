"""The checker: resolves every name, types every expression and checks the
structure of a policy (SPEC §3-§11). It reports every problem it can find
(E2xx names, E3xx types, E4xx structure) and, through :mod:`mqldsl.analysis.lints`,
the W5xx warnings; on success it returns the :class:`CheckedPolicy` that all
back ends read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mqldsl.analysis import durations
from mqldsl.analysis import types as T
from mqldsl.analysis.calendars import CalendarInfo, check_business_sla, check_calendars
from mqldsl.analysis.examples import ExampleChecker
from mqldsl.analysis.expressions import TOP, Scope
from mqldsl.analysis.lints import late_includes, lint, score_bounds, suppress
from mqldsl.analysis.model import (
    Bounds,
    CheckedPolicy,
    EventInfo,
    FieldInfo,
    ParamInfo,
    Ref,
    ScoreInfo,
)
from mqldsl.analysis.params import param_value
from mqldsl.analysis.reserved import reserved_names
from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic, sort_diagnostics
from mqldsl.language.includes import IncludedFile, Reader, resolve_includes
from mqldsl.language.notation import number, type_expr
from mqldsl.language.parser import (
    ParseResult,
    parse_bytes,
    parse_file,
    parse_source,
    paused_gc,
)
from mqldsl.language.source import Source, Span
from mqldsl.language.suggestions import did_you_mean

__all__ = ["CheckResult", "check_file", "check_policy", "check_source", "check_text"]

_MERGED = (ast.LeadBlock, ast.AccountBlock)

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


# Include errors after which every declaration is still there (an item an included file may not
# hold, such as a route, is left out): the policy is checked on, so that its other problems are
# reported too (SPEC §11).
_INTACT = frozenset({"E116"})


def check_file(path: str | Path, read: Reader | None = None) -> CheckResult:
    """Check the policy at ``path`` with its includes (SPEC §3.1), read from
    the file system relative to it (or by ``read``, a file name -> bytes)."""
    return _checked(parse_file(path), read)


def check_source(source: Source, read: Reader | None = None) -> CheckResult:
    return _checked(parse_source(source), read)


def check_bytes(data: bytes, name: str, read: Reader | None = None) -> CheckResult:
    """Check a policy given as bytes (`check -`: standard input), decoded as a file is;
    its includes are relative to ``name``'s folder (the current one for `<stdin>`)."""
    return _checked(parse_bytes(data, name), read)


def check_text(text: str, name: str = "<policy>", read: Reader | None = None) -> CheckResult:
    """Check a policy's text; its includes are relative to ``name``'s folder
    (the current folder for a name in angle brackets such as `<policy>`)."""
    return check_source(Source(name, text), read)


def _checked(parsed: ParseResult, read: Reader | None = None) -> CheckResult:
    if parsed.policy is None:
        return CheckResult(parsed.source, None, None, sort_diagnostics(parsed.diagnostics))
    resolved = resolve_includes(parsed, read)
    if any(d.is_error and d.code not in _INTACT for d in resolved.diagnostics):
        # A file that cannot be read or parsed: its declarations are missing,
        # so checking names now would only echo the problem.
        found = sort_diagnostics([*parsed.diagnostics, *resolved.diagnostics])
        return CheckResult(resolved.source, resolved.policy, None, found)
    model, diagnostics = check_policy(resolved.policy, resolved.source, resolved.files)
    if model is not None:
        model.own_policy = resolved.own
        late = list(late_includes(resolved.own))
        diagnostics = [*diagnostics, *suppress(late, resolved.own.comments)]
    if any(d.is_error for d in [*parsed.diagnostics, *resolved.diagnostics]):
        # Checked for more errors only (parser.CHECK_AFTER, or E116): no model, and no
        # warnings until the policy is free of errors.
        model = None
        diagnostics = [d for d in diagnostics if d.is_error]
    return CheckResult(
        resolved.source,
        resolved.policy,
        model,
        sort_diagnostics([*parsed.diagnostics, *resolved.diagnostics, *diagnostics]),
    )


def check_policy(
    policy: ast.Policy,
    source: Source,
    includes: Sequence[IncludedFile] = (),
    *,
    lengths: Mapping[str, ast.Duration] | None = None,
) -> tuple[CheckedPolicy | None, list[Diagnostic]]:
    """Check a parsed policy (with its includes merged: ``includes`` are the
    files they read). The model is None when there is an error. ``lengths``
    gives duration params other values than the policy's (SPEC §5.2)."""
    with paused_gc():
        policy = durations.resolve(policy, durations.declared(policy) | dict(lengths or {}))
        checker = _Checker(policy, source)
        model = checker.run()
        diagnostics = checker.diagnostics
        if model is not None:
            model.includes = tuple(includes)
            diagnostics = diagnostics + lint(model)
    comments = {source.name: policy.comments}
    comments.update((file.name, file.policy.comments) for file in includes)
    diagnostics = [
        kept
        for file, found in _by_file(diagnostics).items()
        for kept in suppress(found, comments.get(file, ()))
    ]
    if any(d.is_error for d in diagnostics):
        return None, diagnostics
    return model, diagnostics


def _by_file(diagnostics: Sequence[Diagnostic]) -> dict[str, list[Diagnostic]]:
    grouped: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        grouped.setdefault(d.span.file, []).append(d)
    return grouped


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _at(first: Span, here: Span) -> str:
    """Where the first of two declarations is, as a hint says it: `on line
    N` in the same file, `at FILE:N` in another (an included file)."""
    if first.file == here.file:
        return f"on line {first.line}"
    return f"at {first.file}:{first.line}"


class _Checker(ExampleChecker):
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
        self.param_enums: dict[str, set[str]] = {}
        self.calendars: dict[str | None, CalendarInfo] = {}
        self.calendar_nodes: dict[str | None, ast.Calendar] = {}

    # ------------------------------------------------------------ run

    def run(self) -> CheckedPolicy | None:
        items = self.policy.items
        self._one_only(items)
        self._declare_fields(items)
        self._declare_events(items)
        self._declare_calendars(items)
        self._declare_params(items)
        self._declare_scores(items)
        self.diagnostics += reserved_names(self.events, self.score_nodes)
        stages = self._declare_stages(items)
        self._check_scores()
        order = self._score_order()
        disqualifiers = tuple(self.policy.of_type(ast.Disqualify))
        for d in disqualifiers:
            self._condition(d.condition, TOP)
        recycles = tuple(self.policy.of_type(ast.Recycle))
        routes = tuple(self.policy.of_type(ast.Route))
        if stages is not None:
            self._check_recycles(stages, recycles)
            self._check_routes(routes)
        examples = tuple(self.policy.of_type(ast.Example))
        self._check_examples(examples, disqualifiers, routes)
        if any(d.is_error for d in self.diagnostics) or stages is None or order is None:
            return None
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
            param_members={k: tuple(sorted(v)) for k, v in self.param_enums.items()},
            calendars=self.calendars,
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
                if kind in _MERGED:
                    # `lead { }` and `account { }` of several files merge (SPEC §3.1)
                    kind = (kind, item.span.file)  # type: ignore[assignment]
                if kind in first:
                    self.err(
                        "E213",
                        f"`{_ONE_ONLY[type(item)]}` is declared twice",
                        item.span,
                        f"the first is {_at(first[kind].span, item.span)}; keep one",
                    )
                else:
                    first[kind] = item

    def _declared_twice(self, message: str, first: Span, second: Span) -> None:
        """E208 at the later of two declarations, naming the first; but when the first is
        the policy's own and the later one is in an included file (the policy's fields and
        events count before its includes, SPEC §3), at the policy's: the file being
        written, where the name was added (a shared file serves several policies)."""
        main = self.source.name
        if first.file == main and second.file != main:
            self.err("E208", message, first, f"the other is {_at(second, first)}")
        else:
            self.err("E208", message, second, f"the first is {_at(first, second)}")

    def _field_table(self, decls: Sequence[ast.FieldDecl], what: str) -> dict[str, FieldInfo]:
        table: dict[str, FieldInfo] = {}
        for decl in decls:
            if decl.name in table:
                message = f"{what} `{decl.name}` is declared twice"
                self._declared_twice(message, table[decl.name].node.span, decl.span)
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
                    f"`set of {type_expr(element)}` is not supported",
                    node.span,
                    "sets hold text or enum members: write `set of text` or `set of enum(...)`",
                )
            self._check_type(element)

    def _declare_fields(self, items: Sequence[ast.Item]) -> None:
        # One block per file (E213); the blocks of included files merge, in load order.
        leads: dict[str, ast.LeadBlock] = {}
        accounts: dict[str, ast.AccountBlock] = {}
        for item in items:
            if isinstance(item, ast.LeadBlock):
                leads.setdefault(item.span.file, item)
            elif isinstance(item, ast.AccountBlock):
                accounts.setdefault(item.span.file, item)
        if leads:
            fields = [f for block in leads.values() for f in block.fields]
            self.fields = self._field_table(fields, "lead field")
        if accounts:
            self.has_account = True
            fields = [f for block in accounts.values() for f in block.fields]
            self.account_fields = self._field_table(fields, "account field")

    def _declare_events(self, items: Sequence[ast.Item]) -> None:
        for decl in (i for i in items if isinstance(i, ast.EventDecl)):
            if decl.name in self.events:
                message = f"event `{decl.name}` is declared twice"
                self._declared_twice(message, self.events[decl.name].node.span, decl.span)
                continue
            fields = self._field_table(decl.fields or (), f"field of event `{decl.name}`:")
            self.events[decl.name] = EventInfo(decl.name, decl.description, fields, decl)

    def _declare_calendars(self, items: Sequence[ast.Item]) -> None:
        calendars = [item for item in items if isinstance(item, ast.Calendar)]
        self.calendars, found = check_calendars(calendars)
        self.diagnostics += found
        for calendar in calendars:
            self.calendar_nodes.setdefault(calendar.name, calendar)

    def _declare_params(self, items: Sequence[ast.Item]) -> None:
        for decl in (i for i in items if isinstance(i, ast.Param)):
            if decl.name in self.params:
                self.err(
                    "E208",
                    f"param `{decl.name}` is declared twice",
                    decl.span,
                    f"the first is {_at(self.params[decl.name].node.span, decl.span)}",
                )
                continue
            if decl.name in self.fields:
                self.err(
                    "E208",
                    f"`{decl.name}` is already a lead field; a param needs its own name",
                    decl.span,
                    f"the field is {_at(self.fields[decl.name].node.span, decl.span)}",
                )
                continue
            kind, value = param_value(decl.value)
            if kind.kind == "error":
                self.err(
                    "E307",
                    "a param's value is a number, text, true/false, a date, an enum member, "
                    "a list of them or a duration",
                    decl.value.span,
                )
            if isinstance(decl.value, ast.Duration):
                self._duration(decl.value)
            self.params[decl.name] = ParamInfo(decl.name, kind, value, decl.description, decl)

    def _declare_scores(self, items: Sequence[ast.Item]) -> None:
        for score in (i for i in items if isinstance(i, ast.Score)):
            name = score.name
            if name in self.score_nodes:
                self.err(
                    "E208",
                    f"score `{name}` is declared twice",
                    score.span,
                    f"the first is {_at(self.score_nodes[name].span, score.span)}",
                )
                continue
            for other, kind in (
                (self.fields, "lead field"),
                (self.params, "param"),
                (self.events, "event"),
            ):
                if name in other:
                    first = other[name].node.span
                    self.err(
                        "E208",
                        f"`{name}` is already {_article(kind)} {kind}; a score needs its own name",
                        score.span,
                        f"the {kind} is {_at(first, score.span)}",
                    )
            self.score_nodes[name] = score
        for event in self.events:
            if event in self.fields or event in self.params:
                self.err(
                    "E208",
                    f"`{event}` is both an event and a lead field or param",
                    self.events[event].node.span,
                    "give the event another name (the other is "
                    + _at(
                        (self.fields.get(event) or self.params[event]).node.span,
                        self.events[event].node.span,
                    )
                    + ")",
                )

    def _declare_stages(self, items: Sequence[ast.Item]) -> ast.Stages | None:
        blocks = [i for i in items if isinstance(i, ast.Stages)]
        if not blocks:
            span = (
                self.policy.items[0].span
                if self.policy.items
                else Span.point(self.source.name, 1, 1)
            )
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
            self.err(
                "E409",
                "the `stages` block lists no stage",
                block.span,
                "list at least an entry stage",
            )
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
                self._condition(stage.condition, TOP)
        return block

    # ------------------------------------------------------------ scores

    def _check_scores(self) -> None:
        for name, score in self.score_nodes.items():
            self.deps[name] = set()
            scope = Scope(score=name, account=score.on_account)
            if score.range is not None and not score.range.low < score.range.high:
                self.err(
                    "E309",
                    f"the range of `{name}` is empty: {number(score.range.low)} is not below "
                    f"{number(score.range.high)}",
                    score.range.span,
                    "write `range LOW to HIGH` with LOW < HIGH",
                )
            if score.decay is not None:
                if not 0 < score.decay.percent < 100:
                    self.err(
                        "E310",
                        "decay must be between 0% and 100% (exclusive), "
                        f"not {number(score.decay.percent)}%",
                        score.decay.span,
                    )
                self._duration(score.decay.every)
            if score.formula is not None:
                kind = self._expr(score.formula, scope)
                if not kind.is_numeric and kind.kind != "error":
                    self.err(
                        "E313",
                        f"the formula of score `{name}` is {T.noun(kind)}, not a number",
                        score.formula.span,
                    )
            for rule in score.rules or ():
                if rule.points == 0:
                    self.err(
                        "E312",
                        "a rule must give non-zero points",
                        rule.span,
                        "remove the rule or give it points",
                    )
                if isinstance(rule, ast.WhenRule):
                    self._condition(rule.condition, scope)
                else:
                    if rule.per_contact:
                        self._contact_allowed(rule.span, scope)
                    self._pattern(rule.pattern, scope)
                    if rule.max is not None and rule.max <= 0:
                        self.err(
                            "E311", "`max` must be positive", rule.span, "write e.g. `, max 20`"
                        )

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
                cycle = [*path[path.index(name) :], name]
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
                    self.err(
                        "E206", f"unknown stage `{name}`", recycle.span, did_you_mean(name, order)
                    )
            if known and order.index(recycle.from_stage) <= order.index(recycle.to_stage):
                self.err(
                    "E406",
                    f"`recycle {recycle.from_stage} to {recycle.to_stage}` must move a lead back "
                    "to an earlier stage",
                    recycle.span,
                    f"stages are in funnel order: {', '.join(order)}",
                )
            self._condition(recycle.condition, TOP)

    def _check_routes(self, routes: Sequence[ast.Route]) -> None:
        for route in routes:
            if route.stage not in self.stage_names:
                self.err(
                    "E206",
                    f"unknown stage `{route.stage}`",
                    route.span,
                    did_you_mean(route.stage, self.stage_names),
                )
            if route.on is not None:
                self._route_on(route.on)
            if route.condition is not None:
                self._condition(route.condition, TOP)
            if isinstance(route.sla, ast.BusinessSla):
                self.diagnostics += check_business_sla(route.sla, self.calendar_nodes)
            elif route.sla is not None:
                self._duration(route.sla)

    def _route_on(self, on: ast.Pattern) -> None:
        """The pattern of a hot-event route (SPEC §8) names one event: no window."""
        if on.window is not None:
            window = "ever" if on.window == "ever" else f"within {on.window.text()}"
            self.err(
                "E413",
                f"`on` names one event as it arrives: it takes no `{window}`",
                on.span,
                "drop the window; to look back in time, write it in the route's `when`",
            )
        self._event_pattern(on.event, on.where, on.span, TOP)
        self.types[id(on)] = T.BOOL
