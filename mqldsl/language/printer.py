"""The canonical printer behind ``mqldsl fmt``.

It prints a policy from its AST in the order of SPEC §3, with two-space
indentation, one rule per line, normalised spacing and long conditions broken
before `or` / `and`. Comments are attached to the statement they belong to
(the one they precede, or the one they end a line of) and travel with it.
Printing is idempotent, and parsing the output gives an equal AST. How each
piece (a literal, an expression, a rule) is written is in
:mod:`mqldsl.language.notation`; this module lays the pieces out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mqldsl.language import ast
from mqldsl.language.diagnostics import ALLOW_PRAGMA
from mqldsl.language.notation import (
    INDENT,
    WIDTH,
    broken,
    calendar_setting,
    duration,
    expr,
    instant,
    literal,
    long_string,
    number,
    pattern_text,
    points,
    sla_text,
    string,
    type_expr,
)
from mqldsl.language.source import Source, Span

__all__ = ["canonical_items", "format_policy"]

_ORDER: dict[type, int] = {
    ast.PolicyTitle: 0,
    ast.Version: 1,
    ast.Owner: 2,
    ast.Effective: 3,
    ast.About: 4,
    ast.LeadBlock: 5,
    ast.AccountBlock: 6,
    ast.EventDecl: 7,
    ast.Include: 8,  # (SPEC §3's order: after the events, before the calendars)
    ast.Calendar: 9,
    ast.Param: 10,
    ast.Score: 11,
    ast.Stages: 12,
    ast.Disqualify: 13,
    ast.Recycle: 14,
    ast.Route: 15,
    ast.Example: 16,
}
_HEADER = {0, 1, 2, 3, 4}
_SETTING_ORDER: dict[type, int] = {
    ast.CalendarTimezone: 0,
    ast.CalendarHours: 1,
    ast.CalendarDays: 2,
    ast.CalendarHolidays: 3,
}


def format_policy(policy: ast.Policy, source: Source | None = None) -> str:
    """The canonical text of ``policy``. ``source`` (the text it was parsed
    from) lets the printer tell a comment on its own line from one that ends
    a line of code; without it every comment is treated as standing alone."""
    return _Printer(policy, source).run()


def canonical_items(policy: ast.Policy) -> ast.Policy:
    """The same policy with its items in the formatter's order (stable): what
    parsing the formatted text gives back."""
    items = tuple(
        _calendar_in_order(item) if isinstance(item, ast.Calendar) else item
        for item in sorted(policy.items, key=lambda item: _ORDER[type(item)])
    )
    return ast.Policy(items=items, comments=policy.comments, span=policy.span)


def _calendar_in_order(item: ast.Calendar) -> ast.Calendar:
    """A calendar's settings in the printed order: timezone, hours, days, holidays."""
    settings = tuple(sorted(item.settings, key=lambda s: _SETTING_ORDER[type(s)]))
    return ast.Calendar(name=item.name, settings=settings, span=item.span)


# ---------------------------------------------------------------- comments


@dataclass
class _Attached:
    leading: dict[int, list[ast.Comment]] = field(default_factory=dict)
    trailing: dict[int, list[ast.Comment]] = field(default_factory=dict)
    closing: dict[int, list[ast.Comment]] = field(default_factory=dict)
    end_of_file: list[ast.Comment] = field(default_factory=list)


def _children(node: object) -> Sequence[object]:
    if isinstance(node, ast.LeadBlock | ast.AccountBlock):
        return node.fields
    if isinstance(node, ast.EventDecl):
        return node.fields or ()
    if isinstance(node, ast.Score):
        return node.rules or ()
    if isinstance(node, ast.Stages):
        return node.stages
    if isinstance(node, ast.Example | ast.ExampleContact):
        return node.items
    if isinstance(node, ast.Calendar):
        return node.settings
    return ()


def _has_block(node: object) -> bool:
    return (
        isinstance(
            node,
            ast.LeadBlock
            | ast.AccountBlock
            | ast.Stages
            | ast.Example
            | ast.ExampleContact
            | ast.Calendar,
        )
        or (isinstance(node, ast.Score) and node.rules is not None)
        or (isinstance(node, ast.EventDecl) and node.fields is not None)
    )


def _span_of(node: object) -> Span:
    span = getattr(node, "span", None)
    assert isinstance(span, Span)
    return span


