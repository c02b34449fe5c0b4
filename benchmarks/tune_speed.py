"""How long `tune` takes to evaluate 100 values of one param, with its
decision cache and with a full run per value (``run_policy``, as `sweep`
runs them). Run by hand from the repository root:

    python benchmarks/tune_speed.py [--xeducation xeducation.jsonl] [--olist olist.jsonl]

The journeys files are made with `mqldsl import` (README "Backtest on real
outcomes"); a missing one is skipped. The Acme rows use 10,000 leads
generated from simulations/acme.toml. "full" times all the values, except
where the row says it timed fewer and scaled up.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from mqldsl.io.policy import load_policy
from mqldsl.simulation.run import RunSpec, run_policy
from mqldsl.simulation.sources import Source, load_leads, open_scenario
from mqldsl.simulation.tune import tune

ROOT = Path(__file__).resolve().parent.parent


def _full(model: Any, leads: Any, spec: dict[str, Any], param: str, values: list[int]) -> float:
    start = time.perf_counter()
    for value in values:
        run_policy(model, leads, RunSpec(params={param: value}, **spec))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--xeducation", default="xeducation.jsonl")
    parser.add_argument("--olist", default="olist.jsonl")
    parser.add_argument("--acme-leads", type=int, default=10_000)
    parser.add_argument("--acme-full-values", type=int, default=10)
    args = parser.parse_args()
    cases: list[tuple[str, str, str, int, Source, int]] = []
    if Path(args.xeducation).exists():
        source = Source(journeys=args.xeducation, as_of=1_796_083_200.0)
        cases.append(("X Education", "xeducation", "mql_min", 0, source, 100))
    if Path(args.olist).exists():
        cases.append(("Olist", "olist", "priority_min", -40, Source(journeys=args.olist), 100))
    acme = Source(scenario=ROOT / "simulations" / "acme.toml", leads=args.acme_leads)
    cases.append(("Acme (scenario)", "acme", "mql_intent_min", 0, acme, args.acme_full_values))
    rows = []
    for label, name, param, low, source, timed in cases:
        model = load_policy(ROOT / "policies" / f"{name}.mql")
        values = list(range(low, low + 100))
        start = time.perf_counter()
        tune(model, [f"{param}={low}..{low + 99}"], source, "buyer_recall")
        cached = time.perf_counter() - start
        scenario = open_scenario(source.scenario, model) if source.scenario else None
        seed = scenario.seed if scenario else 1
        loaded = load_leads(model, scenario, source.journeys, seed, source.leads)
        as_of = source.as_of if source.as_of is not None else loaded.default_as_of
        spec = {"as_of": as_of, "scenario": scenario, "seed": seed}
        full = _full(model, loaded.leads, spec, param, values[:timed]) * 100 / timed
        note = "" if timed == 100 else f" ({timed} values timed, x{100 // timed})"
        rows.append((label, len(loaded.leads), param, cached, full, note))
    print(f"| {'data':<16} | {'leads':>6} | {'param':<15} | cached s | full s | speed-up |")
    print(f"|{'-' * 18}|{'-' * 8}|{'-' * 17}|---------:|-------:|---------:|")
    for label, count, param, cached, full, note in rows:
        print(
            f"| {label:<16} | {count:>6} | {param:<15} | {cached:8.1f} | {full:6.1f} | "
            f"{full / cached:7.1f}x |{note}"
        )


if __name__ == "__main__":
    main()
