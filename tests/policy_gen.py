"""Hypothesis strategies for *checked* policies and journeys over a fixed
schema: every construct of the expression language (aggregates included), both stage modes,
decay, caps, ranges, derived scores, recycling, routes (entry and hot-event); journeys with events
on window edges, missing fields and events after the as-of instant."""

from __future__ import annotations

import datetime as dt

import msgspec
from hypothesis import strategies as st

from mqldsl.engine.runtime import DAY, Event, Lead, to_seconds
from mqldsl.language import ast

SCHEMA = """lead {
  n: int
  x: number
  t: text
  b: bool
  d: date
  e: enum(a, b, c)
  st: set of text
  se: set of enum(p, q)
}

event ev1 { k: enum(a, b), v: int, s: text }
event ev2
event ev3 { v: number }

param pn = 10
param pe = [a, b]

calendar {
  timezone "America/New_York"
  hours 09:00 to 17:30
  days mon to fri
  holidays [2026-10-12, 2026-10-30]
}

calendar emea {
  timezone "Europe/Berlin"
  hours 08:00 to 17:00
  days mon, tue, wed, thu, fri
  holidays [2026-10-26]
}
param pw = 7 days
param pd = 2 days
param ps = 1 hour
"""
# Plain and business-hours SLAs (SPEC §8.1): the as-of instant is New York's autumn change
# (1 Nov 2026) and Berlin's (25 Oct) is within the journeys' 40 days.
SLAS = [
    "5 minutes",
    "1 hour",
    "2 days",
    "4 business hours",
    "30 business minutes",
    "1 business day of emea",
    "3 business days",
    "ps",  # a duration param (SPEC §5.2)
]
AS_OF = to_seconds(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
WINDOWS = [1, 3, 7, 30]  # days
# Duration params (SPEC §5.2) the policies use, and lengths a run may give them instead.
LENGTHS = st.sampled_from(
    [
        {},
        {"pw": ast.Duration(amount=3, unit="day")},
        {"pw": ast.Duration(amount=36, unit="hour"), "pd": ast.Duration(amount=1, unit="week")},
        {"pd": ast.Duration(amount=12, unit="hour"), "ps": ast.Duration(amount=2, unit="day")},
    ]
)
OPS = ["==", "!=", "<", "<=", ">", ">="]


def _duration(days: int) -> str:
    return f"{days} day" if days == 1 else f"{days} days"


@st.composite
def where_ev1(draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(
            [
                "k == a",
                "k != b",
                "v > 2",
                "v between 1 and 3",
                's starts with "x"',
                's contains "y"',
                "v is missing",
                "k == a and v >= 2",
                "k == b or n > 5",
                "e == c",
            ]
        )
    )


@st.composite
def pattern(draw: st.DrawFn) -> str:
    event = draw(st.sampled_from(["ev1", "ev2", "ev3", "event"]))
    text = event
    if event == "ev1" and draw(st.booleans()):
        text += " where " + draw(where_ev1())
    elif event == "ev3" and draw(st.booleans()):
        text += " where " + draw(st.sampled_from(["v > 1.5", "v < 0", "v is present"]))
    window = draw(
        st.sampled_from(["", " ever", " within pw", *[" within " + _duration(w) for w in WINDOWS]])
    )
    if event == "event" and window == "" and " where " not in text:
        window = " ever"
    return text + window


@st.composite
def aggregate(draw: st.DrawFn) -> str:
    """`sum/max/min/avg` of ev1's int `v` or ev3's number `v` (both often absent)."""
    function = draw(st.sampled_from(["sum", "max", "min", "avg"]))
    event = draw(st.sampled_from(["ev1", "ev3"]))
    text = f"{event}.v"
    if event == "ev1" and draw(st.booleans()):
        text += " where " + draw(where_ev1())
    elif event == "ev3" and draw(st.booleans()):
        text += " where " + draw(st.sampled_from(["v > 1.5", "v < 0", "n > 5"]))
    window = draw(st.sampled_from(["", " ever", *[" within " + _duration(w) for w in WINDOWS]]))
    return f"{function}({text}{window})"


@st.composite
def hot_event(draw: st.DrawFn) -> str:
    """The event of a hot-event route: a pattern without a window."""
    event = draw(st.sampled_from(["ev1", "ev2", "ev3", "event"]))
    if event == "ev1" and draw(st.booleans()):
        return event + " where " + draw(where_ev1())
    if event == "ev3" and draw(st.booleans()):
        return event + " where " + draw(st.sampled_from(["v > 1.5", "v < 0", "v is present"]))
    if event == "event" and draw(st.booleans()):
        return event + " where " + draw(st.sampled_from(["n > 5", "e == a"]))
    return event


ACCOUNT_SCHEMA = """account { size: int, tier: enum(x, y) }
"""


@st.composite
def account_score(draw: st.DrawFn, name: str, earlier: list[str]) -> str:
    """An account score (SPEC §9): contact counts, per-contact rules, account-wide patterns,
    account fields and earlier account scores."""
    if earlier and draw(st.integers(min_value=0, max_value=4)) == 0:
        other = draw(st.sampled_from(earlier))
        return f"score {name} on account = {other} * 2 + size / 100\n"
    head = f"score {name} on account"
    if draw(st.booleans()):
        head += f" range 0 to {draw(st.sampled_from([20, 50]))}"
    if draw(st.booleans()):
        head += f" decay {draw(st.sampled_from([10, 50]))}% every {_duration(draw(st.sampled_from([1, 7])))}"
    lines = [head + " {"]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        points = draw(st.sampled_from(["+5", "-3", "+2.5", "+10"]))
        kind = draw(st.integers(min_value=0, max_value=4))
        if kind == 0:
            count = draw(st.integers(min_value=1, max_value=3))
            rule = f"when count(distinct contact with {draw(pattern())}) >= {count}"
        elif kind == 1:
            rule = f"per contact with {draw(pattern())}"
            rule += draw(st.sampled_from(["", ", max 12"]))
        elif kind == 2:
            rule = f"per {draw(pattern())}" + draw(st.sampled_from(["", ", max 7"]))
        elif kind == 3:
            rule = "when " + draw(
                st.sampled_from(
                    ["size > 100", "tier == x", "size is missing", f"{draw(pattern())}"]
                    + ([f"{earlier[0]} > 3"] if earlier else [])
                )
            )
        else:
            rule = "when " + draw(
                st.sampled_from(
                    [
                        "(days since ev2) < 3",
                        "count(ev1) >= 2",
                        "sum(ev1.v within 7 days) >= 3",
                        "avg(ev3.v where n > 5) > 0.5",
                    ]
                )
            )
        lines.append(f"  {points} {rule}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def numeric(scores: list[str]) -> st.SearchStrategy[str]:
    leaves = [
        st.just("n"),
        st.just("x"),
        st.just("pn"),
        st.integers(min_value=0, max_value=20).map(str),
        st.sampled_from(["0.5", "2.25", "7.5"]),
        pattern().map(lambda p: f"count({p})"),
        aggregate(),
        st.sampled_from(
            ["(days since ev2)", "(days since ev1 where k == a)", "(days since event)"]
        ),
    ]
    if scores:
        leaves.append(st.sampled_from(scores))
    base = st.one_of(*leaves)
    return st.recursive(
        base,
        lambda inner: st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        max_leaves=3,
    )


def condition(scores: list[str]) -> st.SearchStrategy[str]:
    num = numeric(scores)
    atoms = st.one_of(
        st.tuples(num, st.sampled_from(OPS), num).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.sampled_from(
            [
                "e == a",
                "e != c",
                "e in [a, c]",
                "e not in [b]",
                "e in pe",
                't starts with "ab"',
                't ends with "z"',
                't contains "q"',
                'st contains "aws"',
                "se contains p",
                "b",
                "b == false",
                "d > 2026-06-01",
                "d between 2026-01-01 and 2026-12-31",
                "n is missing",
                "x is present",
                "t is present",
                "n between 5 and 15",
            ]
        ),
        pattern(),
        pattern().map(
            lambda p: (
                f"no {p}"
                if " where " not in p or p.endswith(("ever", "days", "day"))
                else f"(no {p})"
            )
        ),
    )
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda t: f"({t[0]}) and ({t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]}) or ({t[1]})"),
            inner.map(lambda c: f"not ({c})"),
        ),
        max_leaves=4,
    )


