"""Bad journeys and CSV tables never win (issue #17): every record is used or rejected with its
line and a specific code, the rest of the file is still read, and both engines agree."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import ROOT
from .helpers import run

ACME = str(ROOT / "policies" / "acme.mql")
AS_OF = "2026-11-01T00:00:00Z"
HEADER = "id,role,company_size\n"


def score(*args: str) -> tuple[int, list[str], str]:
    code, out, err = run("score", ACME, *args, "--as-of", AS_OF)
    assert code in (0, 1, 2), err
    assert "Traceback" not in err and "internal error" not in err
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    return code, ids, err


def write(path: Path, data: bytes | str) -> str:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_an_unclosed_quote_costs_its_row_not_the_rest_of_the_file(
    tmp_path: Path, engine: str
) -> None:
    rows = ["L-1,secops,10", 'L-2,"secops,20', "L-3,secops,30", "L-4,secops,40", "L-5,secops,50"]
    leads = write(tmp_path / "leads.csv", HEADER + "\n".join(rows) + "\n")
    code, ids, err = score(leads, "--engine", engine)
    assert code == 1
    assert ids == ["L-1", "L-3", "L-4", "L-5"]
    assert f"{leads}:3: error[E702]: a quoted cell opened on this line is never closed" in err
    assert err.count("error[") == 1
    assert err.splitlines()[-1] == "5 read, 4 used, 1 rejected"


def test_a_stray_quote_that_closes_later_is_reported_where_it_opens(tmp_path: Path) -> None:
    rows = ["L-1,secops,10", 'L-2,"secops,20', "L-3,secops,30", 'L-4,"x"y,40', "L-5,secops,50"]
    leads = write(tmp_path / "leads.csv", HEADER + "\n".join(rows) + "\n")
    code, ids, err = score(leads)
    assert code == 1
    assert ids == ["L-1", "L-3", "L-5"]
    assert f"{leads}:3: error[E702]: a quoted cell opened on this line is not closed" in err
    assert f"{leads}:5: error[E702]: malformed quoting" in err
    assert err.splitlines()[-1] == "5 read, 3 used, 2 rejected"


def test_a_quoted_cell_over_several_lines_is_one_good_row(tmp_path: Path) -> None:
    leads = write(
        tmp_path / "leads.csv", 'id,role,notes\nL-1,secops,"two\nlines, one cell"\nL-2,secops,x\n'
    )
    code, ids, err = score(leads)
    assert code == 0
    assert ids == ["L-1", "L-2"]
    assert err.splitlines()[-1] == "2 read, 2 used, 0 rejected"


def test_short_and_long_rows_of_both_tables_are_reported(tmp_path: Path) -> None:
    leads = write(tmp_path / "leads.csv", HEADER + "L-1,secops,10\nL-2,secops\nL-3,a,1,x\nL-4,,\n")
    events = write(
        tmp_path / "events.csv",
        "lead_id,type,at\n"
        "L-1,demo_request,2026-10-31T23:00:00Z\n"
        "L-4,page_view\n"  # short: its lead is rejected with it
        ",\n"  # short, names no lead
        "L-1,demo_request,2026-10-31T23:00:00Z,extra\n",
    )
    code, ids, err = score(leads, "--events", events)
    assert code == 1
    assert ids == []  # L-1 has a long events row, L-4 a short one
    assert f"{leads}:3: error[E708]: fewer values than columns (2 for 3)" in err
    assert f"{leads}:4: error[E708]: more values than columns (4 for 3)" in err
    assert f"{events}:3: error[E708]: fewer values than columns (2 for 3)" in err
    assert f"{events}:4: error[E708]: fewer values than columns (2 for 3)" in err
    assert f"{events}:5: error[E708]: more values than columns (4 for 3)" in err
    assert f"{leads}:2: error[E712]: its events row {events}:5 was rejected (E708)" in err
    assert f"{leads}:5: error[E712]: its events row {events}:3 was rejected (E708)" in err
    # 4 lead rows and 3 events rows that are records of their own: all rejected
    assert err.splitlines()[-1] == "7 read, 0 used, 7 rejected"


def test_bytes_that_are_not_utf8_and_huge_cells_are_reported_at_their_row(
    tmp_path: Path,
) -> None:
    huge = "x" * 200_000
    data = (
        HEADER.encode()
        + b"L-1,secops,10\nL-2,s\xe9cops,20\n"
        + f'L-3,"{huge}",30\nL-4,{huge},40\nL-5,secops,50\n'.encode()
    )
    leads = write(tmp_path / "leads.csv", data)
    code, ids, err = score(leads)
    assert code == 1
    assert ids == ["L-1", "L-5"]
    assert f"{leads}:3:6: error[E709]: bytes that are not UTF-8 (the first at byte 6)" in err
    assert f"{leads}:4: error[E710]: a cell is larger than 131,072 characters" in err
    assert f"{leads}:5: error[E710]: a cell is larger than 131,072 characters" in err
    assert err.splitlines()[-1] == "5 read, 2 used, 3 rejected"


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_a_lead_whose_events_row_cannot_be_read_is_rejected_with_it(
    tmp_path: Path, engine: str
) -> None:
    # Each events row below is rejected (a quote never closed, bytes not UTF-8, a cell over
    # the limit); its lead id comes before the damage, so its lead is rejected too (E712),
    # not decided without that event. A row whose id itself is damaged names no lead.
    huge = "x" * 200_000
    events = (
        b"lead_id,type,at,path\n"
        b'L-1,page_view,2026-10-20T10:00:00Z,"/pricing\n'
        b"L-2,page_view,2026-10-20T10:00:00Z,/pr\xe9cing\n"
        + f"L-3,page_view,2026-10-20T10:00:00Z,{huge}\n".encode()
        + b'"L-4,page_view,2026-10-20T10:00:00Z,/pricing\n'
    )
    leads = write(
        tmp_path / "leads.csv",
        HEADER + "L-1,secops,10\nL-2,secops,20\nL-3,secops,30\nL-4,secops,40\n",
    )
    path = write(tmp_path / "events.csv", events)
    code, ids, err = score(leads, "--events", path, "--engine", engine)
    assert code == 1
    assert ids == ["L-4"]
    for line, code_ in ((2, "E702"), (3, "E709"), (4, "E710")):
        assert f"{leads}:{line}: error[E712]: its events row {path}:{line}" in err, err
        assert f"({code_})" in err
    assert err.splitlines()[-1] == "8 read, 1 used, 7 rejected"


@pytest.mark.parametrize(
    ("leads", "events", "bad", "message"),
    [
        ("name,role\nL-1,x\n", None, "leads", "the leads table needs the column `id`"),
        (HEADER, "lead_id,type\nL-1,x\n", "events", "the events table needs the column `at`"),
        (HEADER, "type\n", "events", "the events table needs the columns `lead_id`, `at`"),
        (HEADER, "lead_id,at\n", "events", "the events table needs the column `type`"),
        ("id,role,id\n", None, "leads", "the column `id` is named twice"),
        (b"id,r\xf4le\n", None, "leads", "error[E709]: bytes that are not UTF-8"),
        ('id,"role\n', None, "leads", "error[E702]: the header: a quoted cell"),
    ],
)
def test_a_table_without_a_column_it_needs_is_one_clean_error(
    tmp_path: Path, leads: str | bytes, events: str | None, bad: str, message: str
) -> None:
    files = {"leads": write(tmp_path / "leads.csv", leads)}
    args = [files["leads"]]
    if events is not None:
        files["events"] = write(tmp_path / "events.csv", events)
        args += ["--events", files["events"]]
    for engine in ("python", "duckdb"):
        code, _, err = score(*args, "--engine", engine)
        assert code == 1
        assert err.startswith(f"{files[bad]}:1: error[E71") or "error[E70" in err
        assert message in err
        assert len([line for line in err.splitlines() if "hint:" not in line]) == 1


def _journeys(tmp_path: Path, records: list[object]) -> str:
    return write(tmp_path / "j.jsonl", "".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_whole_numbers_beyond_64_bits_and_instants_outside_the_calendar_are_refused(
    tmp_path: Path, engine: str
) -> None:
    event = {"type": "demo_request", "at": "2026-10-31T23:00:00Z"}
    records = [
        {"id": "ok", "profile": {"company_size": 2**63 - 1}, "events": [event]},
        {"id": "big", "profile": {"company_size": 10**30}},
        {"id": "u64", "profile": {"company_size": 2**64 - 1}},
        {"id": "low", "profile": {"company_size": -(2**63) - 1}},
        {"id": "old", "events": [{"type": "demo_request", "at": "0000-12-31T23:00:00Z"}]},
        {"id": "edge", "events": [{"type": "demo_request", "at": "0001-01-01T00:00:00+01:00"}]},
        {"id": "late", "events": [{"type": "demo_request", "at": "9999-12-31T23:59:59-05:00"}]},
        {"id": "text", "profile": {"company_size": "1" * 5000}},
    ]
    code, ids, err = score(_journeys(tmp_path, records), "--engine", engine)
    assert code == 1
    assert ids == ["ok"]
    for line in (3, 4):
        assert f":{line}: error[E705]: profile field `company_size`: " in err
    assert "is outside the whole numbers mqldsl takes (-2^63 to 2^63-1)" in err
    assert f"{2**64 - 1} is outside" in err and f"{-(2**63) - 1} is outside" in err  # as given
    for line in (5, 6, 7):
        assert f":{line}: error[E706]: event 1 (demo_request)" in err
    assert "`0001-01-01T00:00:00+01:00` is outside the calendar" in err
    assert ':8: error[E705]: profile field `company_size`: "1111111111111111' in err
    assert err.splitlines()[-1] == "8 read, 1 used, 7 rejected"


def test_truth_that_cannot_be_read_is_rejected_with_its_code(tmp_path: Path) -> None:
    records = [
        {"id": "a", "truth": {"buyer": True, "sql_at": "garbage"}},
        {"id": "b", "truth": {"buyer": "yes"}},
        {"id": "c", "truth": {"buyer": True, "sql_at": 20261101}},
        {"id": "d", "truth": {"buyer": True, "won_at": "9999-12-31T23:59:59-01:00"}},
        {"id": "e", "truth": ["buyer"]},
        {"id": "f", "truth": {"buyer": False, "sql_at": None}},
    ]
    code, ids, err = score(_journeys(tmp_path, records))
    assert code == 1
    assert ids == ["f"]
    assert ':1: error[E707]: "truth.sql_at": `garbage` is not an instant' in err
    assert ':2: error[E707]: "truth.buyer": expected true or false, got "yes"' in err
    assert ':3: error[E707]: "truth.sql_at": expected an instant' in err
    assert (
        ':4: error[E707]: "truth.won_at": `9999-12-31T23:59:59-01:00` is outside the calendar'
        in err
    )
    assert ':5: error[E707]: "truth" must be an object' in err


def test_events_with_a_json_lines_file_is_a_usage_error(tmp_path: Path) -> None:
    journeys = _journeys(tmp_path, [{"id": "a"}])
    events = write(tmp_path / "events.csv", "lead_id,type,at\n")
    for extra in ([], ["--jobs", "2"], ["--engine", "duckdb"]):
        code, _, err = score(journeys, "--events", events, *extra)
        assert code == 2
        assert "Invalid value for --events: --events goes with a leads table" in err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_max_errors_says_how_many_lines_were_never_read(tmp_path: Path, jobs: str) -> None:
    lines = ['{"id": "g0"}', "bad", '{"id": "g1"}', "bad", "", "bad"]
    lines += [json.dumps({"id": f"L-{n}"}) for n in range(1234)]
    path = write(tmp_path / "j.jsonl", "\n".join(lines) + "\n")
    code, ids, err = score(path, "--max-errors", "3", "--jobs", jobs)
    assert code == 1
    assert ids == ["g0", "g1"]
    # independent count: the third bad line is line 6; every line after it is unread
    unread = len(lines) - (lines.index("bad", 4) + 1)
    assert unread == 1234
    assert "stopped after 3 rejected records (--max-errors); 1,234 lines not read" in err
    assert err.splitlines()[-1] == "5 read, 2 used, 3 rejected"


MINUTE_DECAY = """policy "Minute decay"
lead {
  role: enum(a, b)
}
event ping
score heat decay 1% every 1 minute {
  +10 per ping within 365 days
}
stages {
  visitor
  mql when heat >= 5
}
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_several_processes_read_a_file_as_one_does(tmp_path: Path, jobs: str) -> None:
    # Each case where a worker, which sees only its chunk of lines, could part from one reader:
    # a byte-order mark on line 1; an ignored key; a lead refused for its timeline (E900, at
    # its line) whose id a later line repeats; duplicates whose other problems are not read
    # (nor counted as ignored); --max-errors reached on the last line (nothing left unread).
    policy = write(tmp_path / "p.mql", MINUTE_DECAY)
    old = '{"id":"L1","events":[{"type":"ping","at":"2026-01-01T00:00:00Z"}]}'
    lines = [
        b'\xef\xbb\xbf{"id":"a","extra":1}',
        old.encode(),
        b'{"id":"L1","events":[{"type":"ping","at":"2026-11-30T23:59:00Z"}]}',
        b'{"id":"a","profile":{"zz":1}}',
        b'{"id":"b"}',
        b'{"id":"b","events":5}',
        b'{"id":"c","events":5}',
    ]
    path = write(tmp_path / "j.jsonl", b"\n".join(lines) + b"\n")
    as_of = ["--as-of", "2026-12-01T00:00:00Z", "--jobs", jobs]
    code, out, err = run("score", policy, path, *as_of, "--max-errors", "5")
    assert code == 1, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a", "b"]
    first, *rest = err.splitlines()
    # (a year of minute steps is past the limit of instants a lead)
    assert first.startswith(f"{path}:2: error[E900]: lead `L1`: its timeline needs ")
    assert rest == [
        f"{path}:3: error[E704]: duplicate id `L1`",
        f"{path}:4: error[E704]: duplicate id `a`",
        f"{path}:6: error[E704]: duplicate id `b`",
        f'{path}:7: error[E706]: "events" must be a list',
        "ignored unknown key `extra` in journey lines: 1 time",
        "7 read, 2 used, 5 rejected",
    ]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_max_errors_on_a_pipe_counts_the_blank_lines_left(tmp_path: Path, jobs: str) -> None:
    # The limit is reached on the last line with text; two blank lines follow: one reader
    # reads the next and stops there, so does a run across processes (it read the pipe once).
    fifo = tmp_path / "j.pipe"
    os.mkfifo(fifo)
    feeder = threading.Thread(
        target=lambda: fifo.write_bytes(b'{"id":"a"}\n{"id":"a"}\n\n\n'), daemon=True
    )
    feeder.start()
    code, ids, err = score(str(fifo), "--max-errors", "1", "--jobs", jobs)
    feeder.join(30)
    assert code == 1 and ids == ["a"]
    assert "stopped after 1 rejected record (--max-errors); 2 lines not read" in err
    assert err.splitlines()[-1] == "2 read, 1 used, 1 rejected"


