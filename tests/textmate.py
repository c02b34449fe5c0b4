"""A small TextMate tokenizer for the tests of the editor grammar
(editors/textmate/mqldsl.tmLanguage.json).

It applies a grammar the way VS Code's tokenizer (vscode-textmate) does, line by line: at each
position the rule that matches earliest wins, the current rule's `end` before its `patterns` on
a tie and the patterns in order otherwise; `match` rules scope their text and captures,
`begin`/`end` rules open a scope until their end matches (on this line or a later one). Each
line is matched with a newline after it, as VS Code does, so `$` and `(?=\\n)` behave the same.
The regexes are compiled with Python's `re`: the grammar keeps to the features that Python and
Oniguruma read alike (no `\\G`, `\\h`, `\\K`, named groups or variable-width look-behind).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Scopes = tuple[str, ...]


@dataclass
class Rule:
    """One grammar rule with its regexes compiled and its includes resolved lazily."""

    name: str | None = None
    content_name: str | None = None
    match: re.Pattern[str] | None = None
    begin: re.Pattern[str] | None = None
    end: re.Pattern[str] | None = None
    captures: Mapping[str, Any] = field(default_factory=dict)
    begin_captures: Mapping[str, Any] = field(default_factory=dict)
    end_captures: Mapping[str, Any] = field(default_factory=dict)
    patterns: list[Rule] = field(default_factory=list)


class Grammar:
    """A TextMate grammar (the parsed JSON) ready to tokenize text."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.scope_name: str = data["scopeName"]
        self.repository: Mapping[str, Any] = data.get("repository", {})
        self._compiled: dict[int, Rule] = {}
        self.root = self._rule(data)
        self._flat: dict[int, list[Rule]] = {}

    def _rule(self, data: Mapping[str, Any]) -> Rule:
        key = id(data)
        if key in self._compiled:
            return self._compiled[key]
        rule = Rule(name=data.get("name"), content_name=data.get("contentName"))
        self._compiled[key] = rule
        if "match" in data:
            rule.match = re.compile(data["match"])
            rule.captures = data.get("captures", {})
        if "begin" in data:
            rule.begin = re.compile(data["begin"])
            rule.end = re.compile(data["end"])
            rule.begin_captures = data.get("beginCaptures", data.get("captures", {}))
            rule.end_captures = data.get("endCaptures", data.get("captures", {}))
        for child in data.get("patterns", []):
            if "include" in child:
                target = child["include"]
                if target in ("$self", "$base"):
                    rule.patterns.append(self.root)
                elif target.startswith("#"):
                    rule.patterns.append(self._rule(self.repository[target[1:]]))
                else:
                    raise ValueError(f"unsupported include {target!r}")
            else:
                rule.patterns.append(self._rule(child))
        return rule

    def candidates(self, rule: Rule) -> list[Rule]:
        """The match and begin rules tried inside ``rule``, includes flattened in order."""
        key = id(rule)
        if key not in self._flat:
            found: list[Rule] = []
            seen: set[int] = set()

            def flatten(patterns: list[Rule]) -> None:
                for child in patterns:
                    if child.match is not None or child.begin is not None:
                        found.append(child)
                    elif id(child) not in seen:  # a group of patterns (an include target)
                        seen.add(id(child))
                        flatten(child.patterns)

            flatten(rule.patterns)
            self._flat[key] = found
        return self._flat[key]

    def tokenize(self, text: str) -> list[Scopes]:
        """The scope stack of every character of ``text``."""
        result: list[Scopes] = []
        stack: list[tuple[Rule, Scopes]] = [(self.root, (self.scope_name,))]
        for line in _lines(text):
            scopes = _tokenize_line(self, line + "\n", stack)
            result.extend(scopes[: len(line) + 1])
        return result[: len(text)]


def _lines(text: str) -> Iterator[str]:
    yield from text.split("\n")


def _scoped(base: Scopes, name: str | None) -> Scopes:
    return (*base, *name.split()) if name else base


def _apply(
    out: list[Scopes], match: re.Match[str], base: Scopes, captures: Mapping[str, Any]
) -> None:
    """Scopes for the characters of ``match``: ``base``, then each capture's name (the
    captures in order, so that a later, inner group is innermost)."""
    start, end = match.span()
    spans = [base] * (end - start)
    for key in sorted(captures, key=int):
        group = int(key)
        if group > (match.re.groups or 0) or match.start(group) < 0:
            continue
        name = captures[key].get("name")
        if not name:
            continue
        for i in range(match.start(group), match.end(group)):
            spans[i - start] = _scoped(spans[i - start], name)
    out[start:end] = spans


def _tokenize_line(grammar: Grammar, line: str, stack: list[tuple[Rule, Scopes]]) -> list[Scopes]:
    out: list[Scopes] = [()] * len(line)
    pos = 0
    cache: dict[int, re.Match[str] | None] = {}
    last_push: tuple[int, int] | None = None
    while pos <= len(line):
        rule, scopes = stack[-1]
        content = _scoped(scopes, rule.content_name)
        best: tuple[int, int, Rule | None, re.Match[str]] | None = None
        if rule.end is not None and len(stack) > 1:
            found = rule.end.search(line, pos)
            if found is not None:
                best = (found.start(), -1, None, found)
        for order, candidate in enumerate(grammar.candidates(rule)):
            regex = candidate.match or candidate.begin
            assert regex is not None
            key = id(regex)
            # A search from an earlier position that found nothing, or a match at or after
            # `pos`, is also the answer from `pos` (look-behinds see the whole line either way).
            found = cache.get(key)
            if key not in cache or (found is not None and found.start() < pos):
                found = cache[key] = regex.search(line, pos)
            if found is not None and (best is None or (found.start(), order) < best[:2]):
                best = (found.start(), order, candidate, found)
        if best is None:
            out[pos:] = [content] * (len(line) - pos)
            return out
        start, _, chosen, found = best
        out[pos:start] = [content] * (start - pos)
        if chosen is None:  # the end of the current rule
            _apply(out, found, _scoped(scopes, None), rule.end_captures)
            stack.pop()
            pos = found.end()
            continue
        if chosen.match is not None:
            _apply(out, found, _scoped(content, chosen.name), chosen.captures)
            if found.end() == found.start():
                raise ValueError(f"an empty match at {pos}: {chosen.match.pattern!r}")
            pos = found.end()
            continue
        # A begin rule: its scope holds until its end matches.
        if last_push == (found.end(), len(stack)):
            raise ValueError(f"a begin rule loops at {pos}: {chosen.begin!r}")
        last_push = (found.end(), len(stack))
        inner = _scoped(content, chosen.name)
        _apply(out, found, inner, chosen.begin_captures)
        stack.append((chosen, inner))
        pos = found.end()
    return out
