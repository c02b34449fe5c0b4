"""Generated journeys handed to the evaluator without the JSON round trip
(mqldsl.simulation.generated): the very leads the typed decoder gives from the
JSON bytes (types included), the round trip for anything its rules refuse, and
`simulate` and `whatif` reports byte-identical either way."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import pytest

from mqldsl.engine.runtime import Lead
from mqldsl.io.journeys import JourneyReader
from mqldsl.io.policy import load_policy
from mqldsl.simulation import sources
from mqldsl.simulation.generate import generate
from mqldsl.simulation.generated import GeneratedLeads
from mqldsl.simulation.simulate import SimulationOptions, simulate
from mqldsl.simulation.sources import Source, open_scenario, scenario_leads
from mqldsl.simulation.whatif import whatif

from .conftest import ROOT

SHIPPED = ["abm", "acme", "enterprise", "olist", "saas_trial"]


def _strict(value: Any) -> Any:
    """A value with every type spelled out (1, 1.0 and True differ; dicts keep their order)."""
    if isinstance(value, dict):
        return ("dict", tuple((k, _strict(v)) for k, v in value.items()))
    if isinstance(value, frozenset):
        return ("frozenset", tuple(_strict(v) for v in value))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_strict(v) for v in value))
    return (type(value).__name__, repr(value))


def _lead(lead: Lead | None) -> Any:
    if lead is None:
        return None
    events = tuple((e.at, e.type, _strict(e.fields), e.index) for e in lead.events)
    return (
        lead.id,
        _strict(lead.profile),
        events,
        lead.account,
        _strict(lead.account_profile),
        _strict(lead.truth),
    )


def _as_text(raw: dict[str, Any]) -> dict[str, Any]:
    from mqldsl.engine.runtime import format_instant

    events = [{"type": t, "at": format_instant(at), **f} for at, t, f in raw["events"]]
    return {**raw, "events": events}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_generated_lead_is_the_one_the_decoder_reads(name: str) -> None:
    model = load_policy(ROOT / "policies" / f"{name}.mql")
    scenario = open_scenario(ROOT / "simulations" / f"{name}.toml", model)
    # Built with the scenario, its event types whose drawn values the decoder keeps as they
    # are skip the check of each value; built without, every value is checked.
    for direct in (GeneratedLeads.build(model, scenario), GeneratedLeads.build(model)):
        assert direct is not None
        made = 0
        for seed in (1, 2):
            # (one reader a seed: the two seeds number their leads alike, and an event with
            # two fields is read by the validator, which refuses a repeated id)
            reader = JourneyReader(model)
            for raw in generate(scenario, seed=seed, leads=400, seconds=True):
                lead = direct.lead(raw)
                assert lead is not None  # the shipped scenarios need no round trip
                line = orjson.dumps(_as_text(raw))
                decoded = JourneyReader(model).decoded(line) or reader.lead(orjson.loads(line))
                assert _lead(lead) == _lead(decoded)
                made += 1
        assert made == 800
    handed = scenario_leads(model, scenario, 5, 300)
    plain = scenario_leads(model, scenario, 5, 300, handed=False)
    assert [_lead(x) for x in handed] == [_lead(x) for x in plain]


ACME = ROOT / "policies" / "acme.mql"


def _journey(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "S-0000001",
        "profile": {"company_size": 300, "role": "secops", "tech_stack": ["aws", "gcp"]},
        "events": [
            (1_790_000_000.0, "page_view", {"path": "/pricing"}),
            (1_790_000_060.0, "demo_request", {}),
        ],
        "truth": {"buyer": True, "created_at": "2026-09-21T00:00:00Z"},
    }
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("changes", "taken"),
    [
        ({}, True),
        ({"profile": {"company_size": 300.5}}, False),  # not a whole number
        ({"profile": {"company_size": True}}, False),
        ({"profile": {"company_size": ""}}, False),  # "" is refused outside text
        ({"profile": {"company_size": None, "role": "secops"}}, True),  # null: missing
        ({"profile": {"role": "astronaut"}}, False),  # not a member
        ({"profile": {"shoe_size": 44}}, False),  # not declared
        ({"profile": {"tech_stack": ["aws", None]}}, False),
        ({"profile": {"tech_stack": "aws"}}, False),
        ({"events": [(1_790_000_000.0, "landing", {})]}, False),  # not declared
        ({"events": [(1_790_000_000.5, "page_view", {})]}, False),
        ({"events": [("2026-09-21T00:00:00Z", "page_view", {})]}, False),
        ({"events": [(1_790_000_000.0, "page_view", {"x": 1})]}, False),
        ({"events": [(math.inf, "page_view", {})]}, False),
        ({"events": [(1_790_000_000.0, "page_view", {"path": 7})]}, False),
        ({"events": [(1_790_000_000.0, "page_view", {"path": ""})]}, True),  # "": missing
        ({"events": [(1_790_000_000.0, "page_view")]}, False),
        (
            {
                "events": [
                    (1_790_000_060.0, "demo_request", {}),
                    (1_790_000_000.0, "webinar_attended", {}),
                ]
            },
            True,
        ),  # sorted by time
        ({"truth": {"buyer": "yes"}}, False),
        ({"account": "A-1"}, False),
        ({"id": ""}, False),
    ],
)
def test_a_journey_the_decoder_rules_refuse_takes_the_round_trip(
    changes: dict[str, Any], taken: bool
) -> None:
    model = load_policy(ACME)
    direct = GeneratedLeads.build(model)
    assert direct is not None
    raw = _journey(**changes)
    lead = direct.lead(raw)
    assert (lead is not None) == taken
    if lead is not None:
        decoded = JourneyReader(model).decoded(orjson.dumps(_as_text(raw)))
        assert _lead(lead) == _lead(decoded)


def test_a_policy_with_a_type_not_modelled_takes_the_round_trip(tmp_path: Any) -> None:
    text = ACME.read_text()
    assert "lead {" in text
    path = tmp_path / "p.mql"
    path.write_text(text.replace("lead {", "lead {\n  signed_on: date", 1))
    assert GeneratedLeads.build(load_policy(path)) is None


@pytest.mark.parametrize("name", ["abm", "acme", "saas_trial"])
def test_simulate_and_whatif_are_byte_identical_without_the_round_trip(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    model = load_policy(ROOT / "policies" / f"{name}.mql")
    source = Source(scenario=ROOT / "simulations" / f"{name}.toml", leads=400)
    param = {
        "abm": {"buying_group_min": 25},
        "acme": {"mql_intent_min": 30},
        "saas_trial": {"pql_usage_min": 30},
    }[name]

    def reports() -> bytes:
        one = simulate(model, source).to_json()
        two = whatif(model, None, source, SimulationOptions(params=param), replications=2)
        return json.dumps([one, two.to_json()]).encode()

    handed = reports()
    monkeypatch.setattr(sources.GeneratedLeads, "build", classmethod(lambda cls, *args: None))
    assert reports() == handed


MIXED_POLICY = """policy "Mixed event fields"
version 1