def test_numbers_in_a_table_are_written_in_ascii_digits(tmp_path: Path) -> None:
    # Python's int() also reads `2_50` and other scripts' digits; an export does not mean
    # them as numbers. Spaces around a number are taken (cells are often padded).
    rows = [
        "L-1,secops,2_50",
        "L-2,secops,\u0663\u0660\u0660",
        "L-3,secops, 300 ",
        "L-4,secops,+40",
    ]
    leads = write(tmp_path / "leads.csv", HEADER + "\n".join(rows) + "\n")
    code, ids, err = score(leads)
    assert code == 1 and ids == ["L-3", "L-4"]
    assert (
        f'{leads}:2: error[E705]: profile field `company_size`: expected a whole number, got "2_50"'
        in err
    )
    assert f"{leads}:3: error[E705]" in err


def test_max_errors_on_a_leads_table_counts_the_lines_left(tmp_path: Path) -> None:
    rows = ["x,y,z,w"] * 2 + [f"L-{n},secops,1" for n in range(10)]
    leads = write(tmp_path / "leads.csv", HEADER + "\n".join(rows) + "\n")
    code, ids, err = score(leads, "--max-errors", "2")
    assert code == 1 and ids == []
    assert "stopped after 2 rejected records (--max-errors); 10 lines not read" in err


