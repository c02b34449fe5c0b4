"""Param values: the type and value of a declared param
(:func:`param_value`), and a param set from the command line with
``--set NAME=VALUE`` (:func:`parse_param_override`)."""

from __future__ import annotations

import datetime as dt
import math
import re

from mqldsl.analysis import types as T
from mqldsl.analysis.durations import compact_duration, parse_duration
from mqldsl.analysis.model import CheckedPolicy, ParamInfo
from mqldsl.language import ast
from mqldsl.language.suggestions import did_you_mean


def param_value(node: ast.ParamValue) -> tuple[T.Type, object]:
    """The type and value of a param's declared value (a list: a tuple; a
    duration: the :class:`ast.Duration`)."""
    if isinstance(node, ast.Duration):
        return T.DURATION, ast.Duration(amount=node.amount, unit=node.unit)
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
    try:
        return name, _typed(model, info, text)
    except ParamOverrideError:
        raise
    except ValueError as exc:
        why = f" ({exc.args[0]})" if exc.args and exc.args[0] != text else ""
        raise ParamOverrideError(
            "E307",
            f"`{text}` is not a valid value for param `{name}`, which holds "
            f"{T.noun(info.type)}{why}",
            f"e.g. --set {name}={_example_value(info)}",
        ) from None


_DURATION_LIKE = re.compile(r"[0-9.]+\s*(m|h|d|w|(minute|hour|day|week|month|year)s?)")

#: Whole numbers a param may hold: the signed 64-bit range of the SQL back end's BIGINT.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


#: A whole number and a number as text (command lines, CSV cells, JSON strings): ASCII
#: digits only (Python's int() and float() also take `1_000`, `nan` and other scripts' digits).
WHOLE_TEXT = re.compile(r"[+-]?[0-9]+")
NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _not_a_number(text: str) -> str:
    """Why ``text``, which is not written as a number of ASCII digits, is refused."""
    try:
        value = float(text)
    except ValueError:
        return "not a number"
    if not math.isfinite(value):
        return "not a finite number"
    return "write a number with the digits 0-9 only"


def parse_number(text: str, whole: bool) -> int | float:
    """A finite number (``whole``: an int in the signed 64-bit range) from
    command-line text; ValueError naming what is wrong otherwise. `nan`,
    `inf` and values that overflow to infinity (`1e400`) are refused."""
    text = text.strip()
    if whole:
        if not WHOLE_TEXT.fullmatch(text):
            if NUMBER_TEXT.fullmatch(text):
                raise ValueError("write a whole number, without a decimal point or exponent")
            raise ValueError(_not_a_number(text))
        value = int(text)
        if not INT_MIN <= value <= INT_MAX:
            raise ValueError("outside the signed 64-bit range")
        return value
    if not NUMBER_TEXT.fullmatch(text):
        raise ValueError(_not_a_number(text))
    number = float(text)
    if math.isnan(number) or math.isinf(number):
        raise ValueError("not a finite number")
    if number.is_integer() and not any(c in text for c in ".eE"):
        if not INT_MIN <= int(text) <= INT_MAX:
            raise ValueError("outside the signed 64-bit range")
        return int(text)
    return number


def _typed(model: CheckedPolicy, info: ParamInfo, text: str) -> object:
    kind = info.type
    if kind.kind == "list":
        body = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        items = [item.strip() for item in body.split(",")]
        if items == [""]:
            items = []
        if any(not item for item in items):
            raise ValueError("an empty item")
        element = kind.element or T.ERROR
        return tuple(_item(model, info, element, item) for item in items)
    return _item(model, info, kind, text)


def _item(model: CheckedPolicy, info: ParamInfo, kind: T.Type, text: str) -> object:
    if kind.kind == "duration":
        return parse_duration(text)
    if kind.kind in ("int", "number"):
        if _DURATION_LIKE.fullmatch(text):
            raise ValueError("that is a duration; this param holds a number")
        return parse_number(text, kind.kind == "int")
    if kind.kind == "bool":
        if text not in ("true", "false"):
            raise ValueError(text)
        return text == "true"
    if kind.kind == "date":
        return dt.date.fromisoformat(text)
    if kind.kind == "text":
        if info.type.kind == "list" and len(text) >= 2 and text[0] == text[-1] == '"':
            return text[1:-1]
        return text
    if kind.kind == "member":
        if not text.isidentifier():
            raise ValueError(text)
        members = model.param_members.get(info.name)
        if members and text not in members:
            raise ParamOverrideError(
                "E307",
                f"`{text}` is not a member of the enum param `{info.name}` is compared with",
                did_you_mean(text, members) or "the members are " + ", ".join(members),
            )
        return text
    raise ValueError(text)


class ParamOverrideError(ValueError):
    def __init__(self, code: str, message: str, hint: str | None) -> None:
        self.code = code
        self.message = message
        self.hint = hint
        super().__init__(f"{message}" + (f"; {hint}" if hint else ""))


def _example_value(info: ParamInfo) -> str:
    value = info.value
    if isinstance(value, ast.Duration):
        return compact_duration(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "a,b"
    return str(value)
