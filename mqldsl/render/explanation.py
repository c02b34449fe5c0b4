"""Explanations in words (SPEC §8.0): the :class:`~mqldsl.engine.explain.Explanation` the
engine computes, written for a sales rep as text, Markdown or HTML.

The three formats are one outline (:class:`Section` of :class:`Line`) written three ways, so
they always say the same things: the decision and its handoff, why this stage (the clauses
with their values; for a stage entered earlier, when, the scores then and what tipped it), why
not the next stages (each failing clause with its shortfall), disqualifiers with their
evidence, every point (events, decay factors, caps) and the history (each change of stage
with the scores then and its handoff). ``--why-not STAGE`` is the outline of one stage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mqldsl.engine.explanation import (
    Change,
    Clause,
    EventPoints,
    Explanation,
    Operand,
    RuleExplanation,
    ScoreExplanation,
    StageCheck,
    plain,
)
from mqldsl.engine.runtime import DAY, Event, RouteDecision, from_seconds
from mqldsl.render.grammar import event_noun
from mqldsl.render.templating import render

__all__ = ["Line", "Section", "outline", "render_explanation", "why_not_outline"]

FORMATS = ("text", "md", "html")
# How many events a rule lists before "and N more".
SHOWN = 8


@dataclass(frozen=True)
class Line:
    """One line of an outline: its words, its depth, and a mark (``yes``/``no``) when it
    states whether a clause holds."""

    text: str
    level: int = 0
    mark: str | None = None


@dataclass
class Section:
    title: str
    lines: list[Line] = field(default_factory=list)

    def add(self, text: str, level: int = 0, mark: str | None = None) -> None:
        self.lines.append(Line(text, level, mark))


# ---------------------------------------------------------------- words


def when(at: float) -> str:
    """An instant as a rep reads it: ``2026-11-19 09:02 UTC`` (seconds when not zero)."""
    moment = from_seconds(at)
    day = f"{moment.year:04d}-{moment:%m-%d %H:%M}"  # (strftime's %Y writes the year 1 as `1`)
    if moment.second or moment.microsecond:
        return f"{day}:{moment:%S} UTC"
    return f"{day} UTC"


def number(value: Any) -> str:
    """A number as the decision shows it; None is `missing`."""
    value = plain(value)
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def signed(value: float) -> str:
    text = number(value)
    return text if text.startswith("-") else "+" + text


def age(days: float) -> str:
    """How long ago, in words: ``41 days``, ``1 day``, ``5 hours``, ``12 minutes``."""
    # Rounded down, as decay counts whole steps: 6.96 days is "6.9 days", not "7 days".
    if days >= 1:
        amount = math.floor(days * 10 + 1e-9) / 10
        shown = str(int(amount)) if float(amount).is_integer() else str(amount)
        return f"{shown} day" + ("" if shown == "1" else "s")
    hours = days * 24
    if hours >= 1:
        shown = str(math.floor(hours + 1e-9))
        return f"{shown} hour" + ("" if shown == "1" else "s")
    minutes = max(0, math.floor(hours * 60 + 1e-9))
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


def ago(days: float) -> str:
    """``41 days ago``; ``at that moment`` under a minute."""
    if days * 1440 < 1:
        return "at that moment"
    return age(days) + " ago"


def value_text(value: Any) -> str:
    value = plain(value)
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number(value)
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    return str(value)


def operand_text(operand: Operand) -> str:
    """``intent 52``, ``40 (param mql_intent_min)``, ``200``, ``company_size missing``."""
    if operand.kind == "literal":
        return operand.text
    if operand.kind == "param":
        return f"{value_text(operand.value)} (param {operand.text})"
    return f"{operand.text} {value_text(operand.value)}"


NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def event_text(event: Event) -> str:
    fields = ", ".join(f"{k}: {value_text(v)}" for k, v in event.fields.items())
    return f"{event.type} at {when(event.at)}" + (f" ({fields})" if fields else "")


def clause_text(clause: Clause, t: float) -> str:
    """One clause with the values used, as the rep reads it (SPEC §8.0)."""
    kind = clause.kind
    if kind in ("all", "any", "not"):
        return clause.text
    if kind == "compare":
        left, right = clause.operands
        if left.value is None or right.value is None:
            missing = left if left.value is None else right
            return f"{clause.text}: {missing.text} is missing"
        op = clause.op or "=="
        shown = op if clause.holds else NEGATED[op]
        text = f"{operand_text(left)} {shown} {operand_text(right)}"
        return text + _shortfall(clause)
    if kind == "between":
        value, low, high = clause.operands
        if value.value is None:
            return f"{clause.text}: {value.text} is missing"
        word = "between" if clause.holds else "not between"
        text = f"{operand_text(value)} {word} {_bound(low)} and {_bound(high)}"
        return text + _shortfall(clause)
    if kind in ("membership", "text"):
        subject, other = clause.operands
        if subject.value is None or other.value is None:
            missing = subject if subject.value is None else other
            return f"{clause.text}: {missing.text} is missing"
        op = clause.op or ""
        if not clause.holds:
            negated = {"in": "not in", "not in": "in"}
            op = negated[op] if op in negated else "does not " + _base(op)
        return f"{operand_text(subject)} {op} {_bound(other)}"
    if kind == "presence":
        (subject,) = clause.operands
        state = "missing" if subject.value is None else f"present ({value_text(subject.value)})"
        return f"{subject.text} is {state}"
    if kind == "events":
        return _events_text(clause, t)
    if kind == "no events":
        return _no_events_text(clause, t)
    (subject,) = clause.operands
    return f"{subject.text} is {value_text(subject.value)}"


def _bound(operand: Operand) -> str:
    if operand.kind == "literal":
        return operand.text
    return operand_text(operand)


def _base(op: str) -> str:
    return {"contains": "contain", "starts with": "start with", "ends with": "end with"}[op]


def _shortfall(clause: Clause) -> str:
    if clause.shortfall is None:
        return ""
    if clause.shortfall == 0:
        return ": needs " + ("more" if clause.direction == "short" else "less")
    return f": {number(clause.shortfall)} {clause.direction}"


def _events_text(clause: Clause, t: float) -> str:
    if clause.holds:
        latest = clause.events[-1]
        count = f"{clause.matched} matching" if clause.matched > 1 else "1 matching"
        return (
            f"{clause.text}: {count}, the last {latest.type} "
            f"{ago((t - latest.at) / DAY)} ({when(latest.at)})"
        )
    if clause.last is None:
        return f"no {clause.text}: none ever"
    assert clause.last_age_days is not None
    text = f"no {clause.text}: the last was {ago(clause.last_age_days)} ({when(clause.last.at)})"
    if clause.before_start:
        text += ", before the lead was recycled: it no longer counts"
    return text


def _no_events_text(clause: Clause, t: float) -> str:
    if clause.holds:
        if clause.last is None or clause.last_age_days is None:
            return f"{clause.text}: none ever"
        noun = event_noun(clause.last.type).one()
        return (
            f"{clause.text}: none; the last, {noun}, was {ago(clause.last_age_days)} "
            f"({when(clause.last.at)})"
        )
    latest = clause.events[-1]
    count = "1 event" if clause.matched == 1 else f"{clause.matched} events"
    return (
        f"{clause.text} fails: {count}, the last {latest.type} "
        f"{ago((t - latest.at) / DAY)} ({when(latest.at)})"
    )


def clause_lines(section: Section, clause: Clause, t: float, level: int) -> None:
    """A clause and, for `and`/`or`/`not`, its parts, one per line."""
    mark = "yes" if clause.holds else "no"
    if clause.kind == "all":
        for part in clause.parts:
            clause_lines(section, part, t, level)
        return
    if clause.kind == "any":
        section.add("one of:", level, mark)
        for part in clause.parts:
            if part.kind == "all" and len(part.parts) > 1:
                section.add("all of:", level + 1, "yes" if part.holds else "no")
                for inner in part.parts:
                    clause_lines(section, inner, t, level + 2)
            else:
                clause_lines(section, part, t, level + 1)
        return
    if clause.kind == "not":
        section.add(f"{clause.text}", level, mark)
        clause_lines(section, clause.parts[0], t, level + 1)
        return
    section.add(clause_text(clause, t), level, mark)


def failing_lines(section: Section, clause: Clause, t: float, level: int) -> None:
    """Only what fails: each failing clause of an `and`; every alternative of an `or`."""
    if clause.holds:
        return
    if clause.kind == "all":
        for part in clause.parts:
            failing_lines(section, part, t, level)
        return
    if clause.kind == "any":
        section.add("none of these holds:", level, "no")
        for number_, part in enumerate(clause.parts, 1):
            if part.kind == "all" and len(part.parts) > 1:
                section.add(f"option {number_}: {part.text}", level + 1, "no")
                failing_lines(section, part, t, level + 2)
            else:
                failing_lines(section, part, t, level + 1)
        return
    clause_lines(section, clause, t, level)


def scores_text(scores: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {number(value)}" for name, value in scores.items())


def _scores_then(scores: Mapping[str, Any]) -> str:
    """``; fit 40, intent 55 at that moment`` (nothing for a policy without scores)."""
    return f"; {scores_text(scores)} at that moment" if scores else ""


def handoff_text(route: RouteDecision) -> str:
    text = f"handed to {route.queue}"
    if route.due is not None:
        text += f", first touch due by {when(route.due)} ({route.sla})"
    return text


def _movement(change: Change, first: bool) -> str:
    """Why the timeline changed at this step, in words."""
    if change.recycled:
        return change.reason
    held = ""
    if change.stage == "disqualified":
        held = "disqualified (" + change.reason.removeprefix("disqualified: ") + ")"
    if first:
        nouns = _nouns(change.events, change.contacts)
        text = "first seen" + (f" with {nouns}" if nouns else " (no event yet)")
        return text + (f", already {held}" if held else "")
    text = held or ("advanced" if change.reason == "condition now holds" else change.reason)
    if not change.events:
        return text + " (no event at that instant: a time window closed or a decay step passed)"
    return text + _arrived(change.events, change.contacts)


def _arrived(events: Sequence[Event], contacts: Sequence[str | None] = ()) -> str:
    """`` when a demo request arrived`` (the events at one instant, by type), a colleague's
    named (`` when a page view of contact L-2 arrived``, SPEC §9)."""
    if not events:
        return ""
    return " when " + _nouns(events, contacts, " arrived")


def _nouns(events: Sequence[Event], contacts: Sequence[str | None], verb: str = "") -> str:
    """The events of one instant by type, a colleague's named: ``a page view and a webinar
    attendance of contact L-2`` (each followed by ``verb``)."""
    owners = list(contacts) + [None] * (len(events) - len(contacts))
    kinds = sorted({(e.type, owner or "") for e, owner in zip(events, owners, strict=True)})
    return " and ".join(
        f"{event_noun(kind).one()}{f' of contact {owner}' if owner else ''}{verb}"
        for kind, owner in kinds
    )


# ---------------------------------------------------------------- the outline


def outline(data: Explanation) -> list[Section]:
    """The whole explanation, in the order a rep reads it."""
    t = data.as_of
    title = f"Lead {data.lead}, as of {when(t)}: {data.stage}"
    head = Section(title + (f" ({data.description})" if data.description else ""))
    if data.route is not None:
        since = f"entering {data.stage}"
        trigger = data.route.trigger
        if trigger is not None:  # a hot-event route handed the lead over again
            since = f"the {event_noun(trigger.type).singular}"
        head.add(
            f"Hand to {data.route.queue}"
            + (
                f": first touch due by {when(data.route.due)} "
                f"({data.route.sla} after {since} at {when(data.route.entered)})"
                if data.route.due is not None
                else f" ({since} at {when(data.route.entered)}; no SLA)"
            )
        )
    elif data.stage != "disqualified":
        head.add("No queue: no route applies to this stage.")
    if data.journey_start is not None:
        head.add(
            f"Recycled at {when(data.journey_start)}: events up to then no longer count "
            "toward scores or stages (disqualifiers still see them)."
        )
    policy = data.policy
    if policy:
        version = policy.get("version")
        changed = policy.get("params") or {}
        head.add(
            "Decided by policy"
            + (f" version {version}" if version is not None else "")
            + f" (sha256 {str(policy.get('sha256', ''))[:12]})"
            + (
                ", with " + ", ".join(f"{k}={value_text(v)}" for k, v in changed.items())
                if changed
                else ""
            )
        )
    sections = [head]
    held = [d for d in data.disqualifiers if d.holds]
    if held:
        section = Section("Why disqualified")
        if data.entry is not None:
            if len(data.timeline) == 1 and not data.entry.events and data.entry.at == t:
                section.add(f"Disqualified by its profile (no event up to {when(t)}).")
            else:
                section.add(f"Disqualified since {when(data.entry.at)}.")
        for reason in held:
            section.add(f"{reason.reason} ({reason.where})", 0, "yes")
            clause_lines(section, reason.clause, t, 1)
        if data.timeline and data.timeline[0].stage == "disqualified":
            section.add("It was disqualified from its first instant on.")
        else:
            section.add(f"Before that it had reached {data.reached}.")
        sections.append(section)
    why = data.why
    if why is not None:
        sections.append(_why(data, why))
    for check in data.why_not:
        sections.append(why_not_outline(data, check.stage)[0])
    sections.append(_points(data))
    sections.append(_history(data))
    return sections


def _why(data: Explanation, why: StageCheck) -> Section:
    t = data.as_of
    section = Section(f"Why {data.stage}")
    entry = data.entry
    if why.clause is None:
        section.add(f"{data.stage} is the entry stage: every lead starts there.")
    quiet = entry is not None and not entry.events and len(data.timeline) == 1 and entry.at == t
    if quiet:
        section.add(f"No event up to {when(t)}: the lead's profile alone decides.")
    elif entry is not None and entry.stage == data.stage:
        if entry.recycle is not None:
            told = entry.reason.capitalize()
            if ", then advanced to " not in entry.reason:  # (else it says where it went)
                told += f" to {data.stage}"
            section.add(
                f"{told} at {when(entry.at)}{_scores_then(entry.scores)}. The rule's condition "
                "then:"
            )
            clause_lines(section, entry.recycle, entry.at, 1)
        else:
            section.add(
                f"Entered {data.stage} at {when(entry.at)}{_arrived(entry.events, entry.contacts)}"
                f"{_scores_then(entry.scores)}."
            )
            if entry.clause is not None and entry.at != t:
                section.add(f"Then ({when(entry.at)}), {why.condition}:")
                clause_lines(section, entry.clause, entry.at, 1)
    if why.clause is not None:
        if why.clause.holds:
            section.add(f"Now, {why.condition} (line {why.line}):")
            clause_lines(section, why.clause, t, 1)
        else:
            kept = (
                "recycling put it here"
                if entry is not None and entry.recycle is not None
                else "it was reached and locked stages only move forward"
            )
            section.add(
                f"Now its condition does not hold; the lead stays at {data.stage} because "
                f"{kept} (line {why.line}):"
            )
            failing_lines(section, why.clause, t, 1)
    return section


def why_not_outline(data: Explanation, stage: str) -> list[Section]:
    """Why the lead is not at ``stage`` (``explain --why-not STAGE``)."""
    t = data.as_of
    check = data.check(stage)
    section = Section(f"Why not {stage}")
    names = [c.stage for c in data.stages]
    if data.stage == stage:
        section.add(f"The lead is at {stage}.")
        return [section]
    if data.stage != "disqualified" and names.index(stage) < names.index(data.reached):
        section.add(f"The lead is past {stage}: it is at {data.stage}.")
        return [section]
    if data.stage == "disqualified":
        reasons = ", ".join(d.reason for d in data.disqualifiers if d.holds)
        section.add(f"The lead is disqualified ({reasons}): no stage applies while it is.")
    if check.clause is None:
        return [section]
    section.add(f"{stage} needs {check.condition} (line {check.line}).")
    if check.clause.holds:
        # Only a disqualified lead has a later stage whose condition holds.
        section.add("It holds now: the lead would be there if no disqualifier held.", 0, "yes")
        clause_lines(section, check.clause, t, 1)
    else:
        failing_lines(section, check.clause, t, 0)
    return [section]


def sample_outline(data: Explanation, other: str) -> list[Section]:
    """What a what-if's sample lead shows under one policy (SPEC §14): why it is at its
    stage (or disqualified) and, when the other policy puts it further on, why it is not
    there under this one."""
    stage = f"Why {data.stage}" if data.stage != "disqualified" else "Why disqualified"
    sections = [section for section in outline(data) if section.title == stage]
    names = [check.stage for check in data.stages]
    if other in names and (
        data.stage == "disqualified" or names.index(other) > names.index(data.reached)
    ):
        sections += why_not_outline(data, other)
    return sections


def sample_json(data: Explanation, other: str) -> list[dict[str, Any]]:
    """:func:`sample_outline` as JSON: what a what-if report carries of a sample lead."""
    return outline_json(sample_outline(data, other))


def outline_json(sections: Sequence[Section]) -> list[dict[str, Any]]:
    """An outline as JSON (a report carries it, and its renderers read it back with
    :func:`outline_from_json`)."""
    return [
        {
            "title": section.title,
            "lines": [
                {"text": line.text, "level": line.level, "mark": line.mark}
                for line in section.lines
            ],
        }
        for section in sections
    ]


def outline_from_json(data: Sequence[Mapping[str, Any]]) -> list[Section]:
    return [
        Section(
            str(section["title"]),
            [Line(str(x["text"]), int(x["level"]), x.get("mark")) for x in section["lines"]],
        )
        for section in data
    ]


def outline_lines(sections: Sequence[Section], indent: str = "") -> list[str]:
    """An outline as terminal lines (as :func:`render_explanation`'s text), each prefixed."""
    return [indent + line for line in _text(sections).splitlines() if line]


def _points(data: Explanation) -> Section:
    section = Section("Every point")
    for score in data.scores:
        _score_lines(section, score, data.as_of)
    return section


def _score_lines(section: Section, score: ScoreExplanation, t: float) -> None:
    bounds = ""
    if score.lowest is not None and score.highest is not None:
        bounds = f" (possible {number(score.lowest)} to {number(score.highest)})"
    section.add(f"{score.name} = {number(score.value)}{bounds}")
    if score.formula is not None:
        values = ", ".join(f"{o.text} {value_text(o.value)}" for o in score.operands)
        section.add(f"= {score.formula}" + (f", with {values}" if values else ""), 1)
        return
    for rule in score.rules:
        if rule.points:
            _rule_lines(section, rule)
    if score.unclamped is not None and score.range is not None:
        section.add(
            f"the rules add up to {number(score.unclamped)}, kept within "
            f"{number(score.range[0])} to {number(score.range[1])}",
            1,
        )
    missed = [r for r in score.rules if not r.points]
    if missed:
        names = (
            f"{r.label} ({signed(r.each)}, {r.where})" if r.label else f"{r.rule} ({r.where})"
            for r in missed
        )
        section.add("no points from: " + "; ".join(names), 1)


def _rule_name(rule: RuleExplanation) -> str:
    return f"{rule.label or _condition(rule)} ({rule.where})"


def _condition(rule: RuleExplanation) -> str:
    return rule.condition.removeprefix("when ")


def _rule_lines(section: Section, rule: RuleExplanation) -> None:
    text = f"{signed(rule.points)}  {_rule_name(rule)}"
    if rule.label:
        text += f": {_condition(rule)}"
    if rule.capped and rule.max is not None and rule.uncapped is not None:
        text += f"; capped at {number(rule.max)} of {number(abs(rule.uncapped))}"
    if rule.decay is not None:
        text += f"; decays {rule.decay}"
    section.add(text, 1)
    shown = rule.events[-SHOWN:] if len(rule.events) > SHOWN else rule.events
    if len(rule.events) > SHOWN:
        section.add(f"{len(rule.events) - SHOWN} earlier events not listed", 2)
    for item in shown:
        section.add(_event_points(item, rule), 2)


def _event_points(item: EventPoints, rule: RuleExplanation) -> str:
    text = event_text(item.event)
    if item.contact is not None:
        text = f"{item.contact}: {text}"
    if item.points is None:
        return text + f", {age(item.age_days)} old"
    if item.factor is not None:
        return f"{text}: {signed(rule.each)} x {_factor(item.factor)}, {age(item.age_days)} old"
    return f"{text}: {signed(item.points)}"


def _factor(value: float) -> str:
    """A decay factor to 6 decimals, as written (0.9 ** 5 is 0.59049: 4 decimals gave 0.5905,
    and 30 x 0.5905 is not the 17.7147 printed beside it)."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _history(data: Explanation) -> Section:
    section = Section("History")
    hot = list(data.hot)  # hot-event handoffs (SPEC §8), in time order

    def handoffs_before(at: float) -> None:
        while hot and hot[0][1].entered < at:
            stage, route = hot.pop(0)
            trigger = route.trigger
            arrived = "" if trigger is None else _arrived([trigger])
            section.add(f"{when(route.entered)}  {stage}: handed over again{arrived}")
            section.add(handoff_text(route), 1)

    for number_, change in enumerate(data.timeline):
        handoffs_before(change.at)
        section.add(
            f"{when(change.at)}  {change.stage}: {_movement(change, number_ == 0)}"
            + (f"; {scores_text(change.scores)}" if change.scores else "")
        )
        if change.clause is not None:
            if change.clause.holds:
                clause_lines(section, change.clause, change.at, 1)
            else:
                failing_lines(section, change.clause, change.at, 1)
        if change.handoff is not None:
            section.add(handoff_text(change.handoff), 1)
    handoffs_before(math.inf)
    return section


def timeline_outline(data: Explanation) -> list[Section]:
    """``mqldsl timeline``: the history alone, with a title."""
    history = _history(data)
    history.title = f"Lead {data.lead}: stage history up to {when(data.as_of)}"
    return [history]


# ---------------------------------------------------------------- formats


def render_explanation(sections: Sequence[Section], output_format: str) -> str:
    """The outline as ``text``, ``md`` or ``html``."""
    if output_format == "text":
        return _text(sections)
    if output_format == "md":
        return _markdown(sections)
    if output_format == "html":
        return render("explanation.html.j2", sections=sections, title=sections[0].title)
    raise ValueError(f"unknown format {output_format!r}: use one of {', '.join(FORMATS)}")


_MARKS = {"yes": "[yes]", "no": "[no ]", None: ""}


def _text(sections: Sequence[Section]) -> str:
    out: list[str] = []
    for number_, section in enumerate(sections):
        if number_:
            out.append("")
        out.append(section.title)
        for line in section.lines:
            mark = _MARKS[line.mark]
            out.append("  " * (line.level + 1) + (mark + " " if mark else "") + line.text)
    return "\n".join(out) + "\n"


_MD_MARKS = {"yes": "**holds:** ", "no": "**fails:** ", None: ""}


def _markdown(sections: Sequence[Section]) -> str:
    out: list[str] = []
    for number_, section in enumerate(sections):
        if number_:
            out.append("")
        out.append(("# " if number_ == 0 else "## ") + _md(section.title))
        out.append("")
        for line in section.lines:
            out.append("  " * line.level + "- " + _MD_MARKS[line.mark] + _md(line.text))
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    """Text that Markdown shows as written (no emphasis, no HTML)."""
    for char in ("\\", "*", "`", "<"):
        text = text.replace(char, "\\" + char)
    return text
