"""Calendars and business-hours SLAs (SPEC §8.1): the working-time arithmetic against an
independent minute-by-minute walk in the zone, hand-checked due times across weekends,
holidays and both daylight-saving changes of 2026 in New York and Berlin, the checker's
errors, the printer, both evaluators, DuckDB, the documents and the simulator."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_file, check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.calendars import CalendarError, WorkingCalendar, route_deadlines
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.examples import run_example
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import Event, Lead, format_instant, parse_instant
from mqldsl.io.scoring import decision_line
from mqldsl.language.parser import parse_text
from mqldsl.language.printer import canonical_items, format_policy
from mqldsl.language.source import Source
from mqldsl.render.diff import diff
from mqldsl.render.document import render
from mqldsl.simulation.metrics import _deadline
from mqldsl.simulation.records import lead_record
from mqldsl.warehouse.engine import DuckDBEngine

from .conftest import ROOT
from .helpers import parse_ok

UTC = dt.UTC
WEEKDAYS = frozenset(range(5))

NEW_YORK = WorkingCalendar(
    name=None,
    zone_name="America/New_York",
    opens=9 * 60,
    closes=17 * 60 + 30,
    weekdays=WEEKDAYS,
    holidays=frozenset({dt.date(2026, 11, 26), dt.date(2026, 12, 25), dt.date(2027, 1, 1)}),
)
BERLIN = WorkingCalendar(
    name="emea",
    zone_name="Europe/Berlin",
    opens=8 * 60,
    closes=17 * 60,
    weekdays=WEEKDAYS,
    holidays=frozenset({dt.date(2026, 10, 26), dt.date(2026, 12, 24)}),
)
# Hours that contain the clock change itself (02:00 in New York): 7 hours on 8 March 2026,
# 9 hours on 1 November 2026.
NIGHT = WorkingCalendar(
    name="night",
    zone_name="America/New_York",
    opens=0,
    closes=8 * 60,
    weekdays=frozenset(range(7)),
    holidays=frozenset(),
)
WEEKEND = WorkingCalendar(
    name="weekend",
    zone_name="Europe/Berlin",
    opens=10 * 60,
    closes=24 * 60,
    weekdays=frozenset({4, 5, 6, 0}),  # fri to mon
    holidays=frozenset({dt.date(2026, 3, 29)}),
)
CALENDARS = [NEW_YORK, BERLIN, NIGHT, WEEKEND]


def at(text: str) -> float:
    return parse_instant(text)


def brute_force(calendar: WorkingCalendar, start: float, minutes: int) -> float:
    """The due time by walking real minutes from ``start`` (a whole minute): a minute counts
    when its wall-clock time in the zone is within the hours of a listed, non-holiday date.
    Independent of the module: no opening/closing instants are computed."""
    zone = ZoneInfo(calendar.zone_name)
    t = int(start)
    left = minutes
    while True:
        local = dt.datetime.fromtimestamp(t, zone)
        wall = local.hour * 60 + local.minute
        if (
            local.weekday() in calendar.weekdays
            and local.date() not in calendar.holidays
            and calendar.opens <= wall < calendar.closes
        ):
            left -= 1
            if left == 0:
                return float(t + 60)
        t += 60


def due(calendar: WorkingCalendar, start: str, seconds: float) -> str:
    return format_instant(calendar.add(at(start), seconds))


# ---------------------------------------------------------------- hand-checked due times

HOUR = 3600.0


def test_friday_afternoon_runs_over_the_weekend_and_the_spring_change() -> None:
    # Fri 2026-03-06 16:00 EST (21:00Z): 1.5 h until 17:30 EST (22:30Z); the clocks go forward
    # on Sun 8 March; Mon 9 March opens 09:00 EDT = 13:00Z; 4 - 1.5 = 2.5 h -> 15:30Z.
    assert due(NEW_YORK, "2026-03-06T21:00:00Z", 4 * HOUR) == "2026-03-09T15:30:00Z"


def test_a_deadline_that_uses_up_the_day_is_that_days_closing() -> None:
    # Mon 2026-03-02 09:00 EST (14:00Z) + 1 business day (8.5 h) = 17:30 EST = 22:30Z, not
    # the next opening.
    assert due(NEW_YORK, "2026-03-02T14:00:00Z", 8.5 * HOUR) == "2026-03-02T22:30:00Z"


def test_a_handoff_at_closing_starts_at_the_next_opening() -> None:
    # Mon 17:30 EST (22:30Z) is closed: Tue 09:00 EST (14:00Z) + 30 min = 14:30Z.
    assert due(NEW_YORK, "2026-03-02T22:30:00Z", 1800) == "2026-03-03T14:30:00Z"
    # A Saturday handoff waits for Monday's opening: Mon 9 Mar 09:00 EDT = 13:00Z, + 1 h.
    assert due(NEW_YORK, "2026-03-07T12:00:00Z", HOUR) == "2026-03-09T14:00:00Z"


def test_holidays_are_skipped_in_the_calendars_zone() -> None:
    # Thu 2026-12-24 17:00 EST (22:00Z): 0.5 h left that day; Fri 25 Dec is a holiday;
    # Mon 28 Dec 09:00 EST = 14:00Z + 0.5 h = 14:30Z.
    assert due(NEW_YORK, "2026-12-24T22:00:00Z", HOUR) == "2026-12-28T14:30:00Z"
    # Thanksgiving (Thu 26 Nov): Wed 25 Nov 17:00 EST (22:00Z) + 1 h -> Fri 27 Nov 09:30 EST.
    assert due(NEW_YORK, "2026-11-25T22:00:00Z", HOUR) == "2026-11-27T14:30:00Z"


def test_berlin_autumn_change_and_a_monday_holiday() -> None:
    # Fri 2026-10-23 16:00 CEST (14:00Z): 1 h until 17:00 CEST (15:00Z); clocks go back on
    # Sun 25 Oct; Mon 26 Oct is a holiday; Tue 27 Oct 08:00 CET = 07:00Z + 1 h = 08:00Z.
    assert due(BERLIN, "2026-10-23T14:00:00Z", 2 * HOUR) == "2026-10-27T08:00:00Z"
    # Spring: Fri 27 Mar 16:30 CET (15:30Z) + 1 h: 0.5 h Fri, Mon 30 Mar 08:00 CEST = 06:00Z
    # + 0.5 h = 06:30Z.
    assert due(BERLIN, "2026-03-27T15:30:00Z", HOUR) == "2026-03-30T06:30:00Z"


def test_a_business_day_is_the_working_day_as_written_even_on_a_change_day() -> None:
    # Berlin's day is 9 h. Mon 2026-10-26 is a holiday, so a handoff on Sun 25 Oct (the change
    # day) starts Tue 27 Oct 08:00 CET (07:00Z) and uses that day up: 17:00 CET = 16:00Z.
    assert due(BERLIN, "2026-10-25T10:00:00Z", BERLIN.day_seconds) == "2026-10-27T16:00:00Z"
    assert BERLIN.day_seconds == 9 * HOUR and NEW_YORK.day_seconds == 8.5 * HOUR


def test_hours_that_contain_the_clock_change_are_shorter_or_longer_that_day() -> None:
    # 8 Mar 2026 00:00 EST (05:00Z) to 08:00 EDT (12:00Z): 7 real hours; 8 h of work ends at
    # 9 Mar 00:00 EDT (04:00Z) + 1 h = 05:00Z.
    assert due(NIGHT, "2026-03-08T05:00:00Z", 8 * HOUR) == "2026-03-09T05:00:00Z"
    # 1 Nov 2026 00:00 EDT (04:00Z) to 08:00 EST (13:00Z): 9 real hours, all in one day.
    assert due(NIGHT, "2026-11-01T04:00:00Z", 9 * HOUR) == "2026-11-01T13:00:00Z"


def test_a_run_of_days_wraps_past_sunday_and_24_00_is_midnight() -> None:
    # fri to mon, 10:00 to 24:00 Berlin. Thu 2026-04-02 is off; Fri 3 Apr opens 10:00 CEST
    # (08:00Z); 14 h later is midnight (22:00Z): exactly the day used up.
    assert due(WEEKEND, "2026-04-02T09:00:00Z", 14 * HOUR) == "2026-04-03T22:00:00Z"
    # Sun 29 Mar is a holiday: Sat 28 Mar 23:00 CET (22:00Z) + 2 h -> 1 h Sat, Mon 30 Mar
    # 10:00 CEST (08:00Z) + 1 h = 09:00Z.
    assert due(WEEKEND, "2026-03-28T22:00:00Z", 2 * HOUR) == "2026-03-30T09:00:00Z"


def test_a_calendar_with_years_of_holidays_stops_with_a_clear_error() -> None:
    sundays = frozenset(dt.date(2026, 1, 4) + dt.timedelta(weeks=w) for w in range(600))
    idle = WorkingCalendar(
        name="idle",
        zone_name="UTC",
        opens=540,
        closes=1020,
        weekdays=frozenset({6}),
        holidays=sundays,
    )
    with pytest.raises(CalendarError, match="no working time in the 3660 days"):
        idle.add(at("2026-01-01T00:00:00Z"), HOUR)


def test_due_times_past_the_calendar_are_clamped_to_its_last_second() -> None:
    assert due(BERLIN, "9999-12-30T12:00:00Z", 100 * HOUR) == "9999-12-31T23:59:59Z"


# ---------------------------------------------------------------- against the brute force

# Mondays and Fridays around both 2026 changes in New York (8 Mar, 1 Nov) and Berlin
# (29 Mar, 25 Oct), Thanksgiving and Christmas.
BASES = [
    "2026-03-05T00:00:00Z",
    "2026-03-26T00:00:00Z",
    "2026-10-22T00:00:00Z",
    "2026-10-29T00:00:00Z",
    "2026-11-24T00:00:00Z",
    "2026-12-22T00:00:00Z",
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(CALENDARS),
    st.sampled_from(BASES),
    st.integers(min_value=0, max_value=6 * 1440),
    st.one_of(
        st.sampled_from([1, 30, 60, 240, 480, 510, 540, 1020]),
        st.integers(min_value=1, max_value=3000),
    ),
)
def test_due_times_equal_a_minute_by_minute_walk(
    calendar: WorkingCalendar, base: str, offset: int, minutes: int
) -> None:
    start = at(base) + offset * 60
    expected = brute_force(calendar, start, minutes)
    assert calendar.add(start, minutes * 60.0) == expected, (
        f"{calendar.name} from {format_instant(start)} + {minutes} min: "
        f"expected {format_instant(expected)}"
    )


def test_every_closing_and_opening_minute_of_the_change_weeks_matches_the_walk() -> None:
    # Handoffs on each quarter hour of the change weeks, with SLAs that end exactly at a
    # closing (a whole day) and one minute past it.
    for calendar in (NEW_YORK, BERLIN):
        for base in ("2026-03-05T00:00:00Z", "2026-03-26T00:00:00Z", "2026-10-22T00:00:00Z"):
            for quarter in range(0, 5 * 96, 7):
                start = at(base) + quarter * 900
                for minutes in (calendar.day_seconds // 60, calendar.day_seconds // 60 + 1):
                    assert calendar.add(start, minutes * 60.0) == brute_force(
                        calendar, start, minutes
                    )


# ---------------------------------------------------------------- the language

POLICY = """policy "Calendars"
lead {
  region: enum(amer, emea)
}
event demo_request
calendar {
  timezone "America/New_York"
  hours 09:00 to 17:30
  days mon to fri
  holidays [2026-11-26, 2026-12-25, 2027-01-01]
}
calendar emea {
  timezone "Europe/Berlin"
  hours 08:00 to 17:00
  days mon, tue, wed, thu, fri
}
stages {
  visitor
  mql when demo_request ever
}
route mql to sdr_inbound when region == amer, sla 4 business hours
route mql to sdr_emea when region == emea, sla 1 business day of emea
route mql to sdr_other, sla 2 hours
"""


def checked(text: str) -> CheckedPolicy:
    result = check_text(text, "t.mql")
    errors = [d.render(result.source) for d in result.diagnostics if d.is_error]
    assert result.model is not None and not errors, "\n".join(errors)
    return result.model


def errors(text: str) -> list[tuple[str, int]]:
    result = check_text(text, "t.mql")
    return [(d.code, d.span.line) for d in result.diagnostics if d.is_error]


def test_calendar_and_business_sla_forms_parse() -> None:
    policy = parse_ok(POLICY)
    printed = format_policy(policy)
    assert parse_ok(printed) == canonical_items(policy)
    assert format_policy(parse_ok(printed)) == printed
    assert 'calendar emea {\n  timezone "Europe/Berlin"\n  hours 08:00 to 17:00\n' in printed
    assert "  days mon, tue, wed, thu, fri\n" in printed
    assert "route mql to sdr_emea when region == emea, sla 1 business day of emea\n" in printed


def test_calendar_settings_print_in_order_and_singular_units_stay_singular() -> None:
    text = (
        'policy "t"\ncalendar x {\n  days sat to sun\n  hours 10:00 to 24:00\n'
        '  timezone "UTC"\n}\nstages {\n  a\n}\nroute a to q, sla 1 business minute of x\n'
    )
    printed = format_policy(parse_ok(text))
    assert '  timezone "UTC"\n  hours 10:00 to 24:00\n  days sat to sun\n}' in printed
    assert printed.endswith("sla 1 business minute of x\n")


def test_comments_around_a_calendar_are_kept() -> None:
    text = (
        'policy "t"\n\n# the SDR team\'s hours\ncalendar {\n  days mon to fri  # weekdays\n'
        '  # New York\n  timezone "America/New_York"\n  hours 09:00 to 17:30\n}\n\n'
        "stages {\n  a\n}\n"
    )
    printed = format_policy(parse_ok(text), Source("t.mql", text))
    assert printed == (
        'policy "t"\n\n# the SDR team\'s hours\ncalendar {\n  # New York\n'
        '  timezone "America/New_York"\n  hours 09:00 to 17:30\n  days mon to fri  # weekdays\n'
        "}\n\nstages {\n  a\n}\n"
    )


def test_the_new_words_can_still_be_names() -> None:
    checked(
        'policy "t"\nlead {\n  calendar: text\n  business: bool\n}\nstages {\n  hours\n'
        "  timezone when business\n}\nroute timezone to holidays, sla 1 hour\n"
    )


def test_checker_errors() -> None:
    head = 'policy "t"\nevent e\n'
    tail = "stages {\n  a\n  b when e\n}\n"
    good = 'calendar {\n  timezone "UTC"\n  hours 09:00 to 17:00\n  days mon to fri\n}\n'
    assert errors(head + tail + "route b to q, sla 4 business hours\n") == [("E231", 7)]
    assert errors(head + good + tail + "route b to q, sla 4 business hours of emea\n") == [
        ("E230", 12)
    ]
    assert errors(head + good.replace('"UTC"', '"Mars/Olympus"') + tail) == [("E330", 4)]
    assert errors(head + good.replace("09:00 to 17:00", "17:00 to 17:00") + tail) == [("E331", 5)]
    assert errors(head + good.replace("mon to fri", "mon, funday") + tail) == [("E332", 6)]
    assert errors(head + good.replace('  timezone "UTC"\n', "") + tail) == [("E333", 3)]
    assert errors(head + good.replace("  days", "  days sun\n  days") + tail) == [("E333", 7)]
    assert errors(head + good + good + tail) == [("E213", 8)]
    named = good.replace("calendar {", "calendar x {")
    assert errors(head + named + named + tail) == [("E208", 8)]
    assert errors(head + good + tail + "route b to q, sla 0 business hours\n") == [("E314", 12)]


def test_unknown_names_get_a_suggestion() -> None:
    result = check_text(POLICY.replace("day of emea", "day of emae"), "t.mql")
    (problem,) = [d for d in result.diagnostics if d.is_error]
    assert problem.code == "E230" and problem.hint == "did you mean `emea`?"
    result = check_text(POLICY.replace('"Europe/Berlin"', '"europe/berlin"'), "t.mql")
    (problem,) = [d for d in result.diagnostics if d.is_error]
    assert problem.code == "E330" and problem.hint is not None
    assert 'did you mean "Europe/Berlin"?' in problem.hint
    result = check_text(POLICY.replace("mon, tue", "monday, tue"), "t.mql")
    (problem,) = [d for d in result.diagnostics if d.is_error]
    assert problem.code == "E332" and problem.hint is not None
    assert problem.hint.startswith("did you mean `mon`?")


def test_an_unknown_day_is_pointed_at_and_empty_hours_are_called_so() -> None:
    text = (
        'policy "t"\nevent e\ncalendar {\n  timezone "UTC"\n  hours 09:00 to 09:00\n'
        "  days mon, tuesday, fri, funday\n}\nstages {\n  a\n  b when e\n}\n"
    )
    result = check_text(text, "t.mql")
    found = [(d.code, d.span.line, d.span.column, d.message) for d in result.diagnostics]
    assert found == [
        ("E331", 5, 3, "`hours 09:00 to 09:00` is no time at all"),
        ("E332", 6, 13, "unknown day `tuesday`"),
        ("E332", 6, 27, "unknown day `funday`"),
    ]


def test_ten_years_of_holidays_is_refused_by_the_checker() -> None:
    sundays = ", ".join(
        (dt.date(2026, 1, 4) + dt.timedelta(weeks=w)).isoformat() for w in range(530)
    )
    text = (
        'policy "t"\ncalendar {\n  timezone "UTC"\n  hours 09:00 to 17:00\n  days sun\n'
        f"  holidays [{sundays}]\n}}\nstages {{\n  a\n}}\n"
    )
    assert errors(text) == [("E334", 6)]
    # 520 weeks (3,640 days) is less than ten years: accepted.
    assert errors(text.replace(sundays, sundays.rsplit(", ", 10)[0])) == []


def test_bad_clock_times_and_business_weeks_are_syntax_errors() -> None:
    result = check_text(
        'policy "t"\ncalendar {\n  timezone "UTC"\n  hours 09:00 to 25:00\n  days mon\n}\n'
        "stages {\n  a\n}\nroute a to q, sla 2 business weeks\n",
        "t.mql",
    )
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("E107", 4), ("E130", 10)]
    long = parse_text('policy "t"\nstages {\n  a\n}\nroute a to q, sla 3661 business days\n')
    assert [d.code for d in long.diagnostics] == ["E114"]
    assert not parse_text('policy "t"\nroute a to q, sla 87840 business hours\n').diagnostics


# ---------------------------------------------------------------- decisions

LEADS = [
    # a demo request on Friday 6 Mar 2026 16:00 EST: due Mon 9 Mar 15:30Z (see above)
    Lead(
        id="amer",
        profile={"region": "amer"},
        events=(Event(type="demo_request", at=at("2026-03-06T21:00:00Z"), fields={}),),
    ),
    # Fri 23 Oct 2026 16:00 CEST (14:00Z), 1 business day (9 h) of Berlin: 1 h Fri, 8 h Mon
    # 26 Oct (a plain working day in this policy) 08:00 CET = 07:00Z -> 15:00Z.
    Lead(
        id="emea",
        profile={"region": "emea"},
        events=(Event(type="demo_request", at=at("2026-10-23T14:00:00Z"), fields={}),),
    ),
    Lead(
        id="other",
        profile={},
        events=(Event(type="demo_request", at=at("2026-10-23T14:00:00Z"), fields={}),),
    ),
]
AS_OF = at("2026-11-02T00:00:00Z")


def test_decisions_carry_the_business_due_time_in_utc() -> None:
    model = checked(POLICY)
    decisions = {lead.id: Evaluator(model).decide(lead, AS_OF) for lead in LEADS}
    amer = decisions["amer"].route
    emea = decisions["emea"].route
    other = decisions["other"].route
    assert amer is not None and emea is not None and other is not None
    assert (amer.sla, format_instant(amer.due or 0)) == (
        "4 business hours",
        "2026-03-09T15:30:00Z",
    )
    assert (emea.sla, format_instant(emea.due or 0)) == (
        "1 business day of emea",
        "2026-10-26T15:00:00Z",
    )
    assert (other.sla, format_instant(other.due or 0)) == ("2 hours", "2026-10-23T16:00:00Z")
    line = decision_line(decisions["amer"]).decode()
    assert '"sla":"4 business hours"' in line and '"due":"2026-03-09T15:30:00Z"' in line


def test_the_interpreter_and_duckdb_decide_the_same() -> None:
    model = checked(POLICY)
    evaluator, interpreter = Evaluator(model), Interpreter(model)
    journeys = [
        msgspec.structs.replace(
            lead,
            id=f"{lead.id}{step}",
            events=tuple(msgspec.structs.replace(e, at=e.at + step * 5413.0) for e in lead.events),
        )
        for lead in LEADS
        for step in range(40)
    ]
    python = [decision_line(evaluator.decide(lead, AS_OF)) for lead in journeys]
    assert python == [decision_line(interpreter.decide(lead, AS_OF)) for lead in journeys]
    with DuckDBEngine(model, threads=1) as engine:
        engine.load_leads(iter(journeys))
        sql = [decision_line(item.decision) for item in engine.decide(AS_OF)]
    assert sql == python
    assert len({line for line in python if b"business" in line}) > 40


def test_deadlines_share_one_calendar_per_name() -> None:
    model = checked(POLICY)
    first, second, third = route_deadlines(model)
    assert first is not None and second is not None and third is not None
    assert first.calendar is not None and first.calendar.name is None
    assert second.calendar is not None and second.calendar.zone_name == "Europe/Berlin"
    assert (first.seconds, second.seconds, third.seconds) == (4 * HOUR, 9 * HOUR, 2 * HOUR)
    assert third.calendar is None
    assert route_deadlines(model) is route_deadlines(model)


def test_simulated_sla_compliance_uses_the_business_due_time() -> None:
    model = checked(POLICY)
    lead = LEADS[0]
    decision = Evaluator(model).decide(lead, AS_OF)
    handoff = at("2026-03-06T21:00:00Z")
    record = lead_record(model, lead, decision, {"mql": (handoff, 0)}, 1, None)
    assert record.sla == 4 * HOUR
    assert record.due == at("2026-03-09T15:30:00Z")
    # A touch on Monday morning meets the SLA though more than 4 hours have passed.
    touched = dataclasses.replace(record, touch=at("2026-03-09T14:00:00Z"))
    assert _deadline(touched) == at("2026-03-09T15:30:00Z")


def test_the_shipped_policy_hands_a_late_friday_request_over_on_monday() -> None:
    model = check_file(ROOT / "policies" / "saas_trial.mql").model
    assert model is not None
    (example,) = [e for e in model.examples if "late on a Friday" in e.name]
    result = run_example(Evaluator(model), example)
    assert result.passed
    route = result.result.decision.route
    assert route is not None and route.sla == "4 business hours"
    # The request at 15:00 EST on Friday 11 Dec 2026 (20:00Z): 2.5 h until 17:30; the weekend;
    # Monday 14 Dec opens at 09:00 EST (14:00Z), + 1.5 h = 10:30 EST = 15:30Z.
    assert route.entered == at("2026-12-11T20:00:00Z")
    assert format_instant(route.due or 0) == "2026-12-14T15:30:00Z"


# ---------------------------------------------------------------- documents


def test_the_definitions_document_says_the_calendar_in_words() -> None:
    model = checked(POLICY)
    text = render(model, "md")
    assert (
        "The working calendar: Monday to Friday, 9:00 to 17:30 New York time "
        "(America/New_York); not on 26 November 2026, 25 December 2026 or 1 January 2027."
    ) in text
    assert "Calendar `emea`: Monday to Friday, 8:00 to 17:00 Berlin time (Europe/Berlin)." in text
    assert "4 business hours (New York working time)" in text
    assert "1 business day (calendar emea: Berlin working time)" in text
    html = render(model, "html")
    assert "Monday to Friday, 9:00 to 17:30 New York time" in html


def test_a_fixed_offset_zone_is_said_with_the_offset_it_means() -> None:
    """`Etc/GMT+5` is five hours *behind* UTC (POSIX signs): saying "GMT+5 time" told a
    reader the opposite of what the engine does."""
    model = checked(POLICY.replace('"Europe/Berlin"', '"Etc/GMT+5"'))
    text = render(model, "md")
    assert "Calendar `emea`: Monday to Friday, 8:00 to 17:00 UTC-5 time (Etc/GMT+5)." in text
    assert "1 business day (calendar emea: UTC-5 working time)" in text
    east = render(checked(POLICY.replace('"Europe/Berlin"', '"Etc/GMT-14"')), "md")
    assert "UTC+14 time (Etc/GMT-14)" in east


def test_diff_notices_calendar_and_business_sla_changes() -> None:
    old = checked(POLICY)
    new = checked(POLICY.replace("hours 08:00 to 17:00", "hours 08:00 to 16:00"))
    changes = [c.text() for c in diff(old, new)]
    assert len(changes) == 1 and "calendar emea" in changes[0] and "16:00" in changes[0]
    new = checked(POLICY.replace("sla 4 business hours", "sla 4 hours"))
    changes = [c.text() for c in diff(old, new)]
    assert len(changes) == 1 and "route mql to sdr_inbound" in changes[0]
    assert "4 business hours" in changes[0] and "within 4 hours" in changes[0]


def test_a_calendar_can_live_in_an_included_file() -> None:
    shared = (
        'calendar emea {\n  timezone "Europe/Berlin"\n  hours 08:00 to 17:00\n'
        "  days mon to fri\n}\n"
    )
    files = {"pol/common/hours.mql": shared.encode()}
    text = (
        'policy "t"\ninclude "common/hours.mql"\nevent e\nstages {\n  a\n  b when e ever\n}\n'
        "route b to q, sla 2 business hours of emea\n"
    )
    result = check_text(text, "pol/main.mql", read=lambda name: files[name])
    assert result.model is not None, [d.message for d in result.diagnostics]
    assert "Calendar `emea`" in render(result.model, "md")
    assert "(from `common/hours.mql`)" in render(result.model, "md")
    # A second calendar of the same name in the policy: E208 naming the included file.
    again = check_text(text + shared, "pol/main.mql", read=lambda name: files[name])
    (problem,) = [d for d in again.diagnostics if d.is_error]
    assert problem.code == "E208" and "pol/common/hours.mql:1" in (problem.hint or "")
