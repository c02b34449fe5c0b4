"""Explanations: why a lead is where it is, rule by rule, for the sales rep
reading a handoff (`mqldsl explain`, `score --explain`, `test`), and the stage
history (`mqldsl timeline`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import EvalResult
from mqldsl.engine.interpreter import Context, Interpreter
from mqldsl.engine.runtime import Event, Lead, TimelineStep, format_instant
from mqldsl.language import ast
from mqldsl.language.ast import walk
from mqldsl.language.notation import expr, rule_condition, rule_text

__all__ = ["explanation", "render_text", "render_timeline"]


def _events_of(node: ast.Expr | ast.Pattern, model: CheckedPolicy) -> list[ast.Pattern]:
    """The positive event patterns inside a condition."""
    found: list[ast.Pattern] = []
    if isinstance(node, ast.Pattern):
        return [node]
    for part in walk(node):
        if isinstance(part, ast.Pattern):
            found.append(part)
        elif isinstance(part, ast.Count):
            found.append(part.pattern)
        elif isinstance(part, ast.DaysSince):
            found.append(ast.Pattern(event=part.event, where=part.where, window=None))
        elif isinstance(part, ast.Name) and _is_event(model, part):
            found.append(ast.Pattern(event=part.name, where=None, window=None))
    return found


def _is_event(model: CheckedPolicy, node: ast.Name) -> bool:
    ref = model.refs.get(id(node))
    return ref is not None and ref.kind == "event"


def _event_json(event: Event) -> dict[str, Any]:
    fields = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in event.fields.items()}
    return {"at": format_instant(event.at), "type": event.type, **_plain(fields)}


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()}


def explanation(model: CheckedPolicy, lead: Lead, result: EvalResult) -> dict[str, Any]:
    """The explanation of a decision as JSON-ready data."""
    decision = result.decision
    contributions = result.contributions or {}
    interpreter = Interpreter(model)
    ctx = Context(lead, decision.as_of, result.journey_start, dict(decision.scores))
    scores: dict[str, Any] = {}
    for name, info in model.scores.items():
        node = info.node
        entry: dict[str, Any] = {
            "value": decision.scores.get(name),
            "lowest": info.bounds.low if info.bounds.low != float("-inf") else None,
            "highest": info.bounds.high if info.bounds.high != float("inf") else None,
        }
        if node.formula is not None:
            entry["formula"] = expr(node.formula)
        else:
            rules = []
            for rule, given in zip(node.rules or (), contributions.get(name, ()), strict=False):
                patterns = (
                    [rule.pattern]
                    if isinstance(rule, ast.PerRule)
                    else _events_of(rule.condition, model)
                )
                triggering: list[Event] = []
                if given:
                    for pattern in patterns:
                        triggering.extend(interpreter.matches(pattern, ctx))
                rules.append(
                    {
                        "line": rule.span.line,
                        "rule": rule_text(rule),
                        "condition": rule_condition(rule),
                        "label": rule.label,
                        "points": _number(given),
                        "events": [_event_json(e) for e in _unique(triggering)],
                    }
                )
            entry["rules"] = rules
            if node.range is not None:
                entry["range"] = [node.range.low, node.range.high]
        scores[name] = entry
    stage_checks = []
    for index, stage in enumerate(model.stages.stages):
        holds = index == 0 or (
            stage.condition is not None and bool(interpreter.eval(stage.condition, ctx))
        )
        stage_checks.append(
            {
                "stage": stage.name,
                "description": stage.description,
                "line": stage.span.line,
                "condition": expr(stage.condition) if stage.condition is not None else None,
                "holds": holds,
            }
        )
    disqualifiers = [
        {
            "reason": d.reason,
            "line": d.span.line,
            "condition": expr(d.condition),
            "holds": d.reason in decision.disqualified,
        }
        for d in model.disqualifiers
    ]
    route = None
    if decision.route is not None:
        route = {
            "queue": decision.route.queue,
            "sla": decision.route.sla,
            "entered": format_instant(decision.route.entered),
            "due": format_instant(decision.route.due) if decision.route.due is not None else None,
        }
    return {
        "stage": decision.stage,
        "scores": scores,
        "stages": stage_checks,
        "disqualifiers": disqualifiers,
        "route": route,
        "entered": {k: format_instant(v) for k, v in decision.entered.items()},
    }


def _unique(events: list[Event]) -> list[Event]:
    seen: dict[tuple[float, int, str], Event] = {}
    for event in events:
        seen.setdefault((event.at, event.index, event.type), event)
    return [seen[key] for key in sorted(seen)]


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


def render_text(model: CheckedPolicy, lead: Lead, data: dict[str, Any], as_of: float) -> str:
    """An explanation written for a sales rep, not a programmer."""
    lines: list[str] = []
    stage = data["stage"]
    described = {s.name: s.description for s in model.stages.stages}
    title = f"Lead {lead.id}, as of {format_instant(as_of)}: {stage}"
    if described.get(stage):
        title += f" ({described[stage]})"
    lines.append(title)
    route = data["route"]
    if route is not None:
        line = f"  Hand to {route['queue']}"
        if route["due"]:
            line += (
                f": first touch due by {route['due']} "
                f"({route['sla']} after entering {stage} at {route['entered']})"
            )
        lines.append(line)
    elif stage != "disqualified":
        lines.append("  No queue: no route applies to this stage.")
    held = [d for d in data["disqualifiers"] if d["holds"]]
    if held:
        for d in held:
            lines.append(f"  Disqualified: {d['reason']} — {d['condition']} (line {d['line']})")
    lines.append("")
    lines.append("Stages (in funnel order):")
    for check in data["stages"]:
        mark = "yes" if check["holds"] else "no "
        condition = check["condition"] or "entry stage"
        lines.append(f"  [{mark}] {check['stage']}: {condition}  (line {check['line']})")
    for name, score in data["scores"].items():
        lines.append("")
        bounds = ""
        if score["lowest"] is not None and score["highest"] is not None:
            bounds = f" (possible {_show(score['lowest'])} to {_show(score['highest'])})"
        lines.append(f"{name} = {_show(score['value'])}{bounds}")
        if "formula" in score:
            lines.append(f"  = {score['formula']}")
            continue
        given = [r for r in score["rules"] if r["points"]]
        for rule in given:
            label = rule["label"] or rule["condition"]
            lines.append(f"  {_signed(rule['points']):>7}  {label}  (line {rule['line']})")
            for event in rule["events"]:
                extra = ", ".join(f"{k}: {v}" for k, v in event.items() if k not in ("at", "type"))
                lines.append(
                    f"           {event['at']} {event['type']}" + (f" ({extra})" if extra else "")
                )
        missed = [r for r in score["rules"] if not r["points"]]
        if missed:
            lines.append("  not applied:")
            for rule in missed:
                lines.append(f"           {rule['label'] or rule['rule']}  (line {rule['line']})")
        if "range" in score:
            lines.append(f"  kept within {_show(score['range'][0])} to {_show(score['range'][1])}")
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _signed(value: float | int) -> str:
    text = _show(value)
    return text if text.startswith("-") else "+" + text


def render_timeline(lead: Lead, steps: Sequence[TimelineStep], as_of: float) -> str:
    lines = [f"Lead {lead.id}: stage history up to {format_instant(as_of)}"]
    width = max((len(s.stage) for s in steps), default=5)
    for step in steps:
        lines.append(f"  {format_instant(step.at)}  {step.stage.ljust(width)}  {step.reason}")
    return "\n".join(lines) + "\n"
