"""How the pieces of a policy are written: literals, durations, types,
expressions (parenthesised only where precedence requires), long conditions
broken before `or` / `and`, and score rules. The formatter
(:mod:`mqldsl.language.printer`) lays whole policies out with these; the
checker, explanations, `diff` and the generated code's pattern keys quote
policy text with them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from mqldsl.language import ast
from mqldsl.language.continuation import CONTINUE_BEFORE

WIDTH = 100
INDENT = "  "


# ---------------------------------------------------------------- literals


def number(value: ast.Number) -> str:
    if isinstance(value, bool):  # pragma: no cover - bool is not a Number here
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if "." not in text:
        text += ".0"
    return text


def points(value: ast.Number) -> str:
    return number(value) if value < 0 else "+" + number(value)


def string(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def long_string(value: str) -> str:
    """A triple-quoted string; quotes are escaped only where they would end it."""
    escaped = value.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    body = escaped.rstrip('"')
    escaped = body + '\\"' * (len(escaped) - len(body))
    return f'"""\n{escaped}\n"""'


def instant(value: dt.datetime) -> str:
    utc = value.astimezone(dt.UTC)
    # (not strftime's %Y: it writes the year 1 as `1`, which no reader takes back)
    text = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}"
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def duration(value: ast.Duration) -> str:
    """A duration as written: its amount and unit, or the name of the
    duration param that stands for it (SPEC §5.2)."""
    return value.param if value.param is not None else value.text()


def sla_text(value: ast.Duration | ast.BusinessSla) -> str:
    """An SLA as written: ``4 hours``, ``4 business hours``, ``1 business day of emea``, or
    the name of the duration param that stands for it (SPEC §5.2)."""
    if isinstance(value, ast.Duration):
        return duration(value)
    return value.text()


def clock(minutes: int) -> str:
    """Minutes after midnight as ``HH:MM`` (1440 is ``24:00``)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def calendar_setting(node: ast.CalendarSetting) -> str:
    """One line of a `calendar` block, canonically."""
    if isinstance(node, ast.CalendarTimezone):
        return f"timezone {string(node.zone)}"
    if isinstance(node, ast.CalendarHours):
        return f"hours {clock(node.opens)} to {clock(node.closes)}"
    if isinstance(node, ast.CalendarDays):
        return "days " + (" to " if node.through else ", ").join(node.days)
    return "holidays [" + ", ".join(d.isoformat() for d in node.dates) + "]"


def type_expr(value: ast.TypeExpr) -> str:
    if isinstance(value, ast.SimpleType):
        return value.name
    if isinstance(value, ast.EnumType):
        return "enum(" + ", ".join(value.members) + ")"
    return "set of " + type_expr(value.element)


def literal(value: ast.Expr) -> str:
    """A value as written in params and examples."""
    return expr(value)


# ---------------------------------------------------------------- expressions

_OR, _AND, _NOT, _CMP, _ADD, _MUL, _UNARY, _ATOM = range(1, 9)


def _precedence(node: ast.Expr) -> int:
    if isinstance(node, ast.Or):
        return _OR
    if isinstance(node, ast.And):
        return _AND
    if isinstance(node, ast.Not):
        return _NOT
    if isinstance(node, ast.Compare | ast.Between | ast.Membership | ast.TextTest | ast.Presence):
        return _CMP
    if isinstance(node, ast.Arith):
        return _ADD if node.op in "+-" else _MUL
    if isinstance(node, ast.Unary):
        return _UNARY
    if isinstance(node, ast.NumberLit) and node.value < 0:
        return _UNARY
    return _ATOM


def _open_ended(node: ast.Expr) -> bool:
    """A pattern whose `where` condition runs to the end: anything printed
    after it would be read as part of the condition."""
    if isinstance(node, ast.Pattern):
        return node.where is not None and node.window is None
    if isinstance(node, ast.NoEvents):
        return _open_ended(node.pattern)
    if isinstance(node, ast.DaysSince):
        return node.where is not None
    return False


def expr(node: ast.Expr, minimum: int = 0) -> str:
    text = _expr(node)
    if _precedence(node) < minimum or (minimum > 0 and _open_ended(node)):
        return f"({text})"
    return text


def pattern_text(node: ast.Pattern) -> str:
    """An event pattern as written: `EVENT [where COND] [within D | ever]`."""
    return (node.event if node.event is not None else "event") + _qualifiers(node)


def _qualifiers(node: ast.Pattern) -> str:
    """What follows a pattern's event: ` where COND`, ` within D`, ` ever`."""
    text = ""
    if node.where is not None:
        text += " where " + expr(node.where)
    if node.window == "ever":
        text += " ever"
    elif isinstance(node.window, ast.Duration):
        text += " within " + duration(node.window)
    return text


