"""Every handoff is a request for a touch (SPEC §8, §14): the MQL handoff, every new stay in
a routed stage (a re-entry after falling back), the entry into a later routed stage (`route
sql ...`) and every hot event's handoff; at one instant the last stands. The sales replay
touches them from each queue's capacity; a touch answers every open request of the lead in
its queue made at or before it; an acceptance moves the lead on (docs/scenarios.md, "The
sales replay"). Every figure below is worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mqldsl.analysis.checker import check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import Event, Lead, to_seconds
from mqldsl.simulation.records import lead_record
from mqldsl.simulation.run import RunSpec, evaluate_all, evaluate_sql, run_policy
from mqldsl.simulation.scenario import Sales, Scenario

HOUR = 3600.0
T = to_seconds(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))  # the as-of instant, a Sunday

# Usage in the last day makes an MQL; a demo request keeps one for 30 days and hands it to
# sdr_inbound with five minutes to the first touch; an SQL goes to the account executives.
POLICY = """policy "touches"
lead {
  size: int
}
event use
event demo_request
event sales_accepted
score usage {
  +10 per use within 1 day
}
stages {
  visitor
  mql when usage >= 20 or demo_request within 30 days
  sql when sales_accepted ever
}
route mql to sdr, sla 1 day
route mql to sdr_inbound on demo_request, sla 5 minutes
route sql to ae, sla 4 hours
"""


def at(day: int, hour: float) -> float:
    """An instant of October 2026 (the 9th is a Friday, the 12th a Monday)."""
    return to_seconds(dt.datetime(2026, 10, day, tzinfo=dt.UTC)) + hour * HOUR


def lead(name: str, *events: tuple[str, float]) -> Lead:
    built = tuple(Event(at=t, type=kind, fields={}, index=i) for i, (kind, t) in enumerate(events))
    return Lead(id=name, profile={"size": 1}, events=built)


# A: MQL on Friday 11:00 (two uses), falls back on Saturday 10:00 (the first use leaves its
# day), an MQL again on Sunday 10:00 (a new stay: a second request to sdr), and requests a
# demo on Monday 08:00 while an MQL (a hot handoff to sdr_inbound).
A = lead(
    "A",
    ("use", at(9, 10)),
    ("use", at(9, 11)),
    ("use", at(11, 9.5)),
    ("use", at(11, 10)),
    ("demo_request", at(12, 8)),
)
# B: a demo request on Tuesday 13th 15:00 makes it an MQL: the entry route (sdr) and the `on`
# route (sdr_inbound) fire at one instant, and the `on` route's handoff alone stands.
B = lead("B", ("demo_request", at(13, 15)))
# C: MQL on Monday 12th 11:00; falls back on Tuesday 10:00; sales accepts it (its own event)
# on Tuesday 14:00: entering SQL hands it to ae (4 hours).
C = lead(
    "C",
    ("use", at(12, 10)),
    ("use", at(12, 11)),
    ("sales_accepted", at(13, 14)),
)
# D: MQL on Monday 19th 11:00, falls back on Tuesday 10:00, an MQL again on Wednesday 11:00.
D = lead(
    "D",
    ("use", at(19, 10)),
    ("use", at(19, 11)),
    ("use", at(21, 10)),
    ("use", at(21, 11)),
)
LEADS = [A, B, C, D]


@pytest.fixture(scope="module")
def model() -> CheckedPolicy:
    checked = check_text(POLICY).model
    assert checked is not None
    return checked


def scenario(accept: bool) -> Scenario:
    """One touch a working day per queue, at 9:00 (working hours 9 to 17, Monday to
    Friday), from Thursday 2026-10-01; every touched MQL accepted, or none."""
    sales = Sales(
        capacity_per_day=1,
        queue_capacity={},
        working_hours=(9.0, 17.0),
        working_days=(0, 1, 2, 3, 4),
        sql_rate=1.0 if accept else 0.0,
        half_life_hours=1e9,
        non_buyer_sql_rate=1.0 if accept else 0.0,
    )
    return Scenario(
        path="touches.toml",
        name="touches",
        start=dt.date(2026, 10, 1),
        days=31,
        seed=1,
        per_day=1.0,
        weekday_shape=(1.0,) * 7,
        states=(),
        unaware_days=1.0,
        personas=(),
        event_fields={},
        sales=sales,
    )


def requests(model: CheckedPolicy, subject: Lead, result: Any) -> list[tuple[float, str]]:
    record = lead_record(
        model,
        subject,
        result.decision,
        result.first_entries,
        model.stage_names.index("mql"),
        model.stage_names.index("sql") if "sql" in model.stage_names else None,
        handoffs=result.handoffs,
    )
    return [(q.at, q.queue) for q in record.touch_requests()]


def test_each_handoff_is_one_request_on_both_engines(model: CheckedPolicy) -> None:
    expected = {
        "A": [(at(9, 11), "sdr"), (at(11, 10), "sdr"), (at(12, 8), "sdr_inbound")],
        "B": [(at(13, 15), "sdr_inbound")],  # the entry's sdr handoff does not stand
        "C": [(at(12, 11), "sdr"), (at(13, 14), "ae")],
        "D": [(at(19, 11), "sdr"), (at(21, 11), "sdr")],
    }
    for subject in LEADS:
        compiled = Evaluator(model).run(subject, T)
        interpreted = Interpreter(model).result(subject, T)
        assert requests(model, subject, compiled) == expected[subject.id]
        assert requests(model, subject, interpreted) == expected[subject.id]
    # A re-entry is a request, not a second MQL: each lead's MQL handoff is its first entry.
    records, _ = evaluate_all(model, {}, LEADS, T, "mql", None, "sql")
    assert [r.handoff for r in records] == [at(9, 11), at(13, 15), at(12, 11), at(19, 11)]
    assert [(r.queue, r.sla) for r in records] == [
        ("sdr", 24 * HOUR),
        ("sdr_inbound", 300.0),
        ("sdr", 24 * HOUR),
        ("sdr", 24 * HOUR),
    ]
    # The SQL back end lists the same requests.
    assert evaluate_sql(model, {}, LEADS, T, "mql", "sql") == records


def queues(report: Any) -> dict[str, tuple[int, int | None, int | None]]:
    return {q["queue"]: (q["handoffs"], q["judged"], q["met"]) for q in report.sla["queues"]}


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_sla_compliance_counts_every_request_per_queue(model: CheckedPolicy, engine: str) -> None:
    spec = RunSpec(params={}, as_of=T, sql_stage="sql", scenario=scenario(False), engine=engine)
    run = run_policy(model, LEADS, spec)
    by_id = {r.id: r for r in run.records}
    # sdr (one touch a working day, at 9:00), first come first served:
    #   A Fri 9th 11:00 -> Mon 12th 09:00 (due Sat 11:00: missed); A's re-entry Sun 10:00 still
    #   waits then: answered by that touch, no slot of its own (due Mon 10:00: met);
    #   C Mon 12th 11:00 -> Tue 13th 09:00 (met); D Mon 19th 11:00 -> Tue 20th 09:00 (met);
    #   D's re-entry Wed 21st 11:00 -> Thu 22nd 09:00 (met).
    # sdr_inbound: A's demo Mon 12th 08:00 -> 09:00 (due 08:05: missed; sdr's touch is another
    #   queue's and does not answer it); B Tue 13th 15:00 -> Wed 14th 09:00 (missed).
    # ae: C's SQL Tue 13th 14:00 -> Wed 14th 09:00 (due 18:00: missed).
    assert by_id["A"].touch == at(12, 9)
    assert [q.touch for q in by_id["A"].requests] == [at(12, 9), at(12, 9)]
    assert [q.touch for q in by_id["C"].requests] == [at(14, 9)]
    assert [q.touch for q in by_id["D"].requests] == [at(22, 9)]
    assert queues(run.report) == {"sdr": (5, 5, 4), "sdr_inbound": (2, 2, 0), "ae": (1, 1, 0)}
    figures = run.report.metrics
    assert figures["mqls"] == 4  # leads, not entries
    assert figures["sqls"] == 1  # C, by its own acceptance (it reached the SQL stage)
    assert figures["sla_met"] == 0.5  # 4 of 8
    # delays 70, 23, 1, 18, 22, 19, 22, 22 hours: median 22
    assert figures["median_hours_to_first_touch"] == 22.0
    # The SDRs' queues are those of the routes of the stages before `sql`, sdr and
    # sdr_inbound (ae is the SQL stage's): touches sdr 4 (the answered re-entry takes none), sdr_inbound 2; slots: two
    # queues, one a working day, 22 working days from 10-01 to 10-30. (ae's idle slots made
    # the SDRs look less busy: 7 / 66 counted them.)
    assert figures["sdr_utilisation"] == round(6 / 44, 4)
    assert figures["queue_length"] == 0


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_an_acceptance_moves_the_lead_on_in_the_replay(model: CheckedPolicy, engine: str) -> None:
    spec = RunSpec(params={}, as_of=T, sql_stage="sql", scenario=scenario(True), engine=engine)
    run = run_policy(model, LEADS, spec)
    by_id = {r.id: r for r in run.records}
    # Every touched MQL handoff is accepted: `sales_accepted` at its touch enters SQL, a
    # request to ae at that instant. A at Mon 12th 09:00 (ae's slot then: met), C at Tue
    # 13th 09:00 (met; its own acceptance at 14:00 no longer enters SQL: no request then),
    # B at Wed 14th 09:00 (met), D at Tue 20th 09:00 (met; in SQL from then on, it makes
    # no MQL re-entry on Wednesday 21st).
    assert [(q.at, q.queue, q.touch) for q in by_id["A"].requests] == [
        (at(11, 10), "sdr", at(12, 9)),
        (at(12, 8), "sdr_inbound", at(12, 9)),
        (at(12, 9), "ae", at(12, 9)),
    ]
    assert [(q.at, q.queue, q.touch) for q in by_id["C"].requests] == [(at(13, 9), "ae", at(13, 9))]
    assert [(q.at, q.queue, q.touch) for q in by_id["D"].requests] == [(at(20, 9), "ae", at(20, 9))]
    assert queues(run.report) == {"sdr": (4, 4, 3), "sdr_inbound": (2, 2, 0), "ae": (4, 4, 4)}
    figures = run.report.metrics
    assert (figures["mqls"], figures["sqls"]) == (4, 4)  # one SQL outcome per lead
    assert figures["sla_met"] == 0.7  # 7 of 10
    assert run.report.stages["sql"] == 4


# A locked funnel that recycles a quiet MQL and pauses an unsubscribed one (SPEC §7).
RECYCLING = """policy "recycled"
lead {
  size: int
}
event use
event unsubscribe
score usage {
  +10 per use within 7 days
}
stages locked {
  visitor
  mql when usage >= 20
}
disqualify "Unsubscribed" when unsubscribe within 2 days
recycle mql to visitor when no event within 3 days
route mql to sdr, sla 1 day
"""


def test_a_recycled_lead_and_one_back_from_disqualified_ask_again() -> None:
    checked = check_text(RECYCLING).model
    assert checked is not None
    # MQL on Monday 5th 11:00; no event for 3 days: recycled on Thursday 8th 11:00; fresh
    # uses make it an MQL again on Monday 12th 11:00 (a new stay); the unsubscribe on
    # Wednesday 14th 10:00 disqualifies it for two days; on Friday 16th 10:00 none holds and
    # it is back at `mql` (another new stay), until recycled on Saturday 17th 10:00.
    subject = lead(
        "R",
        ("use", at(5, 10)),
        ("use", at(5, 11)),
        ("use", at(12, 10)),
        ("use", at(12, 11)),
        ("unsubscribe", at(14, 10)),
    )
    expected = [(at(5, 11), "sdr"), (at(12, 11), "sdr"), (at(16, 10), "sdr")]
    for result in (
        Evaluator(checked).run(subject, T),
        Interpreter(checked).result(subject, T),
    ):
        assert [(s.at, s.stage) for s in result.steps][1:] == [
            (at(5, 11), "mql"),
            (at(8, 11), "visitor"),
            (at(12, 11), "mql"),
            (at(14, 10), "disqualified"),
            (at(16, 10), "mql"),
            (at(17, 10), "visitor"),
        ]
        assert requests(checked, subject, result) == expected
    spec = RunSpec(params={}, as_of=T, scenario=scenario(False))
    run = run_policy(checked, [subject], spec)
    # sdr at 9:00 each working day: Mon 5th 11:00 -> Tue 6th 09:00 (due Tue 11:00: met);
    # Mon 12th 11:00 -> Tue 13th 09:00 (met); Fri 16th 10:00 -> Mon 19th 09:00 (due Sat
    # 10:00: missed). One MQL, three requests.
    (record,) = run.records
    assert (record.handoff, record.touch) == (at(5, 11), at(6, 9))
    assert [q.touch for q in record.requests] == [at(13, 9), at(19, 9)]
    assert run.report.metrics["mqls"] == 1
    assert run.report.metrics["sla_met"] == round(2 / 3, 4)
    assert queues(run.report) == {"sdr": (3, 3, 2)}
