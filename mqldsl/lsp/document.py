"""One open document, analysed: checked as `mqldsl check` checks its file
(includes read relative to its path, from the editor's buffer when the
included file is open there), its diagnostics in LSP form, the names it
declares and where each is written; and the conversion between the
checker's positions (1-based lines and columns counted in characters) and
the protocol's (0-based, in the code units the client and server agreed on).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp

from mqldsl.analysis.checker import CheckResult, check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic, sort_diagnostics
from mqldsl.language.includes import headerless
from mqldsl.language.parser import parse_bytes, parse_text, read_policy
from mqldsl.language.source import Source, Span
from mqldsl.lsp.symbols import Declarations, Index, declarations, index

SOURCE = "mqldsl"


def path_of(uri: str) -> str | None:
    """The file a `file:` URI names; None for another scheme (an unsaved buffer)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if os.name == "nt" and path.startswith("/") and path[2:3] == ":":  # /C:/x -> C:/x
        path = path[1:]
    return os.path.normpath(path)


def uri_of(path: str) -> str:
    from pathlib import Path

    return Path(os.path.abspath(path)).as_uri()


class Units:
    """Columns in the code units of the agreed position encoding (UTF-16 unless
    the client asked for UTF-8 or UTF-32)."""

    def __init__(self, encoding: str = "utf-16") -> None:
        self.encoding = encoding

    def width(self, text: str) -> int:
        if self.encoding == "utf-8":
            return len(text.encode("utf-8"))
        if self.encoding == "utf-32":
            return len(text)
        return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)

    def to_client(self, line_text: str, column: int) -> int:
        """The client's character of a 1-based column counted in characters."""
        return self.width(line_text[: max(column - 1, 0)])

    def from_client(self, line_text: str, character: int) -> int:
        """The 1-based column (in characters) of the client's character."""
        units = 0
        for i, ch in enumerate(line_text):
            if units >= character:
                return i + 1
            units += self.width(ch)
        return len(line_text) + 1


@dataclass
class Analysis:
    """What the server knows of one version of a document."""

    uri: str
    name: str  # the document's name in diagnostics: its path, or its URI in angle brackets
    text: str
    units: Units
    diagnostics: list[Diagnostic]
    policy: ast.Policy | None  # merged with its includes
    model: CheckedPolicy | None  # None when the policy has an error
    sources: dict[str, Source]  # the document's own and its included files', by name
    declared: Declarations = field(default_factory=Declarations)
    names: Index = field(default_factory=lambda: Index([]))

    @property
    def source(self) -> Source:
        return self.sources[self.name]

    def line_text(self, file: str, line: int) -> str:
        source = self.sources.get(file)
        return source.line_text(line) if source is not None else ""

    # ------------------------------------------------------------ positions

    def to_range(self, span: Span) -> lsp.Range:
        start = lsp.Position(
            line=max(span.line - 1, 0),
            character=self.units.to_client(self.line_text(span.file, span.line), span.column),
        )
        end_line = max(span.end_line, span.line)
        end = lsp.Position(
            line=max(end_line - 1, 0),
            character=self.units.to_client(self.line_text(span.file, end_line), span.end_column),
        )
        return lsp.Range(start=start, end=end)

    def from_position(self, position: lsp.Position) -> tuple[int, int]:
        """(line, column), 1-based in characters, of a client position in this document."""
        line = position.line + 1
        return line, self.units.from_client(self.line_text(self.name, line), position.character)

    def uri_for(self, file: str) -> str:
        return self.uri if file == self.name else uri_of(file)

    # ------------------------------------------------------------ diagnostics

    def lsp_diagnostic(self, diagnostic: Diagnostic) -> lsp.Diagnostic:
        message = diagnostic.message
        if diagnostic.hint:
            message += f"\n{diagnostic.hint}"
        return lsp.Diagnostic(
            range=self.to_range(diagnostic.span),
            message=message,
            severity=(
                lsp.DiagnosticSeverity.Error
                if diagnostic.is_error
                else lsp.DiagnosticSeverity.Warning
            ),
            code=diagnostic.code,
            source=SOURCE,
        )

    def published(self) -> dict[str, list[lsp.Diagnostic]]:
        """The diagnostics by the URI of the file they are in (the document's
        own, and an included file's)."""
        found: dict[str, list[lsp.Diagnostic]] = {self.uri: []}
        for diagnostic in self.diagnostics:
            file = diagnostic.span.file
            if file != self.name and file not in self.sources:
                file = self.name  # a file that could not be read: shown on the document
            uri = self.uri_for(file)
            found.setdefault(uri, []).append(self.lsp_diagnostic(diagnostic))
        return found


Opened = Callable[[str], "str | None"]


def _reader(opened: Opened) -> Callable[[str], bytes]:
    """Included files from the editor's buffer when open there, else from disk."""

    def read(name: str) -> bytes:
        text = opened(uri_of(name))
        if text is not None:
            return encoded(text)
        return read_policy(name)

    return read


def encoded(text: str) -> bytes:
    """A buffer's text as a file's bytes (a lone surrogate stays invalid UTF-8, as on disk)."""
    return text.encode("utf-8", "surrogatepass")


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _declares(text: str) -> bool:
    """Whether a text has a line that is neither blank nor a comment (an empty file is
    reported as `check` reports it, E110, rather than taken for an included file)."""
    return any(line.strip() and not line.strip().startswith("#") for line in text.splitlines())


def analyse(
    uri: str, text: str, units: Units | None = None, opened: Opened | None = None
) -> Analysis:
    """Check one version of a document, as `mqldsl check` checks its file. A
    file without a `policy` header (one that policies include) is parsed
    only: alone it is not a policy, and its names are checked through the
    policies that include it."""
    units = units or Units()
    path = path_of(uri)
    name = path if path is not None else f"<{uri}>"
    data = encoded(text)
    if b"\x00" in data or not _utf8(data):  # E100, as `check` reports such a file
        refused = parse_bytes(data, name)
        return Analysis(
            uri, name, text, units, refused.diagnostics, None, None, {name: Source(name, text)}
        )
    # A byte-order mark (which `check` skips) read as a space: the columns stay the editor's.
    body = " " + text[1:] if text.startswith("\ufeff") else text
    if headerless(data) and _declares(text):
        parsed = parse_text(body, name, included=True)
        policy = parsed.policy
        diagnostics = sort_diagnostics(parsed.diagnostics)
        sources = {name: parsed.source}
        analysis = Analysis(uri, name, text, units, diagnostics, policy, None, sources)
    else:
        result: CheckResult = check_text(body, name, _reader(opened or (lambda _: None)))
        model = result.model
        sources = {name: Source(name, text), **result.source.included}
        policy = model.policy if model is not None else result.policy
        analysis = Analysis(uri, name, text, units, result.diagnostics, policy, model, sources)
    analysis.declared = declarations(analysis.policy)
    refs = analysis.model.refs if analysis.model is not None else None
    analysis.names = index(analysis.policy, analysis.sources, analysis.declared, refs)
    return analysis
