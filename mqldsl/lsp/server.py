"""The language server: pygls wiring for the answers of this package.

Each open document is analysed when it is opened, changed or saved, and its
diagnostics published (to the included files' URIs too, for problems found
in them). Requests read the latest analysis of their document."""

from __future__ import annotations

import logging
import sys
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from mqldsl import __version__
from mqldsl.language.source import Span
from mqldsl.lsp import edits
from mqldsl.lsp.completion import complete
from mqldsl.lsp.document import Analysis, Units, analyse
from mqldsl.lsp.hover import hover_text
from mqldsl.lsp.symbols import Declarations, Occurrence

NAME = "mqldsl"


# A request answered while it was read (its params could not be read): nothing more to do.
_ANSWERED = object()


class _Protocol(LanguageServerProtocol):
    """pygls's protocol, answering a request whose params it cannot read with the JSON-RPC
    error for it (-32602) instead of no answer at all (the client would wait for ever)."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                self._send_response(data["id"], error=exc.to_response_error())
                return _ANSWERED
            raise

    def handle_message(self, message: Any) -> None:
        if message is not _ANSWERED:
            super().handle_message(message)


class PolicyServer(LanguageServer):
    """A pygls server that keeps the analysis of every open policy."""

    def __init__(self) -> None:
        super().__init__(
            NAME,
            __version__,
            protocol_cls=_Protocol,
            text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
        )
        self.analyses: dict[str, Analysis] = {}
        # a document's URI -> the declarations of its last version that parsed (for completion)
        self.last_good: dict[str, Declarations] = {}
        # a document's URI -> its diagnostics by the URI of the file they are in (its own,
        # its included files')
        self.found: dict[str, dict[str, list[lsp.Diagnostic]]] = {}

    def units(self) -> Units:
        encoding = self.workspace.position_encoding
        if isinstance(encoding, lsp.PositionEncodingKind):
            return Units(encoding.value)
        return Units(encoding or "utf-16")

    def opened(self, uri: str) -> str | None:
        document = self.workspace.text_documents.get(uri)
        return document.source if document is not None else None

    def analysis(self, uri: str) -> Analysis | None:
        """The analysis of the document's current text (made now if it changed)."""
        text = self.opened(uri)
        if text is None:
            return None
        cached = self.analyses.get(uri)
        if cached is None or cached.text != text:
            cached = self.remember(analyse(uri, text, self.units(), self.opened))
        return cached

    def remember(self, analysis: Analysis) -> Analysis:
        self.analyses[analysis.uri] = analysis
        if analysis.policy is not None:
            self.last_good[analysis.uri] = analysis.declared
        return analysis

    def refresh(self, uri: str, dependents: bool = True) -> None:
        """Analyse the document again and publish its diagnostics; with
        ``dependents``, also those of the open policies that include it."""
        text = self.opened(uri)
        if text is None:
            return
        analysis = self.remember(analyse(uri, text, self.units(), self.opened))
        before = set(self.found.get(uri, {}))
        self.found[uri] = analysis.published()
        for target in sorted(before | set(self.found[uri])):
            self.publish(target)
        if dependents:
            for other in list(self.analyses.values()):
                if other.uri != uri and uri in {other.uri_for(f) for f in other.sources}:
                    self.refresh(other.uri, dependents=False)

    def publish(self, target: str) -> None:
        """Publish what every open document found in the file ``target`` (a
        file that policies include is checked through each of them)."""
        merged: dict[tuple[object, ...], lsp.Diagnostic] = {}
        for found in self.found.values():
            for d in found.get(target, []):
                start, end = d.range.start, d.range.end
                key = (start.line, start.character, end.line, end.character, d.code, d.message)
                merged.setdefault(key, d)
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=target, diagnostics=list(merged.values()))
        )

    def forget(self, uri: str) -> None:
        self.analyses.pop(uri, None)
        self.last_good.pop(uri, None)
        for target in sorted(self.found.pop(uri, {})):
            self.publish(target)
        for other in list(self.analyses.values()):  # they read the file from disk now
            if uri in {other.uri_for(f) for f in other.sources}:
                self.refresh(other.uri, dependents=False)

    def location(self, analysis: Analysis, occurrence: Occurrence) -> lsp.Location:
        o = occurrence
        span = Span(o.file, o.line, o.column, o.line, o.end_column)
        return lsp.Location(uri=analysis.uri_for(occurrence.file), range=analysis.to_range(span))


def build() -> PolicyServer:
    server = PolicyServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: lsp.DidOpenTextDocumentParams) -> None:
        server.refresh(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: lsp.DidChangeTextDocumentParams) -> None:
        server.refresh(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: lsp.DidSaveTextDocumentParams) -> None:
        server.refresh(params.text_document.uri)  # included files may have changed on disk

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: lsp.DidCloseTextDocumentParams) -> None:
        server.forget(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(params: lsp.HoverParams) -> lsp.Hover | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        found = hover_text(analysis, *analysis.from_position(params.position))
        if found is None:
            return None
        text, span = found
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
            range=analysis.to_range(span),
        )

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        occurrence = analysis.names.at(analysis.name, *analysis.from_position(params.position))
        if occurrence is None:
            return None
        found = analysis.names.definitions(occurrence.symbol)
        return [server.location(analysis, o) for o in found] or None

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    def references(params: lsp.ReferenceParams) -> list[lsp.Location] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        occurrence = analysis.names.at(analysis.name, *analysis.from_position(params.position))
        if occurrence is None:
            return None
        found = analysis.names.of(occurrence.symbol)
        if not params.context.include_declaration:
            found = [o for o in found if not o.definition]
        return [server.location(analysis, o) for o in found]

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION,
        lsp.CompletionOptions(trigger_characters=[" ", "[", ",", ":", "."]),
    )
    def completion(params: lsp.CompletionParams) -> lsp.CompletionList | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        line, column = analysis.from_position(params.position)
        items = complete(analysis, line, column, server.last_good.get(analysis.uri))
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        analysis = server.analysis(params.text_document.uri)
        return edits.formatting(analysis) if analysis is not None else None

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    def prepare_rename(params: lsp.PrepareRenameParams) -> lsp.PrepareRenameResult | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        target = edits.rename_target(analysis, *analysis.from_position(params.position))
        if target is None:
            return None
        location = server.location(analysis, target)
        return lsp.PrepareRenamePlaceholder(range=location.range, placeholder=target.symbol.name)

    @server.feature(lsp.TEXT_DOCUMENT_RENAME)
    def rename(params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        line, column = analysis.from_position(params.position)
        try:
            changes = edits.rename(analysis, line, column, params.new_name)
        except edits.Refused as refused:
            server.window_show_message(
                lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=str(refused))
            )
            return None
        return lsp.WorkspaceEdit(changes=changes)

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]),
    )
    def code_action(params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        return edits.code_actions(analysis, params.range)

    return server


class _OneLine(logging.Formatter):
    """pygls's log records as one line each on standard error: a message the
    server cannot read is reported, not shown as a Python traceback."""

    def format(self, record: logging.LogRecord) -> str:
        # (pygls puts a traceback under some messages: the first line says what happened)
        first = record.getMessage().strip().split("\n", 1)[0]
        return f"mqldsl lsp: {record.levelname.lower()}: {first}"


def serve() -> None:
    """Answer one client over standard input and output until it exits."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    log = logging.getLogger("pygls")
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    log.propagate = False
    build().start_io()
