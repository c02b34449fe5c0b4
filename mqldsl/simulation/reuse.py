"""Runs that share their scores: the variants of one `sweep` (a policy with
different param values) and the two sides of a `whatif` decide every lead
with the compiled evaluator's own code, each lead's score timeline computed
once for all of them (:class:`~mqldsl.engine.timelines.MemoEvaluator`, the
machinery of `tune`'s cache).

Why it equals a run per variant (``evaluate_all``): the evaluation of a lead
asks for the scores at pairs ``(t, start)`` (an instant, and the instant the
lead's timeline last restarted, recycling); by the language (SPEC §7) the
scores there are a function of the lead's events and profile, the score
definitions and the values of the params they read, and nothing else: not
the as-of instant (events after ``t`` are not seen at ``t``), not the
stage conditions, disqualifiers, recycle rules or routes. So when two
variants have the same :func:`score_signature`, a memo ``{(t, start):
scores}`` filled by one serves the other, whichever instants each driver
visits (each reads its own keys; a key it shares holds the same values).
Recycling is no exception: the key holds ``start``.

Memory stays bounded: leads are the outer loop and the memo of a lead is
dropped once every variant has decided it; the records of all the variants
are held at once, so callers give at most :data:`RECORDS_AT_ONCE` records'
worth of variants per call (:func:`variants_per_call`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mqldsl.analysis.bound import bind
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import lead_scores
from mqldsl.engine.parallel import can_fork, ordered_map
from mqldsl.engine.runtime import Lead, TimelineTooLong
from mqldsl.engine.timelines import MemoEvaluator
from mqldsl.io.errors import InputProblem
from mqldsl.language import ast
from mqldsl.language.printer import format_policy
from mqldsl.simulation.records import LeadRecord, record_of
from mqldsl.simulation.tune_cache import DecisionCache

#: How many lead records a reusing run holds at once (leads x variants): the
#: variants of a long sweep over many leads are decided in groups this size.
RECORDS_AT_ONCE = 500_000

Variant = tuple[CheckedPolicy, Mapping[str, Any]]

NEG = -math.inf
_SCHEMA = (ast.LeadBlock, ast.AccountBlock, ast.EventDecl)


def _params_read(model: CheckedPolicy, node: object, found: set[str]) -> None:
    """The params named anywhere under ``node`` (a score: its rules, patterns,
    formula, range and decay), into ``found``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Name):
            ref = model.refs.get(id(item))
            if ref is not None and ref.kind == "param":
                found.add(ref.name)
        elif isinstance(item, ast.Duration) and item.param is not None:
            found.add(item.param)  # a window or decay period (SPEC §5.2)
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, tuple | list):
            stack.extend(item)


def score_params(model: CheckedPolicy) -> set[str]:
    """The params the scores of ``model`` read (in a rule, pattern, formula,
    range or decay)."""
    read: set[str] = set()
    for info in model.scores.values():
        _params_read(model, info.node, read)
    return read


