"""Which instants of a lead's timeline can change its result, for the code
generator (:mod:`mqldsl.engine.codegen`).

SPEC §7 evaluates a lead at every event time, every event time plus every
window the policy uses, every decay step and the as-of instant. Between two of
those instants nothing changes, but most of them change nothing a stage
condition, disqualifier or recycle rule reads: an event whose type no condition
counts, the end of a 60-day window when only 14-day windows of that pattern are
read, or anything read by a stage that the lead's profile already rules out
(``fit >= 30 and intent >= 40`` for a lead whose fit is 12 never holds, so
intent's windows do not matter for it). The generated code lists, per lead,
only the instants where something read can change:

- a ``within D`` read of pattern m changes at each match time and each match
  time plus D; an ``ever`` read (and a bare event name) at each match time; so do
  ``count(...)`` and ``sum/max/min/avg(...)`` of the pattern;
- a score read by a condition reads everything its rules read;
- each condition is first partially evaluated on what is the same at every
  instant (profile fields, params, static scores): one that is certainly false,
  or certainly true, for this lead changes nowhere (:meth:`ChangePoints.guard`);
- a decayed score read by a condition changes at each decay step of the matches
  of its rules' patterns;
- a condition that reads `days since` changes with time itself: the lead is then
  evaluated at every instant of SPEC §7 (``pts`` is None).

Between two listed instants every condition read has the same value, so the
result there equals the result at the earlier one. The driver
(:func:`mqldsl.engine.helpers.drive`) keeps the one case where that is not
enough: after any change (of stage, disqualification, or a recycle) in a locked
timeline with recycle rules, it also evaluates the next instant of SPEC §7, as
the full timeline would (a recycle rule of the stage just reached is applied at
the next instant). A lead with an event at a fraction of a second is walked at
every instant: its window ends and decay steps are float sums that need not be
exact, and the full timeline's arithmetic decides where it leaves a window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mqldsl.engine.expression_code import STATIC_KINDS, ExpressionCode
from mqldsl.language import ast
from mqldsl.language.ast import walk
from mqldsl.language.notation import expr

# A read of a pattern's match times: (the pattern's local, the window in seconds or None: ever).
Read = tuple[str, float | None]


@dataclass
class Reads:
    """What an expression reads that can change between instants."""

    windows: set[Read] = field(default_factory=set)
    steps: set[tuple[str, float]] = field(default_factory=set)  # decay: (pattern, period)
    continuous: bool = False  # `days since`: changes with time itself

    def add(self, other: Reads) -> None:
        self.windows |= other.windows
        self.steps |= other.steps
        self.continuous = self.continuous or other.continuous


class ChangePoints:
    """Writes, at the lead level of the generated ``evaluate``, the code that lists the
    lead's change points into ``pts`` (sorted, with the as-of instant; None for every
    instant of SPEC §7)."""

    def __init__(self, code: ExpressionCode) -> None:
        self.code = code
        self.model = code.model
        self._scores: dict[str, Reads] = {}
        # A static test (by its notation) -> its local g<i> and its code.
        self._locals: dict[str, tuple[str, str]] = {}

    # ------------------------------------------------------------ reads

    def reads(self, node: ast.Expr) -> Reads:
        code = self.code
        found = Reads()
        for part in walk(node):
            if isinstance(part, ast.Pattern):
                found.windows.add((code.pattern(part.event, part.where), _seconds(part.window)))
            elif isinstance(part, ast.NoEvents | ast.Count | ast.ContactCount | ast.Aggregate):
                # Their pattern is read as a child: an aggregate changes only where its
                # pattern's count does (a match, or a match leaving the window), and its
                # matches include the events that have the field.
                continue
            elif isinstance(part, ast.AccountRef):
                ref = self.model.refs.get(id(part))
                if ref is not None and ref.kind == "score" and ref.name not in code.static_scores:
                    found.add(self.score_reads(ref.name))
            elif not isinstance(part, STATIC_KINDS):
                # `days since`, or a kind this module does not know: it may change at any
                # instant, so every instant of SPEC §7 is visited.
                found.continuous = True
            elif isinstance(part, ast.Name):
                ref = self.model.refs.get(id(part))
                if ref is None:
                    continue
                if ref.kind == "event":
                    found.windows.add((code.pattern(ref.name, None), None))
                elif ref.kind == "score" and ref.name not in code.static_scores:
                    found.add(self.score_reads(ref.name))
        return found

    def score_reads(self, name: str) -> Reads:
        """Everything score ``name`` reads (through the scores it reads, in turn)."""
        if name in self._scores:
            return self._scores[name]
        found = self._scores[name] = Reads()
        score = self.model.scores[name].node
        saved = self.code.account
        self.code.account = score.on_account  # an account score's patterns: the account's
        try:
            self._score_reads(score, found)
        finally:
            self.code.account = saved
        return found

    def _score_reads(self, score: ast.Score, found: Reads) -> Reads:
        if score.formula is not None:
            found.add(self.reads(score.formula))
            return found
        decay = score.decay
        for rule in score.rules or ():
            if isinstance(rule, ast.PerRule):
                found.add(self.reads(rule.pattern))
                pattern: ast.Pattern | None = rule.pattern
            else:
                found.add(self.reads(rule.condition))
                pattern = self.model.decay_pattern(rule.condition)
            if decay is not None and pattern is not None:
                # Each match's contribution changes at its decay steps.
                times = self.code.pattern(pattern.event, pattern.where)
                found.steps.add((times, decay.every.seconds))
        return found

    # ------------------------------------------------------------ partial evaluation

    def guard(self, node: ast.Expr) -> tuple[str, str]:
        """Code for (may hold, surely holds) of a condition given only what is the same at
        every instant: ``"True"``/``"False"`` where that is known when compiling."""
        if isinstance(node, ast.And | ast.Or):
            parts = [self.guard(operand) for operand in node.operands]
            join = _all if isinstance(node, ast.And) else _any
            return join([may for may, _ in parts]), join([sure for _, sure in parts])
        if isinstance(node, ast.Not):
            may, sure = self.guard(node.operand)
            return _not(sure), _not(may)
        if self.code.static(node):
            key = expr(node)
            if key not in self._locals:
                self._locals[key] = (f"g{len(self._locals)}", self.code.cond(node))
            local = self._locals[key][0]
            return local, local
        return "True", "False"

    def needs(self, node: ast.Expr, context: str, out: list[tuple[Reads, str]]) -> None:
        """Add to ``out`` what each part of a condition reads that changes between
        instants, with the code of when it matters for this lead (``context``): a part
        of an `and` matters only while every other part may hold, a part of an `or` only
        while no part surely holds."""
        if context == "False":
            return
        if isinstance(node, ast.And | ast.Or):
            parts = [self.guard(operand) for operand in node.operands]
            if isinstance(node, ast.And):
                inner = _all([context, *[may for may, _ in parts]])
            else:
                inner = _all([context, _not(_any([sure for _, sure in parts]))])
            for operand in node.operands:
                self.needs(operand, inner, out)
            return
        if isinstance(node, ast.Not):
            self.needs(node.operand, context, out)
            return
        if self.code.static(node):
            return
        reads = self.reads(node)
        if reads.windows or reads.steps or reads.continuous:
            out.append((reads, context))

    # ------------------------------------------------------------ the code

    def lines(self, conditions: list[ast.Expr]) -> list[str]:
        """The lines (unindented) that set ``pts`` for a lead, given every condition the
        timeline evaluates at each instant (stages, disqualifiers, recycles)."""
        self._locals = {}
        found: list[tuple[Reads, str]] = []
        for condition in conditions:
            self.needs(condition, "True", found)
        windows: dict[Read, list[str]] = {}
        continuous: list[str] = []
        steps: dict[tuple[str, float], list[str]] = {}
        for reads, context in found:
            for read in reads.windows:
                if read[1] is not None and not read[1].is_integer():
                    continuous.append(context)  # a window of a fraction of a second
                windows.setdefault(read, []).append(context)
            for step in reads.steps:
                if not step[1].is_integer():
                    continuous.append(context)
                steps.setdefault(step, []).append(context)
            if reads.continuous:
                continuous.append(context)
        out = [f"{local} = {code}" for local, code in self._locals.values()]
        # A window's end and a decay step are sums of floats: exact for whole seconds, but an
        # event at a fraction of a second may leave its window (in the arithmetic both engines
        # share) a little after the sum, where the full timeline visits the next instant. So a
        # lead with such an event is walked at every instant of SPEC §7.
        arithmetic = steps or any(seconds is not None for _, seconds in windows)
        if arithmetic:
            continuous.append("(not _whole(tts))")
        every = _any(continuous)
        # Each pattern's match times, then each of its windows' ends.
        moments: dict[str, list[str]] = {}
        ends: dict[str, list[tuple[float, list[str]]]] = {}
        for (times, seconds), guards in windows.items():
            moments.setdefault(times, []).extend(guards)
            if seconds is not None:
                ends.setdefault(times, []).append((seconds, guards))
        # The timeline starts at its first instant (the entry stage's `entered`).
        # The limit of instants a lead (E900) is checked before anything is listed.
        body = ["_limit(META, lead, as_of, tts)", "P = {as_of, tts[0]} if tts else {as_of}"]
        # Under each guard, one update with every list of instants it adds; a list is left
        # out when a pattern that matches every event it matches adds the same instants
        # under the same guard or none.
        covers = self._covers()
        added: dict[str, list[str]] = {}
        for times, guards in sorted(
            moments.items(), key=lambda item: (item[0][0], int(item[0][1:]))
        ):
            guard = _any(guards)
            if not any(_any(moments.get(b, ["False"])) in ("True", guard) for b in covers(times)):
                added.setdefault(guard, []).append(times)
            for seconds, guarded in sorted(ends.get(times, ())):
                guard = _any(guarded)
                if not any(
                    _any(other) in ("True", guard)
                    for b in covers(times)
                    for span, other in ends.get(b, ())
                    if span == seconds
                ):
                    added.setdefault(guard, []).append(f"[a + {seconds!r} for a in {times}]")
        for guard, lists in added.items():
            body.append(_when(guard, f"P.update({', '.join(lists)})"))
        for (times, period), guards in sorted(steps.items()):
            body.append(_when(_any(guards), f"_steps(P, {times}, {period!r}, as_of)"))
        # Sorted, then cut after as_of (in C: cheaper than filtering first in Python).
        body.append("pts = sorted(P)")
        body.append("del pts[br(pts, as_of):]")
        if every == "True":
            out.append("pts = None")
        elif every == "False":
            out.extend(body)
        else:
            out.append(f"if {every}:")
            out.append("    pts = None")
            out.append("else:")
            out.extend("    " + line for line in body)
        return out

    def _covers(self) -> Callable[[str], list[str]]:
        """For a pattern's local, the locals of the other patterns that match every event it
        matches: the pattern of any event (`event`), and the same event without `where`
        (lead patterns with lead patterns, account patterns with account patterns)."""
        code = self.code
        by_key: dict[tuple[bool, str | None, str], str] = {}
        keys: dict[str, tuple[bool, str | None, str]] = {}
        for table in (code.patterns, code.account_patterns):
            for (event, where), pattern in table.items():
                key = (pattern.account, event, where)
                by_key[key] = pattern.local
                keys[pattern.local] = key

        def covers(local: str) -> list[str]:
            account, event, where = keys[local]
            wider: list[tuple[bool, str | None, str]] = [(account, None, "")]
            if event is not None and where:
                wider.append((account, event, ""))
            return [by_key[k] for k in wider if k in by_key and by_key[k] != local]

        return covers


def _seconds(window: ast.Window) -> float | None:
    return window.seconds if isinstance(window, ast.Duration) else None


def _when(test: str, line: str) -> str:
    return line if test == "True" else f"if {test}: {line}"


def _all(parts: list[str]) -> str:
    if "False" in parts:
        return "False"
    kept = [part for part in parts if part != "True"]
    if not kept:
        return "True"
    return kept[0] if len(kept) == 1 else "(" + " and ".join(kept) + ")"


def _any(parts: list[str]) -> str:
    if "True" in parts:
        return "True"
    kept = list(dict.fromkeys(part for part in parts if part != "False"))
    if not kept:
        return "False"
    return kept[0] if len(kept) == 1 else "(" + " or ".join(kept) + ")"


def _not(part: str) -> str:
    if part == "True":
        return "False"
    if part == "False":
        return "True"
    return f"(not {part})"
