"""Example coverage (`mqldsl test --coverage`): the rules, stages,
disqualifiers and routes of a policy that none of its examples exercised."""

from __future__ import annotations

from collections.abc import Sequence

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.examples import ExampleResult
from mqldsl.language.notation import rule_text


def uncovered(model: CheckedPolicy, outcomes: Sequence[ExampleResult]) -> list[str]:
    """One line per part of ``model`` no outcome exercised: a rule that gave
    no points, a stage never entered, a disqualifier never met, a route never
    taken; in the policy's order, each with its line."""
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
        for name, parts in (outcome.result.contributions or {}).items():
            for index, given in enumerate(parts):
                if given:
                    used_rules.add((name, index))
    lines = []
    for name, info in model.scores.items():
        for index, rule in enumerate(info.node.rules or ()):
            if (name, index) not in used_rules:
                lines.append(f"rule of {name} (line {rule.span.line}): {rule_text(rule)}")
    for stage in model.stages.stages:
        if stage.name not in stages:
            lines.append(f"stage {stage.name} (line {stage.span.line})")
    for d in model.disqualifiers:
        if d.reason not in reasons:
            lines.append(f'disqualifier "{d.reason}" (line {d.span.line})')
    for route in model.routes:
        if (route.stage, route.queue) not in queues:
            lines.append(f"route {route.stage} to {route.queue} (line {route.span.line})")
    return lines


__all__ = ["uncovered"]
