"""Machine instructions per lead, counted by Valgrind, not timed: a figure that other jobs on a
shared machine do not disturb (its wall clock moves by tens of percent between two runs of the
same code), so two versions of the evaluator can be compared on one busy machine. Run by hand,
from the repository root (needs `valgrind`, e.g. `apt-get install valgrind`):

    python benchmarks/eval_instructions.py [--leads 1000] [--policy policies/acme.mql] [OTHER ...]

For this checkout and each OTHER checkout, decodes the same generated Acme journeys and counts
the instructions of the Python process (Valgrind's cachegrind, no cache simulation) three times:
reading only, reading and the lead-level work of the compiled evaluator (its ``_drive`` replaced
by a function that returns at once), reading and the whole evaluation. The differences divided
by the number of leads are the instructions a lead of each part. Instructions are not time
(memory stalls, branch misses), but the count of the same code on the same leads is the same on
every run, so a change that removes work shows however busy the machine is. Each count runs the
whole process under Valgrind (about 50 times slower): a few minutes for 1,000 leads.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_util import PYTHON, ROOT, generate_acme, print_table

# The child: reads the journeys, then does nothing more ("read"), the lead-level work ("setup")
# or the whole evaluation ("eval") of each lead.
CHILD = """
import sys, types
root, policy, mode, journeys, count = sys.argv[1:6]
sys.path.insert(0, root)
from mqldsl.analysis.checker import check_file
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import parse_instant
from mqldsl.io.journeys import JourneyReader
model = check_file(policy).model
as_of = parse_instant("2026-11-01T00:00:00Z")
leads = list(JourneyReader(model).read_jsonl(journeys))[: int(count)]
evaluate = Evaluator(model).compiled.evaluate
if mode == "setup":
    namespace = dict(evaluate.__globals__)
    namespace["_drive"] = lambda *args: None
    evaluate = types.FunctionType(evaluate.__code__, namespace, None, evaluate.__defaults__)
if mode != "read":
    for lead in leads:
        evaluate(lead, as_of, False)
"""

_COUNT = re.compile(r"I\s+refs:\s+([\d,]+)")


def instructions(root: Path, policy: Path, mode: str, journeys: Path, leads: int) -> int:
    """The instructions of one child process under cachegrind."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        PYTHON,
        "-c",
        CHILD,
        str(root),
        str(policy),
        mode,
        str(journeys),
        str(leads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = _COUNT.search(done.stderr)
    if found is None:  # pragma: no cover - a Valgrind without the summary line
        raise SystemExit(f"no instruction count in Valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--policy", default="policies/acme.mql", help="relative to a checkout")
    parser.add_argument("others", nargs="*", help="other checkouts to count the same way")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("eval_instructions.py needs valgrind (apt-get install valgrind)", file=sys.stderr)
        raise SystemExit(2)
    roots = [ROOT, *(Path(other).resolve() for other in args.others)]
    with tempfile.TemporaryDirectory() as folder:
        journeys = Path(folder) / "acme.jsonl"
        generate_acme(args.leads, journeys)
        rows = [("checkout", "evaluation / lead-level part, instructions a lead")]
        for root in roots:
            policy = root / args.policy
            read, setup, whole = (
                instructions(root, policy, mode, journeys, args.leads)
                for mode in ("read", "setup", "eval")
            )
            per_lead = (whole - read) // args.leads
            lead_level = (setup - read) // args.leads
            rows.append((str(root), f"{per_lead:,} / {lead_level:,}"))
    print_table(rows)


if __name__ == "__main__":
    main()
