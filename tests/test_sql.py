"""The SQL back end gives exactly the Python engine's decisions: on random
checked policies (hypothesis), on the shipped policies with generated
journeys, on hostile names and strings, from JSON Lines and from Parquet
tables, through the `score --engine duckdb` and `sql` commands."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import duckdb
import msgspec
import orjson
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_file, check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Event, Handoff, Lead, parse_instant, to_seconds
from mqldsl.io.journeys import JourneyReader, ReadReport
from mqldsl.io.scoring import decision_line
from mqldsl.simulation.generate import generate
from mqldsl.simulation.scenario import load_scenario
from mqldsl.warehouse.compiler import DIALECTS, compile_sql, sql_diagnostics
from mqldsl.warehouse.engine import DuckDBEngine, _memory_bytes

from .conftest import ROOT
from .helpers import run
from .policy_gen import AS_OF, leads, policies


def checked(text: str) -> CheckedPolicy:
    result = check_text(text, "t.mql")
    errors = [d.render(result.source) for d in result.diagnostics if d.is_error]
    assert result.model is not None and not errors, "\n".join(errors)
    return result.model


def both(
    model: CheckedPolicy, journeys: list[Lead], as_of: float, chunk_rows: int | None = None
) -> tuple[list[bytes], list[bytes]]:
    """Decision lines from the Python engine and from DuckDB (deciding the
    leads in chunks of ``chunk_rows`` leads and events, when given)."""
    evaluator = Evaluator(model)
    python = [decision_line(evaluator.decide(lead, as_of)) for lead in journeys]
    with DuckDBEngine(model, threads=2, chunk_rows=chunk_rows) as engine:
        engine.load_leads(iter(journeys))
        sql = [decision_line(item.decision) for item in engine.decide(as_of)]
    return python, sql


def assert_same(python: list[bytes], sql: list[bytes], text: str = "") -> None:
    assert len(python) == len(sql)
    for a, b in zip(python, sql, strict=True):
        assert a == b, f"{text}\npython: {a.decode()}\nduckdb: {b.decode()}"


# ---------------------------------------------------------------- differential


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    policies(recycling=False),  # hot-event routes included (SPEC §8)
    st.lists(leads(), min_size=1, max_size=5),
    st.sampled_from([None, 1, 4]),
)
def test_duckdb_equals_python_on_random_policies(
    text: str, journeys: list[Lead], chunk_rows: int | None
) -> None:
    model = checked(text)
    numbered = [msgspec.structs.replace(lead, id=f"L{i}") for i, lead in enumerate(journeys)]
    python, sql = both(model, numbered, AS_OF, chunk_rows)
    assert_same(python, sql, text)


# ---------------------------------------------------------------- shipped policies


def generated(
    scenario: str, model: CheckedPolicy, count: int, seed: int = 7
) -> tuple[list[Lead], float]:
    loaded = load_scenario(str(ROOT / "simulations" / f"{scenario}.toml"), model)
    reader = JourneyReader(model, ReadReport())
    journeys = [reader.lead(item) for item in generate(loaded, seed=seed, leads=count)]
    return journeys, to_seconds(loaded.end)


@pytest.mark.parametrize(
    ("policy", "scenario"),
    [("acme", "acme"), ("enterprise", "enterprise"), ("olist", "olist")],
)
def test_shipped_policies_decide_the_same_on_both_engines(policy: str, scenario: str) -> None:
    model = check_file(str(ROOT / "policies" / f"{policy}.mql")).model
    assert model is not None
    journeys, end = generated(scenario, model, 600)
    for as_of in (end, end - 10 * 86400):
        python, sql = both(model, journeys, as_of)
        assert_same(python, sql)
    # In chunks of about 1,000 leads and events: the same decisions, in order.
    assert_same(*both(model, journeys, end, chunk_rows=1_000))
    stages = {orjson.loads(line)["stage"] for line in python}
    assert len(stages) >= 3  # the journeys exercise the funnel, not one stage


def test_locked_stages_without_recycling_decide_the_same() -> None:
    text = (ROOT / "policies" / "saas_trial.mql").read_text(encoding="utf-8")
    # Without its recycle rule (E601: the SQL back end refuses recycling); its hot-event route
    # (`route mql to sdr_inbound on sales_contact_request`, SPEC §8) stays.
    locked = "\n".join(line for line in text.splitlines() if not line.startswith("recycle"))
    model = checked(locked)
    assert model.locked
    assert any(route.on is not None for route in model.routes)
    journeys, end = generated("saas_trial", model, 500)
    python, sql = both(model, journeys, end)
    assert_same(python, sql)
    # The journeys exercise the hot route: some MQLs were handed over by a sales request
    # after they entered the stage (the route's own `entered` is later than the stage's).
    hot = [
        line
        for line in map(orjson.loads, python)
        if line["route"] is not None
        and line["route"]["queue"] == "sdr_inbound"
        and line["route"]["entered"] != line["entered"][line["stage"]]
    ]
    assert hot


def test_recycling_is_refused_with_a_coded_diagnostic() -> None:
    model = check_file(str(ROOT / "policies" / "saas_trial.mql")).model
    assert model is not None
    problems = sql_diagnostics(model)
    assert problems and {d.code for d in problems} == {"E601"}  # its hot route compiles
    code, out, err = run("sql", str(ROOT / "policies" / "saas_trial.mql"))
    assert code == 1 and out == ""
    assert "error[E601]" in err and "Python engine" in err
    code, _, err = run(
        "score",
        str(ROOT / "policies" / "saas_trial.mql"),
        str(ROOT / "policies" / "acme.mql"),
        "--engine",
        "duckdb",
    )
    assert code == 1 and "error[E601]" in err


# ---------------------------------------------------------------- hostile names and strings

HOSTILE = """policy "it's -- a \\"test\\"; DROP TABLE leads"

