"""Typed decoding (issue #18, mqldsl/io/fastdecode.py): journeys read by the fast path with the
validator as its fallback give exactly what the validator alone gives — the same leads, the
same rejected lines with the same file, line, column, code and message, the same counts of
unknown event types and fields — and `mqldsl score` writes the same bytes either way."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_file
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.runtime import Lead, parse_instant
from mqldsl.io import journeys as journeys_module
from mqldsl.io.fastdecode import FastDecoder
from mqldsl.io.journeys import JourneyReader, ReadReport, check_truth

from .conftest import ROOT
from .helpers import run
from .test_fuzz_inputs import ACME, INSTANTS, fuzz, journey_lines, records

_MODEL: list[CheckedPolicy] = []


def acme() -> CheckedPolicy:
    if not _MODEL:
        model = check_file(ACME).model
        assert model is not None
        _MODEL.append(model)
    return _MODEL[0]


def read(path: Path, fast: bool, limit: int | None = None) -> tuple[list[Lead], ReadReport]:
    report = ReadReport(limit=limit)
    leads = list(JourneyReader(acme(), report, fast=fast).read_jsonl(path))
    return leads, report


def seen(leads: list[Lead], report: ReadReport) -> dict[str, Any]:
    """Everything a reading gives, in a form compared exactly (event fields in their order)."""
    return {
        "leads": [
            (
                lead.id,
                dict(lead.profile),
                [(e.at, e.type, list(e.fields.items()), e.index) for e in lead.events],
                lead.account,
                dict(lead.account_profile),
                lead.truth,
            )
            for lead in leads
        ],
        "rejected": [
            (p.file, p.line, p.column, p.code, p.message, p.hint) for p in report.rejected
        ],
        "counts": (report.read, report.rejected_count, report.not_read),
        "unknown": (
            dict(report.unknown_event_types),
            dict(report.unknown_fields),
            dict(report.unknown_event_fields),
        ),
    }


def same_reading(folder: Path, lines: list[bytes], limit: int | None = None) -> None:
    path = folder / "j.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    fast = seen(*read(path, True, limit))
    pure = seen(*read(path, False, limit))
    assert fast == pure
    # The leads themselves, as the evaluators get them, are equal too.
    assert read(path, True, limit)[0] == read(path, False, limit)[0]


# Values on which msgspec and the validator could part: instants msgspec alone would read
# (lowercase t/z, seven digits of a second, a leap second), numbers at the edges of the
# 64-bit range, whole numbers written as floats, empty text, sets written as text.
EDGE_INSTANTS = [
    *INSTANTS,
    "2026-10-30t12:00:00Z",
    "2026-10-30T12:00:00z",
    "2026-10-30T12:00:00.9999999Z",
    "2026-10-30T12:00:00.1234567+01:00",
    "2026-10-30T12:00:60Z",
    "2026-10-30 12:00:00Z",
    "2026-10-30T12:00Z",
    "20261030T120000Z",
    "2026-10-30T12:00:00+0100",
    "2026-10-30T12:00:00-00:00",
    "9999-12-31T23:59:59.5Z",
    "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:59:59+01:00",
]
EDGE_VALUES = st.sampled_from(
    [
        None,
        "",
        " ",
        0,
        1.0,
        -0.0,
        2**63 - 1,
        2**63,
        -(2**63),
        -(2**63) - 1,
        2**64,
        1e308,
        "12",
        "true",
        "aws;okta",
        ["aws", ""],
        ["aws", None],
        {},
        [],
        True,
    ]
)


GOOD_PROFILE = {
    "email_kind": st.sampled_from(["corporate", "personal", "competitor"]),
    "role": st.sampled_from(["secops", "developer", "student"]),
    "company_size": st.integers(-5, 10_000),
    "region": st.sampled_from(["na", "emea"]),
    "tech_stack": st.lists(st.sampled_from(["aws", "okta", "gcp", ""]), max_size=3),
}
GOOD_EVENTS = st.sampled_from(
    [
        {"type": "page_view", "path": "/pricing"},
        {"type": "page_view", "path": ""},
        {"type": "page_view", "path": None},
        {"type": "page_view"},
        {"type": "content_download", "kind": "ebook"},
        {"type": "demo_request"},
        {"type": "unsubscribe"},
    ]
)


@st.composite
def edge_records(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed Acme journeys, some with one or two values at the edges (most of them are
    read by the fast path: what it reads is compared with what the validator reads)."""
    record: dict[str, Any] = {"id": draw(st.sampled_from(["L1", "L2", "L3", 7, -3]))}
    record["profile"] = {
        name: draw(values) for name, values in GOOD_PROFILE.items() if draw(st.booleans())
    }
    record["events"] = [
        {**draw(GOOD_EVENTS), "at": draw(st.sampled_from(EDGE_INSTANTS))}
        for _ in range(draw(st.integers(0, 4)))
    ]
    edge = draw(st.integers(0, 9))
    if edge == 0:
        record["id"] = draw(st.sampled_from(["", 2**63, -(2**63) - 1, True, 1.5, None]))
    elif edge == 1:
        record["profile"][draw(st.sampled_from(list(GOOD_PROFILE)))] = draw(EDGE_VALUES)
    elif edge == 2:
        record["account"] = draw(st.sampled_from(["A-1", "", 3, None, 2**70, True]))
    elif edge == 3:
        record["account_profile"] = draw(st.sampled_from([{}, None, 0, [], "", {"x": 1}]))
    elif edge == 4:
        record[draw(st.sampled_from(["note", "profile", "events"]))] = draw(EDGE_VALUES)
    elif edge == 5:
        record["truth"] = {
            "buyer": draw(st.sampled_from([True, None, 1])),
            "won_at": draw(st.sampled_from(EDGE_INSTANTS)),
            "big": draw(st.sampled_from([2**70, 1.5, "x", [1, {"a": None}]])),
        }
    elif edge == 6 and record["events"]:
        record["events"][0][draw(st.sampled_from(["path", "kind", "type", "at"]))] = draw(
            EDGE_VALUES
        )
    return record