class _ExprPrinter(ast.Visitor[str]):
    """An expression as written, each operand parenthesised only where its
    precedence requires (see :func:`expr`)."""

    def visit_Or(self, node: ast.Or) -> str:
        return " or ".join(expr(o, _AND) for o in node.operands)

    def visit_And(self, node: ast.And) -> str:
        return " and ".join(expr(o, _NOT) for o in node.operands)

    def visit_Not(self, node: ast.Not) -> str:
        return "not " + expr(node.operand, _NOT)

    def visit_Compare(self, node: ast.Compare) -> str:
        return f"{expr(node.left, _ADD)} {node.op} {expr(node.right, _ADD)}"

    def visit_Between(self, node: ast.Between) -> str:
        return (
            f"{expr(node.operand, _ADD)} between {expr(node.low, _ADD)} and {expr(node.high, _ADD)}"
        )

    def visit_Membership(self, node: ast.Membership) -> str:
        op = "not in" if node.negated else "in"
        return f"{expr(node.operand, _ADD)} {op} {expr(node.collection, _ADD)}"

    def visit_TextTest(self, node: ast.TextTest) -> str:
        return f"{expr(node.operand, _ADD)} {node.op} {expr(node.value, _ADD)}"

    def visit_Presence(self, node: ast.Presence) -> str:
        return f"{expr(node.operand, _ADD)} is {'missing' if node.missing else 'present'}"

    def visit_Arith(self, node: ast.Arith) -> str:
        if node.op in "+-":
            return f"{expr(node.left, _ADD)} {node.op} {expr(node.right, _MUL)}"
        return f"{expr(node.left, _MUL)} {node.op} {expr(node.right, _UNARY)}"

    def visit_Unary(self, node: ast.Unary) -> str:
        return "-" + expr(node.operand, _UNARY)

    def visit_NumberLit(self, node: ast.NumberLit) -> str:
        return number(node.value)

    def visit_StringLit(self, node: ast.StringLit) -> str:
        return string(node.value)

    def visit_BoolLit(self, node: ast.BoolLit) -> str:
        return "true" if node.value else "false"

    def visit_DateLit(self, node: ast.DateLit) -> str:
        return node.value.isoformat()

    def visit_InstantLit(self, node: ast.InstantLit) -> str:
        return instant(node.value)

    def visit_ListLit(self, node: ast.ListLit) -> str:
        return "[" + ", ".join(expr(i) for i in node.items) + "]"

    def visit_Name(self, node: ast.Name) -> str:
        return node.name

    def visit_AccountRef(self, node: ast.AccountRef) -> str:
        return "account." + node.field

    def visit_Pattern(self, node: ast.Pattern) -> str:
        return pattern_text(node)

    def visit_NoEvents(self, node: ast.NoEvents) -> str:
        return "no " + pattern_text(node.pattern)

    def visit_Count(self, node: ast.Count) -> str:
        return "count(" + pattern_text(node.pattern) + ")"

    def visit_Aggregate(self, node: ast.Aggregate) -> str:
        pattern = node.pattern
        event = pattern.event if pattern.event is not None else "event"
        return f"{node.function}({event}.{node.field}{_qualifiers(pattern)})"

    def visit_ContactCount(self, node: ast.ContactCount) -> str:
        return "count(distinct contact with " + pattern_text(node.pattern) + ")"

    def visit_DaysSince(self, node: ast.DaysSince) -> str:
        text = "days since " + (node.event if node.event is not None else "event")
        if node.where is not None:
            text += " where " + expr(node.where)
        return text


_expr = _ExprPrinter().visit


def broken(node: ast.Expr, first: int, indent: str) -> list[str]:
    """A condition split over lines before its top-level `or`s (and, where a
    part is still too long, before its `and`s). ``first`` is the width taken
    on the first line by what precedes the condition."""
    if isinstance(node, ast.Or):
        parts = [expr(o, _AND) for o in node.operands]
        joiner = "or"
        operands: Sequence[ast.Expr] = node.operands
    elif isinstance(node, ast.And):
        parts = [expr(o, _NOT) for o in node.operands]
        joiner = "and"
        operands = node.operands
    else:
        return [expr(node)]
    # Each later part starts its own line with the joiner, which is what lets
    # the statement go on (continuation.CONTINUE_BEFORE).
    assert joiner in CONTINUE_BEFORE
    lines: list[str] = []
    for index, (part, operand) in enumerate(zip(parts, operands, strict=True)):
        prefix = "" if index == 0 else f"{indent}{joiner} "
        start = first if index == 0 else len(prefix)
        if joiner == "or" and isinstance(operand, ast.And) and start + len(part) > WIDTH:
            sub = broken(operand, start, indent + INDENT)
            lines.append(prefix + sub[0])
            lines.extend(sub[1:])
        else:
            lines.append(prefix + part)
    return lines


# ---------------------------------------------------------------- rules


def rule_text(rule: ast.Rule) -> str:
    """A score rule on one line, as written: `+20 when ...`, `+5 per ..., max 15`."""
    return f"{points(rule.points)} {rule_condition(rule)}"


def rule_condition(rule: ast.Rule) -> str:
    """The rule without its points: `when ...` or `per ..., max N`."""
    if isinstance(rule, ast.WhenRule):
        return f"when {expr(rule.condition)}"
    each = "contact with " if rule.per_contact else ""
    text = f"per {each}{expr(rule.pattern)}"
    if rule.max is not None:
        text += f", max {number(rule.max)}"
    return text
