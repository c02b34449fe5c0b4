"""The fused reading and deciding of `score` (mqldsl/engine/fused.py) makes the decisions
that reading a lead and deciding it with ``evaluate`` makes: on random policies and journey
lines (fields blank or missing, events out of order, ties, fractions of a second), on the
shipped policies, and through the command."""

from __future__ import annotations

import datetime as dt
import random
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_file, check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Lead, format_instant, parse_instant
from mqldsl.io.decisionlines import DecisionEncoder
from mqldsl.io.journeys import JourneyReader, ReadReport
from mqldsl.io.scoring import decision_line
from mqldsl.simulation.sources import generate_journeys

from .helpers import run
from .policy_gen import AS_OF, leads, policies

ROOT = Path(__file__).resolve().parent.parent


def _value(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _line(lead: Lead, number: int, shuffle: random.Random) -> bytes:
    """``lead`` as a journey line, its events in a shuffled order now and then, a text field
    written ``""`` (missing, for the readers) now and then."""
    events = [
        {"type": e.type, "at": format_instant(e.at), **{k: _value(v) for k, v in e.fields.items()}}
        for e in lead.events
    ]
    for event in events:
        if event.get("s") == "zz":
            event["s"] = ""
    if shuffle.random() < 0.3:
        shuffle.shuffle(events)
    record: dict[str, Any] = {"id": f"L{number}", "events": events}
    if lead.profile or shuffle.random() < 0.5:
        record["profile"] = {k: _value(v) for k, v in lead.profile.items()}
    return orjson.dumps(record)


def _both(
    model: CheckedPolicy, path: Path, evaluator: Evaluator, as_of: float = AS_OF
) -> tuple[list[bytes], int]:
    """The decisions of the leads of ``path`` read for the fused function (and decided by it
    where it serves), and how many it decided."""
    reader = JourneyReader(model, ReadReport())
    assert reader.schema is not None
    fused = evaluator.fused(reader.schema, DecisionEncoder().walked_line)
    if fused is None:
        return _plain(model, path, evaluator, as_of), 0
    lines = []
    served = 0
    for item in reader.read_parts(path):
        if isinstance(item, tuple):
            line = fused(*item, as_of)
            if line is None:  # left to evaluate (`days since`)
                line = decision_line(evaluator.decide(reader.whole(item), as_of))
            else:
                served += 1
            lines.append(line)
        else:
            lines.append(decision_line(evaluator.decide(item, as_of)))
    return lines, served


def _plain(
    model: CheckedPolicy, path: Path, evaluator: Evaluator, as_of: float = AS_OF
) -> list[bytes]:
    reader = JourneyReader(model, ReadReport())
    return [decision_line(evaluator.decide(lead, as_of)) for lead in reader.read_jsonl(path)]


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    policies(recycling=False, hot=False),
    st.lists(leads(), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=2**32),
)
def test_fused_decisions_equal_the_plain_ones(
    tmp_path_factory: pytest.TempPathFactory, text: str, journeys: list[Lead], seed: int
) -> None:
    result = check_text(text, "generated.mql")
    assert result.model is not None, text
    shuffle = random.Random(seed)
    path = tmp_path_factory.mktemp("fused") / "journeys.jsonl"
    path.write_bytes(b"\n".join(_line(lead, n, shuffle) for n, lead in enumerate(journeys)))
    evaluator = Evaluator(result.model)
    fused, _ = _both(result.model, path, evaluator)
    assert fused == _plain(result.model, path, evaluator), text


WHERE = """policy "fused"
lead { size: int, role: text, kind: enum(a, b) }
event page_view { path: text }
event download { asset: enum(guide, study), pages: int }
event unsubscribe
score fit {
  +20 when size >= 100
  +10 when role == "cto"
  +5 when kind == a
}
score intent {
  +5 per page_view where path starts with "/pricing" within 14 days, max 20
  +10 per download where asset == study and pages > 3 within 30 days
  -20 when no event within 30 days
}
score other {
  +1 when role != "cto"
  +1 per page_view where path != "/blog"
  +1 per page_view where path == "e"
}
stages {
  visitor
  lead when download ever
  mql when fit >= 20 and intent >= 15
}
disqualify "Unsubscribed" when unsubscribe ever
route mql to sdr when role == "cto", sla 1 hour
route mql to nurture, sla 1 day
"""


