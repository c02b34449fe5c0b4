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
from collections.abc import Callable, Mapping, Sequence
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
    patched = types.FunctionType(
        evaluate.__code__, namespace, evaluate.__name__, evaluate.__defaults__
    )

    def timeline(lead: Lead, as_of: float) -> ScoresAt:
        scores: ScoresAt = patched(lead, as_of, False)
        return scores

    return timeline


# Where a closure cell is: the index of a root function, then the index of a free
# variable in each closure on the way (the last one is the cell's).
_Path = tuple[int, ...]


def _paths(functions: Sequence[Any], names: Mapping[str, int]) -> dict[int, _Path]:
    """The paths of the closure cells of the variables ``names`` (name to
    position) among the closures of ``functions`` (and of the closures they
    hold), by position: one walk for all of them."""
    found: dict[int, _Path] = {}
    seen: set[int] = set()
    stack: list[tuple[Any, _Path]] = [(f, (i,)) for i, f in enumerate(functions)]
    while stack:
        function, path = stack.pop()
        if not isinstance(function, types.FunctionType) or id(function) in seen:
            continue
        seen.add(id(function))
        for k, (var, cell) in enumerate(
            zip(function.__code__.co_freevars, function.__closure__ or (), strict=True)
        ):
            position = names.get(var)
            if position is not None:
                found.setdefault(position, (*path, k))
            stack.append((cell.cell_contents, (*path, k)))
    return found


def _follow(functions: Sequence[Any], path: _Path, name: str | None) -> Any:
    """The cell at ``path`` if it holds the variable ``name`` (None: any), else None."""
    function = functions[path[0]]
    for k in path[1:-1]:
        if not isinstance(function, types.FunctionType):
            return None
        closure = function.__closure__ or ()
        if len(closure) <= k:
            return None
        function = closure[k].cell_contents
    if not isinstance(function, types.FunctionType):
        return None
    code = function.__code__
    if len(code.co_freevars) <= path[-1]:
        return None
    if name is not None and code.co_freevars[path[-1]] != name:
        return None
    return (function.__closure__ or ())[path[-1]]


def _cells(
    functions: Sequence[Any], names: Mapping[str, int], known: dict[int, _Path]
) -> dict[int, Any]:
    """The closure cells of ``names`` by position, along the paths ``known``
    (the closures of one compiled policy have the same shape at every call);
    ``known`` is found, or found again, by a walk when a path does not lead to
    its variable."""
    if known:
        found = {}
        for position, path in known.items():
            cell = _follow(functions, path, f"S{position}")
            if cell is None:
                break
            found[position] = cell
        else:
            return found
    known.clear()
    known.update(_paths(functions, names))
    return {position: _follow(functions, path, None) for position, path in known.items()}


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
        known: dict[int, _Path] = {}
        self._last: ScoresAt | None = None

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
            pts: Any = None,
            hot: Any = None,
            sweep: Any = None,
        ) -> Any:
            memo = self._memo

            def remembered(t: float, start: float) -> tuple[Any, ...]:
                found = memo.get((t, start))
                if found is None:
                    found = memo[(t, start)] = scores(t, start)
                return found

            # The conditions compute a score on first use (S<i>, i its position in the
            # evaluation order): those functions read it from the remembered scores.
            self._last = remembered
            roots = (instant, recycle, route) if hot is None else (instant, recycle, route, hot)
            for position, lazy in _cells(roots, lazy_names, known).items():
                lazy.cell_contents = _one(remembered, position)
            return drive(
                meta,
                lead,
                as_of,
                explain,
                remembered,
                scores_explain,
                instant,
                recycle,
                route,
                pts,
                hot,
                sweep,
            )

        namespace["_drive"] = drive_with_memo
        self._evaluate = types.FunctionType(
            evaluate.__code__, namespace, evaluate.__name__, evaluate.__defaults__
        )

    def run(
        self, lead: Lead, as_of: float, memo: dict[tuple[float, float], tuple[Any, ...]]
    ) -> Any:
        """The :class:`~mqldsl.engine.helpers.EvalResult` of ``lead``."""
        self._memo = memo
        return self._evaluate(lead, as_of, False)

    def scores_at(self, t: float, start: float) -> tuple[Any, ...]:
        """The scores (in evaluation order) of the lead last :meth:`run` at
        instant ``t`` with events at or before ``start`` ignored: from its
        memo, computed (and remembered) when missing. Whatever the as-of
        instant of that run, as long as ``t`` is not after it."""
        assert self._last is not None, "run a lead first"
        return self._last(t, start)


__all__ = ["MemoEvaluator", "ScoresAt", "score_timelines"]
