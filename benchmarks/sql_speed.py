"""How fast the SQL back end is (`mqldsl score --engine duckdb`), against a
hand-written DuckDB query for the same policy (benchmarks/acme_handwritten.sql)
and against the Python engine. Run by hand:

    python benchmarks/sql_speed.py [--leads 1000000] [--skip-python] [--keep DIR]

Generates Acme leads and events in DuckDB (about 30 events a lead, some after
the as-of instant, some fields missing) as two Parquet tables, as a warehouse
would export them, plus the same journeys as JSON Lines for the Python engine.
Then prints a table:

- the hand-written query and the compiled query (`mqldsl sql`), each run by
  DuckDB from the Parquet files into a Parquet result; the two results must
  be equal row for row;
- `mqldsl score --engine duckdb --leads ... --events ...`, the whole process,
  writing JSON Lines, with its peak memory;
- `mqldsl score --jobs 2` (the Python engine) on the JSON Lines, whose output
  must be byte-identical to the DuckDB engine's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
AS_OF = "2026-11-01T00:00:00Z"

GENERATE = """
SELECT setseed(0.42);
CREATE TABLE base AS
SELECT i, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
       random() AS r6, random() AS r7, random() AS r8, random() AS r9
FROM range({leads}) t(i);
CREATE TABLE leads AS
SELECT
  'L-' || lpad(CAST(i AS VARCHAR), 7, '0') AS id,
  CASE WHEN r1 < 0.80 THEN 'corporate' WHEN r1 < 0.97 THEN 'personal' ELSE 'competitor' END AS email_kind,
  ['security_engineer', 'secops', 'it_manager', 'developer', 'marketing', 'finance', 'student', 'other'][1 + CAST(floor(r2 * 8) AS INT)] AS role,
  CASE WHEN r3 < 0.1 THEN NULL ELSE ['ic', 'manager', 'director', 'vp', 'c_level'][1 + CAST(floor(r3 * 5) AS INT) % 5] END AS seniority,
  CASE WHEN r4 < 0.05 THEN NULL ELSE CAST(round(exp(5.3 + 1.6 * sqrt(-2 * ln(r4)) * cos(2 * pi() * r5))) AS BIGINT) END AS company_size,
  ['fintech', 'healthcare', 'saas', 'retail', 'manufacturing', 'education', 'government', 'media', 'energy', 'other'][1 + CAST(floor(r6 * 10) AS INT)] AS industry,
  ['na', 'emea', 'apac', 'latam'][1 + CAST(floor(r7 * 4) AS INT)] AS region,
  CASE WHEN r8 < 0.7 THEN 'inbound' ELSE 'outbound' END AS channel,
  CASE WHEN r9 < 0.4 THEN ['aws', 'okta'] WHEN r9 < 0.6 THEN ['gcp'] WHEN r9 < 0.9 THEN ['aws'] ELSE [] END AS tech_stack,
  CAST(floor(r5 * 61) AS BIGINT) AS n_events
FROM base
ORDER BY i;
CREATE TABLE raw_events AS
SELECT l.id AS lead_id, random() AS u, random() AS v, random() AS w
FROM leads l, range(l.n_events) e(j);
CREATE TABLE events AS
SELECT
  lead_id,
  CASE
    WHEN u < 0.45 THEN 'page_view' WHEN u < 0.60 THEN 'email_click'
    WHEN u < 0.70 THEN 'content_download' WHEN u < 0.78 THEN 'feature_used'
    WHEN u < 0.82 THEN 'newsletter_signup' WHEN u < 0.86 THEN 'webinar_attended'
    WHEN u < 0.89 THEN 'trial_started' WHEN u < 0.91 THEN 'demo_request'
    WHEN u < 0.93 THEN 'roi_calc_request' WHEN u < 0.95 THEN 'sales_accepted'
    WHEN u < 0.97 THEN 'sales_rejected' ELSE 'unsubscribe'
  END AS type,
  TIMESTAMP '2026-11-01 00:00:00' - to_microseconds(CAST(floor((v - 0.02) * 120 * 86400) AS BIGINT) * 1000000) AS "at",
  CASE WHEN u < 0.45 THEN CASE WHEN w < 0.25 THEN '/pricing/' || CAST(floor(w * 8) AS INT) ELSE '/blog/post-' || CAST(floor(w * 100) AS INT) END END AS path,
  CASE WHEN u >= 0.60 AND u < 0.70 THEN ['case_study', 'comparison_guide', 'checklist', 'whitepaper', 'ebook'][1 + CAST(floor(w * 5) AS INT)] END AS kind,
  CASE WHEN u >= 0.70 AND u < 0.78 THEN 'feature-' || CAST(floor(w * 12) AS INT) END AS feature,
  CASE WHEN u >= 0.95 AND u < 0.97 THEN 'no budget' END AS reason
