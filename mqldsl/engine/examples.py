"""Running the examples written inside a policy (SPEC §10, `mqldsl test`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mqldsl.analysis.examples import example_instant
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import EvalResult, Evaluator
from mqldsl.engine.runtime import COMPARE, Event, Lead, date_seconds, to_seconds
from mqldsl.language import ast
from mqldsl.language.notation import number


@dataclass(frozen=True)
class Failure:
    expectation: ast.ExampleItem
    expected: str
    actual: str


@dataclass(frozen=True)
class ExampleResult:
    example: ast.Example
    lead: Lead
    as_of: float
    result: EvalResult
    failures: tuple[Failure, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def value_of(node: ast.Value) -> Any:
    """The runtime value of a value written in an example."""
    if isinstance(node, ast.Name):
        return node.name
    if isinstance(node, ast.ListLit):
        return frozenset(value_of(item) for item in node.items)  # type: ignore[arg-type]
    if isinstance(node, ast.InstantLit):
        return to_seconds(node.value)
    return node.value


#: The account id of an example lead that has an account or colleagues (SPEC §10).
EXAMPLE_ACCOUNT = "example-account"


def example_lead(model: CheckedPolicy, example: ast.Example, as_of: float) -> Lead:
    """The example's lead; with `account { }` or `contact "ID" { }` items, at an account
    (:data:`EXAMPLE_ACCOUNT`) with those fields and those colleagues (SPEC §10)."""
    account: dict[str, Any] = {}
    colleagues: list[ast.ExampleContact] = []
    for item in example.items:
        if isinstance(item, ast.ExampleAccount):
            account = {e.name: value_of(e.value) for e in item.entries}
        elif isinstance(item, ast.ExampleContact):
            colleagues.append(item)
    has_account = bool(colleagues) or any(
        isinstance(item, ast.ExampleAccount) for item in example.items
    )
    lead = _lead(example.name, example.items, as_of, has_account, account)
    if not colleagues:
        return lead
    others = tuple(_lead(contact.id, contact.items, as_of, True, account) for contact in colleagues)
    return dataclasses.replace(lead, colleagues=others)


def _lead(
    lead_id: str,
    items: Sequence[ast.ExampleItem],
    as_of: float,
    at_account: bool,
    account_profile: dict[str, Any],
) -> Lead:
    profile: dict[str, Any] = {}
    events: list[Event] = []
    for item in items:
        if isinstance(item, ast.ExampleLead):
            profile = {e.name: value_of(e.value) for e in item.entries}
        elif isinstance(item, ast.ExampleEvent):
            fields = {e.name: value_of(e.value) for e in item.entries or ()}
            for time in item.times:
                if isinstance(time, ast.RelativeTime):
                    at = as_of + time.sign * time.duration.seconds
                elif isinstance(time, ast.DateLit):
                    at = date_seconds(time.value)
                else:
                    at = to_seconds(time.value)
                events.append(Event(at=at, type=item.event, fields=fields, index=len(events)))
    events.sort(key=lambda e: e.at)
    return Lead(
        id=lead_id,
        profile=profile,
        events=tuple(events),
        account=EXAMPLE_ACCOUNT if at_account else None,
        account_profile=account_profile,
    )


def run_example(evaluator: Evaluator, example: ast.Example) -> ExampleResult:
    model = evaluator.model
    instant = example_instant(example, model.effective)
    assert instant is not None, "the checker requires an instant for every example"
    as_of = to_seconds(instant)
    lead = example_lead(model, example, as_of)
    result = evaluator.run(lead, as_of, explain=True)
    decision = result.decision
    failures: list[Failure] = []
    for item in example.items:
        if isinstance(item, ast.ExpectStage):
            if decision.stage != item.stage:
                failures.append(Failure(item, f"stage {item.stage}", f"stage {decision.stage}"))
        elif isinstance(item, ast.ExpectDisqualified):
            reasons = decision.disqualified
            ok = bool(reasons) if item.reason is None else item.reason in reasons
            if not ok:
                expected = "disqualified" + (f' "{item.reason}"' if item.reason else "")
                actual = (
                    "disqualified " + ", ".join(f'"{r}"' for r in reasons)
                    if reasons
                    else f"not disqualified (stage {decision.stage})"
                )
                failures.append(Failure(item, expected, actual))
        elif isinstance(item, ast.ExpectScore):
            value = decision.scores.get(item.score)
            if value is None or not COMPARE[item.op](value, item.value):
                failures.append(
                    Failure(
                        item,
                        f"{item.score} {item.op} {number(item.value)}",
                        f"{item.score} is {'missing' if value is None else value}",
                    )
                )
        elif isinstance(item, ast.ExpectAccountScore):
            value = (decision.account_scores or {}).get(item.score)
            if value is None or not COMPARE[item.op](value, item.value):
                failures.append(
                    Failure(
                        item,
                        f"account.{item.score} {item.op} {number(item.value)}",
                        f"account.{item.score} is {'missing' if value is None else value}",
                    )
                )
        elif isinstance(item, ast.ExpectRoute):
            queue = decision.route.queue if decision.route else None
            if queue != item.queue:
                failures.append(
                    Failure(item, f"route {item.queue}", f"route {queue}" if queue else "no route")
                )
    return ExampleResult(example, lead, as_of, result, tuple(failures))
