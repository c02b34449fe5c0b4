"""`mqldsl lsp` end to end: a real LSP client (pytest-lsp, on pygls) starts
`python -m mqldsl lsp` as a subprocess and talks to it over stdio. One server
for the module; each test opens its own document (its own file in a temporary
folder, so that `file:` URIs name real paths and includes resolve).

The expected answers are computed here without the server: positions by
searching the policy's text, diagnostics from `mqldsl check --format json`,
formatting from `mqldsl fmt -`, score ranges by adding up the rules' points.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from click.testing import CliRunner
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from mqldsl.cli import cli

from .conftest import ROOT

pytestmark = pytest.mark.asyncio(loop_scope="module")

ACME = (ROOT / "policies" / "acme.mql").read_text()
STRING = re.compile(r'"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def blank_strings(text: str) -> str:
    """The text with strings and comments blanked out (same length, same lines)."""
    return STRING.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def positions(text: str, word: str) -> list[tuple[int, int]]:
    """(line, character), 0-based, of every whole-word `word` outside strings and comments."""
    found = []
    for number, line in enumerate(blank_strings(text).split("\n")):
        for m in re.finditer(rf"(?<![a-z0-9_.]){re.escape(word)}(?![a-z0-9_])", line):
            found.append((number, m.start()))
    return found


def where(text: str, needle: str, offset: int = 0) -> lsp.Position:
    """The position of the first `needle` in `text` (plus `offset` characters)."""
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    return lsp.Position(line=line, character=index - (text.rfind("\n", 0, index) + 1))


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "mqldsl", "lsp"],
        server_env={**os.environ, "PYTHONPATH": str(ROOT)},
    ),
)
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lsp")
    shutil.copytree(ROOT / "policies" / "common", path / "common")
    return path


async def opened(client: LanguageClient, path: Path, text: str) -> str:
    """Open `text` as the document `path` (written there too) and wait for its diagnostics."""
    path.write_text(text)
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="mql", version=1, text=text)
        )
    )
    await diagnostics_of(client, uri)
    return uri


async def diagnostics_of(client: LanguageClient, uri: str) -> list[lsp.Diagnostic]:
    while uri not in client.diagnostics:
        await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return list(client.diagnostics[uri])


def doc(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


def apply(text: str, edits: list[lsp.TextEdit]) -> str:
    """Apply LSP edits (positions in UTF-16 code units; ASCII here) to a text."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def offset(p: lsp.Position) -> int:
        return starts[p.line] + p.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


def check_json(path: Path) -> list[dict[str, object]]:
    result = CliRunner().invoke(cli, ["check", "--format", "json", str(path)])
    return list(json.loads(result.stdout))


# ---------------------------------------------------------------- diagnostics


BAD = ACME.replace(
    "+20 when company_size between 200", "+20 when compnay_size between 200"
).replace("route mql to sdr_inbound", "route mqll to sdr_inbound")


async def test_diagnostics_as_check_reports_them_then_none_once_fixed(
    client: LanguageClient, folder: Path
) -> None:
    path = folder / "typing.mql"
    uri = await opened(client, path, BAD)
    found = await diagnostics_of(client, uri)
    expected = check_json(path)
    assert [d["code"] for d in expected] == ["E201", "E206"]
    assert [(d.code, d.message.split("\n")[0]) for d in found] == [
        (d["code"], d["message"]) for d in expected
    ]
    for got, want in zip(found, expected, strict=True):
        line, column, end_line, end_column = (
            int(str(want[key])) for key in ("line", "column", "end_line", "end_column")
        )
        assert got.range.start == lsp.Position(line=line - 1, character=column - 1)
        assert got.range.end == lsp.Position(line=end_line - 1, character=end_column - 1)
        assert got.severity == lsp.DiagnosticSeverity.Error and got.source == "mqldsl"
    # the misspelt name's range, found in the text
    start = where(BAD, "compnay_size")
    assert found[0].range == lsp.Range(
        start=start, end=lsp.Position(line=start.line, character=start.character + 12)
    )
    assert "did you mean `company_size`?" in found[0].message

    # fix the first one by an incremental change, then the second one
    client.diagnostics.pop(uri)
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(range=found[0].range, text="company_size")
            ],
        )
    )
    after = await diagnostics_of(client, uri)
    assert [d.code for d in after] == ["E206"]
    client.diagnostics.pop(uri)
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=ACME)],
        )
    )
    assert await diagnostics_of(client, uri) == []


