"""Hover: what a name is, in Markdown. A field's type and description, an
event's fields, a param's value, a score's range and rules, a stage's
condition and routes, a queue's routes — the rules and conditions in plain
English (:mod:`mqldsl.render.english`, as the definitions document says
them). Over a rule, a disqualifier or a route, away from a name: that line
in English. The words need the checked model: while the policy has an
error, hover gives what the declarations alone say."""

from __future__ import annotations

from mqldsl.language import ast
from mqldsl.language.notation import duration, literal, type_expr
from mqldsl.language.source import Span
from mqldsl.lsp.document import Analysis
from mqldsl.lsp.symbols import Occurrence, Symbol
from mqldsl.render.english import English, number, sla

_KIND_WORDS = {
    "field": "lead field",
    "account_field": "account field",
    "event_field": "event field",
    "event": "event",
    "param": "param",
    "score": "score",
    "stage": "stage",
    "queue": "queue",
    "member": "enum member",
}

_NO_MODEL = "_(fix the policy's errors to see its rules in words)_"


def _inside(span: Span, file: str, line: int, column: int) -> bool:
    if span.file != file or line < span.line or line > span.end_line:
        return False
    if line == span.line and column < span.column:
        return False
    return not (line == span.end_line and column >= span.end_column)


def hover_text(analysis: Analysis, line: int, column: int) -> tuple[str, Span] | None:
    """The Markdown for the position (1-based line and column in characters)
    and the span it describes; None where there is nothing to say."""
    occurrence = analysis.names.at(analysis.name, line, column)
    if occurrence is not None:
        return describe(analysis, occurrence.symbol), _span(occurrence)
    return _statement(analysis, line, column)


def _span(occurrence: Occurrence) -> Span:
    return Span(
        occurrence.file, occurrence.line, occurrence.column, occurrence.line, occurrence.end_column
    )


def describe(analysis: Analysis, symbol: Symbol) -> str:
    head = f"**{symbol.name}** — {_KIND_WORDS[symbol.kind]}"
    say = _english(analysis)
    lines = [head]
    if symbol.kind in ("field", "account_field", "event_field"):
        lines += _field(analysis, symbol)
    elif symbol.kind == "event":
        lines += _event(analysis, symbol.name)
    elif symbol.kind == "param":
        lines += _param(analysis, symbol.name)
    elif symbol.kind == "score":
        lines += _score(analysis, symbol.name, say)
    elif symbol.kind == "stage":
        lines += _stage(analysis, symbol.name, say)
    elif symbol.kind == "queue":
        lines += _queue(analysis, symbol.name, say)
    else:
        fields = analysis.declared.members.get(symbol.name, [])
        lines.append("a value of " + ", ".join(f"`{f.name}`" for f in fields))
    return "\n\n".join(lines)


def _english(analysis: Analysis) -> English | None:
    return English(analysis.model, descriptions=True) if analysis.model is not None else None


def _field(analysis: Analysis, symbol: Symbol) -> list[str]:
    declared = analysis.declared
    table = (
        declared.fields
        if symbol.kind == "field"
        else declared.account_fields
        if symbol.kind == "account_field"
        else declared.event_fields(symbol.event)
    )
    decl = table.get(symbol.name)
    if decl is None:
        return []
    lines = [f"`{symbol.name}: {type_expr(decl.type)}`"]
    if symbol.kind == "event_field":
        lines[0] += f" of event `{symbol.event}`"
    if decl.description:
        lines.append(decl.description)
    return lines


def _event(analysis: Analysis, name: str) -> list[str]:
    decl = analysis.declared.events.get(name)
    if decl is None:
        return []
    lines = [decl.description] if decl.description else []
    if decl.fields:
        lines.append(
            "fields: " + ", ".join(f"`{f.name}: {type_expr(f.type)}`" for f in decl.fields)
        )
    else:
        lines.append("no fields")
    return lines