def test_where_patterns_read_the_decoded_records(tmp_path: Path) -> None:
    """Blank and missing fields, a type with two fields, events out of order: the fused
    function serves every lead and decides as the plain path does (a string "e" in a
    `where` is no name of evaluate's)."""
    policy = tmp_path / "fused.mql"
    policy.write_text(WHERE)
    model = check_file(policy).model
    assert model is not None
    day = 86400.0

    def at(days: float) -> str:
        return format_instant(AS_OF - days * day)

    journeys = [
        {  # mql: pricing views in the window, a long study, a cto (to sdr)
            "id": "a",
            "profile": {"size": 500, "role": "cto", "kind": "a"},
            "events": [
                {"type": "page_view", "at": at(3), "path": "/pricing/team"},
                {"type": "download", "at": at(5), "asset": "study", "pages": 12},
                {"type": "page_view", "at": at(2), "path": "/pricing"},  # out of order
                {"type": "page_view", "at": at(2), "path": "/blog"},  # a tie
            ],
        },
        {  # a blank role is missing: nurture; a short study does not count
            "id": "b",
            "profile": {"size": 500, "role": "", "kind": "b"},
            "events": [
                {"type": "download", "at": at(9), "asset": "study", "pages": 2},
                {"type": "page_view", "at": at(1), "path": "/pricing"},
                {"type": "page_view", "at": at(1), "path": "/pricing"},
                {"type": "page_view", "at": at(1), "path": "/pricing"},
            ],
        },
        {  # a blank path matches nothing; an unsubscribe disqualifies
            "id": "c",
            "profile": {"size": 50},
            "events": [
                {"type": "page_view", "at": at(20), "path": ""},
                {"type": "download", "at": at(4), "asset": "guide"},
                {"type": "unsubscribe", "at": at(1)},
            ],
        },
        {"id": "d"},  # no profile, no events
    ]
    path = tmp_path / "journeys.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(j) for j in journeys))
    evaluator = Evaluator(model)
    fused, served = _both(model, path, evaluator)
    assert served == len(journeys)
    assert fused == _plain(model, path, evaluator)
    stages = [orjson.loads(line)["stage"] for line in fused]
    queues = [(orjson.loads(line)["route"] or {}).get("queue") for line in fused]
    assert stages == ["mql", "mql", "disqualified", "visitor"]
    assert queues == ["sdr", "nurture", None, None]
    # A comparison with a missing value is false (SPEC §5): a blank role or path is missing.
    others = [orjson.loads(line)["scores"]["other"] for line in fused]
    assert others == [2, 3, 0, 0]


@pytest.mark.parametrize("scenario", sorted((ROOT / "simulations").glob("*.toml")))
def test_the_shipped_policies(scenario: Path, tmp_path: Path) -> None:
    """Each shipped scenario's journeys, decided as of the last event: the fused function
    serves every lead of a policy it serves (Acme's among them), and decides as the plain
    path does; a policy it does not serve (recycling, accounts) is decided as before."""
    policy = (
        ROOT / "simulations" / tomllib.loads(scenario.read_text())["scenario"]["policy"]
    ).resolve()
    model = check_file(policy).model
    assert model is not None
    path = tmp_path / "journeys.jsonl"
    count = generate_journeys(scenario, path, seed=3, leads=300)
    as_of = max(
        (orjson.loads(line).get("events") or [{"at": "2026-01-01T00:00:00Z"}])[-1]["at"]
        for line in path.read_bytes().splitlines()
    )
    evaluator = Evaluator(model)
    when = parse_instant(as_of)
    fused, served = _both(model, path, evaluator, when)
    assert fused == _plain(model, path, evaluator, when)
    serves = not (model.recycles or model.uses_accounts)
    assert served == (count if serves else 0)
    if policy.name == "acme.mql":
        assert served == count


def test_a_lead_walked_at_every_instant_is_left_to_evaluate(tmp_path: Path) -> None:
    """`days since` makes the timeline every instant of SPEC §7: the fused function gives
    such a lead back, and the whole lead (FastDecoder.whole) is decided by evaluate."""
    policy = tmp_path / "since.mql"
    policy.write_text(
        WHERE.replace("mql when fit >= 20 and intent >= 15", "mql when days since download < 7")
    )
    model = check_file(policy).model
    assert model is not None
    day = 86400.0
    journeys = [
        {"id": "a", "events": [{"type": "download", "at": format_instant(AS_OF - 5 * day)}]},
        {"id": "b", "events": [{"type": "download", "at": format_instant(AS_OF - 9 * day)}]},
    ]
    path = tmp_path / "journeys.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(j) for j in journeys))
    evaluator = Evaluator(model)
    fused, served = _both(model, path, evaluator)
    assert served == 0
    assert fused == _plain(model, path, evaluator)
    assert [orjson.loads(line)["stage"] for line in fused] == ["mql", "lead"]


DAYS_SINCE_DECAY = """policy "since"
lead { size: int }
event view
score s decay 10% every 1 minute {
  +5 per view
}
score r = days since view
stages {
  visitor
  hot when r < 3
}
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_lead_left_to_evaluate_past_the_limit_of_instants_is_rejected_alone(
    tmp_path: Path, jobs: str
) -> None:
    """A lead the fused function gives back (`days since`) whose timeline is past the limit
    of instants (minute decay steps since July) is rejected at its line (E900), in one
    process and in a worker alike, and the other leads are decided (found by a review: a
    worker let the error stop the run)."""
    policy = tmp_path / "since.mql"
    policy.write_text(DAYS_SINCE_DECAY)
    path = tmp_path / "j.jsonl"
    path.write_text(
        '{"id": "old", "events": [{"type": "view", "at": "2026-07-01T00:00:00Z"}]}\n'
        '{"id": "new", "events": [{"type": "view", "at": "2026-10-31T00:00:00Z"}]}\n'
        '{"id": "none"}\n'
    )
    code, out, err = run(
        "score", str(policy), str(path), "--as-of", "2026-11-01T00:00:00Z", "--jobs", jobs
    )
    assert code == 1, err
    assert [orjson.loads(line)["id"] for line in out.splitlines()] == ["new", "none"]
    assert [orjson.loads(line)["stage"] for line in out.splitlines()] == ["hot", "visitor"]
    assert f"{path}:1: error[E900]: lead `old`" in err
    assert err.splitlines()[-1] == "3 read, 2 used, 1 rejected"
