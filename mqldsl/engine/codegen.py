"""Compile a checked policy into a Python evaluator.

The compiler writes Python source for one function per policy (like Jinja2's
code generator: a small line writer, then one ``compile()``), so that a lead
is evaluated without walking the AST. Per lead, the generated code:

- reads every profile field once into a local;
- filters the lead's events once per distinct pattern (type + `where`) into
  a sorted list of match times, so that a window test at instant t is two
  binary searches;
- defines closures that compute the scores, the holding stage, the
  disqualifiers, recycling and routes at an instant (those only an explained lead
  or the driver's walk calls are defined only then: a closure costs in proportion
  to what it reads);
- hands them to :func:`mqldsl.engine.helpers.drive`, which walks the timeline, or,
  for a policy without recycling or hot-event routes, walks the lead's change points
  itself (``sweep``): there the scores its conditions read (``R<i>``) are called at
  instants that only grow, so each window search is a pointer moved forward from
  one call to the next instead of a binary search.

The code of each expression comes from :mod:`mqldsl.engine.expression_code`;
this module lays out the functions around it.

The generated module runs in a namespace from :func:`mqldsl.engine.helpers.namespace`:
its helpers, constants table and policy metadata are all it can see.

Names and strings from the policy never become Python identifiers: locals
are numbered, and every string is embedded with ``repr``; other constants
(dates, lists) go through a constants table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mqldsl.analysis.bound import bind
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.changes import ChangePoints
from mqldsl.engine.expression_code import SENTINELS, ExpressionCode
from mqldsl.engine.helpers import PolicyMeta, namespace
from mqldsl.engine.runtime import WHOLE_BOUND, hot_routes
from mqldsl.language import ast


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.level = 0

    def line(self, text: str) -> None:
        self.lines.append("    " * self.level + text)

    def indent(self) -> None:
        self.level += 1

    def outdent(self) -> None:
        self.level -= 1

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass
class CompiledPolicy:
    """The compiled evaluator of one policy with one set of params."""

    model: CheckedPolicy
    params: dict[str, Any]
    source: str
    # (lead, as_of, explain) -> EvalResult (explain None: the decision only, see
    # helpers.drive); (lead, as_of, False, True) -> the scores as of
    # as_of, in evaluation order, for a policy without recycle rules
    evaluate: Any
    constants: list[Any] = field(default_factory=list)
    meta: PolicyMeta | None = None  # what `evaluate` reads (engine/fused.py shares it)
    compiler: PolicyCompiler | None = None  # what wrote it (engine/fused.py writes on)


class PolicyCompiler(ExpressionCode):
    """Writes the ``evaluate`` function of one policy (see the module docstring)."""

    def __init__(self, model: CheckedPolicy, params: Mapping[str, Any]) -> None:
        super().__init__(model, params)
        self.w = _Writer()
        self.rest: list[str] | None = None  # see compile

    def function(
        self,
        header: str,
        build: Callable[[], None],
        lazy: bool = False,
        inline: bool = False,
        hoist: bool = True,
        incremental: bool = False,
    ) -> None:
        """Write a function whose body ``build()`` writes; its window bounds
        and search heads are computed once at its top. With ``lazy``, the scores
        its conditions read are computed on first use (``S<i>(t, s)``), so that a
        condition that fails on a static score never computes the others. With ``hoist``, its
        static conditions are computed once a lead (ExpressionCode.lead_lines). With
        ``incremental``, its searches are pointers (ExpressionCode.search)."""
        w = self.w
        w.line(header)
        w.indent()
        saved = (self.lows, self.heads, self.lazy, self.inline, self.hoisting)
        saved_search = (self.incremental, self.pointers)
        self.lows, self.heads, self.lazy, self.inline = {}, set(), lazy, inline
        self.hoisting = hoist
        self.incremental, self.pointers = incremental, {}
        start = len(w.lines)
        build()
        body = w.lines[start:]
        del w.lines[start:]
        top = self.prelude("    " * w.level)
        if lazy:
            text = "\n".join(body)
            top += [
                "    " * w.level + f"v{index} = _U"
                for name in self.model.score_order
                if name not in self.static_scores
                and re.search(rf"\bv{(index := self.score_index[name])}\b", text)
            ]
        w.lines.extend(top + body)
        self.lows, self.heads, self.lazy, self.inline, self.hoisting = saved
        self.incremental, self.pointers = saved_search
        w.outdent()

    # ------------------------------------------------------------ the function

    def compile(self) -> str:
        model = self.model
        self.static_scores.clear()
        for name in model.score_order:
            node = model.scores[name].node
            if node.formula is not None:
                is_static = self.static(node.formula)
            else:
                is_static = all(
                    isinstance(r, ast.WhenRule) and self.static(r.condition)
                    for r in node.rules or ()
                )
            if is_static:
                self.static_scores.add(name)
        self.rule_constants: dict[int, str] = {}
        self.int_rules: set[int] = set()  # the rules whose constant is an int (_int_text)
        self.sweeping = False
        w = self.w
        lead_level = _Writer()
        lead_level.level = 1
        body = _Writer()
        body.level = 1
        # Everything that depends on the instant, as closures.
        self.w = body
        has_hot = any(r.on is not None for r in model.routes)
        # A policy without recycling or hot-event routes: its walk written out.
        sweep = self.fresh and not has_hot
        self._scores_function(explain=False)
        # Defining a closure costs in proportion to what it reads (~12,000 instructions a lead
        # for the Acme policy's explaining scores): the functions only an explained lead, or a
        # walk without the written-out sweep, calls are defined only then.
        self._only_if("explain", ["scores_explain"], lambda: self._scores_function(explain=True))
        for name in model.score_order:
            if name not in self.static_scores:
                self._score_function(name)

        def walk() -> None:
            self._instant_function()
            self._recycle_function()

        if sweep:  # (a journey that never restarts: no `disqualifiers` function)
            self._only_if("explain or pts is None", ["instant", "recycle"], walk)
        else:
            walk()
        self._route_function()
        if has_hot:
            self._hot_function()
        if sweep:
            self._sweep_function()
        # What is the same at every instant, once per lead.
        self.w = lead_level
        for name in model.score_order:
            if name in self.static_scores:
                self._score_body(name, explain=False)
        for key, constant in self.rule_constants.items():
            rule = self._rules_by_id[key]
            assert isinstance(rule, ast.WhenRule)
            # (read only where the explanation is not written: its score's numbers)
            number = _int_text if id(rule) in self.int_rules else _float_text
            lead_level.line(
                f"{constant} = {number(rule.points)} if {self.cond(rule.condition)} "
                f"else {number(0)}"
            )
        # The static conditions the per-instant functions read, and first match times.
        lead_level.lines.extend(self.lead_lines("    " * lead_level.level))
        # The instants where something the timeline reads can change (engine/changes.py).
        conditions = [s.condition for s in model.stages.stages if s.condition is not None]
        conditions += [d.condition for d in model.disqualifiers]
        conditions += [r.condition for r in model.recycles]
        # A hot-event route hands off at each matching event (SPEC §8): those are instants.
        conditions += [r.on for r in model.routes if r.on is not None]
        for text in ChangePoints(self).lines(conditions):
            lead_level.line(text)
        self.w = w
        w.line("def evaluate(lead, as_of, explain, only_scores=False):")
        w.indent()
        w.line("prof = lead.profile")
        for name, index in self.field_index.items():
            w.line(f"f{index} = prof.get({name!r})")
        if self.account_index:
            w.line("acc = lead.account_profile")
            for name, index in self.account_index.items():
                w.line(f"a{index} = acc.get({name!r})")
        w.line("events = lead.events")
        # The events the timeline is built on: with account scores, the whole account's.
        if model.reads_account_scores:
            # The account's events, gathered and sorted once: account patterns read them with
            # their leads; the timeline reads their times.
            w.line("aev = _aev(lead)")
            w.line("tev = [item[0] for item in aev]")
        else:
            w.line("tev = events")
        w.line("tts = [e.at for e in tev]")  # the timeline's event times
        # The events grouped by type once, then filtered once per pattern.
        typed = bool(self.series) or any(p.event is not None for p in self.patterns.values())
        if typed:
            w.line("by = _group(events)")
        for pattern in sorted(self.patterns.values(), key=lambda p: p.index):
            m = f"m{pattern.index}"
            source = "events" if pattern.event is None else f"by.get({pattern.event!r}, ())"
            if pattern.where is None:
                if source == "events":
                    whole = not model.reads_account_scores
                    w.line(f"{m} = tts" if whole else f"{m} = [e.at for e in events]")
                else:
                    # (a comprehension costs ~1,500 instructions even over nothing, and most
                    # leads have no event of most types)
                    group = f"by.get({pattern.event!r})"
                    w.line(f"{m} = [e.at for e in eg] if (eg := {group}) else []")
                continue
            w.line(f"{m} = []")
            w.line(f"for e in {source}:")
            w.indent()
            w.line("ef = e.fields")
            w.line(f"if {self.cond(pattern.where)}:")
            w.indent()
            w.line(f"{m}.append(e.at)")
            w.outdent()
            w.outdent()
        self._account_patterns()
        self._series_lines()
        w.lines.extend(lead_level.lines)
        w.lines.extend(body.lines)
        # What follows the events' lists, for engine/fused.py's function (a sweep only).
        self.rest = lead_level.lines + body.lines if sweep else None
        if self.fresh:
            # A journey that never restarts: the scores as of an instant need no walk.
            w.line("if only_scores:")
            w.line("    return scores(as_of, NEG)")
        w.line(
            "return _drive(META, lead, as_of, explain, "
            "scores, scores_explain, instant, recycle, route, pts, "
            f"{'hot' if has_hot else 'None'}, {'sweep' if sweep else 'None'})"
        )
        w.outdent()
        return w.source()

    def _only_if(self, guard: str, names: list[str], build: Callable[[], None]) -> None:
        """The definitions ``build`` writes, made only when ``guard`` holds (the ``names``
        they define are None otherwise)."""
        w = self.w
        w.line(f"if {guard}:")
        w.indent()
        build()
        w.outdent()
        w.line("else:")
        w.line(f"    {' = '.join(names)} = None")

    def _series_lines(self) -> None:
        """Each aggregate's series: the times of the events that match its pattern and have
        its field, and the field's values (prefix sums for an int sum), in time order."""
        w = self.w
        for series in sorted(self.series.values(), key=lambda item: item.index):
            a = f"a{series.index}"
            w.line(f"{a}t = []")
            w.line(f"{a}v = []")
            if series.account:  # an account score's: the events of the account's leads
                w.line(f"for e, cp, cn in aby.get({series.event!r}, ()):")
            else:
                w.line(f"for e in by.get({series.event!r}, ()):")
            w.indent()
            saved = self.account
            self.account = series.account
            w.line("ef = e.fields")
            w.line(f"av = ef.get({series.field!r})")
            test = "av is not None"
            if series.where is not None:
                test += f" and {self.cond(series.where)}"
            w.line(f"if {test}:")
            w.indent()
            w.line(f"{a}t.append(e.at)")
            w.line(f"{a}v.append(av)")
            w.outdent()
            w.outdent()
            self.account = saved
            if series.whole:
                w.line(f"{a}p = list(_acc({a}v, initial=0))")

    def _account_patterns(self) -> None:
        """The match times of each account pattern (``q<i>``) and the number of each match's
        lead (``q<i>c``), over the events of all the account's leads (SPEC §9)."""
        w = self.w
        patterns = sorted(self.account_patterns.values(), key=lambda p: p.index)
        series = any(item.account for item in self.series.values())
        if not patterns and not series:
            return
        if series or any(p.event is not None for p in patterns):
            w.line("aby = _agroup(aev)")
        saved = self.account
        self.account = True
        for pattern in patterns:
            q = pattern.local
            source = "aev" if pattern.event is None else f"aby.get({pattern.event!r}, ())"
            w.line(f"{q} = []")
            w.line(f"{q}c = []")
            w.line(f"for e, cp, cn in {source}:")
            w.indent()
            if pattern.where is not None:
                w.line("ef = e.fields")
                w.line(f"if {self.cond(pattern.where)}:")
                w.indent()
            w.line(f"{q}.append(e.at)")
            w.line(f"{q}c.append(cn)")
            if pattern.where is not None:
                w.outdent()
            w.outdent()
        self.account = saved

    @property
    def _rules_by_id(self) -> dict[int, ast.Rule]:
        return {
            id(rule): rule for info in self.model.scores.values() for rule in info.node.rules or ()
        }

    def _score_body(self, name: str, explain: bool) -> None:
        """Compute score ``name`` into its local ``v<i>``."""
        score = self.model.scores[name].node
        saved = self.account
        self.account = score.on_account
        try:
            self._score_code(name, score, explain)
        finally:
            self.account = saved

    def _score_code(self, name: str, score: ast.Score, explain: bool) -> None:
        w = self.w
        v = f"v{self.score_index[name]}"
        if score.formula is not None:
            code, _ = self.value(score.formula)
            w.line(f"{v} = _round({code})")
            if explain:
                w.line("parts.append(())")
            return
        # Whole points summed as ints where the floats' sum is exact all the same: no float
        # made at each rule (the explanation shows its contributions as floats).
        number = _int_text if not explain and _small_whole_sums(score) else _float_text
        w.line(f"x = {number(0)}")
        if explain:
            w.line("rp = []")
        decay = score.decay
        hoist = not explain and name not in self.static_scores
        capped = False  # a rule through _cap, which gives a float past its limit: int() then
        for rule in score.rules or ():
            pts = number(rule.points)
            if isinstance(rule, ast.PerRule) and rule.per_contact:
                capped = True
                times = self.pattern(rule.pattern.event, rule.pattern.where)
                low = self.low(rule.pattern.window)
                limit = number(rule.max) if rule.max is not None else "None"
                if decay is None:
                    w.line(f"c = _cap({pts} * _distinct({times}, {times}c, {low}, t), {limit})")
                else:
                    w.line(
                        f"c = _cap(_dcontacts({times}, {times}c, {low}, t, {pts}, "
                        f"{float(decay.percent)!r}, {decay.every.seconds!r}), {limit})"
                    )
            elif isinstance(rule, ast.PerRule):
                times = self.pattern(rule.pattern.event, rule.pattern.where)
                limit = number(rule.max) if rule.max is not None else "None"
                if decay is None and (rule.max is None or rule.max >= 0):
                    w.line(f"c = {pts} * {self.count(times, rule.pattern.window)}")
                    if rule.max is not None:
                        # cap() in place: the points are per match, so the sum has their sign.
                        if rule.points >= 0:
                            w.line(f"if c > {limit}: c = {limit}")
                        else:
                            w.line(f"if c < -{limit}: c = -{limit}")
                elif decay is None:
                    capped = True
                    w.line(f"c = _cap({pts} * {self.count(times, rule.pattern.window)}, {limit})")
                else:
                    capped = True
                    w.line(
                        f"c = _cap(_dsum({times}, t, {self.low(rule.pattern.window)}, {pts}, "
                        f"{float(decay.percent)!r}, {decay.every.seconds!r}), {limit})"
                    )
            else:
                pattern = self.model.decay_pattern(rule.condition)
                if decay is not None and pattern is not None:
                    times = self.pattern(pattern.event, pattern.where)
                    w.line(f"lt = _latest({times}, t, {self.low(pattern.window)})")
                    w.line(
                        f"c = 0.0 if lt is None else {pts} * "
                        f"_decay({float(decay.percent)!r}, {decay.every.seconds!r}, t - lt)"
                    )
                elif hoist and self.static(rule.condition):
                    constant = self.rule_constants.setdefault(
                        id(rule), f"k{len(self.rule_constants)}"
                    )
                    if number is _int_text:
                        self.int_rules.add(id(rule))
                    w.line(f"c = {constant}")
                else:
                    w.line(f"c = {pts} if {self.cond(rule.condition)} else {number(0)}")
            if explain:
                w.line("x += c")
                w.line("rp.append(c)")
            else:
                self._add_last_rule()
        if score.range is not None:
            w.line(f"x = _clamp(x, {float(score.range.low)!r}, {float(score.range.high)!r})")
        if number is _int_text and score.range is None and not capped:
            w.line(f"{v} = x")  # (a sum of ints)
        elif _whole_sums(score):
            # Whole points, caps and range, no decay: the sum is a whole number (SPEC §4),
            # an int where it fits 64 bits (round_score's rule).
            bound = float(WHOLE_BOUND)
            w.line(f"{v} = int(x) if {-bound!r} <= x < {bound!r} else _round(x)")
        else:
            w.line(f"{v} = _round(x)")
        if explain:
            w.line("parts.append(tuple(rp))")

    def _add_last_rule(self) -> None:
        """Adds the rule just written (``c = ...``, perhaps capped) to the sum ``x``: a rule
        written on one line is added in place (``x += ...``: the same additions, in the same
        order, without storing ``c``)."""
        lines = self.w.lines
        last = lines[-1]
        head = last[: len(last) - len(last.lstrip())]
        if last.startswith(f"{head}c = "):
            lines[-1] = f"{head}x += {last[len(head) + 4 :]}"
        else:
            self.w.line("x += c")

    def _scores_function(self, explain: bool) -> None:
        model = self.model
        order = model.score_order
        values = ", ".join(f"v{self.score_index[n]}" for n in order)
        tail = "," if len(order) == 1 else ""

        def build() -> None:
            if explain:
                self.w.line("parts = []")
            for name in order:
                if explain or name not in self.static_scores:
                    self._score_body(name, explain)
            if explain:
                self.w.line(f"return ({values}{tail}), parts")
            else:
                self.w.line(f"return ({values}{tail})")

        # The explaining one runs on explained leads only: nothing of it is hoisted (computed
        # for every lead).
        self.function(
            f"def {'scores_explain' if explain else 'scores'}(t, s):", build, hoist=not explain
        )

    def _score_function(self, name: str, sweep: bool = False) -> None:
        """``S<i>(t, s)``: score ``name`` alone at instant t (the scores it reads are
        computed lazily in turn). With ``sweep``, ``R<i>(t)``: the same, called by the sweep
        only, at instants that only grow (its searches are pointers the sweep keeps)."""
        index = self.score_index[name]

        def build() -> None:
            self._score_body(name, explain=False)
            self.w.line(f"return v{index}")

        header = f"def R{index}(t):" if sweep else f"def S{index}(t, s):"
        self.function(header, build, lazy=True, incremental=sweep)

    def lazy_score(self, name: str) -> str | None:
        """The code of a score's value where scores are lazy; None elsewhere (the local
        ``v<i>`` holds it)."""
        if not self.lazy or name in self.static_scores:
            return None
        index = self.score_index[name]
        v = f"v{index}"
        call = f"R{index}(t)" if self.sweeping else f"S{index}(t, s)"
        return f"({v} if {v} is not _U else ({v} := {call}))"

    def _instant_function(self) -> None:
        """(reasons, holding) at instant t for journey start s, holding being the
        last-listed stage above ``floor`` whose condition holds (0 if none). Disqualifiers
        always see the whole history (their own `s` is minus infinity); scores are
        computed when a condition first reads them."""
        model = self.model
        w = self.w

        def disqualifiers() -> None:
            w.line("reasons = []")
            for d in model.disqualifiers:
                w.line(f"if {self.cond(d.condition)}:")
                w.indent()
                w.line(f"reasons.append({d.reason!r})")
                w.outdent()
            w.line("return reasons")

        def instant() -> None:
            if self.fresh:
                # The journey start is minus infinity, as disqualifiers need: tested in place,
                # the reasons listed only when one holds.
                if self._disqualified("return reasons, 0"):
                    w.outdent()
                w.line("reasons = _E")
            else:
                w.line("reasons = disqualifiers(t, NEG)")
                w.line("if reasons:")
                w.indent()
                w.line("return reasons, 0")
                w.outdent()
            # The last-listed stage whose condition holds: from the last one down.
            staged = [
                (index, stage.condition)
                for index, stage in enumerate(model.stages.stages)
                if index > 0 and stage.condition is not None
            ]
            # Stages at or below `floor` (what a locked timeline has reached) are not tried.
            for index, condition in reversed(staged):
                # Flexible stages: the floor is always 0, every stage is tried.
                test = f"floor < {index} and " if model.locked else ""
                w.line(f"if {test}{self.cond(condition)}:")
                w.indent()
                w.line(f"return reasons, {index}")
                w.outdent()
            w.line("return reasons, 0")

        if not self.fresh:
            self.function("def disqualifiers(t, s):", disqualifiers, lazy=True, inline=True)
        self.function("def instant(t, s, floor):", instant, lazy=True, inline=True)

    def _disqualified(self, then: str) -> bool:
        """For a journey that never restarts: writes ``if <any disqualifier holds>:`` and, in
        its block (left indented), the reasons that hold listed in ``reasons`` and the line
        ``then``. False (nothing written) for a policy without disqualifiers."""
        model = self.model
        w = self.w
        tests = [self.cond(d.condition) for d in model.disqualifiers]
        if not tests:
            return False
        w.line(f"if {' or '.join(tests)}:")
        w.indent()
        w.line("reasons = []")
        for d, test in zip(model.disqualifiers, tests, strict=True):
            w.line(f"if {test}: reasons.append({d.reason!r})")
        w.line(then)
        return True

    def _sweep_function(self) -> None:
        """``sweep(tl)``: the walk of a policy without recycling or hot-event routes
        over its change points ``pts``, written out (no call of ``instant`` at each one): the
        stage at each instant as ``instant`` gives it, ``tl.step``
        (mqldsl.engine.helpers.Timeline) at each change; returns the reasons that hold at the
        last instant."""
        model = self.model
        w = self.w
        staged = [
            (index, stage.condition)
            for index, stage in enumerate(model.stages.stages)
            if index > 0 and stage.condition is not None
        ]

        def loop() -> None:
            chain = "if"
            tests = self._disqualified("new = -1")
            if tests:
                w.outdent()
                w.line("else:")
                w.indent()
            w.line("reasons = _E")
            # The last-listed stage whose condition holds, as in ``instant``; a locked
            # timeline tries only the stages above the one it has reached, and stays there.
            for index, condition in reversed(staged):
                if model.locked:
                    w.line(f"{chain} reached < {index} and {self.cond(condition)}:")
                    w.line(f"    reached = {index}")
                else:
                    w.line(f"{chain} {self.cond(condition)}:")
                    w.line(f"    new = {index}")
                chain = "elif"
            if model.locked:
                w.line("new = reached")
            elif staged:
                w.line("else:")
                w.line("    new = 0")
            else:
                w.line("new = 0")
            if tests:
                w.outdent()
            w.line("if new != label:")
            w.line("    label = new")
            w.line("    tl.step(t, new, reasons)")
            if forever:
                # Disqualified for good: nothing changes at the instants left but the
                # reasons, which are those of the last one (as_of): it alone is visited.
                w.line("    if new < 0 and (_k := _it.__length_hint__() - 1) > 0:")
                w.line("        next(_islice(_it, _k, _k), None)")

        w.line("def sweep(tl):")
        w.indent()
        w.line("s = NEG")
        w.line("label = -2")
        w.line("reached = 0")
        w.line("reasons = _E")
        self.sweeping = True
        # The scores the walk reads, as functions of instants that only grow: their searches
        # are pointers (ExpressionCode.search), set up here, moved forward by the functions.
        functions = _Writer()
        functions.level = w.level
        self.w = functions
        self.sweep_pointers = {}
        for name in model.score_order:
            if name not in self.static_scores:
                self._score_function(name, sweep=True)
        self.w = w
        if self.sweep_pointers:
            lists = sorted({times for times, _ in self.sweep_pointers})
            sentinels = [f"z{times}" for times in lists]
            w.line(f"{' = '.join(sentinels)} = None")
            w.line(f"{' = '.join(sorted(self.sweep_pointers.values()))} = 0")
            for line in functions.lines:
                if line.strip() == SENTINELS:  # every list, made at the first call of any
                    indent = line[: len(line) - len(line.lstrip())]
                    w.lines.append(f"{indent}if {sentinels[0]} is None:")
                    for times, name in zip(lists, sentinels, strict=True):
                        w.lines.append(f"{indent}    {name} = {times} + [INF]")
                else:
                    w.lines.append(line.replace(SENTINELS, ", ".join(sentinels)))
        else:
            w.lines.extend(functions.lines)
        # Whether a disqualified lead stays disqualified (every disqualifier, once it holds,
        # holds at every later instant of a journey that never restarts).
        forever = bool(model.disqualifiers) and all(
            self._holds_for_good(d.condition) for d in model.disqualifiers
        )
        start = len(w.lines)
        if forever:
            w.line("_it = iter(pts)")
        self.function(f"for t in {'_it' if forever else 'pts'}:", loop, lazy=True, inline=True)
        # The walk itself searches in place (``inline``): it never assigns a pointer.
        assigned = {line.split("=")[0].strip() for line in w.lines[start:] if " = " in line}
        assert not assigned & set(self.sweep_pointers.values()), assigned
        self.sweeping = False
        w.line("return reasons")
        w.outdent()

    def _holds_for_good(self, node: ast.Expr) -> bool:
        """Whether ``node``, once it holds at an instant, holds at every later one, on a
        journey that never restarts: it reads only what is the same at every instant, or
        whether an event ever happened (an `ever` pattern, a bare event name), joined by
        `and`/`or`. Anything else (a window, a count, a score, `not`) may stop holding."""
        if self.static(node):
            return True
        if isinstance(node, ast.And | ast.Or):
            return all(self._holds_for_good(operand) for operand in node.operands)
        if isinstance(node, ast.Pattern):
            return node.window is None or node.window == "ever"
        if isinstance(node, ast.Name):
            ref = self.model.refs.get(id(node))
            return ref is not None and ref.kind == "event"
        return False

    def _recycle_function(self) -> None:
        model = self.model
        names = model.stage_names
        w = self.w

        def build() -> None:
            if not model.recycles:
                w.line("return -1, -1")
                return
            for number, recycle in enumerate(model.recycles):
                test = (
                    f"stage == {names.index(recycle.from_stage)} and {self.cond(recycle.condition)}"
                )
                w.line(f"if {test}:")
                w.indent()
                w.line(f"return {names.index(recycle.to_stage)}, {number}")
                w.outdent()
            w.line("return -1, -1")

        self.function("def recycle(stage, t, s):", build, lazy=True, inline=True)

    def _route_function(self) -> None:
        model = self.model
        names = model.stage_names
        w = self.w

        def build() -> None:
            if not model.routes:
                w.line("return -1")
                return
            for number, route in enumerate(model.routes):
                if route.on is not None:  # a hot-event route: see _hot_function
                    continue
                test = f"stage == {names.index(route.stage)}"
                if route.condition is not None:
                    test += f" and {self.cond(route.condition)}"
                w.line(f"if {test}:")
                w.indent()
                w.line(f"return {number}")
                w.outdent()
            w.line("return -1")

        self.function("def route(stage, t, s):", build, lazy=True, inline=True)

    def _hot_function(self) -> None:
        """``hot(stage, t, s, e)``: the number of the first hot-event route that fires on
        event ``e`` at ``t`` while the lead is in stage number ``stage``; -1 (SPEC §8)."""
        model = self.model
        table = hot_routes(model.stage_names, [(r.stage, r.on is not None) for r in model.routes])
        w = self.w

        def build() -> None:
            w.line("ef = e.fields")
            for number, route in enumerate(model.routes):
                if route.on is None:
                    continue
                stages = tuple(i for i, numbers in enumerate(table) if number in numbers)
                test = f"stage in {stages!r}"
                if route.on.event is not None:
                    test += f" and e.type == {route.on.event!r}"
                if route.on.where is not None:
                    test += f" and {self.cond(route.on.where)}"
                if route.condition is not None:
                    test += f" and {self.cond(route.condition)}"
                w.line(f"if {test}:")
                w.indent()
                w.line(f"return {number}")
                w.outdent()
            w.line("return -1")

        self.function("def hot(stage, t, s, e):", build, lazy=True, inline=True)


