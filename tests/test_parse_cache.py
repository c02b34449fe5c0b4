"""The cache of parsed policy files (mqldsl/language/parsecache.py): a file parsed once is
read back equal without Lark; other bytes, another name or a damaged entry are parsed
again; a cache that cannot be written, or one turned off, changes nothing but the speed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mqldsl.language import parsecache, parser
from mqldsl.language.parser import parse_file

from .conftest import ROOT

ACME = ROOT / "policies" / "acme.mql"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MQLDSL_NO_PARSE_CACHE", raising=False)
    return tmp_path / "cache" / "mqldsl" / "parses"


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times Lark's parser is asked for."""
    calls = [0]
    real = parser._parser

    def counted() -> Any:
        calls[0] += 1
        return real()

    monkeypatch.setattr(parser, "_parser", counted)
    return calls


def test_a_file_parsed_once_is_read_back_equal(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "acme.mql"
    policy.write_bytes(ACME.read_bytes())
    calls = _count_parses(monkeypatch)
    first = parse_file(policy)
    assert calls == [1] and len(list(cache.glob("*.pickle"))) == 1
    again = parse_file(policy)
    assert calls == [1]  # from the cache
    assert again.policy == first.policy and again.policy is not None
    assert again.diagnostics == first.diagnostics
    assert again.source.text == first.source.text and again.source.name == str(policy)
    # Other bytes, or the same bytes under another name (spans carry it): parsed again.
    policy.write_bytes(ACME.read_bytes() + b"\n# a comment\n")
    changed = parse_file(policy)
    assert calls == [2] and changed.policy is not None
    assert changed.policy.comments != first.policy.comments
    other = tmp_path / "other.mql"
    other.write_bytes(ACME.read_bytes())
    assert parse_file(other).source.name == str(other)
    assert calls == [3]


def test_a_damaged_entry_is_parsed_again(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "acme.mql"
    policy.write_bytes(ACME.read_bytes())
    expected = parse_file(policy)
    (entry,) = cache.glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    calls = _count_parses(monkeypatch)
    assert parse_file(policy).policy == expected.policy
    assert calls == [1]


def test_a_cache_that_cannot_be_written_or_is_off_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "acme.mql"
    policy.write_bytes(ACME.read_bytes())
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # a file where the folder would be
    expected = parse_file(policy)
    assert expected.policy is not None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MQLDSL_NO_PARSE_CACHE", "1")
    calls = _count_parses(monkeypatch)
    assert parse_file(policy).policy == expected.policy
    assert parse_file(policy).policy == expected.policy
    assert calls == [2]
    assert not (tmp_path / "cache").exists()


def test_the_oldest_entries_go(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parsecache, "KEPT", 4)
    for number in range(7):
        policy = tmp_path / f"p{number}.mql"
        policy.write_bytes(ACME.read_bytes())
        parse_file(policy)
        assert len(list(cache.iterdir())) <= 4
