"""Rules and conditions in plain English, for the definitions document
(`mqldsl docs`) and `mqldsl diff`: "company size is between 200 and 5,000", "at least
one demo request in the last 60 days", "fit is at least 30 (param
`mql_fit_min`)". Precedence and negation read unambiguously."""

from __future__ import annotations

import datetime as dt
import re

from mqldsl.analysis.calendars import CalendarInfo
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.language import ast
from mqldsl.render.grammar import event_noun

OPERATORS = {
    "==": "is",
    "!=": "is not",
    "<": "is below",
    "<=": "is at most",
    ">": "is above",
    ">=": "is at least",
}
#: The same of dates and instants.
TIME_OPERATORS = {
    **OPERATORS,
    "<": "is before",
    "<=": "is on or before",
    ">": "is after",
    ">=": "is on or after",
}


def words(name: str) -> str:
    """`company_size` -> `company size`."""
    return name.replace("_", " ").strip()


def number(value: float | int) -> str:
    if isinstance(value, float) and not value.is_integer():
        whole, _, fraction = f"{value:,.10f}".rstrip("0").partition(".")
        return f"{whole}.{fraction}" if fraction else whole
    return f"{int(value):,}"


def signed(value: float | int) -> str:
    """Points with their sign, "+20" or "-30": negative numbers are written
    with the ASCII hyphen-minus everywhere (tables, text, Markdown and HTML),
    as the policy writes them, so that searching for "-30" finds them."""
    return ("+" if value > 0 else "-" if value < 0 else "") + number(abs(value))


def duration(value: ast.Duration) -> str:
    """`30 days`; a duration param's name follows its value (SPEC §5.2):
    `30 days (param `demo_window`)`."""
    amount = number(value.amount)
    unit = value.unit if value.amount == 1 else value.unit + "s"
    return f"{amount} {unit}" + (f" (param `{value.param}`)" if value.param is not None else "")


_DAY_WORDS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def sla(value: ast.Duration | ast.BusinessSla, model: CheckedPolicy) -> str:
    """An SLA in words: "4 hours", or "4 business hours (New York working time)"."""
    if isinstance(value, ast.Duration):
        return duration(value)
    unit = value.unit if value.amount == 1 else value.unit + "s"
    text = f"{number(value.amount)} business {unit}"
    info = model.calendars.get(value.calendar)
    if info is None:
        return text
    owner = f"calendar {words(info.name)}: " if info.name is not None else ""
    return f"{text} ({owner}{_city(info.zone)} working time)"


def _city(zone: str) -> str:
    """`America/New_York` -> "New York" (the last part of an IANA name); the fixed offsets
    `Etc/GMT+5` -> "UTC-5" (POSIX signs: `Etc/GMT+5` is five hours behind UTC)."""
    fixed = re.fullmatch(r"Etc/GMT([+-])([0-9]+)", zone)
    if fixed is not None:
        return f"UTC{'-' if fixed[1] == '+' else '+'}{fixed[2]}"
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _days(weekdays: frozenset[int]) -> str:
    """Monday to Friday; Saturday and Sunday; Monday, Wednesday and Friday."""
    ordered = sorted(weekdays)
    if len(ordered) == 7:
        return "every day"
    # a run of three or more days (wrapping past Sunday) reads as "X to Y"
    for start in ordered:
        run = [(start + step) % 7 for step in range(len(ordered))]
        if set(run) == weekdays and len(run) >= 3:
            return f"{_DAY_WORDS[run[0]]} to {_DAY_WORDS[run[-1]]}"
    names = [_DAY_WORDS[d] for d in ordered]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def calendar(info: CalendarInfo) -> str:
    """A calendar in words (SPEC §8.1): "Monday to Friday, 9:00 to 17:30 New York time;
    not on 25 December 2026 or 1 January 2027"."""
    text = (
        f"{_days(info.weekdays)}, {_clock(info.opens)} to {_clock(info.closes)} "
        f"{_city(info.zone)} time ({info.zone})"
    )
    if info.holidays:
        dates = [f"{d.day} {d:%B} {d.year}" for d in info.holidays]
        listed = dates[0] if len(dates) == 1 else ", ".join(dates[:-1]) + " or " + dates[-1]
        text += f"; not on {listed}"
    return text


