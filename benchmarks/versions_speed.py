"""Is this checkout slower than an older one on policies that use nothing new?
`mqldsl score` (the Python engine) of the same policies on the same journeys,
run by each checkout's own code. Run by hand, from the repository root, with an
older checkout beside it (a git worktree is enough):

    git worktree add /tmp/old COMMIT
    python benchmarks/versions_speed.py /tmp/old [--leads 20000] [--repeat 5]

The inputs are the old checkout's, so that both versions can read them: its
policies/acme.mql on Acme journeys (benchmarks/gen_acme_journeys.py) and its
policies/saas_trial.mql on journeys its own `mqldsl generate` makes from its
simulations/saas_trial.toml. Each version runs from its own root with
PYTHONPATH set to it (`python -m` puts the current directory first on the
import path).

Two measures a policy and version, in µs a lead, over ``--repeat`` runs, the
versions alternating (the machine is shared): the whole `mqldsl score`
process (JSON Lines in and out), and evaluation only (the leads read
beforehand, the garbage collector frozen over them, the best of three passes
in one process, as score_speed.py). Both the best and the median are printed;
the ratio is new / old of the bests. The decisions' stages, scores,
disqualifiers and `entered` are checked to be the same (the bytes may differ
where the decision format has grown).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench_util import ENV, PYTHON, ROOT, print_table, run

# One process, one version: the leads read once, then the best of three evaluation passes.
# Only what both versions have: check_file, JourneyReader, Evaluator, parse_instant.
EVALUATE = """
import gc, sys, time
from mqldsl.analysis.checker import check_file
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import parse_instant
from mqldsl.io.journeys import JourneyReader
policy, journeys, as_of = sys.argv[1:4]
model = check_file(policy).model
leads = list(JourneyReader(model).read_jsonl(journeys))
evaluator = Evaluator(model)
moment = parse_instant(as_of)
best = float("inf")
for _ in range(3):
    gc.collect()
    gc.freeze()
    start = time.perf_counter()
    for lead in leads:
        evaluator.decide(lead, moment)
    best = min(best, time.perf_counter() - start)
    gc.unfreeze()
print(best, len(leads))
"""

# What both versions' decisions must agree on.
COMPARED = ("id", "stage", "scores", "disqualified", "entered")


def environment(checkout: Path) -> dict[str, str]:
    return {**ENV, "PYTHONPATH": str(checkout)}


def same_decisions(old: Path, new: Path) -> str:
    with old.open("rb") as before, new.open("rb") as after:
        pairs = list(zip(before, after, strict=True))
    differ = 0
    for a, b in pairs:
        first, second = json.loads(a), json.loads(b)
        if any(first.get(key) != second.get(key) for key in COMPARED):
            differ += 1
    return "yes" if not differ else f"NO: {differ:,} of {len(pairs):,} differ"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("old", type=Path, help="the older checkout's root")
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    old_root = args.old.resolve()
    versions = {"old": old_root, "new": ROOT}
    commits = {
        name: subprocess.run(
            ["git", "log", "-1", "--format=%h"], cwd=path, capture_output=True, text=True
        ).stdout.strip()
        for name, path in versions.items()
    }
    print(
        f"old {old_root} ({commits['old']}), new {ROOT} ({commits['new']}); "
        f"{args.leads:,} leads, {args.repeat} runs"
    )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        acme = work / "acme.jsonl"
        run(
            [PYTHON, "benchmarks/gen_acme_journeys.py", "--leads", str(args.leads), "-o", str(acme)]
        )
        saas = work / "saas_trial.jsonl"
        generate = [PYTHON, "-m", "mqldsl", "generate", "simulations/saas_trial.toml"]
        run(
            [*generate, "--leads", str(args.leads), "-o", str(saas)],
            cwd=old_root,
            env=environment(old_root),
        )
        cases = [
            ("acme", old_root / "policies" / "acme.mql", acme, "2026-11-01T00:00:00Z"),
            ("saas_trial", old_root / "policies" / "saas_trial.mql", saas, "2026-12-01T00:00:00Z"),
        ]
        rows: list[tuple[str, str]] = []
        for label, policy, journeys, as_of in cases:
            whole: dict[str, list[float]] = {name: [] for name in versions}
            evaluation: dict[str, list[float]] = {name: [] for name in versions}
            for _ in range(args.repeat):
                for name, checkout in versions.items():
                    env = environment(checkout)
                    decisions = work / f"{label}-{name}.jsonl"
                    score = [PYTHON, "-m", "mqldsl", "score", str(policy), str(journeys)]
                    seconds, _ = run(
                        [*score, "--as-of", as_of, "-o", str(decisions)], cwd=checkout, env=env
                    )
                    whole[name].append(seconds / args.leads * 1e6)
                    printed = work / "evaluation.txt"
                    run(
                        [PYTHON, "-c", EVALUATE, str(policy), str(journeys), as_of],
                        printed,
                        cwd=checkout,
                        env=env,
                    )
                    seconds_text, count = printed.read_text().split()
                    evaluation[name].append(float(seconds_text) / int(count) * 1e6)
            same = same_decisions(work / f"{label}-old.jsonl", work / f"{label}-new.jsonl")
            for measure, figures in (("whole process", whole), ("evaluation only", evaluation)):
                for name in versions:
                    best, median = min(figures[name]), statistics.median(figures[name])
                    rows.append(
                        (
                            f"{label} {measure}, {name}",
                            f"best {best:,.0f} µs/lead, median {median:,.0f}",
                        )
                    )
                ratio = min(figures["new"]) / min(figures["old"])
                rows.append((f"{label} {measure}, new / old", f"{ratio:.2f}x"))
            rows.append((f"{label}: same decisions", same))
    print_table(rows)


if __name__ == "__main__":
    main()