@pytest.mark.slow
@fuzz(300)
@given(
    lines=journey_lines(),
    more=st.lists(records().map(lambda r: json.dumps(r, allow_nan=True).encode()), max_size=4),
)
def test_hostile_lines_read_the_same_with_and_without_the_fast_path(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], more: list[bytes]
) -> None:
    same_reading(tmp_path_factory.mktemp("f"), lines + more)


@fuzz(300)
@given(lines=st.lists(edge_records().map(lambda r: json.dumps(r).encode()), max_size=6))
@example(lines=[b'{"id":"a","id":"L1","events":[]}', b'{"id":"L1","profile":{"role":"x"}}'])
@example(
    lines=[
        b'{"id":"L1","profile":{"role":"x","role":"secops"},"events":[{"type":"unsubscribe",'
        b'"at":"2026-10-01T00:00:00Z","type":"demo_request"}]}'
    ]
)
@example(lines=[b'{"id":"L1","truth":{"buyer":true,"x":"\\ud800"}}', b'{"id":"L1"}'])
@example(
    lines=[
        b'{"id":"L1","events":[{"type":"page_view","at":"2026-10-01T00:00:00Z","path":"\\u00e9"}]}'
    ]
)
def test_edge_values_read_the_same_with_and_without_the_fast_path(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]
) -> None:
    same_reading(tmp_path_factory.mktemp("e"), lines)


def test_the_fast_path_takes_well_formed_lines_and_refuses_the_rest(tmp_path: Path) -> None:
    """The comparisons above compare something: well-formed lines are decoded by the fast
    path, and lines with anything it does not model are left to the validator."""
    decoder = FastDecoder.build(acme(), check_truth)
    assert decoder is not None
    good = {
        "id": "L-1",
        "profile": {"role": "secops", "company_size": 250, "tech_stack": ["aws"]},
        "events": [
            {"type": "page_view", "at": "2026-10-02T00:00:00+02:00", "path": "/pricing"},
            {"type": "demo_request", "at": "2026-10-01T00:00:00.5Z"},
            {"type": "page_view", "at": "2026-10-03T00:00:00Z", "path": ""},  # missing
        ],
        "truth": {"buyer": True, "sql_at": None},
    }
    lead = decoder.lead(json.dumps(good).encode(), set())
    assert lead is not None
    assert lead.profile == {"role": "secops", "company_size": 250, "tech_stack": {"aws"}}
    assert [(e.type, e.index, e.at, dict(e.fields)) for e in lead.events] == [
        ("demo_request", 1, 1790812800.5, {}),  # 2026-10-01T00:00:00.5Z
        ("page_view", 0, 1790892000.0, {"path": "/pricing"}),  # 2026-10-01T22:00:00Z
        ("page_view", 2, 1790985600.0, {}),  # 2026-10-03T00:00:00Z
    ]
    assert decoder.lead(json.dumps(good).encode(), {"L-1"}) is None  # a duplicate
    for change in (
        {"note": 1},  # a key the validator ignores
        {"profile": {"colour": "red"}},  # an unknown field: counted
        {"events": [{"type": "chat_opened", "at": "2026-10-01T00:00:00Z"}]},  # counted
        {"events": [{"type": "page_view", "at": "2026-10-01T00:00:00"}]},  # no zone
        {"events": [{"type": "page_view", "at": "0001-01-01T00:00:00+01:00"}]},  # before 0001
        {"events": [{"type": "page_view", "at": "9999-12-31T23:59:59.5Z"}]},  # after 9999
        {"events": [{"type": "page_view", "at": 1790812800}]},  # seconds: not an instant
        {"profile": {"company_size": 1.0}},
        {"profile": {"company_size": 2**63}},
        {"profile": {"role": ""}},
        {"truth": {"buyer": 1}},
    ):
        assert decoder.lead(json.dumps({**good, **change}).encode(), set()) is None, change


