"""W510 (a score rule the range always clamps away) and W511 (a stage whose
condition implies a later stage's): positive cases with code, position and
message; near misses that must stay silent; and a soundness property: on
random policies, whenever a warning fires, the reference interpreter gives
every random lead the same decision with and without the rule (or stage)."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.interpreter import Context, Interpreter
from mqldsl.engine.runtime import DAY, Event, Lead, instants
from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic

from .policy_gen import AS_OF, SCHEMA, leads, policies

HEAD = """policy "t"
lead {
  company_size: int
  role: enum(secops, developer, student)
  verified: bool
}
event page_view { path: text }
event demo_request
event webinar
param fit_min = 30
score fit {
  +20 when company_size > 200
  +10 when role == secops
}
"""


def found(text: str, code: str) -> list[Diagnostic]:
    result = check_text(text, "t.mql")
    assert result.model is not None, [d.message for d in result.diagnostics]
    return [d for d in result.diagnostics if d.code == code]


def intent(*rules: str, range_: str = "range 0 to 100") -> str:
    body = "".join(f"  {rule}\n" for rule in rules)
    return HEAD + f"score intent {range_} {{\n{body}}}\nstages {{\n  visitor\n}}\n"


# ---------------------------------------------------------------- W510


def test_the_motivating_quiet_rule_is_dead() -> None:
    text = intent(
        "+10 per page_view within 30 days, max 40",
        "+30 when demo_request within 14 days",
        "+15 when count(webinar within 30 days) >= 1",
        "-25 when no event within 30 days",
    )
    [d] = found(text, "W510")
    assert (d.span.line, d.span.column) == (19, 3)
    assert d.message == (
        "this rule can never change intent: when `no event within 30 days` holds, "
        "the other rules add at most 0 and the range clamps at 0"
    )


def test_the_motivating_rule_changes_no_score_by_hand() -> None:
    """Intent with and without the quiet rule, computed by hand for three leads."""
    rules = ("+10 per page_view within 30 days, max 40", "+30 when demo_request within 14 days")
    with_rule = check_text(intent(*rules, "-25 when no event within 30 days"), "t.mql").model
    without = check_text(intent(*rules), "t.mql").model
    assert with_rule is not None and without is not None

    def lead(*events: tuple[str, float]) -> Lead:
        found = [
            Event(at=AS_OF - d * DAY, type=k, fields={}, index=i) for i, (k, d) in enumerate(events)
        ]
        return Lead(id="L", profile={}, events=tuple(sorted(found, key=lambda e: e.at)))

    cases = [
        (lead(), 0),  # quiet: -25 clamps to 0; without the rule: 0
        (lead(("page_view", 40)), 0),  # the view is 40 days old: -25 -> 0; without: 0
        (lead(("page_view", 10), ("demo_request", 2)), 40),  # 10 + 30, the rule does not fire
    ]
    for journey, intent_by_hand in cases:
        for model in (with_rule, without):
            assert Interpreter(model).decide(journey, AS_OF).scores["intent"] == intent_by_hand


def test_the_documented_dead_stage_is_never_a_leads_stage() -> None:
    """docs/errors.md W511: fit 30 and a demo yesterday meets `mql` (fit >= 30, a demo within
    30 days) and `sql` (fit >= 20, a demo within 60 days); the last holding stage wins."""
    text = HEAD + (
        "stages {\n  visitor\n  mql when fit >= 30 and demo_request within 30 days\n"
        "  sql when fit >= 20 and demo_request within 60 days\n}\n"
    )
    model = check_text(text, "t.mql").model
    assert model is not None
    demo = (Event(at=AS_OF - DAY, type="demo_request", fields={}, index=0),)
    hot = Lead(id="L", profile={"company_size": 5000, "role": "secops"}, events=demo)
    decision = Interpreter(model).decide(hot, AS_OF)
    assert (decision.scores["fit"], decision.stage) == (30, "sql")


@pytest.mark.parametrize(
    "rules",
    [
        # the absence of each event the other rules need
        ("+5 per page_view within 7 days", "-10 when no page_view within 7 days"),
        ("+5 when page_view within 7 days", "-10 when not (page_view within 14 days)"),
        ("+5 when demo_request within 3 days", "-10 when count(demo_request within 3 days) == 0"),
        ("+5 when demo_request within 3 days", "-10 when count(demo_request within 5 days) < 1"),
        # a `where` narrows what the other rule needs
        ('+5 per page_view where path starts with "/p" within 7 days', "-10 when no page_view"),
        # two absences together; an `or` both of whose sides need an absent event
        (
            "+5 when page_view within 7 days or demo_request within 7 days",
            "-10 when no page_view within 7 days and no demo_request within 30 days",
        ),
        # `days since` less than 5 days needs an event within 5 days
        ("+5 when days since page_view < 5", "-10 when no page_view within 5 days"),
        ("+5 when days since page_view <= 4", "-10 when no page_view within 5 days"),
    ],
)
def test_a_negative_rule_the_clamp_hides(rules: tuple[str, str]) -> None:
    [d] = found(intent(*rules), "W510")
    assert d.span.line == 17
    assert "the other rules add at most 0 and the range clamps at 0" in d.message


def test_a_positive_rule_the_top_of_the_range_hides() -> None:
    text = intent(
        "-5 when webinar within 7 days",
        "+20 when verified",
        "+10 when no webinar within 7 days",
        range_="range -20 to 0",
    )
    [d] = found(text, "W510")
    assert d.span.line == 18
    assert d.message.endswith("the other rules add at least 0 and the range clamps at 0")
    # `+20 when verified` is not: `-5 when webinar within 7 days` can hold with it


def test_when_no_rule_can_add_points_every_negative_rule_is_dead() -> None:
    dead = found(intent("-3 when role == student", "-10 per webinar, max 20"), "W510")
    assert [d.span.line for d in dead] == [16, 17]


@pytest.mark.parametrize(
    ("rules", "range_"),
    [
        # an `ever` pattern is not made false by a quiet month: the rule lowers 10 to 0
        (("+10 when webinar ever", "-25 when no event within 30 days"), "range 0 to 100"),
        (("+10 when webinar", "-25 when no event within 30 days"), "range 0 to 100"),
        # a window longer than the quiet spell
        (
            ("+10 when demo_request within 60 days", "-25 when no event within 30 days"),
            "range 0 to 100",
        ),
        # a profile rule
        (("+10 when verified", "-25 when no event within 30 days"), "range 0 to 100"),
        # another event than the absent one
        (
            ("+10 per page_view within 7 days", "-25 when no demo_request within 30 days"),
            "range 0 to 100",
        ),
        # the absence covers only some page views: the others still count
        (
            (
                "+10 per page_view within 7 days",
                '-25 when no page_view where path == "/x" within 30 days',
            ),
            "range 0 to 100",
        ),
        # the range lets the score go below 0: -25 counts
        (
            ("+10 per page_view within 7 days", "-25 when no event within 30 days"),
            "range -30 to 100",
        ),
        # a count threshold held in a param may be set to 0 (`--set`): not assumed to need an event
        (
            (
                "+10 when count(page_view within 7 days) >= fit_min",
                "-25 when no event within 30 days",
            ),
            "range 0 to 100",
        ),
        # `days since` of at most 5 days needs no event strictly within 5 days
        (
            ("+5 when days since page_view <= 5", "-10 when no page_view within 5 days"),
            "range 0 to 100",
        ),
        # a count below 2 holds when nothing matches: the +5 then counts
        (
            ("+5 when count(page_view within 7 days) < 2", "-10 when no page_view within 7 days"),
            "range 0 to 100",
        ),
        # `count(...) < 2` holds with one event: no absence
        (
            ("+5 when page_view within 7 days", "-10 when count(page_view within 7 days) < 2"),
            "range 0 to 100",
        ),
        # `not` over something that is not a pattern proves nothing
        (
            (
                "+5 when page_view within 7 days",
                "-10 when not (count(page_view within 7 days) > 3)",
            ),
            "range 0 to 100",
        ),
    ],
)
def test_a_rule_that_matters_is_not_flagged(rules: tuple[str, str], range_: str) -> None:
    assert found(intent(*rules, range_=range_), "W510") == []


def test_no_range_means_no_clamp() -> None:
    text = intent("+10 per page_view within 30 days", "-25 when no event within 30 days", range_="")
    assert found(text, "W510") == []


# ---------------------------------------------------------------- W511


def stages(*conditions: str, locked: bool = False, extra: str = "") -> str:
    body = "".join(f"  s{i} when {c}\n" for i, c in enumerate(conditions, start=1))
    mode = "stages locked" if locked else "stages"
    return HEAD + f"{mode} {{\n  s0\n{body}}}\n" + extra


IMPLIED = [
    ("fit >= 30 and verified", "fit >= 20 and verified"),
    ("fit > 20", "fit >= 20"),
    ("fit >= 21", "fit > 20"),
    ("fit == 30", "fit between 10 and 30"),
    ("fit between 10 and 20", "fit <= 25 and fit >= 0"),
    ("fit < 5", "fit != 10"),
    ("fit >= fit_min", "fit >= fit_min"),
    ("fit >= fit_min and verified", "fit >= fit_min"),
    ("30 <= fit", "fit > 29"),
    ("verified", "verified or role == student"),
    ("verified and role == secops", "role == secops"),
    ("role == secops", "role in [secops, developer]"),
    ("role == secops", "role != student"),
    ("company_size > 100", "company_size is present"),
    ("demo_request within 7 days", "demo_request within 30 days"),
    ("demo_request within 7 days", "demo_request ever"),
    ("demo_request within 7 days", "demo_request"),
    ('page_view where path == "/pricing" within 7 days', "event within 7 days"),
    (
        'page_view where path == "/a" and company_size > 1 within 7 days',
        'page_view where path == "/a"',
    ),
    ("no event within 30 days", "no demo_request within 7 days"),
    ("count(page_view within 7 days) >= 3", "count(page_view within 7 days) >= 2"),
    ("(verified or fit > 25) and role == secops", "fit >= 20 or verified"),
]


@pytest.mark.parametrize(("earlier", "later"), IMPLIED)
def test_a_stage_implied_by_a_later_one_is_flagged(earlier: str, later: str) -> None:
    [d] = found(stages(earlier, later), "W511")
    assert (d.span.line, d.span.column) == (17, 3)
    assert d.message == (
        "stage `s1` can never be a lead's stage: whenever its condition holds, the condition "
        "of `s2` (line 18) holds too, and a lead is at the last holding stage"
    )


NOT_IMPLIED = [
    ("fit >= 20", "fit >= 30"),  # the threshold differs the other way
    ("fit >= 20", "fit > 20"),
    ("fit >= fit_min", "fit >= 20"),  # a param may be set to anything
    ("fit >= 30", "fit >= fit_min"),
    ("fit < 5", "fit != 4"),
    ("verified or role == student", "verified"),
    ("role == secops", "role == developer"),
    ("role in [secops, developer]", "role == secops"),
    ("not (company_size < 30)", "company_size >= 30"),  # true when company_size is missing
    ("company_size is missing", "company_size < 10"),
    ("demo_request within 30 days", "demo_request within 7 days"),
    ("demo_request ever", "demo_request within 30 days"),
    ("event within 7 days", "page_view within 7 days"),
    ('page_view where path == "/a" within 7 days', 'page_view where path == "/b" within 7 days'),
    ("no demo_request within 7 days", "no event within 30 days"),
    ("count(page_view within 7 days) >= 1", "count(page_view within 30 days) >= 2"),
]


@pytest.mark.parametrize(("earlier", "later"), NOT_IMPLIED)
def test_a_stage_that_can_win_is_not_flagged(earlier: str, later: str) -> None:
    assert found(stages(earlier, later), "W511") == []


def test_the_later_stage_need_not_be_the_next() -> None:
    [d] = found(stages("fit >= 30", "verified", "fit >= 10"), "W511")
    assert d.span.line == 17
    assert "the condition of `s3` (line 19)" in d.message


def test_locked_stages_say_furthest() -> None:
    [d] = found(stages("fit >= 30", "fit >= 20", locked=True), "W511")
    assert d.message.endswith("and a lead is at the furthest holding stage")


def test_a_stage_recycling_moves_leads_to_is_not_flagged() -> None:
    recycle = "recycle s2 to s1 when no event within 30 days\n"
    assert found(stages("fit >= 30", "fit >= 20", locked=True, extra=recycle), "W511") == []


def test_the_warnings_can_be_allowed() -> None:
    text = stages("fit >= 30", "fit >= 20").replace(
        "  s1 when", "  # mqldsl: allow W511\n  s1 when"
    )
    assert found(text, "W511") == []


# ---------------------------------------------------------------- soundness


class _Without(Interpreter):
    """The reference interpreter with one rule scoring 0, or one stage never holding."""

    def __init__(
        self, model: CheckedPolicy, rule: ast.Rule | None = None, stage: int | None = None
    ) -> None:
        super().__init__(model)
        self.rule = rule
        self.stage = stage

    def rule_points(self, score: ast.Score, rule: ast.Rule, ctx: Context) -> float:
        if rule is self.rule:
            return 0.0
        return super().rule_points(score, rule, ctx)

    def holding_stage(self, lead: Lead, t: float, start: float) -> int:
        ctx = Context(lead, t, start, self.scores(lead, t, start))
        holding = 0
        for index, stage in enumerate(self.model.stages.stages):
            if index in (0, self.stage) or stage.condition is None:
                continue
            if self.eval(stage.condition, ctx):
                holding = index
        return holding


WINDOW = st.sampled_from(["within 1 day", "within 3 days", "within 7 days", "within 30 days"])
EVENT = st.sampled_from(["ev1", "ev2", "ev3", "event"])
WEAKER_WINDOW = {
    "within 1 day": "within 3 days",
    "within 3 days": "within 30 days",
    "within 7 days": "ever",
    "within 30 days": "within 30 days",
}
NARROWER_WINDOW = {
    "within 1 day": "within 12 hours",
    "within 3 days": "within 1 day",
    "within 7 days": "within 3 days",
    "within 30 days": "within 7 days",
}


@st.composite
def _needing(draw: st.DrawFn) -> str:
    """A rule that needs a recent event (or, now and then, one that does not)."""
    event = draw(st.sampled_from(["ev1", "ev2", "ev3"]))
    window = draw(st.sampled_from(["within 1 day", "within 7 days", "within 30 days", "ever"]))
    points = draw(st.sampled_from(["+5", "+2.5", "-3", "+10"]))
    return draw(
        st.sampled_from(
            [
                f"{points} per {event} {window}",
                f"{points} per {event} {window}, max 4.5",
                f"{points} when {event} {window}",
                f"{points} when count({event} {window}) >= 2",
                f"{points} when count({event} {window}) < 2",
                f"{points} when {event} where v > 2 {window}"
                if event == "ev1"
                else f"{points} when n > 5",
                f"{points} when (days since {event}) < 3",
            ]
        )
    )


@st.composite
def _quiet_scores(draw: st.DrawFn) -> str:
    """A score with a quiet-spell rule next to rules on recent events, clamped."""
    quiet = f"no {draw(EVENT)} {draw(WINDOW)}"
    if draw(st.booleans()):
        quiet += f" and no {draw(EVENT)} {draw(WINDOW)}"
    sign = draw(st.sampled_from(["-", "+"]))
    low = 0 if sign == "-" else -30
    high = 40 if sign == "-" else 0
    rules = [draw(_needing()) for _ in range(draw(st.integers(min_value=1, max_value=3)))]
    rules.insert(draw(st.integers(min_value=0, max_value=len(rules))), f"{sign}7 when {quiet}")
    decay = draw(st.sampled_from(["", " decay 50% every 2 days"]))
    body = "".join(f"  {rule}\n" for rule in rules)
    return f"score s0 range {low} to {high}{decay} {{\n{body}}}\n"


@st.composite
def _stage_pair(draw: st.DrawFn) -> tuple[str, str]:
    """An earlier stage's condition and a later one: a weakening of it (the
    implication holds), or the same with one threshold raised or one window
    narrowed (a near miss)."""
    threshold = draw(st.integers(min_value=0, max_value=3))
    window = draw(st.sampled_from(list(NARROWER_WINDOW)))
    # each part as written with a threshold {t} or a window {w}
    parts = ["s0 >= {t}", "ev1 {w}", "e == a", "n > {t}", "count(ev2 {w}) >= 2"]
    chosen = draw(st.lists(st.sampled_from(parts), min_size=1, max_size=3, unique=True))
    earlier = " and ".join(part.format(t=threshold, w=window) for part in chosen)
    near = draw(st.sampled_from([None, *[i for i, p in enumerate(chosen) if "{" in p]]))
    weakened = []
    for number, part in enumerate(chosen):
        t, w = threshold, window
        how = draw(st.sampled_from(["keep", "drop", "or", "lower", "widen"]))
        if number == near:
            t, w, how = threshold + 1, NARROWER_WINDOW[window], "keep"
        elif how == "drop" and len(chosen) > 1:
            continue
        elif how == "lower":
            t -= 1
        elif how == "widen":
            w = WEAKER_WINDOW[window]
        text = part.format(t=t, w=w)
        weakened.append(f"({text} or b)" if how == "or" else text)
    return earlier, " and ".join(weakened) or chosen[0].format(t=threshold, w=window)


@st.composite
def _targeted(draw: st.DrawFn) -> str:
    text = 'policy "generated"\n\n' + SCHEMA + "\n" + draw(_quiet_scores()) + "\n"
    earlier, later = draw(_stage_pair())
    locked = draw(st.booleans())
    text += "stages locked {\n" if locked else "stages {\n"
    text += f"  v0\n  v1 when {earlier}\n  v2 when {later}\n}}\n"
    if locked and draw(st.booleans()):
        text += "recycle v2 to v1 when no event within 7 days\n"
    return text


@st.composite
def _close_leads(draw: st.DrawFn) -> Lead:
    """Leads near the targeted policies' edges: `n` around the thresholds, events
    just inside and just outside the windows."""
    profile: dict[str, object] = {}
    for name, strategy in (
        ("n", st.integers(min_value=-1, max_value=5)),
        ("e", st.sampled_from(["a", "b", "c"])),
        ("b", st.booleans()),
    ):
        if draw(st.integers(min_value=0, max_value=3)):
            profile[name] = draw(strategy)
    days = st.sampled_from([0, 0.5, 1, 1.5, 2, 3, 6.5, 7, 8, 29, 30, 31, 60])
    events = []
    for index in range(draw(st.integers(min_value=0, max_value=6))):
        kind = draw(st.sampled_from(["ev1", "ev2", "ev3"]))
        fields: dict[str, object] = {}
        if kind == "ev1":
            fields["v"] = draw(st.integers(min_value=0, max_value=5))
        events.append(Event(at=AS_OF - draw(days) * DAY, type=kind, fields=fields, index=index))
    events.sort(key=lambda e: e.at)
    return Lead(id="L", profile=profile, events=tuple(events))


def _boundary_leads() -> list[Lead]:
    """A fixed spread of leads on the targeted policies' edges (hypothesis draws
    small leads first): `n` at each threshold, events just inside and outside
    each window, pairs of events for the counts."""
    at = [0.5, 2, 6.5, 29]
    journeys: list[tuple[tuple[str, float], ...]] = [()]
    journeys += [(("ev1", d),) for d in at] + [(("ev2", d), ("ev2", d / 2)) for d in at]
    journeys += [(("ev1", 0.5), ("ev2", 0.5), ("ev2", 0.25), ("ev3", 40))]
    grid = list(itertools.product([None, 0, 1, 2, 3, 4], ["a", "b"], [True, False], journeys))
    found = []
    for n, e, b, journey in grid[::7]:
        profile = {"e": e, "b": b} | ({} if n is None else {"n": n})
        events = tuple(
            Event(at=AS_OF - days * DAY, type=kind, fields={"v": 3}, index=i)
            for i, (kind, days) in enumerate(sorted(journey, key=lambda k: -k[1]))
        )
        found.append(Lead(id="L", profile=profile, events=events))
    return found


BOUNDARY = _boundary_leads()


def _implication_holds(model: CheckedPolicy, index: int, later: int, lead: Lead) -> None:
    """At every instant of the lead's timeline, the stage's condition holding means
    the later stage's holds (what W511 claims)."""
    reference = Interpreter(model)
    condition = model.stages.stages[index].condition
    implied = model.stages.stages[later].condition
    assert condition is not None and implied is not None
    times = instants([e.at for e in lead.events], model.windows, [], AS_OF)
    for t in times:
        ctx = Context(lead, t, -math.inf, reference.scores(lead, t, -math.inf))
        if reference.eval(condition, ctx):
            assert reference.eval(implied, ctx), (t, lead)


