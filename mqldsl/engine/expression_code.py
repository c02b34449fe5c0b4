"""Python code for the expressions of a checked policy, for the code
generator (:mod:`mqldsl.engine.codegen`).

A value compiles to code and whether it may be None (missing); a condition
compiles to code that is always a bool (SPEC §5: a comparison with a missing
value is false). The code reads locals that the generated function sets up:
``f<i>`` (lead fields), ``a<i>`` (account fields), ``ef`` (the fields of the
event inside a `where`), ``v<i>`` (scores), ``m<i>`` (the sorted match times
of each distinct event pattern), ``a<i>t`` and ``a<i>v`` or ``a<i>p`` (the times and
values, or prefix sums, of each aggregate's events), ``t`` (the instant) and ``s`` (the journey
start); window bounds ``w<i>`` and search heads ``hm<i>`` are computed once at
the top of each generated function (:meth:`ExpressionCode.prelude`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.language import ast
from mqldsl.language.ast import walk
from mqldsl.language.notation import expr

#: The kinds of expression whose value does not depend on the instant by themselves (a name
#: may still be an event or a score computed per instant). A kind added to the language is
#: taken as changing with time until it is listed here (or in mqldsl.engine.changes).
STATIC_KINDS = (
    ast.NumberLit,
    ast.StringLit,
    ast.BoolLit,
    ast.DateLit,
    ast.InstantLit,
    ast.ListLit,
    ast.Name,
    ast.AccountRef,
    ast.Unary,
    ast.Arith,
    ast.Compare,
    ast.Between,
    ast.Membership,
    ast.TextTest,
    ast.Presence,
    ast.Not,
    ast.And,
    ast.Or,
)


#: In an incremental prelude (ExpressionCode.prelude), where the sweep's sentinel lists go: in
#: a `nonlocal` their names, on a line of its own the code that makes them at the first call.
SENTINELS = "<sentinels>"


@dataclass
class EventPattern:
    """One distinct (event, where) pattern: its match times are the local ``m<index>``; an
    account pattern's (SPEC §9, over the events of all the account's leads) are ``q<index>``,
    with the number of each match's lead in ``q<index>c``."""

    index: int
    event: str | None
    where: ast.Expr | None
    account: bool = False

    @property
    def local(self) -> str:
        return f"q{self.index}" if self.account else f"m{self.index}"


@dataclass
class AggregateSeries:
    """The events of one (event, where) pattern that have one field: their times are the local
    ``a<index>t`` and the field's values ``a<index>v`` (with ``whole``, an int field summed:
    the prefix sums ``a<index>p`` instead)."""

    index: int
    event: str
    where: ast.Expr | None
    field: str
    whole: bool
    account: bool = False  # over the events of all the account's leads (SPEC §9)


