"""Hypothesis strategies that build random *syntactically valid* policy ASTs.

Names come from a pool that avoids reserved words and the keywords that a
position could also accept (so that printing and re-parsing gives the same
tree). The checker's rules (declared names, types) are not respected here.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from mqldsl.language import ast

NAMES = [
    "fit",
    "intent",
    "role",
    "company_size",
    "page_view",
    "demo_request",
    "mql",
    "sql",
    "visitor",
    "lead_x",
    "x1",
    "a_b",
    "score_total",
    "stage2",
    "orders",
    "andrew",
    "_private",
]
UNITS = ["minute", "hour", "day", "week"]
OPS = ["==", "!=", "<", "<=", ">", ">="]

names = st.sampled_from(NAMES)
text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    ),
    max_size=12,
)
positive_ints = st.integers(min_value=0, max_value=10_000)
decimals = st.decimals(
    min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False
).map(float)
unsigned: st.SearchStrategy[ast.Number] = st.one_of(positive_ints, decimals)
signed: st.SearchStrategy[ast.Number] = st.one_of(
    st.integers(min_value=-10_000, max_value=10_000), decimals, decimals.map(lambda v: -v)
)
nonzero: st.SearchStrategy[ast.Number] = signed.filter(lambda v: v != 0)
dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
instants = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=dt.UTC)
)
durations = st.builds(
    ast.Duration,
    amount=st.one_of(st.integers(min_value=1, max_value=400), decimals.filter(lambda v: v > 0)),
    unit=st.sampled_from(UNITS),
)
business_slas = st.builds(
    ast.BusinessSla,
    # (at most 3,660 business days: E114 above, as the parser says)
    amount=st.one_of(
        st.integers(min_value=1, max_value=400), decimals.filter(lambda v: 0 < v <= 3660)
    ),
    unit=st.sampled_from(["minute", "hour", "day"]),
    calendar=st.one_of(st.none(), st.sampled_from(NAMES)),
)
clock_minutes = st.integers(min_value=0, max_value=1440)
day_names = st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun", *NAMES])
calendar_settings: st.SearchStrategy[ast.CalendarSetting] = st.one_of(
    st.builds(ast.CalendarTimezone, zone=st.sampled_from(["UTC", "Europe/Berlin"]) | text),
    st.builds(ast.CalendarHours, opens=clock_minutes, closes=clock_minutes),
    st.builds(ast.CalendarDays, days=st.tuples(day_names, day_names), through=st.just(True)),
    st.builds(
        ast.CalendarDays,
        days=st.lists(day_names, min_size=1, max_size=4).map(tuple),
        through=st.just(False),
    ),
    st.builds(
        ast.CalendarHolidays,
        dates=st.lists(st.dates(), max_size=12).map(tuple),
    ),
)
calendars = st.builds(
    ast.Calendar,
    name=st.one_of(st.none(), st.sampled_from(NAMES)),
    settings=st.lists(calendar_settings, max_size=5).map(tuple),
)
# Where a policy's rules take a length of time, a duration param's name may stand (SPEC §5.2):
# parsed, it is unresolved (amount 0, day) until the checker gives it the param's value.
lengths: st.SearchStrategy[ast.Duration] = st.one_of(
    durations, st.builds(ast.Duration, amount=st.just(0), unit=st.just("day"), param=names)
)

literal_leaves: st.SearchStrategy[ast.Expr] = st.one_of(
    st.builds(ast.NumberLit, value=unsigned),
    st.builds(ast.StringLit, value=text),
    st.builds(ast.BoolLit, value=st.booleans()),
    st.builds(ast.DateLit, value=dates),
    st.builds(ast.InstantLit, value=instants),
    st.builds(ast.Name, name=names),
    st.builds(ast.AccountRef, field=names),
)


def _operators(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    return st.one_of(
        st.builds(ast.Or, operands=st.lists(children, min_size=2, max_size=3).map(tuple)),
        st.builds(ast.And, operands=st.lists(children, min_size=2, max_size=3).map(tuple)),
        st.builds(ast.Not, operand=children),
        st.builds(ast.Compare, op=st.sampled_from(OPS), left=children, right=children),  # type: ignore[arg-type]
        st.builds(ast.Between, operand=children, low=children, high=children),
        st.builds(
            ast.Membership,
            operand=children,
            collection=st.one_of(
                # List items are plain values: the grammar reads them as `where`-level
                # expressions, without event patterns.
                st.builds(ast.ListLit, items=st.lists(literal_leaves, max_size=3).map(tuple)),
                st.builds(ast.Name, name=names),
            ),
            negated=st.booleans(),
        ),
        st.builds(
            ast.TextTest,
            op=st.sampled_from(["contains", "starts with", "ends with"]),  # type: ignore[arg-type]
            operand=children,
            value=st.builds(ast.StringLit, value=text),
        ),
        st.builds(ast.Presence, operand=children, missing=st.booleans()),
        st.builds(
            ast.Arith, op=st.sampled_from(["+", "-", "*", "/"]), left=children, right=children
        ),  # type: ignore[arg-type]
        st.builds(ast.Unary, op=st.just("-"), operand=children),  # type: ignore[arg-type]
    )


# Conditions after `where`: no event patterns inside.
where_exprs: st.SearchStrategy[ast.Expr] = st.recursive(literal_leaves, _operators, max_leaves=6)

windows: st.SearchStrategy[ast.Window] = st.one_of(st.none(), st.just("ever"), lengths)
any_event = st.one_of(st.none(), names)


@st.composite
def patterns(draw: st.DrawFn, bare_name_allowed: bool = True) -> ast.Pattern:
    event = draw(any_event)
    where = draw(st.one_of(st.none(), where_exprs))
    window = draw(windows)
    if not bare_name_allowed and event is not None and where is None and window is None:
        window = "ever"  # a bare name is parsed as a Name, not a pattern
    return ast.Pattern(event=event, where=where, window=window)


event_leaves: st.SearchStrategy[ast.Expr] = st.one_of(
    patterns(bare_name_allowed=False),
    st.builds(ast.NoEvents, pattern=patterns()),
    st.builds(ast.Count, pattern=patterns()),
    st.builds(
        ast.Aggregate,
        function=st.sampled_from(["sum", "max", "min", "avg"]),  # type: ignore[arg-type]
        field=names,
        pattern=patterns(),
    ),
    st.builds(ast.ContactCount, pattern=patterns()),
    st.builds(ast.DaysSince, event=any_event, where=st.one_of(st.none(), where_exprs)),
)

exprs: st.SearchStrategy[ast.Expr] = st.recursive(
    st.one_of(literal_leaves, event_leaves), _operators, max_leaves=8
)

values: st.SearchStrategy[ast.Value] = st.one_of(
    st.builds(ast.NumberLit, value=signed),
    st.builds(ast.StringLit, value=text),
    st.builds(ast.BoolLit, value=st.booleans()),
    st.builds(ast.DateLit, value=dates),
    st.builds(ast.InstantLit, value=instants),
    st.builds(ast.Name, name=names),
    st.builds(
        ast.ListLit,
        items=st.lists(
            st.one_of(st.builds(ast.Name, name=names), st.builds(ast.StringLit, value=text)),
            max_size=3,
        ).map(tuple),
    ),
)
descriptions = st.one_of(st.none(), text)

simple_types = st.builds(
    ast.SimpleType, name=st.sampled_from(["int", "number", "bool", "text", "date"])
)
enum_types = st.builds(ast.EnumType, members=st.lists(names, min_size=1, max_size=4).map(tuple))
types: st.SearchStrategy[ast.TypeExpr] = st.one_of(
    simple_types,
    enum_types,
    st.builds(ast.SetType, element=st.one_of(st.just(ast.SimpleType(name="text")), enum_types)),
)
fields = st.builds(ast.FieldDecl, name=names, type=types, description=descriptions)
field_lists = st.lists(fields, max_size=4).map(tuple)

rules: st.SearchStrategy[ast.Rule] = st.one_of(
    st.builds(ast.WhenRule, points=nonzero, condition=exprs, label=descriptions),
    st.builds(
        ast.PerRule,
        points=nonzero,
        pattern=patterns(),
        max=st.one_of(st.none(), unsigned),
        label=descriptions,
        per_contact=st.booleans(),
    ),
)

scores = st.one_of(
    st.builds(
        ast.Score,
        name=names,
        description=descriptions,
        range=st.one_of(st.none(), st.builds(ast.RangeOption, low=signed, high=signed)),
        decay=st.one_of(st.none(), st.builds(ast.DecayOption, percent=unsigned, every=lengths)),
        rules=st.lists(rules, max_size=4).map(tuple),
        formula=st.none(),
        on_account=st.booleans(),
    ),
    st.builds(
        ast.Score,
        name=names,
        description=descriptions,
        range=st.none(),
        decay=st.none(),
        rules=st.none(),
        formula=exprs,
        on_account=st.booleans(),
    ),
)

stage_lists = st.lists(
    st.builds(
        ast.Stage, name=names, description=descriptions, condition=st.one_of(st.none(), exprs)
    ),
    max_size=4,
).map(tuple)

entries = st.lists(st.builds(ast.Entry, name=names, value=values), max_size=3).map(tuple)
time_refs: st.SearchStrategy[ast.TimeRef] = st.one_of(
    st.builds(ast.RelativeTime, sign=st.sampled_from([-1, 1]), duration=durations),
    st.builds(ast.DateLit, value=dates),
    st.builds(ast.InstantLit, value=instants),
)
# A number an expectation compares with: written, or a param's name.
amounts: st.SearchStrategy[ast.Amount] = st.one_of(
    st.builds(ast.NumberLit, value=signed), st.builds(ast.Name, name=names)
)
example_events = st.builds(
    ast.ExampleEvent,
    event=names,
    entries=st.one_of(st.none(), entries),
    times=st.lists(time_refs, min_size=1, max_size=3).map(tuple),
)
example_items: st.SearchStrategy[ast.ExampleItem] = st.one_of(
    st.builds(ast.ExampleLead, entries=entries),
    example_events,
    st.builds(ast.ExampleAccount, entries=entries),
    st.builds(
        ast.ExampleContact,
        id=text,
        items=st.lists(
            st.one_of(st.builds(ast.ExampleLead, entries=entries), example_events), max_size=3
        ).map(tuple),
    ),
    st.builds(ast.ExpectAccountScore, score=names, op=st.sampled_from(OPS), value=amounts),  # type: ignore[arg-type]
    st.builds(ast.ExpectStage, stage=names),
    st.builds(ast.ExpectStageIn, stages=st.lists(names, min_size=1, max_size=3).map(tuple)),
    st.builds(ast.ExpectDisqualified, reason=descriptions),
    st.builds(ast.ExpectNotDisqualified),
    st.builds(ast.ExpectScore, score=names, op=st.sampled_from(OPS), value=amounts),  # type: ignore[arg-type]
    st.builds(ast.ExpectBetween, score=names, low=amounts, high=amounts),
    st.builds(ast.ExpectRoute, queue=names),
    st.builds(ast.ExpectNoRoute),
    st.builds(ast.ExpectDue, when=time_refs),
)

body_items: st.SearchStrategy[ast.Item] = st.one_of(
    st.builds(ast.LeadBlock, fields=field_lists),
    st.builds(ast.AccountBlock, fields=field_lists),
    st.builds(
        ast.EventDecl,
        name=names,
        description=descriptions,
        fields=st.one_of(st.none(), field_lists),
    ),
    st.builds(ast.Param, name=names, value=st.one_of(values, durations), description=descriptions),
    calendars,
    scores,
    st.builds(ast.Stages, locked=st.booleans(), stages=stage_lists),
    st.builds(ast.Disqualify, reason=text, condition=exprs),
    st.builds(
        ast.Recycle, from_stage=names, to_stage=names, condition=exprs, description=descriptions
    ),
    st.builds(
        ast.Route,
        stage=names,
        queue=names,
        condition=st.one_of(st.none(), exprs),
        sla=st.one_of(st.none(), lengths, business_slas),
        # a hot-event route (SPEC §8); the checker refuses a window there, the parser not
        on=st.one_of(
            st.none(),
            st.builds(
                ast.Pattern,
                event=any_event,
                where=st.one_of(st.none(), where_exprs),
                window=windows,
            ),
        ),
    ),
    st.builds(
        ast.Example,
        name=text,
        at=st.one_of(
            st.none(),
            st.builds(ast.DateLit, value=dates),
            st.builds(ast.InstantLit, value=instants),
        ),
        items=st.lists(example_items, max_size=5).map(tuple),
    ),
)


@st.composite
def policies(draw: st.DrawFn) -> ast.Policy:
    items: list[ast.Item] = [ast.PolicyTitle(title=draw(text))]
    if draw(st.booleans()):
        items.append(ast.Version(number=draw(unsigned)))
    if draw(st.booleans()):
        items.append(ast.Owner(owner=draw(text)))
    if draw(st.booleans()):
        items.append(ast.Effective(date=draw(dates)))
    if draw(st.booleans()):
        items.append(
            ast.About(
                text=draw(st.one_of(text, st.lists(text, min_size=2, max_size=3).map("\n".join)))
            )
        )
    items.extend(draw(st.lists(body_items, max_size=6)))
    return ast.Policy(items=tuple(items))