FROM raw_events;
ALTER TABLE leads DROP n_events;
"""

JOURNEYS = """
COPY (
  SELECT
    l.id,
    json_object('email_kind', l.email_kind, 'role', l.role, 'seniority', l.seniority,
                'company_size', l.company_size, 'industry', l.industry, 'region', l.region,
                'channel', l.channel, 'tech_stack', l.tech_stack) AS profile,
    coalesce(e.events, '[]'::JSON) AS events
  FROM leads l LEFT JOIN (
    SELECT lead_id, to_json(list(
      CASE type
        WHEN 'page_view' THEN json_object('type', type, 'at', strftime("at", '%Y-%m-%dT%H:%M:%SZ'), 'path', path)
        WHEN 'content_download' THEN json_object('type', type, 'at', strftime("at", '%Y-%m-%dT%H:%M:%SZ'), 'kind', kind)
        WHEN 'feature_used' THEN json_object('type', type, 'at', strftime("at", '%Y-%m-%dT%H:%M:%SZ'), 'feature', feature)
        WHEN 'sales_rejected' THEN json_object('type', type, 'at', strftime("at", '%Y-%m-%dT%H:%M:%SZ'), 'reason', reason)
        ELSE json_object('type', type, 'at', strftime("at", '%Y-%m-%dT%H:%M:%SZ'))
      END ORDER BY "at")) AS events
    FROM events GROUP BY lead_id
  ) e ON e.lead_id = l.id
  ORDER BY l.id
) TO '{path}' (FORMAT json)
"""


def generate(folder: Path, leads: int, journeys: bool) -> tuple[int, int]:
    con = duckdb.connect(config={"threads": 1})  # random() with a seed is repeatable on one thread
    con.execute(GENERATE.format(leads=leads))
    con.execute(f"COPY leads TO '{folder / 'leads.parquet'}' (FORMAT parquet)")
    con.execute(
        f"COPY (SELECT * FROM events ORDER BY lead_id, \"at\") TO '{folder / 'events.parquet'}' (FORMAT parquet)"
    )
    if journeys:
        con.execute("SET threads = 2")
        con.execute(JOURNEYS.format(path=folder / "journeys.jsonl"))
    counts = con.execute(
        "SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM events)"
    ).fetchone()
    assert counts is not None
    return int(counts[0]), int(counts[1])


def run_query(folder: Path, query: str, out: Path) -> float:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = '{folder / 'spill'}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"CREATE VIEW leads AS SELECT * FROM read_parquet('{folder / 'leads.parquet'}')")
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{folder / 'events.parquet'}')")
    start = time.perf_counter()
    con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet)")
    return time.perf_counter() - start


def timed(command: list[str], output: Path) -> tuple[float, float]:
    """Seconds and the peak memory (MB) of a whole process (measured through
    a small wrapper process, so that each command's peak is its own)."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "with open(sys.argv[1], 'wb') as sink:\n"
        "    subprocess.run(sys.argv[2:], stdout=sink, stderr=subprocess.DEVNULL, check=True)\n"
        "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, str(output), *command],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, peak_kb = done.stdout.split()
    return float(seconds), int(peak_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--skip-python", action="store_true", help="Do not run the Python engine.")
    parser.add_argument("--keep", type=Path, help="Keep the data and results in this folder.")
    parser.add_argument(
        "--reuse", action="store_true", help="With --keep: reuse the data generated there before."
    )
    args = parser.parse_args()

    from mqldsl.analysis.checker import check_file
    from mqldsl.engine.runtime import parse_instant
    from mqldsl.warehouse.compiler import compile_sql

    holder = None if args.keep else tempfile.TemporaryDirectory(prefix="mqldsl-sql-bench-")
    folder = args.keep or Path(holder.name)  # type: ignore[union-attr]
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if args.reuse and (folder / "events.parquet").exists():
        counted = (
            duckdb.connect()
            .execute(
                f"SELECT (SELECT count(*) FROM '{folder / 'leads.parquet'}'), "
                f"(SELECT count(*) FROM '{folder / 'events.parquet'}')"
            )
            .fetchone()
        )
        assert counted is not None
        leads, events = counted
        print(f"reusing {leads:,} leads and {events:,} events in {folder}")
    else:
        leads, events = generate(folder, args.leads, journeys=not args.skip_python)
        print(
            f"generated {leads:,} leads and {events:,} events in {time.perf_counter() - start:.1f} s"
        )

    model = check_file(str(ROOT / "policies" / "acme.mql")).model
    assert model is not None
    compiled = compile_sql(model, parse_instant(AS_OF)).sql("duckdb", pretty=False)
    handwritten = (ROOT / "benchmarks" / "acme_handwritten.sql").read_text(encoding="utf-8")
    handwritten = "\n".join(line for line in handwritten.splitlines() if not line.startswith("--"))
    rows: list[tuple[str, str]] = []
    hand = run_query(folder, handwritten, folder / "hand.parquet")
    rows.append(("hand-written DuckDB query (benchmarks/acme_handwritten.sql)", f"{hand:.1f} s"))
    ours = run_query(folder, compiled, folder / "compiled.parquet")
    rows.append(
        ("compiled query (`mqldsl sql policies/acme.mql`)", f"{ours:.1f} s ({ours / hand:.2f}x)")
    )
    con = duckdb.connect()
    differ = con.execute(
        f"SELECT count(*) FROM ((SELECT * FROM '{folder / 'hand.parquet'}' EXCEPT ALL "
        f"SELECT * FROM '{folder / 'compiled.parquet'}') UNION ALL (SELECT * FROM "
        f"'{folder / 'compiled.parquet'}' EXCEPT ALL SELECT * FROM '{folder / 'hand.parquet'}'))"
    ).fetchone()
    assert differ is not None and differ[0] == 0, f"{differ[0]} rows differ"  # type: ignore[index]

    mqldsl = [sys.executable, "-m", "mqldsl", "score", "policies/acme.mql", "--as-of", AS_OF]
    seconds, peak = timed(
        [
            *mqldsl,
            "--engine",
            "duckdb",
            "--leads",
            str(folder / "leads.parquet"),
            "--events",
            str(folder / "events.parquet"),
        ],
        folder / "duckdb.jsonl",
    )
    rows.append(
        (
            "`mqldsl score --engine duckdb`, Parquet in, JSON Lines out, whole process",
            f"{seconds:.1f} s, peak {peak:,.0f} MB",
        )
    )
    if not args.skip_python:
        seconds, peak = timed(
            [*mqldsl, str(folder / "journeys.jsonl"), "--jobs", "2"], folder / "python.jsonl"
        )
        same = (folder / "python.jsonl").read_bytes() == (folder / "duckdb.jsonl").read_bytes()
        assert same, "the Python and DuckDB engines wrote different decisions"
        rows.append(
            (
                "`mqldsl score --jobs 2` (Python engine), JSON Lines, whole process",
                f"{seconds:.1f} s, peak {peak:,.0f} MB (byte-identical output)",
            )
        )

    width = max(len(name) for name, _ in rows)
    print(f"\n{'measurement':<{width}}  result")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if holder is not None:
        holder.cleanup()


if __name__ == "__main__":
    main()
