"""docs/errors.md documents every code: each snippet yields exactly its code
and the output shown, and every code the package can emit is documented."""

from __future__ import annotations

import re

import pytest

from mqldsl.analysis.checker import check_text
from mqldsl.analysis.solver.deep import DEEP_CODES, deep_lints
from mqldsl.io.problems import DATA_CODES
from mqldsl.language.diagnostics import CODES, sort_diagnostics
from mqldsl.warehouse.compiler import sql_diagnostics

from .conftest import ROOT

DOC = ROOT / "docs" / "errors.md"
SECTION = re.compile(r"^## ([EW]\d{3}) — .*?(?=^## |\Z)", re.M | re.S)
SNIPPET = re.compile(r"```mql\n(.*?)```", re.S)
OUTPUT = re.compile(r"```text\n(.*?)```", re.S)
# a file that cannot be read; an included file's content (two files); a calendar with ten
# years of holidays
NO_SNIPPET = {"E100", "E116", "W509", "E334"}


def sections() -> dict[str, str]:
    return {m.group(1): m.group(0) for m in SECTION.finditer(DOC.read_text(encoding="utf-8"))}


def render(snippet: str, deep: bool = False) -> tuple[list[str], str]:
    """What `mqldsl check` reports (``deep``: `check --deep`, for W520-W524); for a policy
    without errors that the SQL back end refuses, what `mqldsl sql` reports (E6xx)."""
    result = check_text(snippet, "example.mql")
    diagnostics = list(result.diagnostics)
    if deep and result.model is not None:
        diagnostics = sort_diagnostics(
            [*diagnostics, *deep_lints(result.model, diagnostics).diagnostics]
        )
    if result.model is not None and not any(d.is_error for d in diagnostics):
        diagnostics = sql_diagnostics(result.model) or diagnostics
    output = "".join(d.render(result.source) + "\n" for d in diagnostics)
    return [d.code for d in diagnostics], output


def test_every_code_is_documented_in_order() -> None:
    documented = list(sections())
    assert documented == list(CODES) + list(DATA_CODES)


def test_every_data_code_says_what_to_do() -> None:
    """Problems in journeys, tables, mappings, scenarios, command lines and outputs (no policy
    snippet): each section shows what mqldsl prints and what to do about it."""
    for code in DATA_CODES:
        section = sections()[code]
        assert OUTPUT.search(section), f"{code} has no ```text block of what mqldsl prints"
        assert f"error[{code}]" in section or code in NO_POSITION, code
        assert "**Fix:**" in section, f"{code} does not say how to fix it"


def test_every_code_the_package_emits_is_in_the_registry() -> None:
    emitted: set[str] = set()
    for path in (ROOT / "mqldsl").rglob("*.py"):
        if path.name in ("diagnostics.py", "problems.py"):  # the registries themselves
            continue
        emitted.update(re.findall(r'"([EW]\d{3})"', path.read_text(encoding="utf-8")))
    registered = set(CODES) | set(DATA_CODES)
    assert emitted <= registered, emitted - registered
    assert registered - emitted == set(), "documented codes that nothing emits"


# Data codes whose message names no record (a whole file or the command line).
NO_POSITION: set[str] = set()


@pytest.mark.parametrize("code", [c for c in CODES if c not in NO_SNIPPET])
def test_documented_snippet_yields_exactly_its_code(code: str, update_golden: bool) -> None:
    section = sections()[code]
    snippet = SNIPPET.search(section)
    assert snippet, f"{code} has no ```mql snippet"
    codes, output = render(snippet.group(1), deep=code in DEEP_CODES)
    if code.startswith("E"):
        assert {c for c in codes if c.startswith("E")} == {code}, output
    else:
        assert set(codes) == {code}, output
    shown = OUTPUT.search(section)
    assert shown, f"{code} has no ```text output block"
    if update_golden:
        text = DOC.read_text(encoding="utf-8")
        start = text.index(section)
        block_start = start + shown.start(1)
        block_end = start + shown.end(1)
        DOC.write_text(text[:block_start] + output + text[block_end:], encoding="utf-8")
    else:
        assert shown.group(1) == output
