"""Lark's reductions -> typed AST (:mod:`mqldsl.language.ast`).

One explicit transformer builds every node with its span, embedded in Lark's
LALR parser: each rule's node is made as the parser reduces it, so no parse
tree is built and walked (the large-policy benchmark depends on this). The
spans come from :class:`~mqldsl.language.spans.SpanTracker`. This module holds
the rules for the statements (header, declarations, scores, lifecycle,
examples); values and expressions, and the state every rule shares, are in
:mod:`mqldsl.language.expression_builder`.
"""

from __future__ import annotations

from typing import Any

from lark import Token, v_args

from mqldsl.language import ast
from mqldsl.language.diagnostics import error
from mqldsl.language.expression_builder import ExpressionBuilder
from mqldsl.language.suggestions import closest

SIMPLE_TYPES = ("int", "number", "bool", "text", "date")
BUSINESS_LIMIT_DAYS = 3660  # the longest business SLA, in business days (ten years)


@v_args(inline=True)
class AstBuilder(ExpressionBuilder):
    """Builds AST nodes while Lark parses (an embedded transformer, so no
    parse tree is built first); problems that the grammar cannot express
    (unknown types, bad dates, reserved names) become diagnostics."""

    # -- header

    def start(self, *items: Any) -> list[ast.Item]:
        return [item for item in items if item is not None]

    def policy_title(self, title: ast.StringLit) -> ast.PolicyTitle:
        return ast.PolicyTitle(title=title.value, span=self.here)

    def version(self, number: Token) -> ast.Version:
        return ast.Version(number=self._number(number), span=self.here)

    def owner(self, owner: ast.StringLit) -> ast.Owner:
        return ast.Owner(owner=owner.value, span=self.here)

    def effective(self, token: Token) -> ast.Effective:
        return ast.Effective(date=self._date(token), span=self.here)

    def about(self, text: ast.StringLit) -> ast.About:
        return ast.About(text=text.value, span=self.here)

    def include(self, path: ast.StringLit) -> ast.Include:
        return ast.Include(path=path.value, span=self.here)

    # -- declarations

    def field_block(self, *fields: ast.FieldDecl | None) -> tuple[ast.FieldDecl, ...]:
        return tuple(f for f in fields if f is not None)

    def lead_block(self, fields: tuple[ast.FieldDecl, ...]) -> ast.LeadBlock:
        return ast.LeadBlock(fields=fields, span=self.here)

    def account_block(self, fields: tuple[ast.FieldDecl, ...]) -> ast.AccountBlock:
        return ast.AccountBlock(fields=fields, span=self.here)

    def event_decl(
        self,
        name: Token,
        description: ast.StringLit | None,
        fields: tuple[ast.FieldDecl, ...] | None,
    ) -> ast.EventDecl:
        return ast.EventDecl(
            name=self._ident(name),
            description=description.value if description else None,
            fields=fields,
            span=self.here,
        )

    def field(
        self, name: Token, type_: ast.TypeExpr, description: ast.StringLit | None
    ) -> ast.FieldDecl:
        return ast.FieldDecl(
            name=self._ident(name),
            type=type_,
            description=description.value if description else None,
            span=self.here,
        )

    def simple_type(self, name: Token) -> ast.SimpleType:
        text = str(name)
        if text not in SIMPLE_TYPES:
            aliases = {
                "string": "text",
                "str": "text",
                "float": "number",
                "integer": "int",
                "boolean": "bool",
                "decimal": "number",
                "datetime": "date",
            }
            suggestion = aliases.get(text) or closest(text, [*SIMPLE_TYPES, "enum", "set"])
            self.diagnostics.append(
                error(
                    "E113",
                    f"unknown type `{text}`",
                    self._tok_span(name),
                    (f"did you mean `{suggestion}`? " if suggestion else "")
                    + "the types are int, number, bool, text, date, enum(...), set of text "
                    "and set of enum(...)",
                )
            )
        return ast.SimpleType(name=text, span=self.here)

    def enum_type(self, *members: Token | None) -> ast.EnumType:
        return ast.EnumType(
            members=tuple(self._ident(m) for m in members if m is not None), span=self.here
        )

    def set_type(self, element: ast.TypeExpr) -> ast.SetType:
        return ast.SetType(element=element, span=self.here)

    def param_decl(
        self, name: Token, value: ast.ParamValue, description: ast.StringLit | None
    ) -> ast.Param:
        return ast.Param(
            name=self._ident(name),
            value=value,
            description=description.value if description else None,
            span=self.here,
        )

    # -- calendars (SPEC §8.1)

    def calendar(self, name: Token | None, *settings: ast.CalendarSetting | None) -> ast.Calendar:
        return ast.Calendar(
            name=self._ident(name) if name is not None else None,
            settings=tuple(s for s in settings if s is not None),
            span=self.here,
        )

    def calendar_timezone(self, zone: ast.StringLit) -> ast.CalendarTimezone:
        return ast.CalendarTimezone(zone=zone.value, span=self.here)

    def calendar_hours(self, opens: Token, closes: Token) -> ast.CalendarHours:
        return ast.CalendarHours(
            opens=self._clock(opens), closes=self._clock(closes), span=self.here
        )

    def _clock(self, token: Token) -> int:
        """``HH:MM`` -> minutes after midnight; 24:00 is the midnight that ends a day."""
        hours, minutes = (int(part) for part in str(token).split(":"))
        if (hours < 24 and minutes < 60) or (hours, minutes) == (24, 0):
            return hours * 60 + minutes
        self.diagnostics.append(
            error(
                "E107",
                f"`{token}` is not a time of day",
                self._tok_span(token),
                "write a time from 00:00 to 24:00, e.g. `09:00` or `17:30`",
            )
        )
        return 0

    def calendar_day_range(self, first: Token, last: Token) -> ast.CalendarDays:
        return ast.CalendarDays(
            days=(str(first), str(last)),
            through=True,
            span=self.here,
            day_spans=(self._tok_span(first), self._tok_span(last)),
        )

    def calendar_day_list(self, *days: Token) -> ast.CalendarDays:
        return ast.CalendarDays(
            days=tuple(str(d) for d in days),
            through=False,
            span=self.here,
            day_spans=tuple(self._tok_span(d) for d in days),
        )

    def calendar_holidays(self, *dates: Token | None) -> ast.CalendarHolidays:
        return ast.CalendarHolidays(
            dates=tuple(self._date(d) for d in dates if d is not None), span=self.here
        )

    # -- scores

    def on_account(self) -> bool:
        return True

    def score_rules(
        self,
        name: Token,
        on_account: bool | None,
        description: ast.StringLit | None,
        *rest: Any,
    ) -> ast.Score:
        range_: ast.RangeOption | None = None
        decay: ast.DecayOption | None = None
        rules: list[ast.Rule] = []
        for item in rest:
            if isinstance(item, ast.RangeOption):
                range_ = item
            elif isinstance(item, ast.DecayOption):
                decay = item
            elif item is not None:
                rules.append(item)
        return ast.Score(
            name=self._ident(name),
            description=description.value if description else None,
            range=range_,
            decay=decay,
            rules=tuple(rules),
            formula=None,
            on_account=bool(on_account),
            span=self.here,
        )

    def score_formula(
        self,
        name: Token,
        on_account: bool | None,
        description: ast.StringLit | None,
        formula: ast.Expr,
    ) -> ast.Score:
        return ast.Score(
            name=self._ident(name),
            description=description.value if description else None,
            range=None,
            decay=None,
            rules=None,
            formula=formula,
            on_account=bool(on_account),
            span=self.here,
        )

    def range_option(self, low: ast.NumberLit, high: ast.NumberLit) -> ast.RangeOption:
        return ast.RangeOption(low=low.value, high=high.value, span=self.here)

    def decay_option(self, percent: Token, every: ast.Duration) -> ast.DecayOption:
        return ast.DecayOption(percent=self._number(percent), every=every, span=self.here)

    def when_rule(
        self, points: Token, condition: ast.Expr, label: ast.StringLit | None
    ) -> ast.WhenRule:
        return ast.WhenRule(
            points=self._number(points, str(points).lstrip("+")),
            condition=condition,
            label=label.value if label else None,
            span=self.here,
        )

    def per_rule(
        self,
        points: Token,
        pattern: ast.Pattern,
        cap: Token | None,
        label: ast.StringLit | None,
    ) -> ast.PerRule:
        return ast.PerRule(
            points=self._number(points, str(points).lstrip("+")),
            pattern=pattern,
            max=self._number(cap) if cap is not None else None,
            label=label.value if label else None,
            span=self.here,
        )

    def per_contact_rule(
        self,
        points: Token,
        word: Token,
        pattern: ast.Pattern,
        cap: Token | None,
        label: ast.StringLit | None,
    ) -> ast.PerRule:
        self._soft_word(word, "contact", "write `+P per contact with PATTERN`")
        return ast.PerRule(
            points=self._number(points, str(points).lstrip("+")),
            pattern=pattern,
            max=self._number(cap) if cap is not None else None,
            label=label.value if label else None,
            per_contact=True,
            span=self.here,
        )

    # -- lifecycle

    def stages_block(self, locked: Token | None, *stages: ast.Stage | None) -> ast.Stages:
        return ast.Stages(
            locked=locked is not None,
            stages=tuple(s for s in stages if s is not None),
            span=self.here,
        )

    def stage(
        self, name: Token, description: ast.StringLit | None, condition: ast.Expr | None
    ) -> ast.Stage:
        return ast.Stage(
            name=self._ident(name),
            description=description.value if description else None,
            condition=condition,
            span=self.here,
        )

    def disqualify(self, reason: ast.StringLit, condition: ast.Expr) -> ast.Disqualify:
        return ast.Disqualify(reason=reason.value, condition=condition, span=self.here)

    def recycle(
        self,
        from_stage: Token,
        to_stage: Token,
        condition: ast.Expr,
        description: ast.StringLit | None,
    ) -> ast.Recycle:
        return ast.Recycle(
            from_stage=self._ident(from_stage),
            to_stage=self._ident(to_stage),
            condition=condition,
            description=description.value if description else None,
            span=self.here,
        )

    def route(
        self,
        stage: Token,
        queue: Token,
        on: ast.Pattern | None,
        condition: ast.Expr | None,
        sla: ast.Duration | ast.BusinessSla | None,
    ) -> ast.Route:
        return ast.Route(
            stage=self._ident(stage),
            queue=self._ident(queue),
            condition=condition,
            sla=sla,
            span=self.here,
            on=on,
        )

    def business_sla(self, amount: Token, unit: Token, calendar: Token | None) -> ast.BusinessSla:
        text = str(unit)
        base = text[:-1] if text.endswith("s") else text
        span = self.here
        if base not in ("minute", "hour", "day"):
            self.diagnostics.append(
                error(
                    "E130",
                    f"`business {text}` is not a business-hours unit",
                    self._tok_span(unit),
                    "write business minutes, business hours or business days "
                    "(a business day is one working day of the calendar)",
                )
            )
            base = "day"
        number = self._number(amount)
        # Counting working time walks the calendar day by day: ten years of it at most.
        if number * {"minute": 1 / 1440, "hour": 1 / 24, "day": 1.0}[base] > BUSINESS_LIMIT_DAYS:
            self.diagnostics.append(
                error(
                    "E114",
                    f"`{amount} business {text}` is out of range: a business SLA is at most "
                    f"{BUSINESS_LIMIT_DAYS:,} days, {BUSINESS_LIMIT_DAYS * 24:,} hours or "
                    f"{BUSINESS_LIMIT_DAYS * 1440:,} minutes",
                    span,
                    "use a shorter duration",
                )
            )
            number = 1
        return ast.BusinessSla(
            amount=number,
            unit=base,
            calendar=self._ident(calendar) if calendar is not None else None,
            span=span,
        )

    def route_on(self, pattern: ast.Pattern) -> ast.Pattern:
        return pattern

    # -- examples

    def example(
        self,
        name: ast.StringLit,
        at: ast.DateLit | ast.InstantLit | None,
        *items: ast.ExampleItem | None,
    ) -> ast.Example:
        return ast.Example(
            name=name.value,
            at=at,
            items=tuple(i for i in items if i is not None),
            span=self.here,
        )

    def record(self, *entries: ast.Entry | None) -> tuple[ast.Entry, ...]:
        return tuple(e for e in entries if e is not None)

    def entry(self, name: Token, value: ast.Value) -> ast.Entry:
        return ast.Entry(name=self._ident(name), value=value, span=self.here)

    def example_lead(self, entries: tuple[ast.Entry, ...]) -> ast.ExampleLead:
        return ast.ExampleLead(entries=entries, span=self.here)

    def example_event(
        self,
        name: Token,
        entries: tuple[ast.Entry, ...] | None,
        *times: ast.TimeRef,
    ) -> ast.ExampleEvent:
        return ast.ExampleEvent(
            event=self._ident(name), entries=entries, times=tuple(times), span=self.here
        )

    def example_account(self, entries: tuple[ast.Entry, ...]) -> ast.ExampleAccount:
        return ast.ExampleAccount(entries=entries, span=self.here)

    def example_contact(
        self,
        word: Token,
        contact: ast.StringLit,
        *items: ast.ExampleLead | ast.ExampleEvent | None,
    ) -> ast.ExampleContact:
        self._soft_word(word, "contact", 'write `contact "ID" { lead { ... }  EVENT at WHEN }`')
        return ast.ExampleContact(
            id=contact.value, items=tuple(i for i in items if i is not None), span=self.here
        )

    def ago(self, duration: ast.Duration) -> ast.RelativeTime:
        return ast.RelativeTime(sign=-1, duration=duration, span=self.here)

    def later(self, duration: ast.Duration) -> ast.RelativeTime:
        return ast.RelativeTime(sign=1, duration=duration, span=self.here)

    def expect_stage(self, stage: Token) -> ast.ExpectStage:
        return ast.ExpectStage(stage=self._ident(stage), span=self.here)

    def expect_stage_in(self, *stages: Token) -> ast.ExpectStageIn:
        return ast.ExpectStageIn(stages=tuple(self._ident(s) for s in stages), span=self.here)

    def expect_disqualified(self, reason: ast.StringLit | None) -> ast.ExpectDisqualified:
        return ast.ExpectDisqualified(reason=reason.value if reason else None, span=self.here)

    def expect_not_disqualified(self) -> ast.ExpectNotDisqualified:
        return ast.ExpectNotDisqualified(span=self.here)

    def expect_score(self, score: Token, op: Token, value: ast.Amount) -> ast.ExpectScore:
        return ast.ExpectScore(
            score=self._ident(score),
            op=str(op),  # type: ignore[arg-type]
            value=value,
            span=self.here,
        )

    def expect_account_score(
        self, score: Token, op: Token, value: ast.Amount
    ) -> ast.ExpectAccountScore:
        return ast.ExpectAccountScore(
            score=self._ident(score),
            op=str(op),  # type: ignore[arg-type]
            value=value,
            span=self.here,
        )

    def expect_between(self, score: Token, low: ast.Amount, high: ast.Amount) -> ast.ExpectBetween:
        return ast.ExpectBetween(score=self._ident(score), low=low, high=high, span=self.here)

    def expect_account_between(
        self, score: Token, low: ast.Amount, high: ast.Amount
    ) -> ast.ExpectBetween:
        return ast.ExpectBetween(
            score=self._ident(score), low=low, high=high, account=True, span=self.here
        )

    def expect_route(self, queue: Token) -> ast.ExpectRoute:
        return ast.ExpectRoute(queue=self._ident(queue), span=self.here)

    def expect_no_route(self) -> ast.ExpectNoRoute:
        return ast.ExpectNoRoute(span=self.here)

    def expect_due(self, when: ast.TimeRef) -> ast.ExpectDue:
        return ast.ExpectDue(when=when, span=self.here)