def lasting() -> st.SearchStrategy[str]:
    """A condition that, once it holds, holds at every later instant of a journey that never
    restarts: profile tests and `ever` patterns, joined by `and`/`or`."""
    atoms = st.one_of(
        st.sampled_from(["e == a", "b", "n is missing", 't starts with "ab"']),
        st.sampled_from(["ev1", "ev2 ever", "ev1 where k == a ever", "ev3 where v > 1.5 ever"]),
    )
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda t: f"({t[0]}) and ({t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]}) or ({t[1]})"),
        ),
        max_leaves=3,
    )


@st.composite
def score_block(draw: st.DrawFn, name: str, earlier: list[str]) -> str:
    if earlier and draw(st.integers(min_value=0, max_value=4)) == 0:
        formula = draw(numeric(earlier))
        return f"score {name} = {formula}\n"
    head = f"score {name}"
    if draw(st.booleans()):
        low = draw(st.integers(min_value=-50, max_value=0))
        head += f" range {low} to {low + draw(st.integers(min_value=1, max_value=80))}"
    if draw(st.booleans()):
        every = draw(st.sampled_from(["pd", *[_duration(d) for d in (1, 2, 7)]]))
        head += f" decay {draw(st.sampled_from([10, 25, 50]))}% every {every}"
    lines = [head + " {"]
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        points = draw(st.sampled_from(["+5", "-3", "+2.5", "+10", "-20", "+0.25"]))
        if draw(st.booleans()):
            cap = draw(st.sampled_from(["", ", max 12", ", max 4.5"]))
            lines.append(f"  {points} per {draw(pattern())}{cap}")
        else:
            lines.append(f"  {points} when {draw(condition(earlier))}")
    lines.append("}")
    return "\n".join(lines) + "\n"


