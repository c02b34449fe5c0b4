"""The shared MQL/SQL definitions document (`mqldsl docs`), rendered from the
checked policy with Jinja2 templates shipped in the package, so that it can
never drift from the rules."""

from __future__ import annotations

import hashlib
import html
import math
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.examples import run_example
from mqldsl.language import ast
from mqldsl.language.notation import number
from mqldsl.render import templating
from mqldsl.render.english import OPERATORS, English, duration, words
from mqldsl.render.english import number as english_number
from mqldsl.render.reports import LABELS, show
from mqldsl.simulation.metrics import MAIN


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _bound(value: float) -> str:
    return "unbounded" if math.isinf(value) else english_number(value)


def context(
    model: CheckedPolicy,
    changes: list[Any] | None = None,
    simulation: dict[str, Any] | None = None,
    date: str | None = None,
) -> dict[str, Any]:
    say = English(model)
    stages = []
    for index, stage in enumerate(model.stages.stages):
        stages.append(
            {
                "name": stage.name,
                "description": stage.description or "",
                "criteria": "every lead starts here"
                if index == 0
                else say.condition(stage.condition)
                if stage.condition
                else "",
                "mermaid": _mermaid_label(
                    stage.name + (f": {stage.description}" if stage.description else "")
                ),
            }
        )
    scores = []
    for name, info in model.scores.items():
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
                else None
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
                    "points": ("+" if rule.points > 0 else "−") + number(abs(rule.points)),
                    "window": window,
                    "cap": cap,
                    "label": rule.label or "",
                    "line": rule.span.line,
                }
            )
        scores.append(
            {
                "name": name,
                "description": node.description or "",
                "low": _bound(info.bounds.low),
                "high": _bound(info.bounds.high),
                "range": f"{number(node.range.low)} to {number(node.range.high)}"
                if node.range
                else "",
                "decay": f"{number(node.decay.percent)}% every {duration(node.decay.every)}"
                if node.decay
                else "",
                "formula": say.value(node.formula) if node.formula is not None else "",
                "rules": rules,
            }
        )
    params = [
        {
            "name": name,
            "value": ", ".join(str(v) for v in info.value)
            if isinstance(info.value, tuple)
            else str(info.value),
            "description": info.description or "",
        }
        for name, info in model.params.items()
    ]
    routes = [
        {
            "stage": route.stage,
            "queue": route.queue,
            "when": say.condition(route.condition) if route.condition is not None else "otherwise",
            "sla": duration(route.sla) if route.sla is not None else "no SLA",
        }
        for route in model.routes
    ]
    recycles = [
        {
            "from": r.from_stage,
            "to": r.to_stage,
            "from_index": model.stage_names.index(r.from_stage) + 1,
            "to_index": model.stage_names.index(r.to_stage) + 1,
            "when": say.condition(r.condition),
            "description": r.description or "",
        }
        for r in model.recycles
    ]
    evaluator = Evaluator(model)
    examples = []
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
                when = ", ".join(_time_text(t) for t in item.times)
                fields = ", ".join(
                    f"{words(e.name)} {_value_text(e.value)}" for e in item.entries or ()
                )
                did.append(f"{words(item.event)}{f' ({fields})' if fields else ''}: {when}")
        expected = [
            _expect_text(i)
            for i in example.items
            if isinstance(
                i, ast.ExpectStage | ast.ExpectDisqualified | ast.ExpectScore | ast.ExpectRoute
            )
        ]
        examples.append(
            {
                "name": example.name,
                "profile": profile,
                "did": did or ["nothing yet"],
                "expected": expected,
                "accepted": outcome.result.decision.stage not in ("disqualified",)
                and outcome.result.decision.stage != model.stage_names[0],
                "passes": outcome.passed,
                "actual": f"stage {outcome.result.decision.stage}",
                "failures": [f"expected {f.expected}, got {f.actual}" for f in outcome.failures],
            }
        )
    text = model.source.text
    return {
        "title": model.title,
        "version": number(model.version) if model.version is not None else "",
        "owner": model.owner or "",
        "effective": model.effective.isoformat() if model.effective else "",
        "about": model.about or "",
        "locked": model.locked,
        "stages": stages,
        "recycles": recycles,
        "scores": scores,
        "params": params,
        "disqualifiers": [
            {"reason": d.reason, "when": say.condition(d.condition)} for d in model.disqualifiers
        ],
        "routes": routes,
        "examples": examples,
        "changes": [c.text() for c in changes] if changes is not None else None,
        "simulation": _simulation(simulation) if simulation is not None else None,
        "source": model.source.name,
        "digest": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "date": date or "",
        "diagram": _svg_diagram(model),
    }