lead {
  select: enum(from, having, order)
  group: text
  tags: set of text
}

event order { path: text, limit: int }
event drop_table

score table "the ' score" {
  +10 when group == "O'Brien; --"
  +7 when group starts with "ünï\\\\cødé"
  +5 per order where path starts with "'; DROP TABLE events; --" within 7 days, max 15
  +3 when tags contains "a\\"b"
  -4 when select == from
}

stages {
  visitor
  engaged when order ever
  qualified when table >= 10
}

disqualify "Robert'); DROP TABLE leads;--" when drop_table ever
disqualify "naïve \\"quoted\\" reason" when group ends with "--"

route qualified to sdr_1, sla 1 hour
"""


def hostile_journeys() -> list[Lead]:
    model = checked(HOSTILE)
    reader = JourneyReader(model, ReadReport())
    at = "2026-10-30T12:00:00Z"
    raw = [
        {
            "id": "a'1",
            "profile": {"group": "O'Brien; --", "select": "from"},
            "events": [{"type": "order", "at": at, "path": "'; DROP TABLE events; --x"}],
        },
        {
            "id": "b--2",
            "profile": {"group": "ünï\\cødé ok", "tags": ['a"b']},
            "events": [{"type": "order", "at": at, "path": "'; DROP TABLE events; --"}] * 4,
        },
        {"id": "c;3", "profile": {"group": "x--"}, "events": [{"type": "drop_table", "at": at}]},
        {"id": 'd"4', "profile": {"select": "order"}, "events": []},
    ]
    return [reader.lead(item) for item in raw]


def test_hostile_names_and_strings_survive_into_correct_sql() -> None:
    model = checked(HOSTILE)
    journeys = hostile_journeys()
    as_of = parse_instant("2026-11-01T00:00:00Z")
    python, sql = both(model, journeys, as_of)
    assert_same(python, sql)
    decisions = [orjson.loads(line) for line in python]
    assert decisions[0]["scores"]["table"] == 11  # the quoted strings matched
    assert decisions[1]["scores"]["table"] == 25
    assert decisions[2]["disqualified"] == [
        "Robert'); DROP TABLE leads;--",
        'naïve "quoted" reason',
    ]
    for dialect in DIALECTS:
        text = compile_sql(model, as_of).sql(dialect)
        # Every statement separator and comment marker is inside a literal:
        # the query parses back as exactly one statement.
        assert len(sqlglot.parse(text, read=dialect)) == 1, dialect


# ---------------------------------------------------------------- the commands


@pytest.fixture(scope="module")
def acme_journeys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("acme") / "journeys.jsonl"
    code, _, err = run(
        "generate", str(ROOT / "simulations" / "acme.toml"), "--leads", "400", "-o", str(path)
    )
    assert code == 0, err
    return path


ACME = str(ROOT / "policies" / "acme.mql")


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_score_engine_duckdb_is_byte_identical(
    acme_journeys: Path, tmp_path: Path, suffix: str
) -> None:
    outputs = []
    for engine in ("python", "duckdb"):
        out = tmp_path / f"{engine}.{suffix}"
        code, _, err = run(
            "score",
            ACME,
            str(acme_journeys),
            "--as-of",
            "2026-11-01",
            "--engine",
            engine,
            "-o",
            str(out),
        )
        assert code == 0, err
        assert "400 read, 400 used, 0 rejected" in err
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) >= 400


def _parquet(journeys: Path, folder: Path, order: str = "") -> tuple[Path, Path]:
    """The journeys as a warehouse would export them: two Parquet tables
    (``order="DESC"``: the leads in reverse input order)."""
    model = check_file(ACME).model
    assert model is not None
    leads, events = folder / "leads.parquet", folder / "events.parquet"
    with DuckDBEngine(model) as engine:
        engine.load_leads(JourneyReader(model, ReadReport()).read_jsonl(journeys))
        engine.con.execute(
            f'COPY (SELECT * EXCLUDE ("mqldsl ord") FROM leads ORDER BY "mqldsl ord" {order}) '
            f"TO '{leads}' (FORMAT parquet)"
        )
        engine.con.execute(f"COPY events TO '{events}' (FORMAT parquet)")
    return leads, events


def test_score_reads_parquet_tables_in_their_row_order(acme_journeys: Path, tmp_path: Path) -> None:
    leads, events = _parquet(acme_journeys, tmp_path, order="DESC")
    code, expected, _ = run("score", ACME, str(acme_journeys), "--as-of", "2026-11-01")
    code, out, err = run(
        "score",
        ACME,
        "--leads",
        str(leads),
        "--events",
        str(events),
        "--as-of",
        "2026-11-01",
        "--engine",
        "duckdb",
    )
    assert code == 0, err
    assert out.splitlines() == list(reversed(expected.splitlines()))


def test_bad_parquet_rows_are_rejected_and_reported(tmp_path: Path) -> None:
    leads, events = tmp_path / "leads.parquet", tmp_path / "events.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES ('L1', 'secops', 800), ('L2', 'wizard', 10), "
        "('L1', 'secops', 5), (NULL, 'secops', 5)) t(id, role, company_size)) "
        f"TO '{leads}' (FORMAT parquet)"
    )
    con.execute(
        "COPY (SELECT * FROM (VALUES ('L1', 'demo_request', TIMESTAMP '2026-10-30 10:00:00'), "
        "('L1', 'tweet', TIMESTAMP '2026-10-30 10:00:00'), "
        "('L9', 'demo_request', TIMESTAMP '2026-10-30 10:00:00')) t(lead_id, type, \"at\")) "
        f"TO '{events}' (FORMAT parquet)"
    )
    code, out, err = run(
        "score",
        ACME,
        "--leads",
        str(leads),
        "--events",
        str(events),
        "--as-of",
        "2026-11-01",
        "--engine",
        "duckdb",
    )
    assert code == 1
    assert [orjson.loads(line)["id"] for line in out.splitlines()] == ["L1"]
    assert f'{leads}:2: error[E705]: profile field `role`: "wizard" is not one of' in err
    assert f"{leads}:3: error[E704]: duplicate id `L1`" in err
    assert f"{leads}:4: error[E703]: empty id" in err
    assert f"{events}:3: error[E711]: no lead with id `L9`" in err
    assert "ignored unknown event type `tweet`: 1 time" in err
    assert "5 read, 1 used, 4 rejected" in err


def test_score_engine_usage_errors(acme_journeys: Path) -> None:
    code, _, err = run("score", ACME, "--engine", "duckdb")
    assert code == 2 and "a JOURNEYS file, or --leads" in err
    code, _, err = run("score", ACME, str(acme_journeys), "--engine", "duckdb", "--explain")
    assert code == 2 and "Python engine" in err
    code, _, err = run("score", ACME, "--leads", str(acme_journeys))
    assert code == 2 and "--engine duckdb" in err
    code, _, err = run("score", ACME, "--leads", str(acme_journeys), "--engine", "duckdb")
    assert code == 1 and "must be Parquet (.parquet) or CSV" in err


def test_memory_limit_caps_duckdb_and_keeps_the_output(acme_journeys: Path, tmp_path: Path) -> None:
    model = check_file(ACME).model
    assert model is not None
    limit = "SELECT current_setting('memory_limit')"
    with DuckDBEngine(model, memory_limit="300MB") as engine:
        capped = engine.con.execute(limit).fetchone()
    with DuckDBEngine(model) as engine:
        default = engine.con.execute(limit).fetchone()
    assert capped == ("286.1 MiB",) and capped != default
    outputs = []
    for extra in ([], ["--engine", "duckdb", "--memory-limit", "300 mb"]):
        out = tmp_path / f"score{len(extra)}.jsonl"
        code, _, err = run(
            "score", ACME, str(acme_journeys), "--as-of", "2026-11-01", "-o", str(out), *extra
        )
        assert code == 0, err
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    code, _, err = run(
        "whatif",
        ACME,
        "--set",
        "mql_intent_min=30",
        "--journeys",
        str(acme_journeys),
        "--engine",
        "duckdb",
        "--memory-limit",
        "1GiB",
    )
    assert code == 0, err


def test_running_out_of_memory_is_reported_not_a_crash(
    acme_journeys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mqldsl.cli import main

    scenario = str(ROOT / "simulations" / "acme.toml")
    tiny = ["--engine", "duckdb", "--memory-limit", "1MB"]
    for args in (
        ["score", ACME, str(acme_journeys), *tiny],
        ["simulate", ACME, "--scenario", scenario, "--leads", "300", *tiny],
    ):
        with pytest.raises(SystemExit) as stop:
            main(args)
        assert stop.value.code == 1
        err = capsys.readouterr().err
        assert "error: DuckDB ran out of memory" in err and "raise --memory-limit" in err
        assert "internal error" not in err


def test_leads_are_decided_in_chunks_in_input_order(acme_journeys: Path) -> None:
    model = check_file(ACME).model
    assert model is not None
    journeys = list(JourneyReader(model, ReadReport()).read_jsonl(acme_journeys))
    results = []
    for chunk_rows in (None, 500):
        with DuckDBEngine(model, chunk_rows=chunk_rows) as engine:
            engine.load_leads(iter(journeys))
            chunks = engine._chunks()
            decided = list(engine.decide(AS_OF, first_entries=True))
        results.append([(item.decision.id, item.first_entries) for item in decided])
        results.append([decision_line(item.decision) for item in decided])
    assert len(chunks) > 10
    # The chunks cover the input order without gaps or overlaps.
    assert chunks[0][0] == 0 and chunks[-1][1] == len(journeys) - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(chunks))
    assert results[0] == results[2] and results[1] == results[3]
    assert [lead_id for lead_id, _ in results[2]] == [lead.id for lead in journeys]


def test_memory_sizes_as_duckdb_writes_them() -> None:
    assert _memory_bytes("286.1 MiB") == int(286.1 * 2**20)
    assert _memory_bytes("12.5 GiB") == int(12.5 * 2**30)
    assert _memory_bytes("976.5 KiB") == int(976.5 * 1024)
    assert _memory_bytes("4.0 GB") == 4 * 10**9
    assert _memory_bytes("unlimited") is None


def test_memory_limit_usage_errors(acme_journeys: Path) -> None:
    journeys = str(acme_journeys)
    code, _, err = run("score", ACME, journeys, "--engine", "duckdb", "--memory-limit", "lots")
    assert code == 2 and "'lots' is not a memory size" in err
    code, _, err = run("score", ACME, journeys, "--engine", "duckdb", "--memory-limit", "0GB")
    assert code == 2 and "positive number and a unit" in err
    code, _, err = run("score", ACME, journeys, "--memory-limit", "4GB")
    assert code == 2 and "use it with --engine duckdb" in err
    code, _, err = run(
        "whatif",
        ACME,
        "--set",
        "mql_intent_min=30",
        "--journeys",
        journeys,
        "--memory-limit",
        "4GB",
    )
    assert code == 2 and "use it with --engine duckdb" in err


@pytest.mark.parametrize("dialect", DIALECTS)
def test_sql_command_prints_a_query_for_each_dialect(dialect: str) -> None:
    code, out, err = run(
        "sql",
        ACME,
        "--dialect",
        dialect,
        "--as-of",
        "2026-11-01T00:00:00Z",
        "--set",
        "mql_intent_min=37",
        "--leads-table",
        "crm.leads",
    )
    assert code == 0, err
    statements = sqlglot.parse(out, read=dialect)
    assert len([s for s in statements if s is not None]) == 1
    assert "score_fit" in out and "entered_mql" in out
    # The --set value replaces the declared one (40); 37 is no other threshold.
    assert ">= 37" in out and ">= 40" not in out
    assert "FROM crm.leads AS l" in out


def test_sql_command_bad_values() -> None:
    code, _, err = run("sql", ACME, "--dialect", "oracle")
    assert code == 2
    code, _, err = run("sql", ACME, "--set", "mql_intent_min=high")
    assert code == 2 and "--set" in err


def test_the_duckdb_query_runs_as_printed(acme_journeys: Path, tmp_path: Path) -> None:
    """What `mqldsl sql` prints is what a data team runs: load the two tables
    into a fresh DuckDB, run the printed query, get the Python decisions."""
    leads, events = _parquet(acme_journeys, tmp_path)
    code, query, _ = run("sql", ACME, "--as-of", "2026-11-01")
    assert code == 0
    con = duckdb.connect()
    con.execute(f"CREATE TABLE leads AS SELECT * FROM '{leads}'")
    con.execute(f"CREATE TABLE events AS SELECT * FROM '{events}'")
    rows = con.execute(query).fetchall()
    names = [d[0] for d in con.description]
    model = check_file(ACME).model
    assert model is not None
    evaluator = Evaluator(model)
    as_of = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()
    expected = {
        lead.id: evaluator.decide(lead, as_of)
        for lead in JourneyReader(model, ReadReport()).read_jsonl(acme_journeys)
    }
    assert len(rows) == len(expected)
    for row in rows:
        got = dict(zip(names, row, strict=True))
        decision = expected[got["id"]]
        assert got["stage"] == decision.stage
        assert got["score_fit"] == decision.scores["fit"]
        assert got["score_intent"] == decision.scores["intent"]
        assert got["queue"] == (decision.route.queue if decision.route else None)


def test_whatif_and_simulate_give_the_same_reports_on_duckdb(
    acme_journeys: Path, tmp_path: Path
) -> None:
    """Stage counts, transitions, handoffs and every metric come out the same
    when the leads are decided in SQL."""
    reports = {}
    for engine in ("python", "duckdb"):
        out = tmp_path / f"whatif-{engine}.json"
        code, _, err = run(
            "whatif",
            ACME,
            "--set",
            "mql_intent_min=30",
            "--journeys",
            str(acme_journeys),
            "--engine",
            engine,
            "-o",
            str(out),
        )
        assert code == 0, err
        reports[engine] = out.read_bytes()
    assert reports["python"] == reports["duckdb"]
    transitions = orjson.loads(reports["duckdb"])["transitions"]
    assert {"from": "lead", "to": "mql"}.items() <= transitions[0].items()
    simulated = {}
    for engine in ("python", "duckdb"):
        out = tmp_path / f"simulate-{engine}.json"
        code, _, err = run(
            "simulate",
            ACME,
            "--scenario",
            str(ROOT / "simulations" / "acme.toml"),
            "--leads",
            "300",
            "--engine",
            engine,
            "-o",
            str(out),
        )
        assert code == 0, err
        simulated[engine] = orjson.loads(out.read_bytes())
    assert simulated["python"] == simulated["duckdb"]
    assert simulated["duckdb"]["metrics"]["mqls"] > 0


def test_sweep_on_duckdb_loads_the_leads_once_and_matches_python(
    acme_journeys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = []
    original = DuckDBEngine.load_leads

    def counted(self: DuckDBEngine, leads: Iterator[Lead]) -> int:
        loads.append(1)
        return original(self, leads)

    monkeypatch.setattr(DuckDBEngine, "load_leads", counted)
    reports = {}
    for engine in ("python", "duckdb"):
        out = tmp_path / f"sweep-{engine}.json"
        code, _, err = run(
            "sweep",
            ACME,
            "--param",
            "mql_intent_min=20..60:10",
            "--param",
            "mql_fit_min=20..40:10",
            "--journeys",
            str(acme_journeys),
            "--engine",
            engine,
            "-o",
            str(out),
        )
        assert code == 0, err
        reports[engine] = out.read_bytes()
    assert reports["python"] == reports["duckdb"]
    assert len(orjson.loads(reports["duckdb"])["rows"]) == 15
    assert loads == [1]


def test_simulate_refuses_recycling_on_duckdb() -> None:
    code, _, err = run(
        "simulate",
        str(ROOT / "policies" / "saas_trial.mql"),
        "--scenario",
        str(ROOT / "simulations" / "saas_trial.toml"),
        "--engine",
        "duckdb",
    )
    assert code == 1 and "error[E601]" in err


def test_csv_tables_through_leads_are_read_like_the_python_engine(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    events = tmp_path / "events.csv"
    leads.write_text(
        "id,email_kind,role,company_size,channel,tech_stack\n"
        "C1,corporate,secops,900,inbound,aws;okta\n"
        "C2,corporate,wizard,10,inbound,\n"
        "C3,personal,student,,outbound,\n",
        encoding="utf-8",
    )
    events.write_text(
        "lead_id,type,at,path\n"
        "C1,demo_request,2026-10-31T23:00:00Z,\n"
        "C1,page_view,2026-10-28T09:00:00Z,/pricing\n"
        "C3,newsletter_signup,2026-10-01T09:00:00Z,\n",
        encoding="utf-8",
    )
    python = run("score", ACME, str(leads), "--events", str(events), "--as-of", "2026-11-01")
    duck = run(
        "score",
        ACME,
        "--leads",
        str(leads),
        "--events",
        str(events),
        "--as-of",
        "2026-11-01",
        "--engine",
        "duckdb",
    )
    assert python == duck
    code, out, err = duck
    assert code == 1 and '"wizard" is not one of' in err
    assert [orjson.loads(line)["stage"] for line in out.splitlines()] == ["mql", "subscriber"]


def test_a_lead_with_more_events_than_the_counters_hold_is_refused(
    acme_journeys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The packed counters count up to MAX_COUNT events a lead; beyond that
    the engine refuses rather than answer differently."""
    import mqldsl.warehouse.engine as engine

    monkeypatch.setattr(engine, "MAX_COUNT", 3)
    code, out, err = run(
        "score", ACME, str(acme_journeys), "--as-of", "2026-11-01", "--engine", "duckdb"
    )
    assert code == 1 and out == ""
    assert "the SQL back end counts at most 3 per lead" in err