@st.composite
def policies(
    draw: st.DrawFn, recycling: bool = True, hot: bool = True, accounts: bool = False
) -> str:
    """A checked policy; ``recycling=False`` leaves out `recycle` rules and ``hot=False``
    hot-event routes (the SQL back end refuses recycling); ``accounts`` adds account fields and
    account scores that lead rules, stages and routes read as `account.NAME` (SPEC §9)."""
    text = 'policy "generated"\n\n' + SCHEMA + "\n"
    scores: list[str] = []
    if accounts:
        text += ACCOUNT_SCHEMA + "\n"
        account_scores: list[str] = []
        for index in range(draw(st.integers(min_value=1, max_value=2))):
            name = f"g{index}"
            text += draw(account_score(name, list(account_scores))) + "\n"
            account_scores.append(name)
        # Lead rules read them like scores: `account.g0`.
        scores += [f"account.{name}" for name in account_scores]
    for index in range(draw(st.integers(min_value=1, max_value=3))):
        name = f"s{index}"
        text += draw(score_block(name, list(scores))) + "\n"
        scores.append(name)
    if accounts and draw(st.booleans()):
        text += "route v1 to qa when account.size > 50 or account.tier == y, sla 1 hour\n"
        text += "\n"
    locked = draw(st.booleans())
    names = ["v0", "v1", "v2", "v3"][: draw(st.integers(min_value=2, max_value=4))]
    text += "stages locked {\n" if locked else "stages {\n"
    text += f"  {names[0]}\n"
    for name in names[1:]:
        text += f"  {name} when {draw(condition(scores))}\n"
    text += "}\n\n"
    for index in range(draw(st.integers(min_value=0, max_value=2))):
        # (a lasting condition half of the time: the walk stops at a lasting disqualification)
        reason = draw(st.one_of(condition(scores), lasting()))
        text += f'disqualify "R{index}" when {reason}\n'
    if locked and recycling:
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            later = draw(st.integers(min_value=1, max_value=len(names) - 1))
            earlier = draw(st.integers(min_value=0, max_value=later - 1))
            text += f"recycle {names[later]} to {names[earlier]} when {draw(condition(scores))}\n"
    for name in names:
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            queue = draw(st.sampled_from(["q1", "q2", "q3"]))
            route = f"route {name} to {queue}"
            if hot and draw(st.integers(min_value=0, max_value=2)) == 0:
                route += f" on {draw(hot_event())}"  # a hot-event route (SPEC §8)
            if draw(st.booleans()):
                route += f" when {draw(condition(scores))}"
            if draw(st.booleans()):
                route += f", sla {draw(st.sampled_from(SLAS))}"
            text += route + "\n"
    return text


