"""The `check` and `fmt` commands, through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import ROOT
from .helpers import run

GOOD = 'policy "Good"\n\nevent demo_request\n\nstages {\n  visitor\n  mql when demo_request within 60 days\n}\n'
BROKEN = 'policy "Broken"\n\nscore fit {\n  20 when company_size > 10\n  +5 whn x\n}\n'


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_check_shipped_policies_passes() -> None:
    code, out, err = run("check", str(ROOT / "policies"))
    assert code == 0, out
    assert "0 errors" in err


def test_check_reports_every_broken_statement_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.mql", BROKEN)
    code, out, err = run("check", str(path))
    assert code == 1
    assert f"{path}:4:3: error[E108]: points need an explicit sign" in out
    assert f"{path}:5:6: error[E101]: expected `when` or `per` after the points" in out
    assert "2 errors, 0 warnings" in err
    assert "Traceback" not in out + err


def test_check_refuses_a_condition_nested_thousands_deep(tmp_path: Path) -> None:
    deep = "not " * 20000 + "size > 1"
    chain = "size" + " + 1" * 20000 + " > 3"
    text = f'policy "Deep"\nlead {{ size: int }}\ndisqualify "a" when {deep}\n'
    text += f'disqualify "b" when {chain}\n'
    code, out, _ = run("check", str(write(tmp_path, "deep.mql", text)))
    assert code == 1
    assert out.count("error[E101]: this condition is nested too deeply") == 2
    # The excerpt of a very long line is cut around the error, not printed whole.
    assert max(len(line) for line in out.splitlines()) < 300
    assert "    3 | ...not not" in out


def test_check_json_format(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.mql", BROKEN)
    code, out, _ = run("check", "--format", "json", str(path))
    assert code == 1
    records = json.loads(out)
    assert records[0] == {
        "file": str(path),
        "line": 4,
        "column": 3,
        "end_line": 4,
        "end_column": 5,
        "end": {"line": 4, "column": 5},
        "code": "E108",
        "severity": "error",
        "message": "points need an explicit sign",
        "hint": "write `+20` to add points or `-20` to take them away",
    }


def test_check_directory_checks_every_mql_file(tmp_path: Path) -> None:
    write(tmp_path, "a.mql", GOOD)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "b.mql", BROKEN)
    write(tmp_path, "notes.txt", "not a policy")
    code, out, err = run("check", str(tmp_path))
    assert code == 1
    assert "checked 2 files" in err
    assert "b.mql:4:3" in out


def test_check_unreadable_inputs_are_diagnostics(tmp_path: Path) -> None:
    cases = {
        "binary.mql": b"\x00\x01\x02policy",
        "latin1.mql": 'policy "caf\xe9"\n'.encode("latin-1"),
        "empty.mql": b"",
        "blank.mql": b"\n\n   \n",
    }
    for name, data in cases.items():
        path = write(tmp_path, name, data)
        code, out, err = run("check", str(path))
        assert code == 1, name
        assert f"{path}:1:" in out, (name, out)
        assert "Traceback" not in out + err
    code, out, _ = run("check", str(tmp_path / "missing.mql"))
    assert code == 1
    assert "error[E100]: cannot read the file" in out


def test_check_without_arguments_is_a_usage_error() -> None:
    code, _, err = run("check")
    assert code == 2
    assert "Missing argument" in err


def test_check_bad_option_value_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.mql", GOOD)
    code, _, err = run("check", "--format", "xml", str(path))
    assert code == 2
    assert "xml" in err


def test_fmt_check_names_files_that_would_change_and_changes_nothing(tmp_path: Path) -> None:
    messy = write(tmp_path, "messy.mql", GOOD.replace("event demo_request", "event   demo_request"))
    clean = write(tmp_path, "clean.mql", GOOD)
    code, out, err = run("fmt", "--check", str(messy), str(clean))
    assert code == 1
    assert out == f"would reformat {messy}\n"
    assert "1 file would be reformatted, 1 unchanged" in err
    assert "event   demo_request" in messy.read_text()


def test_fmt_rewrites_in_place(tmp_path: Path) -> None:
    messy = write(tmp_path, "messy.mql", GOOD.replace("event demo_request", "event   demo_request"))
    code, _, err = run("fmt", str(messy))
    assert code == 0
    assert messy.read_text() == GOOD
    assert "1 file reformatted" in err
    assert list(tmp_path.iterdir()) == [messy], "no temporary files are left behind"
    code, _, _ = run("fmt", "--check", str(messy))
    assert code == 0


def test_fmt_diff_shows_the_change(tmp_path: Path) -> None:
    messy = write(tmp_path, "messy.mql", GOOD.replace("event demo_request", "event   demo_request"))
    code, out, _ = run("fmt", "--diff", str(messy))
    assert code == 1
    assert "-event   demo_request\n+event demo_request\n" in out
    assert "event   demo_request" in messy.read_text()


def test_fmt_leaves_a_file_with_syntax_errors_untouched(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.mql", BROKEN)
    code, out, _ = run("fmt", str(path))
    assert code == 1
    assert "error[E108]" in out
    assert path.read_text() == BROKEN


def test_fmt_stdin_to_stdout() -> None:
    code, out, _ = run("fmt", "-", input=GOOD.replace("visitor", "visitor   "))
    assert code == 0
    assert out == GOOD


def test_check_reads_a_policy_on_standard_input() -> None:
    code, out, _ = run("check", "-", "--hash", input=GOOD)
    assert code == 0 and "\n<stdin>: version none, sha256 " in out
    code, out, _ = run("check", "-", input=GOOD.replace("visitor\n", "visitor\n  x when nope\n", 1))
    assert code == 1
    assert "<stdin>:" in out and "error[E201]: unknown name `nope`" in out


def test_fmt_check_and_diff_of_stdin_say_whether_it_would_change() -> None:
    # (a CI step `... | mqldsl fmt --check -` must fail on unformatted input)
    messy = GOOD.replace("visitor", "visitor   ")
    code, out, _ = run("fmt", "--check", "-", input=messy)
    assert (code, out) == (1, "would reformat <stdin>\n")
    code, out, _ = run("fmt", "--diff", "-", input=messy)
    assert code == 1 and out.startswith("--- <stdin>\n+++ <stdin> (formatted)\n")
    assert "-  visitor   \n+  visitor\n" in out
    for option in ("--check", "--diff"):
        assert run("fmt", option, "-", input=GOOD)[:2] == (0, "")
