"""Parse policy text into the typed AST (:mod:`mqldsl.language.ast`): the
front door of the language package, the only package that imports Lark.

The grammar lives in ``grammar/mqldsl.lark``; the LALR parser is built once
per process, with the AST builder embedded (:mod:`mqldsl.language.builder`),
the span tracker around its reductions (:mod:`mqldsl.language.spans`) and the
continuation post-lexer (:mod:`mqldsl.language.continuation`). Syntax errors
become E1xx diagnostics and the parse resumes after each broken statement
(:mod:`mqldsl.language.recovery`); unreadable files become E100, empty ones
E110.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import hashlib
import os
import re
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark
from lark.exceptions import UnexpectedInput

from mqldsl.language import ast, parsecache
from mqldsl.language.builder import AstBuilder
from mqldsl.language.continuation import PostLexer
from mqldsl.language.diagnostics import Diagnostic, error
from mqldsl.language.recovery import Recovery
from mqldsl.language.source import Source, Span
from mqldsl.language.spans import SpanTracker

# Errors that leave a complete AST (with a stand-in for the bad part: the
# escaped character itself, `days` for `months` or for `business weeks`, the
# reserved word as the name). After only these, the policy is still handed to the checker, so that
# one run reports its other problems too; the result is never a model.
CHECK_AFTER = frozenset(["E104", "E105", "E106", "E130"])


@functools.cache
def grammar_text() -> str:
    """The grammar, from the installed package, or from the source tree when
    running from a checkout (an editable install)."""
    packaged = resources.files("mqldsl").joinpath("grammar/mqldsl.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "mqldsl.lark").read_text(
        encoding="utf-8"
    )


def _cache_file() -> str | bool:
    """Lark caches the analysed grammar (keyed by the grammar's hash) so that
    a command starts fast. The cache goes to the user's cache folder; when
    that is not writable, Lark's default temporary-folder cache is used."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "mqldsl")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return True
    if not os.access(folder, os.W_OK):
        return True
    digest = hashlib.sha256(grammar_text().encode("utf-8")).hexdigest()[:16]
    import lark as lark_module

    return os.path.join(folder, f"grammar-{digest}-lark{lark_module.__version__}.cache")


@dataclass
class _Parser:
    lark: Lark
    postlex: PostLexer
    builder: AstBuilder
    spans: SpanTracker
    displays: dict[str, str]
    lock: threading.Lock


@functools.cache
def _parser() -> _Parser:
    postlex = PostLexer()
    builder = AstBuilder()
    lark = Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        postlex=postlex,
        transformer=builder,
        maybe_placeholders=True,
        cache=_cache_file(),
    )
    spans = SpanTracker(builder)
    spans.install(_reduction_callbacks(lark))
    displays = dict(_NAMED_TERMINALS)
    for terminal in lark.terminals:
        pattern = terminal.pattern
        if type(pattern).__name__ == "PatternStr":
            displays.setdefault(terminal.name, f"`{pattern.value}`")
    return _Parser(lark, postlex, builder, spans, displays, threading.Lock())


def _reduction_callbacks(lark: Lark) -> dict[Any, Any]:
    """The LALR parser's reduction callbacks (rule -> builder method), which
    the span tracker wraps so that every AST node gets its span while the
    builder runs inside the parser (no parse tree).

    Lark has no public way to reach them: this is the one place that reads its
    private ``_callbacks``, and it fails loudly if Lark stops sharing that
    table with the running parser."""
    callbacks: dict[Any, Any] = lark._callbacks
    shared: bool = lark.parser.parser.parser.callbacks is callbacks
    if not shared:  # pragma: no cover - a Lark change
        raise RuntimeError("this version of Lark does not share its parser callbacks")
    return callbacks


_NAMED_TERMINALS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "POINTS": "points such as `+20` or `-30`",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "DATE": "a date such as `2026-12-01`",
    "INSTANT": "an instant such as `2026-12-01T09:30:00Z`",
    "UNIT": "a duration unit (minutes, hours, days or weeks)",
    "CLOCK": "a time of day such as `09:00`",
    "COMPARE": "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)",
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "ANY_EVENT": "`event`",
    "EVER": "`ever`",
    "AGGREGATE": "`sum(`, `max(`, `min(` or `avg(`",
    "LOCKED": "`locked`",
}


# ---------------------------------------------------------------- results


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Parsing and checking allocate many small objects and create no
    reference cycles; pausing the cyclic garbage collector meanwhile saves
    it from rescanning them again and again (about a tenth of the time)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(frozen=True)
class ParseResult:
    source: Source
    policy: ast.Policy | None
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return self.policy is not None and not any(d.is_error for d in self.diagnostics)


#: The largest policy file read (a policy is text a person writes; a bigger file is a mistake).
MAX_POLICY_BYTES = 64 << 20


def read_policy(path: str | Path) -> bytes:
    """The bytes of a policy file (or a file a policy includes). OSError for what cannot be
    read, and for what is not a regular file or passes :data:`MAX_POLICY_BYTES`, before anything
    is read: a device such as /dev/zero or a named pipe would never end."""
    if "\x00" in os.fsdecode(path):  # (os.open raises ValueError on it)
        raise OSError(errno.EINVAL, "a path cannot hold a NUL character")
    # Opened without blocking: opening a named pipe would wait for a writer.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(descriptor, "rb", buffering=0) as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > MAX_POLICY_BYTES:
            raise OSError(errno.EFBIG, f"larger than {MAX_POLICY_BYTES >> 20} MB")
        return handle.read()


