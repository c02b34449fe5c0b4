"""Compile a checked policy into one SQL query, built as a sqlglot expression
tree and generated for DuckDB, Spark, Snowflake, BigQuery or PostgreSQL.

The query reads two tables::

    leads(id, <one column per lead field>)
    events(lead_id, type, at, <one column per event field>)

and returns one row per lead: ``id``, ``as_of``, ``stage``, ``score_<name>``
for every score, ``disqualified`` (the reasons that hold, in declared order),
``queue``, ``sla``, ``due`` and ``entered_<stage>`` for every stage (and
``entered_disqualified``).

How it keeps the Python engine's semantics (SPEC §4–8):

- **The timeline.** The instants of a lead (every event time, every event
  time plus every window the policy uses, every decay step, the as-of
  instant) are the rows of one stream per lead. Every event pattern with a
  window becomes a counter: +1 at each matching event, -1 when that event
  leaves the window (exactly at ``at + D``, so windows are half-open); a
  running sum over the stream gives the count in ``(t - D, t]`` at every
  instant. ``days since`` and decayed ``when`` rules read a running maximum
  of the match times. Decayed ``per`` rules sum their occurrences at each
  instant through a join of the instants with the events.
- **Missing values.** Every condition compiles to a boolean that is never
  NULL: a comparison, membership or text test with a NULL operand is
  ``COALESCE(..., FALSE)``, so ``not`` inverts it as SPEC §5 says instead of
  SQL's three-valued logic. Arithmetic keeps NULL; division by zero is NULL.
- **Numbers.** Numeric fields are DOUBLE; a score is clamped to its range and
  rounded half away from zero to two decimals on the shortest decimal form of
  the double, as the Python engine does.
- **Stages.** Flexible stages are computed at every instant on their own;
  locked stages (without recycling) are a running maximum of the holding
  stage over the instants at which no disqualifier holds. ``entered`` is the
  first instant of each stage's latest stay; the route is the first route of
  the stage whose condition holds at that instant.

Names and strings from the policy reach SQL only as sqlglot identifiers
(always quoted) and literals; internal columns have short generated names
that never meet a policy name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from mqldsl.check.model import CheckedPolicy
from mqldsl.engine.runtime import from_seconds
from mqldsl.language import ast
from mqldsl.language.ast import walk
from mqldsl.language.diagnostics import Diagnostic, DiagnosticsError, error

DIALECTS = ("duckdb", "spark", "snowflake", "bigquery", "postgres")
DISQUALIFIED = "disqualified"
_US = 1_000_000
_DAY_US = 86_400 * _US
_RESERVED_EVENT_COLUMNS = ("lead_id", "type", "at")
_PACK, _BITS = 3, 21  # counters per BIGINT column, bits per counter
MAX_COUNT = (1 << _BITS) - 1  # the most events one packed counter can count

# ---------------------------------------------------------------- what SQL cannot do


def sql_diagnostics(model: CheckedPolicy) -> list[Diagnostic]:
    """Why this policy cannot be compiled to SQL faithfully (empty if it can)."""
    found: list[Diagnostic] = []
    for recycle in model.recycles:
        found.append(
            error(
                "E601",
                "the SQL back end does not replay recycling "
                f"(`recycle {recycle.from_stage} to {recycle.to_stage}`)",
                recycle.span,
                "recycling restarts a lead's journey at an instant that depends on its own "
                "history; score this policy with the Python engine (the default)",
            )
        )
    for node in _all_expressions(model):
        for part in walk(node):
            if isinstance(part, ast.AccountRef):
                found.append(
                    error(
                        "E602",
                        f"`account.{part.field}` has no column in the SQL tables",
                        part.span,
                        "account fields are read from journeys by the Python engine only",
                    )
                )
    for name, info in model.fields.items():
        if name == "id":
            found.append(
                error(
                    "E603",
                    "a lead field named `id` clashes with the leads table's `id` column",
                    info.node.span,
                    "rename the field (for example `external_id`)",
                )
            )
    seen: dict[str, tuple[str, str]] = {}
    for event in model.events.values():
        for name, info in event.fields.items():
            if name in _RESERVED_EVENT_COLUMNS:
                found.append(
                    error(
                        "E603",
                        f"event field `{name}` clashes with the events table's `{name}` column",
                        info.node.span,
                        "rename the field",
                    )
                )
                continue
            kind = _column_kind(info.type.kind)
            earlier = seen.setdefault(name, (kind, event.name))
            if earlier[0] != kind:
                found.append(
                    error(
                        "E603",
                        f"event field `{name}` is {kind} here but {earlier[0]} in "
                        f"event `{earlier[1]}`: the events table has one `{name}` column",
                        info.node.span,
                        "give the two fields different names",
                    )
                )
    return found


def _column_kind(kind: str) -> str:
    if kind in ("int", "number"):
        return "a number"
    if kind in ("text", "enum"):
        return "a text"
    if kind == "set":
        return "a set"
    return f"a {kind}"


def _all_expressions(model: CheckedPolicy) -> list[ast.Expr]:
    nodes: list[ast.Expr] = []
    for info in model.scores.values():
        score = info.node
        if score.formula is not None:
            nodes.append(score.formula)
        for rule in score.rules or ():
            nodes.append(rule.condition if isinstance(rule, ast.WhenRule) else rule.pattern)
    nodes += [s.condition for s in model.stages.stages if s.condition is not None]
    nodes += [d.condition for d in model.disqualifiers]
    nodes += [r.condition for r in model.routes if r.condition is not None]
    nodes += [r.condition for r in model.recycles]
    return nodes


# ---------------------------------------------------------------- small builders


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


def _user_col(name: str, table: str) -> exp.Column:
    """A column named by the policy: always quoted."""
    return exp.Column(this=exp.to_identifier(name, quoted=True), table=exp.to_identifier(table))


def _num(value: float | int) -> exp.Expr:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 2**53):
        number = exp.Literal.number(int(value))
        return exp.Neg(this=exp.Literal.number(-int(value))) if value < 0 else number
    literal = exp.cast(exp.Literal.number(repr(abs(float(value)))), exp.DataType.Type.DOUBLE)
    return exp.Neg(this=literal) if value < 0 else literal


def _double(node: exp.Expr) -> exp.Expr:
    return exp.cast(node, exp.DataType.Type.DOUBLE)


def _paren(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Column | exp.Literal | exp.Boolean | exp.Paren | exp.Cast):
        return node
    return exp.Paren(this=node)


def _coalesce_false(node: exp.Expr) -> exp.Expr:
    return exp.Coalesce(this=node, expressions=[exp.false()])


def _case(whens: Sequence[tuple[exp.Expr, exp.Expr]], default: exp.Expr | None = None) -> exp.Expr:
    case = exp.Case()
    for condition, value in whens:
        case = case.when(condition, value)
    if default is not None:
        case = case.else_(default)
    return case


def _interval(microseconds: int) -> exp.Interval:
    return exp.Interval(this=exp.Literal.string(str(microseconds)), unit=exp.var("MICROSECOND"))


def _micros_between(start: exp.Expr, end: exp.Expr) -> exp.Expr:
    return exp.DateDiff(this=end, expression=start, unit=exp.var("MICROSECOND"))


def _timestamp(seconds: float) -> exp.Expr:
    moment = from_seconds(seconds)
    return exp.cast(
        exp.Literal.string(moment.strftime("%Y-%m-%d %H:%M:%S.%f")), exp.DataType.Type.TIMESTAMP
    )


def _window(function: exp.Expr, *, running: bool = True, order: bool = True) -> exp.Window:
    spec = (
        exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
        if running
        else None
    )
    return exp.Window(
        this=function,
        partition_by=[_col("lid")],
        order=exp.Order(expressions=[exp.Ordered(this=_col("t"), nulls_first=True)])
        if order
        else None,
        spec=spec,
    )


def _round_score(x: exp.Expr) -> exp.Expr:
    """Two decimals, half away from zero, on the shortest decimal form of the
    double (the Python engine rounds ``Decimal(repr(x))``); whole numbers as
    they are. ``x`` must be a column (it appears three times)."""
    decimal = exp.DataType.build("DECIMAL(38, 16)")
    text = exp.cast(x.copy(), exp.DataType.Type.VARCHAR)
    rounded = exp.Round(this=exp.cast(text, decimal), decimals=exp.Literal.number(2))
    return _case(
        [(exp.EQ(this=x.copy(), expression=exp.Floor(this=x.copy())), _double(x.copy()))],
        _double(rounded),
    )


def _greatest(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.Greatest(this=a, expressions=[b])


def _least(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.Least(this=a, expressions=[b])


# ---------------------------------------------------------------- the compiled query


@dataclass
class SqlPolicy:
    """The compiled query of one policy, one as-of instant and one set of params."""

    model: CheckedPolicy
    as_of: float
    params: dict[str, Any]
    query: exp.Query
    score_columns: dict[str, str]  # score name -> output column
    entered_columns: dict[str, str]  # stage (and "disqualified") -> output column
    first_columns: dict[str, tuple[str, str]] = field(default_factory=dict)

    def sql(self, dialect: str = "duckdb", pretty: bool = True) -> str:
        return self.query.sql(dialect=dialect, pretty=pretty, unsupported_level=_RAISE)


_RAISE = sqlglot.ErrorLevel.RAISE


@dataclass
class _Counter:
    name: str
    pattern: int
    window_us: int | None


class _SqlCompiler:
    def __init__(self, model: CheckedPolicy, params: Mapping[str, Any]) -> None:
        self.model = model
        self.params = params
        self.patterns: dict[tuple[str | None, str], tuple[int, str | None, ast.Expr | None]] = {}
        self.counters: dict[tuple[int, int | None], _Counter] = {}
        self.latest: dict[int, str] = {}
        self.decayed: list[tuple[str, int, int | None, float, float, int]] = []
        # Whether a value changes between the instants at which counters
        # change (`days since` grows with time): then every instant counts.
        self.continuous = False
        self.field_index = {name: i for i, name in enumerate(model.fields)}
        self.score_index = {name: i for i, name in enumerate(model.score_order)}
        self.event_field_kind: dict[str, str] = {}
        for event in model.events.values():
            for name, info in event.fields.items():
                self.event_field_kind[name] = info.type.kind

    # ------------------------------------------------------------ registries

    def pattern(self, event: str | None, where: ast.Expr | None) -> int:
        from mqldsl.language.printer import expr

        key = (event, expr(where) if where is not None else "")
        if key not in self.patterns:
            self.patterns[key] = (len(self.patterns), event, where)
        return self.patterns[key][0]

    def counter(self, pattern: ast.Pattern) -> exp.Column:
        index = self.pattern(pattern.event, pattern.where)
        window = (
            round(pattern.window.seconds * _US)
            if isinstance(pattern.window, ast.Duration)
            else None
        )
        key = (index, window)
        if key not in self.counters:
            self.counters[key] = _Counter(f"n{len(self.counters)}", index, window)
        return _col(self.counters[key].name)

    def latest_of(self, event: str | None, where: ast.Expr | None) -> exp.Column:
        index = self.pattern(event, where)
        if index not in self.latest:
            self.latest[index] = f"x{len(self.latest)}"
        return _col(self.latest[index])

    # ------------------------------------------------------------ values

    def literal(self, value: Any) -> exp.Expr:
        if isinstance(value, bool):
            return exp.Boolean(this=value)
        if isinstance(value, int | float):
            return _num(value)
        if isinstance(value, str):
            return exp.Literal.string(value)
        if isinstance(value, dt.datetime):
            seconds = (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()
            return _timestamp(seconds)
        if isinstance(value, dt.date):
            return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
        raise TypeError(f"no SQL literal for {value!r}")  # pragma: no cover

    def value(self, node: ast.Expr, in_event: bool = False) -> tuple[exp.Expr, bool]:
        """A SQL value and whether it may be NULL (missing)."""
        if isinstance(node, ast.NumberLit | ast.StringLit | ast.BoolLit | ast.DateLit):
            return self.literal(node.value), False
        if isinstance(node, ast.InstantLit):
            return self.literal(node.value), False
        if isinstance(node, ast.Name):
            ref = self.model.ref(node)
            if ref.kind == "field":
                name = f"f{self.field_index[ref.name]}"
                return _col(name, "lf" if in_event else None), True
            if ref.kind == "event_field":
                column: exp.Expr = _user_col(ref.name, "e")
                if self.event_field_kind.get(ref.name) in ("int", "number"):
                    column = _double(column)
                return column, True
            if ref.kind == "param":
                return self.literal(self.params[ref.name]), False
            if ref.kind == "score":
                return _col(f"s{self.score_index[ref.name]}"), True
            if ref.kind == "event":
                return self.cond(node, in_event), False
            return exp.Literal.string(ref.name), False  # an enum member
        if isinstance(node, ast.Unary):
            operand, nullable = self.value(node.operand, in_event)
            return exp.Neg(this=_paren(operand)), nullable
        if isinstance(node, ast.Arith):
            left, ln = self.value(node.left, in_event)
            right, rn = self.value(node.right, in_event)
            if node.op == "/":
                divisor = exp.Nullif(this=_paren(right), expression=exp.Literal.number(0))
                return exp.Div(this=_double(left), expression=divisor), True
            kind = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[node.op]
            return kind(this=_paren(left), expression=_paren(right)), ln or rn
        if isinstance(node, ast.Count):
            return self.counter(node.pattern), False
        if isinstance(node, ast.DaysSince):
            self.continuous = True
            latest = self.latest_of(node.event, node.where)
            micros = _micros_between(latest, _col("t"))
            return exp.Div(this=_double(micros), expression=_num(float(_DAY_US))), True
        if isinstance(node, ast.AccountRef):  # pragma: no cover - refused by sql_diagnostics
            raise DiagnosticsError(sql_diagnostics(self.model), self.model.source)
        return self.cond(node, in_event), False

    def collection(
        self, node: ast.Expr, in_event: bool
    ) -> tuple[list[exp.Expr] | None, exp.Expr | None, bool]:
        """A membership's right side: literal items, or an array value."""
        if isinstance(node, ast.ListLit):
            return [self.value(item, in_event)[0] for item in node.items], None, False
        if isinstance(node, ast.Name) and self.model.ref(node).kind == "param":
            value = self.params[node.name]
            if isinstance(value, tuple | list | frozenset | set):
                return [self.literal(item) for item in value], None, False
        array, nullable = self.value(node, in_event)
        return None, array, nullable

    # ------------------------------------------------------------ conditions

    def cond(self, node: ast.Expr, in_event: bool = False) -> exp.Expr:
        """A boolean that is never NULL (SPEC §5 missing-value semantics)."""
        if isinstance(node, ast.And):
            return exp.and_(*(_paren(self.cond(o, in_event)) for o in node.operands))
        if isinstance(node, ast.Or):
            return exp.or_(*(_paren(self.cond(o, in_event)) for o in node.operands))
        if isinstance(node, ast.Not):
            return exp.Not(this=_paren(self.cond(node.operand, in_event)))
        if isinstance(node, ast.BoolLit):
            return exp.Boolean(this=node.value)
        if isinstance(node, ast.Name) and self.model.ref(node).kind == "event":
            pattern = ast.Pattern(event=node.name, where=None, window=None)
            return exp.GT(this=self.counter(pattern), expression=exp.Literal.number(0))
        if isinstance(node, ast.Pattern):
            return exp.GT(this=self.counter(node), expression=exp.Literal.number(0))
        if isinstance(node, ast.NoEvents):
            return exp.EQ(this=self.counter(node.pattern), expression=exp.Literal.number(0))
        if isinstance(node, ast.Compare):
            kind = {
                "==": exp.EQ,
                "!=": exp.NEQ,
                "<": exp.LT,
                "<=": exp.LTE,
                ">": exp.GT,
                ">=": exp.GTE,
            }[node.op]
            left, ln = self.value(node.left, in_event)
            right, rn = self.value(node.right, in_event)
            compared = kind(this=_paren(left), expression=_paren(right))
            return _coalesce_false(compared) if ln or rn else compared
        if isinstance(node, ast.Between):
            x, xn = self.value(node.operand, in_event)
            low, lown = self.value(node.low, in_event)
            high, highn = self.value(node.high, in_event)
            between = exp.Between(this=_paren(x), low=_paren(low), high=_paren(high))
            return _coalesce_false(between) if xn or lown or highn else between
        if isinstance(node, ast.Membership):
            return self.membership(node, in_event)
        if isinstance(node, ast.TextTest):
            operand, on = self.value(node.operand, in_event)
            part, pn = self.value(node.value, in_event)
            test: exp.Expr
            if node.op == "contains":
                if self.model.type_of(node.operand).kind == "set":
                    test = exp.ArrayContains(this=operand, expression=part)
                else:
                    position = exp.StrPosition(this=operand, substr=part)
                    test = exp.GT(this=position, expression=exp.Literal.number(0))
            elif node.op == "starts with":
                test = exp.StartsWith(this=operand, expression=part)
            else:
                test = exp.EndsWith(this=operand, expression=part)
            return _coalesce_false(test) if on or pn else test
        if isinstance(node, ast.Presence):
            operand, _ = self.value(node.operand, in_event)
            test = exp.Is(this=_paren(operand), expression=exp.null())
            return test if node.missing else exp.Not(this=test)
        value, nullable = self.value(node, in_event)
        compared = exp.EQ(this=_paren(value), expression=exp.true())
        return _coalesce_false(compared) if nullable else compared

    def membership(self, node: ast.Membership, in_event: bool) -> exp.Expr:
        operand, on = self.value(node.operand, in_event)
        items, array, an = self.collection(node.collection, in_event)
        found: exp.Expr
        if items is not None:
            found = exp.In(this=_paren(operand), expressions=items) if items else exp.false()
        else:
            assert array is not None
            found = exp.ArrayContains(this=array, expression=operand)
        if not node.negated:
            return _coalesce_false(found)
        guards: list[exp.Expr] = []
        if on:
            guards.append(exp.Not(this=exp.Is(this=_paren(operand), expression=exp.null())))
        if an and array is not None:
            guards.append(exp.Not(this=exp.Is(this=array.copy(), expression=exp.null())))
        return exp.and_(*guards, exp.Not(this=_paren(_coalesce_false(found))))

    # ------------------------------------------------------------ scores

    def score(self, name: str) -> exp.Expr:
        """The unrounded value of score ``name`` at instant t."""
        score = self.model.scores[name].node
        if score.formula is not None:
            value, _ = self.value(score.formula)
            return _double(value)
        decay = score.decay
        parts: list[exp.Expr] = []
        for rule in score.rules or ():
            points = _num(rule.points)
            part: exp.Expr
            if isinstance(rule, ast.PerRule):
                if decay is None:
                    part = exp.Mul(this=points, expression=self.counter(rule.pattern))
                else:
                    part = self.decayed_sum(rule, decay)
                if rule.max is not None:
                    limit = float(rule.max)
                    part = _least(_greatest(part, _num(-limit)), _num(limit))
            else:
                pattern = self.model.decay_pattern(rule.condition)
                if decay is not None and pattern is not None:
                    latest = self.latest_of(pattern.event, pattern.where)
                    factor = self.decay_factor(decay, latest, _col("t"))
                    part = _case(
                        [(self.cond(pattern), exp.Mul(this=points, expression=factor))],
                        exp.Literal.number(0),
                    )
                else:
                    part = _case([(self.cond(rule.condition), points)], exp.Literal.number(0))
            parts.append(part)
        total: exp.Expr = _double(exp.Literal.number(0))
        for index, part in enumerate(parts):
            total = part if index == 0 else exp.Add(this=total, expression=part)
        if score.range is not None:
            low, high = float(score.range.low), float(score.range.high)
            total = _least(_greatest(total, _num(low)), _num(high))
        return total

    def decay_factor(self, decay: ast.DecayOption, since: exp.Expr, until: exp.Expr) -> exp.Expr:
        factor = 1.0 - float(decay.percent) / 100.0
        every = round(decay.every.seconds * _US)
        steps = exp.Floor(
            this=exp.Div(this=_double(_micros_between(since, until)), expression=_num(float(every)))
        )
        return exp.Pow(this=_num(factor), expression=steps)

    def decayed_sum(self, rule: ast.PerRule, decay: ast.DecayOption) -> exp.Column:
        index = self.pattern(rule.pattern.event, rule.pattern.where)
        window = (
            round(rule.pattern.window.seconds * _US)
            if isinstance(rule.pattern.window, ast.Duration)
            else None
        )
        name = f"k{len(self.decayed)}"
        every = round(decay.every.seconds * _US)
        self.decayed.append(
            (name, index, window, float(rule.points), 1.0 - float(decay.percent) / 100.0, every)
        )
        return _col(name)