def test_every_record_is_counted_once(tmp_path: Path) -> None:
    """A mix of good and bad lines: read == used + rejected == the non-blank lines written,
    counted here without mqldsl."""
    good = [{"id": f"G-{n}", "profile": {"company_size": n}} for n in range(7)]
    bad: list[str] = [
        "{",
        "[]",
        '{"id": ""}',
        '{"id": "G-1"}',
        '{"id": "x", "profile": {"company_size": 1.5}}',
        '{"id": "y", "events": [{"at": "2026-01-01T00:00:00Z"}]}',
        '{"id": "z", "truth": {"buyer": 1}}',
        '{"id": "w", "account": {"name": "Acme"}}',
    ]
    lines = [json.dumps(g) for g in good]
    for index, text in enumerate(bad):
        lines.insert(index * 2 + 1, text)
    lines.insert(3, "   ")
    path = write(tmp_path / "j.jsonl", "\n".join(lines) + "\n")
    messages = set()
    for options in (["--engine", "python"], ["--engine", "duckdb"], ["--jobs", "2"]):
        code, ids, err = score(path, *options)
        assert code == 1
        records = [line for line in lines if line.strip()]
        assert ids == [g["id"] for g in good]
        assert err.splitlines()[-1] == f"{len(records)} read, {len(good)} used, {len(bad)} rejected"
        assert err.count("error[E70") == len(bad)
        messages.add(err)
    assert len(messages) == 1  # the same codes and reasons, whichever engine or process count


