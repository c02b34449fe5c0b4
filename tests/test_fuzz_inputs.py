"""Hostile inputs never win (issue #17, docs/robustness.md): hypothesis generates broken
journeys, CSV tables, import mappings, scenarios and command lines — not only policies — and
every run must end with exit 0, 1 or 2 and a message, never an internal error (exit 3) or a
traceback; every record read is either used or counted as rejected; and the two engines
(Python and DuckDB) agree on what they accepted.

The runs are derandomized (the same examples every time) and bounded by their example
counts, so CI spends a fixed, small time here (`pytest -m fuzz` runs only these).
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ROOT
from .helpers import run

pytestmark = pytest.mark.fuzz

ACME = str(ROOT / "policies" / "acme.mql")
AS_OF = "2026-11-01T00:00:00Z"


def fuzz(examples: int) -> settings:
    """Derandomized (the same examples every run), bounded, no example database."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# ---------------------------------------------------------------- values

INSTANTS = [
    "2026-10-01T00:00:00Z",
    "2026-10-31T23:59:59.999999+00:00",
    "2026-10-15T08:00:00-05:00",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "0999-06-01T00:00:00Z",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59Z",
    "1900-01-01T00:00:00Z",
    "2026-10-01T00:00:00",
    "2026-02-30T00:00:00Z",
    "yesterday",
    "",
]

hostile = st.deferred(
    lambda: st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.sampled_from(INSTANTS),
        st.lists(st.one_of(st.integers(), st.text(max_size=4)), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
)

PROFILE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "email_kind": st.sampled_from(["corporate", "personal", "competitor", "CORPORATE", ""]),
    "role": st.sampled_from(["secops", "developer", "student", "ceo"]),
    "seniority": st.sampled_from(["ic", "vp", "c_level"]),
    "company_size": st.one_of(
        st.integers(min_value=-5, max_value=10_000), st.integers(min_value=2**62, max_value=2**70)
    ),
    "industry": st.sampled_from(["saas", "fintech", "other"]),
    "region": st.sampled_from(["na", "emea", "mars"]),
    "channel": st.sampled_from(["inbound", "outbound"]),
    "tech_stack": st.lists(st.sampled_from(["aws", "okta", "gcp"]), max_size=3),
}
EVENT_TYPES = [
    "page_view",
    "content_download",
    "demo_request",
    "webinar_attended",
    "trial_started",
    "feature_used",
    "unsubscribe",
    "sales_accepted",
    "chat_opened",  # not declared
]


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": draw(st.sampled_from(EVENT_TYPES) | hostile),
        "at": draw(
            st.sampled_from(INSTANTS[:3])
            if draw(st.booleans())
            else st.sampled_from(INSTANTS) | hostile
        ),
    }
    if draw(st.booleans()):
        event["path"] = draw(st.sampled_from(["/pricing", "/blog", ""]) | hostile)
    if draw(st.booleans()):
        event["kind"] = draw(st.sampled_from(["case_study", "ebook", "nope"]) | hostile)
    return event


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {"id": draw(st.sampled_from(["L1", "L2", "L3", ""]) | hostile)}
    profile = {}
    for name, values in PROFILE_VALUES.items():
        if draw(st.integers(0, 3)):
            profile[name] = draw(values if draw(st.integers(0, 4)) else hostile)
    record["profile"] = profile if draw(st.integers(0, 9)) else draw(hostile)
    record["events"] = (
        draw(st.lists(events(), max_size=4)) if draw(st.integers(0, 9)) else draw(hostile)
    )
    if draw(st.integers(0, 3)) == 0:
        record["truth"] = {
            "buyer": draw(st.booleans() | hostile),
            "sql_at": draw(st.sampled_from(INSTANTS) | hostile),
        }
    return record


@st.composite
def journey_lines(draw: st.DrawFn) -> list[bytes]:
    """Lines of a journeys file: mostly records, some of them broken in every way."""
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 9))
        if kind <= 6:
            lines.append(json.dumps(draw(records()), allow_nan=True).encode())
        elif kind == 7:
            lines.append(draw(st.binary(max_size=30)).replace(b"\n", b" "))
        elif kind == 8:
            text = json.dumps(draw(records()))
            lines.append(text[: draw(st.integers(0, len(text)))].encode())
        else:
            lines.append(
                draw(st.sampled_from([b"[]", b"null", b'"x"', b"{}", b"   ", b"\xff\xfe{}"]))
            )
    return lines


def counts(err: str) -> tuple[int, int]:
    """(evaluated, rejected) from the summary line of a scoring run."""
    match = re.search(r"(\d+) leads? evaluated, (\d+) rejected", err) or re.search(
        r"(\d+) used, (\d+) rejected", err
    )
    assert match, err
    return int(match.group(1)), int(match.group(2))


