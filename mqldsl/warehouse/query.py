"""The query of one policy: the timeline (:mod:`mqldsl.warehouse.timeline`), then
the decision at every instant, then one row per lead.

How the steps keep the Python engine's semantics (SPEC §4–8):

- **Scores** (``raw_s<i>``, ``score_s<i>``, one pair per score in dependency
  order): the value at every instant, clamped to its range, then rounded
  half away from zero to two decimals on the shortest decimal form of the
  double, as the Python engine does.
- **Stages** (``judged``, ``staged``): flexible stages are computed at every
  instant on their own; locked stages (without recycling) are a running
  maximum of the holding stage over the instants at which no disqualifier
  holds. A disqualified lead's label is -1.
- **Routes and entries** (``routed``, ``marked``): a stay starts where the
  label changes; ``entered`` is the first instant of each stage's latest
  stay, and the route is the first route of the stage whose condition holds
  at that instant.
- **The result** (``decided``, then the final select): the values at the
  as-of instant, one row per lead, ordered by the order column or by id.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from mqldsl.engine.runtime import LAST_INSTANT
from mqldsl.language import ast
from mqldsl.warehouse.builders import (
    US,
    case,
    col,
    interval,
    least,
    num,
    paren,
    round_score,
    timestamp,
    window,
)
from mqldsl.warehouse.expressions import ExpressionCompiler
from mqldsl.warehouse.timeline import Timeline

DISQUALIFIED = "disqualified"  # the stage of a disqualified lead


class QueryBuilder:
    """Assembles the query from the compiled expressions, one CTE after
    another (the module docstrings say what each step keeps)."""

    def __init__(
        self, c: ExpressionCompiler, as_of: float, order_column: str | None, first_entries: bool
    ) -> None:
        """``order_column`` (a column of the leads table) orders the result;
        ``first_entries`` adds the first entry into each stage and its route."""
        model = c.model
        self.c = c
        self.model = model
        self.as_of_sql = timestamp(as_of)
        self.names = model.stage_names
        self.order_column = order_column
        self.first_entries = first_entries
        self.ctes: list[tuple[str, exp.Query]] = []
        # Everything evaluated per instant, compiled first: it registers the
        # patterns, counters and running maxima that the timeline must carry.
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
        self.previous = "inst"  # the CTE that holds the latest score
        self.stage_ids: list[tuple[int, str]] = [(-1, DISQUALIFIED), *enumerate(self.names)]
        self.score_columns = {name: f"score_{name}" for name in model.lead_scores}
        self.account_score_columns = {
            name: f"account_score_{name}" for name in model.account_scores
        }
        self.entered_columns = {stage: f"entered_{stage}" for _, stage in self.stage_ids}
        self.first_columns: dict[str, tuple[str, str]] = (
            {stage: (f"first_{stage}", f"first_route_{stage}") for stage in self.names}
            if first_entries
            else {}
        )

    def build(
        self, leads_table: str, events_table: str, accounts_table: str = "accounts"
    ) -> exp.Select:
        """The whole query over the tables."""
        timeline = Timeline(self.c, self.as_of_sql, self.order_column)
        self.ctes += timeline.steps(leads_table, events_table, accounts_table)
        self._score_ctes()
        self._judged_cte()
        self._staged_cte()
        self._routed_cte()
        self._marked_cte()
        self._decided_cte()
        return self._result()

    def _score_ctes(self) -> None:
        # One step per score: the raw value, then the rounded one.
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
                        exp.Star(), exp.alias_(round_score(col(f"r{index}")), f"s{index}")
                    ).from_(raw),
                )
            )
            self.previous = rounded

    def _judged_cte(self) -> None:
        # judged: whether each disqualifier holds (q<i>) and the holding stage
        # (h: the last stage whose condition holds) at each instant.
        holding = case(
            [(cond, exp.Literal.number(index)) for index, cond in reversed(self.stage_conditions)],
            exp.Literal.number(0),
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

    def _staged_cte(self) -> None:
        # staged: the label at each instant (lab: the stage's index, -1 when
        # disqualified).
        any_dq = (
            exp.or_(*(col(f"q{i}") for i in range(len(self.disqualifiers))))
            if self.disqualifiers
            else None
        )
        if self.model.locked:
            reached: exp.Expr = exp.Coalesce(
                this=window(
                    exp.Max(
                        this=case([(exp.Not(this=paren(any_dq)), col("h"))])
                        if any_dq is not None
                        else col("h")
                    )
                ),
                expressions=[exp.Literal.number(0)],
            )
        else:
            reached = col("h")
        label = (
            case([(paren(any_dq), exp.Literal.number(-1))], reached)
            if any_dq is not None
            else reached
        )
        self.ctes.append(
            ("staged", exp.select(exp.Star(), exp.alias_(label, "lab")).from_("judged"))
        )

    def _routed_cte(self) -> None:
        # routed: the route at each instant (rt, -1: none), and the label
        # before it (prv).
        route_case = (
            case(
                [
                    (
                        exp.and_(
                            exp.EQ(this=col("lab"), expression=exp.Literal.number(stage)),
                            *([paren(cond)] if cond is not None else []),
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
                    exp.alias_(window(exp.Lag(this=col("lab")), running=False), "prv"),
                ).from_("staged"),
            )
        )

    def _marked_cte(self) -> None:
        # marked: where a stay starts (st), the start of the latest stay, and
        # for the simulator the first start in each stage (fs<i>).
        starts = exp.or_(
            exp.Is(this=col("prv"), expression=exp.null()),
            exp.NEQ(this=col("prv"), expression=col("lab")),
        )
        marked_columns: list[exp.Expr] = [
            exp.Star(),
            exp.alias_(paren(starts.copy()), "st"),
            exp.alias_(
                window(
                    exp.Max(this=case([(paren(starts.copy()), col("t"))])),
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
                        window(
                            exp.Min(
                                this=case(
                                    [
                                        (
                                            exp.and_(
                                                paren(starts.copy()),
                                                exp.EQ(
                                                    this=col("lab"),
                                                    expression=exp.Literal.number(index),
                                                ),
                                            ),
                                            col("t"),
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
        at_as_of = exp.EQ(this=col("t"), expression=self.as_of_sql.copy())

        def at_end(value: exp.Expr) -> exp.Expr:
            return exp.Max(this=case([(at_as_of.copy(), value)]))

        decided_columns: list[exp.Expr] = [col("lid")]
        if self.order_column is not None:
            decided_columns.append(exp.alias_(exp.Max(this=col("ord")), "ord"))
        if self.model.uses_accounts:
            decided_columns.append(exp.alias_(exp.Max(this=col("acc")), "acc"))
        decided_columns.append(exp.alias_(at_end(col("lab")), "lab"))
        decided_columns += [
            exp.alias_(at_end(col(f"s{self.c.score_index[n]}")), f"s{self.c.score_index[n]}")
            for n in self.model.score_order
        ]
        decided_columns += [
            exp.alias_(
                at_end(case([(col(f"q{i}"), exp.Literal.number(1))], exp.Literal.number(0))),
                f"q{i}",
            )
            for i in range(len(self.disqualifiers))
        ]
        decided_columns.append(
            exp.alias_(
                exp.Max(
                    this=case([(exp.EQ(this=col("t"), expression=col("last_start")), col("rt"))])
                ),
                "rt",
            )
        )
        decided_columns.append(exp.alias_(exp.Max(this=col("last_start")), "last_start"))
        for index, _stage in self.stage_ids:
            decided_columns.append(
                exp.alias_(
                    exp.Max(
                        this=case(
                            [
                                (
                                    exp.and_(
                                        col("st"),
                                        exp.EQ(this=col("lab"), expression=num(index)),
                                    ),
                                    col("t"),
                                )
                            ]
                        )
                    ),
                    f"e{index + 1}",
                )
            )
        if self.first_entries:
            for index, _stage in enumerate(self.names):
                decided_columns.append(exp.alias_(exp.Max(this=col(f"fs{index}")), f"fs{index}"))
                decided_columns.append(
                    exp.alias_(
                        exp.Max(
                            this=case(
                                [
                                    (
                                        exp.EQ(this=col("t"), expression=col(f"fs{index}")),
                                        col("rt"),
                                    )
                                ]
                            )
                        ),
                        f"fr{index}",
                    )
                )
        self.ctes.append(
            ("decided", exp.select(*decided_columns).from_("marked").group_by(col("lid")))
        )

    def _result(self) -> exp.Select:
        # The result: the output columns of one row per lead, and the steps.
        stage_name = case(
            [
                (exp.EQ(this=col("lab"), expression=num(index)), exp.Literal.string(stage))
                for index, stage in self.stage_ids
            ]
        )
        reasons = exp.Array(
            expressions=[
                case(
                    [
                        (
                            exp.EQ(this=col(f"q{i}"), expression=exp.Literal.number(1)),
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
                (exp.EQ(this=col("rt"), expression=exp.Literal.number(i)), value)
                for i, value in enumerate(values)
                if value is not None
            ]
            if not whens:
                return exp.cast(exp.null(), exp.DataType.Type.VARCHAR)
            return case(whens)

        live = exp.GTE(this=col("lab"), expression=exp.Literal.number(0))
        output: list[exp.Expr] = [exp.alias_(col("lid"), "id")]
        if self.model.uses_accounts:
            output.append(exp.alias_(col("acc"), "account"))
        output += [
            exp.alias_(self.as_of_sql.copy(), "as_of"),
            exp.alias_(stage_name, "stage"),
        ]
        output += [
            exp.alias_(col(f"s{self.c.score_index[name]}"), column, quoted=True)
            for name, column in (self.score_columns | self.account_score_columns).items()
        ]
        output.append(exp.alias_(disqualified, "disqualified"))
        output.append(
            exp.alias_(
                case(
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
                case(
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
                case(
                    [
                        (
                            live.copy(),
                            by_route(
                                [
                                    least(
                                        exp.Add(
                                            this=col("last_start"),
                                            expression=interval(round(r.sla.seconds * US)),
                                        ),
                                        timestamp(LAST_INSTANT),  # as engine.runtime.due_time
                                    )
                                    if isinstance(r.sla, ast.Duration)
                                    # A business SLA's due time is counted in Python from
                                    # the handoff instant (warehouse.rows.RowReader).
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
            exp.alias_(col(f"e{index + 1}"), self.entered_columns[stage], quoted=True)
            for index, stage in self.stage_ids
        ]
        if self.first_entries:
            for index, stage in enumerate(self.names):
                output.append(exp.alias_(col(f"fs{index}"), f"first_{stage}", quoted=True))
                output.append(exp.alias_(col(f"fr{index}"), f"first_route_{stage}", quoted=True))
        query = exp.select(*output).from_("decided")
        query = query.order_by(col("ord") if self.order_column is not None else col("lid"))
        for name, cte in self.ctes:
            query = query.with_(name, as_=cte)
        return query