# ---------------------------------------------------------------- import

IMPORT_POLICY = """policy "Import check"
version 1

lead {
  signup: date "Day the account was made"
  size: int "Employees"
}

event visit { page: text, seconds: int }

score fit "Fit" {
  +10 when size >= 10
}

stages {
  known "Known"
  mql "Ready" when fit >= 10 and visit ever
}
"""
IMPORT_LEADS = """id,signup,size,page,secs,visited
a,01/02/2026,50,/pricing,30,2026-10-01
b,31/02/2026,50,/pricing,30,2026-10-01
c,01/03/2026,Select,/docs,lots,2026-10-02
d,01/03/2026,,/docs,10,
e,01/03/2026,500,/docs,10,2026-10-02
"""
IMPORT_MAPPING = """[source]
id = "id"
missing = "Select"

[profile.signup]
column = "signup"
format = "%d/%m/%Y"

[profile.size]
column = "size"

[[events]]
type = "visit"
at = "visited"
fields = { page = "page", seconds = "secs" }

[tables.deals]
key = "id"

[truth]
buyer = { column = "deals.", exists = true }
won_at = "deals.won"
"""


def import_(tmp_path: Path, mapping: str, leads: str = IMPORT_LEADS) -> tuple[int, str, Path]:
    files = {
        "p.mql": IMPORT_POLICY,
        "map.toml": mapping,
        "leads.csv": leads,
        "deals.csv": "id,won\na,2026-10-20\ne,2026-10-21\na,2026-10-22\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    out = tmp_path / "out.jsonl"
    code, _, err = run(
        "import",
        str(tmp_path / "leads.csv"),
        "--policy",
        str(tmp_path / "p.mql"),
        "--mapping",
        str(tmp_path / "map.toml"),
        "--table",
        f"deals={tmp_path / 'deals.csv'}",
        "-o",
        str(out),
    )
    assert code in (0, 1), err
    assert "Traceback" not in err and "internal error" not in err
    return code, err, out


def test_import_dates_with_a_format_typed_event_fields_and_duplicate_join_keys(
    tmp_path: Path,
) -> None:
    code, err, out = import_(tmp_path, IMPORT_MAPPING)
    assert code == 1
    journeys = {j["id"]: j for j in map(json.loads, out.read_text().splitlines())}
    assert sorted(journeys) == ["a", "d", "e"]
    # a date read with a format is its day (it rejected every row before)
    assert journeys["a"]["profile"] == {"signup": "2026-02-01", "size": 50}
    # the event field is checked and typed as the policy declares it
    assert journeys["a"]["events"] == [
        {"type": "visit", "at": "2026-10-01T00:00:00Z", "page": "/pricing", "seconds": 30}
    ]
    # the first row of a duplicated join key is the one joined, and the second is reported
    assert journeys["a"]["truth"] == {"buyer": True, "won_at": "2026-10-20T00:00:00Z"}
    assert (
        f"{tmp_path / 'deals.csv'}:4: error[E755]: duplicate key `a` in column `id` "
        "(first on line 2, which is joined)"
    ) in err
    # `missing = "Select"` is a list of one ("Select" is missing, not S, e, l, ...);
    # an empty cell is always missing
    assert journeys["d"]["profile"] == {"signup": "2026-03-01"} and journeys["d"]["events"] == []
    leads = tmp_path / "leads.csv"
    assert f"{leads}:3: error[E757]: column `signup`: `31/02/2026` does not match" in err
    assert (
        f"{leads}:4: error[E706]: column `secs` → event `visit` field `seconds`: "
        'expected a whole number, got "lots"'
    ) in err
    # 5 lead rows and the duplicate deal row: 3 imported, 3 rejected
    assert err.splitlines()[-1] == "6 read, 3 used, 3 rejected"


def test_import_reads_a_broken_export_row_by_row(tmp_path: Path) -> None:
    leads = IMPORT_LEADS.replace("b,31/02/2026", 'b,"31/02/2026') + "f,01/03/2026,7,/x,1\n"
    code, err, out = import_(tmp_path, IMPORT_MAPPING, leads)
    assert code == 1
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == ["a", "d", "e"]
    assert f"{tmp_path / 'leads.csv'}:3: error[E702]: a quoted cell opened on this line" in err
    assert f"{tmp_path / 'leads.csv'}:7: error[E708]: fewer values than columns (5 for 6)" in err
    assert err.splitlines()[-1] == "7 read, 3 used, 4 rejected"


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (
            'profile = "size"\n[source]\nid = "id"\n',
            ['map.toml:1: error[E753]: profile: expected a table, got the text "size"'],
        ),
        (
            IMPORT_MAPPING.replace('missing = "Select"', "missing = 3"),
            ["map.toml:3: error[E753]: source.missing: expected a list of texts"],
        ),
        (
            IMPORT_MAPPING.replace('fields = { page = "page", seconds = "secs" }', 'fields = "p"'),
            ['map.toml:15: error[E753]: events[0].fields: expected a table, got the text "p"'],
        ),
        (
            IMPORT_MAPPING.replace('key = "id"', 'kee = "id"'),
            ["map.toml:17: error[E753]: tables.deals: give the `key` column"],
        ),
        (
            IMPORT_MAPPING.replace('format = "%d/%m/%Y"', 'fromat = "%d/%m/%Y"'),
            ["map.toml:7: error[E750]: profile.signup.fromat: unknown key; did you mean `format`?"],
        ),
        (
            IMPORT_MAPPING.replace('column = "size"', 'column = "size"\nformat = "%Y"'),
            ["map.toml:11: error[E753]: profile.size.format: a format reads dates and instants"],
        ),
        (
            IMPORT_MAPPING.replace('type = "visit"', 'type = "visits"'),
            ["map.toml:13: error[E752]: events[0].type: `visits` is not an event of the policy"],
        ),
        (
            IMPORT_MAPPING.replace('column = "size"', 'column = "Size"'),
            ["map.toml:10: error[E754]: profile.size: no column `Size` in"],
        ),
        (
            IMPORT_MAPPING.replace('won_at = "deals.won"', 'won_at = "deals.won_date"'),
            ["map.toml:22: error[E754]: truth.won_at: no column `deals.won_date`"],
        ),
        (
            IMPORT_MAPPING + "[profile\n",
            ["map.toml:23:9: error[E751]: invalid TOML: Expected ']' at the end of a table"],
        ),
    ],
)
def test_mapping_problems_are_positioned(tmp_path: Path, mapping: str, expected: list[str]) -> None:
    code, err, out = import_(tmp_path, mapping)
    assert code == 1
    assert not out.exists()
    for line in expected:
        assert f"{tmp_path / line}" in err
    assert len(err.splitlines()) == len(expected)


