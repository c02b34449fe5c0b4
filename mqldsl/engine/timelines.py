"""A lead's scores at any instant, from the compiled evaluator: what `tune`
caches once per lead (mqldsl.simulation.tune_cache).

The generated ``evaluate`` (mqldsl.engine.codegen) prepares a lead (reads its
fields, filters its events per pattern, computes its static scores) and hands
its closures to the timeline driver, which it finds under the name
``_drive`` in its namespace (mqldsl.engine.helpers.HELPERS). Run with a
namespace whose ``_drive`` returns the ``scores`` closure instead, it gives the
very function the driver would call: ``scores(t, start)``, the scores at
instant ``t`` (events at or before ``start`` ignored), in
``model.score_order``. The same code, so the same values as a full run.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.codegen import compile_policy
from mqldsl.engine.runtime import Lead

ScoresAt = Callable[[float, float], tuple[Any, ...]]


def _capture(meta: Any, lead: Any, as_of: Any, explain: Any, scores: ScoresAt, *rest: Any) -> Any:
    return scores


def score_timelines(
    model: CheckedPolicy, params: Mapping[str, Any] | None = None
) -> Callable[[Lead, float], ScoresAt]:
    """A function of (lead, as_of) giving the lead's ``scores(t, start)``
    for instants up to ``as_of``, with ``params`` over the policy's."""
    evaluate = compile_policy(model, params).evaluate
    namespace = dict(evaluate.__globals__)
    namespace["_drive"] = _capture
    patched = types.FunctionType(evaluate.__code__, namespace, evaluate.__name__)

    def timeline(lead: Lead, as_of: float) -> ScoresAt:
        scores: ScoresAt = patched(lead, as_of, False)
        return scores

    return timeline


def _cells(functions: list[Any], names: Mapping[str, int]) -> dict[int, Any]:
    """The closure cells of the variables ``names`` (name to position) among
    the closures of ``functions`` (and of the closures they hold), by
    position; one walk for all of them."""
    found: dict[int, Any] = {}
    seen: set[int] = set()
    stack = list(functions)
    while stack:
        function = stack.pop()
        if not isinstance(function, types.FunctionType) or id(function) in seen:
            continue
        seen.add(id(function))
        for var, cell in zip(
            function.__code__.co_freevars, function.__closure__ or (), strict=True
        ):
            position = names.get(var)
            if position is not None:
                found.setdefault(position, cell)
            stack.append(cell.cell_contents)
    return found


def _one(remembered: ScoresAt, position: int) -> Any:
    def score(t: float, start: float) -> Any:
        return remembered(t, start)[position]

    return score


class MemoEvaluator:
    """The compiled evaluator with ``params``, whose per-lead scores come
    from a memo ``{(t, start): scores}`` that the caller keeps per lead (and
    may fill beforehand from :func:`score_timelines`): valid only while no
    score depends on what differs between the params the memo was filled
    with and these. The same code as a full run, minus recomputing scores."""

    def __init__(self, model: CheckedPolicy, params: Mapping[str, Any] | None = None) -> None:
        evaluate = compile_policy(model, params).evaluate
        namespace = dict(evaluate.__globals__)
        drive = namespace["_drive"]
        self._memo: dict[tuple[float, float], tuple[Any, ...]] = {}
        lazy_names = {f"S{position}": position for position in range(len(model.score_order))}

        def drive_with_memo(
            meta: Any,
            lead: Any,
            as_of: Any,
            explain: Any,
            scores: ScoresAt,
            scores_explain: Any,
            instant: Any,
            recycle: Any,
            route: Any,
        ) -> Any:
            memo = self._memo

            def remembered(t: float, start: float) -> tuple[Any, ...]:
                found = memo.get((t, start))
                if found is None:
                    found = memo[(t, start)] = scores(t, start)
                return found

            # The conditions compute a score on first use (S<i>, i its position in the
            # evaluation order): those functions read it from the remembered scores.
            for position, lazy in _cells([instant, recycle, route], lazy_names).items():
                lazy.cell_contents = _one(remembered, position)
            return drive(
                meta, lead, as_of, explain, remembered, scores_explain, instant, recycle, route
            )

        namespace["_drive"] = drive_with_memo
        self._evaluate = types.FunctionType(evaluate.__code__, namespace, evaluate.__name__)

    def run(
        self, lead: Lead, as_of: float, memo: dict[tuple[float, float], tuple[Any, ...]]
    ) -> Any:
        """The :class:`~mqldsl.engine.helpers.EvalResult` of ``lead``."""
        self._memo = memo
        return self._evaluate(lead, as_of, False)


__all__ = ["MemoEvaluator", "ScoresAt", "score_timelines"]