def window(value: ast.Window) -> str:
    if isinstance(value, ast.Duration):
        if value.amount == 1 and value.param is None:
            return f"in the last {value.unit}"
        return f"in the last {duration(value)}"
    return "at any time"


class English:
    """Plain English for the rules and conditions of one checked policy."""

    def __init__(self, model: CheckedPolicy, descriptions: bool = False) -> None:
        """``descriptions``: use the words the policy gives (event and param
        descriptions), as the definitions document does; without it (as
        `diff` needs, comparing meaning) the text depends on the rules only."""
        self.model = model
        self.descriptions = descriptions
        self._value = _Value(self)
        self._condition = _Condition(self)

    def value(self, node: ast.Expr) -> str:
        return self._value.visit(node)

    def condition(self, node: ast.Expr, nested: bool = False) -> str:
        """A condition; ``nested``: an `or` is bracketed (it is an operand)."""
        return self._condition.visit(node, nested)

    # ------------------------------------------------------------ patterns

    def event(self, name: str, plural: bool = False) -> str:
        """The event as a noun ("demo request", "teammate invites"), followed
        by its description where the policy gives one."""
        noun = event_noun(name)
        text = noun.plural if plural else noun.singular
        description = self._event_description(name)
        return f"{text} ({description})" if description else text

    def _event_description(self, name: str) -> str:
        info = self.model.events.get(name)
        if not self.descriptions or info is None or not info.description:
            return ""
        return f"“{info.description}”"

    def pattern_noun(self, pattern: ast.Pattern, plural: bool = False) -> str:
        if pattern.event is None:
            noun = "events" if plural else "activity"
        else:
            noun = self.event(pattern.event, plural)
        if pattern.where is not None:
            noun += f" where {self.condition(pattern.where)}"
        if isinstance(pattern.window, ast.Duration):
            noun += f" {window(pattern.window)}"
        return noun

    def pattern(self, pattern: ast.Pattern) -> str:
        """At least one matching event: in the policy's words (the event's
        description, its name in code font) where it gives them."""
        if pattern.event is None:
            text = "any activity"
        elif description := self._event_description(pattern.event):
            where = f" where {self.condition(pattern.where)}" if pattern.where is not None else ""
            return f"{description}{where} {window(pattern.window)} (`{pattern.event}`)"
        else:
            text = f"at least one {event_noun(pattern.event).singular}"
        if pattern.where is not None:
            text += f" where {self.condition(pattern.where)}"
        return f"{text} {window(pattern.window)}"

    def arrival(self, pattern: ast.Pattern) -> str:
        """The event of a hot-event route (SPEC §8) as it arrives: "a demo request arrives",
        "a form submit where form == pricing arrives"."""
        if pattern.event is None:
            text = "any event"
        else:
            noun = event_noun(pattern.event).one()
            description = self._event_description(pattern.event)
            text = f"{noun} ({description})" if description else noun
        if pattern.where is not None:
            text += f" where {self.condition(pattern.where)}"
        return text + " arrives"

    def route_condition(self, route: ast.Route, stage: str) -> str:
        """When a route applies, in words; ``stage`` is the stage as the reader names it.
        An entry route: its condition (or "otherwise"); a hot-event route: "when a demo
        request arrives while the lead is at `mql`" and its condition."""
        if route.on is None:
            return "otherwise" if route.condition is None else self.condition(route.condition)
        text = f"when {self.arrival(route.on)} while the lead is at {stage}"
        if route.condition is not None:
            text += f", if {self.condition(route.condition)}"
        return text

    def param(self, name: str, shown: str) -> str:
        """A param's value with its description and name: `30 ("Lowest fit
        score an MQL may have", param `mql_fit_min`)`."""
        info = self.model.params[name]
        if self.descriptions and info.description:
            return f"{shown} (“{info.description}”, param `{name}`)"
        return f"{shown} (param `{name}`)"

    # ------------------------------------------------------------ rules

    def rule(self, rule: ast.Rule) -> str:
        points = signed(rule.points)
        return f"{points} {self.rule_condition(rule)}"

    def rule_condition(self, rule: ast.Rule) -> str:
        """`when ...` or `for each ..., at most N`, without the points."""
        if isinstance(rule, ast.WhenRule):
            return f"when {self.condition(rule.condition)}"
        if rule.per_contact:
            noun = self.pattern_noun(rule.pattern, plural=True)
            text = f"for each person at the account with {noun}"
        else:
            text = f"for each {self.pattern_noun(rule.pattern)}"
        if rule.max is not None:
            text += f", at most {number(rule.max)}"
        return text


