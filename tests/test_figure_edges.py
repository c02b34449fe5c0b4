"""Figures at their edges, each checked against a count written here by hand (SPEC §14,
§14.1): what an SQL is when only some leads carry `truth.sql_at`, a buying window that
closes at the very instant of the handoff, hours to MQL in an account policy (a colleague's
event qualifies a lead before its own first event; events after the as-of instant do not
exist), the weekly series of such leads, and a what-if's difference on the whole data."""

from __future__ import annotations

import json
import statistics
from fractions import Fraction
from pathlib import Path
from typing import Any

from mqldsl.simulation.compare import journeys_delta
from mqldsl.simulation.intervals import exact_values
from mqldsl.simulation.metrics import metrics
from mqldsl.simulation.records import LeadRecord

from .conftest import ROOT
from .helpers import run

ACME = str(ROOT / "policies" / "acme.mql")
T = "2026-11-01T00:00:00Z"


def _write(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def _simulate(policy: str, journeys: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "report.json"
    code, _, err = run("simulate", policy, "--journeys", journeys, "--as-of", T, "-o", str(out))
    assert code == 0, err
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def test_sqls_lead_by_lead_and_a_window_that_closes_at_the_handoff(tmp_path: Path) -> None:
    profile = {"email_kind": "corporate", "role": "secops", "company_size": 800}
    demo = {"type": "demo_request", "at": "2026-10-31T00:00:00Z"}  # the MQL handoff of each
    accepted = {"type": "sales_accepted", "at": "2026-10-31T12:00:00Z"}
    rows = [
        # reached the policy's `sql` stage; no sql_at in its truth
        {"id": "S1", "profile": profile, "events": [demo, accepted], "truth": {"buyer": True}},
        # an SQL by its truth, before the as-of instant
        {"id": "S2", "profile": profile, "events": [demo],
         "truth": {"buyer": True, "sql_at": "2026-10-31T18:00:00Z"}},
        # an SQL only after the as-of instant: not one at T
        {"id": "S3", "profile": profile, "events": [demo],
         "truth": {"buyer": False, "sql_at": "2026-11-02T00:00:00Z"}},
        # a buyer whose window closed at the very instant of its handoff: not before it
        {"id": "S4", "profile": profile, "events": [demo],
         "truth": {"buyer": True, "window_closes": "2026-10-31T00:00:00Z"}},
        {"id": "S5", "profile": profile, "events": [demo],
         "truth": {"buyer": True, "window_closes": "2026-10-31T00:00:01Z"}},
    ]  # fmt: skip
    report = _simulate(ACME, _write(tmp_path / "j.jsonl", rows), tmp_path)
    figures = report["metrics"]
    assert figures["mqls"] == 5
    # S1 by the stage it reached (it has no sql_at), S2 by its truth; S3's is after T. It was
    # 1: one lead's sql_at made every other lead's stage count for nothing.
    assert figures["sqls"] == 2 and figures["mql_to_sql"] == round(2 / 5, 4)
    # buyers S1, S2, S4, S5; S4's handoff is not before its window closed
    assert figures["buyers"] == 4 and figures["buyer_recall"] == round(3 / 4, 4)


ACCOUNTS = """policy "Hours"
lead { role: enum(a, b) }
account { tier: text }
event demo
event visit
score group on account { +10 when count(distinct contact with demo within 30 days) >= 1 }
stages {
  lead
  mql when account.group >= 10
}
route mql to q, sla 1 day
"""


def test_hours_to_mql_and_the_weekly_series_of_an_account_policy(tmp_path: Path) -> None:
    policy = tmp_path / "hours.mql"
    policy.write_text(ACCOUNTS)
    created = {"created_at": "2026-10-12T00:00:00Z"}
    rows = [
        # A1's demo qualifies all of account A at 10-22
        {"id": "A1", "account": "A", "events": [{"type": "demo", "at": "2026-10-22T00:00:00Z"}]},
        # A2's own first event comes after the colleague's demo: an MQL before it showed up
        {"id": "A2", "account": "A", "events": [{"type": "visit", "at": "2026-10-30T00:00:00Z"}]},
        # A3 existed by T (created) but its only event is after T: no event of its own yet
        {"id": "A3", "account": "A", "truth": created,
         "events": [{"type": "visit", "at": "2026-11-02T00:00:00Z"}]},
        # A4 has no event at all; its handoff is the colleague's demo, a real instant
        {"id": "A4", "account": "A", "truth": created, "events": []},
        # B1: its own visit, then its own demo two days later
        {"id": "B1", "account": "B", "events": [{"type": "visit", "at": "2026-10-27T00:00:00Z"},
                                                 {"type": "demo", "at": "2026-10-29T00:00:00Z"}]},
    ]  # fmt: skip
    report = _simulate(str(policy), _write(tmp_path / "j.jsonl", rows), tmp_path)
    figures = report["metrics"]
    assert figures["mqls"] == 5
    # Hours from each lead's first event up to T: A1 0, A2 0 (qualified before it showed
    # up), B1 48; A3 and A4 have no event by T. It was -96: A2 -192 h, A3 -264 h (an event
    # after T), A1 0, B1 48.
    assert figures["median_hours_to_mql"] == statistics.median([0, 0, 48])
    # Every handoff has a real instant (A4's is the colleague's demo): five in the series.
    weeks = {row["week"]: row["mqls"] for row in figures["mqls_per_week"]}
    assert sum(weeks.values()) == 5 and weeks["2026-W43"] == 4 and weeks["2026-W44"] == 1
    assert report["timing"]["weekly_note"] is None


def _record(lead: str, handoff: float | None, buyer: bool) -> LeadRecord:
    return LeadRecord(
        lead, "mql" if handoff else "lead", (), handoff, None, None, buyer, None, 1.0, None
    )


def test_a_what_ifs_difference_is_taken_on_the_whole_data() -> None:
    """Precision 45/175 against 46/199: the difference is -0.025987 (-0.026), where the
    difference of the two rounded figures, 0.2312 - 0.2571, is -0.0259."""
    base = [_record(f"L{i}", 10.0 if i < 175 else None, i < 45) for i in range(300)]
    proposed = [_record(f"L{i}", 10.0 if i < 199 else None, i < 46) for i in range(300)]
    keys = [r.id for r in base]

    def metrics_of(records: Any) -> dict[str, Any]:
        return metrics(records, 100.0, None, False)

    exact = exact_values(base, proposed, keys, metrics_of)
    delta = journeys_delta(metrics_of(base), metrics_of(proposed), {}, exact)
    precision = delta["mql_precision"]
    assert (precision.base, precision.proposed) == (0.2571, 0.2312)
    change = Fraction(46, 199) - Fraction(45, 175)
    assert precision.diff == round(float(change), 4) == -0.026
    assert precision.diff_pct == round(float(100 * change / Fraction(45, 175)), 2)


def test_no_durations_on_data_without_real_event_times(tmp_path: Path) -> None:
    # Every event at one instant (an export stamped at once): the weekly series is withheld,
    # and so is the median hours to MQL (it printed 0.0, a duration made up as well).
    profile = {"email_kind": "corporate", "role": "secops", "company_size": 800}
    demo = {"type": "demo_request", "at": "2026-10-31T00:00:00Z"}
    rows = [{"id": f"E{i}", "profile": profile, "events": [demo]} for i in range(3)]
    report = _simulate(ACME, _write(tmp_path / "j.jsonl", rows), tmp_path)
    assert report["metrics"]["mqls"] == 3
    assert report["metrics"]["mqls_per_week"] == []
    assert report["metrics"]["median_hours_to_mql"] is None


def test_sdr_utilisation_is_the_sdr_queues_only(tmp_path: Path) -> None:
    """The account executives (the SQL stage's queue) are not SDRs: their idle capacity made
    an overloaded SDR team look idle (utilisation 0.43 -> 0.0043 when their capacity was
    raised to 1000 a day, nothing else changed). Recomputed from the queue figures."""
    text = (ROOT / "simulations" / "acme.toml").read_text()
    text = text.replace('policy = "../policies/acme.mql"', f'policy = "{ACME}"')
    figures = []
    for extra in ("", "\n[sales.queues.account_exec]\ncapacity_per_day = 1000\n"):
        scenario = tmp_path / "s.toml"
        scenario.write_text(text + extra)
        out = tmp_path / "r.json"
        code, _, err = run(
            "simulate", ACME, "--scenario", str(scenario), "--leads", "600", "-o", str(out)
        )
        assert code == 0, err
        figures.append(json.loads(out.read_text())["metrics"])
    assert figures[0]["sdr_utilisation"] == figures[1]["sdr_utilisation"] is not None
    assert figures[0]["sqls"] == figures[1]["sqls"]
