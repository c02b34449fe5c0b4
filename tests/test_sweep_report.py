"""The sweep report names the values the policy runs with today, so a reader can see where the
policy stands on the trade-off."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mqldsl.engine.runtime import parse_instant
from mqldsl.io.policy import load_policy, param_values
from mqldsl.simulation.simulate import SimulationOptions
from mqldsl.simulation.sources import Source
from mqldsl.simulation.sweep import sweep

from .conftest import ROOT

ACME = ROOT / "policies" / "acme.mql"
SCENARIO = ROOT / "simulations" / "acme.toml"


def declared(name: str) -> int:
    """The param's value as written in the policy file (read here with a regex, not mqldsl)."""
    found = re.search(rf"^param {name} = (\d+)", ACME.read_text(), re.MULTILINE)
    assert found is not None
    return int(found.group(1))


def test_current_is_the_declared_value_and_marks_one_row() -> None:
    model = load_policy(ACME)
    report = sweep(model, ["mql_intent_min=30..50:10"], Source(scenario=SCENARIO, leads=150))
    data = report.to_json()
    assert data["current"] == {"mql_intent_min": declared("mql_intent_min")}
    assert list(data) == [
        "policy",
        "source",
        "as_of",
        "leads",
        "leads_after_as_of",
        "params",
        "current",
        "rows",
    ]
    # the data, as SPEC §14.1 asks of every report: the scenario and the seed it ran with
    assert data["source"] == {"scenario": str(SCENARIO), "seed": 42}
    assert data["policy"]["sha256"] == model.sha256 and data["policy"]["version"] == 4
    marked = [row for row in data["rows"] if row["params"] == data["current"]]
    assert len(marked) == 1


def test_current_follows_set_overrides_of_other_and_swept_params() -> None:
    model = load_policy(ACME)
    options = SimulationOptions(params=param_values(model, ["mql_fit_min=25"]))
    report = sweep(
        model,
        ["mql_intent_min=30..50:10", "mql_fit_min=20..30:5"],
        Source(scenario=SCENARIO, leads=150),
        options,
    )
    assert report.current == {"mql_intent_min": declared("mql_intent_min"), "mql_fit_min": 25}


def test_a_sweep_counts_only_the_leads_that_existed_at_the_as_of(tmp_path: Path) -> None:
    """SPEC §14.1 (no time travel): the rows were right, but the report said every lead of
    the file, those created after the as-of instant too."""
    from mqldsl.simulation.sources import generate_journeys

    journeys = tmp_path / "j.jsonl"
    generate_journeys(SCENARIO, journeys, leads=300, seed=3)
    as_of = "2026-11-20T00:00:00Z"
    existed = sum(
        1
        for line in journeys.read_text().splitlines()
        if json.loads(line)["truth"]["created_at"] <= as_of
    )
    assert 0 < existed < 300
    model = load_policy(ACME)
    source = Source(journeys=journeys, as_of=parse_instant(as_of))
    data = sweep(model, ["mql_intent_min=30..40:10"], source).to_json()
    assert (data["leads"], data["leads_after_as_of"]) == (existed, 300 - existed)
    assert data["source"] == {"journeys": str(journeys)}
