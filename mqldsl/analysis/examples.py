"""Checks of the examples inside a policy (SPEC §10): values against the
declared schema, event times, and expectations that name real stages,
scores, disqualify reasons and queues."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from mqldsl.analysis import types as T
from mqldsl.analysis.expressions import ExpressionChecker
from mqldsl.analysis.limits import MAX_INSTANTS, timeline_size
from mqldsl.analysis.model import FieldInfo, Ref
from mqldsl.language import ast
from mqldsl.language.notation import number
from mqldsl.language.source import Span
from mqldsl.language.suggestions import did_you_mean


class ExampleChecker(ExpressionChecker):
    def _check_examples(
        self,
        examples: Sequence[ast.Example],
        disqualifiers: Sequence[ast.Disqualify],
        routes: Sequence[ast.Route],
    ) -> None:
        effective = self.policy.first(ast.Effective)
        names: dict[str, ast.Example] = {}
        reasons = [d.reason for d in disqualifiers]
        queues = [r.queue for r in routes]
        for example in examples:
            if example.name in names:
                self.err(
                    "E208",
                    f'example "{example.name}" is declared twice',
                    example.span,
                    f"the first is on line {names[example.name].span.line}; "
                    "examples need distinct names",
                )
            names.setdefault(example.name, example)
            at = example_instant(example, effective.date if effective else None)
            if at is None:
                self.err(
                    "E407",
                    f'example "{example.name}" needs `at INSTANT`: '
                    "the policy has no `effective` date",
                    example.span,
                    'write `example "..." at 2026-12-01T00:00:00Z { ... }` or add `effective DATE`',
                )
            if at is not None:
                self._example_size(example, at)
            leads = [i for i in example.items if isinstance(i, ast.ExampleLead)]
            for extra in leads[1:]:
                self.err("E208", "an example has one `lead { ... }` record", extra.span)
            for item in example.items:
                if isinstance(item, ast.ExampleLead):
                    self._record(item.entries, self.fields, "lead field")
                elif isinstance(item, ast.ExampleEvent):
                    self._example_event(item, at)
                elif isinstance(item, ast.ExpectStage):
                    self._expected_stage(item.stage, item.span)
                elif isinstance(item, ast.ExpectStageIn):
                    for index, stage in enumerate(item.stages):
                        if stage in item.stages[:index]:
                            self.err("E208", f"`{stage}` is listed twice", item.span)
                        else:
                            self._expected_stage(stage, item.span)
                elif isinstance(item, ast.ExpectDisqualified):
                    if item.reason is not None and item.reason not in reasons:
                        self.err(
                            "E211",
                            f'no disqualifier has the reason "{item.reason}"',
                            item.span,
                            did_you_mean(item.reason, reasons)
                            or (
                                "the reasons are " + ", ".join(f'"{r}"' for r in reasons)
                                if reasons
                                else None
                            ),
                        )
                elif isinstance(item, ast.ExpectScore | ast.ExpectBetween):
                    self._expect_score(item)
                elif isinstance(
                    item, ast.ExampleAccount | ast.ExampleContact | ast.ExpectAccountScore
                ):
                    self._account_item(item, at, example)
                elif isinstance(item, ast.ExpectRoute) and item.queue not in queues:
                    self.err(
                        "E212",
                        f"no route sends leads to the queue `{item.queue}`",
                        item.span,
                        did_you_mean(item.queue, queues),
                    )
                elif isinstance(item, ast.ExpectDue):
                    self._expect_due(item, at, routes)

    def _expected_stage(self, stage: str, span: Span) -> None:
        if stage not in self.stage_names:
            self.err(
                "E206",
                f"unknown stage `{stage}`",
                span,
                did_you_mean(stage, self.stage_names)
                or (
                    "a disqualified lead is tested with `expect disqualified`"
                    if stage == "disqualified"
                    else None
                ),
            )

    def _expect_score(self, item: ast.ExpectScore | ast.ExpectBetween) -> None:
        """The score is declared; each number is a number or a numeric param (E204, E209,
        E301/E302); a `between` whose ends are known is not empty (E411)."""
        score = self.score_nodes.get(item.score)
        if isinstance(item, ast.ExpectBetween) and item.account:
            if score is None or not score.on_account:
                account_scores = [n for n, s in self.score_nodes.items() if s.on_account]
                hint = did_you_mean(item.score, account_scores)
                if score is not None:
                    hint = f"`{item.score}` is a lead score: write `expect {item.score} ...`"
                self.err("E205", f"unknown account score `{item.score}`", item.span, hint)
        elif score is not None and score.on_account:
            self.err(
                "E242",
                f"`{item.score}` is an account score: write `expect account.{item.score} ...`",
                item.span,
            )
        elif item.score not in self.score_nodes:
            self.err(
                "E205",
                f"unknown score `{item.score}`",
                item.span,
                did_you_mean(item.score, self.score_nodes),
            )
        if isinstance(item, ast.ExpectScore):
            self._amount(item.value, "E301", f"`{item.op}`")
            return
        low = self._amount(item.low, "E302", "`between`")
        high = self._amount(item.high, "E302", "`between`")
        if low is not None and high is not None and low > high:
            self.err(
                "E411",
                f"`expect {'account.' if item.account else ''}{item.score} between "
                f"{_shown(item.low, low)} and "
                f"{_shown(item.high, high)}` can never pass: the low end is above the high end",
                item.span,
                "write the lower end first",
            )

    def _amount(self, value: ast.Amount, code: str, what: str) -> ast.Number | None:
        """The number a score is compared with (a param at its declared value); None when it
        is not a number (reported)."""
        if isinstance(value, ast.NumberLit):
            return value.value
        name = value.name
        info = self.params.get(name)
        if info is None:
            numeric = [n for n, p in self.params.items() if p.type.kind in ("int", "number")]
            kind = _kind_of(name, self)
            if kind is not None:
                self.err(
                    "E209",
                    f"`{name}` is {kind}, not a param: a score is compared with a number "
                    "or a numeric param",
                    value.span,
                    did_you_mean(name, numeric),
                )
            else:
                self.err(
                    "E204",
                    f"unknown param `{name}`",
                    value.span,
                    did_you_mean(name, numeric)
                    or (
                        "the numeric params are " + ", ".join(f"`{n}`" for n in numeric)
                        if numeric
                        else "write a number, or declare `param NAME = NUMBER`"
                    ),
                )
            return None
        # The param counts as used (W503) and its type is known, as in a condition.
        self.refs[id(value)] = Ref("param", name)
        self.types[id(value)] = info.type
        if info.type.kind not in ("int", "number"):
            self.err(
                code,
                f"{what} compares a score with a number; the param `{name}` holds "
                f"{T.noun(info.type)}",
                value.span,
                "write a number, or name a param that holds a number",
            )
            return None
        assert isinstance(info.value, int | float)
        return info.value

    def _expect_due(
        self, item: ast.ExpectDue, at: dt.datetime | None, routes: Sequence[ast.Route]
    ) -> None:
        if not any(route.sla is not None for route in routes):
            self.err(
                "E412",
                "`expect due` checks a route's SLA deadline, and no route has an SLA",
                item.span,
                "give a route an SLA (`route mql to sdr, sla 5 minutes`), "
                "or expect the queue with `expect route QUEUE`",
            )
        if isinstance(item.when, ast.RelativeTime):
            self._offset(item.when, at, "the deadline")

    def _offset(self, time: ast.RelativeTime, at: dt.datetime | None, what: str) -> None:
        """An offset from the example's instant: a positive duration (E314) that does not
        reach before the start of the calendar or past its end (E107)."""
        self._duration(time.duration)
        if at is not None and time.sign < 0 and _before_calendar(at, time.duration):
            self.err(
                "E107",
                f"`-{time.duration.text()}` from the example's instant is before "
                "0001-01-01T00:00:00Z, the start of the calendar",
                time.span,
                f"give the example a later `at`, or {what} a shorter offset",
            )
        if at is not None and time.sign > 0 and _after_calendar(at, time.duration):
            self.err(
                "E107",
                f"`+{time.duration.text()}` from the example's instant is after "
                "9999-12-31T23:59:59Z, the end of the calendar",
                time.span,
                f"give the example an earlier `at`, or {what} a shorter offset",
            )

    def _account_item(
        self,
        item: ast.ExampleAccount | ast.ExampleContact | ast.ExpectAccountScore,
        at: dt.datetime | None,
        example: ast.Example,
    ) -> None:
        """The account parts of an example (SPEC §10): its account's fields, its colleagues
        (each with one `lead { }` record and events) and `expect account.SCORE`."""
        if isinstance(item, ast.ExampleAccount):
            accounts = [i for i in example.items if isinstance(i, ast.ExampleAccount)]
            if item is not accounts[0]:
                self.err("E208", "an example has one `account { ... }` record", item.span)
            if not self.has_account:
                self.err(
                    "E214",
                    "`account { ... }` in an example needs the policy's `account { ... }` block",
                    item.span,
                    "declare the account fields first",
                )
                return
            self._record(item.entries, self.account_fields, "account field")
        elif isinstance(item, ast.ExampleContact):
            contacts = [i for i in example.items if isinstance(i, ast.ExampleContact)]
            first = next(c for c in contacts if c.id == item.id)
            if first is not item:
                self.err(
                    "E208",
                    f'contact "{item.id}" is given twice',
                    item.span,
                    f"the first is on line {first.span.line}; contacts need distinct ids",
                )
            elif item.id == example.name:  # the example's lead has the example's name as id
                self.err(
                    "E208",
                    f'contact "{item.id}" has the id of the example\'s own lead',
                    item.span,
                    "give the contact another id: it is a second person at the account",
                )
            leads = [i for i in item.items if isinstance(i, ast.ExampleLead)]
            for extra in leads[1:]:
                self.err("E208", "a contact has one `lead { ... }` record", extra.span)
            for part in item.items:
                if isinstance(part, ast.ExampleLead):
                    self._record(part.entries, self.fields, "lead field")
                else:
                    self._example_event(part, at)
        else:
            account_scores = [n for n, s in self.score_nodes.items() if s.on_account]
            score = self.score_nodes.get(item.score)
            if score is None or not score.on_account:
                hint = did_you_mean(item.score, account_scores)
                if score is not None:
                    hint = f"`{item.score}` is a lead score: write `expect {item.score} ...`"
                self.err("E205", f"unknown account score `{item.score}`", item.span, hint)
            self._amount(item.value, "E301", f"`{item.op}`")

    def _example_size(self, example: ast.Example, at: dt.datetime) -> None:
        """E410 when the example's timeline is longer than the engines evaluate."""
        items = [
            part
            for item in example.items
            for part in (item.items if isinstance(item, ast.ExampleContact) else (item,))
        ]
        times = [
            -time.duration.seconds
            if isinstance(time, ast.RelativeTime)
            else (_absolute(time) - at).total_seconds()
            for item in items
            if isinstance(item, ast.ExampleEvent)
            for time in item.times
        ]
        periods = [  # a zero or negative step is an error of its own (E-code at the decay)
            score.decay.every.seconds
            for score in self.score_nodes.values()
            if score.decay and score.decay.every.seconds > 0
        ]
        size = timeline_size(times, sorted(self.windows), periods, 0.0)
        if size > MAX_INSTANTS:
            self.err(
                "E410",
                f'example "{example.name}" needs {size:,} instants; a lead is evaluated at '
                f"most at {MAX_INSTANTS:,}",
                example.span,
                "give its events later times, or decay by a longer step",
            )

    def _example_event(self, item: ast.ExampleEvent, at: dt.datetime | None) -> None:
        info = self.events.get(item.event)
        if info is None:
            self.err(
                "E202",
                f"unknown event `{item.event}`",
                item.span,
                did_you_mean(item.event, self.events) or "declare it with `event NAME`",
            )
            return
        if item.entries is not None:
            self._record(
                item.entries, info.fields, f"field of event `{item.event}`", event=item.event
            )
        for time in item.times:
            if isinstance(time, ast.RelativeTime):
                self._offset(time, at, "the event")
                if time.sign > 0:
                    self.err(
                        "E408",
                        "this event would happen after the example's instant, "
                        "so it would be ignored",
                        time.span,
                        f"write `-{time.duration.text()}` for an event before the instant",
                    )
            elif at is not None and _absolute(time) > at:
                self.err(
                    "E408",
                    "this event is after the example's instant, so it would be ignored",
                    time.span,
                    "give the example a later `at`, or the event an earlier time",
                )

    def _record(
        self,
        entries: Sequence[ast.Entry],
        table: dict[str, FieldInfo],
        what: str,
        event: str | None = None,
    ) -> None:
        seen: dict[str, ast.Entry] = {}
        for entry in entries:
            if entry.name in seen:
                self.err("E208", f"`{entry.name}` is given twice", entry.span)
                continue
            seen[entry.name] = entry
            info = table.get(entry.name)
            if info is None:
                code = "E203" if event else "E201"
                self.err(
                    code,
                    f"unknown {what} `{entry.name}`",
                    entry.span,
                    did_you_mean(entry.name, table),
                )
                continue
            problem = value_problem(entry.value, info.type)
            if problem is not None:
                message, hint = problem
                code = "E207" if message.startswith("`") and "member" in message else "E308"
                self.err(code, f"{entry.name}: {message}", entry.value.span, hint)