class _Value(ast.Visitor[str]):
    """A value in words: "company size", "30 (param `mql_fit_min`)"."""

    def __init__(self, english: English) -> None:
        self.say = english
        self.model = english.model

    def visit_NumberLit(self, node: ast.NumberLit) -> str:
        return number(node.value)

    def visit_StringLit(self, node: ast.StringLit) -> str:
        return f'"{node.value}"'

    def visit_BoolLit(self, node: ast.BoolLit) -> str:
        return "yes" if node.value else "no"

    def visit_DateLit(self, node: ast.DateLit) -> str:
        return node.value.isoformat()

    def visit_InstantLit(self, node: ast.InstantLit) -> str:
        moment = node.value.astimezone(dt.UTC)
        return f"{moment.year:04d}-{moment:%m-%d %H:%M} UTC"

    def visit_ListLit(self, node: ast.ListLit) -> str:
        return _either([self.visit(i) for i in node.items])

    def visit_Name(self, node: ast.Name) -> str:
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
            return self.say.param(node.name, shown)
        if kind == "event":
            return self.say.pattern(ast.Pattern(event=node.name, where=None, window="ever"))
        return words(node.name)

    def visit_AccountRef(self, node: ast.AccountRef) -> str:
        return f"the account's {words(node.field)}"

    def visit_Unary(self, node: ast.Unary) -> str:
        # (the ASCII hyphen-minus, as in the policy: docs/definitions.md)
        operand = self.visit(node.operand)
        return f"-({operand})" if isinstance(node.operand, ast.Arith) else f"-{operand}"

    def visit_Arith(self, node: ast.Arith) -> str:
        symbol = {"+": "+", "-": "-", "*": "×", "/": "÷"}[node.op]
        left = self.visit(node.left)
        right = self.visit(node.right)
        if isinstance(node.left, ast.Arith) and node.left.op in "+-" and node.op in "*/":
            left = f"({left})"
        if isinstance(node.right, ast.Arith) and (node.op in "*/" or node.op == "-"):
            right = f"({right})"
        return f"{left} {symbol} {right}"

    def visit_Count(self, node: ast.Count) -> str:
        return f"the number of {self.say.pattern_noun(node.pattern, plural=True)}"

    def visit_Aggregate(self, node: ast.Aggregate) -> str:
        # "the total `pipelines` of pipeline runs in the last 7 days"
        what = {"sum": "total", "max": "largest", "min": "smallest", "avg": "average"}
        noun = self.say.pattern_noun(node.pattern, plural=True)
        return f"the {what[node.function]} `{node.field}` of {noun}"

    def visit_ContactCount(self, node: ast.ContactCount) -> str:
        noun = self.say.pattern_noun(node.pattern, plural=True)
        return f"the number of people at the account with {noun}"

    def visit_DaysSince(self, node: ast.DaysSince) -> str:
        noun = self.say.pattern_noun(ast.Pattern(event=node.event, where=node.where, window="ever"))
        return f"the days since the last {noun}"

    def generic_visit(self, node: ast.Expr) -> str:
        return self.say.condition(node)


