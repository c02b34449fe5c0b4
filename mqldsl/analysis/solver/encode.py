"""A checked policy's decision as of an instant T, as z3 terms over a symbolic lead.

The lead (:class:`SymbolicLead`) has one variable per profile field (typed: ``int`` an
integer, ``number`` a real, ``text`` a string, ``date`` the day's ordinal, an enum member
its number in a shared list of members, a set one boolean per value the policies ask about)
with a boolean saying whether the field is present; and, for each event type, ``bound``
slots, each with a presence flag, its age (whole seconds before T, at least 0: events after
T do not exist for the decision) and its fields (typed like profile fields, each with its
presence flag). Two policies encoded over the same lead share its variables, so the solver
can look for a lead they decide differently.

:class:`PolicyEncoding` gives, for one policy, the terms of what a decision as of T says:
the stage (``disqualified`` when a disqualifier holds, else the last-listed stage whose
condition holds, SPEC §7 flexible mode), each holding disqualifier's reason, and the queue
and SLA of the route (SPEC §8). The semantics are those of the reference interpreter
(mqldsl.engine.interpreter): a comparison with a missing operand is false, arithmetic with
one is missing, division by zero is missing, `within D` covers ages below D, a `per` rule
is capped at its `max` in magnitude, a score is clamped to its range and rounded to two
decimals, half away from zero.

What the encoding does not cover raises :class:`Unsupported`, naming the construct and
where it is written: locked stages and recycling (a timeline), decay, hot-event routes,
route conditions that depend on events (a route is chosen at the instant of entry),
accounts, instants written in conditions.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import z3

from mqldsl.analysis.model import CheckedPolicy, FieldInfo
from mqldsl.analysis.types import Type
from mqldsl.language import ast
from mqldsl.language.source import Span

Term = Any  # a z3 expression (z3 ships no type information)
DAY = 86400
DISQUALIFIED = "disqualified"
MAX_AGE = 3_000_000_000  # seconds (95 years): the oldest event the solver may choose


class Unsupported(Exception):
    """A construct outside what the encoding covers exactly."""

    def __init__(self, what: str, span: Span | None = None) -> None:
        where = f" (line {span.line})" if span is not None and span.line else ""
        super().__init__(f"{what}{where}")
        self.what = what
        self.span = span

    @property
    def message(self) -> str:
        return str(self)


@dataclass
class Val:
    """A symbolic value: ``kind`` num (a real term), bool, str, enum (the member's number),
    date (the day's ordinal), set (``members``: one boolean per value asked about, created on
    demand by :meth:`has`), list (``items``: constant values); ``ok`` is the term "present";
    ``const`` the Python value of a constant."""

    kind: str
    term: Term = None
    ok: Term = True
    const: object = None
    items: tuple[Val, ...] = ()
    members: dict[object, Term] | None = None
    prefix: str = ""
    raw: Term = None  # a field's own variable (an int's integer, not its real)

    def has(self, key: object) -> Term:
        assert self.members is not None
        found = self.members.get(key)
        if found is None:
            found = self.members[key] = z3.Bool(f"{self.prefix}[{key}]")
        return found


@dataclass
class Slot:
    """One possible event of ``type``: present or not, ``age`` seconds before T."""

    type: str
    number: int
    present: Term
    age: Term
    fields: dict[str, Val]


class Members:
    """Enum members by name, numbered in order of first use (shared by both policies)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.numbers: dict[str, int] = {}

    def number(self, name: str) -> int:
        if name not in self.numbers:
            self.numbers[name] = len(self.names)
            self.names.append(name)
        return self.numbers[name]


def _variable(name: str, kind: Type, members: Members) -> tuple[Val, Term]:
    """A symbolic field of type ``kind``: its value and the constraint on its domain."""
    ok = z3.Bool(f"{name}?")
    if kind.kind == "int":
        var = z3.Int(name)
        whole = z3.And(var >= -(2**63), var <= 2**63 - 1)  # what a record may hold
        return Val("num", z3.ToReal(var), ok, prefix=name, raw=var), whole
    if kind.kind == "number":
        var = z3.Real(name)
        return Val("num", var, ok, prefix=name, raw=var), True
    if kind.kind == "bool":
        var = z3.Bool(name)
        return Val("bool", var, ok, prefix=name, raw=var), True
    if kind.kind == "text":
        var = z3.String(name)
        # A record's empty text reads as missing (mqldsl.io.journeys.record_values).
        return Val("str", var, ok, prefix=name, raw=var), z3.Implies(ok, z3.Length(var) > 0)
    if kind.kind == "date":
        var = z3.Int(name)
        return Val("date", var, ok, prefix=name, raw=var), z3.And(var >= 1, var <= 3652059)
    if kind.kind == "enum":
        var = z3.Int(name)
        numbers = [members.number(m) for m in kind.members]
        return Val("enum", var, ok, prefix=name, raw=var), z3.Or([var == n for n in numbers])
    if kind.kind == "set":
        return Val("set", None, ok, members={}, prefix=name), True
    raise Unsupported(f"a field of type {kind}")


def _common(a: Type, b: Type) -> Type | None:
    """The values a record may hold for a field of type ``a`` in one version and ``b`` in
    the other (an enum's members in both); None when no value is valid for both."""
    if a == b:
        return a
    if a.kind == b.kind == "enum":
        return Type("enum", members=tuple(m for m in a.members if m in b.members))
    if a.kind == b.kind == "set" and a.element is not None and b.element is not None:
        element = _common(a.element, b.element)
        return None if element is None else Type("set", element=element)
    return None


def _same_fields(where: str, merged: dict[str, Type], fields: Mapping[str, FieldInfo]) -> None:
    for name, info in fields.items():
        other = merged.setdefault(name, info.type)
        common = _common(other, info.type)
        if common is None:
            raise Unsupported(
                f"{where} `{name}` is {other} in one version and {info.type} in the other"
            )
        merged[name] = common


class SymbolicLead:
    """The lead the solver chooses: profile fields and ``bound`` event slots per type, for
    the declarations of all the given policies (a field must have one type in all)."""

    def __init__(self, models: Sequence[CheckedPolicy], bound: int) -> None:
        self.bound = bound
        self.members = Members()
        self.domain: list[Term] = []
        fields: dict[str, Type] = {}
        events: dict[str, dict[str, Type]] = {}
        for model in models:
            if model.uses_accounts:
                raise Unsupported("accounts (account fields and account scores)")
            _same_fields("lead field", fields, model.fields)
            for name, event in model.events.items():
                _same_fields(f"field of event {name}", events.setdefault(name, {}), event.fields)
        for model in models:  # member numbers in declaration order: stable witnesses
            for info in model.fields.values():
                for member in info.type.members:
                    self.members.number(member)
        self.field_types = fields
        self.profile: dict[str, Val] = {}
        for name, kind in fields.items():
            val, constraint = _variable(f"lead.{name}", kind, self.members)
            self.profile[name] = val
            self.domain.append(constraint)
        self.event_types = events
        self.slots: dict[str, list[Slot]] = {}
        for name, event_fields in events.items():
            slots = self.slots[name] = []
            for number in range(bound):
                prefix = f"{name}#{number}"
                slot = Slot(name, number, z3.Bool(prefix), z3.Int(f"{prefix}.age"), {})
                for field_name, kind in event_fields.items():
                    val, constraint = _variable(f"{prefix}.{field_name}", kind, self.members)
                    slot.fields[field_name] = val
                    self.domain.append(constraint)
                self.domain.append(z3.And(slot.age >= 0, slot.age <= MAX_AGE))
                if slots:  # present slots first, youngest first: fewer equal leads to try
                    before = slots[-1]
                    self.domain.append(z3.Implies(slot.present, before.present))
                    self.domain.append(z3.Implies(slot.present, before.age <= slot.age))
                slots.append(slot)

    def all_slots(self) -> Iterable[Slot]:
        for slots in self.slots.values():
            yield from slots


def _round(value: Term) -> Term:
    """Two decimals, half away from zero (mqldsl.engine.runtime.round_score)."""
    up = z3.ToReal(z3.ToInt(value * 100 + z3.RealVal("1/2"))) / 100
    down = -z3.ToReal(z3.ToInt(-value * 100 + z3.RealVal("1/2"))) / 100
    return z3.If(value >= 0, up, down)


def text_value(text: str) -> Term:
    """A z3 string of ``text`` (z3 reads escapes in its literals: a backslash is written
    as one, and so is any character outside printable ASCII)."""
    escaped = "".join(c if " " <= c <= "~" and c != "\\" else f"\\u{{{ord(c):x}}}" for c in text)
    return z3.StringVal(escaped)


def python_text(term: Term) -> str:
    """The Python text of a z3 string value (z3 shows characters outside printable ASCII
    as ``\\u{HEX}``)."""
    return re.sub(r"\\u\{([0-9a-fA-F]+)\}", lambda m: chr(int(m[1], 16)), term.as_string())


def _real(value: float | int) -> Term:
    return z3.RealVal(str(Fraction(str(value))))


def _whole(points: Iterable[float | int]) -> bool:
    """Whether sums of these points never need rounding (at most two decimals)."""
    return all((Fraction(str(p)) * 100).denominator == 1 for p in points)


_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _same(a: Val, b: Val) -> Term:
    """``a == b`` for present values (of one kind: the checker saw to it)."""
    return a.term == b.term


@dataclass
class PolicyEncoding(ast.ContextVisitor[Slot | None, Val]):
    """One policy's decision as of T over ``lead`` (see the module's text)."""

    model: CheckedPolicy
    lead: SymbolicLead
    scores: dict[str, Val] = field(default_factory=dict)
    _depends: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        model = self.model
        if model.locked:
            raise Unsupported("locked stages (a timeline of stages)", model.stages.span)
        for name in model.score_order:
            self.scores[name] = self._score(model.scores[name].node)
        self.reasons: dict[str, Term] = {}
        for item in model.disqualifiers:
            holds = self.condition(item.condition)
            before = self.reasons.get(item.reason)
            self.reasons[item.reason] = holds if before is None else z3.Or(before, holds)
        self.disqualified = (
            z3.Or(list(self.reasons.values())) if self.reasons else z3.BoolVal(False)
        )
        self.stage_holds: list[Term] = []
        for stage in model.stages.stages:
            holds = (
                z3.BoolVal(False) if stage.condition is None else self.condition(stage.condition)
            )
            self.stage_holds.append(holds)
        self.routes: dict[str, list[tuple[Term, tuple[str, str | None]]]] = {}
        # Why the routes are not encoded (the stages and disqualifiers still are).
        self.route_problem: Unsupported | None = None
        self.route_nodes: dict[str, list[ast.Route]] = {}
        try:
            for route in model.routes:
                self._route(route)
        except Unsupported as exc:
            self.route_problem = exc
            self.routes = {}
            self.route_nodes = {}

    def _route(self, route: ast.Route) -> None:
        if route.on is not None:
            raise Unsupported("a hot-event route (`on EVENT`)", route.span)
        if route.condition is not None and self._timed(route.condition):
            raise Unsupported(
                "a route condition that depends on events (it is read at the instant "
                "the lead enters the stage)",
                route.span,
            )
        holds = z3.BoolVal(True) if route.condition is None else self.condition(route.condition)
        sla = None if route.sla is None else route.sla.text()
        self.routes.setdefault(route.stage, []).append((holds, (route.queue, sla)))
        self.route_nodes.setdefault(route.stage, []).append(route)

    # ------------------------------------------------------------ the decision

    def stage_is(self, name: str) -> Term:
        """The term "the stage as of T is ``name``" (``disqualified`` included)."""
        if name == DISQUALIFIED:
            return self.disqualified
        names = self.model.stage_names
        if name not in names:
            return z3.BoolVal(False)
        index = names.index(name)
        later = [holds for holds in self.stage_holds[index + 1 :]]
        own = z3.BoolVal(True) if index == 0 else self.stage_holds[index]
        return z3.And(z3.Not(self.disqualified), own, z3.Not(z3.Or(later)) if later else True)

    def reason_holds(self, reason: str) -> Term:
        return self.reasons.get(reason, z3.BoolVal(False))

    def route_is(self, target: tuple[str, str | None] | None) -> Term:
        """The term "the decision's route is ``target`` (queue, SLA text); None: no route"."""
        cases = []
        for stage in self.model.stage_names:
            chosen: Term = z3.BoolVal(target is None)
            for holds, route in reversed(self.routes.get(stage, [])):
                chosen = z3.If(holds, z3.BoolVal(route == target), chosen)
            cases.append(z3.And(self.stage_is(stage), chosen))
        if target is None:
            cases.append(self.disqualified)
        return z3.Or(cases)

    def route_targets(self) -> set[tuple[str, str | None]]:
        return {target for routes in self.routes.values() for _, target in routes}

    # ------------------------------------------------------------ scores

    def _score(self, score: ast.Score) -> Val:
        if score.on_account:
            raise Unsupported("an account score", score.span)
        if score.decay is not None:
            raise Unsupported("decay", score.decay.span)
        if score.formula is not None:
            value = self.visit(score.formula, None)
            if value.kind != "num":
                raise Unsupported("a derived score that is not a number", score.span)
            return Val("num", _round(value.term), value.ok)
        total: Term = z3.RealVal(0)
        points: list[float | int] = []
        for rule in score.rules or ():
            points.append(rule.points)
            if isinstance(rule, ast.WhenRule):
                total = total + z3.If(self.condition(rule.condition), _real(rule.points), 0)
                continue
            if rule.per_contact:
                raise Unsupported("a `per contact` rule", rule.span)
            raw = _real(rule.points) * self._count(rule.pattern)
            if rule.max is not None:
                limit = _real(rule.max)
                raw = z3.If(raw > limit, limit, z3.If(raw < -limit, -limit, raw))
                points.append(rule.max)
            total = total + raw
        if score.range is not None:
            low, high = _real(score.range.low), _real(score.range.high)
            total = z3.If(total < low, low, z3.If(total > high, high, total))
            points += [score.range.low, score.range.high]
        return Val("num", total if _whole(points) else _round(total), z3.BoolVal(True))

    def _timed(self, node: ast.Expr) -> bool:
        """Whether ``node``'s value can change with time (it reads events, directly or
        through a score)."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Pattern | ast.NoEvents | ast.Count | ast.Aggregate):
                return True
            if isinstance(sub, ast.DaysSince):
                return True
            if isinstance(sub, ast.Name):
                ref = self.model.refs.get(id(sub))
                if ref is not None and ref.kind == "event":
                    return True
                if ref is not None and ref.kind == "score" and self._score_timed(ref.name):
                    return True
        return False

    def _score_timed(self, name: str) -> bool:
        if name not in self._depends:
            self._depends[name] = False  # no cycles in a checked policy
            node = self.model.scores[name].node
            parts: list[ast.Expr] = [node.formula] if node.formula is not None else []
            for rule in node.rules or ():
                if isinstance(rule, ast.PerRule):
                    parts.append(rule.pattern)
                else:
                    parts.append(rule.condition)
            self._depends[name] = any(self._timed(part) for part in parts)
        return self._depends[name]

    # ------------------------------------------------------------ events

    def _slots(self, pattern: ast.Pattern) -> list[Slot]:
        if pattern.event is None:
            return [slot for slot in self.lead.all_slots() if slot.type in self.model.events]
        return list(self.lead.slots.get(pattern.event, []))

    def matches(self, pattern: ast.Pattern) -> list[tuple[Slot, Term]]:
        found = []
        for slot in self._slots(pattern):
            terms = [slot.present]
            if isinstance(pattern.window, ast.Duration):
                seconds = (
                    Fraction(str(pattern.window.amount)) * ast.UNIT_SECONDS[pattern.window.unit]
                )
                terms.append(z3.ToReal(slot.age) < z3.RealVal(str(seconds)))
            if pattern.where is not None:
                terms.append(self.condition(pattern.where, slot))
            found.append((slot, z3.And(terms)))
        return found

    def _count(self, pattern: ast.Pattern) -> Term:
        found = self.matches(pattern)
        if not found:
            return z3.RealVal(0)
        return z3.ToReal(z3.Sum([z3.If(m, 1, 0) for _, m in found]))

    # ------------------------------------------------------------ expressions

    def condition(self, node: ast.Expr, slot: Slot | None = None) -> Term:
        value = self.visit(node, slot)
        if value.kind != "bool":
            raise Unsupported(f"a condition of kind {value.kind}", _span(node))
        return z3.And(value.ok, value.term)

    def generic_visit(self, node: ast.Expr, slot: Slot | None) -> Val:
        raise Unsupported(f"`{type(node).__name__}` expressions", _span(node))

    def visit_NumberLit(self, node: ast.NumberLit, slot: Slot | None) -> Val:
        return Val("num", _real(node.value), z3.BoolVal(True), const=node.value)

    def visit_StringLit(self, node: ast.StringLit, slot: Slot | None) -> Val:
        return Val("str", text_value(node.value), z3.BoolVal(True), const=node.value)

    def visit_BoolLit(self, node: ast.BoolLit, slot: Slot | None) -> Val:
        return Val("bool", z3.BoolVal(node.value), z3.BoolVal(True), const=node.value)

    def visit_DateLit(self, node: ast.DateLit, slot: Slot | None) -> Val:
        return Val("date", z3.IntVal(node.value.toordinal()), z3.BoolVal(True), const=node.value)

    def visit_ListLit(self, node: ast.ListLit, slot: Slot | None) -> Val:
        return Val("list", items=tuple(self.visit(item, slot) for item in node.items))

    def _constant(self, value: object, kind: Type) -> Val:
        true = z3.BoolVal(True)
        if isinstance(value, tuple | list):
            element = kind.element or kind
            return Val("list", items=tuple(self._constant(v, element) for v in value))
        if kind.kind in ("enum", "member"):
            assert isinstance(value, str)
            return Val("enum", z3.IntVal(self.lead.members.number(value)), true, const=value)
        if isinstance(value, bool):
            return Val("bool", z3.BoolVal(value), true, const=value)
        if isinstance(value, int | float):
            return Val("num", _real(value), true, const=value)
        if isinstance(value, str):
            return Val("str", text_value(value), true, const=value)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return Val("date", z3.IntVal(value.toordinal()), true, const=value)
        raise Unsupported(f"a param value {value!r}")

    def visit_Name(self, node: ast.Name, slot: Slot | None) -> Val:
        ref = self.model.ref(node)
        if ref.kind == "field":
            return self.lead.profile[ref.name]
        if ref.kind == "event_field":
            if slot is None or ref.name not in slot.fields:
                return Val("missing", z3.BoolVal(False), z3.BoolVal(False))
            return slot.fields[ref.name]
        if ref.kind == "param":
            info = self.model.params[ref.name]
            return self._constant(info.value, info.type)
        if ref.kind == "score":
            return self.scores[ref.name]
        if ref.kind == "event":
            pattern = ast.Pattern(event=ref.name, where=None, window=None)
            return Val("bool", z3.Or([m for _, m in self.matches(pattern)] or [False]), True)
        if ref.kind == "member":
            number = self.lead.members.number(ref.name)
            return Val("enum", z3.IntVal(number), z3.BoolVal(True), const=ref.name)
        raise Unsupported(f"a reference to {ref.kind} `{ref.name}`", node.span)

    def visit_Unary(self, node: ast.Unary, slot: Slot | None) -> Val:
        value = self._number(node.operand, slot)
        return Val("num", -value.term, value.ok)

    def _number(self, node: ast.Expr, slot: Slot | None) -> Val:
        value = self.visit(node, slot)
        if value.kind != "num":
            raise Unsupported(f"arithmetic on {value.kind} values", _span(node))
        return value

    def visit_Arith(self, node: ast.Arith, slot: Slot | None) -> Val:
        left, right = self._number(node.left, slot), self._number(node.right, slot)
        ok = z3.And(left.ok, right.ok)
        if node.op == "+":
            return Val("num", left.term + right.term, ok)
        if node.op == "-":
            return Val("num", left.term - right.term, ok)
        if node.op == "*":
            return Val("num", left.term * right.term, ok)
        zero = right.term == 0
        return Val("num", z3.If(zero, 0, left.term / right.term), z3.And(ok, z3.Not(zero)))

    def visit_Compare(self, node: ast.Compare, slot: Slot | None) -> Val:
        left, right = self.visit(node.left, slot), self.visit(node.right, slot)
        if "missing" in (left.kind, right.kind):
            return Val("bool", z3.BoolVal(False), z3.BoolVal(True))
        if left.kind in ("set", "list") or right.kind in ("set", "list"):
            raise Unsupported("a comparison of sets or lists", node.span)
        if node.op in ("<", "<=", ">", ">=") and left.kind not in ("num", "date"):
            if left.kind != "str":
                raise Unsupported(f"an order comparison of {left.kind} values", node.span)
            terms = {"<": z3.StrLT, "<=": z3.StrLE}
            a, b = (left, right) if node.op in terms else (right, left)
            test = terms["<" if node.op in ("<", ">") else "<="](a.term, b.term)
            return Val("bool", z3.And(left.ok, right.ok, test), z3.BoolVal(True))
        test = _COMPARE[node.op](left.term, right.term)
        return Val("bool", z3.And(left.ok, right.ok, test), z3.BoolVal(True))

    def visit_Between(self, node: ast.Between, slot: Slot | None) -> Val:
        value, low, high = (self.visit(n, slot) for n in (node.operand, node.low, node.high))
        if "missing" in (value.kind, low.kind, high.kind):
            return Val("bool", z3.BoolVal(False), z3.BoolVal(True))
        test = z3.And(value.ok, low.ok, high.ok, low.term <= value.term, value.term <= high.term)
        return Val("bool", test, z3.BoolVal(True))

    def _contains(self, collection: Val, value: Val, node: ast.Expr) -> Term:
        """``value in collection`` for present values."""
        if collection.kind == "list":
            same = [z3.And(item.ok, _same(value, item)) for item in collection.items]
            return z3.Or(same) if same else z3.BoolVal(False)
        if collection.kind == "set":
            if value.const is None:
                raise Unsupported("a set tested for a value that is not a constant", _span(node))
            return collection.has(value.const)
        if collection.kind == "str" and value.kind == "str":
            return z3.Contains(collection.term, value.term)
        raise Unsupported(f"membership in a {collection.kind} value", _span(node))

    def visit_Membership(self, node: ast.Membership, slot: Slot | None) -> Val:
        value, collection = self.visit(node.operand, slot), self.visit(node.collection, slot)
        if "missing" in (value.kind, collection.kind):
            return Val("bool", z3.BoolVal(False), z3.BoolVal(True))
        found = self._contains(collection, value, node)
        test = z3.Not(found) if node.negated else found
        ok = z3.And(value.ok, collection.ok)
        return Val("bool", z3.And(ok, test), z3.BoolVal(True))

    def visit_TextTest(self, node: ast.TextTest, slot: Slot | None) -> Val:
        value, part = self.visit(node.operand, slot), self.visit(node.value, slot)
        if "missing" in (value.kind, part.kind):
            return Val("bool", z3.BoolVal(False), z3.BoolVal(True))
        if node.op == "contains":
            test = self._contains(value, part, node)
        elif node.op == "starts with":
            test = z3.PrefixOf(part.term, value.term)
        else:
            test = z3.SuffixOf(part.term, value.term)
        return Val("bool", z3.And(value.ok, part.ok, test), z3.BoolVal(True))

    def visit_Presence(self, node: ast.Presence, slot: Slot | None) -> Val:
        value = self.visit(node.operand, slot)
        ok = value.ok
        return Val("bool", z3.Not(ok) if node.missing else ok, z3.BoolVal(True))

    def visit_Not(self, node: ast.Not, slot: Slot | None) -> Val:
        return Val("bool", z3.Not(self.condition(node.operand, slot)), z3.BoolVal(True))

    def visit_And(self, node: ast.And, slot: Slot | None) -> Val:
        terms = [self.condition(o, slot) for o in node.operands]
        return Val("bool", z3.And(terms), z3.BoolVal(True))

    def visit_Or(self, node: ast.Or, slot: Slot | None) -> Val:
        terms = [self.condition(o, slot) for o in node.operands]
        return Val("bool", z3.Or(terms), z3.BoolVal(True))

    def visit_Pattern(self, node: ast.Pattern, slot: Slot | None) -> Val:
        found = [m for _, m in self.matches(node)]
        return Val("bool", z3.Or(found) if found else z3.BoolVal(False), z3.BoolVal(True))

    def visit_NoEvents(self, node: ast.NoEvents, slot: Slot | None) -> Val:
        found = self.visit_Pattern(node.pattern, slot)
        return Val("bool", z3.Not(found.term), z3.BoolVal(True))

    def visit_Count(self, node: ast.Count, slot: Slot | None) -> Val:
        return Val("num", self._count(node.pattern), z3.BoolVal(True))

    def visit_DaysSince(self, node: ast.DaysSince, slot: Slot | None) -> Val:
        pattern = ast.Pattern(event=node.event, where=node.where, window=None)
        found = self.matches(pattern)
        youngest: Term = z3.RealVal(0)
        ages = [(m, z3.ToReal(s.age)) for s, m in found]
        for match, age in ages:
            youngest = z3.If(
                z3.And(match, z3.And([z3.Or(z3.Not(o), a >= age) for o, a in ages])),
                age,
                youngest,
            )
        any_match = z3.Or([m for m, _ in ages]) if ages else z3.BoolVal(False)
        return Val("num", youngest / DAY, any_match)

    def visit_Aggregate(self, node: ast.Aggregate, slot: Slot | None) -> Val:
        found = [(s, m) for s, m in self.matches(node.pattern) if node.field in s.fields]
        values = [(z3.And(m, s.fields[node.field].ok), s.fields[node.field].term) for s, m in found]
        total = z3.Sum([z3.If(use, v, 0) for use, v in values]) if values else z3.RealVal(0)
        if node.function == "sum":
            return Val("num", total, z3.BoolVal(True))
        any_value = z3.Or([use for use, _ in values]) if values else z3.BoolVal(False)
        if node.function == "avg":
            count = z3.ToReal(z3.Sum([z3.If(use, 1, 0) for use, _ in values])) if values else 1
            return Val("num", z3.If(any_value, total / count, 0), any_value)
        best: Term = z3.RealVal(0)
        largest = node.function == "max"
        for use, value in values:
            beats = [(value >= v) if largest else (value <= v) for _, v in values]
            wins = z3.And([z3.Or(z3.Not(u), b) for (u, _), b in zip(values, beats, strict=True)])
            best = z3.If(z3.And(use, wins), value, best)
        return Val("num", best, any_value)


def _span(node: ast.Expr) -> Span | None:
    span: Span | None = getattr(node, "span", None)
    return span
