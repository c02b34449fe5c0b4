"""How fast `mqldsl check` is (issue: front end and checker targets).

Run by hand:  python benchmarks/check_speed.py
Prints a table: the whole `mqldsl check` process on the SPEC example policy
(well under a second), and checking a generated policy with 5,000 rules
(under a second), both as a whole process and in-process (parse + check).
Each figure is the best of several runs: this machine is shared, and the
minimum is the least disturbed measurement.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mqldsl.analysis.checker import check_text  # noqa: E402
from mqldsl.language.parser import parse_text  # noqa: E402


def big_policy(rules: int) -> str:
    """A realistic-looking policy with ``rules`` scoring rules over 20 scores."""
    roles = ", ".join(f"role_{i}" for i in range(30))
    lines = [
        'policy "Generated"',
        "effective 2026-12-01",
        "",
        "lead {",
        f"  role: enum({roles})",
        "  company_size: int",
        "  revenue: number",
        "  country: text",
        "  stack: set of text",
        "}",
        "",
        "event page_view { path: text }",
        "event content_download { kind: enum(case_study, guide, ebook) }",
        "event demo_request",
        "",
        "param threshold = 40",
        "",
    ]
    per_score = rules // 20
    for s in range(20):
        lines.append(f"score s{s} range -500 to 5000 {{")
        for r in range(per_score):
            k = s * per_score + r
            kind = k % 5
            if kind == 0:
                lines.append(
                    f"  +{k % 17 + 1} when company_size between {k % 300} and {k % 300 + 500}"
                )
            elif kind == 1:
                lines.append(f"  +{k % 13 + 1} when role in [role_{k % 30}, role_{(k + 7) % 30}]")
            elif kind == 2:
                lines.append(
                    f'  +{k % 7 + 1} per page_view where path starts with "/p{k % 50}" '
                    f"within {k % 30 + 1} days, max {k % 40 + 10}"
                )
            elif kind == 3:
                lines.append(
                    f"  -{k % 9 + 1} when no content_download where kind == guide within {k % 60 + 1} days"
                )
            else:
                lines.append(
                    f'  +{k % 11 + 1} when stack contains "t{k % 40}" and revenue > {k % 100}'
                )
        lines.append("}")
        lines.append("")
    total = " + ".join(f"s{s}" for s in range(20))
    lines += [
        f"score total = {total}",
        "",
        "stages {",
        "  visitor",
        "  mql when total >= threshold or demo_request within 30 days",
        "}",
    ]
    return "\n".join(lines) + "\n"


def whole_process(path: Path, runs: int, pycache: str | None = None) -> float:
    """Best wall time of `mqldsl check PATH` in a new process. With
    ``pycache``, Python may write its bytecode cache there (as it does for a
    user), and a first unmeasured run fills it; without, the environment is
    taken as it is (it may set PYTHONDONTWRITEBYTECODE, which makes every run
    compile mqldsl's modules from source)."""
    times = []
    env = {**os.environ}
    warmup = 0
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
        warmup = 1
    for run in range(warmup + runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mqldsl", "check", str(path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=False,
        )
        if run >= warmup:
            times.append(time.perf_counter() - start)
    return min(times)


def in_process(text: str, runs: int) -> tuple[float, float]:
    parse_times, check_times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        parse_text(text)
        parse_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        check_text(text)
        check_times.append(time.perf_counter() - start)
    return min(parse_times), min(check_times)


def main() -> None:
    acme = ROOT / "policies" / "acme.mql"
    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "big.mql"
        big.write_text(big_policy(5000), encoding="utf-8")
        check_text(acme.read_text())  # warm the grammar cache
        pycache = str(Path(folder) / "pycache")
        rows = [
            ("mqldsl check policies/acme.mql (whole process)", whole_process(acme, 10)),
            ("mqldsl check <5,000-rule policy> (whole process)", whole_process(big, 5)),
            (
                "mqldsl check <5,000-rule policy> (whole process, bytecode cached)",
                whole_process(big, 5, pycache),
            ),
        ]
        parse, check = in_process(acme.read_text(), 20)
        rows += [
            ("acme.mql: parse only (in process)", parse),
            ("acme.mql: parse + check (in process)", check),
        ]
        parse, check = in_process(big.read_text(), 5)
        rows += [
            ("5,000 rules: parse only (in process)", parse),
            ("5,000 rules: parse + check (in process)", check),
        ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measurement'.ljust(width)}  seconds")
    print(f"{'-' * width}  -------")
    for name, seconds in rows:
        print(f"{name.ljust(width)}  {seconds:7.3f}")


if __name__ == "__main__":
    main()