def test_a_mapping_that_is_not_utf8_is_positioned(tmp_path: Path) -> None:
    import_(tmp_path, IMPORT_MAPPING)  # the files, then a mapping with a Latin-1 byte
    (tmp_path / "map.toml").write_bytes(b"# mapping\n# caf\xe9\n" + IMPORT_MAPPING.encode())
    code, _, err = run(
        "import", str(tmp_path / "leads.csv"), "--policy", str(tmp_path / "p.mql"),
        "--mapping", str(tmp_path / "map.toml"), "-o", str(tmp_path / "again.jsonl"),
    )  # fmt: skip
    assert code == 1
    assert err.startswith(
        f"{tmp_path / 'map.toml'}:2:6: error[E751]: cannot read the mapping: the file is not "
        "UTF-8 text (byte 0xe9 cannot be decoded)"
    )


# ---------------------------------------------------------------- property


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    body=st.lists(
        st.text(alphabet='ab,"\n\r \t', max_size=12).map(str.encode) | st.just(b"\xff,x"),
        max_size=12,
    )
)
def test_any_leads_table_is_read_to_the_end_and_every_record_counted(body: list[bytes]) -> None:
    """Random quotes, commas, line ends and bad bytes after a good header: the reader never
    raises, reads to the end (the last line, a good row, is always used), and
    read == used + rejected."""
    from mqldsl.analysis.checker import check_file
    from mqldsl.io.journeys import JourneyReader, ReadReport

    model = check_file(ACME).model
    assert model is not None
    data = b"id,role\n" + b"".join(body) + b'\n"LAST",secops\n'
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "leads.csv"
        path.write_bytes(data)
        report = ReadReport()
        leads = list(JourneyReader(model, report).read_csv(path, None))
    assert report.read == len(leads) + report.rejected_count
    assert leads and leads[-1].id == "LAST"


