"""Running the examples written inside a policy (SPEC §10, `mqldsl test`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from mqldsl.analysis.examples import example_instant
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import EvalResult, Evaluator
from mqldsl.engine.runtime import (
    COMPARE,
    Decision,
    Event,
    Lead,
    date_seconds,
    format_instant,
    to_seconds,
)
from mqldsl.language import ast
from mqldsl.language.notation import number


@dataclass(frozen=True)
class Failure:
    expectation: ast.Expectation
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
    return msgspec.structs.replace(lead, colleagues=others)


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
    failures = [
        failure
        for item in example.items
        if not isinstance(item, ast.ExampleLead | ast.ExampleEvent | ast.ExampleAccount)
        and not isinstance(item, ast.ExampleContact)
        and (failure := check(item, result.decision, as_of, evaluator.compiled.params))
    ]
    return ExampleResult(example, lead, as_of, result, tuple(failures))


def check(
    item: ast.Expectation, decision: Decision, as_of: float, params: Mapping[str, Any]
) -> Failure | None:
    """The failure of one expectation on ``decision`` (None when it holds): what was
    expected and what the decision says, in the words `mqldsl test` prints."""
    if isinstance(item, ast.ExpectStage | ast.ExpectStageIn):
        stages = (item.stage,) if isinstance(item, ast.ExpectStage) else item.stages
        if decision.stage in stages:
            return None
        expected = "stage " + (
            item.stage if isinstance(item, ast.ExpectStage) else f"in [{', '.join(stages)}]"
        )
        return Failure(item, expected, f"stage {decision.stage}")
    if isinstance(item, ast.ExpectDisqualified | ast.ExpectNotDisqualified):
        reasons = decision.disqualified
        if isinstance(item, ast.ExpectNotDisqualified):
            ok = not reasons
            expected = "not disqualified"
        else:
            ok = bool(reasons) if item.reason is None else item.reason in reasons
            expected = "disqualified" + (f' "{item.reason}"' if item.reason else "")
        if ok:
            return None
        actual = (
            "disqualified " + ", ".join(f'"{r}"' for r in reasons)
            if reasons
            else f"not disqualified (stage {decision.stage})"
        )
        return Failure(item, expected, actual)
    if isinstance(item, ast.ExpectAccountScore):
        value = (decision.account_scores or {}).get(item.score)
        target = _amount(item.value, params)
        if value is not None and COMPARE[item.op](value, target):
            return None
        expected = f"account.{item.score} {item.op} {_amount_text(item.value, target)}"
        actual = f"account.{item.score} is {'missing' if value is None else value}"
        return Failure(item, expected, actual)
    if isinstance(item, ast.ExpectScore | ast.ExpectBetween):
        account = isinstance(item, ast.ExpectBetween) and item.account
        scores = (decision.account_scores or {}) if account else decision.scores
        value = scores.get(item.score)
        named = f"account.{item.score}" if account else item.score
        if isinstance(item, ast.ExpectScore):
            target = _amount(item.value, params)
            ok = value is not None and COMPARE[item.op](value, target)
            expected = f"{item.score} {item.op} {_amount_text(item.value, target)}"
        else:
            low, high = _amount(item.low, params), _amount(item.high, params)
            ok = value is not None and low <= value <= high
            expected = (
                f"{named} between {_amount_text(item.low, low)} and {_amount_text(item.high, high)}"
            )
        if ok:
            return None
        return Failure(item, expected, f"{named} is {'missing' if value is None else value}")
    route = decision.route
    if isinstance(item, ast.ExpectRoute | ast.ExpectNoRoute):
        queue = route.queue if route else None
        wanted = item.queue if isinstance(item, ast.ExpectRoute) else None
        if queue == wanted:
            return None
        return Failure(item, f"route {wanted or 'none'}", f"route {queue}" if queue else "no route")
    due = due_instant(item.when, as_of)
    expected = f"due {format_instant(due)}"
    if isinstance(item.when, ast.RelativeTime):
        expected += f" ({'-' if item.when.sign < 0 else '+'}{item.when.duration.text()})"
    if route is None:
        return Failure(item, expected, "no route")
    if route.due is None:
        return Failure(item, expected, f"route {route.queue} without an SLA")
    if round(route.due, 6) == round(due, 6):
        return None
    return Failure(item, expected, f"due {format_instant(route.due)} (route {route.queue})")


def due_instant(when: ast.TimeRef, as_of: float) -> float:
    """The instant an `expect due` names: absolute, or an offset from the example's instant."""
    if isinstance(when, ast.RelativeTime):
        return as_of + when.sign * when.duration.seconds
    if isinstance(when, ast.DateLit):
        return date_seconds(when.value)
    return to_seconds(when.value)


def _amount(value: ast.Amount, params: Mapping[str, Any]) -> float:
    if isinstance(value, ast.NumberLit):
        return value.value
    number_: float = params[value.name]
    return number_


def _amount_text(value: ast.Amount, resolved: float) -> str:
    if isinstance(value, ast.NumberLit):
        return number(value.value)
    return f"{value.name} ({number(resolved)})"
