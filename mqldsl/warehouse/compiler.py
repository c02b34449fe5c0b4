"""Compile a checked policy into one SQL query, built as a sqlglot expression
tree and generated for DuckDB, Spark, Snowflake, BigQuery or PostgreSQL.

The query reads two tables::

    leads(id, <one column per lead field>)
    events(lead_id, type, at, <one column per event field>)

and returns one row per lead: ``id``, ``as_of``, ``stage``, ``score_<name>``
for every score, ``disqualified`` (the reasons that hold, in declared order),
``queue``, ``sla``, ``due`` and ``entered_<stage>`` for every stage (and
``entered_disqualified``), with hot-event routes also ``route_entered`` (the
handoff instant); with ``policy_columns`` (the query `mqldsl sql`
prints), also the policy that decides (SPEC §12): ``policy_version``,
``policy_sha256`` and ``policy_params``, constants.

It keeps the Python engine's semantics (SPEC §4–8). The work is shared out:

- :mod:`mqldsl.warehouse.support`: what SQL cannot evaluate faithfully (E601–E603);
- :mod:`mqldsl.warehouse.expressions`: conditions, values and scores as sqlglot
  expressions (missing values, numbers, counters);
- :mod:`mqldsl.warehouse.timeline`: the instants of every lead, with the counters
  and match times the expressions read;
- :mod:`mqldsl.warehouse.query`: scores, stages, routes and entries at every
  instant, then one row per lead.

Names and strings from the policy reach SQL only as sqlglot identifiers
(always quoted) and literals; internal columns have short generated names
that never meet a policy name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from mqldsl.analysis.bound import bind
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.stamp import PolicyStamp, policy_stamp
from mqldsl.language.diagnostics import DiagnosticsError
from mqldsl.warehouse.builders import portable
from mqldsl.warehouse.expressions import ExpressionCompiler
from mqldsl.warehouse.query import DISQUALIFIED, QueryBuilder
from mqldsl.warehouse.support import sql_diagnostics
from mqldsl.warehouse.timeline import MAX_COUNT

__all__ = [
    "DIALECTS",
    "DISQUALIFIED",
    "MAX_COUNT",
    "SqlPolicy",
    "compile_sql",
    "sql_diagnostics",
]

DIALECTS = ("duckdb", "spark", "snowflake", "bigquery", "postgres")


@dataclass
class SqlPolicy:
    """The compiled query of one policy, one as-of instant and one set of params."""

    model: CheckedPolicy
    as_of: float
    params: dict[str, Any]
    query: exp.Query
    score_columns: dict[str, str]  # lead score name -> output column
    entered_columns: dict[str, str]  # stage (and "disqualified") -> output column
    # stage -> (first entry column, its route's column), with first_entries
    first_columns: dict[str, tuple[str, str]] = field(default_factory=dict)
    # account score name -> output column (SPEC §9)
    account_score_columns: dict[str, str] = field(default_factory=dict)
    # with first_entries and hot-event routes: the lists of every hot handoff (SPEC §8), as
    # internal column -> output column (instants, route numbers, stage indexes, event positions)
    hot_columns: dict[str, str] = field(default_factory=dict)
    # with first_entries: the lists of every entry handoff (SPEC §8: each entry into a routed
    # stage), as internal column -> output column (instants, route numbers, stage indexes)
    entry_columns: dict[str, str] = field(default_factory=dict)

    def sql(self, dialect: str = "duckdb", pretty: bool = True) -> str:
        """The query as text in ``dialect``; raises where sqlglot cannot
        write a construct in that dialect faithfully."""
        query = portable(self.query, dialect)
        return query.sql(dialect=dialect, pretty=pretty, unsupported_level=_RAISE)


_RAISE = sqlglot.ErrorLevel.RAISE


def compile_sql(
    model: CheckedPolicy,
    as_of: float,
    params: Mapping[str, Any] | None = None,
    *,
    leads_table: str = "leads",
    events_table: str = "events",
    accounts_table: str = "accounts",
    order_column: str | None = None,
    event_order_column: str | None = None,
    first_entries: bool = False,
    policy_columns: bool = False,
) -> SqlPolicy:
    """The query that decides every lead of ``leads_table`` as of ``as_of``.

    ``order_column`` (a column of the leads table) orders the result; without
    it the result is ordered by id. ``event_order_column`` (a column of the events
    table: the events' input order) orders the events of one instant for hot-event
    routes (SPEC §8); without it, events of one instant that fire different routes
    hand over by the first declared of those routes. ``first_entries`` adds, for the
    simulator, ``first_<stage>`` (the first instant the lead entered the
    stage) and ``first_route_<stage>`` (the index of the route chosen then), and the lists
    ``entry_at``, ``entry_route`` and ``entry_stage`` of every entry handoff (SPEC §8).
    ``policy_columns`` adds the policy's version, sha256 and the params set
    to other values than the policy's (`NAME=VALUE; ...`, NULL for none).
    Raises DiagnosticsError (E6xx) for what SQL cannot evaluate faithfully.
    """
    model = bind(model, params)
    problems = sql_diagnostics(model)
    if problems:
        raise DiagnosticsError(problems, model.source)
    values = {name: info.value for name, info in model.params.items()}
    values.update(params or {})
    builder = QueryBuilder(
        ExpressionCompiler(model, values), as_of, order_column, first_entries, event_order_column
    )
    query = builder.build(leads_table, events_table, accounts_table)
    if policy_columns:
        query = query.select(*stamp_columns(policy_stamp(model, values)), copy=False)
    return SqlPolicy(
        model=model,
        as_of=as_of,
        params=values,
        query=query,
        score_columns=builder.score_columns,
        entered_columns=builder.entered_columns,
        first_columns=builder.first_columns,
        account_score_columns=builder.account_score_columns,
        hot_columns=builder.hot_columns,
        entry_columns=builder.entry_columns,
    )


def stamp_columns(stamp: PolicyStamp) -> list[exp.Expr]:
    """The policy as three constant columns of the result."""
    version: exp.Expr = (
        exp.cast(exp.null(), exp.DataType.Type.INT)
        if stamp.version is None
        else exp.Literal.number(stamp.version)
    )
    text = stamp.params_text()
    params = exp.Literal.string(text) if text else exp.cast(exp.null(), exp.DataType.Type.VARCHAR)
    return [
        exp.alias_(version, "policy_version"),
        exp.alias_(exp.Literal.string(stamp.sha256), "policy_sha256"),
        exp.alias_(params, "policy_params"),
    ]