def test_a_line_break_in_an_unquoted_cell_is_reported(tmp_path: Path) -> None:
    leads = write(tmp_path / "leads.csv", HEADER + "L-1,sec\rops,1\nL-2,secops,2\n")
    code, ids, err = score(leads)
    assert code == 1 and ids == ["L-2"]
    assert f"{leads}:2: error[E702]: a line break (\\r) inside a cell that is not quoted" in err


def test_explain_and_timeline_report_unreadable_tables_and_misused_events(
    tmp_path: Path,
) -> None:
    no_id = write(tmp_path / "leads.csv", "name,role\nL-1,secops\n")
    journeys = _journeys(tmp_path, [{"id": "L-1"}])
    events = write(tmp_path / "events.csv", "lead_id,type,at\n")
    for command in ("explain", "timeline"):
        code, _, err = run(command, ACME, no_id, "--lead", "L-1", "--as-of", AS_OF)
        assert code == 1
        assert err.startswith(f"{no_id}:1: error[E713]: the leads table needs the column `id`")
        code, _, err = run(command, ACME, journeys, "--events", events, "--lead", "L-1")
        assert code == 2
        assert "Invalid value for --events" in err


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_dates_of_the_whole_calendar_are_read_alike_by_both_engines(
    tmp_path: Path, engine: str
) -> None:
    policy = write(tmp_path / "p.mql", IMPORT_POLICY)
    records = [
        {"id": "a", "profile": {"signup": "2026-01-31", "size": 5}},
        {"id": "b", "profile": {"signup": "0999-12-31", "size": 5}},
        {"id": "c", "profile": {"signup": "9999-12-31", "size": 5}},
        {"id": "d", "profile": {"signup": "0000-01-01", "size": 5}},
    ]
    code, out, err = run(
        "score", policy, _journeys(tmp_path, records), "--as-of", AS_OF, "--engine", engine
    )
    assert code == 1, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a", "b", "c"]
    assert ":4: error[E705]: profile field `signup`: expected a date such as 2026-12-01" in err