async def test_a_syntax_error_and_a_warning(client: LanguageClient, folder: Path) -> None:
    text = ACME.replace("param mql_intent_min = 40", "param mql_intent_min = = 40")
    path = folder / "syntax.mql"
    uri = await opened(client, path, text)
    found = await diagnostics_of(client, uri)
    expected = check_json(path)
    assert expected and all(str(d["code"]).startswith("E1") for d in expected)
    assert [d.code for d in found] == [d["code"] for d in expected]
    assert found[0].range.start.line == where(text, "= = 40").line

    # a warning is a warning (W5xx): an event declared but never used
    warned = ACME.replace("event unsubscribe\n", "event unsubscribe\nevent referral\n")
    path = folder / "warned.mql"
    uri = await opened(client, path, warned)
    found = await diagnostics_of(client, uri)
    expected = check_json(path)
    assert [d["code"] for d in expected] == ["W504"]
    assert [(d.code, d.severity) for d in found] == [("W504", lsp.DiagnosticSeverity.Warning)]
    assert found[0].range.start == where(warned, "event referral")


# ---------------------------------------------------------------- hover


async def hover(client: LanguageClient, uri: str, position: lsp.Position) -> str:
    answer = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(uri), position=position)
    )
    assert answer is not None
    assert isinstance(answer.contents, lsp.MarkupContent)
    return answer.contents.value


async def test_hover(client: LanguageClient, folder: Path) -> None:
    uri = await opened(client, folder / "hover.mql", ACME)
    use = where(ACME, ">= mql_fit_min", 5)
    text = await hover(client, uri, use)
    assert "**mql_fit_min** — param" in text and "`mql_fit_min = 30`" in text
    assert "Lowest fit score an MQL may have" in text

    field = await hover(client, uri, where(ACME, "company_size between 200", 3))
    assert "`company_size: int`" in field and "Employees, from enrichment" in field

    # a score's range: the sum of its negative points to the sum of its positive ones
    body = ACME[ACME.index("score fit") : ACME.index("score intent")]
    points = [int(p) for p in re.findall(r"^\s*([+-]\d+) when", body, re.M)]
    low, high = sum(p for p in points if p < 0), sum(p for p in points if p > 0)
    score = await hover(client, uri, where(ACME, "when fit >=", 6))
    assert f"range: {low} to {high}" in score
    assert "- +20 when company size is between 200 and 5,000" in score
    assert "- -100 when email kind is competitor" in score

    # a rule, away from any name: the rule in English
    rule = await hover(client, uri, where(ACME, "+15 when role in"))
    assert rule == "**fit**: +15 when role is security engineer or secops"

    stage = await hover(client, uri, where(ACME, '  mql "Marketing', 3))
    assert "stage 4 of 5" in stage and "Marketing qualified" in stage
    assert "reached when (fit is at least 30" in stage
    assert "routed to `sdr_inbound` when channel is inbound" in stage

    event = await hover(client, uri, where(ACME, "per content_download", 5))
    assert "**content_download** — event" in event
    assert "`kind: enum(case_study, comparison_guide, checklist, whitepaper, ebook)`" in event

    member = await hover(client, uri, where(ACME, "== it_manager", 4))
    assert "enum member" in member and "`role`" in member

    # nothing to say on a blank line
    assert (
        await client.text_document_hover_async(
            lsp.HoverParams(text_document=doc(uri), position=lsp.Position(line=10, character=0))
        )
        is None
    )


async def test_positions_are_utf16_code_units(client: LanguageClient, folder: Path) -> None:
    # a character outside the BMP is 2 UTF-16 units: the name after it starts 1 unit later
    text = ACME.replace('mql "Marketing qualified"', 'mql "Marketing 🚀 qualified"')
    uri = await opened(client, folder / "emoji.mql", text)
    at = where(text, ">= mql_fit_min", 3)  # in code points
    shifted = lsp.Position(line=at.line, character=at.character + 1)
    answer = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(uri), position=shifted)
    )
    assert answer is not None and answer.range is not None
    assert answer.range.start == shifted
    assert answer.range.end.character == shifted.character + len("mql_fit_min")


