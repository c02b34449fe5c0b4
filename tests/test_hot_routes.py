"""Hot-event routes (SPEC §8): `route STAGE to QUEUE on EVENT [where] [when] [, sla D]`.

Each behaviour is checked on both engines (the compiled evaluator and the reference
interpreter) against figures worked out by hand in the test: the decision's route (queue, SLA,
its own `entered` and `due`), every handoff of the timeline, and what the explanation, the
checker, the printer, the SQL back end and the simulator make of it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import duckdb
import msgspec
import pytest

from mqldsl.analysis.checker import check_text
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.explain import explain
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import DAY, EvalResult, Event, Lead, format_instant, to_seconds
from mqldsl.io.scoring import decision_line
from mqldsl.language.parser import parse_text
from mqldsl.language.printer import format_policy
from mqldsl.render.diff import diff
from mqldsl.render.document import render as render_document
from mqldsl.render.explanation import outline, render_explanation, timeline_outline
from mqldsl.simulation.metrics import metrics, sla_by_queue
from mqldsl.simulation.records import lead_record
from mqldsl.simulation.sales import replay_sales
from mqldsl.simulation.scenario import Sales
from mqldsl.warehouse.compiler import DIALECTS, compile_sql
from mqldsl.warehouse.engine import DuckDBEngine
from mqldsl.warehouse.support import sql_diagnostics

from .helpers import run as cli_run

T = to_seconds(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
HOUR = 3600.0
MINUTE = 60.0

# A product-led funnel: usage makes an MQL (routed to sdr_plg, one day); a demo request while
# an MQL hands the lead to sdr_inbound with a five-minute deadline (SPEC §8's example).
POLICY = """policy "hot"
lead {
  size: int
}
event use
event demo_request { source: text }
event unsubscribe
score usage {
  +10 per use within 30 days
}
stages {
  visitor
  mql when usage >= 20 or demo_request within 30 days
  opportunity when usage >= 50
}
disqualify "Unsubscribed" when unsubscribe within 10 days
route mql to sdr_plg, sla 1 day
route mql to sdr_inbound on demo_request, sla 5 minutes
"""

Run = Callable[[str, Lead, float], EvalResult]


def _compiled(text: str, subject: Lead, as_of: float) -> EvalResult:
    model = check_text(text).model
    assert model is not None
    return Evaluator(model).run(subject, as_of)


def _interpreted(text: str, subject: Lead, as_of: float) -> EvalResult:
    model = check_text(text).model
    assert model is not None
    return Interpreter(model).result(subject, as_of)


def _on_duckdb(text: str, subject: Lead, as_of: float) -> EvalResult:
    """The compiled evaluator's timeline with the decision DuckDB makes (the SQL back end,
    SPEC §8): the tests' figures then check DuckDB's route, and it must equal the Python
    engine's decision byte for byte."""
    model = check_text(text).model
    assert model is not None
    result = Evaluator(model).run(subject, as_of)
    with DuckDBEngine(model, threads=1) as engine:
        engine.load_leads(iter([subject]))
        (decided,) = [item.decision for item in engine.decide(as_of)]
    assert decision_line(decided) == decision_line(result.decision)
    return msgspec.structs.replace(result, decision=decided)


@pytest.fixture(
    params=[_compiled, _interpreted, _on_duckdb], ids=["compiled", "interpreter", "duckdb"]
)
def run(request: pytest.FixtureRequest) -> Run:
    return request.param  # type: ignore[no-any-return]


def lead(*events: tuple[str, float] | tuple[str, float, dict[str, Any]], size: int = 10) -> Lead:
    built = []
    for index, item in enumerate(events):
        fields = item[2] if len(item) == 3 else {}  # type: ignore[misc]
        built.append(Event(at=T + item[1], type=item[0], fields=fields, index=index))
    built.sort(key=lambda e: e.at)
    return Lead(id="L", profile={"size": size}, events=tuple(built))


def handoffs(result: EvalResult) -> list[tuple[float, str, str]]:
    """(instant relative to T, stage, queue) of every handoff."""
    model = check_text(POLICY).model
    assert model is not None
    return [(h.at - T, h.stage, model.routes[h.route].queue) for h in result.handoffs]


def route_of(result: EvalResult) -> tuple[str, float, float | None] | None:
    route = result.decision.route
    if route is None:
        return None
    return route.queue, route.entered - T, None if route.due is None else route.due - T