def _kind_of(name: str, checker: ExpressionChecker) -> str | None:
    """What a name that is not a param is, in words ("a score"), or None if unknown."""
    if name in checker.score_nodes:
        return "a score"
    if name in checker.fields:
        return "a lead field"
    if name in checker.events:
        return "an event"
    if name in checker.stage_names:
        return "a stage"
    return None


def _shown(value: ast.Amount, number_: ast.Number) -> str:
    """An end of a range as written, with a param's value (``lo (50)``)."""
    if isinstance(value, ast.Name):
        return f"{value.name} ({number(number_)})"
    return number(value.value)


def example_instant(example: ast.Example, effective: dt.date | None) -> dt.datetime | None:
    """The instant an example is evaluated at (SPEC §10)."""
    if example.at is None:
        if effective is None:
            return None
        return dt.datetime.combine(effective, dt.time(), tzinfo=dt.UTC)
    return _absolute(example.at)


def _before_calendar(at: dt.datetime, duration: ast.Duration) -> bool:
    start = dt.datetime.min.replace(tzinfo=dt.UTC)
    return (at - start).total_seconds() < duration.seconds


def _after_calendar(at: dt.datetime, duration: ast.Duration) -> bool:
    end = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    return (end - at).total_seconds() < duration.seconds


def _absolute(value: ast.DateLit | ast.InstantLit) -> dt.datetime:
    if isinstance(value, ast.InstantLit):
        return value.value
    return dt.datetime.combine(value.value, dt.time(), tzinfo=dt.UTC)


