"""The `--fail-if` gate of `whatif`: a small expression over the report's
numbers (`mqls.delta_pct > 20 or proposed.mql_precision < 0.35`), read with
Python's parser and evaluated without `eval`."""

from __future__ import annotations

import ast as pyast
from typing import Any

from mqldsl.language.suggestions import did_you_mean


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
    names["changed_leads"] = float(report["changed_leads"])
    names["moved_leads"] = float(report.get("moved_leads", 0))
    return names


#: The metrics a gate may name (those of every what-if report's delta).
METRICS = (
    "mqls",
    "mql_precision",
    "buyer_recall",
    "sqls",
    "mql_to_sql",
    "sla_met",
    "median_hours_to_first_touch",
    "buyers",
    "median_hours_to_mql",
    "sdr_utilisation",
    "queue_length",
)


def check_expression(expression: str) -> None:
    """:class:`FailIfError` when ``expression`` cannot be read or names
    something no report has; before anything runs."""
    empty = {"base": None, "proposed": None, "diff": None, "diff_pct": None, "ci95": None}
    check_fail_if(expression, {"delta": {m: dict(empty) for m in METRICS}, "changed_leads": 0})


def fail_if_names(report: dict[str, Any]) -> list[str]:
    """The names an expression may use over this what-if report (JSON)."""
    return sorted(_names(report))


def check_fail_if(expression: str, report: dict[str, Any]) -> list[str]:
    """The parts of ``expression`` that hold (empty when the gate passes)."""
    try:
        tree = pyast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise FailIfError(f"--fail-if: cannot read `{expression}`: {exc.msg}") from None
    names = _names(report)

    def dotted(node: pyast.expr) -> str:
        if isinstance(node, pyast.Name):
            return node.id
        if isinstance(node, pyast.Attribute):
            return f"{dotted(node.value)}.{node.attr}"
        raise FailIfError(f"--fail-if: unexpected `{pyast.unparse(node)}`")

    def value(node: pyast.expr) -> Any:
        if isinstance(node, pyast.BoolOp):
            parts = [value(v) for v in node.values]
            return all(parts) if isinstance(node.op, pyast.And) else any(parts)
        if isinstance(node, pyast.UnaryOp):
            inner = value(node.operand)
            if isinstance(node.op, pyast.Not):
                return not inner
            if isinstance(node.op, pyast.USub) and inner is not None:
                return -inner
            raise FailIfError(f"--fail-if: unexpected `{pyast.unparse(node)}`")
        if isinstance(node, pyast.Compare):
            left = value(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = value(right_node)
                if left is None or right is None:
                    return False  # a metric with no data never trips the gate
                ok = {
                    pyast.Gt: left > right,
                    pyast.GtE: left >= right,
                    pyast.Lt: left < right,
                    pyast.LtE: left <= right,
                    pyast.Eq: left == right,
                    pyast.NotEq: left != right,
                }.get(type(op))
                if ok is None:
                    raise FailIfError(
                        f"--fail-if: unsupported comparison in `{pyast.unparse(node)}`"
                    )
                if not ok:
                    return False
                left = right
            return True
        if isinstance(node, pyast.BinOp) and isinstance(
            node.op, pyast.Add | pyast.Sub | pyast.Mult | pyast.Div
        ):
            a, b = value(node.left), value(node.right)
            if a is None or b is None:
                return None
            if isinstance(node.op, pyast.Add):
                return a + b
            if isinstance(node.op, pyast.Sub):
                return a - b
            if isinstance(node.op, pyast.Mult):
                return a * b
            return a / b if b else None
        if (
            isinstance(node, pyast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        ):
            return node.value
        if isinstance(node, pyast.Name | pyast.Attribute):
            name = dotted(node)
            if name not in names:
                close = did_you_mean(name, list(names))
                hint = f"; {close}" if close else "; see docs/reports.md for the names"
                raise FailIfError(f"--fail-if: unknown name `{name}`{hint}")
            return names[name]
        raise FailIfError(f"--fail-if: unexpected `{pyast.unparse(node)}`")

    body = tree.body
    parts = (
        body.values if isinstance(body, pyast.BoolOp) and isinstance(body.op, pyast.Or) else [body]
    )
    held = []
    for part in parts:
        if value(part):
            text = pyast.unparse(part)
            shown = ", ".join(f"{n} = {names[n]}" for n in sorted(names) if n in text)
            held.append(f"{text} ({shown})" if shown else text)
    return held


__all__ = ["METRICS", "FailIfError", "check_expression", "check_fail_if", "fail_if_names"]
