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
    taken (a hot-event route: that never made an example's route); in the policy's order,
    each with its line."""
    used_rules: set[tuple[str, int]] = set()
    stages: set[str] = set()
    reasons: set[str] = set()
    queues: set[tuple[str, str]] = set()
    hot: set[int] = set()  # the hot-event routes (by number) that made a decision's route
    for outcome in outcomes:
        decision = outcome.result.decision
        stages.update(step.stage for step in outcome.result.steps)
        reasons.update(decision.disqualified)
        made = decision.route
        if made is not None and made.trigger is None:
            queues.add((decision.stage, made.queue))
        elif made is not None:  # a hot-event route made it: the last handoff at its instant
            numbers = [
                h.route for h in outcome.result.handoffs if h.event >= 0 and h.at == made.entered
            ]
            hot.update(numbers[-1:])
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
    for number, route in enumerate(model.routes):
        taken = number in hot if route.on is not None else (route.stage, route.queue) in queues
        if not taken:
            lines.append(f"route {route.stage} to {route.queue} (line {route.span.line})")
    return lines


__all__ = ["uncovered"]
