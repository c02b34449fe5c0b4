"""The shared MQL/SQL definitions document (`mqldsl docs`), rendered from the
checked policy with Jinja2 templates shipped in the package, so that it can
never drift from the rules."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mqldsl.analysis.model import CheckedPolicy, FieldInfo
from mqldsl.analysis.types import Type
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.examples import due_instant, run_example
from mqldsl.engine.runtime import format_instant
from mqldsl.language import ast
from mqldsl.language.notation import number
from mqldsl.render import templating
from mqldsl.render.english import OPERATORS, English, calendar, duration, signed, sla, words
from mqldsl.render.english import number as english_number
from mqldsl.render.explanation import when
from mqldsl.render.grammar import event_noun
from mqldsl.render.lifecycle import Diagram, mermaid, svg
from mqldsl.render.simulation_section import simulation_section


def _bounds(low: float, high: float, formula: bool) -> str:
    """What the checker's bounds of a score say: the sum of its rules' points at their most
    (each rule on its own; rules that exclude each other, `company_size between 50 and 199`
    and `between 200 and 5000`, can keep the score further in), or the formula's."""
    cannot = "values that cannot occur together" if formula else "rules that cannot hold together"
    if math.isinf(low) and math.isinf(high):
        return "Its value has no bound."
    if math.isinf(low):
        return f"Its value is at most {english_number(high)}."
    if math.isinf(high):
        return f"Its value is at least {english_number(low)}."
    if low == high:
        return f"Its value is always {english_number(low)}."
    return (
        f"Its value lies between {english_number(low)} and {english_number(high)} "
        f"(at most: {cannot} can keep it further in)."
    )


def mql_stage(model: CheckedPolicy) -> str:
    """The stage from which a lead counts as accepted (qualified): the stage
    named `mql` (the simulator's default `--mql-stage`), else the first stage
    with a route (where sales takes over), else the last stage."""
    names = model.stage_names
    if "mql" in names:
        return "mql"
    routed = {route.stage for route in model.routes}
    return next((name for name in names if name in routed), names[-1])


def example_group(model: CheckedPolicy, example: ast.Example) -> str:
    """What an example expects: "accepted" (a stage at or after
    :func:`mql_stage`, or, without a stage, a route or a due time), "rejected"
    (disqualified, or a stage before it) or "other" (neither: scores only, or
    only that the lead is not disqualified or has no route). A list of stages
    (`expect stage in [...]`) counts when all of them are on one side."""
    names = model.stage_names
    first = names.index(mql_stage(model))
    items = example.items
    if any(isinstance(i, ast.ExpectDisqualified) for i in items):
        return "rejected"
    sides: list[str] = []
    for item in items:
        listed = (
            [item.stage]
            if isinstance(item, ast.ExpectStage)
            else list(item.stages)
            if isinstance(item, ast.ExpectStageIn)
            else []
        )
        known = {
            "accepted" if names.index(s) >= first else "rejected" for s in listed if s in names
        }
        if len(known) == 1:
            sides.append(known.pop())
    if sides:
        return sides[-1]
    if any(isinstance(i, ast.ExpectRoute | ast.ExpectDue) for i in items):
        return "accepted"
    return "other"


class _Names:
    """Stages and queues in the policy's words, their identifiers in code font."""

    def __init__(self, model: CheckedPolicy) -> None:
        self.described = {s.name: s.description for s in model.stages.stages if s.description}

    def stage(self, name: str) -> str:
        description = self.described.get(name)
        return f"“{description}” (`{name}`)" if description else f"`{name}`"

    @staticmethod
    def queue(name: str) -> str:
        return f"`{name}`"


