"""The answers that change the text: formatting (what `mqldsl fmt` writes),
rename of a param, a score or a stage (every place it is written, in the
policy and the files it includes), and the quick fixes of the did-you-mean
hints (the misspelt name replaced by the one suggested)."""

from __future__ import annotations

import difflib
import re

from lsprotocol import types as lsp

from mqldsl.io.formatting import MeaningChanged, formatted
from mqldsl.language.diagnostics import Diagnostic
from mqldsl.language.includes import parse_any
from mqldsl.language.source import Span
from mqldsl.lsp.document import Analysis, analyse, encoded
from mqldsl.lsp.symbols import IDENTIFIER, RENAMEABLE, Occurrence, identifiers

_HINT = re.compile(r"did you mean `([a-z_][a-z0-9_]*)`\?")
_QUOTED = re.compile(r"`([a-z_][a-z0-9_]*)`")


class Refused(Exception):
    """A request the server declines, with the reason shown to the user."""


# ---------------------------------------------------------------- formatting


def formatting(analysis: Analysis) -> list[lsp.TextEdit]:
    """One edit that replaces the document by its canonical text; none when
    it is canonical already, or has a syntax error (as `mqldsl fmt` leaves
    such a file untouched)."""
    parsed = parse_any(encoded(analysis.text), analysis.name)
    if parsed.policy is None or any(d.is_error for d in parsed.diagnostics):
        return []
    try:
        text = formatted(parsed)
    except MeaningChanged:
        return []
    if text == analysis.text:
        return []
    return [lsp.TextEdit(range=whole(analysis), new_text=text)]


def whole(analysis: Analysis) -> lsp.Range:
    lines = analysis.text.split("\n")
    end = lsp.Position(line=len(lines) - 1, character=analysis.units.width(lines[-1]))
    return lsp.Range(start=lsp.Position(line=0, character=0), end=end)


# ---------------------------------------------------------------- rename


def rename_target(analysis: Analysis, line: int, column: int) -> Occurrence | None:
    """The name a rename at this position would change: a param, a score or
    a stage; None for anything else (a field, an event, a keyword, a space)."""
    occurrence = analysis.names.at(analysis.name, line, column)
    if occurrence is None or occurrence.symbol.kind not in RENAMEABLE:
        return None
    return occurrence


def rename(
    analysis: Analysis, line: int, column: int, new_name: str
) -> dict[str, list[lsp.TextEdit]]:
    """The edits, by file URI, that rename the param, score or stage at the
    position; :class:`Refused` when there is none, the new name is not a
    name, or the renamed policy would have an error it does not have now."""
    target = rename_target(analysis, line, column)
    if target is None:
        raise Refused("only a param, a score or a stage can be renamed")
    if not IDENTIFIER.match(new_name):
        raise Refused(f"`{new_name}` is not a name: lower-case letters, digits and `_`")
    occurrences = analysis.names.of(target.symbol)
    changes: dict[str, list[lsp.TextEdit]] = {}
    for o in occurrences:
        span = Span(o.file, o.line, o.column, o.line, o.end_column)
        edit = lsp.TextEdit(range=analysis.to_range(span), new_text=new_name)
        changes.setdefault(analysis.uri_for(o.file), []).append(edit)
    _verify(analysis, occurrences, new_name)
    return changes


def _verify(analysis: Analysis, occurrences: list[Occurrence], new_name: str) -> None:
    """Refuse a rename that would make the policy wrong (a name taken, a keyword where a
    name must stand): the renamed files are checked again, and may not have more errors."""
    texts = {analysis.uri_for(file): source.text for file, source in analysis.sources.items()}
    texts[analysis.uri] = analysis.text
    for file in {o.file for o in occurrences}:
        lines = texts[analysis.uri_for(file)].split("\n")
        mine = [o for o in occurrences if o.file == file]
        for o in sorted(mine, key=lambda o: (o.line, o.column), reverse=True):
            text = lines[o.line - 1]
            lines[o.line - 1] = text[: o.column - 1] + new_name + text[o.end_column - 1 :]
        texts[analysis.uri_for(file)] = "\n".join(lines)
    after = analyse(analysis.uri, texts[analysis.uri], analysis.units, texts.get)
    before = [d for d in analysis.diagnostics if d.is_error]
    errors = [d for d in after.diagnostics if d.is_error]
    if len(errors) > len(before):
        known = {(d.code, d.message) for d in before}
        first = next((d for d in errors if (d.code, d.message) not in known), errors[0])
        raise Refused(f"renaming to `{new_name}` would give error {first.code}: {first.message}")


# ---------------------------------------------------------------- code actions


def code_actions(analysis: Analysis, wanted: lsp.Range) -> list[lsp.CodeAction]:
    """A quick fix for each diagnostic in ``wanted`` whose hint suggests a
    name: the misspelt name replaced by the suggestion."""
    actions: list[lsp.CodeAction] = []
    for diagnostic in analysis.diagnostics:
        if diagnostic.span.file != analysis.name:
            continue
        found = _fix(analysis, diagnostic)
        if found is None:
            continue
        span, wrong, right = found
        diagnostic_range = analysis.to_range(diagnostic.span)
        if not _overlaps(diagnostic_range, wanted):
            continue
        edit = lsp.TextEdit(range=analysis.to_range(span), new_text=right)
        actions.append(
            lsp.CodeAction(
                title=f"Replace `{wrong}` with `{right}`",
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[analysis.lsp_diagnostic(diagnostic)],
                edit=lsp.WorkspaceEdit(changes={analysis.uri: [edit]}),
                is_preferred=True,
            )
        )
    return actions


def _fix(analysis: Analysis, diagnostic: Diagnostic) -> tuple[Span, str, str] | None:
    """Where the misspelt name is written, the name, and the suggestion. The
    misspelt name is the quoted word of the message most like the suggestion
    ("unknown field of event `content_download` `knd`": `knd`)."""
    hint = _HINT.search(diagnostic.hint or "")
    if hint is None:
        return None
    right = hint.group(1)
    quoted = [w for w in _QUOTED.findall(diagnostic.message) if w != right]
    if not quoted:
        return None
    wrong = max(quoted, key=lambda w: difflib.SequenceMatcher(None, w, right).ratio())
    for word, line, column, end in identifiers(analysis.source, diagnostic.span):
        if word == wrong:
            return Span(analysis.name, line, column, line, end), word, right
    return None


def _overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    def key(p: lsp.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)