# ---------------------------------------------------------------- semantics


def test_an_mql_from_usage_that_later_requests_a_demo_gets_a_new_queue_and_deadline(
    run: Run,
) -> None:
    # Two uses make an MQL at -20 days (usage 20): sdr_plg, due a day later. The demo request
    # two weeks later hands it over again: sdr_inbound, due five minutes after the request.
    subject = lead(("use", -21 * DAY), ("use", -20 * DAY), ("demo_request", -6 * DAY))
    result = run(POLICY, subject, T)
    assert result.decision.stage == "mql"
    assert route_of(result) == ("sdr_inbound", -6 * DAY, -6 * DAY + 5 * MINUTE)
    assert result.decision.entered == {"visitor": T - 21 * DAY, "mql": T - 20 * DAY}
    assert handoffs(result) == [(-20 * DAY, "mql", "sdr_plg"), (-6 * DAY, "mql", "sdr_inbound")]
    assert result.decision.to_json()["route"] == {
        "queue": "sdr_inbound",
        "sla": "5 minutes",
        "due": "2026-10-26T00:05:00Z",
        "entered": "2026-10-26T00:00:00Z",
    }
    # Before the demo request, the entry's handoff is the route.
    before = run(POLICY, subject, T - 7 * DAY)
    assert route_of(before) == ("sdr_plg", -20 * DAY, -19 * DAY)
    assert handoffs(before) == [(-20 * DAY, "mql", "sdr_plg")]


def test_an_event_in_a_later_stage_without_routes_of_its_own_hands_off(run: Run) -> None:
    # Five uses make an opportunity (usage 50) at -10 days; `opportunity` has no route, so
    # mql's `on` route fires there too: the demo request at -2 days is a handoff.
    uses = [("use", -14 * DAY + n * DAY) for n in range(5)]
    subject = lead(*uses, ("demo_request", -2 * DAY))  # type: ignore[arg-type]
    result = run(POLICY, subject, T)
    assert result.decision.stage == "opportunity"
    assert route_of(result) == ("sdr_inbound", -2 * DAY, -2 * DAY + 5 * MINUTE)
    assert handoffs(result) == [
        (-13 * DAY, "mql", "sdr_plg"),
        (-2 * DAY, "opportunity", "sdr_inbound"),
    ]
    # With a route of its own, the later stage takes no `on` route of mql.
    owned = POLICY + "route opportunity to account_exec, sla 2 days\n"
    result = run(owned, subject, T)
    assert route_of(result) == ("account_exec", -10 * DAY, -8 * DAY)
    assert [(h.at - T, h.stage) for h in result.handoffs] == [
        (-13 * DAY, "mql"),
        (-10 * DAY, "opportunity"),
    ]


def test_no_handoff_while_disqualified(run: Run) -> None:
    # Unsubscribed at -4 days (disqualified until +6 days): the demo request at -1 day makes
    # no handoff, and a disqualified lead has no route.
    subject = lead(
        ("use", -21 * DAY), ("use", -20 * DAY), ("unsubscribe", -4 * DAY), ("demo_request", -DAY)
    )
    result = run(POLICY, subject, T)
    assert result.decision.stage == "disqualified"
    assert result.decision.route is None
    assert handoffs(result) == [(-20 * DAY, "mql", "sdr_plg")]


def test_an_event_that_itself_makes_the_mql_the_on_route_stands(run: Run) -> None:
    # The demo request makes the lead an MQL (demo_request within 30 days) at its instant:
    # the entry route (sdr_plg) and the `on` route fire at the same instant; the `on` stands.
    subject = lead(("use", -3 * DAY), ("demo_request", -2 * DAY))
    result = run(POLICY, subject, T)
    assert result.decision.entered["mql"] == T - 2 * DAY
    assert route_of(result) == ("sdr_inbound", -2 * DAY, -2 * DAY + 5 * MINUTE)
    assert handoffs(result) == [(-2 * DAY, "mql", "sdr_plg"), (-2 * DAY, "mql", "sdr_inbound")]


