"""How fast `whatif` and `sweep` are per 1,000 lead-evaluations, sharing each
lead's scores between their runs (mqldsl.simulation.reuse) and without
(``reuse=False``: a full run per variant, as before), and with generated
journeys handed to the evaluator or, as before, through JSON bytes
(mqldsl.simulation.generated). Run by hand from the repository root:

    python benchmarks/reuse_speed.py [--leads 1000] [--repeat 3] [--jobs 1]

`simulate` is one run (leads evaluations: only the generated journeys are
handed over). The whatif is the README's (`whatif policies/acme.mql --set mql_intent_min=30
--scenario simulations/acme.toml`, five replications) with ``--leads`` leads a
replication: 2 x 5 x leads evaluations. The sweeps are 5 values of a stage
threshold (Acme `mql_intent_min=20..60:10`; the locked, recycling
policies/saas_trial.mql `pql_usage_min=20..60:10`): 5 x leads evaluations;
and 11 values of the Acme threshold, where the sweep re-thresholds with
`tune`'s decision cache (from 8 values on).
Each time is the whole library call (generating the journeys included), the
best of ``--repeat`` runs, the two paths alternating (the machine is shared):
the process's CPU time with one job, the wall clock with more. Both paths'
reports are checked to be byte-identical.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mqldsl.io.policy import load_policy  # noqa: E402
from mqldsl.simulation import sources  # noqa: E402
from mqldsl.simulation.simulate import SimulationOptions, simulate  # noqa: E402
from mqldsl.simulation.sources import Source  # noqa: E402
from mqldsl.simulation.sweep import sweep  # noqa: E402
from mqldsl.simulation.whatif import whatif  # noqa: E402


def timed(call: Callable[[], Any], clock: Callable[[], float], before: bool) -> tuple[float, bytes]:
    """The time of ``call`` and its report; ``before``: as before this change, every
    variant run in full and every generated journey through JSON bytes."""
    build = sources.GeneratedLeads.build
    if before:
        sources.GeneratedLeads.build = classmethod(lambda cls, *args: None)  # type: ignore[assignment]
    try:
        start = clock()
        report = call()
        return clock() - start, json.dumps(report.to_json()).encode()
    finally:
        sources.GeneratedLeads.build = build  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    acme = load_policy(ROOT / "policies" / "acme.mql")
    saas = load_policy(ROOT / "policies" / "saas_trial.mql")
    leads = args.leads
    options = SimulationOptions(jobs=args.jobs)
    cases: list[tuple[str, int, Callable[[bool], Any]]] = [
        (
            "simulate acme",
            leads,
            lambda reuse: simulate(
                acme, Source(scenario=ROOT / "simulations" / "acme.toml", leads=leads), options
            ),
        ),
        (
            "whatif acme --set mql_intent_min=30 (5 replications)",
            2 * 5 * leads,
            lambda reuse: whatif(
                acme,
                None,
                Source(scenario=ROOT / "simulations" / "acme.toml", leads=leads),
                SimulationOptions(params={"mql_intent_min": 30}, jobs=args.jobs),
                reuse=reuse,
            ),
        ),
        (
            "sweep acme mql_intent_min=20..60:10",
            5 * leads,
            lambda reuse: sweep(
                acme,
                ["mql_intent_min=20..60:10"],
                Source(scenario=ROOT / "simulations" / "acme.toml", leads=leads),
                options,
                reuse=reuse,
            ),
        ),
        (
            "sweep acme mql_intent_min=20..60:4 (11 values)",
            11 * leads,
            lambda reuse: sweep(
                acme,
                ["mql_intent_min=20..60:4"],
                Source(scenario=ROOT / "simulations" / "acme.toml", leads=leads),
                options,
                reuse=reuse,
            ),
        ),
        (
            "sweep saas_trial pql_usage_min=20..60:10",
            5 * leads,
            lambda reuse: sweep(
                saas,
                ["pql_usage_min=20..60:10"],
                Source(scenario=ROOT / "simulations" / "saas_trial.toml", leads=leads),
                options,
                reuse=reuse,
            ),
        ),
    ]
    what = "CPU seconds" if args.jobs <= 1 else "seconds"
    print(f"{leads} leads a run, best of {args.repeat}, --jobs {args.jobs}, {what}")
    print()
    print(f"| {'command':<52} | evaluations | before s/1k | after s/1k | speed-up |")
    print(f"|{'-' * 54}|------------:|------------:|-----------:|---------:|")
    # One process: its CPU time, which other jobs on a shared machine disturb less than the
    # wall clock; across processes, the wall clock. The two paths alternate, best of each.
    clock = time.process_time if args.jobs <= 1 else time.perf_counter
    for label, evaluations, call in cases:
        before = after = float("inf")
        for _ in range(args.repeat):
            seconds, plain = timed(lambda call=call: call(False), clock, True)
            before = min(before, seconds)
            seconds, reused = timed(lambda call=call: call(True), clock, False)
            after = min(after, seconds)
            if plain != reused:
                raise SystemExit(f"{label}: the reports differ")
        per = 1000 / evaluations
        print(
            f"| {label:<52} | {evaluations:>11,} | {before * per:11.3f} | {after * per:10.3f} | "
            f"{before / after:7.2f}x |"
        )


if __name__ == "__main__":
    main()
