"""Source text, spans and the snippet renderer used by diagnostics."""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file. Lines and columns are 1-based; ``end_column``
    is exclusive (the column just after the last character)."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(file: str, line: int, column: int) -> Span:
        return Span(file, line, column, line, column + 1)


@dataclass(frozen=True)
class Source:
    """A named text. ``name`` is what diagnostics print (usually the path).
    ``included``: the sources of the files a policy includes (SPEC §3.1), by
    name, so that a diagnostic in any of them shows its own line."""

    name: str
    text: str
    included: dict[str, Source] = field(default_factory=dict, compare=False, repr=False)
    _line_starts: list[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        text = self.text
        pos = text.find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = text.find("\n", pos + 1)
        object.__setattr__(self, "_line_starts", starts)

    @property
    def line_count(self) -> int:
        return len(self._line_starts)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line ending."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        if end == -1:
            end = len(self.text)
        return self.text[start:end].rstrip("\r")

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), both 1-based, of a character offset."""
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def span(self, start: int, end: int) -> Span:
        line, column = self.position(start)
        end_line, end_column = self.position(max(end, start + 1))
        return Span(self.name, line, column, end_line, end_column)


# Lines longer than _EXCERPT_LONG characters are shown as a window of
# _EXCERPT_WIDTH characters that starts _EXCERPT_CONTEXT before the span.
_EXCERPT_LONG = 160
_EXCERPT_WIDTH = 120
_EXCERPT_CONTEXT = 40


# The bidirectional embeddings, overrides and isolates: shown as they are, they reorder what
# the terminal shows around them (the "Trojan Source" trick), so they are written out too.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown(char: str) -> str:
    """A character as a terminal shows it literally: a control character but newline and
    tab, or a bidirectional override, written ``\\u`` and its code, as JSON writes it; any
    other as it is."""
    if char in "\n\t" or (unicodedata.category(char) != "Cc" and char not in _BIDI):
        return char
    return f"\\u{ord(char):04x}"


def terminal_text(text: str) -> str:
    """``text`` with its control characters but newline and tab written out (:func:`_shown`):
    an escape sequence, a carriage return or a backspace in a file name or a value would
    otherwise recolour, move or erase what the terminal shows."""
    return text if text.isprintable() else "".join(map(_shown, text))


def render_snippet(source: Source | None, span: Span, hint: str | None) -> list[str]:
    """The source line of ``span`` with a caret line under it (SPEC §11)::

    14 |   +20 when compnay_size between 200 and 5000
       |            ^^^^^^^^^^^^ did you mean 'company_size'?
    """
    if source is not None and span.file != source.name and span.file in source.included:
        source = source.included[span.file]
    if source is None or not source.text or span.line > source.line_count:
        return [f"      = hint: {hint}"] if hint else []
    text = source.line_text(span.line)
    start = max(span.column - 1, 0)
    if span.end_line == span.line:
        end = max(span.end_column - 1, start + 1)
    else:
        end = max(len(text), start + 1)
    if len(text) > _EXCERPT_LONG:
        # A very long line (generated policies) is shown around the span.
        low = max(0, min(start - _EXCERPT_CONTEXT, len(text) - _EXCERPT_WIDTH))
        high = low + _EXCERPT_WIDTH
        lead = "..." if low > 0 else ""
        text = lead + text[low:high] + ("..." if high < len(text) else "")
        start += len(lead) - low
        end = min(end + len(lead) - low, len(lead) + _EXCERPT_WIDTH)
    if not text.isprintable():
        # Control characters written out (terminal_text), the caret moved with them.
        pieces = [_shown(char) for char in text]
        start, end = (sum(map(len, pieces[:i])) + max(0, i - len(text)) for i in (start, end))
        text = "".join(pieces)
    # Keep tabs in the prefix so that the caret lines up with the text above.
    prefix = "".join("\t" if ch == "\t" else " " for ch in text[:start])
    if start > len(text):
        prefix += " " * (start - len(text))
    carets = "^" * max(1, min(end, max(len(text), start + 1)) - start)
    gutter = f"{span.line:>5} | "
    blank = " " * 5 + " | "
    caret_line = blank + prefix + carets + (f" {hint}" if hint else "")
    return [gutter + text if text else gutter.rstrip(), caret_line]
