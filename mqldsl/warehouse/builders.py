"""Small sqlglot builders shared by the expression compiler
(:mod:`mqldsl.warehouse.expressions`) and the query's steps (:mod:`mqldsl.warehouse.timeline`,
:mod:`mqldsl.warehouse.query`): columns, numbers, times, CASE and the per-lead
window over the instants.

Every instant in the query is a TIMESTAMP; every duration is a whole number of
microseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from mqldsl.engine.runtime import from_seconds

US = 1_000_000  # microseconds per second
DAY_US = 86_400 * US  # microseconds per day


def col(name: str, table: str | None = None) -> exp.Column:
    """An internal column (a short generated name, never a policy's)."""
    return exp.column(name, table=table)


def user_col(name: str, table: str) -> exp.Column:
    """A column named by the policy: always quoted."""
    return exp.Column(this=exp.to_identifier(name, quoted=True), table=exp.to_identifier(table))


def num(value: float | int) -> exp.Expr:
    """A number literal: whole numbers as integers, others as a DOUBLE cast
    of their shortest decimal form; a negative number is a negation."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 2**53):
        number = exp.Literal.number(int(value))
        return exp.Neg(this=exp.Literal.number(-int(value))) if value < 0 else number
    literal = exp.cast(exp.Literal.number(repr(abs(float(value)))), exp.DataType.Type.DOUBLE)
    return exp.Neg(this=literal) if value < 0 else literal


def double(node: exp.Expr) -> exp.Expr:
    """``node`` cast to DOUBLE."""
    return exp.cast(node, exp.DataType.Type.DOUBLE)


def paren(node: exp.Expr) -> exp.Expr:
    """``node`` in parentheses unless it is atomic (a column, literal, cast or
    parenthesised already)."""
    if isinstance(node, exp.Column | exp.Literal | exp.Boolean | exp.Paren | exp.Cast):
        return node
    return exp.Paren(this=node)


def coalesce_false(node: exp.Expr) -> exp.Expr:
    """A boolean that is FALSE where ``node`` is NULL."""
    return exp.Coalesce(this=node, expressions=[exp.false()])


def case(whens: Sequence[tuple[exp.Expr, exp.Expr]], default: exp.Expr | None = None) -> exp.Expr:
    """``CASE WHEN condition THEN value ... [ELSE default] END`` (without a condition: the
    default, or NULL)."""
    if not whens:
        return default if default is not None else exp.null()
    result = exp.Case()
    for condition, value in whens:
        result = result.when(condition, value)
    if default is not None:
        result = result.else_(default)
    return result


def interval(microseconds: int) -> exp.Interval:
    """An interval of a whole number of microseconds."""
    return exp.Interval(this=exp.Literal.string(str(microseconds)), unit=exp.var("MICROSECOND"))


def micros_between(start: exp.Expr, end: exp.Expr) -> exp.Expr:
    """The microseconds from instant ``start`` to instant ``end``."""
    return exp.DateDiff(this=end, expression=start, unit=exp.var("MICROSECOND"))


def timestamp(seconds: float) -> exp.Expr:
    """A TIMESTAMP literal of an instant (seconds since the epoch, UTC)."""
    moment = from_seconds(seconds)
    text = f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}.{moment.microsecond:06d}"
    return exp.cast(exp.Literal.string(text), exp.DataType.Type.TIMESTAMP)


def window(function: exp.Expr, *, running: bool = True, order: bool = True) -> exp.Window:
    """``function`` over each lead's instants (``lid``), ordered by ``t``
    (unless not ``order``); ``running`` makes it cumulative up to the
    current row."""
    spec = (
        exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
        if running
        else None
    )
    return exp.Window(
        this=function,
        partition_by=[col("lid")],
        order=exp.Order(expressions=[exp.Ordered(this=col("t"), nulls_first=True)])
        if order
        else None,
        spec=spec,
    )


def round_score(x: exp.Expr) -> exp.Expr:
    """Two decimals, half away from zero, on the shortest decimal form of the
    double first rounded to nine decimals (the Python engine's
    ``mqldsl.engine.runtime.round_score``: ``Decimal(repr(x))`` to the billionth, then to the
    cent); whole numbers as they are. ``x`` must be a column (it appears three times)."""
    # (straight to nine decimals: a cast to more decimals first would round the text twice,
    # 0.004999999499999999 -> 0.0049999995000000 -> 0.000000001 more than Python's)
    decimal = exp.DataType.build("DECIMAL(38, 9)")
    text = exp.cast(x.copy(), exp.DataType.Type.VARCHAR)
    rounded = exp.Round(this=exp.cast(text, decimal), decimals=exp.Literal.number(2))
    return case(
        [(exp.EQ(this=x.copy(), expression=exp.Floor(this=x.copy())), double(x.copy()))],
        double(rounded),
    )


def greatest(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """The larger of two values."""
    return exp.Greatest(this=a, expressions=[b])


def least(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    """The smaller of two values."""
    return exp.Least(this=a, expressions=[b])


# The exact sum of doubles (DuckDB's FSUM, as Python's math.fsum: correctly rounded whatever
# the order of the rows); :func:`portable` writes it as SUM for the other dialects.
EXACT_SUM = "FSUM"


def exact_sum(x: exp.Expr) -> exp.Expr:
    """The sum of a DOUBLE column over a group, rounded once (NULL for no value)."""
    return exp.Anonymous(this=EXACT_SUM, expressions=[x])


def portable(query: exp.Expr, dialect: str) -> exp.Expr:
    """``query`` for ``dialect``: :func:`exact_sum` is DuckDB's own; elsewhere it is the
    plain SUM (which adds in the order the rows come, so the last binary digit of a sum of
    decimals such as 0.1 may differ from the Python engine's)."""
    if dialect == "duckdb":
        return query

    def plain(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name == EXACT_SUM:
            return exp.Sum(this=node.expressions[0])
        return node

    return query.transform(plain)
