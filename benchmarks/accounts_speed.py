"""What the account rules cost (issue #19): `mqldsl score` (the Python engine) on
generated Northwind journeys (simulations/abm.toml: each arrival an account of a
few contacts) with policies/abm.mql, against the same policy with its account
rules removed, on the same file. Run by hand, from the repository root:

    python benchmarks/accounts_speed.py [--leads 20000] [--repeat 3] [--profile]

The copy without account rules is written by the script: the account score
(`score buying_group on account`) and every clause that reads
`account.buying_group` (the MQL condition's second way in, the recycle's "and
the account is quiet too", the examples' expectations) are dropped; everything
else stays, the account fields (`account.target`, `account.employees` in the
fit score) included, so both runs read and group the leads by account alike.

Two measures, each the best of ``--repeat`` runs, the two policies alternating
(the machine is shared):
- the whole `mqldsl score` process, JSON Lines in and out (as engines_speed.py):
  its wall time and its CPU time;
- evaluation only: the library's score path (`read_leads`, which groups the
  leads by account and gives each its colleagues, then `Evaluator.decide`), the
  leads read beforehand and the garbage collector frozen over them, as
  score_speed.py does; the time a lead is the decide call alone. It is also given
  by the size of the lead's account (a lead's work grows with its account's events).
Issue #19's target: with account rules at most 2x the time without.
``--profile`` adds a cProfile of the evaluation of both policies (the functions
with the most time of their own).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_util import ROOT, mqldsl, print_table, run, run_cpu

sys.path.insert(0, str(ROOT))

from mqldsl.analysis.checker import check_file
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Lead, parse_instant
from mqldsl.io.journeys import ReadReport
from mqldsl.io.scoring import read_leads

POLICY = ROOT / "policies" / "abm.mql"
SCENARIO = "simulations/abm.toml"
AS_OF = "2026-11-30T00:00:00Z"  # the scenario's end (2026-09-01 + 90 days)

# What removing the account rules takes out of policies/abm.mql: each piece must be there
# once (the script stops if the policy has changed under it).
ACCOUNT_SCORE_START = "score buying_group on account "
ACCOUNT_CLAUSES = (
    "\n    or account.buying_group >= buying_group_min and fit >= mql_fit_min",
    "\n  and account.buying_group < buying_group_min",
)


def without_account_rules(text: str) -> str:
    """``text`` (policies/abm.mql) without its account score and every clause that reads
    it; everything else as it is."""
    start = text.index(ACCOUNT_SCORE_START)
    end = text.index("\n}\n", start) + len("\n}\n")
    text = text[:start] + text[end:].removeprefix("\n")
    for clause in ACCOUNT_CLAUSES:
        if text.count(clause) != 1:
            raise SystemExit(f"policies/abm.mql has changed: {clause.strip()!r} not found once")
        text = text.replace(clause, "")
    lines = text.splitlines(keepends=True)
    text = "".join(line for line in lines if not line.lstrip().startswith("expect account."))
    if "buying_group on account" in text or "account.buying_group" in text:
        raise SystemExit("policies/abm.mql has changed: an account rule is left")
    return text


def read(policy: Path, journeys: Path) -> tuple[Evaluator, list[Lead]]:
    """The compiled policy and the leads as the score path reads them (with colleagues)."""
    model = check_file(policy).model
    if model is None:
        raise SystemExit(f"{policy}: does not check")
    report = ReadReport()
    leads = list(read_leads(model, str(journeys), None, report))
    if report.rejected_count:
        raise SystemExit(f"{journeys}: {report.rejected_count} records rejected")
    return Evaluator(model), leads


# Accounts by their number of contacts, for the evaluation time by account size.
SIZES = ((1, 1), (2, 3), (4, 6), (7, 1000))


def size_label(low: int, high: int) -> str:
    if low == high:
        return f"{low} contact"
    return f"{low}+ contacts" if high == 1000 else f"{low}-{high} contacts"


def evaluation_seconds(evaluator: Evaluator, leads: list[Lead]) -> tuple[float, list[float]]:
    """The seconds deciding ``leads`` takes, in all and by account size (:data:`SIZES`)."""
    as_of = parse_instant(AS_OF)
    bucket = [
        next(i for i, (low, high) in enumerate(SIZES) if low <= 1 + len(lead.colleagues) <= high)
        for lead in leads
    ]
    by_size = [0.0] * len(SIZES)
    gc.collect()
    gc.freeze()  # the decoded leads are not rescanned by the collector, as when streaming
    decide = evaluator.decide
    clock = time.perf_counter
    start = clock()
    for lead, index in zip(leads, bucket, strict=True):
        before = clock()
        decide(lead, as_of)
        by_size[index] += clock() - before
    elapsed = clock() - start
    gc.unfreeze()
    return elapsed, by_size


def profile(evaluator: Evaluator, leads: list[Lead], top: int) -> str:
    as_of = parse_instant(AS_OF)
    profiler = cProfile.Profile()
    profiler.enable()
    for lead in leads:
        evaluator.decide(lead, as_of)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def stages(path: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    with path.open("rb") as stream:
        for line in stream:
            stage = json.loads(line)["stage"]
            found[stage] = found.get(stage, 0) + 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        journeys = work / "abm.jsonl"
        run(mqldsl("generate", SCENARIO, "--leads", str(args.leads), "-o", str(journeys)))
        plain = work / "abm_without_account_rules.mql"
        plain.write_text(without_account_rules(POLICY.read_text()))

        # The journeys: contacts an account, events a lead, and the events a lead's
        # timeline is built on with account scores (its whole account's).
        sizes: dict[str, int] = {}
        events: dict[str, int] = {}
        with journeys.open("rb") as stream:
            for line in stream:
                record = json.loads(line)
                account = record["account"]
                sizes[account] = sizes.get(account, 0) + 1
                events[account] = events.get(account, 0) + len(record["events"])
        total_events = sum(events.values())
        timeline_events = sum(sizes[a] * events[a] for a in sizes)
        counts = sorted(sizes.values())

        with_, without = "with account rules", "without account rules"
        policies = {with_: POLICY, without: plain}
        whole: dict[str, float] = dict.fromkeys(policies, float("inf"))
        cpu: dict[str, float] = dict.fromkeys(policies, float("inf"))
        outputs = {name: work / f"{index}.jsonl" for index, name in enumerate(policies)}
        for _ in range(args.repeat):
            for name, policy in policies.items():
                score = mqldsl("score", str(policy), str(journeys), "--as-of", AS_OF)
                seconds, used = run_cpu([*score, "-o", str(outputs[name])])
                whole[name] = min(whole[name], seconds)
                cpu[name] = min(cpu[name], used)
        found = {name: stages(path) for name, path in outputs.items()}

        loaded = {name: read(policy, journeys) for name, policy in policies.items()}
        evaluation: dict[str, float] = dict.fromkeys(policies, float("inf"))
        by_size = {name: [float("inf")] * len(SIZES) for name in policies}
        for _ in range(args.repeat):
            for name, (evaluator, leads) in loaded.items():
                seconds, sizes_seconds = evaluation_seconds(evaluator, leads)
                evaluation[name] = min(evaluation[name], seconds)
                pairs = zip(by_size[name], sizes_seconds, strict=True)
                by_size[name] = [min(a, b) for a, b in pairs]
        leads_by_size = [
            sum(1 for lead in loaded[with_][1] if low <= 1 + len(lead.colleagues) <= high)
            for low, high in SIZES
        ]

    n = args.leads
    rows = [
        ("leads / accounts / events", f"{n:,} / {len(sizes):,} / {total_events:,}"),
        (
            "contacts an account",
            f"{counts[0]} to {counts[-1]}, median {statistics.median(counts):g}, "
            f"mean {n / len(sizes):.2f}",
        ),
        (
            "events a lead: its own / its account's",
            f"{total_events / n:.1f} / {timeline_events / n:.1f}",
        ),
    ]
    for name in policies:
        rows.append(
            (
                f"score {name}, whole process",
                f"{whole[name] / n * 1e6:,.0f} µs/lead (CPU {cpu[name] / n * 1e6:,.0f})",
            )
        )
    rows.append(
        (
            "ratio, whole process",
            f"{whole[with_] / whole[without]:.2f}x (CPU {cpu[with_] / cpu[without]:.2f}x)",
        )
    )
    for name in policies:
        rows.append(
            (f"score {name}, evaluation only", f"{evaluation[name] / n * 1e6:,.0f} µs/lead")
        )
    rows.append(("ratio, evaluation only", f"{evaluation[with_] / evaluation[without]:.2f}x"))
    for index, ((low, high), count) in enumerate(zip(SIZES, leads_by_size, strict=True)):
        if not count:
            continue
        a, b = by_size[with_][index] / count * 1e6, by_size[without][index] / count * 1e6
        rows.append(
            (
                f"  leads of accounts of {size_label(low, high)}",
                f"{count:,} leads: {a:,.0f} / {b:,.0f} µs/lead, {a / b:.2f}x",
            )
        )
    for name in policies:
        text = ", ".join(f"{stage} {count:,}" for stage, count in sorted(found[name].items()))
        rows.append((f"stages {name}", text))
    print(f"{SCENARIO}, --as-of {AS_OF}, best of {args.repeat}")
    print_table(rows)
    if args.profile:
        for name, (evaluator, leads) in loaded.items():
            print(f"\ncProfile, evaluation only, {name} ({len(leads):,} leads):")
            print(profile(evaluator, leads, args.top))


if __name__ == "__main__":
    main()
