"""A simulation on two or more cores decides the leads while the next are generated
(mqldsl.engine.parallel.produce_and_map, mqldsl.simulation.run.decide_generated), and
the generator draws its categorical values without summing the weights at every draw
(mqldsl.simulation.generate): the same figures, byte for byte, either way."""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_text
from mqldsl.engine.parallel import produce_and_map
from mqldsl.engine.runtime import Event, Lead, TimelineTooLong, parse_instant
from mqldsl.io.errors import InputProblem
from mqldsl.io.policy import load_policy
from mqldsl.simulation import run as run_module
from mqldsl.simulation.generate import _index, _sample
from mqldsl.simulation.run import RunSpec, decide_generated
from mqldsl.simulation.scenario_fields import Categorical
from mqldsl.simulation.simulate import SimulationOptions, simulate
from mqldsl.simulation.sources import Source

from .conftest import ROOT
from .test_edges import DECAY  # a decay a minute: a lead from 1900 is too long


def _squares(chunk: Sequence[int]) -> list[int]:
    return [n * n for n in chunk]


@pytest.mark.parametrize(("count", "chunk"), [(0, 5), (1, 5), (7, 5), (10, 5), (103, 10)])
def test_every_item_is_produced_and_mapped_in_order(count: int, chunk: int) -> None:
    made: list[int] = []

    def items() -> Iterator[int]:
        for n in range(count):
            made.append(n)
            yield n

    produced, results = produce_and_map(items(), _squares, 2, chunk)
    assert produced == made == list(range(count))
    assert results == [n * n for n in range(count)]
    assert produce_and_map(iter(range(count)), _squares, 1, chunk) == (produced, results)


def _fails_on_42(chunk: Sequence[int]) -> list[int]:
    if 42 in chunk:
        raise TimelineTooLong("lead `42`: its timeline needs too many instants")
    return list(chunk)


def _dies_on_42(chunk: Sequence[int]) -> list[int]:
    if 42 in chunk:
        os._exit(3)
    return list(chunk)


def _refuses_42(chunk: Sequence[int]) -> list[int]:
    if 42 in chunk:
        raise InputProblem(["s.toml: generated journey 42 does not fit", "nothing was simulated"])
    return list(chunk)


def test_a_failure_in_a_worker_is_raised_here() -> None:
    with pytest.raises(TimelineTooLong, match="lead `42`: its timeline needs"):
        produce_and_map(iter(range(100)), _fails_on_42, 2, 10)
    with pytest.raises(InputProblem) as caught:  # its lines whole, not its text cut up
        produce_and_map(iter(range(100)), _refuses_42, 2, 10)
    assert caught.value.lines == [
        "s.toml: generated journey 42 does not fit",
        "nothing was simulated",
    ]
    with pytest.raises(RuntimeError, match=r"stopped without an answer \(exit code 3\)"):
        produce_and_map(iter(range(100)), _dies_on_42, 2, 10)


