"""`mqldsl test` as a library call: check a policy file, run the examples written in it
(SPEC §10), optionally only those whose name contains a text, and say which rules, stages,
disqualifiers and routes no example exercised."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mqldsl.analysis.checker import CheckResult, check_file
from mqldsl.engine.coverage import Coverage, coverage, shown_percent
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.examples import ExampleResult, run_example
from mqldsl.engine.explain import explain
from mqldsl.engine.explanation import Explanation


@dataclass(frozen=True)
class ExampleRun:
    """The examples of one policy file, run in order. ``check`` holds the diagnostics; when
    the policy has errors (``check.model`` is None) no example ran. ``deselected`` counts the
    examples left out by a keyword."""

    check: CheckResult
    outcomes: tuple[ExampleResult, ...]
    deselected: int = 0

    @property
    def readable(self) -> bool:
        """Whether the policy could be read and checked (its examples ran)."""
        return self.check.model is not None

    @property
    def counted(self) -> bool:
        """Whether the file counts in a coverage total: it could be read, and ``-k`` did
        not leave out all of its examples."""
        return self.readable and not (self.deselected and not self.outcomes)

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

    def coverage(self) -> Coverage:
        """Rules, stages, disqualifiers and routes, and which of them the examples that ran
        exercised (none for a policy with errors)."""
        if self.check.model is None:
            return Coverage(())
        return coverage(self.check.model, self.outcomes)

    def uncovered(self) -> list[str]:
        """Rules, stages, disqualifiers and routes that no example exercised."""
        return [part.text for part in self.coverage().uncovered()]


def selected(name: str, keyword: str | None) -> bool:
    """Whether an example named ``name`` is run for ``-k keyword``: its name contains the
    keyword, ignoring case (no keyword: every example)."""
    return keyword is None or keyword.casefold() in name.casefold()


def run_examples(path: str | Path, keyword: str | None = None) -> ExampleRun:
    """Check the policy at ``path`` and run its examples (none if it has errors); with a
    ``keyword``, only the examples whose name contains it, ignoring case."""
    result = check_file(path)
    if result.model is None:
        return ExampleRun(result, ())
    evaluator = Evaluator(result.model)
    chosen = [e for e in result.model.examples if selected(e.name, keyword)]
    outcomes = tuple(run_example(evaluator, e) for e in chosen)
    return ExampleRun(result, outcomes, len(result.model.examples) - len(chosen))


def report(
    runs: Sequence[tuple[str, ExampleRun]],
    keyword: str | None,
    total: Coverage | None,
    fail_under: float | None,
) -> str:
    """`mqldsl test --format json`: one JSON document with each file (its diagnostics when it
    could not be read), each example that ran with its failures, the totals and, when
    ``total`` is given, the coverage figures."""
    from mqldsl.language.printer import expectation

    files = []
    examples = []
    for file, run in runs:
        entry: dict[str, object] = {
            "file": file,
            "readable": run.readable,
            "ran": len(run.outcomes),
            "deselected": run.deselected,
            "diagnostics": [d.to_json() for d in run.check.diagnostics if d.is_error],
        }
        if total is not None and run.counted:
            entry["coverage"] = _figures(run.coverage())
        files.append(entry)
        for outcome in run.outcomes:
            examples.append(
                {
                    "name": outcome.example.name,
                    "file": file,
                    "line": outcome.example.span.line,
                    "status": "passed" if outcome.passed else "failed",
                    "failures": [
                        {
                            "line": f.expectation.span.line,
                            "expectation": expectation(f.expectation),
                            "expected": f.expected,
                            "actual": f.actual,
                        }
                        for f in outcome.failures
                    ],
                }
            )
    passed = sum(1 for e in examples if e["status"] == "passed")
    document: dict[str, object] = {
        "keyword": keyword,
        "files": files,
        "examples": examples,
        "totals": {
            "passed": passed,
            "failed": len(examples) - passed,
            "deselected": sum(run.deselected for _, run in runs),
            "unreadable_files": sum(1 for _, run in runs if not run.readable),
        },
        "coverage": None,
    }
    if total is not None:
        figures = _figures(total)
        figures["fail_under"] = fail_under
        figures["below"] = fail_under is not None and total.below(fail_under)
        figures["uncovered"] = [
            {"file": file, **part.to_json()}
            for file, run in runs
            if run.counted
            for part in run.coverage().uncovered()
        ]
        document["coverage"] = figures
    return json.dumps(document, indent=2, ensure_ascii=False)


def total_coverage(runs: Sequence[tuple[str, ExampleRun]]) -> Coverage:
    """The parts of every file that counts (:attr:`ExampleRun.counted`), together."""
    return sum((run.coverage() for _, run in runs if run.counted), Coverage(()))


def _figures(figure: Coverage) -> dict[str, object]:
    return {
        "covered": figure.covered,
        "total": figure.total,
        "percent": figure.percent,
        "shown": shown_percent(figure),
    }


__all__ = ["ExampleRun", "report", "run_examples", "selected", "total_coverage"]