def _same_without_what_is_dead(text: str, journeys: list[Lead]) -> int:
    """Checks every W510/W511 of ``text`` against the interpreter; the number of warnings."""
    result = check_text(text, "generated.mql")
    model = result.model
    assert model is not None, [d.message for d in result.diagnostics] + [text]
    dead = [d for d in result.diagnostics if d.code in ("W510", "W511")]
    reference = Interpreter(model)
    for d in dead:
        if d.code == "W510":
            [rule] = [
                r
                for s in model.scores.values()
                for r in s.node.rules or ()
                if r.span.line == d.span.line
            ]
            other = _Without(model, rule=rule)
        else:
            [index] = [i for i, s in enumerate(model.stages.stages) if s.span.line == d.span.line]
            other = _Without(model, stage=index)
        for lead in journeys:
            expected = reference.decide(lead, AS_OF)
            assert other.decide(lead, AS_OF).to_json() == expected.to_json(), (d.message, text)
            if d.code == "W511":
                assert model.stages.stages[index].name not in expected.entered, text
                later = int(d.message.split("(line ")[1].split(")")[0])
                [other_index] = [
                    i for i, s in enumerate(model.stages.stages) if s.span.line == later
                ]
                _implication_holds(model, index, other_index, lead)
    return len(dead)


SOUNDNESS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SOUNDNESS
@given(_targeted(), st.lists(st.one_of(leads(), _close_leads()), min_size=1, max_size=8))
def test_a_warning_on_a_targeted_policy_is_never_wrong(text: str, journeys: list[Lead]) -> None:
    _same_without_what_is_dead(text, journeys + BOUNDARY)


@SOUNDNESS
@given(policies(), st.lists(leads(), min_size=1, max_size=4))
def test_a_warning_on_a_random_policy_is_never_wrong(text: str, journeys: list[Lead]) -> None:
    _same_without_what_is_dead(text, journeys)


def test_the_targeted_policies_do_warn_and_do_not_always_warn() -> None:
    """The property above would pass vacuously if the lints never fired on its input."""
    counts = {"W510": 0, "W511": 0, "none": 0}

    @settings(max_examples=80, derandomize=True, database=None, deadline=None)
    @given(_targeted())
    def collect(text: str) -> None:
        result = check_text(text, "generated.mql")
        codes = {d.code for d in result.diagnostics} & {"W510", "W511"}
        for code in codes:
            counts[code] += 1
        counts["none"] += not codes

    collect()
    assert counts["W510"] >= 10 and counts["W511"] >= 10 and counts["none"] >= 5, counts