def test_the_first_declared_matching_on_route_wins(run: Run) -> None:
    text = POLICY.replace(
        "route mql to sdr_inbound on demo_request, sla 5 minutes\n",
        'route mql to enterprise_desk on demo_request where source == "web" when size >= 500,'
        " sla 15 minutes\n"
        "route mql to sdr_inbound on demo_request, sla 5 minutes\n"
        "route mql to never_used on demo_request, sla 1 hour\n",
    )
    base = [("use", -21 * DAY), ("use", -20 * DAY)]
    web = lead(*base, ("demo_request", -DAY, {"source": "web"}), size=800)  # type: ignore[arg-type]
    assert route_of(run(text, web, T)) == ("enterprise_desk", -DAY, -DAY + 15 * MINUTE)
    # `where` fails (chat): the next route; `when` fails (small company): the next route.
    chat = lead(*base, ("demo_request", -DAY, {"source": "chat"}), size=800)  # type: ignore[arg-type]
    assert route_of(run(text, chat, T)) == ("sdr_inbound", -DAY, -DAY + 5 * MINUTE)
    small = lead(*base, ("demo_request", -DAY, {"source": "web"}), size=40)  # type: ignore[arg-type]
    assert route_of(run(text, small, T)) == ("sdr_inbound", -DAY, -DAY + 5 * MINUTE)


def test_when_false_means_no_handoff(run: Run) -> None:
    text = POLICY.replace(
        "on demo_request, sla 5 minutes", "on demo_request when size >= 500, sla 5 minutes"
    )
    subject = lead(("use", -21 * DAY), ("use", -20 * DAY), ("demo_request", -6 * DAY))
    result = run(text, subject, T)
    assert route_of(result) == ("sdr_plg", -20 * DAY, -19 * DAY)
    assert handoffs(result) == [(-20 * DAY, "mql", "sdr_plg")]


def test_the_when_is_evaluated_at_the_event_instant(run: Run) -> None:
    # usage >= 30 holds at -1 day (three uses) but not at the request at -5 days (two).
    text = POLICY.replace(
        "on demo_request, sla 5 minutes", "on demo_request when usage >= 30, sla 5 minutes"
    )
    subject = lead(("use", -8 * DAY), ("use", -7 * DAY), ("demo_request", -5 * DAY), ("use", -DAY))
    result = run(text, subject, T)
    assert route_of(result) == ("sdr_plg", -7 * DAY, -6 * DAY)
    later = lead(("use", -8 * DAY), ("use", -7 * DAY), ("use", -DAY), ("demo_request", -HOUR))
    assert route_of(run(text, later, T)) == ("sdr_inbound", -HOUR, -HOUR + 5 * MINUTE)


def test_falling_back_and_re_entering_fires_entry_routes_again(run: Run) -> None:
    # Two uses at -70/-69 days: MQL at -69 (sdr_plg); the demo at -60 hands it over again.
    # Usage falls below 20 at -40 days (the first use leaves its 30-day window), but the demo
    # request (within 30 days) holds until -30 days: back to visitor at -30. Two fresh uses at
    # -11/-10 days re-enter mql at -10 days: a new stay, whose entry route fires again; the old
    # demo request's handoff belonged to the old stay.
    subject = lead(
        ("use", -70 * DAY), ("use", -69 * DAY), ("demo_request", -60 * DAY),
        ("use", -11 * DAY), ("use", -10 * DAY),
    )  # fmt: skip
    result = run(POLICY, subject, T)
    assert result.decision.stage == "mql"
    assert result.decision.entered == {"visitor": T - 30 * DAY, "mql": T - 10 * DAY}
    assert route_of(result) == ("sdr_plg", -10 * DAY, -9 * DAY)
    assert handoffs(result) == [
        (-69 * DAY, "mql", "sdr_plg"),
        (-60 * DAY, "mql", "sdr_inbound"),
        (-10 * DAY, "mql", "sdr_plg"),
    ]


def test_after_a_spell_of_disqualified_the_entry_routes_fire_again(run: Run) -> None:
    # MQL at -20 days (sdr_plg); a demo at -15 (sdr_inbound); unsubscribed at -12 days:
    # disqualified until -2 days, then mql again: a new stay whose entry route fires.
    subject = lead(
        ("use", -21 * DAY), ("use", -20 * DAY), ("demo_request", -15 * DAY),
        ("unsubscribe", -12 * DAY),
    )  # fmt: skip
    result = run(POLICY, subject, T)
    assert result.decision.stage == "mql"
    assert route_of(result) == ("sdr_plg", -2 * DAY, -DAY)
    assert handoffs(result)[-1] == (-2 * DAY, "mql", "sdr_plg")


