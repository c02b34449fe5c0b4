"""Commands for editors: lsp."""

from __future__ import annotations

from mqldsl.cli.common import cli


@cli.command()
def lsp() -> None:
    """Run the language server (LSP over standard input and output).

    An editor starts it for .mql files: diagnostics as you type, hover,
    go to definition, references, completion, formatting, rename and quick
    fixes (docs/lsp.md; editor setup in docs/editors.md).
    """
    from mqldsl.lsp.server import serve

    serve()