def score_signature(model: CheckedPolicy, params: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a lead's scores at an instant depend on besides the lead: the
    lead, account and event declarations and the score blocks as `fmt`
    prints them (comments left out), the order scores are computed in, and
    the values (``params`` over the declared ones) of the params the scores
    read. Two variants with equal signatures give equal scores at every
    ``(t, start)`` of every lead."""
    items = [item for item in model.policy.items if isinstance(item, (*_SCHEMA, ast.Score))]
    text = format_policy(ast.Policy(items=tuple(items)))
    read = score_params(model)
    values = tuple(
        (name, repr(params[name] if name in params else model.params[name].value))
        for name in sorted(read)
    )
    return text, model.score_order, values


def share_scores(variants: Sequence[Variant]) -> bool:
    """Whether all ``variants`` have the same :func:`score_signature`."""
    signatures = {score_signature(model, params) for model, params in variants}
    return len(signatures) == 1


def variants_per_call(leads: int) -> int:
    """How many variants one :func:`decide_variants` call may take for
    ``leads`` leads (at least 2, so that reuse is worth it)."""
    return max(2, RECORDS_AT_ONCE // max(1, leads))


@dataclass(frozen=True)
class _Job:
    variants: Sequence[Variant]
    leads: Sequence[Lead]
    as_of: float
    mql_stage: str
    sql_stage: str | None
    handoff_scores: bool


class _Deciders:
    """A :class:`MemoEvaluator` per variant, with its stage indices."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.parts = []
        for unbound, params in job.variants:
            model = bind(unbound, params)  # the routes' SLAs as run (SPEC §5.2)
            names = model.stage_names
            sql_index = names.index(job.sql_stage) if job.sql_stage in names else None
            self.parts.append(
                (model, MemoEvaluator(model, params), names.index(job.mql_stage), sql_index)
            )

    @staticmethod
    def _at_handoff(
        model: CheckedPolicy,
        evaluator: MemoEvaluator,
        lead: Lead,
        record: LeadRecord,
        memo: dict[tuple[float, float], tuple[Any, ...]],
    ) -> tuple[Any, ...]:
        """The scores of ``record`` at its handoff (declaration order), as
        :func:`~mqldsl.simulation.run.with_mql_scores` finds them by deciding
        the lead again as of the handoff: those are the scores at
        ``(handoff, start)``, ``start`` where the timeline last restarted by
        then. A policy that never recycles never restarts (``start`` is minus
        infinity): they are read from the memo; else the lead is decided
        again as of the handoff, its scores from the memo."""
        assert record.handoff is not None
        if model.recycles:
            return tuple(evaluator.run(lead, record.handoff, memo).decision.scores.values())
        return lead_scores(model, evaluator.scores_at(record.handoff, NEG))

    def decide(self, bounds: tuple[int, int]) -> list[list[LeadRecord]]:
        """The records of the leads within ``bounds``, a list per variant."""
        job = self.job
        out: list[list[LeadRecord]] = [[] for _ in self.parts]
        for lead in job.leads[bounds[0] : bounds[1]]:
            memo: dict[tuple[float, float], tuple[Any, ...]] = {}
            for records, (model, evaluator, mql_index, sql_index) in zip(
                out, self.parts, strict=True
            ):
                result = evaluator.run(lead, job.as_of, memo)
                record = record_of(model, lead, result, mql_index, sql_index)
                if job.handoff_scores and record.handoff is not None:
                    record = dataclasses.replace(
                        record, mql_scores=self._at_handoff(model, evaluator, lead, record, memo)
                    )
                records.append(record)
        return out


def _setup(job: _Job) -> _Deciders:
    return _Deciders(job)


def _decide_chunk(deciders: _Deciders, bounds: tuple[int, int]) -> list[list[LeadRecord]]:
    return deciders.decide(bounds)


def decide_variants(
    variants: Sequence[Variant],
    leads: Sequence[Lead],
    as_of: float,
    mql_stage: str,
    sql_stage: str | None,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    handoff_scores: bool = True,
) -> list[list[LeadRecord]]:
    """For each variant (a checked policy and the params it runs with; all
    with the same :func:`score_signature`), the records ``evaluate_all``
    gives for ``leads`` (in input order), the scores of each lead computed
    once. Across ``jobs`` processes as ``evaluate_parallel`` (forked,
    sequential for fewer than 2,000 leads). ``progress`` is called with the
    number of lead-evaluations done, now and then. A lead whose timeline is
    too long (E900) stops the run with :class:`InputProblem`. Without
    ``handoff_scores`` the records' ``mql_scores`` (the scores at the
    handoff, which only the score distributions read) are left empty."""
    job = _Job(variants, leads, as_of, mql_stage, sql_stage, handoff_scores)
    count = len(leads)
    if jobs <= 1 or count < 2000 or not can_fork():
        size = 500
        bounds = [(i, min(i + size, count)) for i in range(0, count, size)]
        deciders = _Deciders(job)
        parts: Any = (deciders.decide(b) for b in bounds)
    else:
        size = max(500, -(-count // (jobs * 4)))
        bounds = [(i, min(i + size, count)) for i in range(0, count, size)]
        parts = ordered_map(_decide_chunk, bounds, jobs, _setup, (job,))
    out: list[list[LeadRecord]] = [[] for _ in variants]
    try:
        for part, (low, high) in zip(parts, bounds, strict=True):
            for records, chunk in zip(out, part, strict=True):
                records.extend(chunk)
            if progress is not None:
                progress((high - low) * len(variants))
    except TimelineTooLong as exc:  # as run_policy: the lead too long to evaluate stops the run
        raise InputProblem([f"error[E900]: {exc.message}"]) from None
    return out


# ---------------------------------------------------------------- many values: tune's cache

#: From how many variants a sweep re-thresholds with `tune`'s decision cache
#: (:class:`~mqldsl.simulation.tune_cache.DecisionCache`) rather than deciding
#: every lead per variant: its set-up costs about two runs, and a variant
#: then only re-evaluates the conditions that mention a swept param.
CACHE_FROM = 8
_CACHE_LEADS = 2000  # leads per decision cache: its per-lead timelines stay bounded


@dataclass(frozen=True)
class _CacheJob:
    model: CheckedPolicy
    base: Mapping[str, Any]
    candidates: Sequence[Mapping[str, Any]]
    leads: Sequence[Lead]
    as_of: float
    mql_stage: str
    sql_stage: str | None


def _cache_job(job: _CacheJob) -> _CacheJob:
    return job  # forked workers inherit the job: the leads are not copied in


def _cache_chunk(job: _CacheJob, bounds: tuple[int, int]) -> list[list[LeadRecord]]:
    tuned = sorted({name for candidate in job.candidates for name in candidate})
    cache = DecisionCache(
        job.model,
        job.leads[bounds[0] : bounds[1]],
        job.base,
        tuned,
        job.as_of,
        job.mql_stage,
        job.sql_stage,
    )
    assert cache.reason is None, cache.reason
    return [cache.records(candidate) for candidate in job.candidates]


def decide_by_cache(
    model: CheckedPolicy,
    base: Mapping[str, Any],
    candidates: Sequence[Mapping[str, Any]],
    leads: Sequence[Lead],
    as_of: float,
    mql_stage: str,
    sql_stage: str | None,
    jobs: int = 1,
) -> list[list[LeadRecord]]:
    """For each candidate (values of params that no score reads, over
    ``base``), the records ``evaluate_all`` gives for ``leads``, but with
    ``mql_scores`` left empty: from `tune`'s decision cache, built over
    :data:`_CACHE_LEADS` leads at a time (across ``jobs`` processes). Only
    for a policy that never recycles."""
    job = _CacheJob(model, base, candidates, leads, as_of, mql_stage, sql_stage)
    count = len(leads)
    bounds = [(i, min(i + _CACHE_LEADS, count)) for i in range(0, count, _CACHE_LEADS)]
    if jobs <= 1 or count < 2000 or not can_fork():
        parts: Any = (_cache_chunk(job, b) for b in bounds)
    else:
        size = max(500, min(_CACHE_LEADS, -(-count // (jobs * 4))))
        bounds = [(i, min(i + size, count)) for i in range(0, count, size)]
        parts = ordered_map(_cache_chunk, bounds, jobs, _cache_job, (job,))
    out: list[list[LeadRecord]] = [[] for _ in candidates]
    try:
        for part in parts:
            for records, chunk in zip(out, part, strict=True):
                records.extend(chunk)
    except TimelineTooLong as exc:
        raise InputProblem([f"error[E900]: {exc.message}"]) from None
    return out


__all__ = [
    "CACHE_FROM",
    "RECORDS_AT_ONCE",
    "Variant",
    "decide_by_cache",
    "decide_variants",
    "score_params",
    "score_signature",
    "share_scores",
    "variants_per_call",
]
