"""Explanations (SPEC §8.0): the values, shortfalls, decay factors, caps and entry instants
they state are checked against numbers worked out by hand in the tests; the compiled
evaluator and the reference interpreter agree on the whole structure; golden files hold
the text, JSON and Markdown explanations of the shipped policies' examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_text
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.explain import explain
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import Lead
from mqldsl.engine.testing import run_examples
from mqldsl.render.explanation import outline, render_explanation

from .conftest import ROOT
from .helpers import run
from .policy_gen import AS_OF, leads, policies

GOLDEN = ROOT / "tests" / "golden" / "explain"

POLICY = """\
policy "Explained"
version 3

lead {
  size: int
  channel: enum(inbound, outbound)
}

event page_view { path: text }
event demo_request "Asked for a demo"
event sales_accepted

param mql_intent_min = 50 "Lowest intent of an MQL"

score fit {
  +65 when size >= 100 "Right size"
}

score intent decay 10% every 7 days {
  +5 per page_view where path starts with "/pricing" within 60 days
  +35 when demo_request within 30 days
}

score activity {
  +5 per page_view within 30 days, max 20 "Browsing"
}

stages locked {
  lead
  mql "Marketing qualified" when fit >= 60 and intent >= mql_intent_min
    or demo_request within 30 days and fit >= 60
  sql when sales_accepted ever
}

