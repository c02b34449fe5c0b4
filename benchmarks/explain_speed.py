"""How much an explanation costs (issue: explanations; target under 1 ms a lead). Run by hand:

    python benchmarks/explain_speed.py [--leads 1000] [--scenario simulations/acme.toml]

Generates LEADS journeys of a shipped scenario, then prints milliseconds per lead for: the
decision alone (the compiled evaluator); the decision with the engine's explanation data
(scores at every change, each rule's points) and the typed explanation built from it; the
same rendered as text and as JSON; and, as the baseline, the explanation built from the
reference interpreter's result (the obvious way to write it: re-evaluate everything from
scratch at every instant). The decisions are checked equal first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def per_lead(count: int, work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--scenario", default="simulations/acme.toml")
    args = parser.parse_args()

    from mqldsl.analysis.checker import check_file
    from mqldsl.engine.evaluator import Evaluator
    from mqldsl.engine.explain import explain
    from mqldsl.engine.interpreter import Interpreter
    from mqldsl.io.journeys import JourneyReader
    from mqldsl.render.explanation import outline, render_explanation

    scenario = ROOT / args.scenario
    policy_line = next(
        line for line in scenario.read_text().splitlines() if line.startswith("policy")
    )
    policy = (scenario.parent / json.loads(policy_line.split("=", 1)[1].strip())).resolve()
    with tempfile.TemporaryDirectory() as folder:
        journeys = Path(folder) / "j.jsonl"
        command = [sys.executable, "-m", "mqldsl", "generate", str(scenario)]
        command += ["-o", str(journeys), "--leads", str(args.leads), "--seed", "1"]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        model = check_file(policy).model
        assert model is not None
        leads = list(JourneyReader(model).read_jsonl(journeys))
    evaluator = Evaluator(model)
    interpreter = Interpreter(model)
    from mqldsl.engine.runtime import parse_instant

    as_of = parse_instant("2026-12-01T00:00:00Z")
    n = len(leads)
    for lead in leads[:200]:
        fast = evaluator.decide(lead, as_of).to_json()
        assert fast == interpreter.decide(lead, as_of).to_json()
    results = [evaluator.run(lead, as_of, explain=True) for lead in leads]
    built = [explain(model, lead, r) for lead, r in zip(leads, results, strict=True)]
    rows = [
        (
            "decision only (compiled)",
            per_lead(n, lambda: [evaluator.decide(x, as_of) for x in leads]),
        ),
        (
            "decision + explanation data + typed explanation",
            per_lead(
                n,
                lambda: [explain(model, x, evaluator.run(x, as_of, explain=True)) for x in leads],
            ),
        ),
        (
            "  of which: render as text",
            per_lead(n, lambda: [render_explanation(outline(b), "text") for b in built]),
        ),
        ("  of which: as JSON", per_lead(n, lambda: [json.dumps(b.to_json()) for b in built])),
        (
            "baseline: explanation from the interpreter",
            per_lead(n, lambda: [explain(model, x, interpreter.result(x, as_of)) for x in leads]),
        ),
    ]
    events = sum(len(lead.events) for lead in leads) / n
    print(f"{n} leads of {args.scenario} ({events:.1f} events a lead), policy {policy.name}")
    print(f"{'what':<52} {'ms a lead':>10}")
    for name, ms in rows:
        print(f"{name:<52} {ms:>10.3f}")


if __name__ == "__main__":
    main()
