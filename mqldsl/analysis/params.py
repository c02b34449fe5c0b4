"""Param values: the type and value of a declared param
(:func:`param_value`), and a param set from the command line with
``--set NAME=VALUE`` (:func:`parse_param_override`)."""

from __future__ import annotations

import datetime as dt

from mqldsl.analysis import types as T
from mqldsl.analysis.model import CheckedPolicy, ParamInfo
from mqldsl.language import ast
from mqldsl.language.suggestions import did_you_mean


def param_value(node: ast.Value) -> tuple[T.Type, object]:
    """The type and value of a param's declared value (a list: a tuple)."""
    if isinstance(node, ast.NumberLit):
        return (T.INT if isinstance(node.value, int) else T.NUMBER), node.value
    if isinstance(node, ast.StringLit):
        return T.TEXT, node.value
    if isinstance(node, ast.BoolLit):
        return T.BOOL, node.value
    if isinstance(node, ast.DateLit):
        return T.DATE, node.value
    if isinstance(node, ast.Name):
        return T.member(node.name), node.name
    if isinstance(node, ast.ListLit):
        kinds = [param_value(i) for i in node.items]  # type: ignore[arg-type]
        if any(k.kind in ("error", "list") for k, _ in kinds):
            return T.ERROR, None
        element = kinds[0][0] if kinds else T.ERROR
        if element.kind == "member":
            element = T.Type("member", member=None)
        return T.Type("list", element=element), tuple(v for _, v in kinds)
    return T.ERROR, None


def parse_param_override(model: CheckedPolicy, assignment: str) -> tuple[str, object]:
    """``NAME=VALUE`` from the command line (`--set`), typed like the param's
    declared value. Raises :class:`ParamOverrideError` with a coded message."""
    name, sep, text = assignment.partition("=")
    name, text = name.strip(), text.strip()
    if not sep or not name:
        raise ParamOverrideError("E307", f"`{assignment}` is not NAME=VALUE", None)
    info = model.params.get(name)
    if info is None:
        raise ParamOverrideError(
            "E204",
            f"unknown param `{name}`",
            did_you_mean(name, model.params)
            or (
                "the params are " + ", ".join(model.params)
                if model.params
                else "the policy has no params"
            ),
        )
    kind = info.type.kind
    try:
        if kind == "int":
            return name, int(text)
        if kind == "number":
            number = float(text)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(text)
            return name, int(number) if number.is_integer() and "." not in text else number
        if kind == "bool":
            if text not in ("true", "false"):
                raise ValueError(text)
            return name, text == "true"
        if kind == "date":
            return name, dt.date.fromisoformat(text)
        if kind == "text":
            return name, text
        if kind == "member":
            if not text.isidentifier():
                raise ValueError(text)
            return name, text
        if kind == "list":
            items = tuple(i.strip() for i in text.strip("[]").split(",") if i.strip())
            return name, items
    except ValueError:
        pass
    raise ParamOverrideError(
        "E307",
        f"`{text}` is not a valid value for param `{name}`, which holds {T.noun(info.type)}",
        f"e.g. --set {name}={_example_value(info)}",
    )


class ParamOverrideError(ValueError):
    def __init__(self, code: str, message: str, hint: str | None) -> None:
        self.code = code
        self.message = message
        self.hint = hint
        super().__init__(f"{message}" + (f"; {hint}" if hint else ""))


def _example_value(info: ParamInfo) -> str:
    value = info.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)
