"""Small file helpers shared by the commands: safe outputs (atomic replace of
regular files, streaming to devices and pipes), output to a file or standard
output, what file a run was reading or writing when it failed, and the
policy files a list of paths names.

Outputs (docs/robustness.md): ``-o PATH`` that is a regular file or does not
exist is written to a temporary file in the same folder (``.NAME.XXXX.tmp``)
and renamed over PATH only when the whole output was produced, so that
readers never see half a file and a failed or interrupted run leaves PATH as
it was. A symbolic link is followed: its target is replaced atomically and
the link stays a link. A character or block device, a FIFO or a socket
(``/dev/null``, ``/dev/stdout``, a named pipe) is opened and written to
directly. A directory is refused (:class:`UsageProblem`, exit 2); a place the
system does not let us create or write a file in (a read-only folder,
``/proc``, a full disk) is an :class:`InputProblem` ``E950``/``E951`` (exit 1).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
import tempfile
import types
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from mqldsl.io.errors import InputProblem, UsageProblem
from mqldsl.io.problems import Problem
from mqldsl.language.includes import headerless

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

Produced = TypeVar("Produced")

#: What the run is doing with which file, innermost last: ("reading", "journeys.jsonl").
_DOING: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("mqldsl_files_doing", default=())
_NOTE = "mqldsl_doing"


@contextlib.contextmanager
def doing(action: str, path: str | os.PathLike[str]) -> Iterator[None]:
    """Mark the block as ``action`` (``"reading"``, ``"writing"``) the file
    ``path``: an exception that leaves the block carries it (see
    :func:`what_failed`), so that the last-resort message of the command can
    say which file the run was at. Readers call ``with reading(path):``."""
    token = _DOING.set((*_DOING.get(), (action, os.fspath(path))))
    try:
        yield
    except BaseException as exc:
        if not hasattr(exc, _NOTE):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(exc, _NOTE, _DOING.get())
        raise
    finally:
        _DOING.reset(token)


def reading(path: str | os.PathLike[str]) -> contextlib.AbstractContextManager[None]:
    """``with reading(path):`` around the code that reads an input file."""
    return doing("reading", path)


def writing(path: str | os.PathLike[str]) -> contextlib.AbstractContextManager[None]:
    """``with writing(path):`` around the code that writes an output file."""
    return doing("writing", path)


def what_failed(exc: BaseException) -> list[tuple[str, str]]:
    """The (action, file) pairs the run was in when ``exc`` was raised,
    innermost first: the files open in the frames the exception went through
    (a best guess, for readers that do not mark themselves), then those
    marked with :func:`doing`."""
    found: list[tuple[str, str]] = []
    trace: types.TracebackType | None = exc.__traceback__
    frames = []
    while trace is not None:
        frames.append(trace.tb_frame)
        trace = trace.tb_next
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            name = getattr(value, "name", None)
            mode = getattr(value, "mode", None)
            if isinstance(value, io.IOBase) and isinstance(name, str) and isinstance(mode, str):
                action = "reading" if mode.startswith("r") and "+" not in mode else "writing"
                if (action, name) not in found and not name.startswith("<"):
                    found.append((action, name))
    marked: tuple[tuple[str, str], ...] = getattr(exc, _NOTE, ())
    found.extend(pair for pair in reversed(marked) if pair not in found)
    return found


def read_input(path: str | os.PathLike[str], what: str = "file") -> str:
    """The text of the input file ``path`` (UTF-8, a leading BOM dropped);
    an :class:`InputProblem` naming the file, and the line and column of the
    first byte that is not UTF-8, when it cannot be read (``E960``) or is not
    UTF-8 text (``E961``)."""
    name = os.fspath(path)
    with reading(name):
        try:
            if os.path.isdir(name):
                raise IsADirectoryError(21, "is a directory, not a file")
            data = Path(name).read_bytes()
        except OSError as exc:
            raise InputProblem([cannot_read(name, exc, what).render()]) from None
        try:
            return data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise InputProblem([not_utf8(name, data, exc).render()]) from None


def cannot_read(path: str, exc: OSError, what: str = "file") -> Problem:
    """``E960``: the input file ``path`` cannot be read."""
    reason = exc.strerror or str(exc)
    return Problem(
        path,
        0,
        f"cannot read the {what}: {reason}",
        "E960",
        hint="give a readable regular file (not a folder); check its permissions",
    )


def not_utf8(path: str, data: bytes, exc: UnicodeDecodeError) -> Problem:
    """``E961``: the input ``path`` (whose bytes are ``data``) is not UTF-8 text."""
    start = exc.start
    line = data.count(b"\n", 0, start) + 1
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    return Problem(
        path,
        line,
        f"the file is not UTF-8 text (byte 0x{data[start]:02x} cannot be decoded)",
        "E961",
        column,
        hint="save the file as UTF-8",
    )


# ---------------------------------------------------------------- outputs


def output_target(path: str | os.PathLike[str]) -> tuple[Path, bool]:
    """Where writing ``path`` lands and whether it is replaced atomically:
    a symbolic link is resolved to its target; a regular file or a path that
    does not exist is replaced atomically (True); a device, FIFO or socket is
    streamed to (False). :class:`UsageProblem` (option ``-o``) for a directory."""
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target, True
    except OSError as exc:
        raise InputProblem([cannot_write(str(path), exc).render()]) from None
    if stat.S_ISDIR(mode):
        raise UsageProblem(f"{os.fspath(path)!r} is a directory: name a file", "-o")
    return target, stat.S_ISREG(mode)


def cannot_write(path: str, exc: OSError) -> Problem:
    """``E950``: the output ``path`` cannot be created where it is asked for."""
    return Problem(
        path,
        0,
        f"cannot create the output: {exc.strerror or exc}",
        "E950",
        hint="write to a folder you may create files in (-o), on a writable disk",
    )


def write_failed(path: str, exc: OSError, kept: bool = True) -> Problem:
    """``E951``: writing the output ``path`` failed part of the way (``kept``:
    it was being replaced atomically, so it keeps its old content)."""
    after = "; the file was left as it was" if kept else ""
    return Problem(
        path,
        0,
        f"writing the output failed: {exc.strerror or exc}{after}",
        "E951",
        hint="free some space on the disk, or write elsewhere (-o)",
    )


class _OutputFile(io.FileIO):
    """A file whose write errors say which output failed (``E951``)."""

    shown = ""
    kept = True

    def write(self, data: ReadableBuffer, /) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            raise InputProblem([write_failed(self.shown, exc, self.kept).render()]) from None


def _mode_for(target: Path) -> int:
    if target.exists():
        return target.stat().st_mode & 0o7777
    umask = os.umask(0)  # what open() would give a new file
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces ``path`` only when the block
    ends without an exception (a temporary file in the same folder, then a
    rename), so that readers never see half a file and an interrupted run
    leaves the old content and no temporary file. Keeps the mode of an
    existing file. A symbolic link's target is replaced (the link stays); a
    device, FIFO or socket is written to directly (see the module's text)."""
    shown = os.fspath(path)
    target, atomic = output_target(path)
    with writing(shown):
        if not atomic:
            yield from _streamed(target, shown)
            return
        folder = target.parent if str(target.parent) else Path(".")
        try:
            mode = _mode_for(target)
            handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as exc:
            raise InputProblem([cannot_write(shown, exc).render()]) from None
        try:
            raw = _OutputFile(handle, "wb", closefd=True)
            raw.shown = shown
            with io.BufferedWriter(raw) as stream:
                yield stream
            try:
                os.chmod(temp, mode)
                os.replace(temp, target)
            except OSError as exc:
                raise InputProblem([write_failed(shown, exc).render()]) from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise


def _streamed(target: Path, shown: str) -> Iterator[BinaryIO]:
    try:
        raw = _OutputFile(target, "wb")
    except OSError as exc:
        raise InputProblem([cannot_write(shown, exc).render()]) from None
    raw.shown, raw.kept = shown, False
    with io.BufferedWriter(raw) as stream:
        yield stream


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` as :func:`atomic_output` does."""
    with atomic_output(path) as stream:
        stream.write(text.encode("utf-8"))


def write_output(
    output: str | os.PathLike[str] | None, produce: Callable[[BinaryIO], Produced]
) -> Produced:
    """Run ``produce(binary sink)`` into standard output (``output`` None) or
    into the file ``output`` through :func:`atomic_output`; :class:`UsageProblem`
    (option ``-o``) when the file's folder does not exist or it is a directory."""
    if output is None:
        stream = sys.stdout.buffer
        result = produce(stream)
        stream.flush()
        return result
    check_folder(output)
    with atomic_output(output) as sink:
        return produce(sink)


def check_folder(output: str | os.PathLike[str]) -> None:
    """Called before long work, so that a typo does not waste it:
    :class:`UsageProblem` (option ``-o``) when the folder of ``output`` does
    not exist or ``output`` is a directory; :class:`InputProblem` ``E950``
    when no file can be created in its folder (tried with a temporary file)."""
    shown = os.fspath(output)
    folder = Path(shown).parent
    if str(folder) and not folder.is_dir():
        raise UsageProblem(f"the folder {str(folder)!r} does not exist", "-o")
    target, atomic = output_target(shown)
    if not atomic:
        return
    try:
        handle, temp = tempfile.mkstemp(
            dir=target.parent if str(target.parent) else Path("."),
            prefix=f".{target.name}.",
            suffix=".tmp",
        )
        os.close(handle)
        os.unlink(temp)
    except OSError as exc:
        raise InputProblem([cannot_write(shown, exc).render()]) from None


def expand_policy_paths(paths: Iterable[str], included: bool = True) -> list[str]:
    """Files as given, and every ``.mql`` file under a directory (sorted).
    Paths that do not exist are kept, so that reading them reports E100.
    ``included=False``: leave out the files under a directory that have no
    `policy` header — files that policies include (SPEC §3.1), checked as
    part of the policies that include them."""
    result: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            result.extend(
                str(p)
                for p in sorted(path.rglob("*.mql"))
                if p.is_file() and (included or not _included_file(p))
            )
        else:
            result.append(raw)
    return result


def _included_file(path: Path) -> bool:
    try:
        return headerless(path.read_bytes())
    except OSError:
        return False  # reading it again reports why


__all__ = [
    "atomic_output",
    "cannot_read",
    "check_folder",
    "doing",
    "expand_policy_paths",
    "not_utf8",
    "output_target",
    "read_input",
    "reading",
    "what_failed",
    "write_atomic",
    "write_output",
    "writing",
]