# ---------------------------------------------------------------- definition, references


async def definition(
    client: LanguageClient, uri: str, position: lsp.Position
) -> list[lsp.Location]:
    answer = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc(uri), position=position)
    )
    assert isinstance(answer, list)
    return [a for a in answer if isinstance(a, lsp.Location)]


def at(uri: str, text: str, needle: str, offset: int, length: int) -> lsp.Location:
    start = where(text, needle, offset)
    end = lsp.Position(line=start.line, character=start.character + length)
    return lsp.Location(uri=uri, range=lsp.Range(start=start, end=end))


async def test_definition(client: LanguageClient, folder: Path) -> None:
    uri = await opened(client, folder / "definition.mql", ACME)
    cases = [
        # (where the name is used, where it is declared)
        ((">= mql_fit_min", 3), ("param mql_fit_min", 6, 11)),
        (("when fit >=", 5), ("score fit", 6, 3)),
        (("where path starts", 6), ("{ path: text }", 2, 4)),
        (("when company_size between 200", 5), ("company_size: int", 0, 12)),
        (("demo_request at -1 hour", 0), ("event demo_request", 6, 12)),
        (("expect stage subscriber", 13), ('subscriber "Reads', 0, 10)),
        (("kind: case_study }", 0), ("{ kind: enum", 2, 4)),
    ]
    for (use, offset), (decl, decl_offset, length) in cases:
        found = await definition(client, uri, where(ACME, use, offset))
        assert found == [at(uri, ACME, decl, decl_offset, length)], use
    # a queue is declared by the routes to it
    found = await definition(client, uri, where(ACME, "expect route sdr_inbound", 13))
    assert found == [at(uri, ACME, "route mql to sdr_inbound", 13, 11)]


async def test_definition_of_account_names(client: LanguageClient, folder: Path) -> None:
    """`account.NAME` is an account field or an account score (SPEC §9)."""
    text = (ROOT / "policies" / "abm.mql").read_text()
    uri = await opened(client, folder / "abm.mql", text)
    found = await definition(client, uri, where(text, "account.buying_group >=", 9))
    assert found == [at(uri, text, "score buying_group on account", 6, 12)]
    found = await definition(client, uri, where(text, "account.target", 9))
    assert found == [at(uri, text, "  target: bool", 2, 6)]
    # a recycle, in words
    recycle = await hover(client, uri, where(text, "recycle mql to lead", 2))
    assert recycle.startswith("back from `mql` to `lead` when no activity in the last 60 days")


async def test_definition_in_an_included_file(client: LanguageClient, folder: Path) -> None:
    text = (ROOT / "policies" / "acme_outbound.mql").read_text()
    uri = await opened(client, folder / "outbound.mql", text)
    assert await diagnostics_of(client, uri) == []
    name = re.search(r"\b(company_size|seniority)\b", blank_strings(text))
    assert name is not None
    found = await definition(client, uri, where(text, name.group(1), 1))
    schema = folder / "common" / "acme_schema.mql"
    declared = schema.read_text()
    assert found == [at(schema.as_uri(), declared, f"{name.group(1)}:", 0, len(name.group(1)))]


