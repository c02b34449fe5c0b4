"""What the benchmark scripts share: running a command as a child process
(wall time and the child's own peak memory) and printing a table."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The environment of the processes timed: Python's bytecode cache on, as after an install
# (with PYTHONDONTWRITEBYTECODE set, every process would compile each module of the package
# again, about 0.3 s, which no installed mqldsl does).
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def mqldsl(*args: str) -> list[str]:
    """The command line of ``mqldsl ARGS`` with this interpreter (the worktree's code
    when run with PYTHONPATH set to it)."""
    return [PYTHON, "-m", "mqldsl", *args]


def run(
    command: list[str],
    output: Path | None = None,
    *,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> tuple[float, float]:
    """Run ``command`` from ``cwd`` (the repository root), with ``env`` (or :data:`ENV`), its
    standard output to ``output`` (or discarded); (wall seconds, the child's peak resident
    memory in MB, from its own rusage). Fails loudly when the command fails."""
    elapsed, usage = _run(command, output, cwd, env)
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KB on Linux


def run_cpu(
    command: list[str],
    output: Path | None = None,
    *,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> tuple[float, float]:
    """As :func:`run`, but (wall seconds, the child's CPU seconds, user and system): on a
    shared machine the CPU time is disturbed less by other jobs than the wall clock."""
    elapsed, usage = _run(command, output, cwd, env)
    return elapsed, usage.ru_utime + usage.ru_stime


def _run(
    command: list[str], output: Path | None, cwd: Path, env: dict[str, str] | None
) -> tuple[float, resource.struct_rusage]:
    start = time.perf_counter()
    with open(output or os.devnull, "wb") as sink:
        child = subprocess.Popen(
            command, cwd=cwd, env=env or ENV, stdout=sink, stderr=subprocess.PIPE
        )
        assert child.stderr is not None
        errors = child.stderr.read()  # small: summaries and progress
        _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.stderr.write(errors.decode(errors="replace"))
        raise SystemExit(f"failed ({child.returncode}): {' '.join(command)}")
    return elapsed, usage


def generate_acme(leads: int, path: Path) -> None:
    """Write ``leads`` generated Acme journeys to ``path`` (gen_acme_journeys.py: seeded, the
    same file every time)."""
    command = [PYTHON, "benchmarks/gen_acme_journeys.py", "--leads", str(leads), "-o", str(path)]
    subprocess.run(command, cwd=ROOT, check=True)


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


def per_thousand(seconds: float, evaluations: int) -> str:
    return f"{seconds / evaluations * 1000 * 1000:.1f} ms per 1,000 lead-evaluations"