_WORDS = [
    "source",
    "id",
    "missing",
    "profile",
    "signup",
    "size",
    "events",
    "type",
    "at",
    "fields",
    "page",
    "seconds",
    "visit",
    "tables",
    "deals",
    "key",
    "truth",
    "buyer",
    "won_at",
    "column",
    "values",
    "other",
    "format",
    "exists",
    "deals.",
    "deals.won",
    "visited",
]
_SCALARS = (
    st.sampled_from(_WORDS)
    | st.text(max_size=6)
    | st.integers(-5, 5)
    | st.booleans()
    | st.just("%d/%m/%Y")
)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_WORDS), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(mapping=st.dictionaries(st.sampled_from(_WORDS), _VALUES, max_size=6))
def test_any_mapping_loads_or_is_refused_with_positioned_problems(
    mapping: dict[str, object],
) -> None:
    """Random shapes under the mapping's own key names: load_mapping returns a mapping or
    raises MappingError whose every line is a positioned E75x problem; a loaded mapping
    imports the rows or rejects them, never raising anything else."""
    from mqldsl.analysis.checker import check_text
    from mqldsl.io.errors import InputProblem
    from mqldsl.io.importer import ImportReport, import_rows
    from mqldsl.io.mapping import MappingError, load_mapping

    model = check_text(IMPORT_POLICY, "p.mql").model
    assert model is not None
    text = "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in mapping.items())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "map.toml"
        path.write_text(text)
        leads = Path(folder) / "leads.csv"
        leads.write_text(IMPORT_LEADS)
        try:
            spec = load_mapping(path, model)
        except MappingError as exc:
            assert exc.problems
            for line in exc.problems:
                assert line.startswith(f"{path}:") and "error[E75" in line, line
            return
        report = ImportReport()
        try:
            journeys = list(import_rows(model, spec, str(leads), {}, report))
        except InputProblem as exc:  # a column or table the mapping needs
            assert all("error[E754]" in line or "error[E713]" in line for line in exc.lines)
            return
    assert report.read == len(journeys) + len(report.rejected)


