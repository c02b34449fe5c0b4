"""Reading CSV tables (leads, events, import tables) so that bad rows never win.

The standard :mod:`csv` reader stops at the first malformed row, lets an unclosed quote swallow
the rest of the file, and crashes on bytes that are not UTF-8 or on a cell over its field size
limit. :func:`read_rows` yields every row with the line where it starts and reports each bad one
as a :class:`~mqldsl.io.problems.Problem` at that line, then goes on:

- malformed quoting (``E702``) — a quoted cell never closed, or text after a closing quote — is
  reported at the row where the quote opens, and reading resumes at the next line, so an
  unclosed quote costs one row, not the rest of the file;
- a row with fewer or more cells than the header (``E708``);
- bytes that are not UTF-8 (``E709``), with the line and byte column;
- a cell over :data:`CELL_LIMIT` (``E710``, the :mod:`csv` field size limit, 128 KiB).

A header without a column the caller needs, or with a column named twice, is a file-level
:class:`~mqldsl.io.errors.InputProblem` (``E713``, ``E714``). Blank lines are skipped.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mqldsl.io.errors import InputProblem
from mqldsl.io.files import cannot_read
from mqldsl.io.problems import Problem

CELL_LIMIT = csv.field_size_limit()  # 131,072 characters unless the process raised it

# A rejected record: its problem, and the cells read alike whatever is wrong with it (None).
Reject = Callable[[Problem, "list[str] | None"], None]


@dataclass(frozen=True)
class Bad:
    """A row that cannot be used: its problem, and its cells when it has some (a row of the
    wrong width)."""

    problem: Problem
    cells: list[str] | None = None


@dataclass(frozen=True)
class Row:
    """A good row: the line it starts on and its cells by column name."""

    line: int
    cells: dict[str, str]


class _Lines:
    """The physical lines of a binary stream, decoded (bytes that are not UTF-8 are kept as
    surrogates and remembered by line), with lines put back to be read again."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.number = 0  # of the last line read from the stream
        self.back: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []  # the lines of the record being read
        self.bad_bytes: dict[int, int] = {}  # line -> byte column of its first non-UTF-8 byte

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.back:
            item = self.back.popleft()
        else:
            raw = self.stream.readline()
            if not raw:
                raise StopIteration
            self.number += 1
            if self.number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad_bytes[self.number] = exc.start + 1
                text = raw.decode("utf-8", errors="surrogateescape")
            item = (self.number, text)
        self.taken.append(item)
        return item[1]

    def again(self, lines: Sequence[tuple[int, str]]) -> None:
        """Read ``lines`` again next (in their order)."""
        self.back.extendleft(reversed(lines))

    def remaining(self) -> int:
        """How many lines are left (counted without decoding them)."""
        count = len(self.back)
        last = b"\n"
        while chunk := self.stream.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
        return count + (0 if last == b"\n" else 1)


# Reading buffer: with Python's 8 KB, reading a journey line (2 KB) costs 1.3-2 µs, with
# 64 KB 0.6-0.8 µs (benchmarks; the hand-written baseline reads with the same buffer).
_BUFFER = 1 << 16


def open_input(path: str | Path) -> BinaryIO:
    """``path`` opened for reading bytes; :class:`InputProblem` (``E960``, as every input
    that cannot be read) naming it when it cannot be (missing, a folder, no permission)."""
    try:
        if Path(path).is_dir():
            raise IsADirectoryError(21, "Is a directory")
        return open(path, "rb", buffering=_BUFFER)
    except OSError as exc:
        raise InputProblem([cannot_read(str(path), exc).render()]) from None