def _attach(policy: ast.Policy, source: Source | None) -> _Attached:
    attached = _Attached()

    def alone(comment: ast.Comment) -> bool:
        if source is None:
            return True
        return source.line_text(comment.line)[: comment.column - 1].strip() == ""

    def place(comment: ast.Comment, container: object | None, siblings: Sequence[object]) -> None:
        line = comment.line
        for index, node in enumerate(siblings):
            span = _span_of(node)
            if span.line <= line <= span.end_line:
                inner = _children(node)
                if _has_block(node) and span.line < line < span.end_line and alone(comment):
                    place(comment, node, inner)
                    return
                if inner and span.line < line < span.end_line:
                    place(comment, node, inner)
                    return
                if _has_block(node) and line == span.line < span.end_line and not alone(comment):
                    on_line = [c for c in inner if _span_of(c).line == line]
                    if on_line and ALLOW_PRAGMA.search(comment.text):
                        # (a pragma after statements on the block's first line: with each)
                        for child in on_line:
                            attached.trailing.setdefault(id(child), []).append(comment)
                        return
                    attached.closing.setdefault(-id(node), []).append(comment)
                    return
                if alone(comment) and line == span.line:
                    attached.leading.setdefault(id(node), []).append(comment)
                    return
                attached.trailing.setdefault(id(node), []).append(comment)
                if ALLOW_PRAGMA.search(comment.text):
                    # A pragma allows warnings on its line: it goes with each statement of
                    # that line (`x: int, y: int  # mqldsl: allow W505` puts one per field).
                    for other in siblings[index + 1 :]:
                        if _span_of(other).line <= line <= _span_of(other).end_line:
                            attached.trailing.setdefault(id(other), []).append(comment)
                return
            if span.line > line:
                attached.leading.setdefault(id(node), []).append(comment)
                return
        if container is None:
            attached.end_of_file.append(comment)
        else:
            attached.closing.setdefault(id(container), []).append(comment)

    for comment in policy.comments:
        place(comment, None, policy.items)
    return attached


# ---------------------------------------------------------------- statements


def _holidays(node: ast.CalendarHolidays, indent: int) -> list[str]:
    """``holidays [...]`` on one line, or the dates over several lines when it is too long."""
    dates = [d.isoformat() for d in node.dates]
    single = calendar_setting(node)
    if indent + len(single) <= WIDTH:
        return [single]
    lines, line = ["holidays ["], INDENT
    for date in dates:
        if len(line) > len(INDENT) and indent + len(line) + len(date) + 1 > WIDTH:
            lines.append(line.rstrip())
            line = INDENT
        line += date + ", "
    lines += [line.rstrip(), "]"]
    return lines


