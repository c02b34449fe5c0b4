"""Syntax errors: Lark's exceptions become E1xx diagnostics in the user's
words, and the parser resumes after each broken statement, so that one run
reports every broken statement (up to :data:`MAX_SYNTAX_ERRORS`)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.parsers.lalr_parser_state import ParserState

from mqldsl.language.continuation import (
    CONTINUE_AFTER,
    PostLexer,
    line_continues,
    next_line_continues,
)
from mqldsl.language.diagnostics import Diagnostic, error
from mqldsl.language.expression_builder import RESERVED
from mqldsl.language.source import Source, Span
from mqldsl.language.spans import SpanTracker
from mqldsl.language.suggestions import did_you_mean

MAX_SYNTAX_ERRORS = 50


_OPEN_LONG_STRING = 'unterminated string: the `"""`'
# Operators of other languages, and what this one writes (E102).
_OPERATORS = {"&&": ("&&", "and"), "||": ("||", "or")}


class Recovery:
    """Turns Lark's exceptions into diagnostics and resumes after the broken
    statement: it skips to the end of the statement and truncates the parser's
    stack to the innermost state that can continue from there."""

    def __init__(
        self,
        source: Source,
        postlex: PostLexer,
        displays: Mapping[str, str],
        spans: SpanTracker,
    ) -> None:
        self.source = source
        self.postlex = postlex
        self.displays = displays  # terminal -> how a message names it
        self.spans = spans
        self.diagnostics: list[Diagnostic] = []
        self._last_line = -1

    # -- reporting

    def report(self, exc: UnexpectedInput) -> None:
        diagnostic = self._diagnostic(exc)
        if diagnostic.span.line == self._last_line and self.diagnostics:
            return
        self._last_line = diagnostic.span.line
        self.diagnostics.append(diagnostic)

    def _span_of(self, token: Token) -> Span:
        if token.type == "$END" or token.line is None or token.column is None:
            line = self.source.line_count
            column = len(self.source.line_text(line)) + 1
            return Span.point(self.source.name, line, column)
        if token.type == "_NL":
            return Span.point(self.source.name, token.line, token.column)
        return Span(
            self.source.name,
            token.line,
            token.column,
            token.end_line or token.line,
            token.end_column or token.column + len(token),
        )

    def _describe(self, token: Token) -> str:
        kind = token.type
        if kind in ("_NL", "$END"):
            return self.displays[kind]
        if kind in ("STRING", "LONG_STRING"):
            return "a string"
        text = str(token)
        if len(text) > 30:
            text = text[:27] + "..."
        return f"`{text}`"

    def _in_parenthesised_list(self, token: Token) -> bool:
        """Whether ``token`` (a comma) follows `in (` on its line: `x in (a, b)`."""
        line = self.source.line_text(token.line or 1)[: (token.column or 1) - 1]
        return re.search(r"\bin\s*\([^()\[\]]*$", line) is not None

    def _expected(self, names: set[str]) -> list[str]:
        shown = sorted({self.displays.get(n, n) for n in names if n != "_CONT"})
        return shown

    def _diagnostic(self, exc: UnexpectedInput) -> Diagnostic:
        name = self.source.name
        if isinstance(exc, UnexpectedCharacters):
            line, column = exc.line, exc.column
            position = exc.pos_in_stream or 0
            char = self.source.text[position : position + 1]
            span = Span.point(name, line, column)
            # (`""` lexes as an empty string: the third quote of an open `"""` is the one seen)
            opened = self.source.text.find('"""', max(0, position - 2), position + 3)
            if char == '"' and 0 <= opened <= position:
                start = column - (position - opened)
                return error(
                    "E103",
                    _OPEN_LONG_STRING + " opened here is never closed",
                    Span(name, line, start, line, start + 3),
                    'close it with `"""` where the text ends',
                )
            if char == '"':
                return error(
                    "E103",
                    "unterminated string",
                    span,
                    'close the string with `"` on the same line, or use """...""" '
                    "for text that spans lines",
                )
            operator = _OPERATORS.get(self.source.text[position : position + 2])
            if operator is not None:
                typed, meant = operator
                return error(
                    "E102",
                    f"unexpected `{typed}`: the language writes `{meant}`",
                    Span(name, line, column, line, column + len(typed)),
                    f"write `{meant}`",
                )
            before = self.source.text[max(0, position - 10) : position]
            if char == "T" and re.search(r"[0-9]{4}-[0-9]{2}-[0-9]{2}$", before):
                return error(
                    "E102",
                    "an instant where a date goes: write the date alone, e.g. `2026-12-01`",
                    Span(name, line, column - 10, line, column),
                    "a date is written `2026-12-01` (the header's `effective`, a date field)",
                )
            if char.isascii() and char.isupper():
                word = re.match(r"[A-Za-z_][A-Za-z0-9_]*", self.source.text[position:])
                found = word.group() if word else char
                return error(
                    "E102",
                    f"unexpected `{found}`: names are written in lower case",
                    Span(name, line, column, line, column + len(found)),
                    f"write `{found.lower()}`",
                )
            shown = repr(char)[1:-1] if char.isprintable() else f"U+{ord(char):04X}"
            if char.isalpha() or (char.isdigit() and not char.isascii()):
                # A letter outside a-z, most often inside a name (`tëst`).
                return error(
                    "E102",
                    f"unexpected character `{shown}`: names use only a-z, 0-9 and _",
                    span,
                    "spell the name in ASCII (e.g. `e` for `é`), or put text in double quotes",
                )
            return error(
                "E102",
                f"unexpected character `{shown}`",
                span,
                "remove it, or put text in double quotes",
            )
        assert isinstance(exc, UnexpectedToken)
        token = exc.token
        expected = {t for t in exc.expected if t.isupper()}
        state = getattr(exc, "state", None)
        if state is not None:
            table = state.parse_conf.parse_table.states
            expected = {t for t in table[state.position] if t.isupper()} or expected
        span = self._span_of(token)
        found = self._describe(token)
        # The post-lexer saw what the parser saw (Lark's own history includes
        # newlines that the post-lexer dropped).
        recent = [t for t in self.postlex.recent if t is not token]
        previous = recent[-1] if recent else None
        prev_kind = previous.type if previous is not None else None

        if token.type == "$END" and self.postlex.open:
            opener = self.postlex.open[-1]
            return error(
                "E109",
                f"`{opener}` opened on line {opener.line} is never closed",
                self._span_of(opener),
                f"add the closing `{_CLOSER[opener.type]}`",
            )
        if "POINTS" in expected and token.type == "NUMBER":
            return error(
                "E108",
                "points need an explicit sign",
                span,
                f"write `+{token}` to add points or `-{token}` to take them away",
            )
        if expected <= {"WHEN", "PER"} and expected:
            return error("E101", f"expected `when` or `per` after the points, found {found}", span)
        if expected == {"UNIT"}:
            return error(
                "E101",
                f"expected a duration unit after the number, found {found}",
                span,
                "write minutes, hours, days or weeks, e.g. `30 days`",
            )
        if "NUMBER" in expected and prev_kind in ("WITHIN", "SLA", "EVERY"):
            return error(
                "E101",
                f"expected a duration such as `30 days` after `{previous}`, found {found}",
                span,
            )
        if prev_kind == "DUE" and token.type == "NUMBER":
            # `expect due 5 minutes`: show the offset as written, with its sign.
            rest = self.source.line_text(token.line or 1)[(token.column or 1) - 1 :]
            written = re.match(r"[0-9.]+\s*[a-z]*", rest)
            offset = written.group(0) if written else str(token)
            return error(
                "E101",
                f"expected when the follow-up is due after `due`, found {found}",
                span,
                f"an offset from the example's instant has a sign: `+{offset}` after it, "
                f"`-{offset}` before it; or write an instant such as `2026-12-01T09:30:00Z`",
            )
        if (
            prev_kind in CONTINUE_AFTER
            and prev_kind not in ("LBRACE", "COMMA")
            and token.type in ("_NL", "RBRACE", "$END")
        ):
            return error(
                "E101",
                f"the statement is incomplete: something must follow `{previous}`",
                self._span_of(previous) if previous is not None else span,
                f"complete it, or remove the trailing `{previous}`",
            )
        if prev_kind in ("WHEN", "WHERE") and token.type in ("_NL", "RBRACE", "$END", "COMMA"):
            return error(
                "E101",
                f"expected a condition after `{previous}`",
                span,
                "e.g. `fit >= 30` or `demo_request within 60 days`",
            )
        if token.type == "COMMA" and self._in_parenthesised_list(token):
            return error(
                "E101",
                "unexpected `,`: a list of values is written in brackets",
                span,
                "write `x in [a, b]` (square brackets), not `x in (a, b)`",
            )
        if token.type == "EQUAL" and "COMPARE" in expected:
            return error("E101", "`=` assigns; to compare, write `==`", span, "write `==`")
        # A misspelt keyword: a word that fits nowhere here (lexed as a name,
        # or as another keyword, as `stage` for `stages`) close to one that does.
        is_word = re.fullmatch(r"[a-z_][a-z0-9_]*", str(token)) is not None
        if is_word and token.type not in expected and "NAME" not in expected:
            # Stricter than for names: a keyword that is not meant is worse advice.
            hint = did_you_mean(
                str(token),
                [self.displays[n].strip("`") for n in expected if n in self.displays],
                cutoff=0.75,
            )
            if hint is not None:
                return error("E101", f"unexpected {found.removeprefix('a ')}", span, hint)
        if token.type != "NAME" and "NAME" in expected and str(token) in RESERVED:
            return error(
                "E106",
                f"`{token}` is a reserved word and cannot be used as a name",
                span,
                "choose another name, e.g. `" + str(token) + "_at`",
            )
        if token.type == "_NL":
            what = "the statement is incomplete"
        elif token.type == "$END":
            what = "the file ends in the middle of a statement"
        else:
            what = f"unexpected {found.removeprefix('a ')}"
            if previous is not None and previous.type not in ("_NL", "LBRACE"):
                what += f" after {self._describe(previous)}"
        options = self._expected(expected)
        hint = "expected " + _join(options) if 0 < len(options) <= 6 else None
        still_open = self.postlex.open[-1] if self.postlex.open else None
        if (
            still_open is not None
            and still_open.type in ("LPAR", "LSQB")
            and still_open.line is not None
            and token.line is not None
            and still_open.line < token.line
            and not line_continues(_code(self.source.line_text(still_open.line)))
        ):
            # Inside brackets a statement runs on across lines, so a missing
            # `)` shows up lines later: say where the bracket was opened.
            hint = (
                f"`{still_open}` opened on line {still_open.line} is still open, so this line "
                f"was read as part of it; close it with `{_CLOSER[still_open.type]}`"
                + (f", or {hint}" if hint else "")
            )
        return error("E101", what, span, hint)

    # -- recovery

    def on_error(self, exc: UnexpectedInput) -> bool:
        self.report(exc)
        self.spans.lenient = True
        if len(self.diagnostics) >= MAX_SYNTAX_ERRORS:
            return False
        if self.diagnostics and self.diagnostics[-1].message.startswith(_OPEN_LONG_STRING):
            return False  # the rest of the file is the string's text: nothing to read there
        if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
            return False
        interactive: Any = getattr(exc, "interactive_parser", None)
        if interactive is None:
            return False
        lexer_state = interactive.lexer_thread.state
        text: str = self.source.text
        if isinstance(exc, UnexpectedToken):
            start = exc.token.start_pos if exc.token.start_pos is not None else len(text)
            kind = exc.token.type
        else:
            start = exc.pos_in_stream or 0
            kind = "?"
        if kind == "_NL":
            stop, target = start, "_NL"
        elif kind == "RBRACE":
            stop, target = start, "RBRACE"
        else:
            stop, target = _end_of_statement(text, start)
        state: ParserState[Any] = interactive.parser_state
        choice = self._truncate(state, target)
        if choice is None and target == "RBRACE":
            stop, target = _end_of_statement(text, start + 1)
            choice = self._truncate(state, target)
        if choice is None:
            return False
        depth, after_line = choice
        del state.state_stack[depth:]
        del state.value_stack[depth - 1 :]
        if after_line and target == "_NL":
            stop += 1
        _move_lexer(lexer_state, text, stop)
        self.postlex.after_recovery()
        return True

    def _truncate(self, state: ParserState[Any], target: str) -> tuple[int, bool] | None:
        """The deepest stack depth that accepts ``target`` next; or, to resume
        on the next line, a depth at the start of a block (just after `{`) or
        between top-level statements."""
        table = state.parse_conf.parse_table.states
        stack = state.state_stack
        for depth in range(len(stack), 0, -1):
            if target in table[stack[depth - 1]]:
                trial = ParserState(
                    state.parse_conf, state.lexer, stack[:depth], state.value_stack[: depth - 1]
                )
                trial.parse_conf = _without_callbacks(state.parse_conf)
                try:
                    trial.feed_token(Token(target, ""), target == "$END")
                except Exception:
                    pass
                else:
                    return depth, False
            top = state.value_stack[depth - 2] if depth >= 2 else None
            at_block_start = isinstance(top, Token) and top.type == "LBRACE"
            at_top_level = "$END" in table[stack[depth - 1]]
            if target == "_NL" and (at_block_start or at_top_level):
                return depth, True
        return None


def _code(line: str) -> str:
    """A line without its trailing comment (a `#` after the last quote)."""
    return re.sub(r'#[^"]*$', "", line)


def _without_callbacks(conf: Any) -> Any:
    clone = copy.copy(conf)
    clone.callbacks = _NullCallbacks()
    return clone


class _NullCallbacks(dict[Any, Any]):
    def __missing__(self, key: Any) -> Any:
        return lambda children: None


_CLOSER = {"LBRACE": "}", "LPAR": ")", "LSQB": "]"}


def _join(options: list[str]) -> str:
    if len(options) == 1:
        return options[0]
    return ", ".join(options[:-1]) + " or " + options[-1]


def _end_of_statement(text: str, start: int) -> tuple[int, str]:
    """Where the statement containing ``start`` ends, skipping strings,
    comments, bracketed parts and continuation lines: the offset of its
    newline (``_NL``), of a `}` that closes the enclosing block (``RBRACE``),
    or the end of the text (``$END``)."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            if text.startswith('"""', i):
                close = text.find('"""', i + 3)
                i = n if close == -1 else close + 3
                continue
            match = re.compile(r'"(?:[^"\\\n]|\\.)*"?').match(text, i)
            i = match.end() if match else i + 1
            continue
        if ch == "#":
            newline = text.find("\n", i)
            i = n if newline == -1 else newline
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0 and ch == "}":
                return i, "RBRACE"
            depth = max(depth - 1, 0)
        elif ch == "\n" and depth == 0:
            line_start = text.rfind("\n", 0, i) + 1
            code = text[line_start:i].split("#", 1)[0]
            if not line_continues(code) and not next_line_continues(text, i + 1):
                return i, "_NL"
        i += 1
    return n, "$END"


def _move_lexer(lexer_state: Any, text: str, pos: int) -> None:
    counter = lexer_state.line_ctr
    counter.char_pos = pos
    counter.line = text.count("\n", 0, pos) + 1
    counter.line_start_pos = text.rfind("\n", 0, pos) + 1
    counter.column = pos - counter.line_start_pos + 1
