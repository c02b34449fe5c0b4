"""Small file helpers shared by the commands: atomic writes, output to a
file or standard output, and the policy files a list of paths names."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from mqldsl.io.errors import UsageProblem

Produced = TypeVar("Produced")


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces ``path`` only when the block
    ends without an exception (temporary file in the same folder, then a
    rename), so that readers never see half a file. Keeps the mode of an
    existing file."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.exists():
        mode = target.stat().st_mode & 0o7777
    else:  # what open() would give a new file
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_output(path) as stream:
        stream.write(text.encode("utf-8"))


def write_output(output: str | Path | None, produce: Callable[[BinaryIO], Produced]) -> Produced:
    """Run ``produce(binary sink)`` into standard output (``output`` None) or
    atomically into the file ``output``; :class:`UsageProblem` (option ``-o``)
    when the file's folder does not exist."""
    if output is None:
        stream = sys.stdout.buffer
        result = produce(stream)
        stream.flush()
        return result
    check_folder(output)
    with atomic_output(output) as sink:
        return produce(sink)


def check_folder(output: str | Path) -> None:
    """:class:`UsageProblem` (option ``-o``) when the folder of ``output`` does not exist;
    called before long work, so that a typo does not waste it."""
    folder = Path(output).parent
    if str(folder) and not folder.is_dir():
        raise UsageProblem(f"the folder {str(folder)!r} does not exist", "-o")


def expand_policy_paths(paths: Iterable[str]) -> list[str]:
    """Files as given, and every ``.mql`` file under a directory (sorted).
    Paths that do not exist are kept, so that reading them reports E100."""
    result: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            result.extend(str(p) for p in sorted(path.rglob("*.mql")) if p.is_file())
        else:
            result.append(raw)
    return result
