"""`mqldsl lsp`: a language server (LSP over standard input and output) for
policies, built with pygls on the project's own machinery: the parser with
error recovery and the checker for diagnostics, the checked model and
:mod:`mqldsl.render.english` for hover, the printer for formatting and the
did-you-mean hints for code actions (docs/lsp.md).

:mod:`~mqldsl.lsp.document` analyses one document (diagnostics, positions);
:mod:`~mqldsl.lsp.symbols` finds where every name is declared and used;
:mod:`~mqldsl.lsp.hover`, :mod:`~mqldsl.lsp.completion` and
:mod:`~mqldsl.lsp.edits` answer the requests; :mod:`~mqldsl.lsp.server` wires
them to the protocol. Only this package imports pygls and lsprotocol.
"""