def _simulation(report: dict[str, Any]) -> dict[str, Any]:
    metrics = report.get("metrics") or report.get("proposed", {}).get("metrics", {})
    return {
        "leads": report.get("leads", report.get("proposed", {}).get("leads", "")),
        "as_of": report.get("as_of", report.get("proposed", {}).get("as_of", "")),
        "rows": [{"metric": LABELS.get(m, m), "value": show(metrics.get(m))} for m in MAIN],
    }


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
    return value.value.strftime("%Y-%m-%d %H:%M UTC")


def _expect_text(item: ast.ExampleItem) -> str:
    if isinstance(item, ast.ExpectStage):
        return f"stage {item.stage}"
    if isinstance(item, ast.ExpectDisqualified):
        return "disqualified" + (f' ("{item.reason}")' if item.reason else "")
    if isinstance(item, ast.ExpectScore):
        return f"{item.score} {OPERATORS[item.op]} {number(item.value)}"
    assert isinstance(item, ast.ExpectRoute)
    return f"routed to {item.queue}"


def _svg_diagram(model: CheckedPolicy) -> str:
    """The stages as boxes and arrows, inline SVG (escaped text)."""
    names = list(model.stage_names)
    box, gap, height = 130, 40, 44
    width = len(names) * box + (len(names) - 1) * gap + 20
    recycle_space = 50 if model.recycles else 0
    parts = [
        f'<svg role="img" aria-label="Lifecycle stages" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height + 40 + recycle_space}" viewBox="0 0 {width} {height + 40 + recycle_space}">',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
    ]
    for index, name in enumerate(names):
        x = 10 + index * (box + gap)
        parts.append(
            f'<rect x="{x}" y="10" width="{box}" height="{height}" rx="8" fill="#eef3f9" stroke="#3b6ea5"/>'
        )
        parts.append(
            f'<text x="{x + box / 2}" y="{10 + height / 2 + 5}" text-anchor="middle" font-size="14">{html.escape(name)}</text>'
        )
        if index + 1 < len(names):
            parts.append(
                f'<line x1="{x + box}" y1="{10 + height / 2}" x2="{x + box + gap - 2}" y2="{10 + height / 2}" stroke="#555" marker-end="url(#arrow)"/>'
            )
    for recycle in model.recycles:
        a = 10 + names.index(recycle.from_stage) * (box + gap) + box / 2
        b = 10 + names.index(recycle.to_stage) * (box + gap) + box / 2
        y = height + 10
        parts.append(
            f'<path d="M{a},{y} C{a},{y + 40} {b},{y + 40} {b},{y + 2}" fill="none" stroke="#b0494b" '
            f'stroke-dasharray="4 3" marker-end="url(#arrow)"/>'
        )
        parts.append(
            f'<text x="{(a + b) / 2}" y="{y + 45}" text-anchor="middle" font-size="11" fill="#b0494b">recycle</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render(model: CheckedPolicy, kind: str, **options: Any) -> str:
    data = context(model, **options)
    if kind == "html":
        return templating.render("definitions.html.j2", **data)
    return templating.render("definitions.md.j2", **data)
