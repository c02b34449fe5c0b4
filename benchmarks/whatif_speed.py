"""How fast `mqldsl whatif` and `mqldsl sweep` are, per 1,000 lead-evaluations
(issue #18). Run by hand, from the repository root:

    python benchmarks/whatif_speed.py [--leads N] [--jobs 2]

Times the README's what-if (`mqldsl whatif policies/acme.mql --set
mql_intent_min=30 --scenario simulations/acme.toml`: five replications of a
simulated quarter, base and proposed) and a five-value sweep of the same param
(`mqldsl sweep policies/acme.mql --param mql_intent_min=20..60:10 --scenario
simulations/acme.toml`), whole process, and prints a table. A lead-evaluation is
one lead decided by one policy: a what-if makes 2 per lead per replication, a
sweep one per lead per value. Without --leads each replication has the
scenario's own volume (counted by generating the same seeds); --leads N gives
every replication N leads. With --jobs J both also run with `--jobs J`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench_util import ROOT, mqldsl, per_thousand, print_table, run

POLICY = "policies/acme.mql"
SCENARIO = "simulations/acme.toml"
REPLICATIONS = 5  # whatif's default, as the README runs it


def leads_per_replication(seed: int, replications: int, work: Path) -> list[int]:
    """The leads each replication decides: the scenario generated with its seed."""
    counts = []
    for index in range(replications):
        journeys = work / f"replication{index}.jsonl"
        run(mqldsl("generate", SCENARIO, "--seed", str(seed + index), "-o", str(journeys)))
        with journeys.open("rb") as stream:
            counts.append(sum(1 for line in stream if line.strip()))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, help="leads a replication (default: the scenario's)")
    parser.add_argument("--jobs", type=int, default=2, help="also time with --jobs J (1: not)")
    args = parser.parse_args()
    sizing = ["--leads", str(args.leads)] if args.leads else []
    whatif = mqldsl("whatif", POLICY, "--set", "mql_intent_min=30", "--scenario", SCENARIO)
    sweep = mqldsl("sweep", POLICY, "--param", "mql_intent_min=20..60:10", "--scenario", SCENARIO)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        report = work / "whatif.json"
        seconds, _ = run([*whatif, *sizing, "-o", str(report)])
        data = json.loads(report.read_text())["data"]
        assert data["replications"] == REPLICATIONS
        if args.leads:
            counts = [args.leads] * REPLICATIONS
        else:
            counts = leads_per_replication(data["seed"], REPLICATIONS, work)
            assert counts[0] == data["leads"]
        evaluations = 2 * sum(counts)
        rows.append(("whatif: leads per replication", ", ".join(f"{n:,}" for n in counts)))
        rows.append(("whatif: lead-evaluations (2 policies)", f"{evaluations:,}"))
        rows.append(("whatif, whole process", f"{seconds:.1f} s"))
        rows.append(("whatif", per_thousand(seconds, evaluations)))
        if args.jobs > 1:
            seconds, _ = run([*whatif, *sizing, "--jobs", str(args.jobs)])
            rows.append((f"whatif --jobs {args.jobs}", per_thousand(seconds, evaluations)))

        report = work / "sweep.json"
        seconds, _ = run([*sweep, *sizing, "-o", str(report)])
        swept = json.loads(report.read_text())
        values = len(swept["rows"])
        assert values == 5
        evaluations = values * swept["leads"]
        rows.append(("sweep: leads x values", f"{swept['leads']:,} x {values}"))
        rows.append(("sweep, whole process", f"{seconds:.1f} s"))
        rows.append(("sweep", per_thousand(seconds, evaluations)))
        if args.jobs > 1:
            seconds, _ = run([*sweep, *sizing, "--jobs", str(args.jobs)])
            rows.append((f"sweep --jobs {args.jobs}", per_thousand(seconds, evaluations)))
    print(f"policy {POLICY}, scenario {SCENARIO}, from {ROOT}")
    print_table(rows)


if __name__ == "__main__":
    main()
