"""Rules and conditions in plain English, for the definitions document,
`diff` and explanations: "company size is between 200 and 5,000", "at least
one demo request in the last 60 days", "fit is at least 30 (param
`mql_fit_min`)". Precedence and negation read unambiguously."""

from __future__ import annotations

import datetime as dt

from mqldsl.check.model import CheckedPolicy
from mqldsl.language import ast

OPERATORS = {
    "==": "is",
    "!=": "is not",
    "<": "is below",
    "<=": "is at most",
    ">": "is above",
    ">=": "is at least",
}


def words(name: str) -> str:
    """`company_size` -> `company size`."""
    return name.replace("_", " ").strip()


def number(value: float | int) -> str:
    if isinstance(value, float) and not value.is_integer():
        whole, _, fraction = f"{value:,.10f}".rstrip("0").partition(".")
        return f"{whole}.{fraction}" if fraction else whole
    return f"{int(value):,}"


def duration(value: ast.Duration) -> str:
    amount = number(value.amount)
    unit = value.unit if value.amount == 1 else value.unit + "s"
    return f"{amount} {unit}"


def window(value: ast.Window) -> str:
    if isinstance(value, ast.Duration):
        if value.amount == 1:
            return f"in the last {value.unit}"
        return f"in the last {duration(value)}"
    return "at any time"