def test_a_decayed_per_rule_changes_the_score_when_its_event_leaves_the_window() -> None:
    """Regression (found by the random-policy test): the instant an event leaves the window of
    a decayed `per` rule was dropped from the SQL timeline, so a stage that held only while the
    score was 0 (between the event leaving and the next one) was never entered in SQL."""
    model = checked(
        'policy "decayed window"\n\nlead {\n  x: number\n}\n\nevent ev1\nevent ev2\n\n'
        "score s0 decay 10% every 2 days {\n  +5 per ev1 within 1 day\n}\n\n"
        "stages {\n  v0\n  v1 when x == s0\n}\n"
    )
    day = 86400.0
    lead = Lead(
        id="L",
        profile={"x": 0.0},
        events=(
            Event(at=AS_OF - 2 * day, type="ev1", fields={}, index=2),
            Event(at=AS_OF, type="ev2", fields={}, index=0),
            Event(at=AS_OF, type="ev1", fields={}, index=1),
        ),
    )
    python, sql = both(model, [lead], AS_OF)
    # v1 from the day the first ev1 left its 1-day window (s0 = 0 = x) until the next ev1.
    assert b'"entered":{"v1":"2026-10-31T00:00:00Z","v0":"2026-11-01T00:00:00Z"}' in python[0]
    assert_same(python, sql)


