"""`tune -o NEW.mql` (docs/tune.md): the policy with the chosen values, its `version`
increased by one, and nothing else changed: only the characters of the param values and the
version number (and, when NEW.mql is in another folder, the paths of its `include` lines, so
that they still name the same files) are rewritten; comments and layout stay byte for byte."""

from __future__ import annotations

import datetime as dt
import math
import os
import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mqldsl.analysis.checker import check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.io.errors import InputProblem, UsageProblem
from mqldsl.language import ast
from mqldsl.language.notation import string
from mqldsl.language.source import Span


def tuned_policy_text(
    model: CheckedPolicy, values: Mapping[str, Any], output: str | os.PathLike[str] | None = None
) -> str:
    """The policy's text with the params set to ``values`` (the tuned ones and the `--set`
    ones: the figures of the report are those of this policy) and its `version` increased by
    one (added after the title when there is none). Written as ``output``: an `include` path
    is rewritten to name the same file from ``output``'s folder."""
    text = model.source.text
    starts = _offsets(text)

    def where(span: Span) -> tuple[int, int]:
        return (
            starts[span.line - 1] + span.column - 1,
            starts[span.end_line - 1] + span.end_column - 1,
        )

    check_writable(model, values)
    edits: list[tuple[int, int, str]] = []
    for name, value in values.items():
        info = model.params[name]
        span = info.node.value.span
        edits.append((*where(span), _show(value, info.type.kind, info.type.element)))
    version = model.policy.first(ast.Version)
    if version is not None:
        number = version.number
        bumped = number + 1 if isinstance(number, int) else math.floor(number) + 1
        begin, end = where(version.span)
        edits.append((begin, end, f"version {bumped}"))
    else:
        title = model.policy.first(ast.PolicyTitle)
        line = title.span.end_line if title is not None else 0
        at = starts[line] if line < len(starts) else len(text)
        edits.append((at, at, "version 1\n"))
    if output is not None:
        edits += _moved_includes(model, Path(output), where)
    for begin, end, new in sorted(edits, reverse=True):
        text = text[:begin] + new + text[end:]
    return text


def check_writable(model: CheckedPolicy, names: Iterable[str]) -> None:
    """:class:`UsageProblem` (``-o``) when one of the params ``names`` (tuned, or given with
    `--set`) is declared in an included file: `-o` writes the policy file only. Checked
    before the search, so that it does not end in the refusal."""
    for name in names:
        if name not in model.params:
            continue  # (an unknown name is the search's to refuse, with its did-you-mean)
        span = model.params[name].node.value.span
        if span.file != model.source.name:
            raise UsageProblem(
                f"param `{name}` is declared in the included file {span.file}: `-o` writes "
                "the policy file only; tune without -o and set the value in that file",
                "-o",
            )


def _moved_includes(model: CheckedPolicy, output: Path, where: Any) -> list[tuple[int, int, str]]:
    """The `include` lines of the policy file, their paths made relative to ``output``'s
    folder when it is not the policy's own (SPEC §3.1: a path is relative to the file that
    includes it)."""
    source = Path(model.source.name)
    old, new = source.resolve().parent, output.resolve().parent
    if old == new:
        return []
    edits = []
    for item in model.policy.items:
        if isinstance(item, ast.Include) and item.span.file == model.source.name:
            target = old / Path(*item.path.split("/"))
            moved = Path(os.path.relpath(target, new)).as_posix()
            edits.append((*where(item.span), f"include {string(posixpath.normpath(moved))}"))
    return edits


def _offsets(text: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts


def _show(value: Any, kind: str, element: Any = None) -> str:
    """A param value as the policy writes it, keeping its type: a `number` param keeps a
    decimal point (`55.0`), so that the tuned policy declares the same type as before; text in
    quotes, enum members and true/false bare, a list in brackets, a date as a date."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value)}.0" if kind == "number" else str(int(value))
    if kind == "number" and isinstance(value, int):
        return f"{value}.0"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, frozenset | tuple | list):
        items = sorted(value) if isinstance(value, frozenset) else list(value)
        inner = getattr(element, "kind", None)
        return "[" + ", ".join(_show(item, inner or "text") for item in items) + "]"
    if isinstance(value, str):
        return string(value) if kind == "text" else value
    return str(value)  # a number, or a duration as the policy writes it (`14 days`)


def checked_text(text: str, name: str) -> CheckedPolicy:
    """The checked model of the proposed policy; :class:`InputProblem` if it
    does not check clean (a bug in the rewrite, never expected)."""
    result = check_text(text, name)
    if result.model is None:
        raise InputProblem(
            [f"{name}: the proposed policy does not check:"]
            + [d.render(result.source) for d in result.diagnostics if d.is_error]
        )
    return result.model


__all__ = ["check_writable", "checked_text", "tuned_policy_text"]
