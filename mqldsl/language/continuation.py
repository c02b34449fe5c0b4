"""When a statement goes on to the next line (SPEC §2), in one table.

A newline does not end a statement inside ``(...)`` or ``[...]``, after one
of the tokens of :data:`CONTINUE_AFTER`, or when the next line starts with a
word of :data:`CONTINUE_BEFORE`. :class:`PostLexer` applies the rule to tokens;
error recovery and the parser's hints apply it to source text through
:func:`line_continues` and :func:`next_line_continues`. (The grammar's
``_CONT`` terminal swallows a newline before `and`/`or`: the same words.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from lark import Token

# Token kind -> how it is written: a newline after any of these is dropped.
CONTINUE_AFTER: Mapping[str, tuple[str, ...]] = {
    "LBRACE": ("{",),
    "AND": ("and",),
    "OR": ("or",),
    "COMMA": (",",),
    "PLUS": ("+",),
    "MINUS": ("-",),
    "STAR": ("*",),
    "SLASH": ("/",),
    "COMPARE": ("==", "!=", "<", "<=", ">", ">="),
    "IN": ("in",),  # also ends `not in`
    "CONTAINS": ("contains",),
    "WITH": ("with",),  # ends `starts with` and `ends with`
    "BETWEEN": ("between",),
}

# Brackets inside which newlines are dropped (a `{` also opens a block, whose
# lines are statements: it continues only the line it ends).
OPENERS = ("(", "[")

# Words that, starting a line, continue the statement of the line before.
CONTINUE_BEFORE = ("and", "or")


def _alternatives(spellings: list[str]) -> str:
    # Longest first, so that `<=` is tried before `<`; words need a boundary
    # before them (`begin` does not end with `in`).
    ordered = sorted(set(spellings), key=lambda s: (-len(s), s))
    return "|".join(rf"\b{s}" if s[0].isalpha() else re.escape(s) for s in ordered)


_ENDS_OPEN = re.compile(
    rf"(?:{_alternatives([*OPENERS, *(s for ss in CONTINUE_AFTER.values() for s in ss)])})\s*$"
)
_STARTS_CONTINUED = re.compile(rf"[\t \f]*(?:{'|'.join(CONTINUE_BEFORE)})(?![a-z0-9_])")


def line_continues(code: str) -> bool:
    """Whether a line of code (without its comment) ends with an opening
    bracket or a token after which the statement goes on."""
    return _ENDS_OPEN.search(code) is not None


def next_line_continues(text: str, start: int) -> bool:
    """Whether the line starting at offset ``start`` of ``text`` begins with
    `and` or `or`, and so continues the statement before it."""
    return _STARTS_CONTINUED.match(text, start) is not None


class PostLexer:
    """Implements the continuation rules of SPEC §2 on the token stream: a
    newline inside (...) or [...], or after a token of
    :data:`CONTINUE_AFTER` (`{`, an operator,
    `and`, `or`, `,`, ...) is dropped. It also remembers open brackets for
    error messages."""

    always_accept = ("_NL",)

    def __init__(self) -> None:
        self.open: list[Token] = []
        self.previous: str | None = None
        self.recent: list[Token] = []

    def reset(self) -> None:
        self.open = []
        self.previous = None
        self.recent = []

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        for token in stream:
            kind = token.type
            if kind == "_NL":
                if self.previous in CONTINUE_AFTER or (
                    self.open and self.open[-1].type != "LBRACE"
                ):
                    continue
            elif kind in ("LPAR", "LSQB", "LBRACE"):
                self.open.append(token)
            elif kind in ("RPAR", "RSQB", "RBRACE") and self.open:
                self.open.pop()
            self.previous = kind
            self.recent = [*self.recent[-1:], token]
            yield token

    def after_recovery(self) -> None:
        while self.open and self.open[-1].type != "LBRACE":
            self.open.pop()
        self.previous = None