async def test_included_files_open_saved_and_closed(client: LanguageClient, folder: Path) -> None:
    """A problem in an included file is published to that file's URI: from the editor's
    buffer when it is open there (re-checked as it changes), else from disk (on save)."""
    text = (ROOT / "policies" / "acme_outbound.mql").read_text()
    main = await opened(client, folder / "outbound2.mql", text)
    assert await diagnostics_of(client, main) == []
    fit = folder / "common" / "acme_fit.mql"
    fit_text = fit.read_text()
    # the included file, opened: alone it is only parsed (it has no `policy` header)
    fit_uri = await opened(client, fit, fit_text)
    assert await diagnostics_of(client, fit_uri) == []

    # a misspelt name typed in the included file's buffer: found by checking the policy
    typo = fit_text.replace("when seniority in", "when senority in")
    client.diagnostics.clear()
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=fit_uri, version=2),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=typo)],
        )
    )
    while not client.diagnostics.get(fit_uri):
        await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    (found,) = client.diagnostics[fit_uri]
    assert found.code == "E201" and found.range.start == where(typo, "senority")
    assert "did you mean `seniority`?" in found.message
    assert fit.read_text() == fit_text  # not saved: the buffer was read

    # closed without saving: the policy reads the file on disk again
    client.diagnostics.clear()
    client.text_document_did_close(
        lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=fit_uri))
    )
    while fit_uri not in client.diagnostics or client.diagnostics[fit_uri]:
        await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    # changed on disk by another program, then the policy saved: checked again
    schema = folder / "common" / "acme_schema.mql"
    original = schema.read_text()
    schema.write_text(original.replace("company_size: int", "company_size: integer"))
    try:
        client.diagnostics.clear()
        client.text_document_did_save(
            lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=main))
        )
        while not client.diagnostics.get(schema.as_uri()):
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        expected = check_json(folder / "outbound2.mql")
        got = client.diagnostics[schema.as_uri()]
        assert [d.code for d in got] == [d["code"] for d in expected if d["file"] == str(schema)]
        assert got and got[0].range.start.line == where(original, "company_size: int").line
    finally:
        schema.write_text(original)


async def test_bad_documents_get_diagnostics_not_a_crash(
    client: LanguageClient, folder: Path
) -> None:
    for name, text in [
        ("empty.mql", ""),
        ("garbage.mql", '\x00\x01 {{{ ]]] "unterminated\n\t\u2028 +-*/ 🚀'),
        ("header_only.mql", 'policy "P"\n'),
    ]:
        path = folder / name
        uri = await opened(client, path, text)
        found = await diagnostics_of(client, uri)
        expected = check_json(path)
        assert [d.code for d in found] == [d["code"] for d in expected], name
        for position in [lsp.Position(line=0, character=0), lsp.Position(line=50, character=80)]:
            assert (
                await client.text_document_hover_async(
                    lsp.HoverParams(text_document=doc(uri), position=position)
                )
                is None
            )
            assert (
                await client.text_document_definition_async(
                    lsp.DefinitionParams(text_document=doc(uri), position=position)
                )
                is None
            )
            completions = await client.text_document_completion_async(
                lsp.CompletionParams(text_document=doc(uri), position=position)
            )
            assert isinstance(completions, lsp.CompletionList)
            assert "within" in {item.label for item in completions.items}
        edits = await client.text_document_formatting_async(
            lsp.DocumentFormattingParams(
                text_document=doc(uri),
                options=lsp.FormattingOptions(tab_size=2, insert_spaces=True),
            )
        )
        fmt = CliRunner().invoke(cli, ["fmt", "-"], input=text)
        if fmt.exit_code:  # `fmt` refuses it: no edit
            assert not edits, name
        else:  # the empty file: what `fmt` writes
            assert apply(text, list(edits or [])) == fmt.stdout, name


async def test_references(client: LanguageClient, folder: Path) -> None:
    uri = await opened(client, folder / "references.mql", ACME)
    # (the name, where a use of it is written, the offset of the name there)
    for word, use, offset in [
        ("mql", "route mql to", 6),
        ("intent", "intent >=", 1),
        ("demo_request", "when demo_request", 6),
        ("page_view", "per page_view within", 5),
        ("kind", "where kind in", 7),
    ]:
        answer = await client.text_document_references_async(
            lsp.ReferenceParams(
                text_document=doc(uri),
                position=where(ACME, use, offset),
                context=lsp.ReferenceContext(include_declaration=True),
            )
        )
        assert answer is not None
        got = sorted((r.range.start.line, r.range.start.character) for r in answer)
        assert got == positions(ACME, word), word
        assert all(r.uri == uri for r in answer)
    # without the declaration
    answer = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=doc(uri),
            position=where(ACME, ">= mql_fit_min", 3),
            context=lsp.ReferenceContext(include_declaration=False),
        )
    )
    assert answer is not None
    assert [(r.range.start.line, r.range.start.character) for r in answer] == positions(
        ACME, "mql_fit_min"
    )[1:]


# ---------------------------------------------------------------- completion


async def labels(
    client: LanguageClient, uri: str, position: lsp.Position
) -> dict[str, lsp.CompletionItemKind | None]:
    answer = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=doc(uri), position=position)
    )
    assert isinstance(answer, lsp.CompletionList)
    return {item.label: item.kind for item in answer.items}