class ExpressionCode:
    """The state shared by the code of all expressions of one policy: the
    constants table, numbered temporaries, the distinct event patterns, and
    the window bounds and search heads of the function being written."""

    def __init__(self, model: CheckedPolicy, params: Mapping[str, Any]) -> None:
        self.model = model
        self.params = params
        self.constants: list[Any] = []
        self.temps = 0
        self.patterns: dict[tuple[str | None, str], EventPattern] = {}
        self.series: dict[tuple[str, str, str, bool, bool], AggregateSeries] = {}
        self.account_patterns: dict[tuple[str | None, str], EventPattern] = {}
        # Whether the code being written is an account score's (SPEC §9): its patterns
        # match the account's events, and lead fields inside `where` are the fields of the
        # lead each event belongs to (``cp``).
        self.account = False
        # The code of each event field inside `where`, when it is not the event's ``ef``
        # dict (engine/fused.py: the decoded record's attributes, bound to locals).
        self.event_fields: dict[str, str] | None = None
        self.field_index = {name: i for i, name in enumerate(model.fields)}
        self.account_index = {name: i for i, name in enumerate(model.account_fields)}
        self.score_index = {name: i for i, name in enumerate(model.score_order)}
        self.lows: dict[float, str] = {}
        self.heads: set[str] = set()
        self.lazy = False  # whether scores are computed on first use (codegen's lazy functions)
        self.inline = False  # whether window searches are written in place (see count)
        # Inside the sweep's scores (codegen), instants only grow: a search of a sorted list
        # for a bound that grows with t is a pointer kept from one call to the next (see
        # :meth:`search`). ``pointers``: the function's, by (list, bound's local);
        # ``sweep_pointers``: the sweep's, by (list, window in seconds or the bound's code),
        # shared by the functions that search the same list for the same window.
        self.incremental = False
        self.pointers: dict[tuple[str, str], str] = {}
        self.sweep_pointers: dict[tuple[str, float | str], str] = {}
        self.static_scores: set[str] = set()
        # Without recycle rules no journey restarts: the start `s` is always minus infinity,
        # so a window's bound needs no clipping and `ever` counts everything up to t.
        self.fresh = not model.recycles
        # Inside the per-instant functions (``hoisting``), a static condition is computed once
        # a lead, as the local ``H<i>`` (``hoisted``: by its text, the local and its code),
        # and the first match time of an `ever` pattern is the local ``F<times>``
        # (``firsts``), so that "has it happened by t" is one comparison (see
        # :meth:`ExpressionCode.lead_lines`).
        self.hoisting = False
        self.hoisted: dict[str, tuple[str, str]] = {}  # expression text: (local, code)
        self.firsts: set[str] = set()
        self.value: Callable[[ast.Expr], tuple[str, bool]] = _Value(self).visit
        self._condition = _Condition(self).visit
        self.cond: Callable[[ast.Expr], str] = self._cond

    # ------------------------------------------------------------ helpers

    def const(self, value: Any) -> str:
        if isinstance(value, bool) or value is None:
            return repr(value)
        if isinstance(value, int | float | str):
            return repr(value)
        self.constants.append(value)
        return f"C[{len(self.constants) - 1}]"

    def _cond(self, node: ast.Expr) -> str:
        """Code for a condition; inside a per-instant function a static one is read from the
        local that computes it once a lead."""
        if not self.hoisting or isinstance(node, ast.BoolLit) or not self._hoistable(node):
            return self._condition(node)
        key = expr(node)  # a name means the same everywhere outside a `where`
        if key not in self.hoisted:
            self.hoisting = False
            try:
                self.hoisted[key] = (f"H{len(self.hoisted)}", self._condition(node))
            finally:
                self.hoisting = True
        return self.hoisted[key][0]

    def _hoistable(self, node: ast.Expr) -> bool:
        """Whether a condition is the same at every instant and for every event: static, and
        reading no field of an event (a `where`) nor of an account's lead."""
        if self.account or not self.static(node):
            return False
        for part in walk(node):
            if isinstance(part, ast.Name):
                ref = self.model.refs.get(id(part))
                if ref is not None and ref.kind == "event_field":
                    return False
        return True

    def lead_lines(self, indent: str) -> list[str]:
        """The lines, run once a lead before the per-instant functions are defined, that
        compute the hoisted static conditions and the first match times they read."""
        lines = [f"{indent}F{m} = {m}[0] if {m} else INF" for m in sorted(self.firsts)]
        lines += [f"{indent}{name} = {code}" for name, code in self.hoisted.values()]
        return lines

    def happened(self, times: str, window: ast.Window, negated: bool) -> str:
        """Code for "a match time in (low, t]" (with ``negated``, "none"): in place, one
        comparison for `ever` (the first match time) and one search for a window (the last
        match at or before t is after the window's start)."""
        ever = not isinstance(window, ast.Duration)
        if self.inline and ever and self.fresh:
            self.firsts.add(times)
            return f"(t < F{times})" if negated else f"(F{times} <= t)"
        if self.inline:
            i = self.temp()
            found = f"(({i} := br({times}, t)) and {times}[{i} - 1] > {self.low(window)})"
            return f"(not {found})" if negated else found
        if ever and self.fresh:
            count = self.count(times, window)
            return f"({count} == 0)" if negated else f"({count} > 0)"
        self.heads.add(times)  # one search: the last match at or before t, after low?
        h = f"h{times}"
        found = f"({h} > 0 and {times}[{h} - 1] > {self.low(window)})"
        return f"(not {found})" if negated else found

    def temp(self) -> str:
        self.temps += 1
        return f"_t{self.temps}"

    def pattern(self, event: str | None, where: ast.Expr | None) -> str:
        """The local holding the sorted match times of (event, where)."""
        key = (event, expr(where) if where is not None else "")
        table = self.account_patterns if self.account else self.patterns
        if key not in table:
            table[key] = EventPattern(len(table), event, where, self.account)
        return table[key].local

    def aggregate(self, node: ast.Aggregate) -> str:
        """Code for `sum/max/min/avg(...)` at instant t, over the series of the events that
        match its pattern in (low, t] and have the field (SPEC §5)."""
        pattern = node.pattern
        assert pattern.event is not None  # the checker refuses the word `event`
        whole = node.function == "sum" and self.model.type_of(node).kind == "int"
        key = (pattern.event, expr(pattern.where) if pattern.where is not None else "")
        series = self.series.setdefault(
            (*key, node.field, whole, self.account),
            AggregateSeries(
                len(self.series), pattern.event, pattern.where, node.field, whole, self.account
            ),
        )
        name = f"a{series.index}"
        high = self.search(f"{name}t", "t")
        if not isinstance(pattern.window, ast.Duration) and self.fresh:
            low = "0"
        else:
            low = self.search(f"{name}t", self.low(pattern.window))
        if whole:
            return f"({name}p[{high}] - {name}p[{low}])" if low != "0" else f"{name}p[{high}]"
        helper = {"sum": "_fsum", "max": "_amax", "min": "_amin", "avg": "_aavg"}[node.function]
        return f"{helper}({name}v, {low}, {high})"

    def lazy_score(self, name: str) -> str | None:
        """The code of a score's value when computed on first use; None: the local."""
        return None

    def static(self, node: ast.Expr) -> bool:
        """Whether an expression is the same at every instant (profile, params
        and static scores only), so that it can be computed once per lead."""
        for part in walk(node):
            if not isinstance(part, STATIC_KINDS):
                return False  # events, or a kind this list does not know yet
            if isinstance(part, ast.Name | ast.AccountRef):
                ref = self.model.refs.get(id(part))
                if ref is not None and ref.kind == "event":
                    return False
                if ref is not None and ref.kind == "score" and ref.name not in self.static_scores:
                    return False
        return True

    def cost(self, node: ast.Expr) -> int:
        """0 for a static condition, 2 for one that reads a score computed per instant,
        1 for any other (window searches)."""
        if self.static(node):
            return 0
        for part in walk(node):
            if isinstance(part, ast.Name | ast.AccountRef):
                ref = self.model.refs.get(id(part))
                if ref is not None and ref.kind == "score" and ref.name not in self.static_scores:
                    return 2
        return 1

    def is_literal(self, node: ast.Expr) -> bool:
        if isinstance(node, ast.Name):
            return self.model.ref(node).kind == "member"
        return isinstance(node, ast.NumberLit | ast.StringLit | ast.BoolLit | ast.DateLit)

    def literal(self, node: ast.Expr) -> Any:
        if isinstance(node, ast.Name):
            return node.name
        assert isinstance(node, ast.NumberLit | ast.StringLit | ast.BoolLit | ast.DateLit)
        return node.value

    def low(self, window: ast.Window) -> str:
        """The exclusive lower time bound of a window at instant t: a local
        computed once at the top of the enclosing function."""
        if isinstance(window, ast.Duration):
            seconds = window.seconds
            if seconds not in self.lows:
                self.lows[seconds] = f"w{len(self.lows)}"
            return self.lows[seconds]
        return "s"

    def count(self, times: str, window: ast.Window) -> str:
        """Code for the number of match times in (low, t]. Where conditions short-circuit
        (``inline``), the search for t is written in place, so a condition that is never
        reached costs no search; elsewhere it is done once at the function's top."""
        ever = not isinstance(window, ast.Duration)
        if self.inline:
            if ever and self.fresh:
                return f"br({times}, t)"
            return f"(br({times}, t) - br({times}, {self.low(window)}))"
        self.heads.add(times)
        if ever and self.fresh:
            return f"h{times}"
        # (no second search when nothing matched by t: the count is 0 all the same)
        return f"(h{times} and h{times} - {self.search(times, self.low(window))})"

    def search(self, times: str, bound: str) -> str:
        """Code for the number of the sorted ``times`` at or before ``bound`` (t or a window's
        start): a binary search, or, in the sweep's scores (``incremental``), a pointer that
        the function's prelude moves forward."""
        if not self.incremental:
            return f"br({times}, {bound})"
        key = (times, bound)
        if key not in self.pointers:
            # A window's local (w<i>) means another window in another function: the sweep's
            # pointer is the window's, by its length.
            seconds = {name: span for span, name in self.lows.items()}.get(bound, bound)
            name = self.sweep_pointers.get((times, seconds))
            if name is None:
                name = f"h{times}" if bound == "t" else f"p{len(self.sweep_pointers)}"
                self.sweep_pointers[(times, seconds)] = name
            self.pointers[key] = name
        return self.pointers[key]

    def prelude(self, indent: str) -> list[str]:
        """The lines that compute the window bounds and search heads used so far."""
        lines = [f"{indent}{name} = t - {seconds!r}" for seconds, name in self.lows.items()]
        if not self.fresh:
            lines += [f"{indent}if {name} < s: {name} = s" for name in self.lows.values()]
        if not self.incremental:
            lines += [f"{indent}h{times} = br({times}, t)" for times in sorted(self.heads)]
            return lines
        for times in sorted(self.heads):
            self.search(times, "t")
        if not self.pointers:
            return lines
        # The pointers and their lists (copies with an infinite sentinel, all made at the
        # first call of any of the sweep's scores: SENTINELS, which the sweep fills in once it
        # knows every list) live in the sweep (codegen's _sweep_function): moved forward only.
        lines.append(f"{indent}nonlocal {', '.join(sorted(self.pointers.values()))}, {SENTINELS}")
        lines.append(f"{indent}{SENTINELS}")
        lines += [
            f"{indent}while z{times}[{pointer}] <= {bound}: {pointer} += 1"
            for (times, bound), pointer in sorted(self.pointers.items())
        ]
        return lines

    def binary(self, left: ast.Expr, right: ast.Expr, build: Callable[[str, str], str]) -> str:
        """A test of two values that is false when either is missing."""
        a, an = self.value(left)
        b, bn = self.value(right)
        parts = []
        if an:
            tmp = self.temp()
            parts.append(f"({tmp} := {a}) is not None")
            a = tmp
        if bn:
            tmp = self.temp()
            parts.append(f"({tmp} := {b}) is not None")
            b = tmp
        parts.append(build(a, b))
        return "(" + " and ".join(parts) + ")"