def test_a_decayed_sum_on_a_half_cent_rounds_as_the_python_engine_does() -> None:
    """5 x 0.9**3 - 8 is -4.355: -4.36 on both engines (the float sum, -4.3549999999999995,
    is taken to the billionth before it is rounded to the cent)."""
    model = checked(
        'policy "half cent"\n\nevent view\n\n'
        "score s decay 10% every 7 days {\n  +5 per view\n  -8 when no view within 10 days\n}\n\n"
        "stages {\n  v0\n  v1 when s < -4.355\n}\n"
    )
    lead = Lead(
        id="L", profile={}, events=(Event(at=AS_OF - 21 * 86400.0, type="view", fields={}),)
    )
    python, sql = both(model, [lead], AS_OF)
    assert b'"scores":{"s":-4.36}' in python[0] and b'"stage":"v1"' in python[0]
    assert_same(python, sql)


def _to_cents(x: float) -> float | int:
    """The test's own rounding: the shortest decimal of ``x`` to the billionth, then to the
    cent, each half away from zero, in exact fractions (docs/language.md)."""
    from fractions import Fraction

    def half_away(value: Fraction, unit: Fraction) -> Fraction:
        steps = abs(value) / unit
        whole = int(steps + Fraction(1, 2))
        return (whole if value >= 0 else -whole) * unit

    cents = half_away(half_away(Fraction(repr(x)), Fraction(1, 10**9)), Fraction(1, 100))
    return int(cents) if cents.denominator == 1 else float(cents)