lead {
  role: enum(buyer, other)
  title: text
  size: int
}

event visit { path: text, seconds: int, depth: number, tags: set of text, kept: text }
event signup

score intent {
  +5 per visit where path == "/pricing" within 30 days
}

stages {
  visitor
  mql when signup ever
}
"""

MIXED_SCENARIO = """[scenario]
name = "Mixed"
policy = "p.mql"
start = 2026-09-01
days = 20
seed = 3

[arrivals]
per_day = 10

[states]
unaware = 2
researching = 2
evaluating = 2
decided = 2

[sales]
sdr_capacity_per_day = 5

[event_fields.visit]
path = { "/pricing" = 0.5, "" = 0.5 }
seconds = { normal = [30, 40] }
depth = { uniform = [0, 3], min = 0 }
tags = { a = 0.5, b = 0.5 }
kept = { x = 0.5, y = 0.5 }

[personas.one]
weight = 1
buyer_rate = 0.5

[personas.one.profile]
role = { buyer = 0.5, other = 0.5 }
title = { cto = 0.5, "" = 0.5 }
size = { lognormal = [4.0, 1.0] }

[personas.one.events.dormant]
visit = 0.5
signup = 0.1

[personas.one.events.evaluating]
visit = 2
"""


def test_fields_the_decoder_changes_are_checked_value_by_value(tmp_path: Any) -> None:
    """Built with a scenario, an event type's leads (and a profile field's values) are made
    without checking each value only when every value its distributions draw is kept as it
    is: `""` in a text field (missing) and a set (a frozenset) are not; the leads are the
    decoder's either way."""
    (tmp_path / "p.mql").write_text(MIXED_POLICY)

    def built(text: str) -> tuple[Any, GeneratedLeads]:
        (tmp_path / "s.toml").write_text(text)
        scenario = open_scenario(tmp_path / "s.toml", model)
        direct = GeneratedLeads.build(model, scenario)
        assert direct is not None
        return scenario, direct

    model = load_policy(tmp_path / "p.mql")
    scenario, direct = built(MIXED_SCENARIO)
    assert direct._kept == {"signup"}
    # (a profile field likewise: a title drawn "" is missing, so it is checked)
    assert direct._profile_kept == {"role", "size"}
    reader = JourneyReader(model)
    seen = {"empty": 0, "tags": 0, "no title": 0}
    for raw in generate(scenario, seed=3, leads=150, seconds=True):
        lead = direct.lead(raw)
        assert lead is not None
        line = orjson.dumps(_as_text(raw))
        decoded = JourneyReader(model).decoded(line) or reader.lead(orjson.loads(line))
        assert _lead(lead) == _lead(decoded)
        seen["no title"] += raw["profile"].get("title") == "" and "title" not in lead.profile
        for _, _, fields in raw["events"]:
            seen["empty"] += fields.get("path") == ""
            seen["tags"] += bool(fields.get("tags"))
    assert seen["empty"] > 20 and seen["tags"] > 20 and seen["no title"] > 20
    empty = 'path = { "/pricing" = 0.5, "" = 0.5 }\n'
    tags = "tags = { a = 0.5, b = 0.5 }\n"
    assert built(MIXED_SCENARIO.replace(empty, ""))[1]._kept == {"signup"}
    assert built(MIXED_SCENARIO.replace(tags, ""))[1]._kept == {"signup"}
    both = MIXED_SCENARIO.replace(empty, "").replace(tags, "")
    assert built(both)[1]._kept == {"signup", "visit"}
