"""The three engines of `mqldsl score` on the same journeys (issue #18): the
Python engine, `--engine duckdb` (the policy as SQL in an embedded DuckDB) and
`--engine spark` (the compiled Python evaluator on Spark's executors, a local
session here). Run by hand, from the repository root:

    python benchmarks/engines_speed.py [--leads 1000000] [--engines duckdb,spark]

Generates Acme journeys (benchmarks/gen_acme_journeys.py, about 30 events a
lead), scores them with each engine, JSON Lines in and out, whole process, and
prints a table with each run's time, peak memory (the child's rusage: with
`--jobs`, the largest process) and whether its decisions are byte-identical to
the Python engine's. `--engine spark` needs `pip install -e '.[spark]'` and a
Java runtime; Spark's start-up (tens of seconds for a local session) is
included. A process's peak counts the descendants it waited for: the JVM of the
local Spark session may be missing from it, so read the Spark figure as the
Python driver's.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_util import generate_acme, mqldsl, print_table, run

POLICY = "policies/acme.mql"
AS_OF = "2026-11-01T00:00:00Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--engines", default="duckdb,spark", help="comma-separated")
    args = parser.parse_args()
    engines = [name for name in args.engines.split(",") if name]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        journeys = work / "acme.jsonl"
        generate_acme(args.leads, journeys)
        with journeys.open("rb") as stream:
            events = sum(line.count(b'"type"') for line in stream)
        score = mqldsl("score", POLICY, str(journeys), "--as-of", AS_OF)
        reference = work / "python.jsonl"
        seconds, peak = run([*score, "-o", str(reference)])
        rows = [
            ("leads / events", f"{args.leads:,} / {events:,}"),
            ("python engine, whole process", f"{seconds:.1f} s, peak {peak:,.0f} MB"),
        ]
        output = work / "jobs.jsonl"
        seconds, peak = run([*score, "--jobs", "2", "-o", str(output)])
        same = "identical" if output.read_bytes() == reference.read_bytes() else "DIFFERENT"
        rows.append(("python engine --jobs 2", f"{seconds:.1f} s, peak {peak:,.0f} MB, {same}"))
        output.unlink()
        for engine in engines:
            output = work / f"{engine}.jsonl"
            seconds, peak = run([*score, "--engine", engine, "-o", str(output)])
            same = "identical" if output.read_bytes() == reference.read_bytes() else "DIFFERENT"
            rows.append((f"--engine {engine}", f"{seconds:.1f} s, peak {peak:,.0f} MB, {same}"))
            output.unlink()
    print_table(rows)


if __name__ == "__main__":
    main()