def test_scores_are_rounded_alike_at_the_edges_of_the_billionth() -> None:
    """The SQL rounding casts the double's text straight to nine decimals: a cast to sixteen
    first rounded 0.004999999499999999 up to 0.0049999995, which then went to the cent."""
    from sqlglot import exp

    from mqldsl.engine.runtime import round_score as python_round
    from mqldsl.warehouse.builders import round_score as sql_round

    values = [0.004999999499999999, 0.0149999994999999, 0.0049999995, 4.3549999999999995]
    values += [1.005, 2.675, 0.125, 1e-300, 1.2345678901234567e-05, 123456.004999999499]
    values += [-v for v in values]
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT x, {sql_round(exp.column('x')).sql(dialect='duckdb')} "
        "FROM (SELECT UNNEST(?::DOUBLE[]) AS x)",
        [values],
    ).fetchall()
    for x, rounded in rows:
        expected = _to_cents(x)
        assert python_round(x) == expected, x
        assert rounded == expected, x


def standing_handoffs(handoffs: tuple[Handoff, ...]) -> list[Handoff]:
    """The handoffs of a Python timeline the SQL back end lists: every entry's, and of the
    hot-event handoffs the last of each instant (the one that stands), after its entry's."""
    entries = [h for h in handoffs if h.event < 0]
    last: dict[float, Handoff] = {}
    for handoff in handoffs:
        if handoff.event >= 0:
            last[handoff.at] = handoff
    return sorted([*entries, *last.values()], key=lambda h: (h.at, h.event >= 0))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    policies(recycling=False).filter(lambda text: " on " in text),
    st.lists(leads(), min_size=1, max_size=5),
)
def test_duckdb_lists_the_hot_handoffs_the_simulator_counts(
    text: str, journeys: list[Lead]
) -> None:
    """With first entries (the simulator, `--engine duckdb`), every hot handoff of the
    history (SPEC §8; the last event of each instant that fires one) is the Python engine's,
    and so are the first entries and the decisions."""
    model = checked(text)
    numbered = [msgspec.structs.replace(lead, id=f"L{i}") for i, lead in enumerate(journeys)]
    evaluator = Evaluator(model)
    with DuckDBEngine(model, threads=2) as engine:
        engine.load_leads(iter(numbered))
        decided = list(engine.decide(AS_OF, first_entries=True))
    for lead, item in zip(numbered, decided, strict=True):
        result = evaluator.run(lead, AS_OF)
        assert decision_line(item.decision) == decision_line(result.decision), text
        assert item.first_entries == dict(result.first_entries), text
        assert list(item.handoffs) == standing_handoffs(result.handoffs), text


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policies(recycling=False), st.lists(leads(), min_size=1, max_size=5))
def test_duckdb_lists_every_entry_handoff_the_simulator_counts(
    text: str, journeys: list[Lead]
) -> None:
    """With first entries, every handoff of the history (SPEC §8: each entry into a routed
    stage, a new stay after falling back or a spell of `disqualified` too) is the Python
    engine's, in the same order."""
    model = checked(text)
    numbered = [msgspec.structs.replace(lead, id=f"L{i}") for i, lead in enumerate(journeys)]
    evaluator = Evaluator(model)
    with DuckDBEngine(model, threads=2) as engine:
        engine.load_leads(iter(numbered))
        decided = list(engine.decide(AS_OF, first_entries=True))
    for lead, item in zip(numbered, decided, strict=True):
        result = evaluator.run(lead, AS_OF)
        assert list(item.handoffs) == standing_handoffs(result.handoffs), text


def test_simulate_counts_hot_handoffs_the_same_on_duckdb(tmp_path: Path) -> None:
    """saas_trial without its recycle rule (E601) keeps its hot-event route: every sales
    request of an MQL is a further request for a touch (SPEC §8), counted the same when the
    leads are decided in SQL, queue by queue."""
    text = (ROOT / "policies" / "saas_trial.mql").read_text(encoding="utf-8")
    policy = tmp_path / "saas_trial.mql"
    policy.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("recycle")) + "\n",
        encoding="utf-8",
    )
    simulated = {}
    for engine in ("python", "duckdb"):
        out = tmp_path / f"simulate-{engine}.json"
        code, _, err = run(
            "simulate",
            str(policy),
            "--scenario",
            str(ROOT / "simulations" / "saas_trial.toml"),
            "--leads",
            "300",
            "--engine",
            engine,
            "-o",
            str(out),
        )
        assert code == 0, err
        simulated[engine] = orjson.loads(out.read_bytes())
    assert simulated["python"] == simulated["duckdb"]
    assert "sdr_inbound" in orjson.dumps(simulated["duckdb"]).decode()
