"""The checked model of a policy: what every back end reads.

The checker builds it once; the evaluator, the simulator and the document
renderer never resolve names again. Expression facts (types, what a name
refers to) are kept in side tables keyed by the node's identity, so the model
holds on to the policy's AST.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
from dataclasses import dataclass, field
from typing import Literal

from mqldsl.analysis.calendars import CalendarInfo
from mqldsl.analysis.types import Type
from mqldsl.language import ast
from mqldsl.language.includes import IncludedFile
from mqldsl.language.printer import format_policy
from mqldsl.language.source import Source, Span

RefKind = Literal["field", "account_field", "event_field", "param", "score", "event", "member"]


@dataclass(frozen=True, slots=True)
class Ref:
    """What a bare name in an expression refers to."""

    kind: RefKind
    name: str
    event: str | None = None  # for event_field: the event whose field it is


@dataclass(frozen=True, slots=True)
class FieldInfo:
    name: str
    type: Type
    description: str | None
    node: ast.FieldDecl


@dataclass(frozen=True, slots=True)
class EventInfo:
    name: str
    description: str | None
    fields: dict[str, FieldInfo]
    node: ast.EventDecl


@dataclass(frozen=True, slots=True)
class ParamInfo:
    name: str
    type: Type
    value: object  # int, float, str, bool, date, tuple (list), or a member name (str)
    description: str | None
    node: ast.Param


@dataclass(frozen=True, slots=True)
class Bounds:
    low: float
    high: float

    def text(self) -> str:
        def show(v: float) -> str:
            if math.isinf(v):
                return "unbounded"
            return str(int(v)) if float(v).is_integer() else f"{v:g}"

        return f"{show(self.low)} to {show(self.high)}"


@dataclass(frozen=True, slots=True)
class ScoreInfo:
    name: str
    node: ast.Score
    depends_on: tuple[str, ...]
    bounds: Bounds


@dataclass
class CheckedPolicy:
    policy: ast.Policy
    source: Source
    title: str
    version: ast.Number | None
    owner: str | None
    effective: dt.date | None
    about: str | None
    fields: dict[str, FieldInfo]
    account_fields: dict[str, FieldInfo]
    events: dict[str, EventInfo]
    params: dict[str, ParamInfo]
    scores: dict[str, ScoreInfo]
    score_order: tuple[str, ...]
    stages: ast.Stages
    disqualifiers: tuple[ast.Disqualify, ...]
    recycles: tuple[ast.Recycle, ...]
    routes: tuple[ast.Route, ...]
    examples: tuple[ast.Example, ...]
    windows: tuple[float, ...]  # seconds of every `within` duration, sorted
    types: dict[int, Type] = field(default_factory=dict, repr=False)
    refs: dict[int, Ref] = field(default_factory=dict, repr=False)
    # A param holding an enum member (or a list of them): the members of the enums it is
    # compared with, which `--set` accepts.
    param_members: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # The files its `include` lines read (SPEC §3.1), in load order; the policy's own file
    # alone (``policy`` is the merged policy; None: the same, it includes nothing).
    includes: tuple[IncludedFile, ...] = field(default=(), repr=False)
    own_policy: ast.Policy | None = field(default=None, repr=False)
    # The calendars of business SLAs (SPEC §8.1), by name; None names the unnamed one.
    calendars: dict[str | None, CalendarInfo] = field(default_factory=dict, repr=False)
    # This policy checked again with other lengths for its duration params (SPEC §5.2), by
    # the changed params' (name, seconds): see mqldsl.analysis.bound.bind.
    bound: dict[tuple[tuple[str, float], ...], CheckedPolicy] = field(
        default_factory=dict, repr=False
    )

    @property
    def locked(self) -> bool:
        return self.stages.locked

    @functools.cached_property
    def account_scores(self) -> tuple[str, ...]:
        """The account scores (`score NAME on account`, SPEC §9), in declaration order."""
        return tuple(name for name, info in self.scores.items() if info.node.on_account)

    @functools.cached_property
    def lead_scores(self) -> tuple[str, ...]:
        """The lead scores, in declaration order (a decision's `scores`)."""
        return tuple(name for name, info in self.scores.items() if not info.node.on_account)

    @functools.cached_property
    def uses_accounts(self) -> bool:
        """Whether decisions carry `account` and `account_scores` (SPEC §12): the policy
        declares account fields or account scores."""
        return bool(self.account_fields) or bool(self.account_scores)

    @functools.cached_property
    def reads_account_scores(self) -> bool:
        """Whether anything a lead's timeline reads depends on account scores, so that the
        timeline includes the instants of the account's other leads' events (SPEC §9)."""
        return bool(self.account_scores)

    @functools.cached_property
    def stage_names(self) -> tuple[str, ...]:
        """The stages' names, in order (read for every lead by the simulation's records)."""
        return tuple(s.name for s in self.stages.stages)

    @property
    def queues(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for route in self.routes:
            seen.setdefault(route.queue, None)
        return tuple(seen)

    @functools.cached_property
    def canonical_text(self) -> str:
        """The policy's canonical text: exactly what `mqldsl fmt` writes for
        its file, comments included. Printed once per loaded policy.

        With includes (SPEC §3.1), the canonical text of each included file
        follows, in load order, each after a line `\0include PATH\0` that
        names it by its path from the policy's folder (a NUL never occurs in a
        policy), so that the hash below changes when an included file does,
        and does not depend on the folder a command runs from."""
        text = format_policy(self.own_policy or self.policy, self.source)
        for file in self.includes:
            text += f"\0include {file.relative}\0\n" + format_policy(file.policy, file.source)
        return text

    def origin(self, span: Span) -> str | None:
        """The included file a declaration is written in (its path from the
        policy's folder), or None for the policy's own file."""
        for file in self.includes:
            if file.name == span.file:
                return file.relative
        return None

    @functools.cached_property
    def sha256(self) -> str:
        """The SHA-256 (hex) of :attr:`canonical_text` in UTF-8: the policy's
        identity in every decision (SPEC §12). Reformatting the file does not
        change it; any change of meaning does, and so does a change of a
        comment or a description, since `fmt` keeps those."""
        return hashlib.sha256(self.canonical_text.encode("utf-8")).hexdigest()

    def type_of(self, node: ast.Expr) -> Type:
        return self.types[id(node)]

    def ref(self, node: ast.Name) -> Ref:
        return self.refs[id(node)]

    def decay_pattern(self, condition: ast.Expr) -> ast.Pattern | None:
        """The pattern of a `when` rule whose whole condition is one positive
        event pattern: its most recent match sets the rule's decay age (SPEC
        §4). None for any other condition (the rule does not decay)."""
        if isinstance(condition, ast.Pattern):
            return condition
        if isinstance(condition, ast.Name) and self.ref(condition).kind == "event":
            return ast.Pattern(event=condition.name, where=None, window=None)
        return None


def numeric_constant(model: CheckedPolicy, node: ast.Expr) -> float | None:
    """The number ``node`` stands for when it is a constant: a number, a
    negated number, or a numeric param (at its declared value); else None."""
    if isinstance(node, ast.NumberLit):
        return float(node.value)
    if isinstance(node, ast.Unary) and isinstance(node.operand, ast.NumberLit):
        return -float(node.operand.value)
    if isinstance(node, ast.Name):
        ref = model.refs.get(id(node))
        if ref is not None and ref.kind == "param":
            value = model.params[ref.name].value
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return None
