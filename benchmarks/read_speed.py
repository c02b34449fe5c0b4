"""How fast journeys are read (issue #18, typed decoding): the validator alone against the
fast path (a msgspec schema generated from the policy, the validator as its fallback). Run
by hand:

    python benchmarks/read_speed.py [--leads 50000] [--repeat 3] [--score]

Generates Acme journeys with `mqldsl generate simulations/acme.toml` (about 30 events a
lead), reads them with both (best of ``--repeat`` runs each), checks that both give equal
leads and the same report, and prints a table (read as `score` reads: streaming): microseconds of reading per lead and per
event, and how many lines the fast path took (the rest were read by the validator). With
``--score``, also the whole `mqldsl score` process (as of 2026-11-01) with and without the fast
path, checking that both write the same bytes.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--journeys", help="an existing journeys file (Acme policy)")
    parser.add_argument("--score", action="store_true", help="also time `mqldsl score`")
    args = parser.parse_args()

    from mqldsl.analysis.checker import check_file
    from mqldsl.io.fastdecode import FastDecoder
    from mqldsl.io.journeys import JourneyReader, ReadReport, check_truth

    model = check_file(ROOT / "policies" / "acme.mql").model
    assert model is not None
    with tempfile.TemporaryDirectory() as folder:
        journeys = Path(args.journeys or Path(folder) / "acme.jsonl")
        if not args.journeys:
            command = [sys.executable, "-m", "mqldsl", "generate", "simulations/acme.toml"]
            command += ["--leads", str(args.leads), "-o", str(journeys)]
            subprocess.run(command, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
        lines = [line for line in journeys.read_bytes().splitlines() if line.strip()]
        decoder = FastDecoder.build(model, check_truth)
        assert decoder is not None
        taken = sum(1 for line in lines if decoder.lead(line, set()) is not None)

        # Equal leads and reports, compared lead by lead as both stream.
        reports = ReadReport(), ReadReport()
        pure = JourneyReader(model, reports[0], fast=False).read_jsonl(journeys)
        fast = JourneyReader(model, reports[1]).read_jsonl(journeys)
        count = events = 0
        for one, other in itertools.zip_longest(pure, fast):
            assert one == other, "the fast path read another lead"
            count += 1
            events += len(one.events)
        assert reports[0] == reports[1], "the fast path reported otherwise"

        # Timed as `score` reads: streaming, each lead dropped once used.
        times = {}
        for use_fast in (False, True):
            best = float("inf")
            for _ in range(args.repeat):
                gc.collect()
                start = time.perf_counter()
                for _lead in JourneyReader(model, ReadReport(), fast=use_fast).read_jsonl(journeys):
                    pass
                best = min(best, time.perf_counter() - start)
            times[use_fast] = best
        slow, quick = times[False], times[True]
        scored = whole_process(journeys, Path(folder)) if args.score else None

    print(f"{count:,} Acme leads, {events:,} events ({events / count:.1f} a lead)")
    print(f"fast path took {taken:,} of {len(lines):,} lines; the validator read the rest\n")
    print(f"{'reader':<38} {'s':>7} {'µs/lead':>9} {'µs/event':>9}")
    for name, seconds in (
        ("validator (JourneyReader fast=False)", slow),
        ("typed decoding + fallback (default)", quick),
    ):
        print(
            f"{name:<38} {seconds:7.2f} {seconds / count * 1e6:9.1f} {seconds / events * 1e6:9.2f}"
        )
    print(f"\nspeed-up: {slow / quick:.2f}x (best of {args.repeat} runs each)")
    if scored is not None:
        print(f"\n{'mqldsl score, whole process':<38} {'s':>7} {'µs/lead':>9}")
        for name, seconds in zip(
            ("validator alone", "typed decoding (default)"), scored, strict=True
        ):
            print(f"{name:<38} {seconds:7.2f} {seconds / count * 1e6:9.1f}")


# `mqldsl score` in a process of its own; with "pure", the fast path is switched off.
SCORE = """
import sys
from mqldsl.io import journeys
if sys.argv[1] == "pure":
    journeys.FastDecoder.build = lambda *a: None
from mqldsl.cli import main
sys.argv = ["mqldsl", "score", "policies/acme.mql", *sys.argv[2:]]
main()
"""


def whole_process(journeys: Path, folder: Path) -> tuple[float, float]:
    """Seconds of `mqldsl score` with the validator alone and with the fast path; the same
    bytes either way."""
    times, outputs = [], []
    for mode in ("pure", "fast"):
        output = folder / f"{mode}.jsonl"
        start = time.perf_counter()
        command = [sys.executable, "-c", SCORE, mode, str(journeys), "-o", str(output)]
        subprocess.run(
            [*command, "--as-of", "2026-11-01T00:00:00Z"],
            cwd=ROOT,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - start)
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1], "the fast path changed the decisions"
    return times[0], times[1]


if __name__ == "__main__":
    main()