class _Condition(ast.ContextVisitor[bool, str]):
    """A condition in words; the context says whether it is nested in an `and`."""

    def __init__(self, english: English) -> None:
        self.say = english
        self.model = english.model

    def visit_Or(self, node: ast.Or, nested: bool) -> str:
        # An `and` inside an `or` is bracketed so that the grouping reads one way only.
        text = " or ".join(
            f"({self.visit(o, False)})" if isinstance(o, ast.And) else self.visit(o, True)
            for o in node.operands
        )
        return f"({text})" if nested else text

    def visit_And(self, node: ast.And, nested: bool) -> str:
        parts = [
            f"({self.visit(o, False)})" if isinstance(o, ast.Or) else self.visit(o, True)
            for o in node.operands
        ]
        return " and ".join(parts)

    def visit_Not(self, node: ast.Not, nested: bool) -> str:
        inner = node.operand
        if isinstance(inner, ast.Pattern):
            return self.visit(ast.NoEvents(pattern=inner), False)
        return f"not ({self.visit(inner, False)})"

    def visit_Compare(self, node: ast.Compare, nested: bool) -> str:
        value = self.say.value
        words_for = OPERATORS
        kind = self.model.types.get(id(node.left)) or self.model.types.get(id(node.right))
        if kind is not None and kind.kind in ("date", "instant"):  # "signed up before ..."
            words_for = TIME_OPERATORS
        return f"{value(node.left)} {words_for[node.op]} {value(node.right)}"

    def visit_Between(self, node: ast.Between, nested: bool) -> str:
        value = self.say.value
        return f"{value(node.operand)} is between {value(node.low)} and {value(node.high)}"

    def visit_Membership(self, node: ast.Membership, nested: bool) -> str:
        value = self.say.value
        verb = "is not" if node.negated else "is"
        collection = node.collection
        if isinstance(collection, ast.ListLit):
            options = [value(i) for i in collection.items]
            if node.negated and len(options) > 1:  # "is neither a nor b", "is none of ..."
                return f"{value(node.operand)} is {_neither(options)}"
            joined = _neither(options) if node.negated else _either(options)
            return f"{value(node.operand)} {verb} {joined}"
        return f"{value(node.operand)} {verb} one of {value(collection)}"

    def visit_TextTest(self, node: ast.TextTest, nested: bool) -> str:
        value = self.say.value
        operand = value(node.operand)
        kind = self.model.types.get(id(node.operand))
        if node.op == "contains" and kind is not None and kind.kind == "set":
            return f"{operand} includes {value(node.value)}"
        return f"{operand} {node.op} {value(node.value)}"

    def visit_Presence(self, node: ast.Presence, nested: bool) -> str:
        # (the policy's own words: "unknown" could be read as an enum member of that name)
        return f"{self.say.value(node.operand)} is {'missing' if node.missing else 'present'}"

    def visit_Pattern(self, node: ast.Pattern, nested: bool) -> str:
        return self.say.pattern(node)

    def visit_NoEvents(self, node: ast.NoEvents, nested: bool) -> str:
        p = node.pattern
        noun = "activity" if p.event is None else self.say.event(p.event)
        text = f"no {noun}"
        if p.where is not None:
            text += f" where {self.visit(p.where, False)}"
        return f"{text} {window(p.window)}"

    def visit_Name(self, node: ast.Name, nested: bool) -> str:
        ref = self.model.refs.get(id(node))
        if ref is not None and ref.kind == "event":
            return self.say.pattern(ast.Pattern(event=node.name, where=None, window="ever"))
        return f"{words(node.name)} is yes"

    def visit_BoolLit(self, node: ast.BoolLit, nested: bool) -> str:
        return "always" if node.value else "never"

    def generic_visit(self, node: ast.Expr, nested: bool) -> str:
        return self.say.value(node)


def _either(options: list[str]) -> str:
    if len(options) <= 1:
        return options[0] if options else "nothing"
    return ", ".join(options[:-1]) + " or " + options[-1]


def _neither(options: list[str]) -> str:
    """What "is not" is followed by: `student`, `neither a nor b`, `none of a, b or c`."""
    if len(options) <= 1:
        return options[0] if options else "anything"
    if len(options) == 2:
        return f"neither {options[0]} nor {options[1]}"
    return "none of " + ", ".join(options[:-1]) + " or " + options[-1]
