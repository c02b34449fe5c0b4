"""How fast `mqldsl simulate` is on many scenario leads, and whether `mqldsl
score` keeps its memory flat in the number of leads (issue #18). Run by hand,
from the repository root:

    python benchmarks/simulate_speed.py [--leads 1000000] [--memory-sizes 10000,50000]

Times `mqldsl simulate policies/acme.mql --scenario simulations/acme.toml
--leads N` as a whole process, without and with `--jobs 2`, with each run's
peak resident memory (the child's rusage: with `--jobs`, the largest of the
process and its workers, not their sum). Then runs `mqldsl score` (the
Python engine, JSON Lines in and out) on generated Acme journeys of each size
of --memory-sizes and prints its peak memory: a streaming engine's peak does
not grow with the number of leads.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_util import PYTHON, mqldsl, print_table, run

POLICY = "policies/acme.mql"
SCENARIO = "simulations/acme.toml"
AS_OF = "2026-11-01T00:00:00Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000, help="scenario leads to simulate")
    parser.add_argument(
        "--memory-sizes",
        default="10000,50000",
        help="journey counts for the peak memory of `mqldsl score` (comma-separated)",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.memory_sizes.split(",")]
    simulate = mqldsl("simulate", POLICY, "--scenario", SCENARIO, "--leads", str(args.leads))
    rows: list[tuple[str, str]] = [("scenario leads", f"{args.leads:,}")]
    for jobs in (1, 2):
        seconds, peak = run([*simulate, "--jobs", str(jobs)])
        rows.append(
            (f"simulate --jobs {jobs}, whole process", f"{seconds:.1f} s, peak {peak:,.0f} MB")
        )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for size in sizes:
            journeys = work / f"acme{size}.jsonl"
            run(
                [
                    PYTHON,
                    "benchmarks/gen_acme_journeys.py",
                    "--leads",
                    str(size),
                    "-o",
                    str(journeys),
                ]
            )
            seconds, peak = run(mqldsl("score", POLICY, str(journeys), "--as-of", AS_OF))
            rows.append(
                (f"score (Python engine), {size:,} leads", f"{seconds:.1f} s, peak {peak:,.0f} MB")
            )
            journeys.unlink()
    print_table(rows)


if __name__ == "__main__":
    main()