@st.composite
def leads(draw: st.DrawFn) -> Lead:
    profile: dict[str, object] = {}
    candidates = {
        "n": st.integers(min_value=-5, max_value=30),
        "x": st.sampled_from([0.0, 1.5, 2.25, -3.0, 10.0]),
        "t": st.sampled_from(["", "abz", "q", "xyz", "abq"]),
        "b": st.booleans(),
        "d": st.sampled_from([dt.date(2025, 12, 31), dt.date(2026, 6, 1), dt.date(2026, 8, 9)]),
        "e": st.sampled_from(["a", "b", "c"]),
        "st": st.frozensets(st.sampled_from(["aws", "gcp", "okta"]), max_size=2),
        "se": st.frozensets(st.sampled_from(["p", "q"]), max_size=2),
    }
    for name, strategy in candidates.items():
        if draw(st.booleans()):
            profile[name] = draw(strategy)
    # Event times: whole and half days before the as-of instant, exact window
    # edges, the as-of instant itself, and a few after it.
    offsets = st.one_of(
        st.integers(min_value=-40, max_value=2).map(lambda d: d * DAY),
        st.sampled_from([-w * DAY for w in WINDOWS]),
        st.integers(min_value=-80, max_value=4).map(lambda h: h * DAY / 2),
        # a fraction of a second: the compiled evaluator then visits every instant
        st.integers(min_value=-40, max_value=2).map(lambda d: d * DAY + 0.000022),
        # any hour and half hour: handoffs inside and outside working hours
        st.integers(min_value=-80 * 24, max_value=48).map(lambda h: h * 1800.0),
        st.just(0.0),
    )
    events = []
    for index in range(draw(st.integers(min_value=0, max_value=8))):
        kind = draw(st.sampled_from(["ev1", "ev2", "ev3"]))
        fields: dict[str, object] = {}
        if kind == "ev1":
            if draw(st.booleans()):
                fields["k"] = draw(st.sampled_from(["a", "b"]))
            if draw(st.booleans()):
                fields["v"] = draw(st.integers(min_value=0, max_value=5))
            if draw(st.booleans()):
                fields["s"] = draw(st.sampled_from(["x1", "y", "xy", "zz"]))
        elif kind == "ev3" and draw(st.booleans()):
            fields["v"] = draw(st.sampled_from([-1.0, 0.5, 2.0]))
        events.append(Event(at=AS_OF + draw(offsets), type=kind, fields=fields, index=index))
    events.sort(key=lambda e: e.at)
    return Lead(id="L", profile=profile, events=tuple(events))


@st.composite
def account_leads(draw: st.DrawFn) -> list[Lead]:
    """The leads of one account (1 to 3), each with its colleagues and the account's fields."""
    profile: dict[str, object] = {}
    if draw(st.booleans()):
        profile["size"] = draw(st.sampled_from([10, 80, 500]))
    if draw(st.booleans()):
        profile["tier"] = draw(st.sampled_from(["x", "y"]))
    members = [
        msgspec.structs.replace(
            draw(leads()), id=f"L{number}", account="A", account_profile=profile
        )
        for number in range(draw(st.integers(min_value=1, max_value=3)))
    ]
    return [
        msgspec.structs.replace(lead, colleagues=tuple(o for o in members if o is not lead))
        for lead in members
    ]
