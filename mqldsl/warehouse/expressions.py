"""A checked policy's expressions as sqlglot expressions over one lead at one
instant ``t`` of its timeline (the ``inst`` step of the query), or over one
event (``in_event``: the ``ev`` step, which evaluates `where` filters).

Compiling an expression registers what the timeline must carry for it: each
event pattern (event type and `where` filter) gets a flag ``p<i>`` on the
events, each pattern and window a counter ``n<i>``, each `days since` or
decayed `when` a running maximum of match times ``x<i>``, each decayed `per`
rule a decayed sum ``k<i>``, each `sum/max/min/avg` a column ``g<i>`` (over the
aggregated field's values ``v<j>`` on the events). Lead fields are ``f<i>`` (in declared order),
account fields ``a<i>`` and scores ``s<i>`` (in dependency order).

In an account score (SPEC §9) a pattern is an *account pattern*: it matches the
events of all the account's leads (its flag is not limited to the lead's own
events), its `where` reads the fields of the lead each event belongs to; each
`count(distinct contact with ...)` and `per contact` rule reads, per contact,
the latest match in the window ``m<i>``, aggregated over the contacts into a
count ``c<i>`` or a decayed sum ``kc<i>``.

Every condition compiles to a boolean that is never NULL (SPEC §5): a
comparison, membership or text test with a NULL operand is
``COALESCE(..., FALSE)``, so ``not`` inverts it as SPEC §5 says instead of
SQL's three-valued logic. Arithmetic keeps NULL; division by zero is NULL.
Numeric fields are DOUBLE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlglot import exp

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.language import ast
from mqldsl.language.notation import expr as expr_text
from mqldsl.warehouse.builders import (
    DAY_US,
    US,
    case,
    coalesce_false,
    col,
    double,
    greatest,
    least,
    micros_between,
    num,
    paren,
    timestamp,
    user_col,
)

Value = tuple[exp.Expr, bool]  # a SQL value and whether it may be NULL (missing)


@dataclass
class Counter:
    """A running count of the events that match pattern ``pattern``: within
    the last ``window_us`` microseconds, or ever (None). Column ``name``."""

    name: str
    pattern: int
    window_us: int | None


class DecayedRule(NamedTuple):
    """A decayed `per` rule: at each instant, the sum over its matching
    events of ``points * factor ** floor(age / every_us)``. Column ``name``."""

    name: str
    pattern: int
    window_us: int | None
    points: float
    factor: float  # what a point keeps per decay period
    every_us: int  # the decay period


class AggregateColumn(NamedTuple):
    """`sum/max/min/avg(...)`: at each instant, ``function`` of the values (the ``ev`` column
    ``value``) of the events that match pattern ``pattern`` within the last ``window_us``
    microseconds (None: ever). Column ``name``; ``whole``: a sum of an int field."""

    name: str
    pattern: int
    window_us: int | None
    function: str
    value: str
    whole: bool


class ContactRule(NamedTuple):
    """An aggregate over the account's leads, from each lead's latest match of a pattern in
    a window (the column ``latest`` of the per-contact step): how many leads have one
    (``points`` None), or the sum over them of ``points * factor ** floor(age / every_us)``
    of that latest match (a decayed `per contact` rule). Column ``name``."""

    name: str
    latest: str
    points: float | None
    factor: float
    every_us: int


def _window_us(window: ast.Duration | str | None) -> int | None:
    """A pattern's window in microseconds (None: ever)."""
    return round(window.seconds * US) if isinstance(window, ast.Duration) else None