def parse_file(path: str | Path, included: bool = False) -> ParseResult:
    """Read and parse a file. Unreadable, binary and non-UTF-8 files become
    diagnostics (E100), never exceptions. ``included``: the file is included
    by a policy (SPEC §3.1), so it has no header and may be empty."""
    name = str(path)
    try:
        data = read_policy(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return ParseResult(
            Source(name, ""),
            None,
            [error("E100", f"cannot read the file: {reason}", Span.point(name, 1, 1))],
        )
    return parse_bytes(data, name, included)


def parse_bytes(data: bytes, name: str, included: bool = False) -> ParseResult:
    """The parse of the file ``name`` whose bytes are ``data``, from the cache of parsed
    files when it has it (:mod:`mqldsl.language.parsecache`)."""
    return parsecache.cached(
        data, name, included, grammar_text(), lambda: _parse_bytes(data, name, included)
    )


def _parse_bytes(data: bytes, name: str, included: bool) -> ParseResult:
    if b"\x00" in data:
        return ParseResult(
            Source(name, ""),
            None,
            [
                error(
                    "E100",
                    "this is a binary file, not a policy",
                    Span.point(name, 1, 1),
                    "policies are UTF-8 text files ending in .mql",
                )
            ],
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        source = Source(name, data[: exc.start].decode("utf-8", "replace"))
        line, column = source.position(len(source.text))
        return ParseResult(
            source,
            None,
            [
                error(
                    "E100",
                    f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} "
                    f"at offset {exc.start})",
                    Span.point(name, line, column),
                    "save the policy as UTF-8",
                )
            ],
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return parse_source(Source(name, text), included)


def parse_text(text: str, name: str = "<policy>", included: bool = False) -> ParseResult:
    return parse_source(Source(name, text), included)


def parse_source(source: Source, included: bool = False) -> ParseResult:
    if included and not source.text.strip():
        return ParseResult(source, ast.Policy(items=(), span=Span.point(source.name, 1, 1)), [])
    if not source.text.strip():
        return ParseResult(
            source,
            None,
            [
                error(
                    "E110",
                    "the policy file is empty",
                    Span.point(source.name, 1, 1),
                    'a policy starts with `policy "TITLE"`',
                )
            ],
        )
    parser = _parser()
    with parser.lock, paused_gc():
        recovery = Recovery(source, parser.postlex, parser.displays, parser.spans)
        parser.postlex.reset()
        parser.spans.reset()
        parser.builder.begin(source)
        built: list[ast.Item | None] | None
        try:
            # The embedded builder's `start` makes the result a list of items.
            built = parser.lark.parse(  # type: ignore[assignment]
                source.text, on_error=recovery.on_error
            )
        except UnexpectedInput as exc:
            recovery.report(exc)
            built = None
        finally:
            parser.spans.reset()
            parser.builder.finish()
        builder_diagnostics = parser.builder.diagnostics
    diagnostics = recovery.diagnostics
    if built is None:
        return ParseResult(source, None, diagnostics)
    items: list[ast.Item] = [item for item in built if item is not None]
    if diagnostics:
        diagnostics.extend(builder_diagnostics)
        return ParseResult(source, None, _dedupe(diagnostics))
    diagnostics.extend(builder_diagnostics)
    policy = ast.Policy(
        items=tuple(items),
        comments=tuple(scan_comments(source)),
        span=Span(
            source.name, 1, 1, source.line_count, len(source.line_text(source.line_count)) + 1
        ),
    )
    if included:
        pass  # no header; only comments is fine
    elif not policy.items:
        diagnostics.append(
            error(
                "E110",
                "the policy has no declarations, only comments",
                Span.point(source.name, 1, 1),
                'a policy starts with `policy "TITLE"`',
            )
        )
    elif not isinstance(policy.items[0], ast.PolicyTitle):
        diagnostics.append(
            error(
                "E111",
                'a policy must start with its header `policy "TITLE"`',
                policy.items[0].span,
                'add `policy "Your company lead qualification"` as the first line'
                + (
                    ""
                    if policy.first(ast.PolicyTitle) is not None
                    else "; a file of shared declarations is not a policy: check the policy "
                    'that includes it (`include "PATH"`)'
                ),
            )
        )
    errors = {d.code for d in diagnostics if d.is_error}
    if errors and not errors <= CHECK_AFTER:
        return ParseResult(source, None, diagnostics)
    return ParseResult(source, policy, diagnostics)


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, int, int]] = set()
    result = []
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        key = (d.code, d.span.line, d.span.column)
        if key not in seen:
            seen.add(key)
            result.append(d)
    return result


# ---------------------------------------------------------------- comments

_COMMENT_SCAN = re.compile(r'"""[\s\S]*?(?:"""|$)|"(?:[^"\\\n]|\\.)*"?|#[^\n]*')


def scan_comments(source: Source) -> Iterator[ast.Comment]:
    """Every `# ...` comment outside strings, in order."""
    for match in _COMMENT_SCAN.finditer(source.text):
        if match.group().startswith("#"):
            line, column = source.position(match.start())
            yield ast.Comment(line, column, match.group().rstrip())
