"""Completion: what may be written where the cursor is.

- after `FIELD ==`, `FIELD !=`, `FIELD in [` (or `not in [`), `FIELD contains`, or
  `FIELD:` in an example's block, on a field whose type is an enum (or a set of one): the
  enum's members, and nothing else;
- after `route`, `recycle`, `expect stage` (or `expect stage in [`): the stages; after
  `route STAGE to` and `expect route`: the queues;
- anywhere else: the names in scope (lead fields, params, scores, events; inside an
  event's `where`, its own fields) and the language's keywords.

The context is read from the text before the cursor on its line, since the line being typed
rarely parses; the names come from the declarations, which error recovery keeps."""

from __future__ import annotations

import functools
import re

from lsprotocol import types as lsp

from mqldsl.language import ast
from mqldsl.language.notation import type_expr
from mqldsl.language.parser import grammar_text
from mqldsl.lsp.document import Analysis, analyse
from mqldsl.lsp.symbols import Declarations

_NAME = r"[a-z_][a-z0-9_]*"
_WORD_BEFORE = re.compile(rf"{_NAME}\Z")
_ENUM_AFTER = (
    re.compile(rf"(?:\baccount\.)?({_NAME})\s*(?:==|!=)\s*\Z"),
    re.compile(rf"(?:\baccount\.)?({_NAME})\s+(?:not\s+)?in\s*\[[^\]]*\Z"),
    re.compile(rf"(?:\baccount\.)?({_NAME})\s+contains\s*\Z"),
)
_ENTRY = re.compile(rf"({_NAME})\s*:\s*(?:\[[^\]]*)?\Z")
_BLOCK = re.compile(rf"\b({_NAME})\s*\{{[^{{}}]*\Z")
_WHERE = re.compile(rf"\b({_NAME})\s+where\b(?!.*\bwhere\b)")
_STAGE_AT = re.compile(
    rf"(?:^\s*route\s+|^\s*recycle\s+(?:{_NAME}\s+to\s+)?|\bexpect\s+stage\s+(?:in\s*\[[^\]]*)?)\Z"
)
_QUEUE_AT = re.compile(rf"(?:^\s*route\s+{_NAME}\s+to\s+|\bexpect\s+route\s+)\Z")


@functools.cache
def keywords() -> tuple[str, ...]:
    """The grammar's keywords (its quoted words)."""
    return tuple(sorted(set(re.findall(r'"([a-z_]+)"', grammar_text()))))


def known(analysis: Analysis, line: int, last_good: Declarations | None) -> Declarations:
    """The declarations to complete from. A document with a syntax error has no
    AST: the line being typed is usually the error, so the text without it is
    read; failing that, the declarations of the last version that parsed."""
    if analysis.policy is not None:
        return analysis.declared
    lines = analysis.text.split("\n")
    if 1 <= line <= len(lines):
        lines[line - 1] = ""
        again = analyse(analysis.uri, "\n".join(lines), analysis.units)
        if again.policy is not None:
            return again.declared
    return last_good if last_good is not None else analysis.declared


def complete(
    analysis: Analysis, line: int, column: int, last_good: Declarations | None = None
) -> list[lsp.CompletionItem]:
    """The completions at a position (1-based line and column in characters);
    ``last_good``: the declarations of the document's last version that parsed."""
    before = analysis.line_text(analysis.name, line)[: max(column - 1, 0)]
    word = _WORD_BEFORE.search(before)
    head = before[: word.start()] if word else before
    declared = known(analysis, line, last_good)
    members = _enum_members(declared, head, analysis, line)
    if members is not None:
        return [_item(m, lsp.CompletionItemKind.EnumMember, "enum member") for m in members]
    if _STAGE_AT.search(head):
        return [
            _item(name, lsp.CompletionItemKind.Class, stage.description or "stage")
            for name, stage in declared.stages.items()
        ]
    if _QUEUE_AT.search(head):
        return [_item(q, lsp.CompletionItemKind.Module, "queue") for q in declared.queues]
    return _in_scope(declared, head)


def _item(label: str, kind: lsp.CompletionItemKind, detail: str) -> lsp.CompletionItem:
    return lsp.CompletionItem(label=label, kind=kind, detail=detail)


def _enum_members(
    declared: Declarations, head: str, analysis: Analysis, line: int
) -> tuple[str, ...] | None:
    """The members to offer when the cursor is where a value of an enum field goes."""
    for pattern in _ENUM_AFTER:
        found = pattern.search(head)
        if found is not None:
            account = found.group(0).startswith("account.")
            where = _WHERE.search(head)
            decl = _field(declared, found.group(1), where.group(1) if where else None, account)
            return (declared.enum_of(decl) or None) if decl is not None else None
    entry = _ENTRY.search(head)
    if entry is None:
        return None
    block = _BLOCK.search(head[: entry.start()]) or _open_block(analysis, line)
    owner = block if isinstance(block, str) else block.group(1) if block else None
    if owner is None:
        return None
    if owner == "lead":
        decl = declared.fields.get(entry.group(1))
    elif owner == "account":
        decl = declared.account_fields.get(entry.group(1))
    else:
        decl = declared.event_fields(owner).get(entry.group(1))
    return (declared.enum_of(decl) or None) if decl is not None else None


def _open_block(analysis: Analysis, line: int) -> str | None:
    """The word before the last `{` still open above ``line`` (an example's
    `lead {` written over several lines)."""
    for number in range(line - 1, max(line - 30, 0), -1):
        text = analysis.line_text(analysis.name, number)
        if "}" in text:
            return None
        block = _BLOCK.search(text)
        if block is not None:
            return block.group(1)
    return None


def _field(
    declared: Declarations, name: str, event: str | None, account: bool
) -> ast.FieldDecl | None:
    if account:
        return declared.account_fields.get(name)
    return declared.event_fields(event).get(name) or declared.fields.get(name)


def _in_scope(declared: Declarations, head: str) -> list[lsp.CompletionItem]:
    items: list[lsp.CompletionItem] = []
    where = _WHERE.search(head)
    if where is not None:
        for name, decl in declared.event_fields(where.group(1)).items():
            detail = f"{type_expr(decl.type)} — field of {where.group(1)}"
            items.append(_item(name, lsp.CompletionItemKind.Field, detail))
    for name, decl in declared.fields.items():
        detail = f"{type_expr(decl.type)} — lead field"
        items.append(_item(name, lsp.CompletionItemKind.Field, detail))
    for name in declared.params:
        items.append(_item(name, lsp.CompletionItemKind.Constant, "param"))
    for name, score in declared.scores.items():
        items.append(_item(name, lsp.CompletionItemKind.Variable, score.description or "score"))
    for name, event in declared.events.items():
        items.append(_item(name, lsp.CompletionItemKind.Event, event.description or "event"))
    taken = {item.label for item in items}
    items += [
        _item(word, lsp.CompletionItemKind.Keyword, "keyword")
        for word in keywords()
        if word not in taken
    ]
    return items
