"""docs/api.md is a notebook session: every example on it runs here, from the repository's
root, and its printed output must match (doctest)."""

from __future__ import annotations

import doctest

import pytest

from .conftest import ROOT


def test_api_page_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    failures, attempted = doctest.testfile(
        str(ROOT / "docs" / "api.md"),
        module_relative=False,
        optionflags=doctest.ELLIPSIS,
        verbose=False,
        report=True,
    )
    assert attempted >= 25, f"only {attempted} examples found on docs/api.md"
    assert failures == 0, f"{failures} of {attempted} examples on docs/api.md failed (see above)"


def test_the_front_door_exports_only_documented_functions() -> None:
    import mqldsl

    text = (ROOT / "docs" / "api.md").read_text()
    for name in mqldsl.__all__:
        if name.startswith("__"):
            continue
        assert f"`{name}" in text or f"`mqldsl.{name}" in text, (
            f"mqldsl.{name} is not on docs/api.md"
        )
        assert getattr(mqldsl, name).__doc__, f"mqldsl.{name} has no docstring"


def test_import_mqldsl_loads_no_library_until_used() -> None:
    """The command line starts fast: importing the package loads nothing heavy."""
    import subprocess
    import sys

    probe = "import sys, mqldsl; print(sorted(m for m in sys.modules if m.startswith(('mqldsl.', 'duckdb', 'sqlglot', 'jinja2'))))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_lazy_exports_are_the_api() -> None:
    import mqldsl
    from mqldsl import api

    assert set(mqldsl.__all__) - {"__version__"} == set(api.__all__)