# ---------------------------------------------------------------- assembling the query


class _Query:
    """Assembles the query from the compiled expressions, one CTE after
    another (the module docstring says what each step keeps)."""

    def __init__(
        self, c: _SqlCompiler, as_of: float, order_column: str | None, first_entries: bool
    ) -> None:
        model = c.model
        self.c = c
        self.model = model
        self.as_of_sql = _timestamp(as_of)
        self.names = model.stage_names
        self.order_column = order_column
        self.first_entries = first_entries
        self.ctes: list[tuple[str, exp.Query]] = []
        # Everything evaluated per instant, compiled first: it registers the
        # patterns, counters and running maxima that the stream must carry.
        self.raw_scores = {name: c.score(name) for name in model.score_order}
        self.disqualifiers = [c.cond(d.condition) for d in model.disqualifiers]
        self.stage_conditions = [
            (index, c.cond(stage.condition))
            for index, stage in enumerate(model.stages.stages)
            if index > 0 and stage.condition is not None
        ]
        self.routes = [
            (self.names.index(route.stage), c.cond(route.condition) if route.condition else None)
            for route in model.routes
        ]
        self.counters = list(c.counters.values())
        self.latest = sorted(c.latest.items(), key=lambda item: item[1])
        # Counters are packed _PACK to a BIGINT column, _BITS bits each: one
        # running sum then carries several counts (a count is never negative and
        # stays below 2**_BITS), which makes the stream's aggregates several
        # times cheaper; `inst` unpacks them with a shift and a mask.
        self.packs = [self.counters[i : i + _PACK] for i in range(0, len(self.counters), _PACK)]
        self.zero = exp.Literal.number(0)
        self.no_time = exp.cast(exp.null(), exp.DataType.Type.TIMESTAMP)
        self.previous = "inst"  # the CTE that holds the latest score
        self.stage_ids: list[tuple[int, str]] = [(-1, DISQUALIFIED), *enumerate(self.names)]
        self.score_columns = {name: f"score_{name}" for name in model.scores}
        self.entered_columns = {stage: f"entered_{stage}" for _, stage in self.stage_ids}
        self.first_columns: dict[str, tuple[str, str]] = {}

    def build(self, leads_table: str, events_table: str) -> exp.Select:
        self._leads_cte(leads_table)
        self._events_cte(events_table)
        self._stream_ctes()
        self._decayed_cte()
        self._instant_cte()
        self._score_ctes()
        self._stage_ctes()
        self._decided_cte()
        return self._result()

    def _leads_cte(self, leads_table: str) -> None:
        # lf: the leads, with numbered field columns.
        lead_columns: list[exp.Expr] = [
            exp.alias_(exp.cast(_user_col("id", "l"), exp.DataType.Type.VARCHAR), "lid")
        ]
        if self.order_column is not None:
            lead_columns.append(exp.alias_(_user_col(self.order_column, "l"), "ord"))
        for name, index in self.c.field_index.items():
            column: exp.Expr = _user_col(name, "l")
            if self.model.fields[name].type.kind in ("int", "number"):
                column = _double(column)
            lead_columns.append(exp.alias_(column, f"f{index}"))
        self.ctes.append(
            (
                "lf",
                exp.select(*lead_columns).from_(exp.to_table(leads_table).as_("l")),
            )
        )

    def _events_cte(self, events_table: str) -> None:
        # ev: the lead's declared events up to the as-of instant, one flag per pattern.
        patterns = sorted(self.c.patterns.values())
        flags = []
        for index, event, where in patterns:
            tests: list[exp.Expr] = []
            if event is not None:
                tests.append(
                    exp.EQ(this=_user_col("type", "e"), expression=exp.Literal.string(event))
                )
            if where is not None:
                tests.append(_paren(self.c.cond(where, in_event=True)))
            matches = exp.and_(*tests) if tests else exp.true()
            flags.append(exp.alias_(matches, f"p{index}"))
        declared = [exp.Literal.string(name) for name in self.model.events]
        event_at = exp.cast(_user_col("at", "e"), exp.DataType.Type.TIMESTAMP)
        event_filter = exp.and_(
            exp.LTE(this=event_at.copy(), expression=self.as_of_sql.copy()),
            exp.In(this=_user_col("type", "e"), expressions=declared) if declared else exp.false(),
        )
        self.ctes.append(
            (
                "ev",
                exp.select(exp.alias_(_col("lid", "lf"), "lid"), exp.alias_(event_at, "t"), *flags)
                .from_(exp.to_table(events_table).as_("e"))
                .join(
                    exp.to_table("lf"),
                    on=exp.EQ(
                        this=exp.cast(_user_col("lead_id", "e"), exp.DataType.Type.VARCHAR),
                        expression=_col("lid", "lf"),
                    ),
                )
                .where(event_filter),
            )
        )

    def _stream_ctes(self) -> None:
        # deltas: the stream of instants with each counter's change and each match time.

        def stream(sign: Any, latest_value: Any, source: exp.Select, t: exp.Expr) -> exp.Select:
            columns: list[exp.Expr] = [exp.alias_(_col("lid", "ev"), "lid"), exp.alias_(t, "t")]
            for number, pack in enumerate(self.packs):
                terms = [
                    _case(
                        [(flag(n.pattern), _num(sign(n) * (1 << (_BITS * slot))))], self.zero.copy()
                    )
                    for slot, n in enumerate(pack)
                    if sign(n)
                ]
                total: exp.Expr = terms[0] if terms else self.zero.copy()
                for term in terms[1:]:
                    total = exp.Add(this=total, expression=term)
                columns.append(
                    exp.alias_(exp.cast(total, exp.DataType.Type.BIGINT), f"dpk{number}")
                )
            columns += [exp.alias_(latest_value(p), name) for p, name in self.latest]
            return source.select(*columns)

        def flag(index: int) -> exp.Column:
            return _col(f"p{index}", "ev")

        parts: list[exp.Select] = [
            stream(
                lambda n: 1,
                lambda p: _case([(flag(p), _col("t", "ev"))]),
                exp.select().from_(exp.to_table("ev")),
                _col("t", "ev"),
            )
        ]
        windows = sorted({round(w * _US) for w in self.model.windows})
        for window in windows:
            leave = exp.Add(this=_col("t", "ev"), expression=_interval(window))

            def leaving(n: _Counter, window: int = window) -> int:
                return -1 if n.window_us == window else 0

            # The instant an event leaves a window changes nothing unless a
            # counter of that window counted the event (or a `days since` reads
            # the time): only those instants are kept.
            within: list[exp.Expr] = [exp.LTE(this=leave.copy(), expression=self.as_of_sql.copy())]
            if not self.c.continuous:
                counted = sorted({n.pattern for n in self.counters if n.window_us == window})
                if not counted:
                    continue
                within.append(_paren(exp.or_(*(flag(index) for index in counted))))
            parts.append(
                stream(
                    leaving,
                    lambda p: self.no_time.copy(),
                    exp.select().from_(exp.to_table("ev")).where(exp.and_(*within)),
                    leave,
                )
            )
        periods = sorted(
            {
                round(info.node.decay.every.seconds * _US)
                for info in self.model.scores.values()
                if info.node.decay is not None
            }
        )
        for period in periods:
            count = exp.Floor(
                this=exp.Div(
                    this=_double(_micros_between(_col("t", "ev"), self.as_of_sql.copy())),
                    expression=_num(float(period)),
                )
            )
            series = exp.GenerateSeries(
                start=exp.Literal.number(1),
                end=exp.cast(_greatest(count, exp.Literal.number(1)), exp.DataType.Type.BIGINT),
            )
            unnest = exp.Unnest(
                expressions=[series],
                alias=exp.TableAlias(this=exp.to_identifier("g"), columns=[exp.to_identifier("k")]),
            )
            step = exp.Add(
                this=_col("t", "ev"),
                expression=exp.Mul(this=_col("k", "g"), expression=_interval(period)),
            )
            parts.append(
                stream(
                    lambda n: 0,
                    lambda p: self.no_time.copy(),
                    exp.select()
                    .from_(exp.to_table("ev"))
                    .join(unnest, join_type="CROSS")
                    .where(exp.LTE(this=step.copy(), expression=self.as_of_sql.copy())),
                    step,
                )
            )
        as_of_rows = exp.select(
            exp.alias_(_col("lid"), "lid"),
            exp.alias_(self.as_of_sql.copy(), "t"),
            *[
                exp.alias_(exp.cast(self.zero.copy(), exp.DataType.Type.BIGINT), f"dpk{i}")
                for i in range(len(self.packs))
            ],
            *[exp.alias_(self.no_time.copy(), name) for _, name in self.latest],
        ).from_(exp.to_table("lf"))
        union: exp.Query = parts[0]
        for part in [*parts[1:], as_of_rows]:
            union = exp.union(union, part, distinct=False)
        self.ctes.append(("deltas", union))

        grouped = (
            exp.select(
                _col("lid"),
                _col("t"),
                *[
                    exp.alias_(exp.Sum(this=_col(f"dpk{i}")), f"dpk{i}")
                    for i in range(len(self.packs))
                ],
                *[exp.alias_(exp.Max(this=_col(name)), name) for _, name in self.latest],
            )
            .from_(exp.to_table("deltas"))
            .group_by(_col("lid"), _col("t"))
        )
        self.ctes.append(("grouped", grouped))
        running = exp.select(
            _col("lid"),
            _col("t"),
            *[
                exp.alias_(
                    exp.cast(_window(exp.Sum(this=_col(f"dpk{i}"))), exp.DataType.Type.BIGINT),
                    f"pk{i}",
                )
                for i in range(len(self.packs))
            ],
            *[exp.alias_(_window(exp.Max(this=_col(name))), name) for _, name in self.latest],
        ).from_(exp.to_table("grouped"))
        self.ctes.append(("running", running))

    def _decayed_cte(self) -> None:
        # decayed `per` rules: the decayed occurrences summed at every instant.
        if self.c.decayed:
            sums = []
            for name, matched, reach, points, factor, every in self.c.decayed:
                inside: list[exp.Expr] = [_col(f"p{matched}", "ev")]
                if reach is not None:
                    inside.append(
                        exp.GT(
                            this=_col("t", "ev"),
                            expression=exp.Sub(this=_col("t", "r"), expression=_interval(reach)),
                        )
                    )
                steps = exp.Floor(
                    this=exp.Div(
                        this=_double(_micros_between(_col("t", "ev"), _col("t", "r"))),
                        expression=_num(float(every)),
                    )
                )
                value = exp.Mul(
                    this=_num(points), expression=exp.Pow(this=_num(factor), expression=steps)
                )
                sums.append(
                    exp.alias_(
                        exp.Sum(this=_case([(exp.and_(*inside), value)], self.zero.copy())),
                        name,
                    )
                )
            self.ctes.append(
                (
                    "decayed",
                    exp.select(_col("lid", "r"), _col("t", "r"), *sums)
                    .from_(exp.to_table("running").as_("r"))
                    .join(
                        exp.to_table("ev"),
                        on=exp.and_(
                            exp.EQ(this=_col("lid", "ev"), expression=_col("lid", "r")),
                            exp.LTE(this=_col("t", "ev"), expression=_col("t", "r")),
                        ),
                    )
                    .group_by(_col("lid", "r"), _col("t", "r")),
                )
            )

    def _instant_cte(self) -> None:
        # inst: one row per lead and instant, with the lead's fields.
        inst_columns: list[exp.Expr] = [_col("lid", "r"), _col("t", "r")]
        if self.order_column is not None:
            inst_columns.append(_col("ord", "lf"))
        for number, pack in enumerate(self.packs):
            for slot, n in enumerate(pack):
                packed: exp.Expr = _col(f"pk{number}", "r")
                if slot:
                    packed = exp.paren(
                        exp.BitwiseRightShift(this=packed, expression=_num(_BITS * slot))
                    )
                mask = exp.BitwiseAnd(this=packed, expression=_num((1 << _BITS) - 1))
                inst_columns.append(exp.alias_(mask, n.name))
        inst_columns += [_col(name, "r") for _, name in self.latest]
        inst_columns += [_col(f"f{i}", "lf") for i in self.c.field_index.values()]
        inst = (
            exp.select(*inst_columns)
            .from_(exp.to_table("running").as_("r"))
            .join(
                exp.to_table("lf"), on=exp.EQ(this=_col("lid", "lf"), expression=_col("lid", "r"))
            )
        )
        if self.c.decayed:
            inst = inst.select(
                *[
                    exp.alias_(
                        exp.Coalesce(this=_col(name, "dk"), expressions=[self.zero.copy()]), name
                    )
                    for name, *_ in self.c.decayed
                ]
            ).join(
                exp.to_table("decayed").as_("dk"),
                join_type="LEFT",
                on=exp.and_(
                    exp.EQ(this=_col("lid", "dk"), expression=_col("lid", "r")),
                    exp.EQ(this=_col("t", "dk"), expression=_col("t", "r")),
                ),
            )
        self.ctes.append(("inst", inst))

    def _score_ctes(self) -> None:
        # One step per score: the raw value, then the rounded one.
        self.previous = "inst"
        for name in self.model.score_order:
            index = self.c.score_index[name]
            raw = f"raw_s{index}"
            self.ctes.append(
                (
                    raw,
                    exp.select(
                        exp.Star(), exp.alias_(self.raw_scores[name], "r" + str(index))
                    ).from_(self.previous),
                )
            )
            rounded = f"score_s{index}"
            self.ctes.append(
                (
                    rounded,
                    exp.select(
                        exp.Star(), exp.alias_(_round_score(_col(f"r{index}")), f"s{index}")
                    ).from_(raw),
                )
            )
            self.previous = rounded

    def _stage_ctes(self) -> None:
        # judged: the self.disqualifiers and the holding stage at each instant.
        holding = _case(
            [(cond, exp.Literal.number(index)) for index, cond in reversed(self.stage_conditions)],
            exp.Literal.number(0),
        )
        any_dq = (
            exp.or_(*(_col(f"q{i}") for i in range(len(self.disqualifiers))))
            if self.disqualifiers
            else None
        )
        self.ctes.append(
            (
                "judged",
                exp.select(
                    exp.Star(),
                    *[exp.alias_(cond, f"q{i}") for i, cond in enumerate(self.disqualifiers)],
                    exp.alias_(holding, "h"),
                ).from_(self.previous),
            )
        )
        if self.model.locked:
            reached: exp.Expr = exp.Coalesce(
                this=_window(
                    exp.Max(
                        this=_case([(exp.Not(this=_paren(any_dq)), _col("h"))])
                        if any_dq is not None
                        else _col("h")
                    )
                ),
                expressions=[exp.Literal.number(0)],
            )
        else:
            reached = _col("h")
        label = (
            _case([(_paren(any_dq), exp.Literal.number(-1))], reached)
            if any_dq is not None
            else reached
        )
        self.ctes.append(
            ("staged", exp.select(exp.Star(), exp.alias_(label, "lab")).from_("judged"))
        )

        # routed: the route at each instant, and the label before it.
        route_case = (
            _case(
                [
                    (
                        exp.and_(
                            exp.EQ(this=_col("lab"), expression=exp.Literal.number(stage)),
                            *([_paren(cond)] if cond is not None else []),
                        ),
                        exp.Literal.number(number),
                    )
                    for number, (stage, cond) in enumerate(self.routes)
                ],
                exp.Literal.number(-1),
            )
            if self.routes
            else exp.Literal.number(-1)
        )
        self.ctes.append(
            (
                "routed",
                exp.select(
                    exp.Star(),
                    exp.alias_(route_case, "rt"),
                    exp.alias_(_window(exp.Lag(this=_col("lab")), running=False), "prv"),
                ).from_("staged"),
            )
        )
        starts = exp.or_(
            exp.Is(this=_col("prv"), expression=exp.null()),
            exp.NEQ(this=_col("prv"), expression=_col("lab")),
        )
        marked_columns: list[exp.Expr] = [
            exp.Star(),
            exp.alias_(_paren(starts.copy()), "st"),
            exp.alias_(
                _window(
                    exp.Max(this=_case([(_paren(starts.copy()), _col("t"))])),
                    running=False,
                    order=False,
                ),
                "last_start",
            ),
        ]
        if self.first_entries:
            for index in range(len(self.names)):
                marked_columns.append(
                    exp.alias_(
                        _window(
                            exp.Min(
                                this=_case(
                                    [
                                        (
                                            exp.and_(
                                                _paren(starts.copy()),
                                                exp.EQ(
                                                    this=_col("lab"),
                                                    expression=exp.Literal.number(index),
                                                ),
                                            ),
                                            _col("t"),
                                        )
                                    ]
                                )
                            ),
                            running=False,
                            order=False,
                        ),
                        f"fs{index}",
                    )
                )
        self.ctes.append(("marked", exp.select(*marked_columns).from_("routed")))

    def _decided_cte(self) -> None:
        # decided: one row per lead.
        at_as_of = exp.EQ(this=_col("t"), expression=self.as_of_sql.copy())

        def at_end(value: exp.Expr) -> exp.Expr:
            return exp.Max(this=_case([(at_as_of.copy(), value)]))

        decided_columns: list[exp.Expr] = [_col("lid")]
        if self.order_column is not None:
            decided_columns.append(exp.alias_(exp.Max(this=_col("ord")), "ord"))
        decided_columns.append(exp.alias_(at_end(_col("lab")), "lab"))
        decided_columns += [
            exp.alias_(at_end(_col(f"s{self.c.score_index[n]}")), f"s{self.c.score_index[n]}")
            for n in self.model.score_order
        ]
        decided_columns += [
            exp.alias_(
                at_end(_case([(_col(f"q{i}"), exp.Literal.number(1))], exp.Literal.number(0))),
                f"q{i}",
            )
            for i in range(len(self.disqualifiers))
        ]
        decided_columns.append(
            exp.alias_(
                exp.Max(
                    this=_case(
                        [(exp.EQ(this=_col("t"), expression=_col("last_start")), _col("rt"))]
                    )
                ),
                "rt",
            )
        )
        decided_columns.append(exp.alias_(exp.Max(this=_col("last_start")), "last_start"))
        for index, _stage in self.stage_ids:
            decided_columns.append(
                exp.alias_(
                    exp.Max(
                        this=_case(
                            [
                                (
                                    exp.and_(
                                        _col("st"),
                                        exp.EQ(this=_col("lab"), expression=_num(index)),
                                    ),
                                    _col("t"),
                                )
                            ]
                        )
                    ),
                    f"e{index + 1}",
                )
            )
        if self.first_entries:
            for index, _stage in enumerate(self.names):
                decided_columns.append(exp.alias_(exp.Max(this=_col(f"fs{index}")), f"fs{index}"))
                decided_columns.append(
                    exp.alias_(
                        exp.Max(
                            this=_case(
                                [
                                    (
                                        exp.EQ(this=_col("t"), expression=_col(f"fs{index}")),
                                        _col("rt"),
                                    )
                                ]
                            )
                        ),
                        f"fr{index}",
                    )
                )
        self.ctes.append(
            ("decided", exp.select(*decided_columns).from_("marked").group_by(_col("lid")))
        )

    def _result(self) -> exp.Select:
        # The result.
        stage_name = _case(
            [
                (exp.EQ(this=_col("lab"), expression=_num(index)), exp.Literal.string(stage))
                for index, stage in self.stage_ids
            ]
        )
        reasons = exp.Array(
            expressions=[
                _case(
                    [
                        (
                            exp.EQ(this=_col(f"q{i}"), expression=exp.Literal.number(1)),
                            exp.Literal.string(d.reason),
                        )
                    ]
                )
                for i, d in enumerate(self.model.disqualifiers)
            ]
        )
        if self.model.disqualifiers:
            x = exp.to_identifier("x")
            disqualified: exp.Expr = exp.ArrayFilter(
                this=reasons,
                expression=exp.Lambda(
                    this=exp.Not(this=exp.Is(this=exp.column(x), expression=exp.null())),
                    expressions=[x],
                ),
            )
        else:
            disqualified = exp.cast(exp.Array(expressions=[]), exp.DataType.build("ARRAY<VARCHAR>"))

        def by_route(values: Sequence[exp.Expr | None]) -> exp.Expr:
            whens = [
                (exp.EQ(this=_col("rt"), expression=exp.Literal.number(i)), value)
                for i, value in enumerate(values)
                if value is not None
            ]
            if not whens:
                return exp.cast(exp.null(), exp.DataType.Type.VARCHAR)
            return _case(whens)

        live = exp.GTE(this=_col("lab"), expression=exp.Literal.number(0))
        output: list[exp.Expr] = [
            exp.alias_(_col("lid"), "id"),
            exp.alias_(self.as_of_sql.copy(), "as_of"),
            exp.alias_(stage_name, "stage"),
        ]
        output += [
            exp.alias_(_col(f"s{self.c.score_index[name]}"), column, quoted=True)
            for name, column in self.score_columns.items()
        ]
        output.append(exp.alias_(disqualified, "disqualified"))
        output.append(
            exp.alias_(
                _case(
                    [
                        (
                            live.copy(),
                            by_route([exp.Literal.string(r.queue) for r in self.model.routes]),
                        )
                    ]
                ),
                "queue",
            )
        )
        output.append(
            exp.alias_(
                _case(
                    [
                        (
                            live.copy(),
                            by_route(
                                [
                                    exp.Literal.string(r.sla.text()) if r.sla is not None else None
                                    for r in self.model.routes
                                ]
                            ),
                        )
                    ]
                ),
                "sla",
            )
        )
        output.append(
            exp.alias_(
                _case(
                    [
                        (
                            live.copy(),
                            by_route(
                                [
                                    exp.Add(
                                        this=_col("last_start"),
                                        expression=_interval(round(r.sla.seconds * _US)),
                                    )
                                    if r.sla is not None
                                    else None
                                    for r in self.model.routes
                                ]
                            ),
                        )
                    ]
                ),
                "due",
            )
        )
        output += [
            exp.alias_(_col(f"e{index + 1}"), self.entered_columns[stage], quoted=True)
            for index, stage in self.stage_ids
        ]
        if self.first_entries:
            for index, stage in enumerate(self.names):
                self.first_columns[stage] = (f"first_{stage}", f"first_route_{stage}")
                output.append(exp.alias_(_col(f"fs{index}"), f"first_{stage}", quoted=True))
                output.append(exp.alias_(_col(f"fr{index}"), f"first_route_{stage}", quoted=True))
        query = exp.select(*output).from_("decided")
        query = query.order_by(_col("ord") if self.order_column is not None else _col("lid"))
        for name, cte in self.ctes:
            query = query.with_(name, as_=cte)
        return query


def compile_sql(
    model: CheckedPolicy,
    as_of: float,
    params: Mapping[str, Any] | None = None,
    *,
    leads_table: str = "leads",
    events_table: str = "events",
    order_column: str | None = None,
    first_entries: bool = False,
) -> SqlPolicy:
    """The query that decides every lead of ``leads_table`` as of ``as_of``.

    ``order_column`` (a column of the leads table) orders the result; without
    it the result is ordered by id. ``first_entries`` adds, for the
    simulator, ``first_<stage>`` (the first instant the lead entered the
    stage) and ``first_route_<stage>`` (the index of the route chosen then).
    Raises DiagnosticsError (E6xx) for what SQL cannot evaluate faithfully.
    """
    problems = sql_diagnostics(model)
    if problems:
        raise DiagnosticsError(problems, model.source)
    values = {name: info.value for name, info in model.params.items()}
    values.update(params or {})
    builder = _Query(_SqlCompiler(model, values), as_of, order_column, first_entries)
    query = builder.build(leads_table, events_table)
    return SqlPolicy(
        model=model,
        as_of=as_of,
        params=values,
        query=query,
        score_columns=builder.score_columns,
        entered_columns=builder.entered_columns,
        first_columns=builder.first_columns,
    )
