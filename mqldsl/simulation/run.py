"""Run a policy over leads: decide every lead (in Python, across processes,
or in DuckDB), replay sales on the handoffs of a scenario, and measure the
funnel (:mod:`mqldsl.simulation.metrics`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, overload

import msgspec

from mqldsl.analysis.bound import bind
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.parallel import can_fork, ordered_map, produce_and_map
from mqldsl.engine.runtime import Event, Lead, TimelineTooLong, to_seconds
from mqldsl.io.errors import InputProblem
from mqldsl.simulation.metrics import report
from mqldsl.simulation.records import LeadRecord, TouchRequest, record_of
from mqldsl.simulation.results import SimulationReport
from mqldsl.simulation.sales import acceptance_event, replay_sales
from mqldsl.simulation.scenario import Scenario

if TYPE_CHECKING:
    from mqldsl.warehouse.engine import DuckDBEngine


def evaluate_all(
    model: CheckedPolicy,
    params: dict[str, Any],
    leads: Iterable[Lead],
    as_of: float,
    mql_stage: str,
    explain_ids: set[str] | None = None,
    sql_stage: str | None = None,
    progress: Callable[[int], None] | None = None,
    segment_field: str | None = None,
    evaluator: Evaluator | None = None,
) -> tuple[list[LeadRecord], dict[str, Any]]:
    """Records per lead; the evaluation results of the leads in ``explain_ids``.
    ``progress`` is called with the number of leads done, now and then. ``evaluator``:
    the policy compiled with ``params`` already (compiled here when None)."""
    model = bind(model, params)  # the routes' SLAs as run (SPEC §5.2)
    if evaluator is None:
        evaluator = Evaluator(model, params)
    names = model.stage_names
    mql_index = names.index(mql_stage)
    sql_index = names.index(sql_stage) if sql_stage in names else None
    records: list[LeadRecord] = []
    kept: dict[str, Any] = {}
    for done, lead in enumerate(leads, start=1):
        if progress is not None and done % 500 == 0:
            progress(500)
        result = evaluator.run(
            lead, as_of, explain=explain_ids is not None and lead.id in explain_ids
        )
        if explain_ids is not None and lead.id in explain_ids:
            kept[lead.id] = (lead, result)
        record = record_of(model, lead, result, mql_index, sql_index, segment_field)
        records.append(with_mql_scores(evaluator, lead, record))
    return records, kept


def with_mql_scores(evaluator: Evaluator, lead: Lead, record: LeadRecord) -> LeadRecord:
    """The record with the lead's scores at its handoff (the first instant
    it reached the MQL stage or a later one): those of a decision as of that
    instant, which sees exactly the events and windows up to it
    (:meth:`Evaluator.scores_at <mqldsl.engine.evaluator.Evaluator.scores_at>`)."""
    if record.handoff is None:
        return record
    return replace(record, mql_scores=evaluator.scores_at(lead, record.handoff))


def evaluate_sql(
    model: CheckedPolicy,
    params: dict[str, Any],
    leads: Sequence[Lead],
    as_of: float,
    mql_stage: str,
    sql_stage: str | None = None,
    segment_field: str | None = None,
    memory_limit: str | None = None,
    loaded: DuckDBEngine | None = None,
) -> list[LeadRecord]:
    """evaluate_all on the SQL back end: the leads are loaded into an embedded
    DuckDB and decided by the compiled query (`--engine duckdb`). ``loaded``
    is an engine that already holds exactly ``leads`` (a sweep loads them once
    for all its runs)."""
    from mqldsl.warehouse.engine import DuckDBEngine

    model = bind(model, params)  # the routes' SLAs as run (SPEC §5.2)
    names = model.stage_names
    mql_index = names.index(mql_stage)
    sql_index = names.index(sql_stage) if sql_stage in names else None
    with contextlib.ExitStack() as stack:
        engine = loaded
        if engine is None:
            engine = stack.enter_context(DuckDBEngine(model, memory_limit=memory_limit))
            engine.load_leads(iter(leads))
        decided = engine.decide(as_of, params, first_entries=True)
        evaluator = Evaluator(model, params)  # the scores at each handoff
        return [
            with_mql_scores(
                evaluator,
                lead,
                record_of(model, lead, item, mql_index, sql_index, segment_field),
            )
            for lead, item in zip(leads, decided, strict=True)
        ]


@dataclass(frozen=True)
class _Job:
    model: CheckedPolicy
    params: dict[str, Any]
    leads: Sequence[Lead]
    as_of: float
    mql_stage: str
    sql_stage: str | None


def _job(job: _Job) -> _Job:
    return job  # forked workers inherit the job: the leads are not copied in


def _evaluate_chunk(job: _Job, bounds: tuple[int, int]) -> list[LeadRecord]:
    records, _ = evaluate_all(
        job.model,
        job.params,
        job.leads[bounds[0] : bounds[1]],
        job.as_of,
        job.mql_stage,
        None,
        job.sql_stage,
    )
    return records


def evaluate_parallel(
    model: CheckedPolicy,
    params: dict[str, Any],
    leads: Sequence[Lead],
    as_of: float,
    mql_stage: str,
    sql_stage: str | None,
    jobs: int,
) -> list[LeadRecord]:
    """evaluate_all across ``jobs`` processes (forked, so the leads are not
    copied in; sequential where processes cannot fork, and for fewer than
    2,000 leads); the records come back in input order."""
    count = len(leads)
    if jobs <= 1 or count < 2000 or not can_fork():
        return evaluate_all(model, params, leads, as_of, mql_stage, None, sql_stage)[0]
    job = _Job(model, params, leads, as_of, mql_stage, sql_stage)
    size = max(500, -(-count // (jobs * 4)))
    bounds = [(i, min(i + size, count)) for i in range(0, count, size)]
    parts = ordered_map(_evaluate_chunk, bounds, jobs, _job, (job,))
    return [record for part in parts for record in part]


#: Leads a forked process decides at a time while the next are generated.
_GENERATED_CHUNK = 5_000


class MadeLeads(Sequence[Lead]):
    """Leads kept as the journeys they are made from (``make``, deterministic): each made
    again when it is read, so that a run holds its journeys but never all their leads.
    :meth:`lead_of` finds one by id."""

    def __init__(self, journeys: list[dict[str, Any]], make: Callable[[dict[str, Any]], Lead]):
        self._journeys = journeys
        self._make = make
        self._where: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self._journeys)

    @overload
    def __getitem__(self, index: int) -> Lead: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Lead]: ...
    def __getitem__(self, index: int | slice) -> Lead | Sequence[Lead]:
        if isinstance(index, slice):
            return [self._make(journey) for journey in self._journeys[index]]
        return self._make(self._journeys[index])

    def lead_of(self, lead_id: str) -> Lead:
        if self._where is None:
            self._where = {journey["id"]: n for n, journey in enumerate(self._journeys)}
        return self[self._where[lead_id]]


def lead_finder(leads: Sequence[Lead]) -> Callable[[str], Lead]:
    """The lead of an id among ``leads``."""
    if isinstance(leads, MadeLeads):
        return leads.lead_of
    return {lead.id: lead for lead in leads}.__getitem__


def decide_generated(
    model: CheckedPolicy,
    journeys: Iterable[dict[str, Any]],
    make: Callable[[dict[str, Any]], Lead],
    spec: RunSpec,
    progress: Callable[[int], None] | None = None,
) -> tuple[MadeLeads, list[LeadRecord]]:
    """The leads of a generator's ``journeys`` (consumed here, in this process; ``make``
    makes each journey's lead) and their records as :func:`evaluate_all` gives them, made
    and decided by up to ``spec.jobs`` forked processes while this one generates the next
    journeys (:func:`produce_and_map`), for :func:`run_policy`'s ``decided``. A lead too long
    to evaluate stops the run (E900)."""
    params = dict(spec.params)
    evaluator = Evaluator(bind(model, params), params)  # compiled once, inherited

    def work(chunk: Sequence[dict[str, Any]]) -> list[LeadRecord]:
        return evaluate_all(
            model,
            params,
            map(make, chunk),
            spec.as_of,
            spec.mql_stage,
            None,
            spec.sql_stage,
            evaluator=evaluator,
        )[0]

    try:
        made, records = produce_and_map(journeys, work, spec.jobs, _GENERATED_CHUNK, progress)
    except TimelineTooLong as exc:
        raise InputProblem([f"error[E900]: {exc.message}"]) from None
    return MadeLeads(made, make), records


# ---------------------------------------------------------------- one run


@dataclass(frozen=True)
class RunSpec:
    """Everything one run of one policy needs besides the leads: the params
    it runs with (overrides; the policy's values fill the rest), the as-of
    instant, the MQL and SQL stages, the scenario whose sales to replay
    (None for real journeys) with its seed, how many records were rejected
    on reading, the segment field of the backtest, and how to decide the
    leads (``engine`` "python" or "duckdb"; ``jobs`` processes;
    ``memory_limit`` for DuckDB)."""

    params: Mapping[str, Any]
    as_of: float
    mql_stage: str = "mql"
    sql_stage: str | None = None
    scenario: Scenario | None = None
    seed: int = 1
    rejected: int = 0
    segment_field: str | None = None
    engine: str = "python"
    jobs: int = 1
    memory_limit: str | None = None


@dataclass
class Run:
    """One policy over one set of journeys: the report, a record per lead
    that existed at the as-of instant (in input order) and the evaluation
    results of the explained leads (lead id to (lead, result))."""

    report: SimulationReport
    records: list[LeadRecord]
    kept: dict[str, Any] = field(default_factory=dict)
    # The leads the sales replay accepted into the policy's SQL stage: lead id to the instant
    # of the acceptance event it was given (its first touch); see :func:`explain_as_run`.
    accepted: dict[str, float] = field(default_factory=dict)


def _decide(
    model: CheckedPolicy,
    leads: Sequence[Lead],
    spec: RunSpec,
    explain_ids: set[str] | None,
    progress: Callable[[int], None] | None,
    loaded: DuckDBEngine | None,
) -> tuple[list[LeadRecord], dict[str, Any]]:
    """The records of ``leads`` on the engine ``spec`` names (run_policy's first step)."""
    params = dict(spec.params)
    as_of, mql_stage, sql_stage = spec.as_of, spec.mql_stage, spec.sql_stage
    kept: dict[str, Any] = {}
    if spec.engine == "duckdb" and explain_ids is None:
        records = evaluate_sql(
            model,
            params,
            leads,
            as_of,
            mql_stage,
            sql_stage,
            spec.segment_field,
            spec.memory_limit,
            loaded,
        )
        if progress is not None:
            progress(len(leads))
    elif spec.jobs > 1 and explain_ids is None and spec.segment_field is None:
        records = evaluate_parallel(model, params, leads, as_of, mql_stage, sql_stage, spec.jobs)
    else:
        records, kept = evaluate_all(
            model,
            params,
            leads,
            as_of,
            mql_stage,
            explain_ids,
            sql_stage,
            progress,
            spec.segment_field,
        )
    return records, kept


def run_policy(
    model: CheckedPolicy,
    leads: Sequence[Lead],
    spec: RunSpec,
    *,
    explain_ids: set[str] | None = None,
    progress: Callable[[int], None] | None = None,
    loaded: DuckDBEngine | None = None,
    decided: list[LeadRecord] | None = None,
) -> Run:
    """Decide ``leads`` as ``spec`` says and measure the funnel.

    The leads in ``explain_ids`` are evaluated with explanations (always in
    Python), kept in :attr:`Run.kept`. ``progress`` is called with the
    number of leads done, now and then. ``loaded`` is a DuckDB engine that
    already holds exactly ``leads`` (a sweep loads them once for all runs).
    ``decided`` are the records of ``leads`` decided already, as ``evaluate_all``
    gives them (:func:`~mqldsl.simulation.reuse.decide_variants`): the run
    starts from them.
    """
    params = dict(spec.params)
    model = bind(model, params)  # a duration param's length as run (SPEC §5.2)
    as_of = spec.as_of
    try:
        kept: dict[str, Any] = {}
        if decided is not None:
            records = list(decided)
        else:
            records, kept = _decide(model, leads, spec, explain_ids, progress, loaded)
    except TimelineTooLong as exc:  # a lead too long to evaluate stops the run, naming it
        raise InputProblem([f"error[E900]: {exc.message}"]) from None
    # No time travel (SPEC §14.1): a lead that did not exist yet at the as-of
    # instant (created, or first seen, after it) is left out of every figure.
    arrived = [r for r in records if r.known_from is None or r.known_from <= as_of]
    later = len(records) - len(arrived)
    records = arrived
    capacity = None
    accepted: dict[str, float] = {}
    scenario = spec.scenario
    if scenario is not None:
        start = to_seconds(dt.datetime.combine(scenario.start, dt.time(), tzinfo=dt.UTC))
        records, capacity, sales, accepted = replay_and_accept(
            model, params, leads, records, spec, start, kept, explain_ids
        )
    values = {name: info.value for name, info in model.params.items()} | params
    data = report(
        model, records, as_of, spec.rejected, capacity, scenario is not None, values, later
    )
    if scenario is not None:
        data = replace(data, sales=sales)
    return Run(data, records, kept, accepted)


def explain_as_run(
    model: CheckedPolicy, leads: Sequence[Lead], spec: RunSpec, accepted: Mapping[str, float]
) -> dict[str, tuple[Lead, Any]]:
    """``leads`` decided again with explanations, each as the run whose ``accepted`` these
    are left it: a lead the sales replay accepted has the acceptance event at its first
    touch (:func:`replay_and_accept`), so its explanation is of the stage the run's
    records give it (a replay of these leads alone would touch them at other times)."""
    params = dict(spec.params)
    model = bind(model, params)
    evaluator = Evaluator(model, params)
    event, _ = acceptance_event(model, spec.sql_stage)
    kept: dict[str, tuple[Lead, Any]] = {}
    for lead in leads:
        touch = accepted.get(lead.id)
        if event is not None and touch is not None:
            lead = with_acceptance(lead, event, touch)
        kept[lead.id] = (lead, evaluator.run(lead, spec.as_of, explain=True))
    return kept


def with_acceptance(lead: Lead, event: str, touch: float) -> Lead:
    """``lead`` with an ``event`` (sales' acceptance, without fields) at ``touch``."""
    events = sorted(
        [*lead.events, Event(at=touch, type=event, fields={}, index=len(lead.events))],
        key=lambda e: e.at,
    )
    return msgspec.structs.replace(lead, events=tuple(events))


class _Acceptance:
    """The sales replay's ``accept`` (:data:`~mqldsl.simulation.sales.Accept`): when the
    policy's SQL stage is entered by one event (:func:`~mqldsl.simulation.sales.acceptance_event`),
    a lead accepted at its first touch gets that event then and is decided again (in Python;
    explained leads with their explanation), so the replay goes on with the requests for a
    touch the lead then makes (entering the SQL stage is one). The results are kept
    (``results``: lead id to the moved lead and its result) for :func:`accept_into_sql_stage`."""

    def __init__(
        self,
        model: CheckedPolicy,
        params: dict[str, Any],
        leads: Sequence[Lead],
        records: Sequence[LeadRecord],
        spec: RunSpec,
        explain_ids: set[str] | None,
    ) -> None:
        self.model = model = bind(model, params)
        self.params = params
        self.event, self.note = acceptance_event(model, spec.sql_stage)
        self.lead_of = lead_finder(leads)
        self.records = records
        self.spec = spec
        self.explain_ids = explain_ids
        names = model.stage_names
        self.mql_index = names.index(spec.mql_stage)
        self.sql_index = names.index(spec.sql_stage) if spec.sql_stage in names else None
        self.results: dict[str, tuple[Lead, Any]] = {}

    @functools.cached_property
    def evaluator(self) -> Evaluator:
        return Evaluator(self.model, self.params)  # compiled only when a lead is accepted

    def rerun(self, lead: Lead, touch: float) -> tuple[Lead, Any]:
        """The lead with the acceptance event at ``touch``, decided again (kept)."""
        assert self.event is not None
        moved = with_acceptance(lead, self.event, touch)
        explain = self.explain_ids is not None and lead.id in self.explain_ids
        self.results[lead.id] = (moved, self.evaluator.run(moved, self.spec.as_of, explain))
        return self.results[lead.id]

    def __call__(self, index: int, touch: float) -> list[TouchRequest] | None:
        if self.event is None or self.sql_index is None:
            return None
        moved, result = self.rerun(self.lead_of(self.records[index].id), touch)
        record = record_of(
            self.model, moved, result, self.mql_index, self.sql_index, self.spec.segment_field
        )
        return record.touch_requests()


def replay_and_accept(
    model: CheckedPolicy,
    params: dict[str, Any],
    leads: Sequence[Lead],
    records: list[LeadRecord],
    spec: RunSpec,
    start: float,
    kept: dict[str, Any],
    explain_ids: set[str] | None = None,
) -> tuple[list[LeadRecord], dict[str, float], dict[str, Any], dict[str, float]]:
    """The sales replay of ``spec``'s scenario from ``start``, with the accepted leads moved
    into the policy's SQL stage as they are accepted (:class:`_Acceptance`), then
    :func:`accept_into_sql_stage`: the records, the replay's slot and touch counts, the
    report's ``sales`` entry, and the leads moved (id to the acceptance event's instant;
    none when the policy's SQL stage is not entered by one event)."""
    assert spec.scenario is not None
    accept = _Acceptance(model, params, leads, records, spec, explain_ids)
    replayed, capacity = replay_sales(
        records, spec.scenario.sales, start, spec.as_of, spec.seed, accept, sdr_queues(model, spec)
    )
    done, entry = accept_into_sql_stage(
        model, params, leads, replayed, spec, kept, explain_ids, accept
    )
    moved = (
        {r.id: r.touch for r in replayed if r.sql and r.touch is not None}
        if entry["acceptance_event"] is not None and spec.sql_stage is not None
        else {}
    )
    return done, capacity, entry, moved


def sdr_queues(model: CheckedPolicy, spec: RunSpec) -> frozenset[str] | None:
    """The SDRs' queues, whose utilisation a report gives: those of the routes of the stages
    before the SQL stage (the SQL stage's queue and later ones are the account executives');
    None (every queue) for a policy without an SQL stage."""
    names = model.stage_names
    if spec.sql_stage is None or spec.sql_stage not in names:
        return None
    limit = names.index(spec.sql_stage)
    return frozenset(
        route.queue
        for route in model.routes
        if route.stage in names and names.index(route.stage) < limit
    )


def accept_into_sql_stage(
    model: CheckedPolicy,
    params: dict[str, Any],
    leads: Sequence[Lead],
    records: list[LeadRecord],
    spec: RunSpec,
    kept: dict[str, Any],
    explain_ids: set[str] | None = None,
    acceptance: _Acceptance | None = None,
) -> tuple[list[LeadRecord], dict[str, Any]]:
    """After the sales replay: when the policy's SQL stage is entered by one
    event (:func:`~mqldsl.simulation.sales.acceptance_event`), each accepted
    lead gets that event at its first touch and is decided again (in
    Python), so the policy moves it into the stage; every record's ``sql``
    is then whether the lead reached the SQL stage, and the report's SQLs
    and stage counts agree. Explained leads are explained again. ``acceptance``: the
    replay's :class:`_Acceptance`, whose leads are decided so already. Returns
    the records and the report's ``sales`` entry."""
    model = bind(model, params)
    event, note = acceptance_event(model, spec.sql_stage)
    accepted = {r.id: index for index, r in enumerate(records) if r.sql}
    entry: dict[str, Any] = {
        "accepted": len(accepted),
        "sql_stage": spec.sql_stage,
        "acceptance_event": event,
        "note": note,
        "left_sql_stage": None,
    }
    if event is None or spec.sql_stage is None:
        return records, entry
    names = model.stage_names
    mql_index = names.index(spec.mql_stage)
    sql_index = names.index(spec.sql_stage)
    if acceptance is None:
        acceptance = _Acceptance(model, params, leads, records, spec, explain_ids)
    updated = list(records)
    for index in accepted.values():  # (in the leads' order, as the records are)
        lead = acceptance.lead_of(records[index].id)
        old = records[index]
        assert old.touch is not None
        explain = explain_ids is not None and lead.id in explain_ids
        found = acceptance.results.get(lead.id)
        moved, result = found if found is not None else acceptance.rerun(lead, old.touch)
        if explain:
            kept[lead.id] = (moved, result)
        new = record_of(model, moved, result, mql_index, sql_index, spec.segment_field)
        updated[index] = replace(
            new,
            touch=old.touch,
            first_event=old.first_event,
            mql_scores=old.mql_scores,
            requests=old.requests,  # the requests the replay touched
        )
    updated = [
        r if r.sql == bool(r.reached_sql) else replace(r, sql=bool(r.reached_sql)) for r in updated
    ]
    left = sum(
        1 for r in updated if r.sql and (r.stage not in names or names.index(r.stage) < sql_index)
    )
    if left:
        entry["note"] = (
            f"{note}; {left} of them {'have' if left != 1 else 'has'} left `{spec.sql_stage}` "
            "since (disqualified or moved back), so the stage count is lower"
        )
    entry["left_sql_stage"] = left
    return updated, entry


__all__ = [
    "LeadRecord",
    "MadeLeads",
    "Run",
    "RunSpec",
    "accept_into_sql_stage",
    "decide_generated",
    "evaluate_all",
    "evaluate_parallel",
    "evaluate_sql",
    "explain_as_run",
    "replay_and_accept",
    "run_policy",
    "with_mql_scores",
]
