"""Where every name of a policy is written: the declarations of fields,
events, params, scores and stages, the routes that name a queue, and every use
of them (in conditions, routes, recycles and examples).

The AST gives bare names (:class:`~mqldsl.language.ast.Name`) their own spans;
a declaration or a route only has the span of the whole line, so the name is
found inside it by scanning its identifiers (strings and comments skipped).
What a bare name refers to comes from the checked model when the policy has no
error, and otherwise from the declarations, as the checker would look it up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from mqldsl.analysis.model import Ref
from mqldsl.language import ast
from mqldsl.language.source import Source, Span

Kind = Literal[
    "field", "account_field", "event_field", "event", "param", "score", "stage", "queue", "member"
]

#: The kinds a rename may change (SPEC names them; renaming one changes every use).
RENAMEABLE: frozenset[str] = frozenset({"param", "score", "stage"})

# An identifier, or what hides words that are not names: strings and comments.
_TOKEN = re.compile(r'"""[\s\S]*?(?:"""|$)|"(?:[^"\\\n]|\\.)*"?|#[^\n]*|([a-z_][a-z0-9_]*)')
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")


@dataclass(frozen=True, slots=True)
class Symbol:
    kind: Kind
    name: str
    event: str | None = None  # an event field's event


@dataclass(frozen=True, slots=True)
class Occurrence:
    """A name written in a file: 1-based line, 1-based columns (code points,
    the end exclusive), as :class:`~mqldsl.language.source.Span` counts."""

    symbol: Symbol
    file: str
    line: int
    column: int
    end_column: int
    definition: bool

    def contains(self, file: str, line: int, column: int) -> bool:
        return self.file == file and self.line == line and self.column <= column <= self.end_column


@dataclass
class Declarations:
    """The names a policy declares (its includes' too), read from the AST, so
    that a policy with errors still has them."""

    fields: dict[str, ast.FieldDecl] = field(default_factory=dict)
    account_fields: dict[str, ast.FieldDecl] = field(default_factory=dict)
    events: dict[str, ast.EventDecl] = field(default_factory=dict)
    params: dict[str, ast.Param] = field(default_factory=dict)
    scores: dict[str, ast.Score] = field(default_factory=dict)
    stages: dict[str, ast.Stage] = field(default_factory=dict)
    queues: dict[str, list[ast.Route]] = field(default_factory=dict)
    # an enum member -> the fields (lead, account or event) whose enum lists it
    members: dict[str, list[ast.FieldDecl]] = field(default_factory=dict)

    def routes(self) -> list[ast.Route]:
        return [route for routes in self.queues.values() for route in routes]

    def event_fields(self, event: str | None) -> dict[str, ast.FieldDecl]:
        decl = self.events.get(event) if event is not None else None
        if decl is None or decl.fields is None:
            return {}
        return {f.name: f for f in decl.fields}

    def resolve(self, name: str, event: str | None) -> Symbol | None:
        """What a bare name means without the checker's answer: an event's own
        field inside its `where`, then a lead field, a param, a score, an
        event, an enum member."""
        if name in self.event_fields(event):
            return Symbol("event_field", name, event)
        for kind, table in (
            ("field", self.fields),
            ("param", self.params),
            ("score", self.scores),
            ("event", self.events),
            ("member", self.members),
        ):
            if name in table:
                return Symbol(kind, name)  # type: ignore[arg-type]
        return None

    def enum_of(self, decl: ast.FieldDecl) -> tuple[str, ...]:
        """The members of a field's enum (of a set of an enum too); () for other types."""
        kind: ast.TypeExpr = decl.type
        if isinstance(kind, ast.SetType):
            kind = kind.element
        return kind.members if isinstance(kind, ast.EnumType) else ()


def declarations(policy: ast.Policy | None) -> Declarations:
    found = Declarations()
    if policy is None:
        return found

    def enums(decl: ast.FieldDecl) -> None:
        for member in found.enum_of(decl):
            found.members.setdefault(member, []).append(decl)

    for item in policy.items:
        if isinstance(item, ast.LeadBlock | ast.AccountBlock):
            table = found.fields if isinstance(item, ast.LeadBlock) else found.account_fields
            for decl in item.fields:
                table.setdefault(decl.name, decl)
                enums(decl)
        elif isinstance(item, ast.EventDecl):
            found.events.setdefault(item.name, item)
            for decl in item.fields or ():
                enums(decl)
        elif isinstance(item, ast.Param):
            found.params.setdefault(item.name, item)
        elif isinstance(item, ast.Score):
            found.scores.setdefault(item.name, item)
        elif isinstance(item, ast.Stages):
            for stage in item.stages:
                found.stages.setdefault(stage.name, stage)
        elif isinstance(item, ast.Route):
            found.queues.setdefault(item.queue, []).append(item)
    return found


def line_starts(text: str) -> list[int]:
    """The offset of each line's first character."""
    return [0] + [m.end() for m in re.finditer("\n", text)]


def identifiers(
    source: Source, span: Span, starts: list[int] | None = None
) -> Iterator[tuple[str, int, int, int]]:
    """The identifiers written in ``span`` of ``source`` (not those in strings
    or comments): (name, line, column, end column). ``starts``: the source's
    :func:`line_starts`, when known."""
    starts = starts if starts is not None else line_starts(source.text)

    def offset(line: int, column: int) -> int:
        if line < 1 or line > len(starts):
            return len(source.text)
        return min(starts[line - 1] + column - 1, len(source.text))

    if span.line < 1:
        return
    start, end = offset(span.line, span.column), offset(span.end_line, span.end_column)
    for match in _TOKEN.finditer(source.text, start, end):
        if match.group(1) is not None:
            line, column = source.position(match.start(1))
            yield match.group(1), line, column, column + len(match.group(1))


class Index:
    """Every occurrence of every name, in the files of one policy."""

    def __init__(self, occurrences: list[Occurrence]) -> None:
        self.occurrences = sorted(
            set(occurrences), key=lambda o: (o.file, o.line, o.column, not o.definition)
        )

    def at(self, file: str, line: int, column: int) -> Occurrence | None:
        for occurrence in self.occurrences:
            if occurrence.contains(file, line, column):
                return occurrence
        return None

    def of(self, symbol: Symbol) -> list[Occurrence]:
        if symbol.kind == "member":  # a member is one name, whichever enum lists it
            kind, name = "member", symbol.name
            return [o for o in self.occurrences if (o.symbol.kind, o.symbol.name) == (kind, name)]
        return [o for o in self.occurrences if o.symbol == symbol]

    def definitions(self, symbol: Symbol) -> list[Occurrence]:
        return [o for o in self.of(symbol) if o.definition]


def index(
    policy: ast.Policy | None,
    sources: Mapping[str, Source],
    found: Declarations,
    refs: Mapping[int, Ref] | None = None,
) -> Index:
    """The occurrences in ``policy`` (merged with its includes) of the names
    ``found`` declares, in the files ``sources`` holds. ``refs``: the checker's
    answers by node identity (a policy without errors)."""
    if policy is None:
        return Index([])
    indexer = _Indexer(sources, found, refs or {})
    for item in policy.items:
        indexer.item(item)
    return Index(indexer.found)


class _Indexer:
    def __init__(
        self, sources: Mapping[str, Source], found: Declarations, refs: Mapping[int, Ref]
    ) -> None:
        self.sources = sources
        self.declared = found
        self.refs = refs
        self.found: list[Occurrence] = []
        self._starts: dict[str, list[int]] = {}

    # ------------------------------------------------------------ locating names

    def _identifiers(self, span: Span) -> Iterator[tuple[str, int, int, int]]:
        source = self.sources.get(span.file)
        if source is None:
            return iter(())
        starts = self._starts.get(source.name)
        if starts is None:
            starts = self._starts[source.name] = line_starts(source.text)
        return identifiers(source, span, starts)

    def add(
        self, symbol: Symbol | None, span: Span, name: str, skip: int = 0, definition: bool = False
    ) -> None:
        """``name`` as written in ``span``, after its first ``skip`` identifiers."""
        if symbol is None:
            return
        for i, (word, line, column, end) in enumerate(self._identifiers(span)):
            if i >= skip and word == name:
                self.found.append(Occurrence(symbol, span.file, line, column, end, definition))
                return

    # ------------------------------------------------------------ items

    def item(self, item: ast.Item) -> None:
        if isinstance(item, ast.LeadBlock | ast.AccountBlock):
            kind: Kind = "field" if isinstance(item, ast.LeadBlock) else "account_field"
            for decl in item.fields:
                self.field(Symbol(kind, decl.name), decl)
        elif isinstance(item, ast.EventDecl):
            self.add(Symbol("event", item.name), item.span, item.name, 1, definition=True)
            for decl in item.fields or ():
                self.field(Symbol("event_field", decl.name, item.name), decl)
        elif isinstance(item, ast.Param):
            self.add(Symbol("param", item.name), item.span, item.name, 1, definition=True)
            if not isinstance(item.value, ast.Duration):
                self.value(item.value)
        elif isinstance(item, ast.Score):
            self.add(Symbol("score", item.name), item.span, item.name, 1, definition=True)
            if item.decay is not None:
                self.duration(item.decay.every)
            for rule in item.rules or ():
                self.expr(rule.condition if isinstance(rule, ast.WhenRule) else rule.pattern)
            if item.formula is not None:
                self.expr(item.formula)
        elif isinstance(item, ast.Stages):
            for stage in item.stages:
                self.add(Symbol("stage", stage.name), stage.span, stage.name, definition=True)
                if stage.condition is not None:
                    self.expr(stage.condition)
        elif isinstance(item, ast.Disqualify):
            self.expr(item.condition)
        elif isinstance(item, ast.Recycle):
            self.add(Symbol("stage", item.from_stage), item.span, item.from_stage, 1)
            self.add(Symbol("stage", item.to_stage), item.span, item.to_stage, 3)
            self.expr(item.condition)
        elif isinstance(item, ast.Route):
            self.add(Symbol("stage", item.stage), item.span, item.stage, 1)
            self.add(Symbol("queue", item.queue), item.span, item.queue, 3, definition=True)
            if item.on is not None:
                self.expr(item.on)
            if item.condition is not None:
                self.expr(item.condition)
            if isinstance(item.sla, ast.Duration):
                self.duration(item.sla)
        elif isinstance(item, ast.Example):
            for part in item.items:
                self.example(part)

    def field(self, symbol: Symbol, decl: ast.FieldDecl) -> None:
        self.add(symbol, decl.span, decl.name, definition=True)
        for member in self.declared.enum_of(decl):
            self.add(Symbol("member", member), decl.span, member, 1, definition=True)

    def example(self, part: ast.ExampleItem) -> None:
        if isinstance(part, ast.ExampleLead | ast.ExampleAccount):
            kind: Kind = "field" if isinstance(part, ast.ExampleLead) else "account_field"
            for entry in part.entries:
                self.add(Symbol(kind, entry.name), entry.span, entry.name)
                self.value(entry.value)
        elif isinstance(part, ast.ExampleEvent):
            self.add(Symbol("event", part.event), part.span, part.event)
            for entry in part.entries or ():
                self.add(Symbol("event_field", entry.name, part.event), entry.span, entry.name)
                self.value(entry.value)
        elif isinstance(part, ast.ExampleContact):
            for inner in part.items:
                self.example(inner)
        elif isinstance(part, ast.ExpectStage):
            self.add(Symbol("stage", part.stage), part.span, part.stage, 2)
        elif isinstance(part, ast.ExpectStageIn):
            for stage in part.stages:
                self.add(Symbol("stage", stage), part.span, stage, 3)
        elif isinstance(part, ast.ExpectScore | ast.ExpectBetween):
            self.add(Symbol("score", part.score), part.span, part.score, 1)
            amounts = (part.value,) if isinstance(part, ast.ExpectScore) else (part.low, part.high)
            for amount in amounts:
                if isinstance(amount, ast.Name):
                    self.name(amount, None)
        elif isinstance(part, ast.ExpectAccountScore):
            self.add(Symbol("score", part.score), part.span, part.score, 2)
            if isinstance(part.value, ast.Name):
                self.name(part.value, None)
        elif isinstance(part, ast.ExpectRoute):
            self.add(Symbol("queue", part.queue), part.span, part.queue, 2)

    def value(self, node: ast.Expr) -> None:
        """A written value: an enum member, or a list of them."""
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name):
                self.add(Symbol("member", inner.name), inner.span, inner.name)

    def duration(self, node: ast.Duration) -> None:
        if node.param is not None:
            self.add(Symbol("param", node.param), node.span, node.param)

    # ------------------------------------------------------------ expressions

    def name(self, node: ast.Name, event: str | None) -> None:
        ref = self.refs.get(id(node))
        if ref is not None:
            event = ref.event if ref.kind == "event_field" else None
            symbol: Symbol | None = Symbol(ref.kind, ref.name, event)
        else:
            symbol = self.declared.resolve(node.name, event)
        self.add(symbol, node.span, node.name)

    def pattern(self, node: ast.Pattern, skip: int = 0) -> None:
        if node.event is not None:
            self.add(Symbol("event", node.event), node.span, node.event, skip)
        if node.where is not None:
            self.expr(node.where, node.event)
        if isinstance(node.window, ast.Duration):
            self.duration(node.window)

    def expr(self, node: ast.Expr, event: str | None = None) -> None:
        if isinstance(node, ast.Name):
            self.name(node, event)
        elif isinstance(node, ast.Pattern):
            self.pattern(node)
        elif isinstance(node, ast.Aggregate):
            # sum(EVENT.FIELD ...): the event, then its field
            event = node.pattern.event
            if event is not None:
                self.add(Symbol("event", event), node.span, event, 1)
                self.add(Symbol("event_field", node.field, event), node.span, node.field, 2)
            if node.pattern.where is not None:
                self.expr(node.pattern.where, event)
            if isinstance(node.pattern.window, ast.Duration):
                self.duration(node.pattern.window)
        elif isinstance(node, ast.DaysSince):
            if node.event is not None:
                self.add(Symbol("event", node.event), node.span, node.event, 2)
            if node.where is not None:
                self.expr(node.where, node.event)
        elif isinstance(node, ast.AccountRef):  # `account.NAME`: a field or an account score
            on_account = node.field not in self.declared.account_fields
            kind: Kind = (
                "score" if on_account and node.field in self.declared.scores else "account_field"
            )
            self.add(Symbol(kind, node.field), node.span, node.field, 1)
        else:
            for child in ast.children(node):
                self.expr(child, event)
