"""Text to AST: sources and spans, diagnostics, the typed AST and its traversal, the Lark
parser with its builder and error recovery, and the printer (`mqldsl fmt`). The only package
that imports Lark."""