def _whole_sums(score: ast.Score) -> bool:
    """Whether a score of rules always sums to a whole number: whole points and caps,
    a whole range, no decay."""
    numbers: list[float] = []
    for rule in score.rules or ():
        numbers.append(float(rule.points))
        if isinstance(rule, ast.PerRule) and rule.max is not None:
            numbers.append(float(rule.max))
    if score.range is not None:
        numbers += [float(score.range.low), float(score.range.high)]
    return score.decay is None and all(n.is_integer() for n in numbers)


def _small_whole_sums(score: ast.Score) -> bool:
    """Whether a score's rules can be summed as ints: whole sums (:func:`_whole_sums`) of
    numbers small enough that the sum of floats is exact too (it stays below 2**53 unless
    a lead has billions of events)."""
    numbers = [rule.points for rule in score.rules or ()]
    numbers += [r.max for r in score.rules or () if isinstance(r, ast.PerRule) and r.max]
    return _whole_sums(score) and all(abs(float(n)) <= 2**20 for n in numbers)


def _int_text(value: Any) -> str:
    return repr(int(value))


def _float_text(value: Any) -> str:
    return repr(float(value))


def compile_policy(model: CheckedPolicy, params: Mapping[str, Any] | None = None) -> CompiledPolicy:
    """Compile ``model`` with its params (overridden by ``params``; a duration
    param's new length recompiles the policy's windows, SPEC §5.2)."""
    model = bind(model, params)
    values = {name: info.value for name, info in model.params.items()}
    values.update(params or {})
    compiler = PolicyCompiler(model, values)
    source = compiler.compile()
    env = namespace(meta := PolicyMeta.of(model, values), compiler.constants)
    exec(compile(source, f"<mqldsl policy {model.source.name}>", "exec"), env)
    constants, evaluate = compiler.constants, env["evaluate"]
    return CompiledPolicy(model, values, source, evaluate, constants, meta, compiler)