def test_on_any_event(run: Run) -> None:
    # `on event`: every event while an MQL, for a large company; the use that makes the MQL
    # at -20 days fires it too (it stands over the entry's), and so does the use at -3 days.
    text = POLICY.replace("on demo_request, sla", "on event where size >= 500, sla")
    uses = lead(("use", -21 * DAY), ("use", -20 * DAY), ("use", -3 * DAY), size=800)
    result = run(text, uses, T)
    assert route_of(result) == ("sdr_inbound", -3 * DAY, -3 * DAY + 5 * MINUTE)
    assert handoffs(result) == [
        (-20 * DAY, "mql", "sdr_plg"),
        (-20 * DAY, "mql", "sdr_inbound"),
        (-3 * DAY, "mql", "sdr_inbound"),
    ]
    small = lead(("use", -21 * DAY), ("use", -20 * DAY), ("use", -3 * DAY), size=40)
    assert route_of(run(text, small, T)) == ("sdr_plg", -20 * DAY, -19 * DAY)


def test_events_of_one_instant_hand_off_in_the_journeys_order(run: Run) -> None:
    # A use and a demo request at the same instant while an MQL each fire a route of their
    # own: both are handoffs, in the journey's order, and the last stands (whichever it is).
    text = POLICY.replace(
        "route mql to sdr_inbound on demo_request, sla 5 minutes\n",
        "route mql to sdr_inbound on demo_request, sla 5 minutes\n"
        "route mql to usage_desk on use when usage >= 30, sla 2 hours\n",
    )
    base = [("use", -21 * DAY), ("use", -20 * DAY)]
    demo_last = lead(*base, ("use", -DAY), ("demo_request", -DAY))
    assert route_of(run(text, demo_last, T)) == ("sdr_inbound", -DAY, -DAY + 5 * MINUTE)
    use_last = lead(*base, ("demo_request", -DAY), ("use", -DAY))
    assert route_of(run(text, use_last, T)) == ("usage_desk", -DAY, -DAY + 2 * HOUR)


def test_a_business_hours_sla_counts_from_the_hot_event(run: Run) -> None:
    # T is Sunday 2026-11-01 00:00 UTC. The demo request on Friday 20:00 (after closing) hands
    # over to sdr_inbound; its two business hours run from Monday's opening (09:00) to 11:00.
    text = POLICY.replace(
        "route mql to sdr_inbound on demo_request, sla 5 minutes",
        "route mql to sdr_inbound on demo_request, sla 2 business hours",
    ).replace(
        "stages {",
        'calendar {\n  timezone "UTC"\n  hours 09:00 to 17:00\n  days mon to fri\n}\nstages {',
    )
    friday = -DAY - 4 * HOUR
    subject = lead(("use", -21 * DAY), ("use", -20 * DAY), ("demo_request", friday))
    monday_eleven = DAY + 11 * HOUR
    assert route_of(run(text, subject, T + 2 * DAY)) == ("sdr_inbound", friday, monday_eleven)


def test_the_example_of_the_shipped_policy() -> None:
    from mqldsl.engine.testing import run_examples

    from .conftest import ROOT

    outcomes = run_examples(ROOT / "policies" / "saas_trial.mql").outcomes
    named = {o.example.name: o for o in outcomes}
    outcome = named["A PQL who then asks for sales goes to the inbound desk"]
    assert outcome.passed
    route = outcome.result.decision.route
    assert route is not None and route.queue == "sdr_inbound" and route.sla == "5 minutes"
    assert route.due is not None and route.due - route.entered == 5 * MINUTE


# ---------------------------------------------------------------- explanation and timeline


def test_the_explanation_and_timeline_list_every_handoff() -> None:
    model = check_text(POLICY).model
    assert model is not None
    subject = lead(("use", -21 * DAY), ("use", -20 * DAY), ("demo_request", -6 * DAY))
    why = explain(model, subject, Evaluator(model).run(subject, T, explain=True))
    data = why.to_json()
    assert [(h["queue"], h["at"], h["due"]) for h in data["handoffs"]] == [
        ("sdr_plg", "2026-10-12T00:00:00Z", "2026-10-13T00:00:00Z"),
        ("sdr_inbound", "2026-10-26T00:00:00Z", "2026-10-26T00:05:00Z"),
    ]
    assert data["handoffs"][1]["trigger"] == {
        "at": "2026-10-26T00:00:00Z",
        "type": "demo_request",
        "fields": {},
    }
    assert data["route"]["queue"] == "sdr_inbound"
    history = render_explanation(timeline_outline(why), "text")
    assert "2026-10-26 00:00 UTC  mql: handed over again when a demo request arrived" in history
    assert "handed to sdr_inbound, first touch due by 2026-10-26 00:05 UTC (5 minutes)" in history
    assert history.index("handed to sdr_plg") < history.index("handed to sdr_inbound")
    head = render_explanation(outline(why), "text").splitlines()[1]
    assert head == (
        "  Hand to sdr_inbound: first touch due by 2026-10-26 00:05 UTC "
        "(5 minutes after the demo request at 2026-10-26 00:00 UTC)"
    )