def records_in(lines: list[bytes]) -> int:
    return sum(1 for line in lines if line.strip())


# ---------------------------------------------------------------- journeys


@fuzz(120)
@given(journey_lines())
def test_hostile_journeys_are_decided_or_counted_and_both_engines_agree(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]
) -> None:
    folder = tmp_path_factory.mktemp("j")
    path = folder / "journeys.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, out, err = run("score", ACME, str(path), "--as-of", AS_OF)
    assert code in (0, 1), err
    evaluated, rejected = counts(err)
    decided = [json.loads(line) for line in out.splitlines()]
    assert len(decided) == evaluated
    assert evaluated + rejected == records_in(lines), err
    assert (code == 1) == (rejected > 0)
    if rejected:
        assert f"{path}:" in err and "error[E" in err  # positioned, with a code
    # The SQL engine accepts and decides exactly the same.
    code2, out2, err2 = run("score", ACME, str(path), "--as-of", AS_OF, "--engine", "duckdb")
    assert code2 == code, err2
    assert out2 == out, (out, out2)
    assert counts(err2) == (evaluated, rejected)


# ---------------------------------------------------------------- CSV tables

cells = st.one_of(
    st.sampled_from(
        ["L1", "L2", "corporate", "secops", "800", "2026-10-01T00:00:00Z", "page_view"]
    ),
    st.text(alphabet=string.printable, max_size=8),
    st.just('"unclosed'),
    st.just('a "quoted" word'),
)


@st.composite
def csv_table(draw: st.DrawFn, header: list[str]) -> str:
    rows = [",".join(header)]
    for _ in range(draw(st.integers(0, 5))):
        width = len(header) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        rows.append(",".join(draw(cells) for _ in range(max(width, 0))))
    return "\n".join(rows) + "\n"


@fuzz(80)
@given(
    csv_table(["id", "email_kind", "role", "company_size", "channel"]),
    csv_table(["lead_id", "type", "at", "path"]),
)
def test_hostile_csv_tables_are_decided_or_counted(
    tmp_path_factory: pytest.TempPathFactory, leads: str, events: str
) -> None:
    folder = tmp_path_factory.mktemp("c")
    (folder / "leads.csv").write_text(leads)
    (folder / "events.csv").write_text(events)
    code, out, err = run(
        "score", ACME, str(folder / "leads.csv"), "--events", str(folder / "events.csv"),
        "--as-of", AS_OF,
    )  # fmt: skip
    assert code in (0, 1), err
    if "used" not in err:  # a whole-file problem (a missing or doubled column): nothing read
        assert code == 1 and f"{folder}" in err, err
        return
    read = re.search(r"(\d+) read, (\d+) used, (\d+) rejected", err)
    assert read, err
    total, used, rejected = (int(n) for n in read.groups())
    assert len(out.splitlines()) == used
    assert used + rejected == total
    assert (code == 1) == (rejected > 0)
    code2, out2, err2 = run(
        "score", ACME, str(folder / "leads.csv"), "--events", str(folder / "events.csv"),
        "--as-of", AS_OF, "--engine", "duckdb",
    )  # fmt: skip
    assert (code2, out2) == (code, out), err2


# ---------------------------------------------------------------- import mappings

