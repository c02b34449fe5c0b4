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


__all__ = ["ScoresAt", "score_timelines"]