@pytest.mark.parametrize("name", ["acme", "saas_trial"])
def test_two_jobs_give_the_report_of_one(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small chunks (the leads of a child, the last shared with the parent) and the
    sales replay after them: the report of one process, byte for byte."""
    model = load_policy(ROOT / "policies" / f"{name}.mql")
    source = Source(scenario=ROOT / "simulations" / f"{name}.toml", leads=1500)
    one = simulate(model, source).to_json()
    monkeypatch.setattr(run_module, "_GENERATED_CHUNK", 200)
    calls: list[int] = []
    real = run_module.produce_and_map

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "produce_and_map", counted)
    assert simulate(model, source, SimulationOptions(jobs=2)).to_json() == one
    assert calls == [1]  # the overlapped path was taken


def test_a_lead_too_long_to_evaluate_stops_the_run_with_e900() -> None:
    model = check_text(DECAY, "t.mql").model
    assert model is not None

    def leads() -> Iterator[Lead]:
        for number in range(30):
            at = parse_instant("1900-01-01T00:00:00Z" if number == 3 else "2026-10-30T00:00:00Z")
            yield Lead(id=f"L-{number}", profile={}, events=(Event(at, "visit", {}, 0),))

    spec = RunSpec(params={}, as_of=parse_instant("2026-11-01T00:00:00Z"), jobs=2)
    with pytest.raises(InputProblem) as caught:
        decide_generated(model, leads(), lambda lead: lead, spec)  # type: ignore[arg-type]
    assert caught.value.lines[0].startswith("error[E900]: lead `L-3`: its timeline needs ")


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=8),
    seed=st.integers(0, 2**32),
)
def test_a_categorical_draw_is_the_one_random_choices_makes(
    weights: list[float], seed: int
) -> None:
    values = tuple(f"v{n}" for n in range(len(weights)))
    distribution = Categorical(values, tuple(weights))
    expected_rng, rng, other = random.Random(seed), random.Random(seed), random.Random(seed)
    for _ in range(5):
        try:
            expected = expected_rng.choices(values, weights)[0]
        except ValueError as exc:  # the weights sum to zero: the same error either way
            with pytest.raises(ValueError, match=str(exc)):
                _sample(rng, distribution)
            return
        assert _sample(rng, distribution) == expected
        assert values[_index(other, list(itertools.accumulate(weights)))] == expected
    assert rng.random() == expected_rng.random() == other.random()  # as many draws


def test_the_generator_is_the_same_with_and_without_the_inlined_draws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`mqldsl generate` writes the journeys of `random.choices` and `random.expovariate`
    (the generator's steps written with them, here, against the generator's own)."""
    from mqldsl.simulation import generate as generate_module
    from mqldsl.simulation.scenario import load_scenario

    model = load_policy(ROOT / "policies" / "abm.mql")
    scenario = load_scenario(ROOT / "simulations" / "abm.toml", model)
    fast = list(generate_module.generate(scenario, seed=9, leads=300))

    def sample(rng: random.Random, distribution: Any) -> Any:
        if isinstance(distribution, Categorical):
            return rng.choices(distribution.values, distribution.weights)[0]
        return _sample(rng, distribution)

    def plain_draw(rng: random.Random, distributions: Any, missing: Any = None) -> Any:
        drawn = {}
        for name, distribution in (distributions or {}).items():
            if missing is not None and rng.random() < missing.get(name, 0.0):
                continue
            drawn[name] = sample(rng, distribution)
        return drawn

    def plain_events(*args: Any) -> Any:
        rng, scenario, persona, periods, arrival, end, _ = args
        events = []
        for event in persona.on_arrival:
            events.append((arrival, event, plain_draw(rng, scenario.event_fields.get(event))))
        for state, begin, finish in periods:
            for event, rate in persona.rates.get(state, {}).items():
                low, high = max(begin, arrival), min(finish, end)
                if rate <= 0 or high <= low:
                    continue
                t = low
                while True:
                    t += rng.expovariate(rate / 86400)
                    if t >= high:
                        break
                    events.append((t, event, plain_draw(rng, scenario.event_fields.get(event))))
        events.sort(key=lambda item: (item[0], item[1]))
        return events

    monkeypatch.setattr(generate_module, "_events", plain_events)
    monkeypatch.setattr(generate_module, "_draw", plain_draw)
    plain = list(generate_module.generate(scenario, seed=9, leads=300))
    assert fast == plain
    events = [event for journey in fast for event in journey["events"]]
    assert len(events) > 1000 and sum(len(event) > 2 for event in events) > 100  # with fields
    assert any(journey.get("account_profile") for journey in fast)


# ---------------------------------------------------------------- the collector


def _frozen_count(chunk: Sequence[int]) -> list[bool]:
    import gc

    return [gc.get_freeze_count() > 0 for _ in chunk]


def test_a_run_keeps_its_data_out_of_the_collector_and_gives_it_back() -> None:
    # Inside a run (simulate, whatif, sweep, tune) the leads made are taken out of the
    # cyclic collector's rounds; when it returns, the collector sees everything again.
    import gc

    from mqldsl.engine.parallel import holds_long_lived, keep

    seen: list[int] = []

    @holds_long_lived
    def inner() -> None:
        keep()
        seen.append(gc.get_freeze_count())

    @holds_long_lived
    def outer() -> None:
        keep()
        seen.append(gc.get_freeze_count())
        inner()
        seen.append(gc.get_freeze_count())  # the inner run's end gives nothing back

    assert gc.get_freeze_count() == 0
    keep()  # outside a run: nothing is taken out
    assert gc.get_freeze_count() == 0
    outer()
    assert seen[0] > 0 and seen[1] >= seen[0] and seen[2] >= seen[0]
    assert gc.get_freeze_count() == 0
    # produce_and_map is such a run: what it made is frozen before each fork (in the
    # children and in this process, which works on the last half chunk), and given back after.
    assert produce_and_map(iter(range(30)), _frozen_count, 2, 5)[1] == [True] * 30
    assert gc.get_freeze_count() == 0
    # A run that fails gives everything back too.
    with pytest.raises(ZeroDivisionError):
        holds_long_lived(lambda: (keep(), 1 / 0))()
    assert gc.get_freeze_count() == 0
    # What was taken out before a run began is left as it was (whoever took it gives it back).
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        outer()
        assert gc.get_freeze_count() >= before > 0
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("jobs", [1, 2])
def test_simulate_gives_the_collector_everything_back(jobs: int) -> None:
    import gc

    model = load_policy(str(ROOT / "policies" / "acme.mql"))
    assert gc.get_freeze_count() == 0
    simulate(
        model,
        Source(scenario=str(ROOT / "simulations" / "acme.toml"), leads=300),
        SimulationOptions(jobs=jobs),
    )
    assert gc.get_freeze_count() == 0