class _Value(ast.Visitor[tuple[str, bool]]):
    """Code for a value, and whether it may be None (missing)."""

    def __init__(self, code: ExpressionCode) -> None:
        self.code = code

    def _constant(
        self, node: ast.NumberLit | ast.StringLit | ast.BoolLit | ast.DateLit
    ) -> tuple[str, bool]:
        return self.code.const(node.value), False

    visit_NumberLit = visit_StringLit = visit_BoolLit = visit_DateLit = _constant

    def visit_ListLit(self, node: ast.ListLit) -> tuple[str, bool]:
        code = self.code
        if all(code.is_literal(i) for i in node.items):
            return code.const(frozenset(code.literal(i) for i in node.items)), False
        items = [code.value(i)[0] for i in node.items]
        return "(" + "".join(item + ", " for item in items) + ")", False

    def visit_Name(self, node: ast.Name) -> tuple[str, bool]:
        code = self.code
        ref = code.model.ref(node)
        if ref.kind == "field":
            if code.account:  # inside `where` of an account pattern: the event's lead
                return f"cp.get({ref.name!r})", True
            return f"f{code.field_index[ref.name]}", True
        if ref.kind == "account_field":
            return f"a{code.account_index[ref.name]}", True
        if ref.kind == "event_field":
            if code.event_fields is not None:
                return code.event_fields[ref.name], True
            return f"ef.get({ref.name!r})", True
        if ref.kind == "param":
            value = code.params[ref.name]
            if isinstance(value, tuple | list):
                return code.const(frozenset(value)), False
            return code.const(value), False
        if ref.kind == "score":
            lazy = code.lazy_score(ref.name)
            return (lazy or f"v{code.score_index[ref.name]}"), True
        if ref.kind == "event":
            return code.cond(node), False
        return code.const(ref.name), False

    def visit_AccountRef(self, node: ast.AccountRef) -> tuple[str, bool]:
        code = self.code
        ref = code.model.refs.get(id(node))
        if ref is not None and ref.kind == "score":
            lazy = code.lazy_score(ref.name)
            return (lazy or f"v{code.score_index[ref.name]}"), True
        return f"a{code.account_index[node.field]}", True

    def visit_ContactCount(self, node: ast.ContactCount) -> tuple[str, bool]:
        code = self.code
        times = code.pattern(node.pattern.event, node.pattern.where)
        return f"_distinct({times}, {times}c, {code.low(node.pattern.window)}, t)", False

    def visit_Unary(self, node: ast.Unary) -> tuple[str, bool]:
        operand, nullable = self.code.value(node.operand)
        if not nullable:
            return f"(-{operand})", False
        tmp = self.code.temp()
        return f"(None if ({tmp} := {operand}) is None else -{tmp})", True

    def visit_Arith(self, node: ast.Arith) -> tuple[str, bool]:
        left, ln = self.code.value(node.left)
        right, rn = self.code.value(node.right)
        if node.op == "/":
            return f"_div({left}, {right})", True
        if not ln and not rn:
            return f"({left} {node.op} {right})", False
        a, b = self.code.temp(), self.code.temp()
        return (
            f"(None if ({a} := {left}) is None or ({b} := {right}) is None else {a} {node.op} {b})",
            True,
        )

    def visit_Count(self, node: ast.Count) -> tuple[str, bool]:
        times = self.code.pattern(node.pattern.event, node.pattern.where)
        return self.code.count(times, node.pattern.window), False

    def visit_Aggregate(self, node: ast.Aggregate) -> tuple[str, bool]:
        # A sum is never missing (0 when nothing matches); max, min and avg may be.
        return self.code.aggregate(node), node.function != "sum"

    def visit_DaysSince(self, node: ast.DaysSince) -> tuple[str, bool]:
        times = self.code.pattern(node.event, node.where)
        return f"_since({times}, t, s)", True

    def generic_visit(self, node: ast.Expr) -> tuple[str, bool]:
        # Every other kind is a condition: a bool, never missing.
        return self.code.cond(node), False


