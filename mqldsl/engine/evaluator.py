"""The compiled evaluator: a checked policy compiled once (by
:mod:`mqldsl.engine.codegen`) and then run on many leads.

:class:`EvalResult` (in :mod:`mqldsl.engine.runtime`, shared with the interpreter)
and :data:`DISQUALIFIED` (in :mod:`mqldsl.engine.helpers`, the generated code's run-time
environment) are re-exported here, the evaluator's front door.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.codegen import compile_policy
from mqldsl.engine.fused import DecodedSchema, compile_fused
from mqldsl.engine.helpers import DISQUALIFIED
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import Decision, EvalResult, Lead

__all__ = ["DISQUALIFIED", "EvalResult", "Evaluator", "lead_scores"]


class Evaluator:
    """A checked policy compiled for fast evaluation."""

    def __init__(self, model: CheckedPolicy, params: Mapping[str, Any] | None = None) -> None:
        self.compiled = compile_policy(model, params)
        # With a duration param set to another length, the policy checked with it (SPEC §5.2).
        self.model = self.compiled.model
        self._evaluate = self.compiled.evaluate

    def run(self, lead: Lead, as_of: float, explain: bool = False) -> EvalResult:
        """Evaluate ``lead`` at ``as_of``; its decision reports scores in
        declaration order, ``contributions`` (with ``explain``) in evaluation order."""
        result: EvalResult = self._evaluate(lead, as_of, explain)
        return result

    def fused(
        self, schema: DecodedSchema, emit: Callable[..., bytes]
    ) -> Callable[..., bytes | None] | None:
        """The function that decides a lead as the typed decoder with records ``schema``
        decoded it and writes its line with ``emit`` (:mod:`mqldsl.engine.fused`: the
        decisions of :meth:`decide`); None for a policy it does not serve."""
        return compile_fused(self.compiled, schema, emit)

    def decide(self, lead: Lead, as_of: float) -> Decision:
        """The lead's decision at ``as_of`` (``run(lead, as_of).decision``, without the
        steps, first entries and handoffs that nothing reads then)."""
        result: EvalResult = self._evaluate(lead, as_of, None)
        return result.decision

    def scores_at(self, lead: Lead, at: float) -> tuple[Any, ...]:
        """The lead's scores as of ``at``, as ``run(lead, at).decision.scores`` holds them
        (values in declaration order). A policy without recycle rules computes them
        without walking the timeline (its journey never restarts)."""
        if self.model.recycles:
            return tuple(self.run(lead, at).decision.scores.values())
        return lead_scores(self.model, self._evaluate(lead, at, False, True))

    @functools.cached_property
    def reference(self) -> Interpreter:
        """The reference interpreter of the same policy and params (explanations use its
        expression semantics for the values they state)."""
        return Interpreter(self.model, self.compiled.params)

    @property
    def source(self) -> str:
        """The generated Python source (for debugging, like Jinja2's raw mode)."""
        return self.compiled.source


def lead_scores(model: CheckedPolicy, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """The lead scores of ``values`` (every score, in evaluation order) in declaration order,
    as a decision's ``scores`` holds them."""
    by_name = dict(zip(model.score_order, values, strict=True))
    return tuple(by_name[name] for name in model.lead_scores)