def context(
    model: CheckedPolicy,
    changes: list[Any] | None = None,
    simulation: dict[str, Any] | None = None,
    date: str | None = None,
) -> dict[str, Any]:
    say = English(model, descriptions=True)
    name = _Names(model)
    stages = [
        {
            "name": stage.name,
            "description": stage.description or "",
            "criteria": "every lead starts here"
            if index == 0
            else say.condition(stage.condition)
            if stage.condition
            else "",
        }
        for index, stage in enumerate(model.stages.stages)
    ]
    recycles = [
        {
            "from": name.stage(r.from_stage),
            "to": name.stage(r.to_stage),
            "when": say.condition(r.condition),
            "description": r.description or "",
        }
        for r in model.recycles
    ]
    diagram = Diagram(
        stages=tuple((s.name, s.description or "") for s in model.stages.stages),
        recycles=tuple(
            (
                model.stage_names.index(r.from_stage) + 1,
                model.stage_names.index(r.to_stage) + 1,
                f"recycle when {say.condition(r.condition)}",
            )
            for r in model.recycles
        ),
        reasons=tuple(d.reason for d in model.disqualifiers),
        locked=model.locked,
    )
    return {
        "title": model.title,
        "version": number(model.version) if model.version is not None else "",
        "owner": model.owner or "",
        "effective": model.effective.isoformat() if model.effective else "",
        "about": model.about or "",
        # SPEC §3.1: the files the policy includes, by their path from its folder; each
        # declaration written in one of them says so ("origin").
        "included": [file.relative for file in model.includes],
        "fields_from": _fields_from(model),
        "locked": model.locked,
        "stages": stages,
        "recycles": recycles,
        "mermaid": mermaid(diagram),
        "diagram": svg(diagram),
        "events": [
            {
                "name": event,
                "noun": event_noun(event).singular,
                "description": info.description or "",
                "fields": ", ".join(
                    words(f) + (f" ({field.description})" if field.description else "")
                    for f, field in info.fields.items()
                ),
                "origin": model.origin(info.node.span) or "",
            }
            for event, info in model.events.items()
        ],
        # The record's fields, with their types and descriptions (the units a rule's numbers
        # are in: "annual revenue is at least 1,000" says nothing without them).
        "lead_fields": _field_rows(model.fields),
        "account_fields": _field_rows(model.account_fields),
        "scores": _scores(model, say),
        "params": [
            {
                "name": param,
                "value": ", ".join(str(v) for v in info.value)
                if isinstance(info.value, tuple)
                else str(info.value),
                "description": info.description or "",
                "origin": model.origin(info.node.span) or "",
            }
            for param, info in model.params.items()
        ],
        "calendars": [
            {
                "name": info.name or "",
                "words": calendar(info),
                "origin": model.origin(info.node.span) or "",
            }
            for info in model.calendars.values()
        ],
        "disqualifiers": [
            {
                "reason": d.reason,
                "when": say.condition(d.condition),
                "origin": model.origin(d.span) or "",
            }
            for d in model.disqualifiers
        ],
        "routes": [
            {
                "stage": name.stage(route.stage),
                "queue": name.queue(route.queue),
                "when": say.route_condition(route, name.stage(route.stage)),
                "sla": sla(route.sla, model) if route.sla is not None else "no SLA",
            }
            for route in model.routes
        ],
        "hot_routes": any(route.on is not None for route in model.routes),
        "mql_stage": name.stage(mql_stage(model)),
        "groups": _examples(model, say, name),
        "changes": [c.text() for c in changes] if changes is not None else None,
        "simulation": simulation_section(simulation, model) if simulation is not None else None,
        "source": model.source.name,
        # The hash every decision names (SPEC §12): of the canonical text, not the file's bytes.
        "digest": model.sha256,
        "date": date or "",
    }


def _aggregated(condition: ast.Expr) -> ast.Pattern | None:
    """The pattern of a `when` rule that tests one aggregate and no other event
    (`sum(pipeline_run.pipelines within 7 days) >= 100`): its window is the rule's."""
    timed = [
        part
        for part in ast.walk(condition)
        if isinstance(part, ast.Pattern | ast.NoEvents | ast.Count | ast.Aggregate | ast.DaysSince)
    ]
    if len(timed) == 2 and isinstance(timed[0], ast.Aggregate):
        return timed[0].pattern  # the aggregate and its own pattern
    return None