class English:
    def __init__(self, model: CheckedPolicy) -> None:
        self.model = model

    # ------------------------------------------------------------ values

    def value(self, node: ast.Expr) -> str:
        if isinstance(node, ast.NumberLit):
            return number(node.value)
        if isinstance(node, ast.StringLit):
            return f'"{node.value}"'
        if isinstance(node, ast.BoolLit):
            return "yes" if node.value else "no"
        if isinstance(node, ast.DateLit):
            return node.value.isoformat()
        if isinstance(node, ast.InstantLit):
            return node.value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        if isinstance(node, ast.ListLit):
            return _either([self.value(i) for i in node.items])
        if isinstance(node, ast.Name):
            ref = self.model.refs.get(id(node))
            kind = ref.kind if ref is not None else "member"
            if kind == "param":
                info = self.model.params[node.name]
                value = info.value
                shown = (
                    _either([words(str(v)) for v in value])
                    if isinstance(value, tuple)
                    else number(value)
                    if isinstance(value, int | float) and not isinstance(value, bool)
                    else words(str(value))
                )
                return f"{shown} (param `{node.name}`)"
            if kind == "event":
                return f"at least one {words(node.name)} at any time"
            return words(node.name)
        if isinstance(node, ast.AccountRef):
            return f"the account's {words(node.field)}"
        if isinstance(node, ast.Unary):
            return f"minus {self.value(node.operand)}"
        if isinstance(node, ast.Arith):
            symbol = {"+": "+", "-": "−", "*": "×", "/": "÷"}[node.op]
            left = self.value(node.left)
            right = self.value(node.right)
            if isinstance(node.left, ast.Arith) and node.left.op in "+-" and node.op in "*/":
                left = f"({left})"
            if isinstance(node.right, ast.Arith) and (node.op in "*/" or node.op == "-"):
                right = f"({right})"
            return f"{left} {symbol} {right}"
        if isinstance(node, ast.Count):
            return f"the number of {self.pattern_noun(node.pattern, plural=True)}"
        if isinstance(node, ast.DaysSince):
            noun = self.pattern_noun(ast.Pattern(event=node.event, where=node.where, window="ever"))
            return f"the days since the last {noun}"
        return self.condition(node)

    # ------------------------------------------------------------ patterns

    def pattern_noun(self, pattern: ast.Pattern, plural: bool = False) -> str:
        if pattern.event is None:
            noun = "events" if plural else "activity"
        else:
            noun = words(pattern.event) + (
                "s" if plural and not pattern.event.endswith("s") else ""
            )
        if pattern.where is not None:
            noun += f" where {self.condition(pattern.where)}"
        if isinstance(pattern.window, ast.Duration):
            noun += f" {window(pattern.window)}"
        return noun

    def pattern(self, pattern: ast.Pattern) -> str:
        text = "any activity" if pattern.event is None else f"at least one {words(pattern.event)}"
        if pattern.where is not None:
            text += f" where {self.condition(pattern.where)}"
        return f"{text} {window(pattern.window)}"

    # ------------------------------------------------------------ conditions

    def condition(self, node: ast.Expr, nested: bool = False) -> str:
        if isinstance(node, ast.Or):
            # An `and` inside an `or` is bracketed so that the grouping reads one way only.
            text = " or ".join(
                f"({self.condition(o)})" if isinstance(o, ast.And) else self.condition(o, True)
                for o in node.operands
            )
            return f"({text})" if nested else text
        if isinstance(node, ast.And):
            parts = [
                f"({self.condition(o)})" if isinstance(o, ast.Or) else self.condition(o, True)
                for o in node.operands
            ]
            return " and ".join(parts)
        if isinstance(node, ast.Not):
            inner = node.operand
            if isinstance(inner, ast.Pattern):
                return self.condition(ast.NoEvents(pattern=inner))
            return f"not ({self.condition(inner)})"
        if isinstance(node, ast.Compare):
            op = OPERATORS[node.op]
            return f"{self.value(node.left)} {op} {self.value(node.right)}"
        if isinstance(node, ast.Between):
            return (
                f"{self.value(node.operand)} is between {self.value(node.low)} "
                f"and {self.value(node.high)}"
            )
        if isinstance(node, ast.Membership):
            verb = "is not" if node.negated else "is"
            collection = node.collection
            if isinstance(collection, ast.ListLit):
                options = [self.value(i) for i in collection.items]
                joined = _neither(options) if node.negated else _either(options)
                return f"{self.value(node.operand)} {verb} {joined}"
            return f"{self.value(node.operand)} {verb} one of {self.value(collection)}"
        if isinstance(node, ast.TextTest):
            operand = self.value(node.operand)
            kind = self.model.types.get(id(node.operand))
            if node.op == "contains" and kind is not None and kind.kind == "set":
                return f"{operand} includes {self.value(node.value)}"
            return f"{operand} {node.op} {self.value(node.value)}"
        if isinstance(node, ast.Presence):
            return f"{self.value(node.operand)} is {'unknown' if node.missing else 'known'}"
        if isinstance(node, ast.Pattern):
            return self.pattern(node)
        if isinstance(node, ast.NoEvents):
            p = node.pattern
            noun = "activity" if p.event is None else words(p.event)
            text = f"no {noun}"
            if p.where is not None:
                text += f" where {self.condition(p.where)}"
            return f"{text} {window(p.window)}"
        if isinstance(node, ast.Name):
            ref = self.model.refs.get(id(node))
            if ref is not None and ref.kind == "event":
                return f"at least one {words(node.name)} at any time"
            return f"{words(node.name)} is yes"
        if isinstance(node, ast.BoolLit):
            return "always" if node.value else "never"
        return self.value(node)

    # ------------------------------------------------------------ rules

    def rule(self, rule: ast.Rule) -> str:
        points = ("+" if rule.points > 0 else "−") + number(abs(rule.points))
        return f"{points} {self.rule_condition(rule)}"

    def rule_condition(self, rule: ast.Rule) -> str:
        """`when ...` or `for each ..., at most N`, without the points."""
        if isinstance(rule, ast.WhenRule):
            return f"when {self.condition(rule.condition)}"
        text = f"for each {self.pattern_noun(rule.pattern)}"
        if rule.max is not None:
            text += f", at most {number(rule.max)}"
        return text


def _either(options: list[str]) -> str:
    if len(options) <= 1:
        return options[0] if options else "nothing"
    return ", ".join(options[:-1]) + " or " + options[-1]


def _neither(options: list[str]) -> str:
    if len(options) <= 1:
        return options[0] if options else "anything"
    return ", ".join(options[:-1]) + " nor " + options[-1]
