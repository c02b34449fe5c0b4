"""Example coverage (`mqldsl test --coverage`): which rules, stages,
disqualifiers and routes of a policy its examples exercised, and the share
they make of all of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.examples import ExampleResult
from mqldsl.language.notation import rule_text


@dataclass(frozen=True)
class Part:
    """A part of a policy an example can exercise: a rule that gives points, a stage
    entered, a disqualifier met, a route taken."""

    kind: str  # "rule", "stage", "disqualifier" or "route"
    line: int
    text: str  # "rule of fit (line 48): -30 when email_kind == personal"
    covered: bool

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "line": self.line, "text": self.text}


@dataclass(frozen=True)
class Coverage:
    """The parts of one or more policies and which of them the examples exercised."""

    parts: tuple[Part, ...]

    @property
    def total(self) -> int:
        return len(self.parts)

    @property
    def covered(self) -> int:
        return sum(1 for part in self.parts if part.covered)

    @property
    def percent(self) -> float:
        """The share of parts exercised, 0 to 100 (100 for a policy with no part)."""
        return 100.0 * self.covered / self.total if self.total else 100.0

    def below(self, minimum: float) -> bool:
        """Whether the share is below ``minimum`` percent, compared exactly (no rounding:
        2 parts of 3 are below 66.67 and not below 66.66)."""
        return self.covered * 100 < minimum * self.total

    def uncovered(self) -> list[Part]:
        return [part for part in self.parts if not part.covered]

    def __add__(self, other: Coverage) -> Coverage:
        return Coverage(self.parts + other.parts)


def shown_percent(figure: Coverage) -> str:
    """The share as printed: one decimal, rounded down, so that a share below a
    ``--fail-under`` threshold never prints as the threshold (79.96 is "79.9")."""
    tenths = figure.covered * 1000 // figure.total if figure.total else 1000
    return f"{tenths // 10}.{tenths % 10}"


def coverage(model: CheckedPolicy, outcomes: Sequence[ExampleResult]) -> Coverage:
    """Every part of ``model``, in the policy's order, each marked with whether an
    outcome exercised it."""
    used_rules: set[tuple[str, int]] = set()
    stages: set[str] = set()
    reasons: set[str] = set()
    queues: set[tuple[str, str]] = set()
    for outcome in outcomes:
        decision = outcome.result.decision
        stages.update(step.stage for step in outcome.result.steps)
        reasons.update(decision.disqualified)
        if decision.route is not None:
            queues.add((decision.stage, decision.route.queue))
        for name, given in (outcome.result.contributions or {}).items():
            for index, points in enumerate(given):
                if points:
                    used_rules.add((name, index))
    parts = []
    for name, info in model.scores.items():
        for index, rule in enumerate(info.node.rules or ()):
            text = f"rule of {name} (line {rule.span.line}): {rule_text(rule)}"
            parts.append(Part("rule", rule.span.line, text, (name, index) in used_rules))
    for stage in model.stages.stages:
        text = f"stage {stage.name} (line {stage.span.line})"
        parts.append(Part("stage", stage.span.line, text, stage.name in stages))
    for d in model.disqualifiers:
        text = f'disqualifier "{d.reason}" (line {d.span.line})'
        parts.append(Part("disqualifier", d.span.line, text, d.reason in reasons))
    for route in model.routes:
        text = f"route {route.stage} to {route.queue} (line {route.span.line})"
        taken = (route.stage, route.queue) in queues
        parts.append(Part("route", route.span.line, text, taken))
    return Coverage(tuple(parts))


def uncovered(model: CheckedPolicy, outcomes: Sequence[ExampleResult]) -> list[str]:
    """One line per part of ``model`` no outcome exercised: a rule that gave
    no points, a stage never entered, a disqualifier never met, a route never
    taken; in the policy's order, each with its line."""
    return [part.text for part in coverage(model, outcomes).uncovered()]


__all__ = ["Coverage", "Part", "coverage", "shown_percent", "uncovered"]
