"""`mqldsl diff --witness` (docs/witness.md): a lead two versions decide differently, found by
z3 and re-checked; or a proof that none exists within the stated bounds."""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.cli import cli
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import Lead, to_seconds
from mqldsl.io.journeys import JourneyReader
from mqldsl.language.printer import format_policy
from mqldsl.simulation.leadsearch import random_records
from mqldsl.simulation.witness import find_witness, outcome_key
from tests import policy_gen

ROOT = Path(__file__).resolve().parent.parent
ACME = (ROOT / "policies" / "acme.mql").read_text()
AS_OF = "2026-12-01T00:00:00Z"
T = to_seconds(dt.datetime(2026, 12, 1, tzinfo=dt.UTC))

EDITS = {
    "threshold": ("param mql_fit_min = 30", "param mql_fit_min = 35"),
    "window": (
        "or demo_request within 60 days and fit >= 10",
        "or demo_request within 30 days and fit >= 10",
    ),
    "route": (
        "route mql to sdr_inbound when channel == inbound",
        "route mql to sdr_inbound when channel == outbound",
    ),
}


def _write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def _decisions(runner: CliRunner, policy: str, journeys: str) -> list[dict[str, object]]:
    result = runner.invoke(cli, ["score", policy, journeys, "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_changed_acme_has_a_witness_that_score_decides_differently(
    edit: str, tmp_path: Path
) -> None:
    before, after = EDITS[edit]
    assert ACME.count(before) == 1
    old = _write(tmp_path, "old.mql", ACME)
    new = _write(tmp_path, "new.mql", ACME.replace(before, after))
    out = tmp_path / "witness.jsonl"
    runner = CliRunner()
    started = time.perf_counter()
    result = runner.invoke(cli, ["diff", old, new, "--witness", str(out), "--as-of", AS_OF])
    assert time.perf_counter() - started < 10
    assert result.exit_code == 0, result.output
    assert "witness: a lead the two versions decide differently" in result.stdout
    assert "found by the solver, re-checked by both evaluators" in result.stdout
    assert f"wrote {out}" in result.stdout
    assert "why, under the old version" in result.stdout
    assert "why, under the new version" in result.stdout
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["id"] == "witness-1"
    (first,), (second,) = _decisions(runner, old, str(out)), _decisions(runner, new, str(out))
    assert (first["stage"], first["route"]) != (second["stage"], second["route"])
    # The printed decisions are the ones `score` makes.
    for label, decision in (("old", first), ("new", second)):
        route = decision["route"]
        shown = f"stage {decision['stage']}"
        shown += ", no route" if route is None else f", route {route['queue']}"  # type: ignore[index]
        assert f"  {label} (" in result.stdout and shown in result.stdout


def test_the_window_witness_sits_on_the_window_edge(tmp_path: Path) -> None:
    """The only leads the window edit separates have a demo request 30 to 60 days old, a
    fit of at least 10 and no other way to be an MQL (computed here by hand)."""
    before, after = EDITS["window"]
    old = check_text(ACME, "old.mql").model
    new = check_text(ACME.replace(before, after), "new.mql").model
    assert old is not None and new is not None
    witness = find_witness(old, new, T)
    assert witness.outcome == "witness" and witness.record is not None
    demos = [e for e in witness.record["events"] if e["type"] == "demo_request"]
    ages = [(T - to_seconds(dt.datetime.fromisoformat(e["at"]))) / 86400 for e in demos]
    assert ages and all(30 <= age < 60 for age in ages)
    assert witness.old is not None and witness.old.stage == "mql"
    assert witness.new is not None and witness.new.stage != "mql"


def _reordered(text: str) -> str:
    """Acme with its params and its disqualifiers in the other order, and two event
    declarations swapped: the same meaning."""
    params = [line for line in text.splitlines() if line.startswith("param ")]
    disqualifiers = [line for line in text.splitlines() if line.startswith("disqualify ")]
    text = text.replace(params[0], "\0").replace(params[1], params[0]).replace("\0", params[1])
    text = text.replace(disqualifiers[0], "\0")
    text = text.replace(disqualifiers[1], disqualifiers[0]).replace("\0", disqualifiers[1])
    a, b = "event newsletter_signup\n", "event webinar_attended\n"
    return text.replace(a, "\0").replace(b, a).replace("\0", b)


@pytest.mark.parametrize("kind", ["formatted", "reordered"])
def test_a_reformatted_or_reordered_copy_is_equivalent(kind: str, tmp_path: Path) -> None:
    checked = check_text(ACME, "acme.mql")
    assert checked.model is not None
    if kind == "formatted":
        # Spaced, indented and broken differently; `fmt` makes it Acme again.
        text = ACME.replace("  +", "      +").replace(" == ", "==").replace(", max", " ,  max")
        text = text.replace("fit >= mql_fit_min and intent", "fit >= mql_fit_min and\n  intent")
        messy = check_text(text, "messy.mql").model
        assert messy is not None and format_policy(messy.policy, messy.source) == ACME
    else:
        text = _reordered(ACME)
        assert checked.model.sha256 != check_text(text, "new.mql").model.sha256  # type: ignore[union-attr]
    assert text != ACME
    old = _write(tmp_path, "old.mql", ACME)
    new = _write(tmp_path, "new.mql", text)
    out = tmp_path / "witness.jsonl"
    result = CliRunner().invoke(
        cli, ["diff", old, new, "--witness", str(out), "--as-of", AS_OF, "--bound", "2"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "no witness: the two versions decide every lead the same as of "
        "2026-12-01T00:00:00Z, within 2 events of each type (proved by the solver"
    ) in result.stdout
    assert not out.exists()


def test_a_construct_outside_the_proof_falls_back_to_a_search(tmp_path: Path) -> None:
    """Decay is outside the encoding: the answer says so, and a random search finds the
    lead that the changed cap separates (re-checked by the evaluators, like every witness)."""
    decayed = ACME.replace(
        'score intent "How actively the lead is evaluating a purchase" {',
        'score intent "How actively the lead is evaluating a purchase" decay 10% every 7 days {',
    )
    old = _write(tmp_path, "old.mql", decayed)
    new = _write(
        tmp_path, "new.mql", decayed.replace("param mql_fit_min = 30", "param mql_fit_min = 60")
    )
    out = tmp_path / "w.jsonl"
    runner = CliRunner()
    result = runner.invoke(cli, ["diff", old, new, "--witness", str(out), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    line = decayed.splitlines().index(next(x for x in decayed.splitlines() if "decay 10%" in x)) + 1
    assert f"no proof was made: decay (line {line}) is outside the proof" in result.stdout
    assert "found by a random search, re-checked by both evaluators" in result.stdout
    (first,), (second,) = _decisions(runner, old, str(out)), _decisions(runner, new, str(out))
    assert first["stage"] != second["stage"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bound", "0"], "0 is not in the range 1<=x<=8"),
        (["--bound", "many"], "'many' is not a valid integer"),
        (["--format", "json"], "--witness prints text"),
    ],
)
def test_command_line_misuse_is_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    old = _write(tmp_path, "old.mql", ACME)
    out = str(tmp_path / "w.jsonl")
    result = CliRunner().invoke(cli, ["diff", old, old, "--witness", out, *args])
    assert result.exit_code == 2
    assert message in result.output


def test_as_of_without_witness_is_exit_2(tmp_path: Path) -> None:
    old = _write(tmp_path, "old.mql", ACME)
    result = CliRunner().invoke(cli, ["diff", old, old, "--as-of", AS_OF])
    assert result.exit_code == 2 and "--as-of and --bound go with --witness" in result.output


# ---------------------------------------------------------------- random policies and edits

ROUTE_CONDITIONS = ["e == a", "n > 5", "b", 'st contains "aws"', "x is missing"]


@st.composite
def solver_policies(draw: st.DrawFn) -> str:
    """policy_gen's policies restricted to what the encoding covers: flexible stages, no
    decay, routes whose conditions read only the profile, no hot-event routes."""
    text = 'policy "generated"\n\n' + policy_gen.SCHEMA.split("calendar {")[0]
    text += "param pw = 7 days\n\n"
    scores: list[str] = []
    for index in range(draw(st.integers(min_value=1, max_value=2))):
        block = draw(policy_gen.score_block(f"s{index}", list(scores)))
        text += re.sub(r" decay \d+% every (pd|\d+ days?)", "", block) + "\n"
        scores.append(f"s{index}")
    names = ["v0", "v1", "v2"][: draw(st.integers(min_value=2, max_value=3))]
    text += "stages {\n" + f"  {names[0]}\n"
    for name in names[1:]:
        text += f"  {name} when {draw(policy_gen.condition(scores))}\n"
    text += "}\n\n"
    for index in range(draw(st.integers(min_value=0, max_value=1))):
        text += f'disqualify "R{index}" when {draw(policy_gen.condition(scores))}\n'
    for name in names[1:]:
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            route = f"route {name} to {draw(st.sampled_from(['q1', 'q2']))}"
            if draw(st.booleans()):
                route += f" when {draw(st.sampled_from(ROUTE_CONDITIONS))}"
            text += route + "\n"
    return text


def _edit(text: str, rng: random.Random) -> str:
    """One edit of a rule, stage, disqualifier or route line: a number, a window, a
    comparison, a queue, or the line dropped."""
    lines = text.split("\n")
    editable = [
        i
        for i, line in enumerate(lines)
        if line.startswith(("  +", "  -", "  v", "disqualify", "route")) and line.strip() != "v0"
    ]
    # Stage, disqualifier and route lines twice as often: they decide directly.
    deciding = [i for i in editable if not lines[i].startswith(("  +", "  -"))]
    number = rng.choice(editable + deciding)
    line = lines[number]
    choices = []
    if re.search(r"\b\d+\b", line):
        choices.append(lambda s: re.sub(r"\b(\d+)\b", lambda m: str(int(m[1]) + 1), s, count=1))
    if "within" in line:
        choices.append(lambda s: re.sub(r"within (\d+ days?|pw)", "within 2 days", s, count=1))
    if ">=" in line or "<" in line:
        choices.append(lambda s: s.replace(">=", ">", 1) if ">=" in s else s.replace("<", "<=", 1))
    if "q1" in line or "q2" in line:
        choices.append(lambda s: s.replace("q1", "q3") if "q1" in s else s.replace("q2", "q1"))
    if line.startswith(("  +", "  -", "route", "disqualify")):
        choices.append(lambda s: "")
    lines[number] = rng.choice(choices)(line) if choices else line
    return "\n".join(lines)


def _checked(text: str) -> CheckedPolicy | None:
    result = check_text(text, "p.mql")
    return result.model


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(solver_policies(), st.integers(min_value=0, max_value=2**16))
def test_random_edits_either_have_a_witness_or_no_lead_tells_them_apart(
    text: str, seed: int
) -> None:
    old = _checked(text)
    assume(old is not None and not old.examples)
    new = _checked(_edit(text, random.Random(seed)))
    assume(new is not None)
    assert old is not None and new is not None
    as_of = policy_gen.AS_OF
    witness = find_witness(old, new, as_of, bound=2, search=0, timeout=10.0)
    if witness.outcome == "searched":
        # The solver gave up (arithmetic such as `x / (n * s0)` is nonlinear: a check may not
        # end); with no search, nothing is claimed. Every claim made is checked below.
        assert witness.reason is not None and "the solver gave up" in witness.reason, witness
        assert (witness.record, witness.proved, witness.searched) == (None, False, 0)
        return
    assert witness.outcome in ("witness", "equivalent"), witness
    if witness.outcome == "witness":
        # Independently of the compiled evaluators: the reference interpreter.
        assert witness.record is not None
        decisions = [
            Interpreter(model).decide(JourneyReader(model).lead(dict(witness.record)), as_of)
            for model in (old, new)
        ]
        assert outcome_key(decisions[0]) != outcome_key(decisions[1])
        return
    first, second = Evaluator(old), Evaluator(new)
    for lead in _search_leads():
        assert outcome_key(first.decide(lead, as_of)) == outcome_key(second.decide(lead, as_of))


# Every value policy_gen writes (and the edits' next values come from those plus one).
_LITERALS = """
score literals {
  +1 when t == "ab" or t == "z" or t == "q" or t == "x" or t == "y" or st contains "aws"
  +1 when n in [0, 2, 3, 5, 10, 15, 20] or x in [0.5, 1.5, 2.25, 7.5, 4.5, 12, 100]
  +1 when d > 2026-06-01 or d between 2026-01-01 and 2026-12-31
  +1 when ev1 within 1 day or ev2 within 3 days or ev3 within 7 days or event within 30 days
}
stages {
  v0
}
"""


@functools.cache
def _search_leads() -> list[Lead]:
    """10,000 generated leads over policy_gen's schema, near every value its policies write
    and on both sides of every window's edge; at most 2 events of each type (the bound of
    the proofs they check). Read once: the schema is the same for every generated policy."""
    text = 'policy "literals"\n\n' + policy_gen.SCHEMA.split("calendar {")[0] + _LITERALS
    model = check_text(text, "literals.mql").model
    assert model is not None
    reader = JourneyReader(model, check_duplicates=False)
    records = random_records((model,), 10_000, 7, 2, policy_gen.AS_OF)
    return [reader.lead(record) for record in records]


def test_a_lead_that_does_not_recheck_is_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the evaluators decided every proposed lead the same (a wrong encoding), nothing is
    printed as a witness or written: the answer is "could not confirm"."""
    import mqldsl.simulation.witness as witness_module

    asked: list[int] = []
    real = witness_module._Checker.decide

    def same(self: Any, record: dict[str, Any]) -> Any:
        asked.append(1)
        decided = real(self, record)
        return None if decided is None else (decided[0], decided[0])

    monkeypatch.setattr(witness_module._Checker, "decide", same)
    before, after = EDITS["threshold"]
    old = _write(tmp_path, "old.mql", ACME)
    new = _write(tmp_path, "new.mql", ACME.replace(before, after))
    out = tmp_path / "w.jsonl"
    result = CliRunner().invoke(cli, ["diff", old, new, "--witness", str(out), "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    assert "could not confirm: the solver proposed leads that the evaluators decide the same" in (
        result.stdout
    )
    assert "witness:" not in result.stdout and not out.exists()
    assert len(asked) == 5  # asked again after each lead that did not re-check


def test_enum_members_added_are_left_out_and_a_type_change_falls_back(tmp_path: Path) -> None:
    """A member only one version declares cannot be in a lead valid for both: the solver
    chooses among the others (and proves the change equivalent). A field whose type changes
    leaves no proof; the answer says which field."""
    widened = ACME.replace(
        "email_kind: enum(corporate, personal, competitor)",
        "email_kind: enum(corporate, personal, competitor, partner)",
    ).replace("-100 when email_kind == competitor", "-100 when email_kind in [competitor, partner]")
    old = _write(tmp_path, "old.mql", ACME)
    runner = CliRunner()
    args = ["--witness", str(tmp_path / "w.jsonl"), "--as-of", AS_OF]
    result = runner.invoke(cli, ["diff", old, _write(tmp_path, "wide.mql", widened), *args])
    assert "no witness: the two versions decide every lead the same" in result.stdout
    retyped = ACME.replace('company_size: int "Employees', 'company_size: number "Employees')
    result = runner.invoke(cli, ["diff", old, _write(tmp_path, "num.mql", retyped), *args])
    assert (
        "no proof was made: lead field `company_size` is int in one version and number in the "
        "other is outside the proof"
    ) in result.stdout