@fuzz(400)
@given(
    moment=st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.timezones(),
    ),
    digits=st.integers(0, 6),
)
def test_instants_are_the_seconds_parse_instant_gives(moment: dt.datetime, digits: int) -> None:
    text = moment.isoformat(timespec="microseconds")
    head, _, rest = text.partition(".")
    fraction, zone = rest[:6], rest[6:]
    text = head + ("." + fraction[:digits] if digits else "") + zone
    assert_read_as_parse_instant_reads(text)


def assert_read_as_parse_instant_reads(text: str, escape: bool = False) -> None:
    """The fast path reads the instant ``text`` of an event as the seconds parse_instant
    gives, bit for bit, or leaves the line to the validator where parse_instant refuses it.
    With ``escape``, the line's JSON writes the instant's last letter as an escape."""
    line = json.dumps({"id": "L", "events": [{"type": "demo_request", "at": text}]}).encode()
    if escape:  # the same JSON text, its last letters written as escapes
        line = line.replace(b'z"', b'\\u007a"').replace(b'Z"', b'\\u005a"')
    decoder = FastDecoder.build(acme(), check_truth)
    assert decoder is not None
    lead = decoder.lead(line, set())
    try:
        expected = parse_instant(text)
    except ValueError:
        assert lead is None
        return
    assert lead is not None
    assert repr(lead.events[0].at) == repr(expected)  # the same float, bit for bit


MANGLED_BASES = [
    "2026-11-01T00:00:00Z",
    "2024-02-29T23:59:59.123456+05:30",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-06-15T12:30:45.5-07:00",
]


@fuzz(600)
@given(
    base=st.sampled_from(MANGLED_BASES),
    edits=st.lists(
        st.tuples(
            st.integers(0, 40),
            st.sampled_from("0123456789-:T.Zz+ tW,"),
            st.sampled_from(["set", "insert", "delete"]),
        ),
        max_size=3,
    ),
    escape=st.booleans(),
)
@example(base="2026-11-01T00:00:00Z", edits=[(19, "z", "set")], escape=True)
@example(base="2026-11-01T00:00:00Z", edits=[(19, "z", "set")], escape=False)
@example(base="2026-11-01T00:00:00Z", edits=[(10, "t", "set")], escape=False)
@example(base="2026-11-01T00:00:00Z", edits=[(19, ".1234567Z", "insert")], escape=False)
def test_a_mangled_instant_is_read_as_parse_instant_reads_it(
    base: str, edits: list[tuple[int, str, str]], escape: bool
) -> None:
    # Both of the fast path's instant readers (msgspec's, and fromisoformat on lines where
    # msgspec's could differ: lowercase z, seven digits, an escape) give parse_instant's seconds
    # or refuse the line.
    text = base
    for at, char, how in edits:
        at = min(at, len(text))
        if how == "set":
            text = text[:at] + char + text[at + 1 :]
        elif how == "insert":
            text = text[:at] + char + text[at:]
        else:
            text = text[:at] + text[at + 1 :]
    assert_read_as_parse_instant_reads(text, escape)


def test_the_limit_on_rejected_lines_stops_both_readings_at_the_same_line(
    tmp_path: Path,
) -> None:
    good = b'{"id":"L%d","events":[]}'
    lines = [good % 1, b"nope", good % 2, b"{}", b"[]", good % 3]
    same_reading(tmp_path, lines, limit=2)


