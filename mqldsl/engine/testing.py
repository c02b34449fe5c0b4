"""`mqldsl test` as a library call: check a policy file, run every example written in it
(SPEC §10) and say which rules, stages, disqualifiers and routes no example exercised."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mqldsl.analysis.checker import CheckResult, check_file
from mqldsl.engine.coverage import uncovered
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.examples import ExampleResult, run_example
from mqldsl.engine.explain import explain
from mqldsl.engine.explanation import Explanation


@dataclass(frozen=True)
class ExampleRun:
    """The examples of one policy file, run in order. ``check`` holds the diagnostics; when
    the policy has errors (``check.model`` is None) no example ran."""

    check: CheckResult
    outcomes: tuple[ExampleResult, ...]

    @property
    def passed(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.passed)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.passed

    def explain(self, outcome: ExampleResult) -> Explanation:
        """Why the example's lead ended where it did (what `mqldsl explain` shows)."""
        assert self.check.model is not None
        return explain(self.check.model, outcome.lead, outcome.result)

    def uncovered(self) -> list[str]:
        """Rules, stages, disqualifiers and routes that no example exercised."""
        if self.check.model is None:
            return []
        return uncovered(self.check.model, self.outcomes)


def run_examples(path: str | Path) -> ExampleRun:
    """Check the policy at ``path`` and run its examples (none if it has errors)."""
    result = check_file(path)
    if result.model is None:
        return ExampleRun(result, ())
    evaluator = Evaluator(result.model)
    return ExampleRun(result, tuple(run_example(evaluator, e) for e in result.model.examples))


__all__ = ["ExampleRun", "run_examples"]
