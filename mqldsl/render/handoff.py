"""Handoff packets (`mqldsl score --handoff`): for each lead handed over to sales at or
before the as-of instant, what the rep receives — the queue and the first-touch deadline,
who the lead is, the top reasons in words with the events behind them, and the lead's key
activity (pages viewed, webinars, trial actions, campaigns: every event type the policy
declares, with its count, first and last time and the distinct values of its fields).

One JSON line per handed-over lead, in input order; leads with no handoff are counted, not
written. Built from the engine's explanation (:mod:`mqldsl.engine.explanation`), so a
packet's reasons are exactly the rules that gave the lead its points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.explain import explain
from mqldsl.engine.explanation import (
    Clause,
    Explanation,
    RuleExplanation,
    event_json,
    events_json,
    plain,
)
from mqldsl.engine.runtime import Event, Lead, format_instant
from mqldsl.io.files import write_output
from mqldsl.io.journeys import ReadReport
from mqldsl.io.scoring import ScoreOptions, read_leads, summary_lines
from mqldsl.render.english import English
from mqldsl.render.explanation import clause_text

__all__ = ["HandoffOutcome", "packet", "write_packets"]

# How many reasons a packet gives, and how many events each reason and field value list shows.
TOP_REASONS = 5
EVENTS_PER_REASON = 5
VALUES_PER_FIELD = 10


def packet(
    model: CheckedPolicy, lead: Lead, why: Explanation, stamp: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The handoff packet of one lead, or None when it was not handed over."""
    route = why.route
    if route is None:
        return None
    say = English(model)
    given = [
        (score.name, number, rule)
        for score in why.scores
        for number, rule in enumerate(score.rules)
        if rule.points
    ]
    given.sort(key=lambda item: (-abs(item[2].points), item[2].line))

    def reason(name: str, number: int, rule: RuleExplanation) -> dict[str, Any]:
        node = (model.scores[name].node.rules or ())[number]
        return {
            "score": name,
            "points": plain(rule.points),
            "reason": rule.label or _sentence(say.rule_condition(node).removeprefix("when ")),
            "line": rule.line,
            "events": [
                event_json(item.event) | ({"contact": item.contact} if item.contact else {})
                for item in rule.events[-EVENTS_PER_REASON:]
            ],
        } | ({"file": rule.file} if rule.file is not None else {})  # an included file's rule

    reasons = [reason(*item) for item in given if item[2].points > 0][:TOP_REASONS]
    penalties = [reason(*item) for item in given if item[2].points < 0]
    entry = why.entry
    at_handoff = None
    if entry is not None and entry.at == route.entered:
        at_handoff = {
            "scores": {k: plain(v) for k, v in entry.scores.items()},
            "events": events_json(entry.events, entry.contacts),
            "held": [] if entry.clause is None else _held(entry.clause, entry.at),
        }
    data: dict[str, Any] = {
        "id": lead.id,
        "as_of": format_instant(why.as_of),
        "stage": why.stage,
        "queue": route.queue,
        "sla": route.sla,
        "handed_over_at": format_instant(route.entered),
        "due": None if route.due is None else format_instant(route.due),
    }
    if route.trigger is not None:  # a hot event handed the lead over (SPEC §8)
        data["trigger"] = event_json(route.trigger)
    data |= {
        "scores": {s.name: plain(s.value) for s in why.scores},
        "profile": {k: plain(v) for k, v in sorted(lead.profile.items())},
        "at_handoff": at_handoff,
        "reasons": reasons,
        "penalties": penalties,
        "activity": activity(model, lead, why.as_of),
    }
    if lead.account is not None:
        data["account"] = lead.account
    if stamp is not None:
        data["policy"] = dict(stamp)
    return data


def _held(clause: Clause, t: float) -> list[str]:
    """The parts of a holding condition that made it hold, in words with their values."""
    if not clause.holds:
        return []
    if clause.kind == "all":
        return [text for part in clause.parts for text in _held(part, t)]
    if clause.kind == "any":
        return next(_held(part, t) for part in clause.parts if part.holds)
    return [clause_text(clause, t)]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def activity(model: CheckedPolicy, lead: Lead, as_of: float) -> list[dict[str, Any]]:
    """The lead's events up to ``as_of`` by type, the most recent type first: count, first
    and last instant, and each field's distinct values (the latest first)."""
    by_type: dict[str, list[Event]] = {}
    for event in lead.events:
        if event.at <= as_of:
            by_type.setdefault(event.type, []).append(event)
    rows = []
    for kind, events in by_type.items():
        values: dict[str, list[Any]] = {}
        for event in reversed(events):
            for name, value in event.fields.items():
                seen = values.setdefault(name, [])
                shown = plain(value)
                if shown not in seen and len(seen) < VALUES_PER_FIELD:
                    seen.append(shown)
        info = model.events.get(kind)
        rows.append(
            {
                "event": kind,
                "description": info.description if info is not None else None,
                "count": len(events),
                "first": format_instant(events[0].at),
                "last": format_instant(events[-1].at),
                "values": dict(sorted(values.items())),
            }
        )
    rows.sort(key=lambda row: (row["last"], row["event"]), reverse=True)
    return rows


@dataclass
class HandoffOutcome:
    """How many leads were read and how many packets were written."""

    evaluated: int = 0
    packets: int = 0
    report: ReadReport = field(default_factory=ReadReport)

    @property
    def failed(self) -> bool:
        return self.report.rejected_count > 0

    def summary_lines(self) -> list[str]:
        lines = summary_lines(self.evaluated, self.report)
        lines.append(
            f"{self.packets} handoff packet{'s' if self.packets != 1 else ''}; "
            f"{self.evaluated - self.packets} of {self.evaluated} leads read had no handoff "
            "at or before the as-of instant"
        )
        return lines


def write_packets(
    model: CheckedPolicy,
    journeys: str,
    events: str | None,
    options: ScoreOptions,
    output: str | None,
) -> HandoffOutcome:
    """Write the handoff packets of ``journeys`` to ``output`` (JSON Lines, atomically; None:
    standard output); each names the policy that decided, as decisions do."""
    outcome = HandoffOutcome()
    outcome.report.limit = options.max_errors
    evaluator = Evaluator(model, options.params)

    def produce(sink: IO[bytes]) -> None:
        for lead in read_leads(model, journeys, events, outcome.report, options.accounts):
            outcome.evaluated += 1
            result = evaluator.run(lead, options.as_of, explain=True)
            if result.decision.route is None:
                continue
            why = explain(model, lead, result, interpreter=evaluator.reference)
            data = packet(model, lead, why, result.decision.policy.to_json())
            if data is not None:
                sink.write(orjson.dumps(data) + b"\n")
                outcome.packets += 1

    run: Callable[[IO[bytes]], None] = produce
    write_output(output, run)
    return outcome
