"""The compiled evaluator equals the reference interpreter on random checked
policies (every construct, both stage modes) and random journeys (events on
window edges, missing fields, events after the as-of instant)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqldsl.analysis.checker import check_text
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.interpreter import Interpreter
from mqldsl.engine.runtime import Lead

from .policy_gen import AS_OF, leads, policies


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policies(), st.lists(leads(), min_size=1, max_size=4))
def test_compiled_equals_interpreted(text: str, journeys: list[Lead]) -> None:
    result = check_text(text, "generated.mql")
    errors = [d.render(result.source) for d in result.diagnostics if d.is_error]
    assert result.model is not None, "\n".join(errors) + "\n" + text
    compiled = Evaluator(result.model)
    reference = Interpreter(result.model)
    for lead in journeys:
        fast = compiled.run(lead, AS_OF)
        slow, steps = reference.run(lead, AS_OF)
        assert fast.decision.to_json() == slow.to_json(), text
        assert [(s.at, s.stage, s.reason, s.recycled_by) for s in fast.steps] == [
            (s.at, s.stage, s.reason, s.recycled_by) for s in steps
        ], text