def test_the_timeline_as_json_lists_every_handoff(tmp_path: Any) -> None:
    """`timeline --format json` has the hot events' handoffs too (they are not changes of
    stage, so the `timeline` list alone left them out): the one that stands included."""
    policy = tmp_path / "hot.mql"
    policy.write_text(POLICY, encoding="utf-8")
    events = [
        {"type": "use", "at": "2026-10-10T00:00:00Z"},
        {"type": "use", "at": "2026-10-11T00:00:00Z"},
        {"type": "demo_request", "at": "2026-10-20T09:00:00Z"},
        {"type": "demo_request", "at": "2026-10-25T09:00:00Z", "source": "web"},
    ]
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(json.dumps({"id": "H1", "profile": {}, "events": events}) + "\n")
    args = [str(policy), str(journeys), "--lead", "H1", "--as-of", "2026-11-01T00:00:00Z"]
    code, out, err = cli_run("timeline", *args, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [(h["stage"], h["queue"], h["at"], h["due"]) for h in data["handoffs"]] == [
        ("mql", "sdr_plg", "2026-10-11T00:00:00Z", "2026-10-12T00:00:00Z"),
        ("mql", "sdr_inbound", "2026-10-20T09:00:00Z", "2026-10-20T09:05:00Z"),
        ("mql", "sdr_inbound", "2026-10-25T09:00:00Z", "2026-10-25T09:05:00Z"),
    ]
    assert data["handoffs"][2]["trigger"] == {
        "at": "2026-10-25T09:00:00Z",
        "type": "demo_request",
        "fields": {"source": "web"},
    }
    assert data["route"]["due"] == "2026-10-25T09:05:00Z"


# ---------------------------------------------------------------- language


def test_printer_is_canonical_and_idempotent() -> None:
    text = (
        'policy "p"\nevent demo_request { source: text }\nstages {\n  visitor\n}\n'
        'route   visitor to  q on demo_request   where source=="web"  when true ,sla 5 minutes\n'
    )
    parsed = parse_text(text)
    printed = format_policy(parsed.policy)
    assert 'route visitor to q on demo_request where source == "web" when true, sla 5 minutes' in (
        printed
    )
    assert format_policy(parse_text(printed).policy) == printed


@pytest.mark.parametrize(
    ("route", "code", "message"),
    [
        ("route mql to q on demo_requst, sla 5 minutes", "E202", "did you mean `demo_request`?"),
        ("route mql to q on demo_request within 7 days", "E413", "no `within 7 days`"),
        ("route mql to q on demo_request ever", "E413", "no `ever`"),
        ("route mqll to q on demo_request", "E206", "did you mean `mql`?"),
        ('route mql to q on demo_request where sorce == "web"', "E201", "did you mean `source`?"),
        ("route mql to q on demo_request where source > 3", "E301", "cannot order"),
    ],
)
def test_checker_errors(route: str, code: str, message: str) -> None:
    result = check_text(POLICY + route + "\n")
    errors = [d for d in result.diagnostics if d.is_error]
    assert [d.code for d in errors] == [code]
    rendered = errors[0].render(result.source)
    assert message in rendered


def test_shadowed_on_routes_are_told_apart_from_entry_routes() -> None:
    # An unconditional entry route does not shadow an `on` route, nor the reverse; an `on`
    # route without where/when shadows the later `on` routes of its stage for its event.
    text = POLICY + "route mql to later on demo_request, sla 1 hour\n"
    warnings = [d for d in check_text(text).diagnostics if d.code == "W507"]
    assert len(warnings) == 1 and warnings[0].span.line == text.count("\n")
    assert "already takes every such event of a `mql` lead" in warnings[0].message
    other = POLICY + "route mql to later on use, sla 1 hour\n"
    assert not [d for d in check_text(other).diagnostics if d.code == "W507"]
    assert not [d for d in check_text(POLICY).diagnostics if d.code == "W507"]


def test_an_event_used_only_by_an_on_route_is_used() -> None:
    text = POLICY.replace("event use\n", "event use\nevent chat_started\n")
    text += "route mql to chat on chat_started, sla 5 minutes\n"
    assert not [d for d in check_text(text).diagnostics if d.code == "W504"]


def test_document_and_diff_say_it_in_words() -> None:
    model = check_text(POLICY).model
    assert model is not None
    document = render_document(model, "md")
    assert (
        "| `mql` | `sdr_inbound` | when a demo request arrives while the lead is at `mql` | "
        "5 minutes |" in document
    )
    changed = check_text(POLICY.replace("sla 5 minutes", "sla 10 minutes")).model
    assert changed is not None
    texts = [c.text() for c in diff(model, changed)]
    assert texts == [
        "route mql to sdr_inbound on demo_request: when a demo request arrives while the lead "
        "is at `mql`, first touch within 5 minutes → when a demo request arrives while the "
        "lead is at `mql`, first touch within 10 minutes"
    ]


def test_the_sql_back_end_compiles_on_routes_for_every_dialect() -> None:
    model = check_text(POLICY).model
    assert model is not None
    assert sql_diagnostics(model) == []
    compiled = compile_sql(model, T)
    for dialect in DIALECTS:
        text = compiled.sql(dialect)
        assert "route_entered" in text and "hotlast" in text, dialect


TIED = POLICY.replace(
    "route mql to sdr_inbound on demo_request, sla 5 minutes\n",
    "route mql to sdr_inbound on demo_request, sla 5 minutes\n"
    "route mql to usage_desk on use when usage >= 30, sla 2 hours\n",
)


def test_the_printed_query_hands_off_in_the_events_order_column(tmp_path: Any) -> None:
    """What `mqldsl sql` prints, run on hand-made tables: L1's use and demo request of one
    instant (the use last in the `seq` column) hand over to usage_desk; L2's demo request,
    a day after the lead became an MQL, to sdr_inbound; L3 keeps its entry route."""
    policy = tmp_path / "tied.mql"
    policy.write_text(TIED, encoding="utf-8")
    con = duckdb.connect()
    con.execute("CREATE TABLE leads (id VARCHAR, size BIGINT)")
    con.execute("INSERT INTO leads VALUES ('L1', 10), ('L2', 10), ('L3', 10)")
    con.execute(
        'CREATE TABLE events (lead_id VARCHAR, type VARCHAR, "at" TIMESTAMP, '
        "source VARCHAR, seq BIGINT)"
    )
    rows = [
        ("L1", "use", "2026-10-11 00:00:00", 1),
        ("L1", "use", "2026-10-12 00:00:00", 2),
        ("L1", "use", "2026-10-31 00:00:00", 4),  # after the demo request in the journey
        ("L1", "demo_request", "2026-10-31 00:00:00", 3),
        ("L2", "use", "2026-10-11 00:00:00", 5),
        ("L2", "use", "2026-10-12 00:00:00", 6),
        ("L2", "demo_request", "2026-10-13 06:00:00", 7),
        ("L3", "use", "2026-10-11 00:00:00", 8),
        ("L3", "use", "2026-10-12 00:00:00", 9),
    ]
    for lead_id, kind, at, seq in rows:
        con.execute("INSERT INTO events VALUES (?, ?, ?, NULL, ?)", [lead_id, kind, at, seq])
    as_of = ["--as-of", "2026-11-01T00:00:00Z"]
    code, query, err = cli_run("sql", str(policy), *as_of, "--events-order", "seq")
    assert code == 0, err
    result = con.execute(query)
    names = [d[0] for d in result.description]
    got = {row[0]: dict(zip(names, row, strict=True)) for row in result.fetchall()}
    at = dt.datetime.fromisoformat
    assert [
        (got[i]["queue"], got[i]["sla"], got[i]["route_entered"], got[i]["due"])
        for i in ("L1", "L2", "L3")
    ] == [
        ("usage_desk", "2 hours", at("2026-10-31 00:00:00"), at("2026-10-31 02:00:00")),
        ("sdr_inbound", "5 minutes", at("2026-10-13 06:00:00"), at("2026-10-13 06:05:00")),
        ("sdr_plg", "1 day", at("2026-10-12 00:00:00"), at("2026-10-13 00:00:00")),
    ]
    # The Python engine, on the same journeys in the same order, decides the same routes.
    model = check_text(TIED).model
    assert model is not None
    by_lead: dict[str, list[Event]] = {}
    for lead_id, kind, when, seq in sorted(rows, key=lambda r: (r[2], r[3])):
        moment = to_seconds(at(when).replace(tzinfo=dt.UTC))
        by_lead.setdefault(lead_id, []).append(Event(moment, kind, {}, seq))
    evaluator = Evaluator(model)
    for lead_id, events in by_lead.items():
        decided = evaluator.decide(Lead(id=lead_id, profile={"size": 10}, events=tuple(events)), T)
        assert decided.route is not None
        assert decided.route.queue == got[lead_id]["queue"]
        assert decided.route.entered == to_seconds(
            got[lead_id]["route_entered"].replace(tzinfo=dt.UTC)
        )
    code, _, err = cli_run("sql", str(policy), *as_of, "--events-order", " ")
    assert code == 2 and "--events-order" in err
    # Without the order column, events of one instant hand off by the first declared route.
    code, query, err = cli_run("sql", str(policy), *as_of)
    assert code == 0, err
    assert con.execute(query).fetchall()[0][names.index("queue")] == "sdr_inbound"


# ---------------------------------------------------------------- the simulator


def test_every_handoff_is_a_request_for_a_touch() -> None:
    model = check_text(POLICY).model
    assert model is not None
    evaluator = Evaluator(model)
    names = model.stage_names
    # Lead A: MQL on Monday 2026-10-12 00:00 (sdr_plg, 1 day), demo on Monday 2026-10-26
    # 09:00 (sdr_inbound, 5 minutes). Lead B: MQL on 10-13 00:00 (sdr_plg), no demo.
    a = Lead("A", {"size": 1}, tuple(
        Event(T + at, kind, {}, i)
        for i, (kind, at) in enumerate(
            [("use", -21 * DAY), ("use", -20 * DAY), ("demo_request", -6 * DAY + 9 * HOUR)]
        )
    ))  # fmt: skip
    b = Lead(
        "B", {"size": 1}, (Event(T - 20 * DAY, "use", {}, 0), Event(T - 19 * DAY, "use", {}, 1))
    )
    records = []
    for subject in (a, b):
        result = evaluator.run(subject, T)
        records.append(
            lead_record(
                model,
                subject,
                result.decision,
                result.first_entries,
                names.index("mql"),
                None,
                handoffs=result.handoffs,
            )
        )
    assert [(q.at - T, q.queue, q.sla) for q in records[0].touch_requests()] == [
        (-20 * DAY, "sdr_plg", DAY),
        (-6 * DAY + 9 * HOUR, "sdr_inbound", 5 * MINUTE),
    ]
    # One touch a working day per queue, at 9:00 (working hours 9 to 17, Monday to Friday).
    sales = Sales(
        capacity_per_day=1,
        queue_capacity={},
        working_hours=(9.0, 17.0),
        working_days=(0, 1, 2, 3, 4),
        sql_rate=0.0,
        half_life_hours=1.0,
        non_buyer_sql_rate=0.0,
    )
    replayed, capacity = replay_sales(records, sales, T - 30 * DAY, T, seed=1)
    # sdr_plg: A (handed over 10-12 00:00) touched 10-12 09:00, B (10-13 00:00) 10-13 09:00:
    # both within a day. sdr_inbound: A's demo (10-26 09:00) touched 10-26 09:00: met.
    assert replayed[0].touch == T - 20 * DAY + 9 * HOUR
    assert replayed[1].touch == T - 19 * DAY + 9 * HOUR
    assert [q.touch for q in replayed[0].requests] == [T - 6 * DAY + 9 * HOUR]
    assert capacity["touches"] == 3
    figures = metrics(replayed, T, capacity, simulated_sales=True)
    assert figures["sla_met"] == 1.0
    assert figures["queue_length"] == 0
    queues = {q["queue"]: q for q in sla_by_queue(model, replayed, T, True)["queues"]}
    assert (queues["sdr_plg"]["handoffs"], queues["sdr_plg"]["met"]) == (2, 2)
    assert (queues["sdr_inbound"]["handoffs"], queues["sdr_inbound"]["met"]) == (1, 1)
    # The demo handed over at 16:59 is touched the next working day: a missed 5-minute SLA.
    moved = tuple(replace(q, at=q.at + 7 * HOUR + 59 * MINUTE) for q in records[0].requests)
    late = [replace(records[0], requests=moved), records[1]]
    replayed, capacity = replay_sales(late, sales, T - 30 * DAY, T, seed=1)
    assert [q.touch for q in replayed[0].requests] == [T - 5 * DAY + 9 * HOUR]
    figures = metrics(replayed, T, capacity, simulated_sales=True)
    assert figures["sla_met"] == round(2 / 3, 4)
    queues = {q["queue"]: q for q in sla_by_queue(model, replayed, T, True)["queues"]}
    assert (queues["sdr_inbound"]["judged"], queues["sdr_inbound"]["met"]) == (1, 0)
    assert format_instant(T) == "2026-11-01T00:00:00Z"


def test_a_hot_event_that_makes_the_mql_is_one_request_to_its_queue() -> None:
    # The demo request makes the MQL at -2 days: the entry (sdr_plg) and the `on` route fire
    # at one instant and the `on` route's handoff stands: one request, to sdr_inbound.
    model = check_text(POLICY).model
    assert model is not None
    subject = lead(("use", -3 * DAY), ("demo_request", -2 * DAY))
    result = Evaluator(model).run(subject, T)
    record = lead_record(
        model,
        subject,
        result.decision,
        result.first_entries,
        model.stage_names.index("mql"),
        None,
        handoffs=result.handoffs,
    )
    assert (record.handoff, record.queue, record.sla) == (T - 2 * DAY, "sdr_inbound", 5 * MINUTE)
    assert [(q.at - T, q.queue) for q in record.touch_requests()] == [(-2 * DAY, "sdr_inbound")]


def test_coverage_counts_a_hot_route_when_it_made_an_examples_route(tmp_path: Any) -> None:
    from mqldsl.engine.coverage import uncovered
    from mqldsl.engine.testing import run_examples

    head = POLICY.replace('policy "hot"\n', 'policy "hot"\neffective 2026-12-01\n')
    lines = head.splitlines()
    entry_line = lines.index("route mql to sdr_plg, sla 1 day") + 1
    hot_line = lines.index("route mql to sdr_inbound on demo_request, sla 5 minutes") + 1

    def routes_uncovered(events: str, queue: str) -> list[str]:
        path = tmp_path / "p.mql"
        path.write_text(
            head + f'example "e" {{\n  use at -21 days, -20 days\n{events}'
            f"  expect route {queue}\n}}\n"
        )
        run_ = run_examples(path)
        assert run_.check.model is not None and run_.passed == 1
        return [line for line in uncovered(run_.check.model, run_.outcomes) if "route" in line]

    # A demo after usage: the hot route made the route; the entry route's handoff was
    # superseded, so it is not what any example's route came from.
    assert routes_uncovered("  demo_request at -1 day\n", "sdr_inbound") == [
        f"route mql to sdr_plg (line {entry_line})"
    ]
    # Usage only: the entry route made it; the hot route never fired.
    assert routes_uncovered("", "sdr_plg") == [f"route mql to sdr_inbound (line {hot_line})"]


def test_an_entry_and_a_hot_route_at_one_instant_list_the_hot_handoff_only(tmp_path: Any) -> None:
    """SPEC §8: when both fire at one instant (a demo request that itself makes the lead an
    MQL), the `on` route's handoff is the one that stands. The history listed the entry
    route's too (sdr_plg, due a day later), a promise that never stood."""
    policy = tmp_path / "hot.mql"
    policy.write_text(POLICY, encoding="utf-8")
    events = [{"type": "demo_request", "at": "2026-10-20T09:00:00Z"}]
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(json.dumps({"id": "H2", "profile": {}, "events": events}) + "\n")
    args = [str(policy), str(journeys), "--lead", "H2", "--as-of", "2026-11-01T00:00:00Z"]
    code, out, err = cli_run("timeline", *args, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [(h["queue"], h["at"], h["due"]) for h in data["handoffs"]] == [
        ("sdr_inbound", "2026-10-20T09:00:00Z", "2026-10-20T09:05:00Z")
    ]
    (entry,) = [step for step in data["timeline"] if step["stage"] == "mql"]
    assert entry["handoff"]["queue"] == "sdr_inbound"
    code, text, err = cli_run("timeline", *args)
    assert code == 0, err
    assert "sdr_plg" not in text and text.count("handed to sdr_inbound") == 1
