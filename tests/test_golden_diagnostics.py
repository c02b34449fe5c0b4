"""Golden files: each broken policy in tests/golden/syntax/ with the exact
output `mqldsl check` prints for it. Regenerate with `pytest --update-golden`
and review the diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqldsl.language.diagnostics import sort_diagnostics
from mqldsl.language.parser import CHECK_AFTER, parse_bytes

GOLDEN = Path(__file__).parent / "golden" / "syntax"
CASES = sorted(GOLDEN.glob("*.mql"))


def render(path: Path) -> str:
    result = parse_bytes(path.read_bytes(), path.name)
    diagnostics = sort_diagnostics(result.diagnostics)
    return "".join(d.render(result.source) + "\n" for d in diagnostics)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_diagnostics(path: Path, update_golden: bool) -> None:
    expected_file = path.with_suffix(".expected")
    actual = render(path)
    if update_golden:
        expected_file.write_text(actual, encoding="utf-8")
    assert actual, "a broken policy must produce diagnostics"
    assert expected_file.exists(), f"run pytest --update-golden to create {expected_file.name}"
    assert actual == expected_file.read_text(encoding="utf-8")


def test_every_golden_case_reports_errors_only_with_syntax_codes() -> None:
    for path in CASES:
        result = parse_bytes(path.read_bytes(), path.name)
        assert not result.ok, path.name
        assert all(d.code.startswith("E1") for d in result.diagnostics), path.name
        if result.policy is not None:
            # Only errors that leave a complete AST let the checker go on.
            assert {d.code for d in result.diagnostics} <= CHECK_AFTER, path.name