class ExpressionCompiler:
    """Compiles the expressions of one policy with one set of param values,
    and keeps the registries of what the timeline must carry for them."""

    def __init__(self, model: CheckedPolicy, params: Mapping[str, Any]) -> None:
        self.model = model
        self.params = params
        # (account pattern, event, `where` as text) -> (index, event, where, account pattern)
        self.patterns: dict[
            tuple[bool, str | None, str], tuple[int, str | None, ast.Expr | None, bool]
        ] = {}
        # Whether the expressions being compiled belong to an account score (SPEC §9): their
        # patterns match the events of all the account's leads.
        self.account = False
        # (pattern, window) -> the column of each contact's latest match in the window
        self.contact_latest: dict[tuple[int, int | None], str] = {}
        self.contact_rules: list[ContactRule] = []
        self.counters: dict[tuple[int, int | None], Counter] = {}  # (pattern, window) -> counter
        self.latest: dict[int, str] = {}  # pattern -> column of its latest match time
        self.decayed: list[DecayedRule] = []
        self.aggregates: dict[tuple[int, int | None, str, str], AggregateColumn] = {}
        self.values: dict[str, str] = {}  # an event field aggregated -> its `ev` column
        # Whether a value changes between the instants at which counters
        # change (`days since` grows with time): then every instant counts.
        self.continuous = False
        self.field_index = {name: i for i, name in enumerate(model.fields)}
        self.account_index = {name: i for i, name in enumerate(model.account_fields)}
        self.score_index = {name: i for i, name in enumerate(model.score_order)}
        self.event_field_kind: dict[str, str] = {}
        for event in model.events.values():
            for name, info in event.fields.items():
                self.event_field_kind[name] = info.type.kind
        self._values = {flag: _Values(self, flag) for flag in (False, True)}
        self._conditions = {flag: _Conditions(self, flag) for flag in (False, True)}

    # ------------------------------------------------------------ registries

    def pattern(self, event: str | None, where: ast.Expr | None) -> int:
        """The index of an event pattern (registered on first use); in an account score,
        of an account pattern."""
        key = (self.account, event, expr_text(where) if where is not None else "")
        if key not in self.patterns:
            self.patterns[key] = (len(self.patterns), event, where, self.account)
        return self.patterns[key][0]

    def contacts(
        self,
        pattern: ast.Pattern,
        points: float | None = None,
        decay: ast.DecayOption | None = None,
    ) -> exp.Column:
        """The column of how many of the account's leads match ``pattern`` in its window, or
        (with ``points`` and ``decay``) of a decayed `per contact` rule's sum."""
        index = self.pattern(pattern.event, pattern.where)
        key = (index, _window_us(pattern.window))
        if key not in self.contact_latest:
            self.contact_latest[key] = f"m{len(self.contact_latest)}"
        latest = self.contact_latest[key]
        if points is None or decay is None:
            for rule in self.contact_rules:
                if rule.latest == latest and rule.points is None:
                    return col(rule.name)
            rule = ContactRule(f"c{len(self.contact_rules)}", latest, None, 1.0, 1)
        else:
            rule = ContactRule(
                f"kc{len(self.contact_rules)}",
                latest,
                points,
                1.0 - float(decay.percent) / 100.0,
                round(decay.every.seconds * US),
            )
        self.contact_rules.append(rule)
        return col(rule.name)

    def counter(self, pattern: ast.Pattern) -> exp.Column:
        """The column that counts the pattern's matches in its window."""
        index = self.pattern(pattern.event, pattern.where)
        key = (index, _window_us(pattern.window))
        if key not in self.counters:
            self.counters[key] = Counter(f"n{len(self.counters)}", index, key[1])
        return col(self.counters[key].name)

    def latest_of(self, event: str | None, where: ast.Expr | None) -> exp.Column:
        """The column of the latest time the pattern matched (NULL: never)."""
        index = self.pattern(event, where)
        if index not in self.latest:
            self.latest[index] = f"x{len(self.latest)}"
        return col(self.latest[index])

    def aggregate(self, node: ast.Aggregate) -> exp.Column:
        """The column of an aggregate at each instant (registered on first use): NULL for
        max, min and avg when no matching event has the field; a sum is never NULL."""
        pattern = node.pattern
        index = self.pattern(pattern.event, pattern.where)
        window = _window_us(pattern.window)
        key = (index, window, node.function, node.field)
        if key not in self.aggregates:
            value = self.values.setdefault(node.field, f"v{len(self.values)}")
            whole = node.function == "sum" and self.model.type_of(node).kind == "int"
            self.aggregates[key] = AggregateColumn(
                f"g{len(self.aggregates)}", index, window, node.function, value, whole
            )
        return col(self.aggregates[key].name)

    # ------------------------------------------------------------ expressions

    def literal(self, value: Any) -> exp.Expr:
        """A Python value (of a literal or a param) as a SQL literal."""
        if isinstance(value, bool):
            return exp.Boolean(this=value)
        if isinstance(value, int | float):
            return num(value)
        if isinstance(value, str):
            return exp.Literal.string(value)
        if isinstance(value, dt.datetime):
            seconds = (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()
            return timestamp(seconds)
        if isinstance(value, dt.date):
            return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
        raise TypeError(f"no SQL literal for {value!r}")  # pragma: no cover

    def value(self, node: ast.Expr, in_event: bool = False) -> Value:
        """A SQL value and whether it may be NULL (missing)."""
        return self._values[in_event].visit(node)

    def cond(self, node: ast.Expr, in_event: bool = False) -> exp.Expr:
        """A boolean that is never NULL (SPEC §5 missing-value semantics)."""
        return self._conditions[in_event].visit(node)

    # ------------------------------------------------------------ scores

    def score(self, name: str) -> exp.Expr:
        """The unrounded value of score ``name`` at instant t."""
        score = self.model.scores[name].node
        saved = self.account
        self.account = score.on_account
        try:
            return self._score(score)
        finally:
            self.account = saved

    def _score(self, score: ast.Score) -> exp.Expr:
        if score.formula is not None:
            value, _ = self.value(score.formula)
            return double(value)
        decay = score.decay
        parts: list[exp.Expr] = []
        for rule in score.rules or ():
            points = num(rule.points)
            part: exp.Expr
            if isinstance(rule, ast.PerRule) and rule.per_contact:
                # P for each of the account's leads with a match (SPEC §9); with decay,
                # each lead's P decays by the age of its latest match.
                if decay is None:
                    part = exp.Mul(this=points, expression=self.contacts(rule.pattern))
                else:
                    part = self.contacts(rule.pattern, float(rule.points), decay)
                if rule.max is not None:
                    limit = float(rule.max)
                    part = least(greatest(part, num(-limit)), num(limit))
            elif isinstance(rule, ast.PerRule):
                if decay is None:
                    part = exp.Mul(this=points, expression=self.counter(rule.pattern))
                else:
                    part = self._decayed_sum(rule, decay)
                if rule.max is not None:
                    limit = float(rule.max)
                    part = least(greatest(part, num(-limit)), num(limit))
            else:
                pattern = self.model.decay_pattern(rule.condition)
                if decay is not None and pattern is not None:
                    latest = self.latest_of(pattern.event, pattern.where)
                    factor = self._decay_factor(decay, latest, col("t"))
                    part = case(
                        [(self.cond(pattern), exp.Mul(this=points, expression=factor))],
                        exp.Literal.number(0),
                    )
                else:
                    part = case([(self.cond(rule.condition), points)], exp.Literal.number(0))
            parts.append(part)
        total: exp.Expr = double(exp.Literal.number(0))
        for index, part in enumerate(parts):
            total = part if index == 0 else exp.Add(this=total, expression=part)
        if score.range is not None:
            low, high = float(score.range.low), float(score.range.high)
            total = least(greatest(total, num(low)), num(high))
        return total

    def _decay_factor(self, decay: ast.DecayOption, since: exp.Expr, until: exp.Expr) -> exp.Expr:
        """What a point earned at ``since`` is worth at ``until``."""
        factor = 1.0 - float(decay.percent) / 100.0
        every = round(decay.every.seconds * US)
        steps = exp.Floor(
            this=exp.Div(this=double(micros_between(since, until)), expression=num(float(every)))
        )
        return exp.Pow(this=num(factor), expression=steps)

    def _decayed_sum(self, rule: ast.PerRule, decay: ast.DecayOption) -> exp.Column:
        """The column of a decayed `per` rule's sum (registered here)."""
        index = self.pattern(rule.pattern.event, rule.pattern.where)
        name = f"k{len(self.decayed)}"
        self.decayed.append(
            DecayedRule(
                name,
                index,
                _window_us(rule.pattern.window),
                float(rule.points),
                1.0 - float(decay.percent) / 100.0,
                round(decay.every.seconds * US),
            )
        )
        return col(name)


class _Values(ast.Visitor[Value]):
    """:meth:`ExpressionCompiler.value`, one method per expression kind."""

    def __init__(self, c: ExpressionCompiler, in_event: bool) -> None:
        self.c = c
        self.in_event = in_event

    def _literal(
        self, node: ast.NumberLit | ast.StringLit | ast.BoolLit | ast.DateLit | ast.InstantLit
    ) -> Value:
        return self.c.literal(node.value), False

    visit_NumberLit = visit_StringLit = visit_BoolLit = visit_DateLit = _literal
    visit_InstantLit = _literal

    def visit_Name(self, node: ast.Name) -> Value:
        c = self.c
        ref = c.model.ref(node)
        if ref.kind == "field":
            name = f"f{c.field_index[ref.name]}"
            return col(name, "lf" if self.in_event else None), True
        if ref.kind == "event_field":
            column: exp.Expr = user_col(ref.name, "e")
            if c.event_field_kind.get(ref.name) in ("int", "number"):
                column = double(column)
            return column, True
        if ref.kind == "account_field":
            return col(f"a{c.account_index[ref.name]}", "lf" if self.in_event else None), True
        if ref.kind == "param":
            return c.literal(c.params[ref.name]), False
        if ref.kind == "score":
            return col(f"s{c.score_index[ref.name]}"), True
        if ref.kind == "event":
            return c.cond(node, self.in_event), False
        return exp.Literal.string(ref.name), False  # an enum member

    def visit_Unary(self, node: ast.Unary) -> Value:
        operand, nullable = self.visit(node.operand)
        return exp.Neg(this=paren(operand)), nullable

    def visit_Arith(self, node: ast.Arith) -> Value:
        left, ln = self.visit(node.left)
        right, rn = self.visit(node.right)
        if node.op == "/":
            divisor = exp.Nullif(this=paren(right), expression=exp.Literal.number(0))
            return exp.Div(this=double(left), expression=divisor), True
        kind = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[node.op]
        return kind(this=paren(left), expression=paren(right)), ln or rn

    def visit_Count(self, node: ast.Count) -> Value:
        return self.c.counter(node.pattern), False

    def visit_Aggregate(self, node: ast.Aggregate) -> Value:
        return self.c.aggregate(node), node.function != "sum"

    def visit_DaysSince(self, node: ast.DaysSince) -> Value:
        self.c.continuous = True
        latest = self.c.latest_of(node.event, node.where)
        micros = micros_between(latest, col("t"))
        return exp.Div(this=double(micros), expression=num(float(DAY_US))), True

    def visit_ContactCount(self, node: ast.ContactCount) -> Value:
        return self.c.contacts(node.pattern), False

    def visit_AccountRef(self, node: ast.AccountRef) -> Value:
        # `account.SCORE` (the account score at t) or `account.FIELD` (SPEC §9).
        c = self.c
        ref = c.model.refs.get(id(node))
        if ref is not None and ref.kind == "score":
            return col(f"s{c.score_index[ref.name]}"), True
        return col(f"a{c.account_index[node.field]}", "lf" if self.in_event else None), True

    def _condition(
        self,
        node: ast.And
        | ast.Or
        | ast.Not
        | ast.Compare
        | ast.Between
        | ast.Membership
        | ast.TextTest
        | ast.Presence
        | ast.Pattern
        | ast.NoEvents,
    ) -> Value:
        return self.c.cond(node, self.in_event), False

    visit_And = visit_Or = visit_Not = visit_Compare = visit_Between = _condition
    visit_Membership = visit_TextTest = visit_Presence = _condition
    visit_Pattern = visit_NoEvents = _condition


class _Conditions(ast.Visitor[exp.Expr]):
    """:meth:`ExpressionCompiler.cond`, one method per expression kind; any
    other kind is a value compared with TRUE."""

    def __init__(self, c: ExpressionCompiler, in_event: bool) -> None:
        self.c = c
        self.in_event = in_event

    def _value(self, node: ast.Expr) -> Value:
        return self.c.value(node, self.in_event)

    def visit_And(self, node: ast.And) -> exp.Expr:
        return exp.and_(*(paren(self.visit(o)) for o in node.operands))

    def visit_Or(self, node: ast.Or) -> exp.Expr:
        return exp.or_(*(paren(self.visit(o)) for o in node.operands))

    def visit_Not(self, node: ast.Not) -> exp.Expr:
        return exp.Not(this=paren(self.visit(node.operand)))

    def visit_BoolLit(self, node: ast.BoolLit) -> exp.Expr:
        return exp.Boolean(this=node.value)

    def visit_Name(self, node: ast.Name) -> exp.Expr:
        if self.c.model.ref(node).kind == "event":
            pattern = ast.Pattern(event=node.name, where=None, window=None)
            return exp.GT(this=self.c.counter(pattern), expression=exp.Literal.number(0))
        return self.generic_visit(node)

    def visit_Pattern(self, node: ast.Pattern) -> exp.Expr:
        return exp.GT(this=self.c.counter(node), expression=exp.Literal.number(0))

    def visit_NoEvents(self, node: ast.NoEvents) -> exp.Expr:
        return exp.EQ(this=self.c.counter(node.pattern), expression=exp.Literal.number(0))

    def visit_Compare(self, node: ast.Compare) -> exp.Expr:
        kind = {
            "==": exp.EQ,
            "!=": exp.NEQ,
            "<": exp.LT,
            "<=": exp.LTE,
            ">": exp.GT,
            ">=": exp.GTE,
        }[node.op]
        left, ln = self._value(node.left)
        right, rn = self._value(node.right)
        compared = kind(this=paren(left), expression=paren(right))
        return coalesce_false(compared) if ln or rn else compared

    def visit_Between(self, node: ast.Between) -> exp.Expr:
        x, xn = self._value(node.operand)
        low, lown = self._value(node.low)
        high, highn = self._value(node.high)
        between = exp.Between(this=paren(x), low=paren(low), high=paren(high))
        return coalesce_false(between) if xn or lown or highn else between

    def visit_Membership(self, node: ast.Membership) -> exp.Expr:
        operand, on = self._value(node.operand)
        items, array, an = self._collection(node.collection)
        found: exp.Expr
        if items is not None:
            found = exp.In(this=paren(operand), expressions=items) if items else exp.false()
        else:
            assert array is not None
            found = exp.ArrayContains(this=array, expression=operand)
        if not node.negated:
            return coalesce_false(found)
        guards: list[exp.Expr] = []
        if on:
            guards.append(exp.Not(this=exp.Is(this=paren(operand), expression=exp.null())))
        if an and array is not None:
            guards.append(exp.Not(this=exp.Is(this=array.copy(), expression=exp.null())))
        return exp.and_(*guards, exp.Not(this=paren(coalesce_false(found))))

    def _collection(self, node: ast.Expr) -> tuple[list[exp.Expr] | None, exp.Expr | None, bool]:
        """A membership's right side: literal items, or an array value (and
        whether it may be NULL)."""
        if isinstance(node, ast.ListLit):
            return [self._value(item)[0] for item in node.items], None, False
        if isinstance(node, ast.Name) and self.c.model.ref(node).kind == "param":
            value = self.c.params[node.name]
            if isinstance(value, tuple | list | frozenset | set):
                return [self.c.literal(item) for item in value], None, False
        array, nullable = self._value(node)
        return None, array, nullable

    def visit_TextTest(self, node: ast.TextTest) -> exp.Expr:
        operand, on = self._value(node.operand)
        part, pn = self._value(node.value)
        test: exp.Expr
        if node.op == "contains":
            if self.c.model.type_of(node.operand).kind == "set":
                test = exp.ArrayContains(this=operand, expression=part)
            else:
                position = exp.StrPosition(this=operand, substr=part)
                test = exp.GT(this=position, expression=exp.Literal.number(0))
        elif node.op == "starts with":
            test = exp.StartsWith(this=operand, expression=part)
        else:
            test = exp.EndsWith(this=operand, expression=part)
        return coalesce_false(test) if on or pn else test

    def visit_Presence(self, node: ast.Presence) -> exp.Expr:
        operand, _ = self._value(node.operand)
        test = exp.Is(this=paren(operand), expression=exp.null())
        return test if node.missing else exp.Not(this=test)

    def generic_visit(self, node: ast.Expr) -> exp.Expr:
        value, nullable = self._value(node)
        compared = exp.EQ(this=paren(value), expression=exp.true())
        return coalesce_false(compared) if nullable else compared
