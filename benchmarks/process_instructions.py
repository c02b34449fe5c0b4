"""`mqldsl score` against the hand-written baseline in machine instructions a lead, whole
process (reading, deciding, writing), counted by Valgrind: the ratio that other jobs on a
shared machine do not disturb. Run by hand, from the repository root (needs `valgrind`):

    python benchmarks/process_instructions.py [--leads 2000] [--branches]

Both commands run on the same generated Acme journeys, once with one lead and once with
``--leads``; the difference divided by the extra leads is the cost of a lead (start-up left
out). ``--branches`` adds Valgrind's cache and branch simulation (slower): branch
mispredictions and first-level cache misses a lead, which the instruction count does not
show and which make the time ratio larger than the instruction ratio
(docs/performance.md). Both processes run with Python's bytecode cache on, as installed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_util import ENV, PYTHON, ROOT, generate_acme, mqldsl, print_table

AS_OF = "2026-11-01T00:00:00Z"
_EVENTS = {
    "instructions": re.compile(r"I\s+refs:\s+([\d,]+)"),
    "branch mispredictions": re.compile(r"Mispredicts:\s+([\d,]+)"),
    "instruction-cache misses": re.compile(r"I1\s+misses:\s+([\d,]+)"),
    "data-cache misses": re.compile(r"D1\s+misses:\s+([\d,]+)"),
}


def counts(command: list[str], branches: bool) -> dict[str, int]:
    """Valgrind's totals for one run of ``command``."""
    simulate = "yes" if branches else "no"
    valgrind = ["valgrind", "--tool=cachegrind", f"--cache-sim={simulate}"]
    valgrind += [f"--branch-sim={simulate}", "--cachegrind-out-file=/dev/null"]
    done = subprocess.run(
        [*valgrind, *command], cwd=ROOT, env=ENV, capture_output=True, text=True, check=True
    )
    found = {}
    for name, pattern in _EVENTS.items():
        match = pattern.search(done.stderr)
        if match is not None:
            found[name] = int(match.group(1).replace(",", ""))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--branches", action="store_true", help="cache and branch simulation")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("process_instructions.py needs valgrind (apt-get install valgrind)", file=sys.stderr)
        raise SystemExit(2)
    with tempfile.TemporaryDirectory() as folder:
        many = Path(folder) / "acme.jsonl"
        generate_acme(args.leads, many)
        one = Path(folder) / "one.jsonl"
        one.write_text(many.read_text().splitlines()[0] + "\n")
        commands = {
            "baseline (hand-written)": [PYTHON, "benchmarks/baseline_acme.py"],
            "mqldsl score": mqldsl("score", "policies/acme.mql"),
        }
        per_lead: dict[str, dict[str, int]] = {}
        for name, command in commands.items():
            # (a first run writes the bytecode cache, as an installed package has it)
            subprocess.run([*command, str(one), "--as-of", AS_OF], cwd=ROOT, env=ENV, check=True,
                           capture_output=True)  # fmt: skip
            small = counts([*command, str(one), "--as-of", AS_OF], args.branches)
            large = counts([*command, str(many), "--as-of", AS_OF], args.branches)
            per_lead[name] = {k: (large[k] - small[k]) // (args.leads - 1) for k in large}
    base, ours = per_lead.values()
    rows = [(f"a lead, whole process ({args.leads:,} Acme leads)", "baseline / mqldsl / ratio")]
    for event in base:
        rows.append(
            (event, f"{base[event]:,} / {ours[event]:,} / {ours[event] / base[event]:.2f}x")
        )
    print_table(rows)


if __name__ == "__main__":
    main()
