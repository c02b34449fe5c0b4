"""The first steps of the query: the timeline of every lead, one row per
lead and instant, with everything the policy's expressions read there.

The instants of a lead are every event time, every event time plus every
window the policy uses, every decay step, and the as-of instant. Every event
pattern with a window is a counter: +1 at each matching event, -1 when that
event leaves the window (exactly at ``at + D``, so windows are half-open); a
running sum over the instants gives the count in ``(t - D, t]`` at every
instant. ``days since`` and decayed ``when`` rules read a running maximum of
the match times. Decayed ``per`` rules sum their occurrences at each instant
through a join of the instants with the events, and so do the aggregates
(``sum/max/min/avg``), each over its pattern's events that have the field.

The steps, as CTEs: ``lf`` (the leads, fields numbered), ``ev`` (their
declared events up to the as-of instant, one flag per pattern), ``deltas``,
``grouped`` and ``running`` (the counters' changes at every instant, summed
per instant, then running), ``decayed`` (the decayed sums, if any),
``aggregated`` (the aggregates, if any), ``contacts`` (the account aggregates over
contacts, if any) and ``inst`` (the counters unpacked, with the lead's fields).

Accounts (SPEC §9): ``lf`` joins the accounts table for the account fields.
With account scores, ``oev`` holds each lead's own events (its flags computed
with its own fields) and ``ev`` gives every lead the events of all the leads
of its account (``gk``: the account, or the lead itself without one): a lead
pattern's flag holds on the lead's own events only, an account pattern's on
all of them, and the colleagues' events are instants of the lead's timeline.
``count(distinct contact with ...)`` and `per contact` rules join each
instant with the account's events up to it, take each contact's latest match
in the window, then count (or sum the decayed points of) the contacts.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from mqldsl.language import ast
from mqldsl.warehouse.builders import (
    US,
    case,
    col,
    double,
    exact_sum,
    greatest,
    interval,
    micros_between,
    num,
    paren,
    user_col,
    window,
)
from mqldsl.warehouse.expressions import Counter, ExpressionCompiler

# Counters are packed PACK to a BIGINT column, BITS bits each: one running sum
# then carries several counts (a count is never negative and stays below
# 2**BITS), which makes the stream's aggregates several times cheaper; `inst`
# unpacks them with a shift and a mask.
PACK, BITS = 3, 21  # counters per BIGINT column, bits per counter
MAX_COUNT = (1 << BITS) - 1  # the most events one packed counter can count


class Timeline:
    """Builds the timeline steps of one query, once every expression of the
    policy is compiled (the compiler's registries are then complete)."""

    def __init__(
        self,
        c: ExpressionCompiler,
        as_of_sql: exp.Expr,
        order_column: str | None,
        event_order_column: str | None = None,
    ) -> None:
        """``as_of_sql`` is the as-of instant as a TIMESTAMP; ``order_column``
        (a column of the leads table, or None) is carried as ``ord``;
        ``event_order_column`` (a column of the events table, or None: the events'
        input order, which hot-event routes read) as ``eo`` of ``ev``."""
        self.c = c
        self.model = c.model
        self.as_of_sql = as_of_sql
        self.order_column = order_column
        self.event_order_column = event_order_column
        self.ctes: list[tuple[str, exp.Query]] = []
        self.counters = list(c.counters.values())
        self.latest = sorted(c.latest.items(), key=lambda item: item[1])
        self.packs = [self.counters[i : i + PACK] for i in range(0, len(self.counters), PACK)]
        self.zero = exp.Literal.number(0)
        self.no_time = exp.cast(exp.null(), exp.DataType.Type.TIMESTAMP)

    def steps(
        self, leads_table: str, events_table: str, accounts_table: str = "accounts"
    ) -> list[tuple[str, exp.Query]]:
        """The timeline's CTEs (name, query) in order, over the tables."""
        self._leads_cte(leads_table, accounts_table)
        self._events_cte(events_table)
        self._stream_ctes()
        self._decayed_cte()
        self._aggregated_cte()
        self._contacts_cte()
        self._instant_cte()
        return self.ctes

    def _leads_cte(self, leads_table: str, accounts_table: str) -> None:
        # lf: the leads, with numbered field columns (and their account's).
        varchar = exp.DataType.Type.VARCHAR
        lead_columns: list[exp.Expr] = [exp.alias_(exp.cast(user_col("id", "l"), varchar), "lid")]
        if self.order_column is not None:
            lead_columns.append(exp.alias_(user_col(self.order_column, "l"), "ord"))
        account = exp.cast(user_col("account", "l"), varchar)
        if self.model.uses_accounts:
            lead_columns.append(exp.alias_(account.copy(), "acc"))
        if self.model.reads_account_scores:
            # The group of leads whose events an account score reads: the account, or the
            # lead alone (the prefixes keep an account id from meeting a lead id).
            own = exp.DPipe(
                this=exp.Literal.string("l:"),
                expression=exp.cast(user_col("id", "l"), varchar),
                safe=True,
            )
            shared = exp.DPipe(this=exp.Literal.string("a:"), expression=account.copy(), safe=True)
            alone = exp.Is(this=account.copy(), expression=exp.null())
            lead_columns.append(exp.alias_(case([(alone, own)], shared), "gk"))
        for name, index in self.c.field_index.items():
            column: exp.Expr = user_col(name, "l")
            if self.model.fields[name].type.kind in ("int", "number"):
                column = double(column)
            lead_columns.append(exp.alias_(column, f"f{index}"))
        for name, index in self.c.account_index.items():
            column = user_col(name, "a")
            if self.model.account_fields[name].type.kind in ("int", "number"):
                column = double(column)
            lead_columns.append(exp.alias_(column, f"a{index}"))
        leads = exp.select(*lead_columns).from_(exp.to_table(leads_table).as_("l"))
        if self.c.account_index:
            leads = leads.join(
                exp.to_table(accounts_table).as_("a"),
                join_type="LEFT",
                on=exp.EQ(this=exp.cast(user_col("id", "a"), varchar), expression=account.copy()),
            )
        self.ctes.append(("lf", leads))

    def _events_cte(self, events_table: str) -> None:
        # ev: the lead's declared events up to the as-of instant, one flag per pattern.
        patterns = sorted(self.c.patterns.values())
        event_at = exp.cast(user_col("at", "e"), exp.DataType.Type.TIMESTAMP)
        flags = []
        for index, event, where, _ in patterns:
            tests: list[exp.Expr] = []
            if event is not None:
                tests.append(
                    exp.EQ(this=user_col("type", "e"), expression=exp.Literal.string(event))
                )
            if where is not None:
                tests.append(paren(self.c.cond(where, in_event=True)))
            matches = exp.and_(*tests) if tests else exp.true()
            flags.append(exp.alias_(matches, f"p{index}"))
        # The event fields that aggregates read (DOUBLE, NULL where an event lacks one).
        flags += [
            exp.alias_(double(user_col(name, "e")), value) for name, value in self.c.values.items()
        ]
        if self.event_order_column is not None:
            order = user_col(self.event_order_column, "e")
            flags.append(exp.alias_(order.copy(), "eo"))
            # ep: the event's position in the lead's events (as Handoff.event counts it)
            position = exp.Window(
                this=exp.RowNumber(),
                partition_by=[col("lid", "lf")],
                order=exp.Order(
                    expressions=[exp.Ordered(this=event_at.copy()), exp.Ordered(this=order)]
                ),
            )
            flags.append(exp.alias_(exp.Sub(this=position, expression=num(1)), "ep"))
        declared = [exp.Literal.string(name) for name in self.model.events]
        event_filter = exp.and_(
            exp.LTE(this=event_at.copy(), expression=self.as_of_sql.copy()),
            exp.In(this=user_col("type", "e"), expressions=declared) if declared else exp.false(),
        )
        expand = self.model.reads_account_scores
        group = [exp.alias_(col("gk", "lf"), "gk")] if expand else []
        self.ctes.append(
            (
                "oev" if expand else "ev",
                exp.select(
                    exp.alias_(col("lid", "lf"), "lid"), exp.alias_(event_at, "t"), *group, *flags
                )
                .from_(exp.to_table(events_table).as_("e"))
                .join(
                    exp.to_table("lf"),
                    on=exp.EQ(
                        this=exp.cast(user_col("lead_id", "e"), exp.DataType.Type.VARCHAR),
                        expression=col("lid", "lf"),
                    ),
                )
                .where(event_filter),
            )
        )
        if expand:
            self._account_events_cte(patterns)

    def _account_events_cte(
        self, patterns: list[tuple[int, str | None, ast.Expr | None, bool]]
    ) -> None:
        # ev: each lead's account's events (its own and its colleagues'), ``src`` the lead
        # each belongs to; a lead pattern holds on the lead's own events only.
        own = exp.EQ(this=col("lid", "o"), expression=col("lid", "m"))
        flags: list[exp.Expr] = []
        for index, _, _, account in patterns:
            flag: exp.Expr = col(f"p{index}", "o")
            if not account:
                flag = exp.and_(flag, own.copy())
            flags.append(exp.alias_(flag, f"p{index}"))
        self.ctes.append(
            (
                "ev",
                exp.select(
                    exp.alias_(col("lid", "m"), "lid"),
                    exp.alias_(col("lid", "o"), "src"),
                    exp.alias_(col("t", "o"), "t"),
                    *flags,
                    # The event fields that aggregates read, as on the lead's own events.
                    *[exp.alias_(col(value, "o"), value) for value in self.c.values.values()],
                    *(
                        [col("eo", "o"), col("ep", "o")]
                        if self.event_order_column is not None
                        else []
                    ),
                )
                .from_(exp.to_table("oev").as_("o"))
                .join(
                    exp.to_table("lf").as_("m"),
                    on=exp.EQ(this=col("gk", "m"), expression=col("gk", "o")),
                ),
            )
        )

    def _stream_ctes(self) -> None:
        # deltas: the stream of instants with each counter's change and each
        # match time; grouped: summed per instant; running: summed up to it.

        def stream(
            sign: Callable[[Counter], int],
            latest_value: Callable[[int], exp.Expr],
            source: exp.Select,
            t: exp.Expr,
        ) -> exp.Select:
            """One part of the stream: at instant ``t`` of each row of
            ``source``, each counter changes by ``sign(counter)`` where its
            pattern matches, and each latest match time is ``latest_value``
            of its pattern."""
            columns: list[exp.Expr] = [exp.alias_(col("lid", "ev"), "lid"), exp.alias_(t, "t")]
            for number, pack in enumerate(self.packs):
                terms = [
                    case([(flag(n.pattern), num(sign(n) * (1 << (BITS * slot))))], self.zero.copy())
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
            return col(f"p{index}", "ev")

        parts: list[exp.Select] = [
            stream(
                lambda n: 1,
                lambda p: case([(flag(p), col("t", "ev"))]),
                exp.select().from_(exp.to_table("ev")),
                col("t", "ev"),
            )
        ]
        windows = sorted({round(w * US) for w in self.model.windows})
        for width in windows:
            leave = exp.Add(this=col("t", "ev"), expression=interval(width))

            def leaving(n: Counter, width: int = width) -> int:
                return -1 if n.window_us == width else 0

            # The instant an event leaves a window changes nothing unless a
            # counter or a decayed `per` rule of that window counted the event
            # (or a `days since` reads the time): only those instants are kept.
            within: list[exp.Expr] = [exp.LTE(this=leave.copy(), expression=self.as_of_sql.copy())]
            if not self.c.continuous:
                counted = sorted(
                    {n.pattern for n in self.counters if n.window_us == width}
                    | {r.pattern for r in self.c.decayed if r.window_us == width}
                    | {g.pattern for g in self.c.aggregates.values() if g.window_us == width}
                    | {p for p, w in self.c.contact_latest if w == width}
                )
                if not counted:
                    continue
                within.append(paren(exp.or_(*(flag(index) for index in counted))))
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
                round(info.node.decay.every.seconds * US)
                for info in self.model.scores.values()
                if info.node.decay is not None
            }
        )
        for period in periods:
            count = exp.Floor(
                this=exp.Div(
                    this=double(micros_between(col("t", "ev"), self.as_of_sql.copy())),
                    expression=num(float(period)),
                )
            )
            series = exp.GenerateSeries(
                start=exp.Literal.number(1),
                end=exp.cast(greatest(count, exp.Literal.number(1)), exp.DataType.Type.BIGINT),
            )
            unnest = exp.Unnest(
                expressions=[series],
                alias=exp.TableAlias(this=exp.to_identifier("g"), columns=[exp.to_identifier("k")]),
            )
            step = exp.Add(
                this=col("t", "ev"),
                expression=exp.Mul(this=col("k", "g"), expression=interval(period)),
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
            exp.alias_(col("lid"), "lid"),
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
                col("lid"),
                col("t"),
                *[
                    exp.alias_(exp.Sum(this=col(f"dpk{i}")), f"dpk{i}")
                    for i in range(len(self.packs))
                ],
                *[exp.alias_(exp.Max(this=col(name)), name) for _, name in self.latest],
            )
            .from_(exp.to_table("deltas"))
            .group_by(col("lid"), col("t"))
        )
        self.ctes.append(("grouped", grouped))
        running = exp.select(
            col("lid"),
            col("t"),
            *[
                exp.alias_(
                    exp.cast(window(exp.Sum(this=col(f"dpk{i}"))), exp.DataType.Type.BIGINT),
                    f"pk{i}",
                )
                for i in range(len(self.packs))
            ],
            *[exp.alias_(window(exp.Max(this=col(name))), name) for _, name in self.latest],
        ).from_(exp.to_table("grouped"))
        self.ctes.append(("running", running))

    def _decayed_cte(self) -> None:
        # decayed `per` rules: the decayed occurrences summed at every instant.
        if self.c.decayed:
            sums = []
            for name, matched, reach, points, factor, every in self.c.decayed:
                inside: list[exp.Expr] = [col(f"p{matched}", "ev")]
                if reach is not None:
                    inside.append(
                        exp.GT(
                            this=col("t", "ev"),
                            expression=exp.Sub(this=col("t", "r"), expression=interval(reach)),
                        )
                    )
                steps = exp.Floor(
                    this=exp.Div(
                        this=double(micros_between(col("t", "ev"), col("t", "r"))),
                        expression=num(float(every)),
                    )
                )
                value = exp.Mul(
                    this=num(points), expression=exp.Pow(this=num(factor), expression=steps)
                )
                sums.append(
                    exp.alias_(
                        exp.Sum(this=case([(exp.and_(*inside), value)], self.zero.copy())),
                        name,
                    )
                )
            self.ctes.append(
                (
                    "decayed",
                    exp.select(col("lid", "r"), col("t", "r"), *sums)
                    .from_(exp.to_table("running").as_("r"))
                    .join(
                        exp.to_table("ev"),
                        on=exp.and_(
                            exp.EQ(this=col("lid", "ev"), expression=col("lid", "r")),
                            exp.LTE(this=col("t", "ev"), expression=col("t", "r")),
                        ),
                    )
                    .group_by(col("lid", "r"), col("t", "r")),
                )
            )

    def _aggregated_cte(self) -> None:
        # aggregated: each `sum/max/min/avg` at every instant, over the lead's events up to it
        # (in its window) that match its pattern; an event without the field is NULL there,
        # which SUM, MAX, MIN and COUNT skip.
        if not self.c.aggregates:
            return
        columns: list[exp.Expr] = [col("lid", "r"), col("t", "r")]
        for name, matched, reach, function, value, whole in self.c.aggregates.values():
            inside: list[exp.Expr] = [col(f"p{matched}", "ev")]
            if reach is not None:
                inside.append(
                    exp.GT(
                        this=col("t", "ev"),
                        expression=exp.Sub(this=col("t", "r"), expression=interval(reach)),
                    )
                )
            picked = case([(exp.and_(*inside), col(value, "ev"))])
            result: exp.Expr
            if function == "sum":
                result = exp.Sum(this=picked) if whole else exact_sum(picked)
            elif function == "max":
                result = exp.Max(this=picked)
            elif function == "min":
                result = exp.Min(this=picked)
            else:
                count = exp.Nullif(
                    this=exp.Count(this=picked.copy()), expression=exp.Literal.number(0)
                )
                result = exp.Div(this=exact_sum(picked), expression=count)
            columns.append(exp.alias_(result, name))
        self.ctes.append(
            (
                "aggregated",
                exp.select(*columns)
                .from_(exp.to_table("running").as_("r"))
                .join(
                    exp.to_table("ev"),
                    on=exp.and_(
                        exp.EQ(this=col("lid", "ev"), expression=col("lid", "r")),
                        exp.LTE(this=col("t", "ev"), expression=col("t", "r")),
                    ),
                )
                .group_by(col("lid", "r"), col("t", "r")),
            )
        )

    def _contacts_cte(self) -> None:
        # contacts: at every instant, each contact's latest match of each account pattern in
        # its window (m<i>), then the count of contacts with one (c<i>) or their decayed
        # points (kc<i>).
        if not self.c.contact_rules:
            return
        latest: list[exp.Expr] = []
        for (pattern, width), name in self.c.contact_latest.items():
            inside: list[exp.Expr] = [col(f"p{pattern}", "ev")]
            if width is not None:
                inside.append(
                    exp.GT(
                        this=col("t", "ev"),
                        expression=exp.Sub(this=col("t", "r"), expression=interval(width)),
                    )
                )
            latest.append(
                exp.alias_(exp.Max(this=case([(exp.and_(*inside), col("t", "ev"))])), name)
            )
        per_contact = (
            exp.select(col("lid", "r"), col("t", "r"), *latest)
            .from_(exp.to_table("running").as_("r"))
            .join(
                exp.to_table("ev"),
                on=exp.and_(
                    exp.EQ(this=col("lid", "ev"), expression=col("lid", "r")),
                    exp.LTE(this=col("t", "ev"), expression=col("t", "r")),
                ),
            )
            .group_by(col("lid", "r"), col("t", "r"), col("src", "ev"))
        )
        sums: list[exp.Expr] = []
        for rule in self.c.contact_rules:
            if rule.points is None:
                sums.append(exp.alias_(exp.Count(this=col(rule.latest)), rule.name))
                continue
            steps = exp.Floor(
                this=exp.Div(
                    this=double(micros_between(col(rule.latest), col("t"))),
                    expression=num(float(rule.every_us)),
                )
            )
            value = exp.Mul(
                this=num(rule.points), expression=exp.Pow(this=num(rule.factor), expression=steps)
            )
            found = exp.Not(this=exp.Is(this=col(rule.latest), expression=exp.null()))
            sums.append(
                exp.alias_(exp.Sum(this=case([(found, value)], self.zero.copy())), rule.name)
            )
        self.ctes.append(
            (
                "contacts",
                exp.select(col("lid"), col("t"), *sums)
                .from_(per_contact.subquery("pc"))
                .group_by(col("lid"), col("t")),
            )
        )

    def _instant_cte(self) -> None:
        # inst: one row per lead and instant, with the lead's fields.
        inst_columns: list[exp.Expr] = [col("lid", "r"), col("t", "r")]
        if self.order_column is not None:
            inst_columns.append(col("ord", "lf"))
        if self.model.uses_accounts:
            inst_columns.append(col("acc", "lf"))
        for number, pack in enumerate(self.packs):
            for slot, n in enumerate(pack):
                packed: exp.Expr = col(f"pk{number}", "r")
                if slot:
                    packed = exp.paren(
                        exp.BitwiseRightShift(this=packed, expression=num(BITS * slot))
                    )
                mask = exp.BitwiseAnd(this=packed, expression=num((1 << BITS) - 1))
                inst_columns.append(exp.alias_(mask, n.name))
        inst_columns += [col(name, "r") for _, name in self.latest]
        inst_columns += [col(f"f{i}", "lf") for i in self.c.field_index.values()]
        inst_columns += [col(f"a{i}", "lf") for i in self.c.account_index.values()]
        inst = (
            exp.select(*inst_columns)
            .from_(exp.to_table("running").as_("r"))
            .join(exp.to_table("lf"), on=exp.EQ(this=col("lid", "lf"), expression=col("lid", "r")))
        )
        if self.c.decayed:
            inst = inst.select(
                *[
                    exp.alias_(
                        exp.Coalesce(this=col(name, "dk"), expressions=[self.zero.copy()]), name
                    )
                    for name, *_ in self.c.decayed
                ]
            ).join(
                exp.to_table("decayed").as_("dk"),
                join_type="LEFT",
                on=exp.and_(
                    exp.EQ(this=col("lid", "dk"), expression=col("lid", "r")),
                    exp.EQ(this=col("t", "dk"), expression=col("t", "r")),
                ),
            )
        if self.c.aggregates:
            # A sum over no event is 0; max, min and avg are then missing (SPEC §5).
            inst = inst.select(
                *[
                    exp.alias_(
                        exp.Coalesce(this=col(g.name, "ag"), expressions=[self.zero.copy()])
                        if g.function == "sum"
                        else col(g.name, "ag"),
                        g.name,
                    )
                    for g in self.c.aggregates.values()
                ]
            ).join(
                exp.to_table("aggregated").as_("ag"),
                join_type="LEFT",
                on=exp.and_(
                    exp.EQ(this=col("lid", "ag"), expression=col("lid", "r")),
                    exp.EQ(this=col("t", "ag"), expression=col("t", "r")),
                ),
            )
        if self.c.contact_rules:
            inst = inst.select(
                *[
                    exp.alias_(
                        exp.Coalesce(this=col(rule.name, "ct"), expressions=[self.zero.copy()]),
                        rule.name,
                    )
                    for rule in self.c.contact_rules
                ]
            ).join(
                exp.to_table("contacts").as_("ct"),
                join_type="LEFT",
                on=exp.and_(
                    exp.EQ(this=col("lid", "ct"), expression=col("lid", "r")),
                    exp.EQ(this=col("t", "ct"), expression=col("t", "r")),
                ),
            )
        self.ctes.append(("inst", inst))