def members(text: str, field: str) -> set[str]:
    found = re.search(rf"\b{field}: enum\(([^)]*)\)", text)
    assert found is not None
    return {m.strip() for m in found.group(1).split(",")}


async def test_completion(client: LanguageClient, folder: Path) -> None:
    # typing a new rule: the document does not parse, the declarations are still known
    typing = ACME.replace("  +5 when role == it_manager\n", "  +5 when role == \n")
    uri = await opened(client, folder / "completion.mql", typing)
    assert any(d.code.startswith("E1") for d in await diagnostics_of(client, uri))
    after_equals = await labels(client, uri, where(typing, "role == \n", 8))
    assert set(after_equals) == members(ACME, "role")
    assert set(after_equals.values()) == {lsp.CompletionItemKind.EnumMember}

    # more lines broken: the declarations of the last version that parsed
    typing = ACME.replace(
        "  +5 when role == it_manager\n",
        "  +5 when industry in [fintech, \n  +1 when \n  +2 when \n",
    )
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=ACME)],
        )
    )
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=typing)],
        )
    )
    in_list = await labels(client, uri, where(typing, "[fintech, \n", 10))
    assert set(in_list) == members(ACME, "industry")

    anywhere = await labels(client, uri, where(typing, "+1 when \n", 8))
    for name in ("company_size", "email_kind"):
        assert anywhere[name] == lsp.CompletionItemKind.Field
    assert anywhere["mql_fit_min"] == lsp.CompletionItemKind.Constant
    assert anywhere["intent"] == lsp.CompletionItemKind.Variable
    assert anywhere["demo_request"] == lsp.CompletionItemKind.Event
    assert anywhere["within"] == lsp.CompletionItemKind.Keyword
    assert "security_engineer" not in anywhere

    # an event field's enum inside the event's `where`, and in an example's event
    uri = await opened(client, folder / "completion2.mql", ACME)
    where_kind = await labels(client, uri, where(ACME, "where kind in [", 15))
    assert set(where_kind) == members(ACME, "kind")
    entry = await labels(client, uri, where(ACME, "content_download { kind: case_study", 25))
    assert set(entry) == members(ACME, "kind")
    lead_entry = await labels(
        client, uri, where(ACME, "lead { email_kind: corporate, role: developer", 36)
    )
    assert set(lead_entry) == members(ACME, "role")
    # stages after `expect stage`, queues after `expect route`
    stages = await labels(client, uri, where(ACME, "expect stage subscriber", 13))
    assert set(stages) == {"visitor", "subscriber", "lead", "mql", "sql"}
    queues = await labels(client, uri, where(ACME, "expect route sdr_inbound", 13))
    assert set(queues) == {"sdr_inbound", "sdr_outbound", "account_exec"}
    assert set(await labels(client, uri, where(ACME, "route mql to sdr_inbound", 6))) == set(stages)
    assert set(await labels(client, uri, where(ACME, "route mql to sdr_inbound", 13))) == set(
        queues
    )
    # inside `EVENT where`: the event's own fields too
    in_where = await labels(client, uri, where(ACME, "page_view where path", 16))
    assert in_where["path"] == lsp.CompletionItemKind.Field
    assert "path" not in anywhere and "company_size" in in_where


# ---------------------------------------------------------------- formatting


async def test_formatting(client: LanguageClient, folder: Path) -> None:
    messy = ACME.replace("param mql_fit_min = 30", "param   mql_fit_min=30").replace(
        "  +5 when role == it_manager", "      +5   when role==it_manager"
    )
    uri = await opened(client, folder / "messy.mql", messy)
    answer = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(
            text_document=doc(uri), options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)
        )
    )
    assert answer
    expected = CliRunner().invoke(cli, ["fmt", "-"], input=messy).stdout
    assert apply(messy, answer) == expected
    assert expected != messy and "param mql_fit_min = 30" in expected

    # a canonical document: no edit; a syntax error: no edit
    for name, text in [
        ("canonical.mql", expected),
        ("broken.mql", messy.replace("lead {", "lead {{")),
    ]:
        uri = await opened(client, folder / name, text)
        answer = await client.text_document_formatting_async(
            lsp.DocumentFormattingParams(
                text_document=doc(uri),
                options=lsp.FormattingOptions(tab_size=2, insert_spaces=True),
            )
        )
        assert not answer, name


