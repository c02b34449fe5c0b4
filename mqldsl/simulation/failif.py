"""The `--fail-if` gate of `whatif`: a small expression over the report's
numbers (`mqls.delta_pct > 20 or proposed.mql_precision < 0.35`), read with
Python's parser and evaluated without `eval`."""

from __future__ import annotations

import ast as pyast
from collections.abc import Sequence
from typing import Any

from mqldsl.language.suggestions import did_you_mean
from mqldsl.simulation import gates


class FailIfError(ValueError):
    """An expression the gate cannot read; the message says why."""


def _names(report: dict[str, Any]) -> dict[str, float | None]:
    names: dict[str, float | None] = {}
    for metric, values in report["delta"].items():
        names[f"{metric}.delta"] = values["diff"]
        names[f"{metric}.delta_pct"] = values["diff_pct"]
        names[f"{metric}.base"] = values["base"]
        names[f"{metric}.proposed"] = values["proposed"]
        names[f"base.{metric}"] = values["base"]
        names[f"proposed.{metric}"] = values["proposed"]
        interval = values["ci95"]
        names[f"{metric}.ci_low"] = interval[0] if interval else None
        names[f"{metric}.ci_high"] = interval[1] if interval else None
        prediction = values.get("pi95")
        names[f"{metric}.pi_low"] = prediction[0] if prediction else None
        names[f"{metric}.pi_high"] = prediction[1] if prediction else None
    names["changed_leads"] = report["changed_leads"]  # (counts: shown as whole numbers)
    names["moved_leads"] = report.get("moved_leads", 0)
    return names


def check_expression(expression: str, metrics: Sequence[str]) -> None:
    """:class:`FailIfError` when ``expression`` cannot be read or names
    something no report has (``metrics``: those every what-if report compares);
    before anything runs."""
    empty = {"base": None, "proposed": None, "diff": None, "diff_pct": None, "ci95": None}
    check_fail_if(expression, {"delta": {m: dict(empty) for m in metrics}, "changed_leads": 0})


def fail_if_names(report: dict[str, Any]) -> list[str]:
    """The names an expression may use over this what-if report (JSON)."""
    return sorted(_names(report))


def check_fail_if(expression: str, report: dict[str, Any]) -> list[str]:
    """The parts of ``expression`` (between its top-level `or`s) that hold (empty when the
    gate passes), each with the values it read."""

    def problem(message: str) -> FailIfError:
        return FailIfError(f"--fail-if: {message}")

    tree = gates.parse(expression, problem)
    names = _names(report)

    def lookup(node: pyast.expr) -> Any:
        name = gates.dotted(node, problem)
        if name not in names:
            close = did_you_mean(name, list(names))
            hint = f"; {close}" if close else "; see docs/reports.md for the names"
            raise problem(f"unknown name `{name}`{hint}")
        return names[name]

    held = []
    for part in gates.top_parts(tree, pyast.Or):
        if gates.holds(gates.evaluate(part, lookup, problem)):
            text = pyast.unparse(part)
            shown = ", ".join(f"{n} = {names[n]}" for n in sorted(names) if n in text)
            held.append(f"{text} ({shown})" if shown else text)
    return held


def no_data_names(expression: str, report: dict[str, Any]) -> list[str]:
    """The names ``expression`` reads that have no value in this report (a metric without
    data, an interval a single run has not): the comparisons with them are unknown, and an
    unknown never holds, so a gate of only such names always passes: the verdict says so."""
    names = _names(report)

    def problem(message: str) -> FailIfError:
        return FailIfError(f"--fail-if: {message}")

    tree = gates.parse(expression, problem)
    found = set()
    for node in pyast.walk(tree):
        if isinstance(node, pyast.Attribute | pyast.Name):
            try:
                name = gates.dotted(node, problem)
            except FailIfError:
                continue
            if name in names and names[name] is None:
                found.add(name)
    return sorted(found)


__all__ = ["FailIfError", "check_expression", "check_fail_if", "fail_if_names", "no_data_names"]