def _param(analysis: Analysis, name: str) -> list[str]:
    decl = analysis.declared.params.get(name)
    if decl is None:
        return []
    value = decl.value
    shown = duration(value) if isinstance(value, ast.Duration) else literal(value)
    lines = [f"`{name} = {shown}`"]
    if analysis.model is not None and name in analysis.model.params:
        lines[0] += f" ({analysis.model.params[name].type})"
    if decl.description:
        lines.append(decl.description)
    return lines


def _score(analysis: Analysis, name: str, say: English | None) -> list[str]:
    decl = analysis.declared.scores.get(name)
    if decl is None:
        return []
    lines = [decl.description] if decl.description else []
    if decl.range is not None:
        lines.append(f"kept between {number(decl.range.low)} and {number(decl.range.high)}")
    if analysis.model is not None and name in analysis.model.scores:
        lines.append(f"range: {analysis.model.scores[name].bounds.text()}")
    if say is None:
        return [*lines, _NO_MODEL]
    if decl.formula is not None:
        lines.append(f"= {say.value(decl.formula)}")
    rules = [f"- {say.rule(rule)}" for rule in decl.rules or ()]
    if rules:
        lines.append("\n".join(rules))
    return lines


def _stage(analysis: Analysis, name: str, say: English | None) -> list[str]:
    stages = list(analysis.declared.stages.values())
    decl = analysis.declared.stages.get(name)
    if decl is None:
        return []
    lines = [f"stage {stages.index(decl) + 1} of {len(stages)}"]
    if decl.description:
        lines.append(decl.description)
    if say is None:
        return [*lines, _NO_MODEL]
    if decl.condition is None:
        lines.append("where every lead starts")
    else:
        lines.append(f"reached when {say.condition(decl.condition)}")
    routes = [r for r in analysis.declared.routes() if r.stage == name]
    for route in routes:
        lines.append(f"routed to `{route.queue}` {_route_words(analysis, route, say)}")
    return lines


def _route_words(analysis: Analysis, route: ast.Route, say: English) -> str:
    text = say.route_condition(route, f"`{route.stage}`")
    if route.on is None and route.condition is not None:
        text = f"when {text}"
    if route.sla is not None and analysis.model is not None:
        text += f", SLA {sla(route.sla, analysis.model)}"
    return text


def _queue(analysis: Analysis, name: str, say: English | None) -> list[str]:
    routes = analysis.declared.queues.get(name, [])
    if say is None:
        return [f"from stage `{r.stage}`" for r in routes] + [_NO_MODEL]
    return [f"from stage `{r.stage}` {_route_words(analysis, r, say)}" for r in routes]


def _statement(analysis: Analysis, line: int, column: int) -> tuple[str, Span] | None:
    """A rule, disqualifier, recycle or route under the position, in words."""
    say = _english(analysis)
    if say is None or analysis.model is None:
        return None
    for item in analysis.model.policy.items:
        if not _inside(item.span, analysis.name, line, column):
            continue
        if isinstance(item, ast.Score):
            for rule in item.rules or ():
                if _inside(rule.span, analysis.name, line, column):
                    return f"**{item.name}**: {say.rule(rule)}", rule.span
        elif isinstance(item, ast.Disqualify):
            return f"disqualified ({item.reason}) when {say.condition(item.condition)}", item.span
        elif isinstance(item, ast.Recycle):
            words = say.condition(item.condition)
            text = f"back from `{item.from_stage}` to `{item.to_stage}` when {words}"
            return text, item.span
        elif isinstance(item, ast.Route):
            words = _route_words(analysis, item, say)
            return f"from stage `{item.stage}` to `{item.queue}` {words}", item.span
        elif isinstance(item, ast.Stages):
            for stage in item.stages:
                if _inside(stage.span, analysis.name, line, column):
                    return describe(analysis, Symbol("stage", stage.name)), stage.span
    return None
