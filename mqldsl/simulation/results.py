"""Typed results of `simulate`, `whatif` and `sweep` (docs/reports.md).

Each report has one :meth:`to_json` giving the JSON document the report
files hold and the renderers (:mod:`mqldsl.render.reports`) read; the keys
come out in the documented order, so the files are byte-stable. The
funnel metrics, score distributions and backtest stay plain JSON mappings
(their keys are listed in :data:`mqldsl.simulation.metrics.DEFINITIONS`).
A report's ``notes`` (the records rejected on reading the journeys) are
for the person running it and stay out of the JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mqldsl.analysis.durations import plain

if TYPE_CHECKING:
    from mqldsl.engine.explain import Explanation

Json = dict[str, Any]
# What a report shows of a sample lead's explanation under one policy, given the stage the
# other policy puts it in (the render layer's sample_outline, as JSON: simulation.whatif).
Describe = Callable[["Explanation", str], list[Json]]


@dataclass(frozen=True)
class PolicySummary:
    """The policy a report is about, with every param's value in the run."""

    title: str
    version: Any  # the version as written (a number node), or None
    file: str
    params: dict[str, Any]
    sha256: str = ""  # the hash decisions name (SPEC §12)

    def to_json(self) -> Json:
        return {
            "title": self.title,
            "version": self.version,
            "sha256": self.sha256,
            "file": self.file,
            "params": self.params,
        }


def named_policy(title: str, file: str, version: Any, sha256: str) -> Json:
    """A report's `policy`: which policy ran, as its decisions name it (SPEC §12, §14.1)."""
    return {"title": title, "file": file, "version": version, "sha256": sha256}


@dataclass(frozen=True)
class SimulationReport:
    """One policy over one set of journeys: stage counts, funnel metrics,
    score distributions (at the as-of instant and at each MQL's handoff),
    SLA compliance per queue (``sla``) and, over real journeys with known outcomes, the
    backtest; what the as-of instant and the data's times allow
    (``timing``) and, for a scenario, how the sales replay met the policy's
    SQL stage (``sales``)."""

    policy: PolicySummary
    as_of: str
    leads: int
    rejected: int
    stages: dict[str, int]
    disqualified: dict[str, int]
    metrics: Json
    definitions: dict[str, str]
    score_distributions: Json
    backtest: Json | None
    # leads left out as not yet arrived, outcomes dated after the as-of,
    # whether the data has real event times (docs/reports.md)
    timing: Json = field(default_factory=dict)
    sales: Json | None = None  # the sales replay and the SQL stage (scenarios)
    sla: Json = field(default_factory=dict)  # SLA compliance per route queue
    notes: tuple[str, ...] = field(default=(), compare=False)  # rejected records, not in JSON
    # With accounts (SPEC §9): the MQAs' entry points; None (the key left out) without.
    accounts: Json | None = None
    # Where the leads came from (SPEC §14.1): {scenario, seed} or {journeys}; None (the key
    # left out) for a report made without a source (a what-if's sides carry theirs in `data`)
    source: Json | None = None

    def to_json(self) -> Json:
        return {
            "policy": self.policy.to_json(),
            **({} if self.source is None else {"source": self.source}),
            "as_of": self.as_of,
            "leads": self.leads,
            "rejected": self.rejected,
            "stages": self.stages,
            "disqualified": self.disqualified,
            "metrics": self.metrics,
            "definitions": self.definitions,
            "score_distributions": self.score_distributions,
            "sla": self.sla,
            "backtest": self.backtest,
            "timing": self.timing,
            "sales": self.sales,
        } | ({"accounts": self.accounts} if self.accounts is not None else {})


@dataclass(frozen=True)
class MetricDelta:
    """One metric under both policies: the change, in points and percent of
    the base, and its 95% interval (None when there are too few samples).

    Over journeys, ``base`` and ``proposed`` are the metric on the whole
    data and ``ci95`` a paired bootstrap percentile interval of the change.
    Over a scenario, they are means over the replications, ``ci95`` the
    confidence interval of the mean change and ``pi95`` the prediction
    interval: the change one more replication (one quarter) would show."""

    base: float | None
    proposed: float | None
    diff: float | None
    diff_pct: float | None
    ci95: list[float] | None
    pi95: list[float] | None = None

    def to_json(self) -> Json:
        return {
            "base": self.base,
            "proposed": self.proposed,
            "diff": self.diff,
            "diff_pct": self.diff_pct,
            "ci95": self.ci95,
            "pi95": self.pi95,
        }


@dataclass(frozen=True)
class Transition:
    """How many leads end in ``target`` under the proposed policy and in
    ``origin`` under the base."""

    origin: str
    target: str
    leads: int

    def to_json(self) -> Json:
        return {"from": self.origin, "to": self.target, "leads": self.leads}


@dataclass(frozen=True)
class Attribution:
    """A difference between the two policies (a param, rule, score option,
    stage condition, disqualifier, recycle or route) as written in each
    (None: absent), and how many of the examined moved leads it moved
    (None in the list of changes, which names every difference)."""

    what: str
    base: Any = None
    proposed: Any = None
    leads: int | None = None

    def to_json(self) -> Json:
        data = {"what": self.what, "base": self.base, "proposed": self.proposed}
        return data if self.leads is None else {**data, "leads": self.leads}