def value_problem(value: ast.Value, kind: T.Type) -> tuple[str, str | None] | None:
    """Why a written value does not fit a declared type (None when it fits)."""
    if kind.kind == "int":
        if isinstance(value, ast.NumberLit) and isinstance(value.value, int):
            return None
        return "expected a whole number", None
    if kind.kind == "number":
        return None if isinstance(value, ast.NumberLit) else ("expected a number", None)
    if kind.kind == "bool":
        return None if isinstance(value, ast.BoolLit) else ("expected true or false", None)
    if kind.kind == "text":
        if isinstance(value, ast.StringLit):
            return None
        hint = f'write "{value.name}"' if isinstance(value, ast.Name) else None
        return "expected text in double quotes", hint
    if kind.kind == "date":
        return (
            None if isinstance(value, ast.DateLit) else ("expected a date such as 2026-12-01", None)
        )
    if kind.kind == "enum":
        if isinstance(value, ast.Name):
            if value.name in kind.members:
                return None
            return (
                f"`{value.name}` is not a member of {kind}",
                did_you_mean(value.name, kind.members)
                or f"the members are {', '.join(kind.members)}",
            )
        hint = f"write {value.value} without quotes" if isinstance(value, ast.StringLit) else None
        return f"expected a member of {kind}", hint
    if kind.kind == "set":
        if not isinstance(value, ast.ListLit):
            return "expected a list such as [a, b]", None
        element = kind.element or T.ERROR
        for item in value.items:
            problem = value_problem(item, element)  # type: ignore[arg-type]
            if problem is not None:
                return problem
        return None
    return None