class _Printer:
    def __init__(self, policy: ast.Policy, source: Source | None) -> None:
        self.policy = policy
        self.comments = _attach(policy, source)
        self.lines: list[str] = []

    def run(self) -> str:
        # The items themselves (not canonical_items' copies): comments are attached by identity.
        items = sorted(self.policy.items, key=lambda item: _ORDER[type(item)])
        previous: int | None = None
        for item in items:
            rank = _ORDER[type(item)]
            if previous is not None and self._blank_between(previous, rank, item):
                self.lines.append("")
            self._item(item)
            previous = rank
        if self.comments.end_of_file:
            if self.lines:
                self.lines.append("")
            self.lines.extend(c.text for c in self.comments.end_of_file)
        return "\n".join(self.lines) + "\n"

    def _blank_between(self, previous: int, rank: int, item: ast.Item) -> bool:
        if previous in _HEADER and rank in _HEADER:
            return False
        if previous != rank:
            return True
        return (_has_block(item) and not isinstance(item, ast.EventDecl)) or isinstance(
            item, ast.Score
        )

    # -- emitting

    def _leading(self, node: object, indent: str) -> None:
        for comment in self.comments.leading.get(id(node), []):
            self.lines.append(indent + comment.text)

    def _emit(self, node: object, indent: str, lines: list[str]) -> None:
        """Emit a statement's lines with its comments."""
        self._leading(node, indent)
        trailing = self.comments.trailing.get(id(node), [])
        lines = [indent + line for line in lines]
        if trailing:
            lines[-1] += "  " + " ".join(c.text for c in trailing)
        self.lines.extend(lines)

    def _open(self, node: object, indent: str, head: str) -> None:
        self._leading(node, indent)
        line = indent + head + " {"
        opening = self.comments.closing.get(-id(node), [])
        if opening:
            line += "  " + " ".join(c.text for c in opening)
        self.lines.append(line)

    def _close(self, node: object, indent: str) -> None:
        for comment in self.comments.closing.get(id(node), []):
            self.lines.append(indent + INDENT + comment.text)
        trailing = self.comments.trailing.get(id(node), [])
        line = indent + "}"
        if trailing:
            line += "  " + " ".join(c.text for c in trailing)
        self.lines.append(line)

    def _inline_ok(self, node: object) -> bool:
        """A braced statement may stay on one line only if no comment sits inside it."""
        if self.comments.closing.get(id(node)) or self.comments.closing.get(-id(node)):
            return False
        return not any(
            self.comments.leading.get(id(c)) or self.comments.trailing.get(id(c))
            for c in _children(node)
        )

    def _condition(self, head: str, node: ast.Expr, tail: str, indent: str) -> list[str]:
        """``head + condition + tail``, broken before `or`/`and` when too long."""
        single = head + expr(node) + tail
        if len(indent) + len(single) <= WIDTH or not isinstance(node, ast.Or | ast.And):
            return [single]
        lines = broken(node, len(indent) + len(head), INDENT)
        lines[0] = head + lines[0]
        lines[-1] += tail
        return lines

    # -- items

    def _item(self, item: ast.Item) -> None:
        if isinstance(item, ast.PolicyTitle):
            self._emit(item, "", [f"policy {string(item.title)}"])
        elif isinstance(item, ast.Version):
            self._emit(item, "", [f"version {number(item.number)}"])
        elif isinstance(item, ast.Owner):
            self._emit(item, "", [f"owner {string(item.owner)}"])
        elif isinstance(item, ast.Effective):
            self._emit(item, "", [f"effective {item.date.isoformat()}"])
        elif isinstance(item, ast.About):
            text = long_string(item.text) if "\n" in item.text else string(item.text)
            self._emit(item, "", f"about {text}".split("\n"))
        elif isinstance(item, ast.Include):
            self._emit(item, "", [f"include {string(item.path)}"])
        elif isinstance(item, ast.LeadBlock | ast.AccountBlock):
            keyword = "lead" if isinstance(item, ast.LeadBlock) else "account"
            self._fields_block(item, keyword, item.fields, inline=False)
        elif isinstance(item, ast.EventDecl):
            head = f"event {item.name}" + (
                f" {string(item.description)}" if item.description is not None else ""
            )
            if item.fields is None:
                self._emit(item, "", [head])
            else:
                self._fields_block(item, head, item.fields, inline=True)
        elif isinstance(item, ast.Calendar):
            self._calendar(item)
        elif isinstance(item, ast.Param):
            value = item.value
            shown = duration(value) if isinstance(value, ast.Duration) else literal(value)
            line = f"param {item.name} = {shown}"
            if item.description is not None:
                line += f" {string(item.description)}"
            self._emit(item, "", [line])
        elif isinstance(item, ast.Score):
            self._score(item)
        elif isinstance(item, ast.Stages):
            self._stages(item)
        elif isinstance(item, ast.Disqualify):
            self._emit(
                item,
                "",
                self._condition(f"disqualify {string(item.reason)} when ", item.condition, "", ""),
            )
        elif isinstance(item, ast.Recycle):
            tail = f" {string(item.description)}" if item.description is not None else ""
            head = f"recycle {item.from_stage} to {item.to_stage} when "
            self._emit(item, "", self._condition(head, item.condition, tail, ""))
        elif isinstance(item, ast.Route):
            head = f"route {item.stage} to {item.queue}"
            if item.on is not None:
                head += f" on {pattern_text(item.on)}"
            tail = f", sla {sla_text(item.sla)}" if item.sla is not None else ""
            if item.condition is None:
                self._emit(item, "", [head + tail])
            else:
                self._emit(item, "", self._condition(head + " when ", item.condition, tail, ""))
        elif isinstance(item, ast.Example):
            self._example(item)

    def _calendar(self, item: ast.Calendar) -> None:
        head = "calendar" + (f" {item.name}" if item.name is not None else "")
        if not item.settings:
            self._emit(item, "", [head + " {}"])
            return
        self._open(item, "", head)
        inner = INDENT
        for setting in _calendar_in_order(item).settings:
            if isinstance(setting, ast.CalendarHolidays):
                self._emit(setting, inner, _holidays(setting, len(inner)))
            else:
                self._emit(setting, inner, [calendar_setting(setting)])
        self._close(item, "")

    def _fields_block(
        self, node: object, head: str, fields: Sequence[ast.FieldDecl], inline: bool
    ) -> None:
        rendered = [self._field(f) for f in fields]
        if not fields:
            self._emit(node, "", [head + " {}"])
            return
        one_line = f"{head} {{ " + ", ".join(rendered) + " }"
        if inline and len(one_line) <= WIDTH and self._inline_ok(node):
            self._emit(node, "", [one_line])
            return
        self._open(node, "", head)
        for f, text in zip(fields, rendered, strict=True):
            self._emit(f, INDENT, [text])
        self._close(node, "")

    def _field(self, f: ast.FieldDecl) -> str:
        text = f"{f.name}: {type_expr(f.type)}"
        if f.description is not None:
            text += f" {string(f.description)}"
        return text

    def _score(self, score: ast.Score) -> None:
        head = f"score {score.name}"
        if score.on_account:
            head += " on account"
        if score.description is not None:
            head += f" {string(score.description)}"
        if score.formula is not None:
            self._emit(score, "", self._condition(head + " = ", score.formula, "", ""))
            return
        if score.range is not None:
            head += f" range {number(score.range.low)} to {number(score.range.high)}"
        if score.decay is not None:
            head += f" decay {number(score.decay.percent)}% every {duration(score.decay.every)}"
        rules = score.rules or ()
        if not rules and self._inline_ok(score):
            self._emit(score, "", [head + " {}"])
            return
        self._open(score, "", head)
        for rule in rules:
            self._emit(rule, INDENT, self._rule(rule))
        self._close(score, "")

    def _rule(self, rule: ast.Rule) -> list[str]:
        label = f" {string(rule.label)}" if rule.label is not None else ""
        if isinstance(rule, ast.WhenRule):
            return self._condition(f"{points(rule.points)} when ", rule.condition, label, INDENT)
        each = "contact with " if rule.per_contact else ""
        text = f"{points(rule.points)} per {each}{pattern_text(rule.pattern)}"
        if rule.max is not None:
            text += f", max {number(rule.max)}"
        return [text + label]

    def _stages(self, stages: ast.Stages) -> None:
        self._open(stages, "", "stages locked" if stages.locked else "stages")
        for stage in stages.stages:
            head = stage.name
            if stage.description is not None:
                head += f" {string(stage.description)}"
            if stage.condition is None:
                self._emit(stage, INDENT, [head])
            else:
                self._emit(
                    stage, INDENT, self._condition(head + " when ", stage.condition, "", INDENT)
                )
        self._close(stages, "")

    def _record(self, entries: Sequence[ast.Entry]) -> str:
        if not entries:
            return "{}"
        return "{ " + ", ".join(f"{e.name}: {literal(e.value)}" for e in entries) + " }"

    def _example(self, example: ast.Example) -> None:
        head = f"example {string(example.name)}"
        if example.at is not None:
            head += " at " + expr(example.at)
        if not example.items and self._inline_ok(example):
            self._emit(example, "", [head + " {}"])
            return
        self._open(example, "", head)
        for item in example.items:
            self._example_item(item)
        self._close(example, "")

    def _example_item(self, item: ast.ExampleItem, indent: str = INDENT) -> None:
        if isinstance(item, ast.ExampleLead):
            line = "lead " + self._record(item.entries)
            if len(indent + line) > WIDTH and item.entries:
                lines = ["lead {"]
                lines += [f"{INDENT}{e.name}: {literal(e.value)}" for e in item.entries]
                lines.append("}")
                self._emit(item, indent, lines)
            else:
                self._emit(item, indent, [line])
        elif isinstance(item, ast.ExampleEvent):
            text = item.event
            if item.entries is not None:
                text += " " + self._record(item.entries)
            text += " at " + ", ".join(_time(t) for t in item.times)
            self._emit(item, indent, [text])
        elif isinstance(item, ast.ExampleAccount):
            self._emit(item, indent, ["account " + self._record(item.entries)])
        elif isinstance(item, ast.ExampleContact):
            self._open(item, indent, f"contact {string(item.id)}")
            for part in item.items:
                self._example_item(part, indent + INDENT)
            self._close(item, indent)
        else:
            self._emit(item, indent, [expectation(item)])