@dataclass(frozen=True)
class WhatIfData:
    """What a what-if ran over: the leads and as-of instant, the scenario
    (with its seed and replications) or the journeys file, the `--set`
    values, and how the intervals were made (``method``: "replications"
    or "bootstrap", with ``draws`` and what was resampled, "leads" or
    "accounts")."""

    leads: int
    rejected: int
    as_of: str
    scenario: str | None
    journeys: str | None
    seed: int
    replications: int | None
    method: str
    draws: int | None
    resampled: str | None
    set: dict[str, Any]
    examined: int  # moved leads examined for the attribution

    def to_json(self) -> Json:
        return {
            "leads": self.leads,
            "rejected": self.rejected,
            "as_of": self.as_of,
            "scenario": self.scenario,
            "journeys": self.journeys,
            "seed": self.seed,
            "replications": self.replications,
            "intervals": {"method": self.method, "draws": self.draws, "resampled": self.resampled},
            "set": self.set,
            "examined": self.examined,
        }


@dataclass(frozen=True)
class FailIfVerdict:
    """The `--fail-if` gate: the expression, the parts of it that held and
    the verdict ("failed" when any held, else "passed")."""

    expression: str
    held: list[str]
    # The names the expression reads that have no value here: their comparisons are unknown
    # (never hold), which the verdict says (a gate on a metric without data always passes)
    no_data: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.held)

    def to_json(self) -> Json:
        return {
            "expression": self.expression,
            "verdict": "failed" if self.held else "passed",
            "held": self.held,
            "no_data": self.no_data,
        }


@dataclass(frozen=True)
class SampleOutcome:
    """A sample lead's outcome under one policy, with its explanation."""

    stage: str
    scores: dict[str, Any]
    explanation: dict[str, Any]  # engine.explain.Explanation.to_json()
    # What the reports show of it: the sections of the explanation that say why it is at its
    # stage and not at the other policy's (render.explanation.sample_outline, as JSON).
    why: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> Json:
        return {
            "stage": self.stage,
            "scores": self.scores,
            "why": self.why,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class SampleLead:
    """A lead whose stage changed, explained under both policies."""

    id: str
    base: SampleOutcome
    proposed: SampleOutcome

    def to_json(self) -> Json:
        return {"id": self.id, "base": self.base.to_json(), "proposed": self.proposed.to_json()}


@dataclass(frozen=True)
class WhatIfReport:
    """Two policies over the same journeys, metric by metric: what changed
    between them, what they ran over, the metrics, the leads that moved and
    why, and the `--fail-if` verdict when a gate was given."""

    base: SimulationReport
    proposed: SimulationReport
    delta: dict[str, MetricDelta]
    transitions: list[Transition]
    changed_leads: int
    attribution: list[Attribution]
    samples: list[SampleLead]
    notes: tuple[str, ...] = field(default=(), compare=False)  # rejected records, not in JSON
    changes: list[Attribution] = field(default_factory=list)
    data: WhatIfData | None = None
    moved_leads: int = 0
    gate: FailIfVerdict | None = None

    def to_json(self) -> Json:
        return {
            "changes": [c.to_json() for c in self.changes],
            "data": self.data.to_json() if self.data is not None else None,
            "base": self.base.to_json(),
            "proposed": self.proposed.to_json(),
            "delta": {name: delta.to_json() for name, delta in self.delta.items()},
            "transitions": [t.to_json() for t in self.transitions],
            "changed_leads": self.changed_leads,
            "moved_leads": self.moved_leads,
            "attribution": [a.to_json() for a in self.attribution],
            "samples": [s.to_json() for s in self.samples],
            "fail_if": self.gate.to_json() if self.gate is not None else None,
        }

    def fail_if(self, expression: str) -> list[str]:
        """The parts of a `--fail-if` expression that hold (empty: the gate
        passes); :class:`~mqldsl.simulation.failif.FailIfError` for an
        expression that cannot be read."""
        from mqldsl.simulation.failif import check_fail_if

        return check_fail_if(expression, self.to_json())


@dataclass(frozen=True)
class SweepRow:
    """The main metrics for one combination of the swept params."""

    params: dict[str, Any]
    metrics: Json

    def to_json(self) -> Json:
        return {"params": plain(self.params), "metrics": self.metrics}


@dataclass(frozen=True)
class SweepReport:
    """The main metrics for every combination of the swept params."""

    title: str
    file: str
    as_of: str
    leads: int
    params: list[str]
    rows: list[SweepRow]
    # The value of each swept param in the policy as it runs today (declared or --set).
    current: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default=(), compare=False)  # rejected records, not in JSON
    rejected: int = field(default=0, compare=False)  # records rejected on reading, not in JSON
    version: Any = None  # the policy's version and sha256, as its decisions name it
    sha256: str = ""
    source: Json | None = None  # where the leads came from, as a simulation report's
    leads_after_as_of: int = 0  # leads left out: they did not exist yet (SPEC §14.1)

    def to_json(self) -> Json:
        return {
            "policy": named_policy(self.title, self.file, self.version, self.sha256),
            "source": self.source,
            "as_of": self.as_of,
            "leads": self.leads,
            "leads_after_as_of": self.leads_after_as_of,
            "params": self.params,
            "current": plain(self.current),
            "rows": [row.to_json() for row in self.rows],
        }


__all__ = [
    "Attribution",
    "FailIfVerdict",
    "MetricDelta",
    "PolicySummary",
    "SampleLead",
    "SampleOutcome",
    "SimulationReport",
    "SweepReport",
    "SweepRow",
    "Transition",
    "WhatIfData",
    "WhatIfReport",
    "named_policy",
]
