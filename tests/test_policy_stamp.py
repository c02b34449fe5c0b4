"""Every decision names the policy that made it (SPEC §12):
``"policy": {"version": N, "sha256": "…"}``, the SHA-256 of the policy's
canonical text (what `mqldsl fmt` writes).

- the hash is the same for a policy, its `fmt` output and a re-spaced,
  re-indented copy; it differs after a change of a number, a name (renamed
  everywhere) or a condition (property tests, shipped and generated policies);
- the hash in a decision equals ``hashlib.sha256`` of the bytes `mqldsl fmt`
  writes to the file, computed here;
- the Python engine, ``--jobs 2``, DuckDB, `explain --format json` and the
  API write the same field; a `--set` that changes a param is listed.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mqldsl
from mqldsl.analysis.checker import check_text
from mqldsl.language.parser import parse_text
from mqldsl.language.printer import canonical_items

from .conftest import POLICIES, ROOT
from .helpers import run
from .policy_gen import policies

# The shipped policies that include nothing: their hash is the hash of one text. (A policy
# with includes is hashed with its included files: tests/test_includes.py.)
PLAIN = [p for p in POLICIES if not re.search(r"^include ", p.read_text("utf-8"), re.M)]
SHIPPED = [p.read_text(encoding="utf-8") for p in PLAIN]
MESSY = ROOT / "tests" / "golden" / "fmt" / "messy.mql"
ACME = ROOT / "policies" / "acme.mql"
AS_OF = "2026-11-01T00:00:00Z"
texts = st.one_of(st.sampled_from(SHIPPED), policies())


# ---------------------------------------------------------------- helpers written for the test


def sha256_of(text: str) -> str:
    """The stamp mqldsl computes for the policy ``text`` (it must check)."""
    model = check_text(text, "t.mql").model
    assert model is not None, text
    return model.sha256


def checks(text: str) -> bool:
    return check_text(text, "t.mql").model is not None


def fmt(text: str) -> str:
    """`mqldsl fmt -` on ``text``: the formatted text the command prints."""
    code, out, err = run("fmt", "-", input=text)
    assert code == 0, err
    return out


def code_mask(text: str) -> list[bool]:
    """Per character: True where it is code, False inside a string literal
    (plain or triple-quoted, with escapes) or a comment."""
    mask = [True] * len(text)
    i = 0
    while i < len(text):
        if text.startswith('"""', i):
            end = text.index('"""', i + 3) + 3
        elif text[i] == '"':
            end = i + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            end += 1
        elif text[i] == "#":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
        else:
            i += 1
            continue
        mask[i:end] = [False] * (end - i)
        i = end
    return mask


def perturb(text: str, seed: int) -> str:
    """The same policy with other spacing: every run of spaces between
    tokens becomes 1 to 3 spaces, every line another indentation (0 to 6
    spaces), some code lines get trailing spaces. Strings and comments are
    left as they are."""
    rnd = random.Random(seed)
    mask = code_mask(text)
    out: list[str] = []
    i = 0
    while i < len(text):
        line_start = i == 0 or text[i - 1] == "\n"
        if mask[i] and (text[i] == " " or line_start):
            j = i
            while j < len(text) and text[j] == " " and mask[j]:
                j += 1
            if line_start:
                out.append(" " * rnd.randint(0, 6))
            elif j < len(text) and text[j] == "\n":
                out.append(" " * rnd.randint(0, 3))  # trailing spaces
            elif j > i:
                out.append(" " * rnd.randint(1, 3))
            if j == i:  # a line start that was not a space
                out.append(text[i])
                j = i + 1
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def tokens(text: str, pattern: str) -> list[re.Match[str]]:
    """The matches of ``pattern`` that lie wholly in code."""
    mask = code_mask(text)
    return [m for m in re.finditer(pattern, text) if all(mask[m.start() : m.end()])]


DATES = r"\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d)?(Z|[+-]\d\d:\d\d))?"
NUMBER = r"(?<![\w.])\d+(\.\d+)?(?![\w.])"
OPERATORS = {">=": ">", ">": ">=", "<=": "<", "<": "<=", "==": "!=", "!=": "==", "and": "or"}
OPERATOR = r">=|<=|==|!=|(?<![-=<>!])[<>](?!=)|\band\b|\bor\b"