@pytest.mark.parametrize("depth", [990, 1000, 1030])
def test_deep_nesting_is_read_as_the_validator_reads_it(tmp_path: Path, depth: int) -> None:
    # msgspec gives up (RecursionError) at about 1,000 levels in a value it keeps raw or
    # skips, orjson at 1,024: the line is then the validator's (a lead, or E701 past 1,024).
    deep = b"[" * depth + b"]" * depth
    lines = [
        b'{"id":"ok"}',
        b'{"id":"truth","truth":{"a":' + deep + b"}}",
        b'{"id":"field","events":[{"at":"2026-10-01T00:00:00Z","note":'
        + deep
        + b',"type":"page_view","path":"/pricing"}]}',
    ]
    path = tmp_path / "j.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    readings = []
    for fast in (True, False):
        leads, report = read(path, fast)
        # (the truth by its depth: comparing it would recurse as deep)
        leads = [
            msgspec.structs.replace(lead, truth={"depth": _depth(lead.truth)}) for lead in leads
        ]
        readings.append(seen(leads, report))
    assert readings[0] == readings[1]
    expected = ["ok"] if depth > 1020 else ["ok", "truth", "field"]
    assert [lead[0] for lead in readings[0]["leads"]] == expected
    assert readings[0]["counts"][1] == 3 - len(expected)
    if depth <= 1020:
        assert [lead[5] for lead in readings[0]["leads"]][1] == {"depth": depth + 1}


def _depth(value: Any) -> int:
    """How deep lists and objects nest in ``value`` (0 for a scalar), without recursion."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level + 1)
            stack.extend((child, level + 1) for child in item)
    return deepest


# ---------------------------------------------------------------- scoring, end to end

SCENARIOS = sorted((ROOT / "simulations").glob("*.toml"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_score_writes_the_same_bytes_with_and_without_the_fast_path(
    tmp_path: Path, scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = tomllib.loads(scenario.read_text())["scenario"]
    policy = str((scenario.parent / setup["policy"]).resolve())
    as_of = f"{setup['start'] + dt.timedelta(days=75)}T00:00:00Z"
    journeys = tmp_path / "j.jsonl"
    code, _, err = run("generate", str(scenario), "--leads", "300", "-o", str(journeys))
    assert code == 0, err
    # One hand-made line of each kind the fallback reads, among the generated ones.
    lines = journeys.read_bytes().splitlines()
    lines[3:3] = [b"not json", b'{"id":"X-1","profile":{"colour":"red"}}', lines[0]]
    journeys.write_bytes(b"\n".join(lines) + b"\n")
    outputs = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(journeys_module.FastDecoder, "build", lambda *a: None)
        jobs = [["--jobs", "2"]] if scenario.stem == "acme" else []
        for extra in ([], ["--explain"], *jobs):
            out = tmp_path / f"d-{fast}-{'-'.join(extra)}.jsonl"
            code, _, err = run(
                "score", policy, str(journeys), "--as-of", as_of, "-o", str(out), *extra
            )
            assert code == 1, err  # the rejected lines
            outputs.append((out.read_bytes(), err))
    half = len(outputs) // 2
    assert outputs[:half] == outputs[half:]
    assert all(out == outputs[0][0] for out, _ in outputs[2:half])  # --jobs 2: the same
    assert outputs[0][0].count(b"\n") == 301  # 300 generated leads and X-1; the rest rejected
    assert "303 read, 301 used, 2 rejected" in outputs[0][1]


ONE_EVENT_TYPE = """policy "one"
lead { size: int }
event pv
stages {
  visitor
  lead when pv ever
}
"""


def test_an_event_without_a_type_is_rejected_when_the_policy_has_one_event_type(
    tmp_path: Path,
) -> None:
    # msgspec does not require the tag of a struct outside a union: with one event type, the
    # typed decoder took an event without "type" for a `pv` (found by an audit).
    policy = tmp_path / "one.mql"
    policy.write_text(ONE_EVENT_TYPE)
    model = check_file(policy).model
    assert model is not None
    path = tmp_path / "j.jsonl"
    path.write_text(
        '{"id": "untyped", "events": [{"at": "2026-11-30T00:00:00Z"}]}\n'
        '{"id": "typed", "events": [{"type": "pv", "at": "2026-11-30T00:00:00Z"}]}\n'
        '{"id": "other", "events": [{"type": "demo", "at": "2026-11-30T00:00:00Z"}]}\n'
    )
    for fast in (True, False):
        report = ReadReport()
        leads = list(JourneyReader(model, report, fast=fast).read_jsonl(path))
        assert [lead.id for lead in leads] == ["typed", "other"]
        assert [lead.events[0].type for lead in leads[:1]] == ["pv"]
        assert [(r.line, r.code) for r in report.rejected] == [(1, "E706")]
        assert 'has no "type"' in report.rejected[0].message
        assert report.unknown_event_types == {"demo": 1}