# ---------------------------------------------------------------- rename


async def test_rename(client: LanguageClient, folder: Path) -> None:
    uri = await opened(client, folder / "rename.mql", ACME)
    prepare = await client.text_document_prepare_rename_async(
        lsp.PrepareRenameParams(text_document=doc(uri), position=where(ACME, "when fit >=", 6))
    )
    assert isinstance(prepare, lsp.PrepareRenamePlaceholder)
    assert prepare.placeholder == "fit"
    assert prepare.range.start == where(ACME, "when fit >=", 5)
    # fields, events, keywords and blanks are refused
    for needle, offset in [
        ("company_size between 200", 1),
        ("demo_request within 60 days and", 1),
        ("within 14 days", 1),
        ("lead {", 1),
        ("lead {", 6),
    ]:
        refused = await client.text_document_prepare_rename_async(
            lsp.PrepareRenameParams(text_document=doc(uri), position=where(ACME, needle, offset))
        )
        assert refused is None, needle

    for word, new, needle, offset in [
        ("intent", "engagement", "score intent", 7),
        ("mql_fit_min", "fit_floor", ">= mql_fit_min", 4),
        ("subscriber", "reader", "expect stage subscriber", 14),
    ]:
        answer = await client.text_document_rename_async(
            lsp.RenameParams(
                text_document=doc(uri), position=where(ACME, needle, offset), new_name=new
            )
        )
        assert answer is not None and answer.changes is not None
        assert set(answer.changes) == {uri}
        edits = answer.changes[uri]
        assert sorted((e.range.start.line, e.range.start.character) for e in edits) == positions(
            ACME, word
        )
        renamed = apply(ACME, edits)
        path = folder / f"renamed_{word}.mql"
        path.write_text(renamed)
        assert check_json(path) == [], word
        assert blank_strings(renamed) == re.sub(
            rf"(?<![a-z0-9_.]){word}(?![a-z0-9_])", new, blank_strings(ACME)
        )

    # a name already taken is refused, with a message
    client.messages.clear()
    answer = await client.text_document_rename_async(
        lsp.RenameParams(
            text_document=doc(uri), position=where(ACME, "score intent", 7), new_name="fit"
        )
    )
    assert answer is None
    assert client.messages and "fit" in client.messages[-1].message


async def test_rename_across_included_files(client: LanguageClient, folder: Path) -> None:
    """`fit` is declared in common/acme_fit.mql and used by the policy that includes it."""
    text = (ROOT / "policies" / "acme_outbound.mql").read_text()
    uri = await opened(client, folder / "outbound3.mql", text)
    fit = folder / "common" / "acme_fit.mql"
    answer = await client.text_document_rename_async(
        lsp.RenameParams(
            text_document=doc(uri), position=where(text, "when fit >=", 6), new_name="icp_fit"
        )
    )
    assert answer is not None and answer.changes is not None
    assert set(answer.changes) == {uri, fit.as_uri()}
    copy = folder / "renamed_outbound"
    shutil.copytree(folder / "common", copy / "common")
    for path, target in [
        (folder / "outbound3.mql", copy / "p.mql"),
        (fit, copy / "common" / fit.name),
    ]:
        original = path.read_text()
        edits = answer.changes[path.as_uri()]
        assert sorted((e.range.start.line, e.range.start.character) for e in edits) == positions(
            original, "fit"
        ), path.name
        target.write_text(apply(original, edits))
    assert check_json(copy / "p.mql") == []
    assert "score icp_fit" in (copy / "common" / fit.name).read_text()


# ---------------------------------------------------------------- code actions


