"""The hand-written baseline of the benchmarks (benchmarks/baseline_acme.py)
writes the decisions `mqldsl score` writes, byte for byte: otherwise the
speed comparison of benchmarks/score_speed.py compares different work. Checked
here on generated Acme journeys at as-of instants before, inside and after the
journeys (events after the as-of instant, windows still open and closed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("baseline") / "acme.jsonl"
    subprocess.run(
        [sys.executable, "benchmarks/gen_acme_journeys.py", "--leads", "400", "-o", str(path)],
        cwd=ROOT,
        check=True,
    )
    return path


@pytest.mark.parametrize(
    "as_of",
    [
        "2026-11-01T00:00:00Z",
        "2026-10-03T12:00:00Z",
        "2026-08-05T00:00:00Z",
        "2027-01-15T00:00:00Z",
    ],
)
def test_baseline_writes_the_decisions_of_score(journeys: Path, as_of: str) -> None:
    code, ours, err = run(
        "score", str(ROOT / "policies" / "acme.mql"), str(journeys), "--as-of", as_of
    )
    assert code == 0, err
    base = subprocess.run(
        [sys.executable, "benchmarks/baseline_acme.py", str(journeys), "--as-of", as_of],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    assert ours.count("\n") == 400
    assert base == ours