def _scores(model: CheckedPolicy, say: English) -> list[dict[str, Any]]:
    scores = []
    for score, info in model.scores.items():
        node = info.node
        rules = []
        for rule in node.rules or ():
            window = "—"
            cap = "—"
            pattern = (
                rule.pattern
                if isinstance(rule, ast.PerRule)
                else rule.condition
                if isinstance(rule.condition, ast.Pattern)
                else _aggregated(rule.condition)
            )
            if pattern is not None and isinstance(pattern.window, ast.Duration):
                window = f"last {duration(pattern.window)}"
            elif pattern is not None:
                window = "any time"
            if isinstance(rule, ast.PerRule) and rule.max is not None:
                cap = number(rule.max)
            rules.append(
                {
                    "rule": say.rule_condition(rule),
                    "points": signed(rule.points),
                    "window": window,
                    "cap": cap,
                    "label": rule.label or "",
                    "line": rule.span.line,
                }
            )
        scores.append(
            {
                "name": score,
                "description": node.description or "",
                "bounds": _bounds(
                    info.bounds.low, info.bounds.high, formula=node.formula is not None
                ),
                "range": f"{number(node.range.low)} to {number(node.range.high)}"
                if node.range
                else "",
                "decay": f"{number(node.decay.percent)}% every {duration(node.decay.every)}"
                if node.decay
                else "",
                "formula": say.value(node.formula) if node.formula is not None else "",
                "rules": rules,
                "origin": model.origin(node.span) or "",
                "account": node.on_account,
            }
        )
    return scores


GROUPS = (
    ("accepted", "Accepted leads"),
    ("rejected", "Rejected leads"),
    ("other", "Other examples"),
)


def _examples(model: CheckedPolicy, say: English, name: _Names) -> list[dict[str, Any]]:
    """The examples in groups (accepted, rejected, other), each with what it
    expects and whether the current rules still agree."""
    evaluator = Evaluator(model)
    grouped: dict[str, list[dict[str, Any]]] = {key: [] for key, _ in GROUPS}
    for example in model.examples:
        outcome = run_example(evaluator, example)
        lead = next((i for i in example.items if isinstance(i, ast.ExampleLead)), None)
        profile = (
            ", ".join(f"{words(e.name)}: {_value_text(e.value)}" for e in lead.entries)
            if lead
            else "no profile data"
        )
        did = []
        for item in example.items:
            if isinstance(item, ast.ExampleEvent):
                did.append(_did_text(item, say))
            elif isinstance(item, ast.ExampleAccount):
                fields = ", ".join(f"{words(e.name)}: {_value_text(e.value)}" for e in item.entries)
                did.append(f"its account: {fields or 'no account data'}")
            elif isinstance(item, ast.ExampleContact):
                # A colleague at the account (SPEC §10): who they are (a buying group's
                # score can read their fields) and what they did, under their id.
                fields = ", ".join(
                    f"{words(e.name)}: {_value_text(e.value)}"
                    for part in item.items
                    if isinstance(part, ast.ExampleLead)
                    for e in part.entries
                )
                if fields:
                    did.append(f"colleague {item.id} is {fields}")
                for part in item.items:
                    if isinstance(part, ast.ExampleEvent):
                        did.append(f"colleague {item.id}: {_did_text(part, say)}")
        expected = [
            _expect_text(i, name, outcome.as_of)
            for i in example.items
            if not isinstance(
                i, ast.ExampleLead | ast.ExampleEvent | ast.ExampleAccount | ast.ExampleContact
            )
        ]
        grouped[example_group(model, example)].append(
            {
                "name": example.name,
                "as_of": when(outcome.as_of),  # what "1 hour before" counts from
                "profile": profile,
                "did": did or ["nothing yet"],
                "expected": expected,
                "passes": outcome.passed,
                "failures": [f"expected {f.expected}, got {f.actual}" for f in outcome.failures],
            }
        )
    return [
        {"key": key, "title": title, "examples": grouped[key]}
        for key, title in GROUPS
        if grouped[key] or key != "other"
    ]


def _value_text(value: ast.Value) -> str:
    if isinstance(value, ast.Name):
        return words(value.name)
    if isinstance(value, ast.ListLit):
        return ", ".join(_value_text(i) for i in value.items) or "none"  # type: ignore[arg-type]
    if isinstance(value, ast.StringLit):
        return f'"{value.value}"'
    if isinstance(value, ast.BoolLit):
        return "yes" if value.value else "no"
    if isinstance(value, ast.NumberLit):
        return number(value.value)
    if isinstance(value, ast.DateLit):
        return value.value.isoformat()
    return str(value.value)


def _time_text(value: ast.TimeRef) -> str:
    if isinstance(value, ast.RelativeTime):
        return f"{duration(value.duration)} {'before' if value.sign < 0 else 'after'}"
    if isinstance(value, ast.DateLit):
        return value.value.isoformat()
    moment = value.value
    return f"{moment.year:04d}-{moment:%m-%d %H:%M} UTC"