def test_mapped_values_that_cannot_fill_their_field_are_refused_at_their_line(
    tmp_path: Path,
) -> None:
    mapping = IMPORT_MAPPING.replace(
        'column = "size"', 'column = "size"\nvalues = { "big" = "large", "small" = 5 }'
    ).replace(
        'buyer = { column = "deals.", exists = true }',
        'buyer = { column = "page", values = { "/pricing" = "true" }, other = false }',
    )
    code, err, out = import_(tmp_path, mapping)
    assert code == 1 and not out.exists()
    assert err.splitlines() == [
        f"{tmp_path / 'map.toml'}:11: error[E753]: profile.size.values.big: this value does not "
        'fit the int it fills: expected a whole number, got "large"',
        f"{tmp_path / 'map.toml'}:22: error[E753]: truth.buyer.values./pricing: the buyer truth "
        'is true or false, not the text "true"',
    ]


def test_a_joined_table_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    import_(tmp_path, IMPORT_MAPPING)  # writes the files
    for table, reason in ((tmp_path / "nope.csv", "No such file"), (tmp_path, "Is a directory")):
        code, _, err = run(
            "import",
            str(tmp_path / "leads.csv"),
            "--policy",
            str(tmp_path / "p.mql"),
            "--mapping",
            str(tmp_path / "map.toml"),
            "--table",
            f"deals={table}",
            "-o",
            str(tmp_path / "again.jsonl"),
        )
        assert code == 1
        assert err.startswith(f"{table}: error[E960]: cannot read the file: {reason}")
        assert not (tmp_path / "again.jsonl").exists()


def test_a_lead_whose_joined_row_was_rejected_is_rejected_not_imported_without_it(
    tmp_path: Path,
) -> None:
    """Joining without the rejected row would import wrong truth (a buyer as a non-buyer):
    the lead is rejected with its table row, as score does with a rejected events row."""
    import_(tmp_path, IMPORT_MAPPING)  # writes the files
    (tmp_path / "deals.csv").write_text("id,won\na,2026-10-20\ne,2026-10-21,extra\n")
    out = tmp_path / "again.jsonl"
    code, _, err = run(
        "import", str(tmp_path / "leads.csv"), "--policy", str(tmp_path / "p.mql"),
        "--mapping", str(tmp_path / "map.toml"), "--table", f"deals={tmp_path / 'deals.csv'}",
        "-o", str(out),
    )  # fmt: skip
    assert code == 1
    journeys = {j["id"]: j for j in map(json.loads, out.read_text().splitlines())}
    assert "e" not in journeys and journeys["a"]["truth"]["buyer"] is True
    deals = tmp_path / "deals.csv"
    assert f"{deals}:3: error[E708]" in err
    assert (
        f"{tmp_path / 'leads.csv'}:6: error[E712]: its row {deals}:3 in a joined table was rejected (E708)"
        in err
    )


def test_ignored_names_with_control_characters_are_shown_escaped(tmp_path: Path) -> None:
    # An unknown event type, field or key is counted in the summary; a control character in
    # its name is written escaped (as in the positioned errors), not sent to the terminal.
    line = {
        "id": "L1",
        "profile": {"role": "secops", "col\tour": "red"},
        "events": [{"type": "dem\u0000o_request", "at": "2026-10-01T00:00:00Z"}],
        "ext\u001bra": 1,
    }
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(json.dumps(line) + "\n", encoding="utf-8")
    code, out, err = run("score", ACME, str(journeys), "--as-of", "2026-11-01T00:00:00Z")
    assert code == 0, err
    assert json.loads(out)["id"] == "L1"  # the lead is decided all the same
    assert "ignored unknown event type `dem\\u0000o_request`: 1 time" in err
    assert "ignored unknown profile field `col\\tour`: 1 time" in err
    assert "ignored unknown key `ext\\u001bra` in journey lines: 1 time" in err
    assert "\x00" not in err and "\x1b" not in err and "\t" not in err