class _Condition(ast.Visitor[str]):
    """Code for a condition: always True or False."""

    def __init__(self, code: ExpressionCode) -> None:
        self.code = code

    # Conditions have no side effects: the parts of an `and`/`or` are tested cheapest first
    # (ExpressionCode.cost), so that a static part short-circuits before any search.

    def visit_And(self, node: ast.And) -> str:
        parts = sorted(node.operands, key=self.code.cost)
        return "(" + " and ".join(self.code.cond(o) for o in parts) + ")"

    def visit_Or(self, node: ast.Or) -> str:
        parts = sorted(node.operands, key=self.code.cost)
        return "(" + " or ".join(self.code.cond(o) for o in parts) + ")"

    def visit_Not(self, node: ast.Not) -> str:
        return f"(not {self.code.cond(node.operand)})"

    def visit_BoolLit(self, node: ast.BoolLit) -> str:
        return repr(node.value)

    def visit_Name(self, node: ast.Name) -> str:
        code = self.code
        ref = code.model.ref(node)
        if ref.kind == "event":
            return code.happened(code.pattern(ref.name, None), None, negated=False)
        return self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> str:
        return self.code.binary(node.left, node.right, lambda a, b: f"{a} {node.op} {b}")

    def visit_Between(self, node: ast.Between) -> str:
        code = self.code
        values = [code.value(operand) for operand in (node.operand, node.low, node.high)]
        parts, names = [], []
        for text, nullable in values:
            if nullable:
                tmp = code.temp()
                parts.append(f"({tmp} := {text}) is not None")
                names.append(tmp)
            else:
                names.append(text)
        parts.append(f"{names[1]} <= {names[0]} <= {names[2]}")
        return "(" + " and ".join(parts) + ")"

    def visit_Membership(self, node: ast.Membership) -> str:
        op = "not in" if node.negated else "in"
        return self.code.binary(node.operand, node.collection, lambda a, b: f"{a} {op} {b}")

    def visit_TextTest(self, node: ast.TextTest) -> str:
        if node.op == "contains":
            return self.code.binary(node.value, node.operand, lambda a, b: f"{a} in {b}")
        method = "startswith" if node.op == "starts with" else "endswith"
        return self.code.binary(node.operand, node.value, lambda a, b: f"{a}.{method}({b})")

    def visit_Presence(self, node: ast.Presence) -> str:
        code, _ = self.code.value(node.operand)
        return f"({code} is None)" if node.missing else f"({code} is not None)"

    def visit_Pattern(self, node: ast.Pattern) -> str:
        times = self.code.pattern(node.event, node.where)
        return self.code.happened(times, node.window, negated=False)

    def visit_NoEvents(self, node: ast.NoEvents) -> str:
        times = self.code.pattern(node.pattern.event, node.pattern.where)
        return self.code.happened(times, node.pattern.window, negated=True)

    def generic_visit(self, node: ast.Expr) -> str:
        # A value used as a condition (a bool field, param or score): only
        # `true` holds; missing does not.
        code, _ = self.code.value(node)
        return f"({code} is True)"