def expectation(item: ast.Expectation) -> str:
    """An expectation in canonical form (``expect stage in [lead, mql]``)."""
    if isinstance(item, ast.ExpectStage):
        return f"expect stage {item.stage}"
    if isinstance(item, ast.ExpectStageIn):
        return f"expect stage in [{', '.join(item.stages)}]"
    if isinstance(item, ast.ExpectDisqualified):
        reason = f" {string(item.reason)}" if item.reason is not None else ""
        return f"expect disqualified{reason}"
    if isinstance(item, ast.ExpectNotDisqualified):
        return "expect not disqualified"
    if isinstance(item, ast.ExpectScore):
        return f"expect {item.score} {item.op} {_amount(item.value)}"
    if isinstance(item, ast.ExpectBetween):
        score = f"account.{item.score}" if item.account else item.score
        return f"expect {score} between {_amount(item.low)} and {_amount(item.high)}"
    if isinstance(item, ast.ExpectRoute):
        return f"expect route {item.queue}"
    if isinstance(item, ast.ExpectNoRoute):
        return "expect route none"
    if isinstance(item, ast.ExpectAccountScore):
        return f"expect account.{item.score} {item.op} {_amount(item.value)}"
    return f"expect due {_time(item.when)}"


def _amount(value: ast.Amount) -> str:
    return value.name if isinstance(value, ast.Name) else number(value.value)


def _time(value: ast.TimeRef) -> str:
    if isinstance(value, ast.RelativeTime):
        return ("-" if value.sign < 0 else "+") + duration(value.duration)
    if isinstance(value, ast.DateLit):
        return value.value.isoformat()
    return instant(value.value)
