"""`include "PATH"` (SPEC §3.1): the files a policy shares declarations with.

A policy's includes are read once, when it is checked: each path is resolved
relative to the file that includes it, parsed as an *included file* (no
header; only `lead`, `account`, `event`, `param`, `score` and `disqualify`,
and more `include` lines), and its declarations take the place of the
`include` line — where SPEC §3's order and `mqldsl fmt` put it, after the
policy's own fields and events — so that the
checker sees one merged policy. Every node keeps the span of the file it is
written in, so every diagnostic names that file and line.

Paths are relative (an absolute path is refused: a policy must not depend on
one machine's folders); `..` may climb out of the policy's folder. Includes
nest at most :data:`MAX_DEPTH` deep and a policy reads at most
:data:`MAX_FILES` files. A cycle is an error naming the chain; the same file
included twice is an error naming both `include` lines.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic, error
from mqldsl.language.parser import ParseResult, parse_bytes, read_policy
from mqldsl.language.printer import canonical_items
from mqldsl.language.source import Source

__all__ = [
    "ALLOWED",
    "MAX_DEPTH",
    "MAX_FILES",
    "IncludedFile",
    "Resolved",
    "headerless",
    "parse_any",
    "resolve_includes",
]

MAX_DEPTH = 8  # include lines nested in included files, the policy's own counted as 1
MAX_FILES = 64  # included files one policy reads

# What an included file may hold.
ALLOWED: tuple[type, ...] = (
    ast.LeadBlock,
    ast.AccountBlock,
    ast.EventDecl,
    ast.Calendar,
    ast.Param,
    ast.Score,
    ast.Disqualify,
    ast.Include,
)

_KIND = {
    ast.PolicyTitle: "the `policy` header",
    ast.Version: "`version`",
    ast.Owner: "`owner`",
    ast.Effective: "`effective`",
    ast.About: "`about`",
    ast.Stages: "the `stages` block",
    ast.Recycle: "a `recycle` rule",
    ast.Route: "a `route`",
    ast.Example: "an example",
}

Reader = Callable[[str], bytes]


@dataclass(frozen=True)
class IncludedFile:
    """One included file: ``name`` is the path its diagnostics print (the
    including file's folder joined with the written path), ``relative`` the
    path from the policy's own folder with `/` (what the definitions document
    and the policy hash name), ``policy`` its own declarations as parsed."""

    name: str
    relative: str
    source: Source
    policy: ast.Policy


@dataclass(frozen=True)
class Resolved:
    """A policy with its includes resolved: ``policy`` is the merged policy
    (the policy's own items in the formatter's order, each `include` followed
    by the included declarations), ``own`` the policy file alone, ``files``
    the included files in load order, ``source`` the policy's source, which
    knows the included sources (so a diagnostic in any of them shows its line)."""

    policy: ast.Policy
    own: ast.Policy
    source: Source
    files: tuple[IncludedFile, ...] = ()
    diagnostics: list[Diagnostic] = field(default_factory=list)


_HEADER = re.compile(rb"[ \t]*policy[ \t]*\"")


def headerless(data: bytes) -> bool:
    """Whether a file does not start with a `policy "TITLE"` header (its first line that is
    neither blank nor a comment): an included file, not a policy. (Only the start counts: a
    line inside a long string that reads like a header does not.)"""
    for line in data.removeprefix(b"\xef\xbb\xbf").splitlines():
        text = line.strip()
        if not text or text.startswith(b"#"):
            continue
        return _HEADER.match(line) is None
    return True


def parse_any(data: bytes, name: str) -> ParseResult:
    """Parse a policy, or a file policies include when it has no `policy`
    header (what `mqldsl fmt` formats: it never reads the included files)."""
    return parse_bytes(data, name, included=headerless(data))


def _read(path: str) -> bytes:
    return read_policy(path)  # a regular file of at most 64 MB: never a device or a pipe


def _base(name: str) -> str:
    """The folder paths in ``name`` are relative to ("" for the current one)."""
    if name.startswith("<"):  # text without a file: `check --text`, `api.check(text=)`
        return ""
    return os.path.dirname(name)


def _identity(name: str) -> str | None:
    if name.startswith("<"):
        return None
    return os.path.normcase(os.path.realpath(name))


def _absolute(path: str) -> bool:
    return path.startswith(("/", "\\")) or bool(re.match(r"[A-Za-z]:", path))


class _Loader:
    def __init__(self, main: Source, read: Reader) -> None:
        self.main = main
        self.read = read
        self.files: list[IncludedFile] = []
        self.sources: dict[str, Source] = {}
        self.diagnostics: list[Diagnostic] = []
        # identity -> the `include` line that first read it
        self.seen: dict[str, ast.Include] = {}

    def items(
        self,
        policy: ast.Policy,
        name: str,
        relative_dir: str,
        chain: tuple[tuple[str | None, str], ...],
    ) -> list[ast.Item]:
        """``policy``'s items in the formatter's order, each `include`
        followed by the included file's items (recursively)."""
        merged: list[ast.Item] = []
        for item in canonical_items(policy).items:
            merged.append(item)
            if isinstance(item, ast.Include):
                merged.extend(self.include(item, name, relative_dir, chain))
        return merged

    def include(
        self,
        item: ast.Include,
        name: str,
        relative_dir: str,
        chain: tuple[tuple[str | None, str], ...],
    ) -> list[ast.Item]:
        path = item.path
        if "\x00" in path:  # no file system has such a name (and Python refuses it)
            self.diagnostics.append(
                error(
                    "E117",
                    f"the path {path!r} has a NUL character",
                    item.span,
                    "remove it: a file's name cannot hold one",
                )
            )
            return []
        if not path.strip() or _absolute(path):
            self.diagnostics.append(
                error(
                    "E117",
                    f"`{path}` is not a relative path"
                    if path.strip()
                    else "an include needs a path",
                    item.span,
                    'write the path relative to this file, e.g. `include "common/fields.mql"`',
                )
            )
            return []
        target = os.path.normpath(os.path.join(_base(name), path))
        relative = posixpath.normpath(posixpath.join(relative_dir, path.replace("\\", "/")))
        identity = _identity(target)
        loop = [shown for key, shown in chain if key is not None and key == identity]
        if loop:
            names = [shown for _, shown in chain]
            start = names.index(loop[0])
            cycle = " -> ".join([*names[start:], target])
            self.diagnostics.append(
                error(
                    "E115",
                    f"include cycle: {cycle}",
                    item.span,
                    "a file cannot include itself, directly or through others; "
                    "move the shared declarations into a file both can include",
                )
            )
            return []
        if len(chain) >= MAX_DEPTH:
            self.diagnostics.append(
                error(
                    "E117",
                    f"includes nest more than {MAX_DEPTH} files deep",
                    item.span,
                    "include the shared files from the policy itself",
                )
            )
            return []
        if identity is not None and identity in self.seen:
            first = self.seen[identity].span
            self.diagnostics.append(
                error(
                    "E117",
                    f"`{target}` is already included",
                    item.span,
                    f"it is included at {first.file}:{first.line}; include a file once",
                )
            )
            return []
        if len(self.files) >= MAX_FILES:
            self.diagnostics.append(
                error(
                    "E117",
                    f"a policy reads at most {MAX_FILES} included files",
                    item.span,
                    "merge small shared files into fewer",
                )
            )
            return []
        try:
            data = self.read(target)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.diagnostics.append(
                error(
                    "E112",
                    f"cannot read the included file `{target}`: {reason}",
                    item.span,
                    "the path is relative to the file that includes it",
                )
            )
            return []
        if identity is not None:
            self.seen[identity] = item
        parsed = parse_bytes(data, target, included=True)
        self.diagnostics.extend(parsed.diagnostics)
        self.sources[target] = parsed.source
        if parsed.policy is None:
            return []
        own = parsed.policy
        self.files.append(IncludedFile(target, relative, parsed.source, own))
        for inner in own.items:
            if not isinstance(inner, ALLOWED):
                self.diagnostics.append(
                    error(
                        "E116",
                        f"{_KIND.get(type(inner), 'this')} cannot be in an included file",
                        inner.span,
                        "an included file holds only `lead`, `account`, `event`, `calendar`, "
                        "`param`, `score`, `disqualify` and `include`; move it to the policy",
                    )
                )
        kept = ast.Policy(
            items=tuple(i for i in own.items if isinstance(i, ALLOWED)),
            comments=own.comments,
            span=own.span,
        )
        return self.items(
            kept,
            target,
            posixpath.dirname(relative),
            (*chain, (identity, target)),
        )


def resolve_includes(parsed: ParseResult, read: Reader | None = None) -> Resolved:
    """The policy of ``parsed`` (which parsed without errors) with every
    include read (by ``read``: the file system by default) and merged."""
    assert parsed.policy is not None
    policy = parsed.policy
    if policy.first(ast.Include) is None:
        return Resolved(policy, policy, parsed.source)
    main = parsed.source
    loader = _Loader(main, read or _read)
    items = loader.items(policy, main.name, "", ((_identity(main.name), main.name),))
    source = Source(main.name, main.text, included=dict(loader.sources))
    merged = ast.Policy(items=tuple(items), comments=policy.comments, span=policy.span)
    return Resolved(merged, policy, source, tuple(loader.files), loader.diagnostics)


def reader_of(texts: Mapping[str, str]) -> Reader:
    """A reader from file names to texts (the included files of a policy sent
    elsewhere, e.g. to Spark executors): a name it lacks cannot be read."""

    def read(name: str) -> bytes:
        if name not in texts:
            raise FileNotFoundError(2, "No such file or directory", name)
        return texts[name].encode("utf-8")

    return read