def number_changes(text: str) -> list[str]:
    dates = [(m.start(), m.end()) for m in tokens(text, DATES)]
    changed = []
    for m in tokens(text, NUMBER):
        if any(a <= m.start() < b for a, b in dates):
            continue
        old = m.group()
        new = str(int(old) + 1) if "." not in old else old + "1"
        changed.append(text[: m.start()] + new + text[m.end() :])
    return changed


def condition_changes(text: str) -> list[str]:
    changed = []
    for m in tokens(text, OPERATOR):
        new = "and" if m.group() == "or" else OPERATORS[m.group()]
        changed.append(text[: m.start()] + new + text[m.end() :])
    return changed


def renames(text: str) -> list[str]:
    """The policy with one score, param or stage renamed everywhere (in code)."""
    model = check_text(text, "t.mql").model
    assert model is not None
    changed = []
    for name in [*model.scores, *model.params, *model.stage_names]:
        mask = code_mask(text)
        out, last = [], 0
        for m in re.finditer(rf"\b{name}\b", text):
            if all(mask[m.start() : m.end()]):
                out += [text[last : m.start()], name + "_renamed"]
                last = m.end()
        changed.append("".join(out) + text[last:])
    return changed


def same_meaning(a: str, b: str) -> bool:
    first, second = parse_text(a).policy, parse_text(b).policy
    assert first is not None and second is not None
    return canonical_items(first) == canonical_items(second)


# ---------------------------------------------------------------- properties


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, seed=st.integers(min_value=0, max_value=2**32))
def test_formatting_does_not_change_the_hash(text: str, seed: int) -> None:
    formatted = fmt(text)
    respaced = perturb(text, seed)
    assert respaced != text and same_meaning(respaced, text)  # other spacing, same policy
    expected = hashlib.sha256(formatted.encode("utf-8")).hexdigest()
    assert sha256_of(text) == expected
    assert sha256_of(formatted) == expected
    assert sha256_of(respaced) == expected
    assert sha256_of(perturb(formatted, seed + 1)) == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, kind=st.sampled_from(["number", "condition", "name"]), data=st.data())
def test_any_change_of_meaning_changes_the_hash(text: str, kind: str, data: st.DataObject) -> None:
    text = fmt(text)  # a canonical text: its tokens are easy to find
    candidates = {"number": number_changes, "condition": condition_changes, "name": renames}[kind]
    changes = candidates(text)
    assume(changes)
    changed = data.draw(st.sampled_from(changes))
    assume(checks(changed))
    assert not same_meaning(changed, text)  # the change is a change of meaning
    assert sha256_of(changed) != sha256_of(text)
    assert sha256_of(perturb(changed, 7)) == sha256_of(changed)


@pytest.mark.slow  # about 8 s in all: every number, operator and name of five policies
@pytest.mark.parametrize("path", PLAIN, ids=[p.name for p in PLAIN])
def test_every_change_of_a_shipped_policy_changes_its_hash(path: Path) -> None:
    """Exhaustive on the shipped policies: each number, operator and name."""
    text = path.read_text(encoding="utf-8")
    original = sha256_of(text)
    for kind in (number_changes, condition_changes, renames):
        tried = 0
        for changed in kind(text):
            if checks(changed):
                assert not same_meaning(changed, text)
                assert sha256_of(changed) != original, changed
                tried += 1
        assert tried >= 3, kind.__name__


def test_line_ends_and_a_byte_order_mark_do_not_count(tmp_path: Path) -> None:
    from mqldsl.analysis.checker import check_file

    raw = ACME.read_bytes()
    crlf, bom = tmp_path / "crlf.mql", tmp_path / "bom.mql"
    crlf.write_bytes(raw.replace(b"\n", b"\r\n"))
    bom.write_bytes(b"\xef\xbb\xbf" + raw)
    expected = hashlib.sha256(raw).hexdigest()
    for path in (crlf, bom):
        model = check_file(path).model
        assert model is not None and model.sha256 == expected


def test_the_helpers_find_what_they_should() -> None:
    text = 'policy "p 1"\n# 5 >= 4\nparam p = 10 "at 2026-01-01"\nstages {\n  a\n  b when p >= 2.5 and p < 20\n}\n'
    assert [m.group() for m in tokens(text, NUMBER)] == ["10", "2.5", "20"]
    assert [m.group() for m in tokens(text, OPERATOR)] == [">=", "and", "<"]
    assert perturb(text, 1).count('"p 1"') == 1 and perturb(text, 1).count("# 5 >= 4") == 1