def _records(name: str, lines: _Lines, reject: Reject) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, number of physical lines, cells) of each well-formed record."""
    reader = csv.reader(lines, strict=True)
    while True:
        lines.taken = []
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            taken = lines.taken
            if not taken:  # pragma: no cover - the csv reader always reads a line first
                return
            start = taken[0][0]
            leading = _leading_cells(taken[0][1])
            hint = _QUOTE_HINT
            if "field larger than field limit" in str(exc):
                if len(taken) == 1:
                    reject(_too_large(name, start), leading)
                    continue
                message = (
                    "a quoted cell opened on this line is not closed within "
                    f"{CELL_LIMIT:,} characters"
                )
            elif "unexpected end of data" in str(exc):
                message = "a quoted cell opened on this line is never closed"
            elif "new-line character" in str(exc):
                message = "a line break (\\r) inside a cell that is not quoted"
                hint = "quote the cell, or remove the line break"
            elif len(taken) > 1:
                message = (
                    "a quoted cell opened on this line is not closed properly (the next quote, "
                    f"on line {taken[-1][0]}, is not followed by a comma or the end of a line)"
                )
            else:
                message = "malformed quoting: a closing quote is not followed by a comma"
            reject(Problem(name, start, message, "E702", hint=hint), leading)
            lines.again(taken[1:])  # go on at the next line
            continue
        if not cells:
            continue  # a blank line
        taken = lines.taken
        yield taken[0][0], len(taken), cells


_QUOTE_HINT = 'close the quote, or double a quote inside a quoted cell ("")'


def _leading_cells(text: str) -> list[str]:
    """The cells of a line that a malformed quote or an oversized cell after them cannot
    change: those before the line's first quote (the last of them only when no quote
    follows). A rejected events row keeps its lead id so (its lead is rejected with it)."""
    text = text.rstrip("\r\n")
    quote = text.find('"')
    if quote < 0:
        return text.split(",")
    return text[:quote].split(",")[:-1]


def _too_large(name: str, line: int) -> Problem:
    return Problem(
        name,
        line,
        f"a cell is larger than {CELL_LIMIT:,} characters",
        "E710",
        hint="split the text, or leave the column out of the export",
    )


def _header_problem(problem: Problem, _cells: list[str] | None = None) -> None:
    message = f"the header: {problem.message}"
    raise InputProblem([Problem(problem.file, problem.line, message, problem.code).render()])


def _column(name: str, columns: list[str], problem: str, code: str) -> InputProblem:
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    return InputProblem(
        [Problem(name, 1, f"{problem} (columns: {shown or 'none'})", code).render()]
    )


class CsvTable:
    """A CSV table read row by row: ``columns`` (its header), then :meth:`rows`. A header
    that cannot be read is an :class:`InputProblem`."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.name = name
        self.lines = _Lines(stream)
        self.columns: list[str] = []
        for line, _, cells in _records(name, self.lines, _header_problem):
            if line in self.lines.bad_bytes:
                raise InputProblem([self._not_utf8(line).render()])
            self.columns = cells
            break
        seen: set[str] = set()
        for column in self.columns:
            if column in seen:
                raise _column(name, self.columns, f"the column `{column}` is named twice", "E714")
            seen.add(column)

    def require(self, *names: str, what: str = "table") -> None:
        """:class:`InputProblem` (``E713``) naming the columns of ``names`` it lacks."""
        missing = [n for n in names if n not in self.columns]
        if missing:
            need = ", ".join(f"`{n}`" for n in missing)
            plural = "s" if len(missing) > 1 else ""
            raise _column(
                self.name, self.columns, f"the {what} needs the column{plural} {need}", "E713"
            )

    def _not_utf8(self, line: int, lines: int = 1) -> Problem:
        first = min(n for n in range(line, line + lines) if n in self.lines.bad_bytes)
        column = self.lines.bad_bytes[first]
        at = f"line {first}, byte {column}" if first != line else f"byte {column}"
        return Problem(
            self.name,
            line,
            f"bytes that are not UTF-8 (the first at {at})",
            "E709",
            column=column if first == line else 0,
            hint="export the table as UTF-8",
        )

    def rows(self) -> Iterator[Row | Bad]:
        """Each record in file order: a good row, or the problem that rejects it (at the line
        where the record starts)."""
        width = len(self.columns)
        pending: list[Bad] = []

        def reject(problem: Problem, cells: list[str] | None) -> None:
            pending.append(Bad(problem, cells))

        for line, lines, cells in _records(self.name, self.lines, reject):
            yield from pending
            pending.clear()
            if any(n in self.lines.bad_bytes for n in range(line, line + lines)):
                # (its cells are read: only some bytes of some cells are not UTF-8)
                yield Bad(self._not_utf8(line, lines), cells if lines == 1 else None)
            elif len(cells) != width:
                yield Bad(self._width(line, lines, cells, width), cells if lines == 1 else None)
            else:
                yield Row(line, dict(zip(self.columns, cells, strict=True)))
        yield from pending

    def _width(self, line: int, lines: int, cells: list[str], width: int) -> Problem:
        if lines > 1:
            # A quoted cell that spans lines and leaves the row the wrong width is a quote
            # opened by mistake: report it here, and read the lines it took again.
            self.lines.again(self.lines.taken[1:])
            return Problem(
                self.name,
                line,
                f"a quoted cell opened on this line runs over {lines} lines and leaves the row "
                f"with {len(cells)} values for {width} columns",
                "E702",
                hint=_QUOTE_HINT,
            )
        fewer = len(cells) < width
        return Problem(
            self.name,
            line,
            f"{'fewer' if fewer else 'more'} values than columns ({len(cells)} for {width})",
            "E708",
            hint="every row has one value per column of the header (quote a cell with a comma)",
        )

    def remaining(self) -> int:
        """The lines not read yet (for a reader that stops early)."""
        return self.lines.remaining()


__all__ = ["CELL_LIMIT", "Bad", "CsvTable", "Row", "open_input"]