def _did_text(item: ast.ExampleEvent, say: English) -> str:
    """An example's event in words: "a demo request: 1 day before"."""
    when = ", ".join(_time_text(t) for t in item.times)
    fields = ", ".join(f"{words(e.name)} {_value_text(e.value)}" for e in item.entries or ())
    return f"{say.event(item.event)}{f' ({fields})' if fields else ''}: {when}"


def _expect_text(item: ast.Expectation, name: _Names, as_of: float) -> str:
    """An expectation in words, for the document's "Expected" line."""
    if isinstance(item, ast.ExpectStage):
        return f"stage {name.stage(item.stage)}"
    if isinstance(item, ast.ExpectStageIn):
        return "stage " + " or ".join(name.stage(s) for s in item.stages)
    if isinstance(item, ast.ExpectDisqualified):
        return "disqualified" + (f' ("{item.reason}")' if item.reason else "")
    if isinstance(item, ast.ExpectNotDisqualified):
        return "not disqualified"
    if isinstance(item, ast.ExpectScore):
        return f"{item.score} {OPERATORS[item.op]} {_amount_text(item.value)}"
    if isinstance(item, ast.ExpectBetween):
        score = f"the account's {item.score}" if item.account else item.score
        return (
            f"{score} between {_amount_text(item.low)} and {_amount_text(item.high)}"
            " (both included)"
        )
    if isinstance(item, ast.ExpectRoute):
        return f"routed to {name.queue(item.queue)}"
    if isinstance(item, ast.ExpectNoRoute):
        return "not routed to any queue"
    if isinstance(item, ast.ExpectAccountScore):
        return f"the account's {item.score} {OPERATORS[item.op]} {_amount_text(item.value)}"
    due = format_instant(due_instant(item.when, as_of))
    shown = f"{due[:10]} {due[11:16]} UTC" if due.endswith(":00Z") else due
    if isinstance(item.when, ast.RelativeTime):
        side = "before" if item.when.sign < 0 else "after"
        return f"follow-up due {duration(item.when.duration)} {side} the example's moment ({shown})"
    return f"follow-up due by {shown}"


def _amount_text(value: ast.Amount) -> str:
    """A number an expectation names: written, or a param by name (its value is in the
    document's params table, and may change)."""
    if isinstance(value, ast.Name):
        return f"the param `{value.name}`"
    return english_number(value.value)


def render(model: CheckedPolicy, kind: str, **options: Any) -> str:
    data = context(model, **options)
    if kind == "html":
        return templating.render("definitions.html.j2", **data)
    return templating.render("definitions.md.j2", **data)


def _field_rows(fields: Mapping[str, FieldInfo]) -> list[dict[str, str]]:
    """A row per declared field: its words, identifier, type and description."""
    return [
        {
            "words": words(name),
            "name": name,
            "type": _type_words(info.type),
            "description": info.description or "",
        }
        for name, info in fields.items()
    ]


def _type_words(kind: Type) -> str:
    """A declared type as a reader says it: "whole number", "one of a, b", "yes or no"."""
    if kind.kind == "enum":
        return "one of " + ", ".join(kind.members)
    if kind.kind == "set" and kind.element is not None:
        element = kind.element
        if element.kind == "enum":
            return "any of " + ", ".join(element.members)
        return f"a set of {_type_words(element)}s"
    return {"int": "whole number", "bool": "yes or no"}.get(kind.kind, kind.kind)


def _fields_from(model: CheckedPolicy) -> list[str]:
    """Sentences saying which lead and account fields an included file declares (SPEC §3.1:
    the document says where each declaration comes from); none without includes."""
    sentences = []
    for kind, fields in (("lead", model.fields), ("account", model.account_fields)):
        by_file: dict[str, list[str]] = {}
        own = 0
        for name, info in fields.items():
            origin = model.origin(info.node.span)
            if origin is None:
                own += 1
            else:
                by_file.setdefault(origin, []).append(name)
        if not own and len(by_file) == 1:
            sentences.append(f"The {kind} fields come from `{next(iter(by_file))}`.")
            continue
        for origin, names in sorted(by_file.items()):
            listed = ", ".join(f"`{name}`" for name in names)
            noun = "field" if len(names) == 1 else "fields"
            verb = "comes" if len(names) == 1 else "come"
            sentences.append(f"The {kind} {noun} {listed} {verb} from `{origin}`.")
        if by_file and own:
            sentences.append(f"The other {kind} fields are the policy's own.")
    return sentences
