"""`pip install .` must give a working mqldsl that never reads the source
tree: the grammar ships inside the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.mark.slow
def test_wheel_ships_the_grammar_and_works_outside_the_source_tree(tmp_path: Path) -> None:
    if shutil.which("git") is None:  # pragma: no cover
        pytest.skip("git is needed to copy the tracked files")
    # Build from a copy of the tracked files, as from a fresh clone.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    for changed in subprocess.run(
        ["git", "ls-files", "--modified", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split():
        target = clone / changed
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / changed).is_file():
            shutil.copy2(ROOT / changed, target)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(wheels),
            str(clone),
        ],
        check=True,
    )
    wheel = next(wheels.glob("mqldsl-*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        assert "mqldsl/grammar/mqldsl.lark" in archive.namelist()
        # The report and document templates are package data too.
        assert "mqldsl/render/templates/reports/page.html.j2" in archive.namelist()
        archive.extractall(site)
    shutil.rmtree(clone)  # nothing may be read from a source tree
    policy = tmp_path / "p.mql"
    policy.write_text(
        'policy "x"\n\nevent a\nevent b\n\nstages {\n  visitor\n  mql when a ever or\n    b ever\n}\n'
    )
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    probe = f"import mqldsl, mqldsl.language.parser as p; print(mqldsl.__file__); print(p.parse_file({str(policy)!r}).ok)"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert out[0].startswith(str(site)), out
    assert out[1] == "True"
    result = subprocess.run(
        [sys.executable, "-m", "mqldsl", "check", str(policy)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
