"""`mqldsl check --format github|sarif` (issue #21): annotations for pull requests and a
SARIF log for code scanning, built from the same diagnostics as the text and JSON formats."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .helpers import run

ROOT = Path(__file__).resolve().parent.parent

BROKEN = """policy "P"
lead { size: int }
score fit { +10 when sise > 5 }
stages {
  visitor
  mql when fit >= 10
}
param unused = 3
"""
WARNED = """policy "P"
lead { size: int }
score fit { +10 when size > 5 }
stages {
  visitor
  mql when fit >= 10
}
param unused = 3
"""


def _github_unescape(text: str) -> str:
    return (
        text.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def test_github_annotations_name_each_problem_at_its_place(tmp_path: Path) -> None:
    path = tmp_path / "a,b:c%.mql"  # characters that workflow commands must escape
    path.write_text(BROKEN)
    status, out, err = run("check", "--format", "github", str(path))
    assert status == 1
    assert "checked 1 file: 1 error" in err
    lines = out.splitlines()
    assert len(lines) == 1
    match = re.fullmatch(r"::(error|warning) ([^:]*)::(.*)", lines[0])
    assert match is not None, lines[0]
    properties = dict(part.split("=", 1) for part in match[2].split(","))
    assert _github_unescape(properties["file"]) == str(path)
    assert (properties["line"], properties["col"]) == ("3", "22")
    assert (properties["endLine"], properties["endColumn"]) == ("3", "26")
    assert _github_unescape(properties["title"]) == "E201 unknown name"
    assert _github_unescape(match[3]) == "[E201] unknown name `sise` (did you mean `size`?)"


def test_github_warnings_are_warnings(tmp_path: Path) -> None:
    path = tmp_path / "p.mql"
    path.write_text(WARNED)
    status, out, _ = run("check", "--format", "github", str(path))
    assert status == 0
    assert out.startswith("::warning file=") and "title=W503 unused param::" in out
    status, _, _ = run("check", "--format", "github", "--strict", str(path))
    assert status == 1


def test_sarif_log_matches_the_json_diagnostics(tmp_path: Path) -> None:
    path = tmp_path / "p.mql"
    path.write_text(BROKEN)
    _, as_json, _ = run("check", "--format", "json", str(path))
    status, out, _ = run("check", "--format", "sarif", str(path))
    assert status == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    (only_run,) = log["runs"]
    assert only_run["tool"]["driver"]["name"] == "mqldsl"
    rules = [rule["id"] for rule in only_run["tool"]["driver"]["rules"]]
    expected = json.loads(as_json)
    assert rules == sorted({d["code"] for d in expected})
    assert len(only_run["results"]) == len(expected)
    for result, diagnostic in zip(only_run["results"], expected, strict=True):
        assert result["ruleId"] == diagnostic["code"]
        assert rules[result["ruleIndex"]] == diagnostic["code"]
        assert result["level"] == diagnostic["severity"]
        assert result["message"]["text"].startswith(diagnostic["message"])
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == diagnostic["file"]
        assert location["region"] == {
            "startLine": diagnostic["line"],
            "startColumn": diagnostic["column"],
            "endLine": diagnostic["end_line"],
            "endColumn": diagnostic["end_column"],
        }


def test_clean_policies_give_empty_outputs() -> None:
    status, out, _ = run("check", "--format", "github", str(ROOT / "policies" / "acme.mql"))
    assert status == 0 and out == ""
    status, out, _ = run("check", "--format", "sarif", str(ROOT / "policies" / "acme.mql"))
    assert status == 0 and json.loads(out)["runs"][0]["results"] == []


def test_pre_commit_hooks_run_mqldsl() -> None:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    ids = re.findall(r"^- id: (\S+)$", text, re.M)
    assert ids == ["mqldsl-check", "mqldsl-fmt", "mqldsl-test"]
    entries = re.findall(r"^  entry: (.+)$", text, re.M)
    assert entries == ["mqldsl check --strict", "mqldsl fmt", "mqldsl test"]
