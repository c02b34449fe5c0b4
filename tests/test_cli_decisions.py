"""`score`, `explain`, `timeline` and `test` from the command line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from .conftest import ROOT
from .helpers import run

ACME = str(ROOT / "policies" / "acme.mql")
AS_OF = "2026-11-01T00:00:00Z"
GOOD = [
    {
        "id": "L-1",
        "profile": {
            "email_kind": "corporate",
            "role": "secops",
            "company_size": 800,
            "channel": "inbound",
            "tech_stack": ["aws", "okta"],
        },
        "events": [{"type": "demo_request", "at": "2026-10-31T23:00:00Z"}],
    },
    {
        "id": "L-2",
        "profile": {"role": "student"},
        "events": [
            {"type": "unsubscribe", "at": "2026-10-30T10:00:00Z"},
            {"type": "page_view", "at": "2026-10-29T10:00:00+02:00", "path": "/pricing"},
            {"type": "chat_opened", "at": "2026-10-29T10:00:00Z"},
        ],
    },
]


def journeys(tmp_path: Path, records: list[object], extra_lines: list[str] = ()) -> str:  # type: ignore[assignment]
    path = tmp_path / "journeys.jsonl"
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_score_writes_one_decision_per_lead_in_input_order(tmp_path: Path) -> None:
    code, out, err = run("score", ACME, journeys(tmp_path, GOOD), "--as-of", AS_OF)
    assert code == 0, err
    first, second = (json.loads(line) for line in out.splitlines())
    assert first == {
        "id": "L-1",
        "as_of": AS_OF,
        "stage": "mql",
        "scores": {"fit": 40, "intent": 30},
        "disqualified": [],
        "route": {
            "queue": "sdr_inbound",
            "sla": "5 minutes",
            "due": "2026-10-31T23:05:00Z",
            "entered": "2026-10-31T23:00:00Z",
        },
        "entered": {"mql": "2026-10-31T23:00:00Z"},
        # acme.mql is canonical (tests/test_printer.py): its bytes are what `fmt` writes
        "policy": {"version": 4, "sha256": hashlib.sha256(Path(ACME).read_bytes()).hexdigest()},
    }
    assert second["stage"] == "disqualified"
    assert second["disqualified"] == ["Unsubscribed"]
    assert second["entered"] == {
        "visitor": "2026-10-29T08:00:00Z",
        "disqualified": "2026-10-30T10:00:00Z",
    }
    assert "2 read, 2 used, 0 rejected" in err
    assert "ignored unknown event type `chat_opened`: 1 time" in err


def test_score_is_deterministic_and_jobs_keep_the_order(tmp_path: Path) -> None:
    records = []
    for i in range(300):
        record = json.loads(json.dumps(GOOD[i % 2]))
        record["id"] = f"L-{i:04d}"
        records.append(record)
    path = journeys(tmp_path, records)
    one = tmp_path / "one.jsonl"
    two = tmp_path / "two.jsonl"
    assert run("score", ACME, path, "--as-of", AS_OF, "-o", str(one))[0] == 0
    assert run("score", ACME, path, "--as-of", AS_OF, "-o", str(two), "--jobs", "2")[0] == 0
    assert one.read_bytes() == two.read_bytes()
    assert len(one.read_bytes().splitlines()) == 300


def _square(offset: int, item: int) -> int:
    return offset + item * item


def test_the_process_pool_keeps_the_input_order() -> None:
    from mqldsl.engine.parallel import ordered_map

    assert list(ordered_map(_square, range(50), 2, int, (1,))) == [1 + i * i for i in range(50)]


def test_score_library_call_decides_in_order_with_the_rejections(tmp_path: Path) -> None:
    from mqldsl.engine.runtime import parse_instant
    from mqldsl.io.errors import UsageProblem
    from mqldsl.io.policy import load_policy
    from mqldsl.io.scoring import ScoreOptions
    from mqldsl.warehouse.scoring import ScoreRequest, score

    model = load_policy(ACME)
    path = journeys(tmp_path, GOOD, ["{nope"])
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}.jsonl"
        options = ScoreOptions(as_of=parse_instant(AS_OF), params={}, jobs=jobs)
        outcome = score(model, ScoreRequest(options, journeys=path, output=str(out)))
        assert outcome.evaluated == 2 and outcome.failed
        assert outcome.summary_lines()[-1] == "3 read, 2 used, 1 rejected"
        assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["L-1", "L-2"]
    with pytest.raises(UsageProblem, match="--jobs works with JSON Lines"):
        score(model, ScoreRequest(options, journeys=path, output=str(tmp_path / "x.csv")))


def test_bad_journey_lines_are_reported_with_their_line_numbers(tmp_path: Path) -> None:
    bad = [
        "{not json",
        json.dumps({"profile": {}}),
        json.dumps({"id": "L-1"}),
        json.dumps({"id": "X", "profile": {"company_size": "big"}}),
        json.dumps({"id": "Y", "profile": {"role": "ceo"}}),
        json.dumps({"id": "Z", "events": [{"type": "demo_request", "at": "2026-10-01T10:00:00"}]}),
        "[1, 2]",
    ]
    code, out, err = run("score", ACME, journeys(tmp_path, GOOD, bad), "--as-of", AS_OF)
    assert code == 1
    assert len(out.splitlines()) == 2
    assert ":3:2: error[E701]: invalid JSON" in err
    assert ':4: error[E703]: missing "id" (a string or a whole number)' in err
    assert ":5: error[E704]: duplicate id `L-1`" in err
    assert ":6: error[E705]: profile field `company_size`: expected a whole number" in err
    assert ':7: error[E705]: profile field `role`: "ceo" is not one of' in err
    assert (
        ':8: error[E706]: event 1 (demo_request): "at": `2026-10-01T10:00:00` has no time zone'
        in err
    )
    assert ":9: error[E701]: a journey line must be a JSON object" in err
    assert "9 read, 2 used, 7 rejected" in err


def test_max_errors_stops_early(tmp_path: Path) -> None:
    code, _, err = run(
        "score",
        ACME,
        journeys(tmp_path, [], ["x", "y", "z"]),
        "--as-of",
        AS_OF,
        "--max-errors",
        "2",
    )
    assert code == 1
    assert "2 read, 0 used, 2 rejected" in err


def test_score_csv_output(tmp_path: Path) -> None:
    out = tmp_path / "decisions.csv"
    code, _, _ = run("score", ACME, journeys(tmp_path, GOOD), "--as-of", AS_OF, "-o", str(out))
    assert code == 0
    assert out.read_text().splitlines() == [
        "id,as_of,stage,fit,intent,disqualified,queue",
        "L-1,2026-11-01T00:00:00Z,mql,40,30,,sdr_inbound",
        "L-2,2026-11-01T00:00:00Z,disqualified,0,7,Unsubscribed,",
    ]


def test_score_reads_csv_leads_and_events(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "id,email_kind,role,company_size,channel,tech_stack\nL-1,corporate,secops,800,inbound,aws;okta\nL-2,,student,,,\n"
    )
    events = tmp_path / "events.csv"
    events.write_text(
        "lead_id,type,at,path\nL-1,demo_request,2026-10-31T23:00:00Z,\nL-2,unsubscribe,2026-10-30T10:00:00Z,\n"
        "L-2,page_view,2026-10-29T08:00:00Z,/pricing\nL-9,page_view,2026-10-29T08:00:00Z,/x\n"
    )
    code, out, err = run("score", ACME, str(leads), "--events", str(events), "--as-of", AS_OF)
    assert code == 1  # the event of an unknown lead is reported
    assert [json.loads(line)["stage"] for line in out.splitlines()] == ["mql", "disqualified"]
    assert "events.csv:5: error[E711]: no lead with id `L-9`" in err
    assert "no events table" not in err
    # Without its events table (a forgotten --events): decided on profiles alone, and said.
    code, out, err = run("score", ACME, str(leads), "--as-of", AS_OF)
    assert code == 0 and len(out.splitlines()) == 2
    assert f"no events table was given with the leads table {leads} (--events EVENTS.csv)" in err


def test_set_overrides_a_param_with_type_checking(tmp_path: Path) -> None:
    path = journeys(tmp_path, GOOD)
    code, _, _ = run("score", ACME, path, "--as-of", AS_OF, "--set", "mql_fit_min=50")
    assert code == 0
    code, _, err = run("score", ACME, path, "--as-of", AS_OF, "--set", "mql_fit_min=high")
    assert code == 2
    assert "E307" in err
    code, _, err = run("score", ACME, path, "--as-of", AS_OF, "--set", "mql_fit_mni=3")
    assert code == 2
    assert "did you mean `mql_fit_min`" in err


def test_bad_as_of_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("score", ACME, journeys(tmp_path, GOOD), "--as-of", "yesterday")
    assert code == 2
    assert "instant" in err


def test_a_policy_with_errors_is_refused_before_reading_leads(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mql"
    broken.write_text('policy "b"\nstages {\n  visitor\n  mql when nothing_here\n}\n')
    code, out, err = run("score", str(broken), journeys(tmp_path, GOOD), "--as-of", AS_OF)
    assert code == 1
    assert out == ""
    assert "error[E201]: unknown name `nothing_here`" in err
    assert "the policy has errors; nothing was run" in err


def test_explain_speaks_to_a_sales_rep(tmp_path: Path) -> None:
    code, out, _ = run("explain", ACME, journeys(tmp_path, GOOD), "--lead", "L-1", "--as-of", AS_OF)
    assert code == 0
    assert out.splitlines()[0] == "Lead L-1, as of 2026-11-01 00:00 UTC: mql (Marketing qualified)"
    assert "Hand to sdr_inbound: first touch due by 2026-10-31 23:05 UTC" in out
    assert "+20  Core company size (line 40): company_size between 200 and 5000" in out
    assert "demo_request at 2026-10-31 23:00 UTC, 1 hour old" in out
    assert (
        "Entered mql at 2026-10-31 23:00 UTC when a demo request arrived; fit 40, intent 30" in out
    )


def test_explain_json_and_unknown_lead(tmp_path: Path) -> None:
    path = journeys(tmp_path, GOOD)
    code, out, _ = run("explain", ACME, path, "--lead", "L-2", "--as-of", AS_OF, "--format", "json")
    assert code == 0
    data = json.loads(out)
    pricing = data["explanation"]["scores"]["intent"]["rules"][0]
    assert pricing["points"] == 5
    assert pricing["events"] == [
        {
            "at": "2026-10-29T08:00:00Z",
            "type": "page_view",
            "fields": {"path": "/pricing"},
            "points": 5,
            "age_days": 2.6667,
        }
    ]
    assert data["explanation"]["disqualifiers"][1]["holds"] is True
    code, _, err = run("explain", ACME, path, "--lead", "nope", "--as-of", AS_OF)
    assert code == 1
    assert "no lead with id `nope`" in err


def test_explanation_json_keeps_event_fields_apart_from_what_it_says(tmp_path: Path) -> None:
    # Event fields named like the keys an explanation adds beside an event (`points`,
    # `contact`, `factor`, `age_days`) keep their values: the fields are an object of their own.
    policy = tmp_path / "badges.mql"
    policy.write_text(
        'policy "Badges"\n'
        "account {\n  tier: text\n}\n"
        "event badge { points: int, contact: text, factor: number, age_days: int }\n"
        "score buying on account {\n  +3 per contact with badge within 30 days, max 9\n}\n"
        "score fit {\n  +5 per badge where points >= 10\n}\n"
        "stages {\n  visitor\n  lead when fit >= 5 or account.buying >= 6\n}\n"
    )
    badge = {"points": 12, "contact": "Jo", "factor": 0.5, "age_days": 4}
    path = journeys(
        tmp_path,
        [
            {"id": "B-1", "account": "A", "events": [{"type": "badge", "at": AS_OF} | badge]},
            {"id": "B-2", "account": "A", "events": [{"type": "badge", "at": AS_OF} | badge]},
        ],
    )
    code, out, err = run("explain", str(policy), path, "--lead", "B-1", "--as-of", AS_OF,
                         "--format", "json")  # fmt: skip
    assert code == 0, err
    explanation = json.loads(out)["explanation"]
    (rule,) = explanation["scores"]["fit"]["rules"]
    (event,) = rule["events"]
    assert event["fields"] == badge and event["points"] == 5 and event["type"] == "badge"
    (entry_event, colleague) = explanation["why"]["entered"]["events"]
    assert entry_event["fields"] == badge and "contact" not in entry_event
    assert colleague["fields"] == badge and colleague["contact"] == "B-2"


def test_explain_of_a_lead_whose_line_was_rejected_says_so(tmp_path: Path) -> None:
    bad = {"id": "L-bad", "profile": {"role": "secop"}, "events": []}
    path = journeys(tmp_path, [GOOD[0], bad])
    code, _, err = run("explain", ACME, path, "--lead", "L-bad", "--as-of", AS_OF)
    assert code == 1
    assert ':2: error[E705]: profile field `role`: "secop" is not one of' in err
    assert f"the line of lead `L-bad` ({path}:2) was rejected (above)" in err
    assert "no lead with id" not in err


def test_timeline_lists_every_stage_change(tmp_path: Path) -> None:
    code, out, _ = run(
        "timeline", ACME, journeys(tmp_path, GOOD), "--lead", "L-2", "--as-of", AS_OF
    )
    assert code == 0
    assert out.splitlines()[1:] == [
        "  2026-10-29 08:00 UTC  visitor: first seen with a page view; fit 0, intent 7",
        "  2026-10-30 10:00 UTC  disqualified: disqualified (Unsubscribed) when an unsubscribe"
        " arrived; fit 0, intent 7",
    ]


def test_test_command_passes_on_shipped_policies() -> None:
    code, out, _ = run("test", str(ROOT / "policies"))
    assert code == 0
    from mqldsl.analysis.checker import check_file

    total = 0
    for path in sorted((ROOT / "policies").glob("*.mql")):
        model = check_file(path).model
        assert model is not None
        total += len(model.examples)
    assert total >= 19
    assert out.splitlines()[-1] == f"{total} passed, 0 failed"


def test_test_command_reports_a_failing_example_with_its_explanation(tmp_path: Path) -> None:
    text = Path(ACME).read_text().replace("expect intent == 10", "expect intent == 15")
    path = tmp_path / "acme.mql"
    path.write_text(text)
    code, out, _ = run("test", str(path))
    assert code == 1
    assert "FAIL  A case-study download makes a lead, not an MQL" in out
    assert "expected intent == 15, got intent is 10" in out
    assert "|     +10  per content_download where kind in [case_study, comparison_guide]" in out
    assert out.splitlines()[-1] == "5 passed, 1 failed"


@pytest.mark.parametrize("flag", ["--coverage"])
def test_test_coverage_lists_what_no_example_exercised(flag: str) -> None:
    code, out, _ = run("test", flag, ACME)
    assert code == 0
    assert "not covered: route mql to sdr_outbound" in out
    assert 'not covered: disqualifier "Unsubscribed"' in out
    assert "rule of fit (line 48): -30 when email_kind == personal" in out


def test_crm_conventions_hubspot_and_salesforce(tmp_path: Path) -> None:
    path = journeys(tmp_path, GOOD)
    out = tmp_path / "hubspot.csv"
    code, _, err = run("score", ACME, path, "--as-of", AS_OF, "--crm", "hubspot", "-o", str(out))
    assert code == 2
    assert (
        "no hubspot value for the stage visitor" in err
    )  # unknown mappings are errors, not guesses
    code, _, err = run(
        "score",
        ACME,
        path,
        "--as-of",
        AS_OF,
        "--crm",
        "hubspot",
        "--crm-map",
        "visitor=other",
        "-o",
        str(out),
    )
    assert code == 0, err
    policy = f"4,{hashlib.sha256(Path(ACME).read_bytes()).hexdigest()},"
    assert out.read_text().splitlines() == [
        "Record ID,Lifecycle Stage,Lead Status,mqldsl_fit,mqldsl_intent,mqldsl_stage,mqldsl_queue,"
        "mqldsl_policy_version,mqldsl_policy_sha256,mqldsl_policy_params",
        f"L-1,marketingqualifiedlead,NEW,40,30,mql,sdr_inbound,{policy}",
        f"L-2,other,UNQUALIFIED,0,7,disqualified,,{policy}",
    ]
    sf = tmp_path / "salesforce.csv"
    code, _, err = run(
        "score",
        ACME,
        path,
        "--as-of",
        AS_OF,
        "--crm",
        "salesforce",
        "--crm-map",
        "visitor=Open - Not Contacted",
        "--crm-map",
        "subscriber=Open - Not Contacted",
        "-o",
        str(sf),
    )
    assert code == 0, err
    assert sf.read_text().splitlines()[1:] == [
        f"L-1,Open - Not Contacted,40,30,mql,sdr_inbound,{policy}",
        f"L-2,Closed - Not Converted,0,7,disqualified,,{policy}",
    ]
    code, _, err = run(
        "score",
        ACME,
        path,
        "--as-of",
        AS_OF,
        "--crm",
        "hubspot",
        "--crm-map",
        "visitor=prospect",
        "-o",
        str(out),
    )
    assert code == 2
    assert "`prospect` is not a hubspot value" in err
    code, _, err = run("score", ACME, path, "--as-of", AS_OF, "--crm", "hubspot")
    assert code == 2


def test_crm_mapping_file(tmp_path: Path) -> None:
    mapping = tmp_path / "hubspot.toml"
    mapping.write_text('[stages]\nvisitor = "other"\nsubscriber = "subscriber"\n')
    out = tmp_path / "hubspot.csv"
    code, _, err = run(
        "score",
        ACME,
        journeys(tmp_path, GOOD),
        "--as-of",
        AS_OF,
        "--crm",
        "hubspot",
        "--crm-mapping",
        str(mapping),
        "-o",
        str(out),
    )
    assert code == 0, err
    assert out.read_text().splitlines()[1].startswith("L-1,marketingqualifiedlead,NEW")


def test_score_without_journeys_says_what_to_give() -> None:
    code, _, err = run("score", str(ROOT / "policies" / "acme.mql"), "--as-of", "2026-11-01")
    assert code == 2
    assert "give the journeys: a JOURNEYS file, or --leads LEADS (a table)" in err


def test_a_dash_reads_the_journeys_from_standard_input(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = journeys(tmp_path, GOOD)
    data = Path(path).read_bytes()
    by_file = run("score", ACME, path, "--as-of", AS_OF)
    for command in (["score"], ["explain", "--lead", "L-2"], ["timeline", "--lead", "L-2"]):
        piped = subprocess.run(
            [sys.executable, "-m", "mqldsl", command[0], ACME, "-", *command[1:], "--as-of", AS_OF],
            input=data,
            capture_output=True,
            cwd=ROOT,
            check=False,
        )
        assert piped.returncode == 0, piped.stderr
        if command == ["score"]:
            assert piped.stdout.decode() == by_file[1]
        else:
            assert "L-2" in piped.stdout.decode()


def test_dash_as_the_output_is_standard_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `-o -` wrote a file named `-` in the current folder (and printed nothing).
    path = journeys(tmp_path, GOOD)
    monkeypatch.chdir(tmp_path)
    code, plain, _ = run("score", ACME, path, "--as-of", AS_OF)
    code_dash, dashed, _ = run("score", ACME, path, "--as-of", AS_OF, "-o", "-")
    assert code == code_dash == 0 and dashed == plain and len(plain.splitlines()) == 2
    code, out, _ = run("explain", ACME, path, "--lead", "L-1", "--as-of", AS_OF, "-o", "-")
    assert code == 0 and out.startswith("Lead L-1, as of")
    assert not (tmp_path / "-").exists()


def test_an_unknown_event_type_is_ignored_whatever_its_time(tmp_path: Path) -> None:
    # SPEC §12: unknown event types are counted and ignored. One without a time, or with a
    # date only (a CRM's logged call), rejected its whole lead (E706) before.
    good = {"type": "page_view", "at": "2026-10-29T10:00:00Z", "path": "/pricing"}
    records = [
        {"id": "U1", "events": [{"type": "call_logged"}, good]},
        {"id": "U2", "events": [{"type": "call_logged", "at": "2026-10-01"}, good]},
        {"id": "U3", "events": [{"type": 5, "at": "2026-10-01T00:00:00Z"}]},
    ]
    code, out, err = run("score", ACME, journeys(tmp_path, records), "--as-of", AS_OF)
    assert code == 1
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["U1", "U2"]
    assert 'journeys.jsonl:3: error[E706]: event 1: "type" must be text, got 5' in err
    assert "ignored unknown event type `call_logged`: 2 times" in err
    assert "3 read, 2 used, 1 rejected" in err


def test_an_unknown_key_in_truth_is_counted(tmp_path: Path) -> None:
    # A misspelt truth key (`sql_date` for `sql_at`) was dropped without a word, and the
    # backtest counted no SQL for it.
    records = [
        {"id": "T1", "events": [], "truth": {"buyer": True, "sql_date": "2026-10-12T10:00:00Z"}},
        {"id": "T2", "events": [], "truth": {"buyer": False, "persona": "student"}},
    ]
    path = journeys(tmp_path, records)
    for jobs in ("1", "2"):
        code, out, err = run("score", ACME, path, "--as-of", AS_OF, "--jobs", jobs)
        assert code == 0 and len(out.splitlines()) == 2
        assert "ignored unknown key `sql_date` in truth: 1 time (did you mean `sql_at`?)" in err
        assert "persona" not in err


def test_a_line_that_is_not_utf8_or_broken_in_two_says_so(tmp_path: Path) -> None:
    # It said "str is not valid UTF-8: surrogates not allowed" at column 1, and nothing of a
    # line broken in two (the usual cause, docs/errors.md E701).
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"id": "x\xe9"}\n{"id": "L-1",\n "profile": {}}\n')
    code, out, err = run("score", ACME, str(path), "--as-of", AS_OF)
    assert code == 1 and out == ""
    assert f"{path}:1:10: error[E701]: the line is not UTF-8 text (byte 0xe9" in err
    assert (
        f"{path}:2:14: error[E701]: invalid JSON: unexpected end of data (one lead a line: is this line broken in two"
        in err
    )
    assert f"{path}:3:" in err


def test_an_id_of_the_wrong_kind_is_not_called_missing(tmp_path: Path) -> None:
    path = journeys(tmp_path, [{"id": True}, {"id": 1.5}, {"events": []}])
    code, _, err = run("score", ACME, path, "--as-of", AS_OF)
    assert code == 1
    assert ':1: error[E703]: "id" must be a string or a whole number, got true' in err
    assert ':2: error[E703]: "id" must be a string or a whole number, got 1.5' in err
    assert ':3: error[E703]: missing "id" (a string or a whole number)' in err


def test_an_output_name_that_is_neither_jsonl_nor_csv_says_what_it_got(tmp_path: Path) -> None:
    out = tmp_path / "decisions.txt"
    code, _, err = run("score", ACME, journeys(tmp_path, GOOD), "--as-of", AS_OF, "-o", str(out))
    assert code == 0
    assert f"wrote JSON Lines to {out} (a name ending in .csv writes a table)" in err
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["L-1", "L-2"]
    code, _, err = run(
        "score", ACME, journeys(tmp_path, GOOD), "--as-of", AS_OF, "-o", str(tmp_path / "d.jsonl")
    )
    assert code == 0 and "wrote JSON Lines" not in err


def test_a_decay_factor_is_shown_as_it_was_used(tmp_path: Path) -> None:
    # 0.9 ** 5 = 0.59049 was shown as 0.5905, and "+30 x 0.5905" is not the 17.7147 beside it.
    policy = tmp_path / "decay.mql"
    policy.write_text(
        'policy "Decay"\nevent demo\nscore intent decay 10% every 1 day {\n  +30 per demo\n}\n'
        "stages {\n  visitor\n  hot when intent >= 10\n}\n"
    )
    path = journeys(
        tmp_path, [{"id": "D", "events": [{"type": "demo", "at": "2026-10-26T20:00:00Z"}]}]
    )
    code, out, err = run("explain", str(policy), path, "--lead", "D", "--as-of", AS_OF)
    assert code == 0, err
    assert "+30 x 0.59049, 5.1 days old" in out and "17.7147" in out
    code, out, err = run(
        "explain", str(policy), path, "--lead", "D", "--as-of", AS_OF, "--format", "json"
    )
    (event,) = json.loads(out)["explanation"]["scores"]["intent"]["rules"][0]["events"]
    assert event["factor"] == round(0.9**5, 6) == 0.59049 and event["points"] == 17.7147