mapping_values = st.recursive(
    st.one_of(
        st.integers(-3, 3), st.booleans(), st.sampled_from(["id", "Lead Origin", "%Y-%m-%d", "x"])
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["column", "field", "format", "map", "missing", "true", "value"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


@fuzz(60)
@given(
    st.dictionaries(
        st.sampled_from(["id", "profile", "events", "truth", "tables", "lead", "x"]),
        st.dictionaries(
            st.sampled_from(["id", "email_kind", "company_size", "buyer", "page_view", "column"]),
            mapping_values,
            max_size=3,
        )
        | mapping_values,
        max_size=4,
    )
)
def test_hostile_import_mappings_never_crash(
    tmp_path_factory: pytest.TempPathFactory, tables: dict[str, Any]
) -> None:
    folder = tmp_path_factory.mktemp("m")
    lines = []
    for name, value in tables.items():
        if isinstance(value, dict):
            lines.append(f"[{name}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()]
        else:
            lines.insert(0, f"{name} = {toml_value(value)}")
    (folder / "map.toml").write_text("\n".join(lines) + "\n")
    (folder / "leads.csv").write_text("id,Lead Origin,email\nA,API,a@b.c\nB,Web,\n")
    code, _, err = run(
        "import", str(folder / "leads.csv"), "--policy", ACME, "--mapping",
        str(folder / "map.toml"), "-o", str(folder / "out.jsonl"),
    )  # fmt: skip
    assert code in (0, 1, 2), err
    if code:
        assert err.strip()


# ---------------------------------------------------------------- scenarios

SCENARIO = (ROOT / "simulations" / "acme.toml").read_text()
NUMBER = re.compile(r"(?<=[=\[, ])(-?\d+(?:\.\d+)?)(?=[\],\s])")
NUMBERS = list(NUMBER.finditer(SCENARIO))
EXTREMES = ["0", "-1", "1e400", "inf", "nan", "1e9", '"mon"', "[]", "{}", "99999999999999999999"]


@fuzz(40)
@given(
    st.lists(
        st.tuples(st.integers(0, len(NUMBERS) - 1), st.sampled_from(EXTREMES)),
        min_size=1,
        max_size=3,
    )
)
def test_hostile_scenarios_never_crash(
    tmp_path_factory: pytest.TempPathFactory, changes: list[tuple[int, str]]
) -> None:
    folder = tmp_path_factory.mktemp("s")
    text = SCENARIO
    for index, value in sorted(set(changes), reverse=True):
        match = NUMBERS[index]
        text = text[: match.start()] + value + text[match.end() :]
    scenario = folder / "s.toml"
    scenario.write_text(text.replace('"../policies/', f'"{ROOT / "policies"}/'))
    code, _, err = run("generate", str(scenario), "--leads", "30", "-o", str(folder / "g.jsonl"))
    assert code in (0, 1, 2), err
    if code:
        assert str(scenario) in err or "error" in err.lower(), err


# ---------------------------------------------------------------- command lines

option_values = st.one_of(
    st.sampled_from(INSTANTS),
    st.text(alphabet=string.printable, max_size=10),
    st.sampled_from(["mql_fit_min=nan", "mql_fit_min=inf", "mql_fit_min=1e400", "nope=1",
                     "mql_fit_min=", "=3", "mql_fit_min=3=4", "mql_intent_min=-0"]),
)  # fmt: skip


@fuzz(80)
@given(
    st.sampled_from(["score", "explain", "timeline", "simulate", "sweep"]),
    st.lists(
        st.tuples(
            st.sampled_from(["--as-of", "--set", "--lead", "--jobs", "--max-errors", "--param",
                             "--format", "--why-not", "--leads", "--seed"]),
            option_values,
        ),
        max_size=3,
    ),
)  # fmt: skip
def test_hostile_command_lines_never_crash(
    tmp_path_factory: pytest.TempPathFactory, command: str, options: list[tuple[str, str]]
) -> None:
    folder = tmp_path_factory.mktemp("o")
    journeys = folder / "j.jsonl"
    journeys.write_text(
        json.dumps({"id": "L1", "profile": {"role": "secops"}, "events": []}) + "\n"
    )
    args = [command, ACME]
    if command in ("simulate", "sweep"):
        args += ["--journeys", str(journeys)]
    else:
        args.append(str(journeys))
    if command in ("explain", "timeline"):
        args += ["--lead", "L1"]
    if command == "sweep":
        args += ["--param", "mql_fit_min=20..40:10"]
    for option, value in options:
        args += [option, value]
    code, _, err = run(*args)
    assert code in (0, 1, 2), err
    if code:
        assert err.strip()


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["generate", "{file}", "--leads", "3", "-o", "{out}"], "scenario.toml"),
        (["import", "{csv}", "--policy", ACME, "--mapping", "{file}", "-o", "{out}"], "map.toml"),
        (["docs", ACME, "--simulation", "{file}"], "report.json"),
    ],
)
def test_values_nested_too_deeply_are_refused_with_the_file_named(
    tmp_path: Path, command: list[str], name: str
) -> None:
    """Python's TOML and JSON readers recurse: a value nested thousands deep is a reported
    problem in the file, not an internal error."""
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text("[" * 100_000 + "]" * 100_000)
    else:
        path.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    (tmp_path / "leads.csv").write_text("id\nA\n")
    args = [
        part.format(file=path, out=tmp_path / "out.jsonl", csv=tmp_path / "leads.csv")
        for part in command
    ]
    code, _, err = run(*args)
    assert code == 1, err
    assert str(path) in err and "nested too deeply" in err


def test_a_byte_order_mark_is_allowed_in_every_input(tmp_path: Path) -> None:
    bom = "\ufeff"
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(bom + json.dumps({"id": "L1", "profile": {}, "events": []}) + "\n")
    code, out, err = run("score", ACME, str(journeys), "--as-of", AS_OF)
    assert code == 0 and json.loads(out)["id"] == "L1", err
    scenario = tmp_path / "s.toml"
    scenario.write_text(bom + SCENARIO.replace('"../policies/', f'"{ROOT / "policies"}/'))
    code, _, err = run("generate", str(scenario), "--leads", "3", "-o", str(tmp_path / "g.jsonl"))
    assert code == 0, err