def test_comments_and_descriptions_count_version_is_read() -> None:
    """The hash covers the canonical text as `fmt` writes it: comments and
    descriptions are part of it (documented in docs/language.md)."""
    text = ACME.read_text(encoding="utf-8")
    assert "# " in text
    edited = text.replace("# ", "# (edited) ", 1)
    assert sha256_of(edited) != sha256_of(text)
    model = mqldsl.load(ACME)
    assert model.version == 4
    bare = check_text('policy "p"\nstages {\n  a\n}\n').model
    assert bare is not None and bare.version is None
    decision = mqldsl.decide(bare, {"id": "x", "profile": {}, "events": []}, AS_OF)
    assert decision.to_json()["policy"] == {
        "version": None,
        "sha256": hashlib.sha256(b'policy "p"\n\nstages {\n  a\n}\n').hexdigest(),
    }


# ---------------------------------------------------------------- the decisions


def journeys(tmp_path: Path) -> Path:
    path = tmp_path / "journeys.jsonl"
    records = [
        {
            "id": f"L-{i}",
            "profile": {"email_kind": "corporate", "role": "secops", "company_size": 100 * i},
            "events": [{"type": "demo_request", "at": "2026-10-31T23:00:00Z"}] if i % 2 else [],
        }
        for i in range(1, 9)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def decisions(*args: str) -> list[dict[str, object]]:
    code, out, err = run("score", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_the_decision_carries_the_hash_of_the_bytes_fmt_writes(tmp_path: Path) -> None:
    policy = tmp_path / "messy.mql"
    shutil.copy(MESSY, policy)
    data = str(journeys(tmp_path))
    before = decisions(str(policy), data, "--as-of", AS_OF)
    code, _, err = run("fmt", str(policy))
    assert code == 0 and "reformatted" in err
    written = policy.read_bytes()
    assert written != MESSY.read_bytes()
    expected = {"version": 2, "sha256": hashlib.sha256(written).hexdigest()}
    after = decisions(str(policy), data, "--as-of", AS_OF)
    assert [d["policy"] for d in before] == [expected] * 8
    assert [d["policy"] for d in after] == [expected] * 8
    assert list(after[0])[-2:] == ["entered", "policy"]


def test_both_engines_jobs_explain_and_the_api_write_the_same_policy(tmp_path: Path) -> None:
    data = str(journeys(tmp_path))
    base = [str(ACME), data, "--as-of", AS_OF]
    python = decisions(*base)
    assert len(python) == 8
    expected = {"version": 4, "sha256": hashlib.sha256(ACME.read_bytes()).hexdigest()}
    assert all(d["policy"] == expected for d in python)
    assert decisions(*base, "--jobs", "2") == python
    assert decisions(*base, "--engine", "duckdb") == python
    code, out, err = run("explain", *base, "--lead", "L-3", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["policy"] == expected
    api = [d.to_json() for d in mqldsl.score(ACME, data, AS_OF)]
    assert api == python


def test_a_param_set_to_another_value_is_named(tmp_path: Path) -> None:
    data = str(journeys(tmp_path))
    base = [str(ACME), data, "--as-of", AS_OF]
    declared = mqldsl.load(ACME).params["mql_intent_min"].value
    assert declared != 30
    same = decisions(*base, "--set", f"mql_intent_min={declared}")
    assert "params" not in same[0]["policy"]  # type: ignore[operator]
    changed = decisions(*base, "--set", "mql_intent_min=30")
    expected = {
        "version": 4,
        "sha256": hashlib.sha256(ACME.read_bytes()).hexdigest(),
        "params": {"mql_intent_min": 30},
    }
    assert all(d["policy"] == expected for d in changed)
    for extra in (["--jobs", "2"], ["--engine", "duckdb"]):
        assert decisions(*base, "--set", "mql_intent_min=30", *extra) == changed
    one = mqldsl.decide(
        ACME,
        json.loads(Path(data).read_text().splitlines()[0]),
        AS_OF,
        params={"mql_intent_min": 30},
    )
    assert one.to_json()["policy"] == expected


def test_csv_output_keeps_the_spec_columns(tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    code, _, err = run(
        "score", str(ACME), str(journeys(tmp_path)), "--as-of", AS_OF, "-o", str(out)
    )
    assert code == 0, err
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header == "id,as_of,stage,fit,intent,disqualified,queue"


def test_the_crm_export_names_the_policy_and_the_params_set(tmp_path: Path) -> None:
    out = tmp_path / "hubspot.csv"
    code, _, err = run(
        "score",
        str(ACME),
        str(journeys(tmp_path)),
        "--as-of",
        AS_OF,
        "--set",
        "mql_intent_min=30",
        "--crm",
        "hubspot",
        "--crm-map",
        "visitor=other",
        "-o",
        str(out),
    )
    assert code == 0, err
    header, *rows = (line.split(",") for line in out.read_text(encoding="utf-8").splitlines())
    assert header[-3:] == ["mqldsl_policy_version", "mqldsl_policy_sha256", "mqldsl_policy_params"]
    expected = ["4", hashlib.sha256(ACME.read_bytes()).hexdigest(), "mql_intent_min=30"]
    assert len(rows) == 8 and all(row[-3:] == expected for row in rows)


def test_params_of_every_type_are_written_as_json_and_as_set_takes_them() -> None:
    from mqldsl.analysis.params import parse_param_override
    from mqldsl.analysis.stamp import policy_stamp

    text = (
        'policy "p"\nversion 2.5\nparam n = 1\nparam x = 1.5\nparam b = true\n'
        'param d = 2026-01-01\nparam t = "a"\nparam l = [a, b]\nstages {\n  a\n}\n'
    )
    model = check_text(text).model
    assert model is not None
    sets = ["n=2", "x=1.5", "b=false", "d=2026-02-01", "t=b c", "l=a,c"]
    params = dict(parse_param_override(model, item) for item in sets)
    stamp = policy_stamp(model, params)
    assert stamp.to_json() == {
        "version": 2.5,
        "sha256": hashlib.sha256(fmt(text).encode("utf-8")).hexdigest(),
        "params": {"n": 2, "b": False, "d": "2026-02-01", "t": "b c", "l": ["a", "c"]},
    }
    assert stamp.params_text() == "n=2; b=false; d=2026-02-01; t=b c; l=a,c"
    assert policy_stamp(model, {"n": 1, "l": ("a", "b")}).to_json().get("params") is None


def test_check_hash_prints_what_the_decisions_carry(tmp_path: Path) -> None:
    policy = tmp_path / "messy.mql"
    shutil.copy(MESSY, policy)
    broken = tmp_path / "broken.mql"
    broken.write_text('policy "b"\nstages {\n  a\n  b when fitt > 1\n}\n', encoding="utf-8")
    code, out, _ = run("check", "--hash", str(policy), str(broken))
    assert code == 1  # broken.mql has an error, and no hash
    expected = hashlib.sha256(fmt(MESSY.read_text(encoding="utf-8")).encode("utf-8")).hexdigest()
    assert f"{policy}: version 2, sha256 {expected}" in out.splitlines()
    assert "broken.mql: version" not in out
    assert run("check", "--hash", "--format", "json", str(policy))[0] == 2


def test_the_printed_sql_names_the_policy(tmp_path: Path) -> None:
    from mqldsl.io.journeys import JourneyReader, ReadReport
    from mqldsl.warehouse.engine import DuckDBEngine

    data = journeys(tmp_path)
    sha = hashlib.sha256(ACME.read_bytes()).hexdigest()
    model = mqldsl.load(ACME)
    for extra, params in (([], None), (["--set", "mql_intent_min=30"], "mql_intent_min=30")):
        code, query, err = run("sql", str(ACME), "--as-of", AS_OF, *extra)
        assert code == 0, err
        with DuckDBEngine(model) as engine:  # its `leads` and `events` tables
            engine.load_leads(JourneyReader(model, ReadReport()).read_jsonl(data))
            rows = engine.con.execute(query).fetchall()
            names = [d[0] for d in engine.con.description]
        got = [dict(zip(names, row, strict=True)) for row in rows]
        assert len(got) == 8
        assert all(
            (row["policy_version"], row["policy_sha256"], row["policy_params"]) == (4, sha, params)
            for row in got
        )
        python = {
            d["id"]: d["stage"] for d in decisions(str(ACME), str(data), "--as-of", AS_OF, *extra)
        }
        assert {row["id"]: row["stage"] for row in got} == python
