"""`mqldsl score --engine spark` writes what `--engine python` writes, byte for
byte: on every shipped policy (recycling included, which the SQL back end
refuses), on journeys generated from their scenarios with broken lines mixed
in, with the same rejected records, summary and exit code.

Needs pyspark with pyarrow and pandas (the `spark` extra) and a Java runtime;
skipped without them unless MQLDSL_REQUIRE_SPARK is set (CI), like
tests/test_spark.py. One small local session (local[2]) serves the module.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from mqldsl.analysis.checker import check_file
from mqldsl.engine.runtime import from_seconds, parse_instant, to_seconds
from mqldsl.simulation.generate import generate
from mqldsl.simulation.scenario import load_scenario

from .conftest import ROOT
from .helpers import run
from .test_bad_data import MINUTE_DECAY

pytestmark = pytest.mark.spark

DATA = ROOT.parent / "shared" / "data"
POLICIES = sorted(p.stem for p in (ROOT / "policies").glob("*.mql"))
SCENARIOS = {p.stem for p in (ROOT / "simulations").glob("*.toml")}


# Lines the Python reader rejects or partly ignores: each must be reported the same.
BROKEN = [
    b'{"id": "broken-1", "profile": \n',  # invalid JSON (the column past the end)
    b"\n",  # blank: skipped, still a line
    b"[1, 2]\n",  # not an object
    b'{"profile": {}}\n',  # no id
    b'{"id": "broken-2", "events": "none"}\n',  # events not a list
    b'{"id": "broken-3", "events": [{"type": "nope_event", "at": "2026-01-01T00:00:00Z"}]}\n',
    b'{"id": "broken-4", "profile": {"no_such_field": 1}, "events": [{"at": "x"}]}\n',
    b'{"id": "broken-5", "events": [{"type": "nope_event", "at": "2026-01-02T00:00:00Z"}]}\n',
    b'{"id": "\xff\xfe"}\n',  # not UTF-8
]


def _journeys(policy: str, tmp_path: Path, count: int) -> tuple[Path, str]:
    """A JSON Lines file of ``count`` leads for ``policy`` with the broken lines
    and a duplicate mixed in, and an as-of instant."""
    model = check_file(str(ROOT / "policies" / f"{policy}.mql")).model
    assert model is not None
    if policy not in SCENARIOS and policy == "abm":
        lines, as_of = _accounts(count)
    elif policy in SCENARIOS:
        loaded = load_scenario(str(ROOT / "simulations" / f"{policy}.toml"), model)
        lines = [orjson.dumps(item) + b"\n" for item in generate(loaded, seed=11, leads=count)]
        as_of = to_seconds(loaded.end)
    else:
        lines, as_of = _imported(policy, tmp_path, count)
    mixed = lines[:3] + BROKEN[:5] + lines[3:] + BROKEN[5:] + [lines[0], lines[1]]
    path = tmp_path / f"{policy}.jsonl"
    path.write_bytes(b"".join(mixed))
    return path, from_seconds(as_of).strftime("%Y-%m-%dT%H:%M:%SZ")


def _accounts(count: int) -> tuple[list[bytes], float]:
    """About ``count`` fixed journey lines for policies/abm.mql (when no scenario generates
    them): accounts of one to four leads, some leads without an account, every account's
    profile on some of its leads, in shuffled order (colleagues far apart)."""
    rng = random.Random(11)
    as_of = parse_instant("2026-11-01T00:00:00Z")
    kinds = ["page_view", "page_view", "demo_request", "webinar_attended", "pricing_call"]
    rows: list[dict[str, Any]] = []
    number = 0
    while len(rows) < count:
        account = f"A-{number}" if rng.random() < 0.85 else None
        profile = {
            "employees": rng.choice([50, 800, 1500, 9000]),
            "tier": rng.choice(["strategic", "enterprise", "commercial"]),
            "target": rng.random() < 0.4,
        }
        for member in range(rng.randint(1, 4) if account else 1):
            events = []
            for _ in range(rng.randint(0, 6)):
                kind = rng.choice(kinds if rng.random() < 0.98 else ["unsubscribe"])
                at = from_seconds(as_of - rng.randint(0, 70 * 86400))
                event: dict[str, Any] = {"type": kind, "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
                if kind == "page_view":
                    event["path"] = rng.choice(["/pricing", "/pricing/enterprise", "/blog"])
                events.append(event)
            row: dict[str, Any] = {
                "id": f"L-{number}-{member}",
                "profile": {
                    "email_kind": rng.choice(["corporate"] * 8 + ["free", "disposable"]),
                    "role": rng.choice(["security", "it", "finance", "engineering", "other"]),
                    "seniority": rng.choice(["ic", "manager", "director", "executive"]),
                },
                "events": events,
            }
            if account is not None:
                row["account"] = account
                if rng.random() < 0.5:
                    row["account_profile"] = profile
            rows.append(row)
        number += 1
    rng.shuffle(rows)
    return [orjson.dumps(row) + b"\n" for row in rows], as_of


def _imported(policy: str, tmp_path: Path, count: int) -> tuple[list[bytes], float]:
    """A policy without a scenario: the first ``count`` rows of its real data,
    imported with its mapping (skips when ../shared/data is absent)."""
    sources = {"xeducation": DATA / "xeducation" / "xeducation_Leads.csv"}
    source = sources.get(policy)
    if source is None or not source.exists():
        pytest.skip(f"no scenario and no data for {policy}")
    with open(source, newline="", encoding="utf-8-sig") as stream:
        rows = list(csv.reader(stream))[: count + 1]
    head = tmp_path / "head.csv"
    with open(head, "w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows(rows)
    out = tmp_path / "imported.jsonl"
    code, _, err = run(
        "import",
        str(head),
        "--policy",
        str(ROOT / "policies" / f"{policy}.mql"),
        "--mapping",
        str(ROOT / "policies" / f"{policy}.toml"),
        "-o",
        str(out),
    )
    assert code == 0, err
    return out.read_bytes().splitlines(keepends=True), parse_instant("2026-12-01T00:00:00Z")


def _both(tmp_path: Path, *args: str, suffix: str = ".jsonl") -> tuple[Any, Any]:
    """(exit code, stdout, stderr, output bytes) of `score` on each engine."""
    out = []
    for engine in ("python", "spark"):
        target = tmp_path / f"{engine}{suffix}"
        code, stdout, stderr = run("score", *args, "--engine", engine, "-o", str(target))
        out.append((code, stdout, stderr, target.read_bytes() if target.exists() else None))
    return out[0], out[1]


@pytest.mark.parametrize("policy", POLICIES)
def test_every_shipped_policy_decides_the_same_on_spark(
    spark: Any, tmp_path: Path, policy: str
) -> None:
    journeys, as_of = _journeys(policy, tmp_path, 400)
    policy_file = str(ROOT / "policies" / f"{policy}.mql")
    python, on_spark = _both(tmp_path, policy_file, str(journeys), "--as-of", as_of)
    assert on_spark == python
    code, _, err, output = python
    assert code == 1  # the broken lines are rejected
    decisions = [orjson.loads(line) for line in output.splitlines()]
    # Counted here from the file itself: every object line with a fresh id is decided.
    ids: list[str] = []
    for line in journeys.read_bytes().splitlines():
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"] not in ids:
            ids.append(raw["id"])
    good = [i for i in ids if not i.startswith("broken-")]
    assert [d["id"] for d in decisions] == [*good, "broken-3", "broken-5"]
    assert "error[E704]: duplicate id" in err and "error[E701]" in err and "error[E706]" in err
    assert "ignored unknown event type `nope_event`: 2 times" in err
    assert len({d["stage"] for d in decisions}) >= 2


def test_accounts_file_and_a_disagreeing_profile_on_spark(spark: Any, tmp_path: Path) -> None:
    """`--accounts` on Spark: the accounts file's profiles win over none, a lead whose
    account_profile disagrees is rejected (E715) as the Python engine rejects it, and its
    colleagues are decided without it; CSV output too."""
    lines, as_of = _accounts(60)
    rows = [orjson.loads(line) for line in lines]
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_bytes(
        orjson.dumps({"id": "A-0", "profile": {"target": True, "employees": 5000}}) + b"\n"
    )
    members = [row for row in rows if row.get("account") == "A-0"]
    members[-1]["account_profile"] = {"target": False}
    journeys = tmp_path / "abm.jsonl"
    journeys.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    when = from_seconds(as_of).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = str(ROOT / "policies" / "abm.mql")
    for suffix in (".jsonl", ".csv"):
        python, on_spark = _both(
            tmp_path, policy, str(journeys), "--accounts", str(accounts), "--as-of", when,
            suffix=suffix,
        )  # fmt: skip
        assert on_spark == python
        code, _, err, output = python
        assert code == 1 and "error[E715]" in err
        assert output is not None and members[-1]["id"].encode() not in output


def test_recycling_runs_on_spark(spark: Any, tmp_path: Path) -> None:
    """saas_trial recycles a quiet PQL back to the trial: the SQL back end refuses
    it (E601), Spark decides it like Python, and the journeys do recycle."""
    policy_file = str(ROOT / "policies" / "saas_trial.mql")
    code, _, err = run("sql", policy_file, "--as-of", "2026-12-01")
    assert code == 1 and "E601" in err
    journeys, as_of = _journeys("saas_trial", tmp_path, 600)
    python, on_spark = _both(tmp_path, policy_file, str(journeys), "--as-of", as_of)
    assert on_spark == python
    recycled = [
        d
        for d in map(orjson.loads, python[3].splitlines())
        if "mql" in d["entered"] and d["stage"] in ("trial", "signed_up", "visitor")
    ]
    assert recycled  # leads that were PQLs and went back: recycling was exercised


def test_max_errors_csv_output_and_explain_match(spark: Any, tmp_path: Path) -> None:
    journeys, as_of = _journeys("acme", tmp_path, 60)
    acme = str(ROOT / "policies" / "acme.mql")
    for extra in (("--max-errors", "3"), ("--max-errors", "1"), ("--set", "mql_threshold=55")):
        python, on_spark = _both(tmp_path, acme, str(journeys), "--as-of", as_of, *extra)
        assert on_spark == python, extra
    python, on_spark = _both(tmp_path, acme, str(journeys), "--as-of", as_of, "--max-errors", "3")
    assert "(--max-errors);" in python[2] and "lines not read" in python[2], python[2]
    python, on_spark = _both(tmp_path, acme, str(journeys), "--as-of", as_of, suffix=".csv")
    assert on_spark == python and python[3].startswith(b"id,as_of,stage")
    python, on_spark = _both(tmp_path, acme, str(journeys), "--as-of", as_of, "--explain")
    assert on_spark == python and b'"explanation"' in python[3]


def test_leads_csv_with_events_csv_matches(spark: Any, tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "id,email_kind,role,company_size,channel,tech_stack\n"
        "L-1,corporate,secops,800,inbound,aws;okta\nL-2,,student,,,\n"
        "L-3,corporate,cto,lots,inbound,\nL-1,corporate,secops,10,,\n"
    )
    events = tmp_path / "events.csv"
    events.write_text(
        "lead_id,type,at,path\nL-1,demo_request,2026-10-31T23:00:00Z,\n"
        "L-2,unsubscribe,2026-10-30T10:00:00Z,\nL-2,page_view,2026-10-29T08:00:00Z,/pricing\n"
        "L-9,page_view,2026-10-29T08:00:00Z,/x\nL-1,page_view,never,/x\n"
    )
    args = (str(ROOT / "policies" / "acme.mql"), str(leads), "--events", str(events))
    python, on_spark = _both(tmp_path, *args, "--as-of", "2026-11-01T00:00:00Z")
    assert on_spark == python
    assert python[0] == 1


def test_lines_spark_could_read_apart_are_read_as_python_reads_them(
    spark: Any, tmp_path: Path
) -> None:
    # A byte-order mark, an ignored key, a lead refused for its timeline (E900, at its line)
    # whose id a later line repeats, duplicates whose other problems are not read; then a
    # leads table whose lead is refused for its timeline, at its line of the table.
    policy = tmp_path / "p.mql"
    policy.write_text(MINUTE_DECAY)
    journeys = tmp_path / "j.jsonl"
    journeys.write_bytes(
        b'\xef\xbb\xbf{"id":"a","extra":1}\n'
        b'{"id":"L1","events":[{"type":"ping","at":"2026-01-01T00:00:00Z"}]}\n'
        b'{"id":"L1"}\n{"id":"a","profile":{"zz":1}}\n{"id":"b"}\n{"id":"b","events":5}\n'
    )
    as_of = ("--as-of", "2026-12-01T00:00:00Z")
    python, on_spark = _both(tmp_path, str(policy), str(journeys), *as_of)
    assert on_spark == python
    err = python[2]
    assert f"{journeys}:2: error[E900]: lead `L1`" in err
    assert f"{journeys}:3: error[E704]: duplicate id `L1`" in err
    assert f"{journeys}:6: error[E704]: duplicate id `b`" in err
    assert "ignored unknown key `extra` in journey lines: 1 time" in err
    assert "zz" not in err and err.splitlines()[-1] == "6 read, 2 used, 4 rejected"
    leads = tmp_path / "leads.csv"
    leads.write_text("id,role\nL0,a\nL1,b\n")
    events = tmp_path / "events.csv"
    events.write_text(
        "lead_id,type,at\nL1,ping,2026-01-01T00:00:00Z\nL0,ping,2026-11-30T00:00:00Z\n"
    )
    python, on_spark = _both(tmp_path, str(policy), str(leads), "--events", str(events), *as_of)
    assert on_spark == python
    assert f"{leads}:3: error[E900]: lead `L1`" in python[2]


def test_spark_refuses_jobs(tmp_path: Path) -> None:
    journeys = tmp_path / "j.jsonl"
    journeys.write_text('{"id": "a"}\n')
    code, _, err = run(
        "score",
        str(ROOT / "policies" / "acme.mql"),
        str(journeys),
        "--engine",
        "spark",
        "--jobs",
        "2",
    )
    assert code == 2 and "--jobs" in err


def _parquet(policy: str, journeys: Path, folder: Path) -> tuple[Path, Path]:
    """The journeys as a warehouse exports them: two Parquet tables, the leads in
    reverse order (the output must follow the table's rows)."""
    import duckdb

    from mqldsl.io.journeys import JourneyReader, ReadReport

    model = check_file(str(ROOT / "policies" / f"{policy}.mql")).model
    assert model is not None
    leads, events = folder / "leads.parquet", folder / "events.parquet"
    reader = JourneyReader(model, ReadReport())
    lead_rows = []
    event_rows = []
    for n, lead in enumerate(reader.read_jsonl(journeys)):
        lead_rows.append({"n": n, "id": lead.id, **{k: _plain(v) for k, v in lead.profile.items()}})
        for event in lead.events:
            at = from_seconds(event.at).strftime("%Y-%m-%d %H:%M:%S.%f")
            fields = {k: _plain(v) for k, v in event.fields.items()}
            event_rows.append({"lead_id": lead.id, "type": event.type, "at": at, **fields})
    con = duckdb.connect()
    for rows, path, order in ((lead_rows, leads, "ORDER BY n DESC"), (event_rows, events, "")):
        source = folder / f"{path.stem}.json"
        source.write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
        exclude = "EXCLUDE (n)" if order else ""
        replace = 'REPLACE (CAST("at" AS TIMESTAMP) AS "at")' if not order else ""
        con.execute(
            f"COPY (SELECT * {exclude} {replace} FROM read_json_auto('{source}') {order}) "
            f"TO '{path}' (FORMAT parquet)"
        )
    return leads, events


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@pytest.mark.parametrize("policy", ["acme", "enterprise", "olist"])
def test_parquet_tables_decide_like_duckdb(spark: Any, tmp_path: Path, policy: str) -> None:
    journeys, as_of = _journeys(policy, tmp_path, 200)
    leads, events = _parquet(policy, journeys, tmp_path)
    policy_file = str(ROOT / "policies" / f"{policy}.mql")
    args = ("--leads", str(leads), "--events", str(events), "--as-of", as_of)
    out = {}
    for engine in ("duckdb", "spark"):
        out[engine] = run("score", policy_file, *args, "--engine", engine)
    assert out["spark"] == out["duckdb"]
    code, text, err = out["duckdb"]
    assert code == 0, err
    python = run("score", policy_file, str(journeys), "--as-of", as_of)[1].splitlines()
    assert text.splitlines() == list(reversed(python))  # the table's row order


def test_bad_parquet_rows_are_reported_like_duckdb(spark: Any, tmp_path: Path) -> None:
    import duckdb

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
    args = ("--leads", str(leads), "--events", str(events), "--as-of", "2026-11-01")
    acme = str(ROOT / "policies" / "acme.mql")
    duck = run("score", acme, *args, "--engine", "duckdb")
    assert run("score", acme, *args, "--engine", "spark") == duck
    assert duck[0] == 1 and "5 read, 1 used, 4 rejected" in duck[2]


def test_recycling_policy_on_parquet_tables(spark: Any, tmp_path: Path) -> None:
    """Tables of a policy DuckDB cannot run (recycle): Spark decides them as the
    Python engine decides the same journeys, in the table's row order."""
    journeys, as_of = _journeys("saas_trial", tmp_path, 200)
    leads, events = _parquet("saas_trial", journeys, tmp_path)
    policy_file = str(ROOT / "policies" / "saas_trial.mql")
    args = ("--leads", str(leads), "--events", str(events), "--as-of", as_of)
    assert run("score", policy_file, *args, "--engine", "duckdb")[0] == 1  # E601
    code, text, err = run("score", policy_file, *args, "--engine", "spark")
    assert code == 0, err
    python = run("score", policy_file, str(journeys), "--as-of", as_of)[1].splitlines()
    assert text.splitlines() == list(reversed(python))
