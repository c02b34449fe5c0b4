"""The typed AST of a policy: frozen, keyword-only dataclasses.

Every node carries a :class:`~mqldsl.language.source.Span`; spans are excluded from
equality, so two policies that mean the same thing compare equal whatever
their layout. No Lark object ever appears here.

The one traversal of expressions is here too: :func:`children` and
:func:`walk`, and the :class:`Visitor` and :class:`ContextVisitor` bases that
dispatch on the expression kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar
from typing import Literal as TypingLiteral

from mqldsl.language.calendar_nodes import Calendar as Calendar
from mqldsl.language.calendar_nodes import CalendarDays as CalendarDays
from mqldsl.language.calendar_nodes import CalendarHolidays as CalendarHolidays
from mqldsl.language.calendar_nodes import CalendarHours as CalendarHours
from mqldsl.language.calendar_nodes import CalendarSetting as CalendarSetting
from mqldsl.language.calendar_nodes import CalendarTimezone as CalendarTimezone
from mqldsl.language.source import Span
from mqldsl.language.visitors import ContextVisitor as ContextVisitor
from mqldsl.language.visitors import Visitor as Visitor

NO_SPAN = Span("<none>", 0, 0, 0, 0)
ItemT = TypeVar("ItemT")

UNIT_SECONDS: dict[str, int] = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}


def _span() -> Span:
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    return span


Number: TypeAlias = int | float


# ---------------------------------------------------------------- types


@dataclass(frozen=True, kw_only=True, slots=True)
class SimpleType:
    name: str  # int, number, bool, text, date (validated by the parser)
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class EnumType:
    members: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class SetType:
    element: TypeExpr
    span: Span = _span()


TypeExpr: TypeAlias = SimpleType | EnumType | SetType


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, kw_only=True, slots=True)
class Duration:
    """A length of time. Written as a param's name (``within demo_window``,
    SPEC §5.2), ``param`` holds that name: the parser leaves ``amount`` 0,
    and the checker resolves it to the param's value (see
    :func:`mqldsl.analysis.durations.resolve`)."""

    amount: Number
    unit: str  # minute, hour, day, week
    param: str | None = None
    span: Span = _span()

    @property
    def seconds(self) -> float:
        return float(self.amount) * UNIT_SECONDS[self.unit]

    def text(self) -> str:
        amount = _number_text(self.amount)
        return f"{amount} {self.unit}" if self.amount == 1 else f"{amount} {self.unit}s"

    def __str__(self) -> str:
        # A duration param's value shows as the policy writes it: "30 days".
        return self.text()


def _number_text(value: Number) -> str:
    return str(value) if isinstance(value, int) else repr(value)


@dataclass(frozen=True, kw_only=True, slots=True)
class NumberLit:
    value: Number
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class StringLit:
    value: str
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class BoolLit:
    value: bool
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class DateLit:
    value: dt.date
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class InstantLit:
    value: dt.datetime  # always timezone-aware, UTC
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Name:
    """A bare name: a lead or event field, a param, a score, an enum member,
    or an event (meaning "at least one such event, ever"). The checker decides."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountRef:
    field: str
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Unary:
    op: TypingLiteral["-"]
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Arith:
    op: TypingLiteral["+", "-", "*", "/"]
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Compare:
    op: TypingLiteral["==", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Between:
    operand: Expr
    low: Expr
    high: Expr
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Membership:
    operand: Expr
    collection: Expr
    negated: bool
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class TextTest:
    op: TypingLiteral["contains", "starts with", "ends with"]
    operand: Expr
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Presence:
    operand: Expr
    missing: bool  # True: `is missing`; False: `is present`
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Not:
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class And:
    operands: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Or:
    operands: tuple[Expr, ...]
    span: Span = _span()


Window: TypeAlias = Duration | TypingLiteral["ever"] | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Pattern:
    """``EVENT [where COND] [within D | ever]``; ``event`` is None for the word
    ``event`` (any event). ``window`` None means the qualifier was omitted,
    which means the same as ``ever``."""

    event: str | None
    where: Expr | None
    window: Window
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class NoEvents:
    pattern: Pattern
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Count:
    pattern: Pattern
    span: Span = _span()


AggregateFunction: TypeAlias = TypingLiteral["sum", "max", "min", "avg"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Aggregate:
    """``sum|max|min|avg(EVENT.FIELD [where COND] [within D | ever])`` (SPEC §5): a numeric
    field of the events that match ``pattern`` (whose ``event`` is the EVENT written; None
    for the word ``event``, which the checker refuses)."""

    function: AggregateFunction
    field: str
    pattern: Pattern
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ContactCount:
    """``count(distinct contact with PATTERN)`` (account scores only, SPEC §9): how many of
    the account's leads have at least one event matching the pattern."""

    pattern: Pattern
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class DaysSince:
    event: str | None
    where: Expr | None
    span: Span = _span()


Expr: TypeAlias = (
    NumberLit
    | StringLit
    | BoolLit
    | DateLit
    | InstantLit
    | ListLit
    | Name
    | AccountRef
    | Unary
    | Arith
    | Compare
    | Between
    | Membership
    | TextTest
    | Presence
    | Not
    | And
    | Or
    | Pattern
    | NoEvents
    | Count
    | Aggregate
    | ContactCount
    | DaysSince
)

# ---------------------------------------------------------------- traversal

_CHILDREN: dict[type, Callable[[Any], Sequence[Expr | None]]] = {
    And: lambda n: n.operands,
    Or: lambda n: n.operands,
    Not: lambda n: (n.operand,),
    Unary: lambda n: (n.operand,),
    Compare: lambda n: (n.left, n.right),
    Arith: lambda n: (n.left, n.right),
    Between: lambda n: (n.operand, n.low, n.high),
    Membership: lambda n: (n.operand, n.collection),
    TextTest: lambda n: (n.operand, n.value),
    Presence: lambda n: (n.operand,),
    ListLit: lambda n: n.items,
    Pattern: lambda n: (n.where,),
    NoEvents: lambda n: (n.pattern,),
    Count: lambda n: (n.pattern,),
    Aggregate: lambda n: (n.pattern,),
    ContactCount: lambda n: (n.pattern,),
    DaysSince: lambda n: (n.where,),
}


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``node`` in source order (leaves have none;
    an absent ``where`` is skipped)."""
    get = _CHILDREN.get(type(node))
    if get is None:
        return ()
    return tuple(child for child in get(node) if child is not None)


def walk(node: Expr) -> Iterator[Expr]:
    """Every expression node under ``node``, itself included, parents before
    children and children in source order (no recursion, so any depth)."""
    stack: list[Expr] = [node]
    children_of = _CHILDREN.get
    while stack:
        node = stack.pop()
        yield node
        get = children_of(type(node))
        if get is None:
            continue
        for child in reversed(get(node)):
            if child is not None:
                stack.append(child)


# Values written in params and examples: literals, enum members (Name),
# lists of them, and negative numbers (NumberLit with a negative value).
Value: TypeAlias = NumberLit | StringLit | BoolLit | DateLit | InstantLit | Name | ListLit
#: What a param may hold: a value, or a duration (SPEC §5.2).
ParamValue: TypeAlias = Value | Duration


# ---------------------------------------------------------------- header items


@dataclass(frozen=True, kw_only=True, slots=True)
class PolicyTitle:
    title: str
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Version:
    number: Number
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Owner:
    owner: str
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Effective:
    date: dt.date
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class About:
    text: str
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Include:
    path: str
    span: Span = _span()


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldDecl:
    name: str
    type: TypeExpr
    description: str | None
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class LeadBlock:
    fields: tuple[FieldDecl, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountBlock:
    fields: tuple[FieldDecl, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class EventDecl:
    name: str
    description: str | None
    fields: tuple[FieldDecl, ...] | None  # None: no braces at all
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Param:
    name: str
    value: ParamValue
    description: str | None
    span: Span = _span()


# ---------------------------------------------------------------- scores


@dataclass(frozen=True, kw_only=True, slots=True)
class RangeOption:
    low: Number
    high: Number
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class DecayOption:
    percent: Number
    every: Duration
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class WhenRule:
    points: Number
    condition: Expr
    label: str | None
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class PerRule:
    points: Number
    pattern: Pattern
    max: Number | None
    label: str | None
    # `+P per contact with PATTERN` (account scores, SPEC §9): P for each of the account's
    # leads with at least one matching event, rather than for each matching event.
    per_contact: bool = False
    span: Span = _span()


Rule: TypeAlias = WhenRule | PerRule


@dataclass(frozen=True, kw_only=True, slots=True)
class Score:
    """A score with a rule list (``rules`` set) or a derived score (``formula`` set)."""

    name: str
    description: str | None
    range: RangeOption | None
    decay: DecayOption | None
    rules: tuple[Rule, ...] | None
    formula: Expr | None
    # `score NAME on account` (SPEC §9): a score of the lead's account, over the events of
    # all the account's leads.
    on_account: bool = False
    span: Span = _span()


# ---------------------------------------------------------------- lifecycle


@dataclass(frozen=True, kw_only=True, slots=True)
class Stage:
    name: str
    description: str | None
    condition: Expr | None
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Stages:
    locked: bool
    stages: tuple[Stage, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Disqualify:
    reason: str
    condition: Expr
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Recycle:
    from_stage: str
    to_stage: str
    condition: Expr
    description: str | None
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class BusinessSla:
    """``sla 4 business hours [of NAME]`` (SPEC §8.1): working time of a calendar (the
    unnamed one when ``calendar`` is None)."""

    amount: Number
    unit: str  # minute, hour, day
    calendar: str | None
    span: Span = _span()

    def text(self) -> str:
        amount = _number_text(self.amount)
        unit = self.unit if self.amount == 1 else f"{self.unit}s"
        tail = f" of {self.calendar}" if self.calendar is not None else ""
        return f"{amount} business {unit}{tail}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Route:
    """``route STAGE to QUEUE [on EVENT [where COND]] [when COND] [, sla D]``: ``on`` None
    is an entry route; otherwise a hot-event route (SPEC §8), a handoff at each matching
    event while the lead is in the stage."""

    stage: str
    queue: str
    condition: Expr | None
    sla: Duration | BusinessSla | None
    span: Span = _span()
    on: Pattern | None = None


# ---------------------------------------------------------------- examples


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    name: str
    value: Value
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class RelativeTime:
    """``-3 days`` (sign -1) or ``+1 hour`` (sign +1), relative to the example's instant."""

    sign: int
    duration: Duration
    span: Span = _span()


TimeRef: TypeAlias = RelativeTime | DateLit | InstantLit


@dataclass(frozen=True, kw_only=True, slots=True)
class ExampleLead:
    entries: tuple[Entry, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExampleEvent:
    event: str
    entries: tuple[Entry, ...] | None
    times: tuple[TimeRef, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectStage:
    stage: str
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectStageIn:
    """``expect stage in [lead, mql]``: the lead ends in one of these stages."""

    stages: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectDisqualified:
    reason: str | None
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectNotDisqualified:
    """``expect not disqualified``: no disqualifier holds."""

    span: Span = _span()


#: A number an expectation compares a score with: written (``30``) or a param (``mql_fit_min``).
Amount: TypeAlias = NumberLit | Name


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectScore:
    score: str
    op: TypingLiteral["==", "!=", "<", "<=", ">", ">="]
    value: Amount
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectBetween:
    """``expect intent between 30 and 50``: both ends included, as in conditions;
    ``account``: ``expect account.SCORE between A and B`` (an account score, SPEC §10)."""

    score: str
    low: Amount
    high: Amount
    account: bool = False
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectRoute:
    queue: str
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectNoRoute:
    """``expect route none``: the lead has no queue."""

    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectDue:
    """``expect due WHEN``: the route's SLA deadline, an instant or an offset from the
    example's instant (``+5 minutes``)."""

    when: TimeRef
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExampleAccount:
    """``account { FIELD: VALUE, ... }``: the example's account fields (SPEC §10)."""

    entries: tuple[Entry, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExampleContact:
    """``contact "ID" { lead {...}  EVENT at WHEN ... }``: a colleague at the example lead's
    account, with its own profile and events (SPEC §10)."""

    id: str
    items: tuple[ExampleLead | ExampleEvent, ...]
    span: Span = _span()


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectAccountScore:
    """``expect account.SCORE OP N``."""

    score: str
    op: TypingLiteral["==", "!=", "<", "<=", ">", ">="]
    value: Amount
    span: Span = _span()


#: The expectations (what `mqldsl test` checks), as opposed to the example's data.
Expectation: TypeAlias = (
    ExpectStage
    | ExpectStageIn
    | ExpectDisqualified
    | ExpectNotDisqualified
    | ExpectScore
    | ExpectBetween
    | ExpectRoute
    | ExpectNoRoute
    | ExpectDue
    | ExpectAccountScore
)
ExampleItem: TypeAlias = ExampleLead | ExampleEvent | ExampleAccount | ExampleContact | Expectation


@dataclass(frozen=True, kw_only=True, slots=True)
class Example:
    name: str
    at: DateLit | InstantLit | None
    items: tuple[ExampleItem, ...]
    span: Span = _span()


# ---------------------------------------------------------------- the policy

Item: TypeAlias = (
    PolicyTitle
    | Version
    | Owner
    | Effective
    | About
    | Include
    | LeadBlock
    | AccountBlock
    | EventDecl
    | Calendar
    | Param
    | Score
    | Stages
    | Disqualify
    | Recycle
    | Route
    | Example
)


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``# ...`` comment: kept for the formatter, never part of the meaning."""

    line: int
    column: int
    text: str  # including the leading '#'


@dataclass(frozen=True, kw_only=True, slots=True)
class Policy:
    """A parsed policy: its items in source order. Comments are kept for the
    formatter and excluded from equality."""

    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False, repr=False)
    span: Span = _span()

    def of_type(self, kind: type[ItemT]) -> list[ItemT]:
        return [item for item in self.items if isinstance(item, kind)]

    def first(self, kind: type[ItemT]) -> ItemT | None:
        for item in self.items:
            if isinstance(item, kind):
                return item
        return None

    @property
    def title(self) -> str:
        header = self.first(PolicyTitle)
        return header.title if header else ""
