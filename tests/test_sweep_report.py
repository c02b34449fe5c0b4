"""The sweep report names the values the policy runs with today, so a reader can see where the
policy stands on the trade-off."""

from __future__ import annotations

import re

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
    assert list(data) == ["policy", "as_of", "leads", "params", "current", "rows"]
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
