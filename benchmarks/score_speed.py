"""How fast `mqldsl score` is, against the hand-written baseline (issue:
compiled evaluator). Run by hand:

    python benchmarks/score_speed.py [--leads 100000]

Generates Acme journeys (about 30 events a lead), then prints a table: the
whole `mqldsl score` process against benchmarks/baseline_acme.py on the same
file (and checks that both write the same decisions, byte for byte),
evaluation-only microseconds per lead (the baseline's, `score`'s fused path, and
`Evaluator.decide` with flexible and with locked stages), and --jobs 2. The machine is shared:
run it when nothing else runs, and take the best of a few runs.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_util import ENV, generate_acme

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
AS_OF = "2026-11-01T00:00:00Z"


def timed(command: list[str], output: Path | None = None) -> float:
    start = time.perf_counter()
    with open(output, "wb") if output else open("/dev/null", "wb") as sink:
        subprocess.run(
            command, cwd=ROOT, env=ENV, check=True, stdout=sink, stderr=subprocess.DEVNULL
        )
    return time.perf_counter() - start


def evaluation_only(policy: Path, journeys: Path) -> tuple[float, int]:
    from mqldsl.analysis.checker import check_file
    from mqldsl.engine.evaluator import Evaluator
    from mqldsl.engine.runtime import parse_instant
    from mqldsl.io.journeys import JourneyReader

    model = check_file(policy).model
    assert model is not None
    leads = list(JourneyReader(model).read_jsonl(journeys))
    evaluator = Evaluator(model)
    as_of = parse_instant(AS_OF)
    gc.collect()
    gc.freeze()  # the decoded leads are not rescanned by the collector, as when streaming
    start = time.perf_counter()
    for lead in leads:
        evaluator.decide(lead, as_of)
    elapsed = time.perf_counter() - start
    gc.unfreeze()
    return elapsed, len(leads)


def fused_evaluation_only(policy: Path, journeys: Path) -> float:
    """Seconds `score`'s fused function (mqldsl/engine/fused.py) spends deciding the leads
    and writing their lines, from records decoded beforehand."""
    from mqldsl.analysis.checker import check_file
    from mqldsl.engine.evaluator import Evaluator
    from mqldsl.engine.runtime import parse_instant
    from mqldsl.io.decisionlines import DecisionEncoder
    from mqldsl.io.journeys import JourneyReader

    model = check_file(policy).model
    assert model is not None
    reader = JourneyReader(model)
    assert reader.schema is not None
    fused = Evaluator(model).fused(reader.schema, DecisionEncoder().walked_line)
    assert fused is not None
    parts = [item for item in reader.read_parts(journeys) if isinstance(item, tuple)]
    as_of = parse_instant(AS_OF)
    gc.collect()
    gc.freeze()
    start = time.perf_counter()
    for item in parts:
        fused(*item, as_of)
    elapsed = time.perf_counter() - start
    gc.unfreeze()
    return elapsed


def baseline_evaluation_only(journeys: Path) -> float:
    """Seconds the hand-written baseline spends deciding the leads, decoded beforehand."""
    import datetime as dt

    import msgspec

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import baseline_acme

    decode = msgspec.json.Decoder(baseline_acme.Journey).decode
    leads = [decode(line) for line in journeys.open("rb")]
    as_of = dt.datetime.fromisoformat(AS_OF).timestamp()
    gc.collect()
    gc.freeze()  # as for mqldsl
    start = time.perf_counter()
    for lead in leads:
        baseline_acme.decide(lead, as_of)
    elapsed = time.perf_counter() - start
    gc.unfreeze()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        journeys = work / "acme.jsonl"
        generate_acme(args.leads, journeys)
        events = sum(line.count('"type"') for line in journeys.open())
        acme = ROOT / "policies" / "acme.mql"
        locked = work / "acme_locked.mql"
        locked.write_text(acme.read_text().replace("stages {", "stages locked {"))
        score = [python, "-m", "mqldsl", "score", str(acme), str(journeys), "--as-of", AS_OF]
        ours = timed(score, work / "ours.jsonl")
        base = timed(
            [python, "benchmarks/baseline_acme.py", str(journeys), "--as-of", AS_OF],
            work / "base.jsonl",
        )
        same = (work / "ours.jsonl").read_bytes() == (work / "base.jsonl").read_bytes()
        jobs = timed([*score, "--jobs", "2", "-o", str(work / "jobs.jsonl")])
        same_jobs = (work / "jobs.jsonl").read_bytes() == (work / "ours.jsonl").read_bytes()
        locked_run = timed(
            [python, "-m", "mqldsl", "score", str(locked), str(journeys), "--as-of", AS_OF]
        )
        flexible_eval, count = evaluation_only(acme, journeys)
        locked_eval, _ = evaluation_only(locked, journeys)
        base_eval = baseline_evaluation_only(journeys)
        fused_eval = fused_evaluation_only(acme, journeys)
    rows = [
        ("leads / events", f"{args.leads:,} / {events:,}"),
        ("baseline (hand-written Python), whole process", f"{base:.1f} s"),
        ("mqldsl score, whole process", f"{ours:.1f} s"),
        ("ratio mqldsl / baseline", f"{ours / base:.2f}x"),
        ("same decisions as the baseline", "yes" if same else "NO"),
        ("mqldsl score --jobs 2, whole process", f"{jobs:.1f} s"),
        ("same decisions with --jobs 2", "yes" if same_jobs else "NO"),
        ("mqldsl score, stages locked, whole process", f"{locked_run:.1f} s"),
        ("baseline, evaluation only (writing included)", f"{base_eval / count * 1e6:.0f} µs/lead"),
        (
            "evaluation only, score's fused path (writing included)",
            f"{fused_eval / count * 1e6:.0f} µs/lead",
        ),
        ("evaluation only, flexible", f"{flexible_eval / count * 1e6:.0f} µs/lead"),
        ("evaluation only, locked", f"{locked_eval / count * 1e6:.0f} µs/lead"),
        ("locked / flexible", f"{locked_eval / flexible_eval:.2f}x"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