async def test_code_actions_for_did_you_mean(client: LanguageClient, folder: Path) -> None:
    uri = await opened(client, folder / "fix.mql", BAD)
    found = await diagnostics_of(client, uri)
    fixed = BAD
    for diagnostic, (wrong, right) in zip(
        found, [("compnay_size", "company_size"), ("mqll", "mql")], strict=True
    ):
        actions = await client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=doc(uri),
                range=diagnostic.range,
                context=lsp.CodeActionContext(diagnostics=[diagnostic]),
            )
        )
        assert actions is not None and len(actions) == 1
        action = actions[0]
        assert isinstance(action, lsp.CodeAction)
        assert action.title == f"Replace `{wrong}` with `{right}`"
        assert action.kind == lsp.CodeActionKind.QuickFix
        assert action.edit is not None and action.edit.changes is not None
        (edit,) = action.edit.changes[uri]
        start = where(BAD, wrong if wrong != "mqll" else "route mqll", 0 if wrong != "mqll" else 6)
        assert edit.range.start == start and edit.range.end.character == start.character + len(
            wrong
        )
        fixed = apply(fixed, [edit])
    assert fixed == ACME
    # no quick fix where there is no hint
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=doc(uri),
            range=lsp.Range(
                start=lsp.Position(line=0, character=0), end=lsp.Position(line=5, character=0)
            ),
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    assert not actions


async def test_code_actions_for_other_kinds_of_hint(client: LanguageClient, folder: Path) -> None:
    """An event's field (E203, the event named first in the message), an enum member (E207),
    a misspelt keyword (E101): each quick fix restores the original text."""
    for number, (good, bad) in enumerate(
        [
            ("content_download { kind: case_study }", "content_download { knd: case_study }"),
            ("role: developer", "role: develper"),
            ("within 14 days, max 20", "whithin 14 days, max 20"),
        ]
    ):
        text = ACME.replace(good, bad, 1)
        uri = await opened(client, folder / f"fix_{number}.mql", text)
        (diagnostic,) = await diagnostics_of(client, uri)
        actions = await client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=doc(uri),
                range=diagnostic.range,
                context=lsp.CodeActionContext(diagnostics=[diagnostic]),
            )
        )
        assert actions is not None and len(actions) == 1, bad
        action = actions[0]
        assert isinstance(action, lsp.CodeAction)
        assert action.edit is not None and action.edit.changes is not None
        assert apply(text, list(action.edit.changes[uri])) == ACME, bad


# ---------------------------------------------------------------- the process


async def _server() -> asyncio.subprocess.Process:
    """`python -m mqldsl lsp` as a process, talked to over its standard streams."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mqldsl",
        "lsp",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_a_message_it_cannot_read_is_one_line_not_a_traceback() -> None:
    process = await _server()
    out, err = await asyncio.wait_for(
        process.communicate(b"Content-Length: 5\r\n\r\n{bad}"), timeout=30
    )
    assert process.returncode == 0
    assert b"Traceback" not in err
    assert err.decode().strip() == "mqldsl lsp: error: Unable to handle message"
    assert b'"window/showMessage"' in out  # the client is told too


def _framed(*messages: dict[str, object]) -> bytes:
    bodies = [json.dumps(m).encode() for m in messages]
    return b"".join(b"Content-Length: %d\r\n\r\n%s" % (len(b), b) for b in bodies)


async def test_a_request_with_params_it_cannot_read_gets_an_error_answer() -> None:
    # JSON-RPC: a request is always answered; one whose params cannot be read with -32602
    # (the client waited for ever), and the log says so in one line.
    process = await _server()
    hover = "textDocument/hover"
    document = {"uri": "file:///x.mql"}
    messages = _framed(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": hover, "params": {"position": {"line": -1}}},
        {"jsonrpc": "2.0", "id": 3, "method": hover, "params": None},
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": hover,
            "params": {"textDocument": document, "position": {"line": 0, "character": 0}},
        },
        {"jsonrpc": "2.0", "id": 5, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    )
    out, err = await asyncio.wait_for(process.communicate(messages), timeout=30)
    assert process.returncode == 0
    answers = {
        m["id"]: m
        for m in (json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in _split(out))
        if "id" in m
    }
    for number in (2, 3):
        assert answers[number]["error"]["code"] == -32602, answers
    assert answers[4]["result"] is None and answers[5]["result"] is None
    assert b"Traceback" not in err
    assert err.decode().splitlines() == ["mqldsl lsp: error: Unable to deserialize message"] * 2


def _split(out: bytes) -> list[bytes]:
    """The framed messages of a server's output."""
    parts = []
    while out:
        head, rest = out.split(b"\r\n\r\n", 1)
        length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
        parts.append(head + b"\r\n\r\n" + rest[:length])
        out = rest[length:]
    return parts