route mql to sdr_inbound when channel == inbound, sla 5 minutes
route mql to sdr_outbound, sla 1 day
"""

DAY = 86400


def record(lead_id: str, events: list[dict[str, Any]], size: int = 500) -> str:
    return json.dumps(
        {"id": lead_id, "profile": {"size": size, "channel": "inbound"}, "events": events}
    )


def explained(
    tmp_path: Path, lines: list[str], lead: str, as_of: str, *extra: str, locked: bool = True
) -> tuple[str, dict[str, Any]]:
    policy = tmp_path / "p.mql"
    policy.write_text(POLICY if locked else POLICY.replace("stages locked", "stages"))
    journeys = tmp_path / "j.jsonl"
    journeys.write_text("\n".join(lines) + "\n")
    args = ["explain", str(policy), str(journeys), "--lead", lead, "--as-of", as_of, *extra]
    code, text, err = run(*args)
    assert code == 0, err
    code, out, err = run(*args, "--format", "json")
    assert code == 0, err
    return text, json.loads(out)


def clauses(clause: dict[str, Any]) -> list[dict[str, Any]]:
    found = [clause]
    for part in clause.get("parts", ()):
        found += clauses(part)
    return found


def test_near_miss_names_the_failing_clause_both_values_and_the_shortfall(tmp_path: Path) -> None:
    # Flexible stages. Eight pricing views and a demo request, all 41 days before the as-of.
    # Intent: each view +5 x 0.9^5 (41 days = 5 full weeks) = 2.95245, eight give 23.6196;
    # the demo request left its 30-day window. Fit 65 >= 60 holds; intent 23.62 < 50 fails.
    at = "2026-10-21T00:00:00Z"
    views = [{"type": "page_view", "at": at, "path": "/pricing"}] * 8
    demo = {"type": "demo_request", "at": at}
    text, data = explained(
        tmp_path, [record("N", [*views, demo])], "N", "2026-12-01T00:00:00Z", locked=False
    )
    intent = round(8 * 5 * 0.9**5, 2)
    assert data["scores"]["intent"] == intent
    why_not = data["explanation"]["why_not"][0]
    assert why_not["stage"] == "mql" and why_not["holds"] is False
    compare = next(c for c in clauses(why_not["clause"]) if c["text"] == "intent >= mql_intent_min")
    assert compare["holds"] is False
    assert [o["value"] for o in compare["operands"]] == [intent, 50]
    assert compare["operands"][1]["kind"] == "param"
    assert compare["shortfall"] == pytest.approx(50 - intent)
    assert compare["direction"] == "short"
    assert f"intent {intent} < 50 (param mql_intent_min): {round(50 - intent, 2)} short" in text
    pattern = next(
        c for c in clauses(why_not["clause"]) if c["text"] == "demo_request within 30 days"
    )
    assert pattern["holds"] is False and pattern["matched"] == 0
    assert pattern["last"]["at"] == at and pattern["last_age_days"] == 41
    assert "no demo_request within 30 days: the last was 41 days ago" in text
    # The holding clause of the same option is stated with its values, not as a failure.
    fit = next(c for c in clauses(why_not["clause"]) if c["text"] == "fit >= 60")
    assert fit["holds"] is True and fit.get("shortfall") is None


def test_a_decayed_rule_shows_each_events_factor(tmp_path: Path) -> None:
    # Two pricing views 8 and 15 days old: factors 0.9^1 and 0.9^2 (decay 10% every 7 days).
    as_of = 1_764_547_200  # 2025-12-01T00:00:00Z
    views = [
        {"type": "page_view", "at": _iso(as_of - 15 * DAY), "path": "/pricing"},
        {"type": "page_view", "at": _iso(as_of - 8 * DAY), "path": "/pricing"},
    ]
    text, data = explained(tmp_path, [record("D", views)], "D", _iso(as_of))
    rule = data["explanation"]["scores"]["intent"]["rules"][0]
    assert rule["decay"] == "10% every 7 days"
    assert [e["factor"] for e in rule["events"]] == [0.81, 0.9]
    assert [e["points"] for e in rule["events"]] == [pytest.approx(4.05), pytest.approx(4.5)]
    assert [e["age_days"] for e in rule["events"]] == [15, 8]
    assert rule["points"] == pytest.approx(5 * 0.81 + 5 * 0.9)
    assert "+5 x 0.81, 15 days old" in text and "+5 x 0.9, 8 days old" in text
    assert "decays 10% every 7 days" in text


def test_a_capped_rule_shows_the_cap_and_the_uncapped_value(tmp_path: Path) -> None:
    # Seven page views within 30 days at +5 each: 35, capped at 20.
    as_of = 1_764_547_200
    views = [
        {"type": "page_view", "at": _iso(as_of - (i + 1) * DAY), "path": "/blog"} for i in range(7)
    ]
    text, data = explained(tmp_path, [record("C", views)], "C", _iso(as_of))
    rule = data["explanation"]["scores"]["activity"]["rules"][0]
    assert (rule["points"], rule["max"], rule["capped"], rule["uncapped"]) == (20, 20, True, 35)
    assert len(rule["events"]) == 7
    assert (
        "+20  Browsing (line 25): per page_view within 30 days, max 20; capped at 20 of 35" in text
    )


def test_a_locked_stage_states_its_entry_instant_scores_then_and_tipping_event(
    tmp_path: Path,
) -> None:
    # Entered mql on 11-19 09:02 when a demo request arrived (fit 65, intent 35 + 5 + 5 =
    # 45 then, within the 30-day demo window). As of 12-31 the demo request is 42 days
    # old: the condition no longer holds, the stage is locked.
    events = [
        {"type": "page_view", "at": "2026-11-19T08:00:00Z", "path": "/pricing"},
        {"type": "page_view", "at": "2026-11-19T08:30:00Z", "path": "/pricing"},
        {"type": "demo_request", "at": "2026-11-19T09:02:00Z"},
    ]
    text, data = explained(tmp_path, [record("E", events)], "E", "2026-12-31T00:00:00Z")
    assert data["stage"] == "mql"
    why = data["explanation"]["why"]
    assert why["stage"] == "mql" and why["holds"] is False
    entered = why["entered"]
    assert entered["at"] == "2026-11-19T09:02:00Z"
    assert entered["scores"] == {"fit": 65, "intent": 45, "activity": 10}
    assert [e["type"] for e in entered["events"]] == ["demo_request"]
    assert entered["clause"]["holds"] is True
    assert (
        "Entered mql at 2026-11-19 09:02 UTC when a demo request arrived; "
        "fit 65, intent 45, activity 10 at that moment." in text
    )
    assert (
        "Now its condition does not hold; the lead stays at mql because it was reached "
        "and locked stages only move forward" in text
    )
    # The handoff made on entry, with its due time, in the history.
    handoffs = data["explanation"]["handoffs"]
    assert handoffs == [
        {
            "stage": "mql",
            "queue": "sdr_inbound",
            "sla": "5 minutes",
            "at": "2026-11-19T09:02:00Z",
            "due": "2026-11-19T09:07:00Z",
        }
    ]


def test_timeline_shows_scores_at_each_change_and_each_handoff(tmp_path: Path) -> None:
    policy = tmp_path / "p.mql"
    policy.write_text(POLICY)
    journeys = tmp_path / "j.jsonl"
    events = [
        {"type": "demo_request", "at": "2026-11-19T09:02:00Z"},
        {"type": "sales_accepted", "at": "2026-11-20T10:00:00Z"},
    ]
    journeys.write_text(record("T", events) + "\n")
    args = [
        "timeline",
        str(policy),
        str(journeys),
        "--lead",
        "T",
        "--as-of",
        "2026-12-01T00:00:00Z",
    ]
    code, out, err = run(*args)
    assert code == 0, err
    assert out.splitlines() == [
        "Lead T: stage history up to 2026-12-01 00:00 UTC",
        "  2026-11-19 09:02 UTC  mql: first seen with a demo request; "
        "fit 65, intent 35, activity 0",
        "    handed to sdr_inbound, first touch due by 2026-11-19 09:07 UTC (5 minutes)",
        "  2026-11-20 10:00 UTC  sql: advanced when a sales acceptance arrived; "
        "fit 65, intent 35, activity 0",
    ]
    code, out, err = run(*args, "--format", "json")
    timeline = json.loads(out)["timeline"]
    assert [(c["at"], c["stage"]) for c in timeline] == [
        ("2026-11-19T09:02:00Z", "mql"),
        ("2026-11-20T10:00:00Z", "sql"),
    ]
    assert timeline[0]["scores"] == {"fit": 65, "intent": 35, "activity": 0}
    assert timeline[0]["handoff"]["queue"] == "sdr_inbound"
    assert timeline[1]["handoff"] is None  # no route for sql in this policy


def test_why_not_answers_for_one_stage(tmp_path: Path) -> None:
    events = [{"type": "page_view", "at": "2026-11-30T00:00:00Z", "path": "/pricing"}]
    text, data = explained(
        tmp_path, [record("W", events)], "W", "2026-12-01T00:00:00Z", "--why-not", "mql"
    )
    assert text.splitlines()[0] == "Why not mql"
    assert "intent 5 < 50 (param mql_intent_min): 45 short" in text  # 1 day old: no decay yet
    assert data["why_not"]["stage"] == "mql"
    code, _, err = run(
        "explain", str(tmp_path / "p.mql"), str(tmp_path / "j.jsonl"), "--lead", "W",
        "--as-of", "2026-12-01T00:00:00Z", "--why-not", "nosuch",
    )  # fmt: skip
    assert code == 2 and "`nosuch` is not a stage" in err and "Traceback" not in err


def _iso(seconds: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- the engines agree


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policies(), st.lists(leads(), min_size=1, max_size=3))
def test_compiled_and_interpreted_explanations_are_equal(text: str, journeys: list[Lead]) -> None:
    result = check_text(text, "generated.mql")
    assert result.model is not None, text
    compiled = Evaluator(result.model)
    reference = Interpreter(result.model)
    model = result.model
    for lead in journeys:
        run_ = compiled.run(lead, AS_OF, explain=True)
        fast = explain(model, lead, run_)
        slow = explain(model, lead, reference.result(lead, AS_OF))
        assert fast.to_json() == slow.to_json(), text
        check_against_the_decision(model, lead, run_, fast)
        # And every format renders it.
        for kind in ("text", "md", "html"):
            assert render_explanation(outline(fast), kind)


def check_against_the_decision(model: Any, lead: Lead, run_: Any, why: Any) -> None:
    """What the explanation states agrees with the decision and the timeline, which the
    explanation's own code did not compute: the events' points add up to each rule's points
    (or exceed its cap), the current stage's condition holds in flexible mode and no later
    stage's does, a disqualifier holds exactly when the decision names it, and the stage
    reached is that of the last step that was not a disqualification."""
    decision = run_.decision
    for score in why.scores:
        for rule in score.rules:
            valued = [e.points for e in rule.events if e.points is not None]
            if rule.max is not None and rule.uncapped is not None:
                assert abs(sum(valued)) > rule.max
                assert abs(rule.points) == pytest.approx(rule.max)
            elif valued and rule.rule.split()[1] == "per":
                assert sum(valued) == pytest.approx(rule.points)
    held = [d.reason for d in why.disqualifiers if d.holds]
    assert held == list(decision.disqualified)
    stays = [step.stage for step in run_.steps if step.stage != "disqualified"]
    assert why.reached == (stays[-1] if stays else model.stage_names[0])
    if decision.stage != "disqualified":
        if not model.locked and why.why is not None:
            assert why.why.holds
        assert all(not check.holds for check in why.why_not)


# ---------------------------------------------------------------- golden files


def shipped_explanations(kind: str) -> dict[str, str]:
    found = {}
    for path in sorted((ROOT / "policies").glob("*.mql")):
        run_ = run_examples(path)
        parts = []
        for outcome in run_.outcomes:
            why = run_.explain(outcome)
            if kind == "json":
                parts.append(json.dumps(why.to_json(), indent=2, ensure_ascii=False) + "\n")
            else:
                parts.append(render_explanation(outline(why), kind))
        found[path.stem] = ("\n" if kind != "json" else "").join(parts)
    return found


@pytest.mark.parametrize("kind", ["txt", "json", "md"])
def test_explanations_of_shipped_examples_match_golden_files(
    kind: str, update_golden: bool
) -> None:
    fmt = {"txt": "text", "json": "json", "md": "md"}[kind]
    for stem, text in shipped_explanations(fmt).items():
        golden = GOLDEN / f"{stem}.{kind}"
        if update_golden:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert text == golden.read_text(), f"{golden} differs (pytest --update-golden rewrites it)"


def test_a_recycled_lead_says_which_events_no_longer_count() -> None:
    # saas_trial.mql: a PQL that goes quiet is recycled to the trial on 11-12; its trial
    # start (10-11) and sales contact request (10-13) are before the recycle.
    run_ = run_examples(ROOT / "policies" / "saas_trial.mql")
    (outcome,) = [o for o in run_.outcomes if "recycled" in o.example.name]
    why = run_.explain(outcome)
    assert why.journey_start is not None
    data = why.to_json()
    assert data["journey_start"] == "2026-11-12T12:00:00Z"
    assert [c["recycled"] for c in data["timeline"]] == [False, False, True]
    pattern = next(c for c in clauses(data["why"]["clause"]) if c["text"] == "trial_started ever")
    assert pattern["holds"] is False
    assert pattern["last"]["at"] == "2026-10-11T12:00:00Z"
    assert pattern["before_journey_start"] is True
    text = render_explanation(outline(why), "text")
    assert (
        "no trial_started ever: the last was 60 days ago (2026-10-11 12:00 UTC), "
        "before the lead was recycled: it no longer counts" in text
    )


def test_a_disqualification_after_progress_names_the_stage_it_had_reached(tmp_path: Path) -> None:
    # Flexible stages: an MQL on 11-01 (a demo request), back to lead on 12-01 (the demo
    # left its 30-day window), unsubscribed on 12-05.
    policy = (
        POLICY.replace("stages locked", "stages").replace(
            "event sales_accepted\n", "event sales_accepted\nevent unsubscribe\n"
        )
        + 'disqualify "Unsubscribed" when unsubscribe ever\n'
    )
    events = [
        {"type": "demo_request", "at": "2026-11-01T00:00:00Z"},
        {"type": "unsubscribe", "at": "2026-12-05T00:00:00Z"},
    ]
    path = tmp_path / "p.mql"
    path.write_text(policy)
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(record("X", events) + "\n")
    args = ["explain", str(path), str(journeys), "--lead", "X", "--as-of", "2026-12-10T00:00:00Z"]
    code, text, err = run(*args)
    assert code == 0, err
    code, out, _ = run(*args, "--format", "json")
    data = json.loads(out)["explanation"]
    assert [(c["at"], c["stage"]) for c in data["timeline"]] == [
        ("2026-11-01T00:00:00Z", "mql"),
        ("2026-12-01T00:00:00Z", "lead"),
        ("2026-12-05T00:00:00Z", "disqualified"),
    ]
    # It was at lead (not mql) when it unsubscribed: mql is among the stages it lacks.
    assert "Before that it had reached lead." in text
    assert [c["stage"] for c in data["why_not"]] == ["mql", "sql"]
    # The fall back from mql on 12-01 shows the clauses that failed then.
    fell = data["timeline"][1]
    assert fell["clause"]["holds"] is False
    assert "no demo_request within 30 days: the last was 30 days ago" in text
    # --why-not in JSON says where the lead stands with respect to the stage.
    code, out, _ = run(*args, "--format", "json", "--why-not", "lead")
    assert json.loads(out)["why_not"]["status"] == "disqualified"


def test_a_lead_disqualified_from_its_first_instant(tmp_path: Path) -> None:
    policy = POLICY + 'disqualify "Too small" when size < 10\n'
    path = tmp_path / "p.mql"
    path.write_text(policy)
    journeys = tmp_path / "j.jsonl"
    events = [{"type": "page_view", "at": "2026-11-30T00:00:00Z", "path": "/"}]
    journeys.write_text(record("S", events, size=5) + "\n" + record("Q", [], size=5) + "\n")
    base = ["explain", str(path), str(journeys), "--as-of", "2026-12-01T00:00:00Z"]
    code, text, _ = run(*base, "--lead", "S")
    assert code == 0
    assert "It was disqualified from its first instant on." in text
    assert (
        "2026-11-30 00:00 UTC  disqualified: first seen with a page view, "
        "already disqualified (Too small);" in text
    )
    code, text, _ = run(*base, "--lead", "Q")
    assert "Disqualified by its profile (no event up to 2026-12-01 00:00 UTC)." in text


def test_a_policy_without_scores_is_explained_without_empty_clauses(tmp_path: Path) -> None:
    policy = tmp_path / "p.mql"
    policy.write_text(
        'policy "no scores"\nevent ev\nstages locked {\n  v\n  m when ev ever\n}\n'
        "route m to q, sla 1 day\n"
    )
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(record("L", [{"type": "ev", "at": "2026-10-01T09:00:00Z"}]) + "\n")
    for command in ("explain", "timeline"):
        code, text, err = run(
            command, str(policy), str(journeys), "--lead", "L", "--as-of", "2026-11-01T00:00:00Z"
        )
        assert code == 0, err
        assert ";  " not in text and "; \n" not in text and not text.count("; at that"), text
    code, text, _ = run(
        "explain", str(policy), str(journeys), "--lead", "L", "--as-of", "2026-11-01T00:00:00Z"
    )
    assert "Entered m at 2026-10-01 09:00 UTC when an ev arrived." in text


def test_a_recycle_that_advances_at_once_says_both_steps(tmp_path: Path) -> None:
    """SPEC §7: the recycle rule applies first, then the lead advances on the fresh journey.
    The rule sends it to `visitor`; its profile (size 500 > 100) makes it a `lead` at once. The
    history said "recycled from mql to lead", a move no rule makes."""
    policy = tmp_path / "p.mql"
    policy.write_text(
        'policy "Recycle advance"\nlead { size: int }\nevent page_view\n'
        "stages locked {\n  visitor\n  lead when size > 100\n  mql when page_view within 5 days\n}\n"
        "recycle mql to visitor when no page_view within 5 days\n"
    )
    line = {
        "id": "R1",
        "profile": {"size": 500},
        "events": [{"type": "page_view", "at": "2026-10-01T00:00:00Z"}],
    }
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(json.dumps(line) + "\n")
    args = [str(policy), str(journeys), "--lead", "R1", "--as-of", "2026-11-01T00:00:00Z"]
    code, out, err = run("timeline", *args)
    assert code == 0, err
    assert (
        "2026-10-06 00:00 UTC  lead: recycled from mql (line 9) to visitor, then advanced to "
        "lead at once (its condition held on the fresh journey)"
    ) in out
    code, out, err = run("explain", *args)
    assert "Recycled from mql (line 9) to visitor, then advanced to lead at once" in out
    assert "fresh journey) to lead" not in out
