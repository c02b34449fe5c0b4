"""A cache of parsed policy files (issue #18): building the parser from Lark's cache and
parsing the Acme policy takes about 50 ms of every command's start, loading the same parse
from this cache about 1 ms.

An entry is the pickled :class:`~mqldsl.language.parser.ParseResult` of one file, keyed by
the file's bytes, its name (spans carry it), whether it is included (SPEC §3.1), and a
fingerprint of everything a parse depends on: the grammar's text, the size and modification
time of each module of :mod:`mqldsl.language` (an edited checkout, or another version of
mqldsl, never reads a stale parse), Lark's and Python's versions. Entries live in the user's
cache folder, beside Lark's own grammar cache (``$XDG_CACHE_HOME/mqldsl/parses``, or
``~/.cache/mqldsl/parses``); they are pickles, so the folder is trusted as Lark's is. Each
is written to a temporary file and renamed into place (processes running at once never read
half an entry); past :data:`KEPT` entries the oldest go. A cache that cannot be read or
written (a read-only home, a damaged entry) is passed over without a word: the file is
parsed as if there were none. ``MQLDSL_NO_PARSE_CACHE=1`` turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

KEPT = 256  # entries; past it the oldest quarter goes
_OFF = "MQLDSL_NO_PARSE_CACHE"
Result = TypeVar("Result")


def folder() -> Path:
    """Where the entries live."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mqldsl" / "parses"


@functools.cache
def _fingerprint(grammar: str) -> bytes:
    import lark

    digest = hashlib.sha256()
    for part in (grammar, lark.__version__, sys.version):
        digest.update(part.encode("utf-8") + b"\0")
    package = Path(__file__).resolve().parent
    for module in sorted(package.glob("*.py")):
        info = module.stat()
        digest.update(f"{module.name}:{info.st_size}:{info.st_mtime_ns}\0".encode())
    return digest.digest()


def cached(
    data: bytes, name: str, included: bool, grammar: str, parse: Callable[[], Result]
) -> Result:
    """The parse of the file ``name`` whose bytes are ``data``: from the cache, or
    ``parse()`` (then kept)."""
    if os.environ.get(_OFF):
        return parse()
    digest = hashlib.sha256(_fingerprint(grammar))
    digest.update(f"{name}\0{included}\0".encode())
    digest.update(data)
    path = folder() / f"{digest.hexdigest()}.pickle"
    with contextlib.suppress(Exception):  # a missing or damaged entry: parse
        with open(path, "rb") as stream:
            found: Result = pickle.load(stream)
        return found
    result = parse()
    with contextlib.suppress(OSError, pickle.PicklingError, RecursionError):
        _keep(path, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    return result


def _keep(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    entries = list(os.scandir(path.parent))
    if len(entries) > KEPT:
        entries.sort(key=lambda entry: entry.stat().st_mtime_ns)
        for entry in entries[: len(entries) - KEPT * 3 // 4]:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
