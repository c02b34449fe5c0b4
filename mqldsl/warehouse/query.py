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
  stay, and the route is the first entry route of the stage whose condition
  holds at that instant.
- **Hot-event routes** (``hot``, ``hotlast``, ``handed``; SPEC §8): each of the
  lead's events at an instant of its latest stay is joined with that instant;
  the route it fires is the first declared `on` route that applies to the stage
  (:func:`mqldsl.engine.runtime.hot_routes`), whose pattern the event matches
  (a flag of ``ev``) and whose `when` holds at the instant. The latest such
  event (by instant, then by the events' input order) is the decision's
  handoff; at the entry instant it stands over the entry route's.
- **The result** (``decided``, then the final select): the values at the
  as-of instant, one row per lead, ordered by the order column or by id.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from mqldsl.engine.runtime import LAST_INSTANT, hot_routes
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
# The lists of every hot handoff (first_entries): column of `hotlist`, column of `hot` listed.
HOT_LISTS = (("hat", "t"), ("hrt", "hr"), ("hlab", "lab"), ("hep", "ep"))
# The lists of every entry handoff (first_entries): column of `entrylist`, column of
# `marked` listed.
ENTRY_LISTS = (("nat", "t"), ("nrt", "rt"), ("nlab", "lab"))


class QueryBuilder:
    """Assembles the query from the compiled expressions, one CTE after
    another (the module docstrings say what each step keeps)."""

    def __init__(
        self,
        c: ExpressionCompiler,
        as_of: float,
        order_column: str | None,
        first_entries: bool,
        event_order_column: str | None = None,
    ) -> None:
        """``order_column`` (a column of the leads table) orders the result;
        ``first_entries`` adds the first entry into each stage and its route;
        ``event_order_column`` (a column of the events table) orders the events of one
        instant, for hot-event routes."""
        model = c.model
        self.c = c
        self.model = model
        self.as_of_sql = timestamp(as_of)
        self.names = model.stage_names
        self.order_column = order_column
        self.event_order_column = event_order_column
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
        # Entry routes (number, stage index, condition); hot-event routes (SPEC §8): number,
        # the stages (indexes) it applies to, its pattern's flag in `ev`, its `when`.
        self.routes = [
            (
                number,
                self.names.index(route.stage),
                c.cond(route.condition) if route.condition else None,
            )
            for number, route in enumerate(model.routes)
            if route.on is None
        ]
        applies = hot_routes(self.names, [(r.stage, r.on is not None) for r in model.routes])
        self.hot = [
            (
                number,
                [index for index, numbers in enumerate(applies) if number in numbers],
                c.pattern(route.on.event, route.on.where),
                c.cond(route.condition) if route.condition else None,
            )
            for number, route in enumerate(model.routes)
            if route.on is not None
        ]
        self.hot = [item for item in self.hot if item[1]]  # a route of no stage never fires
        self.previous = "inst"  # the CTE that holds the latest score
        self.stage_ids: list[tuple[int, str]] = [(-1, DISQUALIFIED), *enumerate(self.names)]
        self.score_columns = {name: f"score_{name}" for name in model.lead_scores}
        self.account_score_columns = {
            name: f"account_score_{name}" for name in model.account_scores
        }
        self.entered_columns = {stage: f"entered_{stage}" for _, stage in self.stage_ids}
        # With hot-event routes and first_entries: every hot handoff of the history, as lists
        # in time order (instants, route numbers, stage indexes, event positions).
        self.hot_columns = (
            {"hat": "hot_at", "hrt": "hot_route", "hlab": "hot_stage", "hep": "hot_event"}
            if first_entries and self.hot and event_order_column is not None
            else {}
        )
        self.first_columns: dict[str, tuple[str, str]] = (
            {stage: (f"first_{stage}", f"first_route_{stage}") for stage in self.names}
            if first_entries
            else {}
        )
        # With first_entries: every entry into a routed stage (SPEC §8: each a handoff; a
        # new stay is an entry), as lists in time order (instants, route numbers, stages).
        self.entry_columns = (
            {"nat": "entry_at", "nrt": "entry_route", "nlab": "entry_stage"}
            if first_entries
            else {}
        )
        self.final = "handed" if self.hot else "decided"  # the CTE the result reads

    def build(
        self, leads_table: str, events_table: str, accounts_table: str = "accounts"
    ) -> exp.Select:
        """The whole query over the tables."""
        timeline = Timeline(
            self.c,
            self.as_of_sql,
            self.order_column,
            self.event_order_column if self.hot else None,
        )
        self.ctes += timeline.steps(leads_table, events_table, accounts_table)
        self._score_ctes()
        self._judged_cte()
        self._staged_cte()
        self._routed_cte()
        self._marked_cte()
        self._decided_cte()
        if self.hot:
            self._hot_ctes()
        if self.entry_columns:
            self._entry_ctes()
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
                    for number, stage, cond in self.routes
                ],
                exp.Literal.number(-1),
            )
            if self.routes
            else exp.Literal.number(-1)
        )
        # w<i>: whether the `when` of hot-event route number i holds at the instant.
        whens = [
            exp.alias_(paren(cond) if cond is not None else exp.true(), f"w{number}")
            for number, _, _, cond in self.hot
        ]
        self.ctes.append(
            (
                "routed",
                exp.select(
                    exp.Star(),
                    exp.alias_(route_case, "rt"),
                    exp.alias_(window(exp.Lag(this=col("lab")), running=False), "prv"),
                    *whens,
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
                "ert" if self.hot else "rt",  # with hot-event routes, `handed` gives `rt`
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

    def _hot_ctes(self) -> None:
        # hot: each of the lead's events at an instant of its latest stay, with the hot-event
        # route it fires (hr, -1: none); hotlast: the latest of them (by instant, then by the
        # events' input order); handed: the decision's route (rt) and handoff instant (ho).
        fired = case(
            [
                (
                    exp.and_(
                        exp.In(
                            this=col("lab", "m"),
                            expressions=[exp.Literal.number(index) for index in stages],
                        ),
                        col(f"p{pattern}", "ev"),
                        col(f"w{number}", "m"),
                    ),
                    exp.Literal.number(number),
                )
                for number, stages, pattern, _ in self.hot
            ],
            exp.Literal.number(-1),
        )
        ordered = self.event_order_column is not None
        self.ctes.append(
            (
                "hot",
                exp.select(
                    exp.alias_(col("lid", "m"), "lid"),
                    exp.alias_(col("t", "m"), "t"),
                    exp.alias_(col("lab", "m"), "lab"),
                    exp.alias_(col("last_start", "m"), "ls"),
                    *(
                        [exp.alias_(col("eo", "ev"), "eo"), exp.alias_(col("ep", "ev"), "ep")]
                        if ordered
                        else []
                    ),
                    exp.alias_(fired, "hr"),
                )
                .from_(exp.to_table("marked").as_("m"))
                .join(
                    exp.to_table("ev"),
                    on=exp.and_(
                        exp.EQ(this=col("lid", "ev"), expression=col("lid", "m")),
                        exp.EQ(this=col("t", "ev"), expression=col("t", "m")),
                    ),
                )
                .where(exp.GTE(this=col("lab", "m"), expression=exp.Literal.number(0))),
            )
        )
        # Without the events' input order, events of one instant that fire different routes
        # hand over by the first declared of those routes.
        tie = (
            exp.Ordered(this=col("eo"), desc=True)
            if ordered
            else exp.Ordered(this=col("hr"), desc=False)
        )

        def ranked(partition: list[exp.Expr], by_time: bool) -> exp.Window:
            keys = [exp.Ordered(this=col("t"), desc=True)] if by_time else []
            return exp.Window(
                this=exp.RowNumber(),
                partition_by=partition,
                order=exp.Order(expressions=[*keys, tie.copy()]),
            )

        fires = exp.GTE(this=col("hr"), expression=exp.Literal.number(0))
        self.ctes.append(
            (
                "hotranked",
                exp.select(
                    col("lid"), col("t"), col("hr"), exp.alias_(ranked([col("lid")], True), "rk")
                )
                .from_("hot")
                .where(exp.and_(fires.copy(), exp.GTE(this=col("t"), expression=col("ls")))),
            )
        )
        self.ctes.append(
            (
                "hotlast",
                exp.select(col("lid"), col("t"), col("hr"))
                .from_("hotranked")
                .where(exp.EQ(this=col("rk"), expression=exp.Literal.number(1))),
            )
        )
        no_hot = exp.Is(this=col("lid", "h"), expression=exp.null())
        handed = (
            exp.select(
                exp.Column(this=exp.Star(), table=exp.to_identifier("d")),
                exp.alias_(case([(no_hot, col("ert", "d"))], col("hr", "h")), "rt"),
                exp.alias_(case([(no_hot.copy(), col("last_start", "d"))], col("t", "h")), "ho"),
            )
            .from_(exp.to_table("decided").as_("d"))
            .join(
                exp.to_table("hotlast").as_("h"),
                join_type="LEFT",
                on=exp.EQ(this=col("lid", "h"), expression=col("lid", "d")),
            )
        )
        if self.hot_columns:
            # For the simulator: every hot handoff of the history, the last event of each
            # instant that fires one (hotsteps), listed in time order per lead (hotlist).
            self.ctes.append(
                (
                    "hotsteps",
                    exp.select(
                        exp.Star(),
                        exp.alias_(ranked([col("lid"), col("t")], False), "rk"),
                    )
                    .from_("hot")
                    .where(fires.copy()),
                )
            )

            def listed(value: str) -> exp.Expr:
                return exp.ArrayAgg(
                    this=exp.Order(this=col(value), expressions=[exp.Ordered(this=col("t"))])
                )

            self.ctes.append(
                (
                    "hotlist",
                    exp.select(
                        col("lid"),
                        *[exp.alias_(listed(value), inner) for inner, value in HOT_LISTS],
                    )
                    .from_("hotsteps")
                    .where(exp.EQ(this=col("rk"), expression=exp.Literal.number(1)))
                    .group_by(col("lid")),
                )
            )
            handed = handed.select(
                *[exp.alias_(col(inner, "hl"), inner) for inner, _ in HOT_LISTS]
            ).join(
                exp.to_table("hotlist").as_("hl"),
                join_type="LEFT",
                on=exp.EQ(this=col("lid", "hl"), expression=col("lid", "d")),
            )
        self.ctes.append(("handed", handed))

    def _entry_ctes(self) -> None:
        # For the simulator: every entry handoff of the history (an instant where a stay in
        # a stage starts and a route of it holds), listed in time order per lead (entrylist);
        # listed: the result so far with those lists.
        def listed(value: str) -> exp.Expr:
            return exp.ArrayAgg(
                this=exp.Order(this=col(value), expressions=[exp.Ordered(this=col("t"))])
            )

        self.ctes.append(
            (
                "entrylist",
                exp.select(
                    col("lid"),
                    *[exp.alias_(listed(value), inner) for inner, value in ENTRY_LISTS],
                )
                .from_("marked")
                .where(
                    exp.and_(
                        col("st"),
                        exp.GTE(this=col("lab"), expression=exp.Literal.number(0)),
                        exp.GTE(this=col("rt"), expression=exp.Literal.number(0)),
                    )
                )
                .group_by(col("lid")),
            )
        )
        self.ctes.append(
            (
                "listed",
                exp.select(
                    exp.Column(this=exp.Star(), table=exp.to_identifier("r")),
                    *[exp.alias_(col(inner, "el"), inner) for inner, _ in ENTRY_LISTS],
                )
                .from_(exp.to_table(self.final).as_("r"))
                .join(
                    exp.to_table("entrylist").as_("el"),
                    join_type="LEFT",
                    on=exp.EQ(this=col("lid", "el"), expression=col("lid", "r")),
                ),
            )
        )
        self.final = "listed"

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
                                            this=col("ho" if self.hot else "last_start"),
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
        if self.hot:  # the handoff instant: the entry's or the latest hot event's
            output.append(exp.alias_(col("ho"), "route_entered"))
            if self.hot_columns:  # every hot handoff: instants, routes, stages, events
                for inner, _ in HOT_LISTS:
                    output.append(exp.alias_(col(inner), self.hot_columns[inner]))
        for inner, name in self.entry_columns.items():  # every entry handoff
            output.append(exp.alias_(col(inner), name))
        query = exp.select(*output).from_(self.final)
        query = query.order_by(col("ord") if self.order_column is not None else col("lid"))
        for name, cte in self.ctes:
            query = query.with_(name, as_=cte, copy=False)
        return query
