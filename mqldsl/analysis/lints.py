"""W5xx warnings from a static analysis of a checked policy.

- W501 a score is compared with a threshold it can never reach (interval
  bounds of every score from its rules, caps, `range` and formulas);
- W502 a condition can never hold (`between 500 and 200`, `in []`, a
  contradictory `and`);
- W503/W504/W505 a param, event or field is declared and never used (not for the
  declarations of an included file: a shared file serves several policies);
- W506 a stage that no example expects;
- W507 a route that can never be chosen (after an unconditional route);
- W509 an `include` written after items that come after it in SPEC §3's order;
- W508 a negative test on a field that may be missing, where the policy never
  says what a missing value should do;
- W510/W511 a score rule or a stage that can never matter (mqldsl.analysis.dead).

A warning can be silenced, deliberately and visibly, with a comment on its
line or the line before: ``# mqldsl: allow W504``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from mqldsl.analysis.dead import dead_rules, dead_stages
from mqldsl.analysis.model import Bounds, CheckedPolicy, numeric_constant
from mqldsl.language import ast
from mqldsl.language.diagnostics import ALLOW_PRAGMA, Diagnostic, warning
from mqldsl.language.notation import expr as show

INF = math.inf


# ---------------------------------------------------------------- bounds


def score_bounds(model: CheckedPolicy, score: ast.Score, known: dict[str, Bounds]) -> Bounds:
    """The lowest and highest value a score can take (scores it uses must be
    in ``known``)."""
    if score.formula is not None:
        low, high = interval(model, score.formula, known)
        return Bounds(low, high)
    low = high = 0.0
    for rule in score.rules or ():
        points = float(rule.points)
        if isinstance(rule, ast.PerRule):
            cap = float(rule.max) if rule.max is not None else INF
            reach = (0.0, cap) if points > 0 else (-cap, 0.0)
        else:
            reach = (min(0.0, points), max(0.0, points))
        low += reach[0]
        high += reach[1]
    if score.range is not None:
        lo, hi = float(score.range.low), float(score.range.high)
        low, high = min(max(low, lo), hi), max(min(high, hi), lo)
    return Bounds(low, high)


def _mul(a: float, b: float) -> float:
    if a == 0 or b == 0:
        return 0.0
    return a * b


def interval(model: CheckedPolicy, node: ast.Expr, known: dict[str, Bounds]) -> tuple[float, float]:
    """The range a numeric expression can take, given the bounds ``known`` of
    the scores computed before it (unbounded where nothing is known)."""
    return _Interval(model, known).visit(node)


class _Interval(ast.Visitor[tuple[float, float]]):
    def __init__(self, model: CheckedPolicy, known: dict[str, Bounds]) -> None:
        self.model = model
        self.known = known

    def visit_NumberLit(self, node: ast.NumberLit) -> tuple[float, float]:
        return float(node.value), float(node.value)

    def visit_Name(self, node: ast.Name) -> tuple[float, float]:
        ref = self.model.refs.get(id(node))
        if ref is not None and ref.kind == "score" and ref.name in self.known:
            bounds = self.known[ref.name]
            return bounds.low, bounds.high
        constant = numeric_constant(self.model, node)
        if constant is not None:
            return constant, constant
        return -INF, INF

    def visit_Count(self, node: ast.Count | ast.DaysSince) -> tuple[float, float]:
        return 0.0, INF

    visit_DaysSince = visit_Count

    def visit_Unary(self, node: ast.Unary) -> tuple[float, float]:
        low, high = self.visit(node.operand)
        return -high, -low

    def visit_Arith(self, node: ast.Arith) -> tuple[float, float]:
        a = self.visit(node.left)
        b = self.visit(node.right)
        if node.op == "+":
            return a[0] + b[0], a[1] + b[1]
        if node.op == "-":
            return a[0] - b[1], a[1] - b[0]
        if node.op == "*":
            products = [_mul(x, y) for x in a for y in b]
            return min(products), max(products)
        if b[0] > 0 or b[1] < 0:
            quotients = [x / y if not math.isinf(y) else 0.0 for x in a for y in b]
            if any(math.isinf(x) for x in a):
                return -INF, INF
            return min(quotients), max(quotients)
        return -INF, INF

    def generic_visit(self, node: ast.Expr) -> tuple[float, float]:
        return -INF, INF


# ---------------------------------------------------------------- walking


def _conditions(model: CheckedPolicy) -> Iterator[ast.Expr]:
    for score in model.scores.values():
        if score.node.formula is not None:
            yield score.node.formula
        for rule in score.node.rules or ():
            if isinstance(rule, ast.WhenRule):
                yield rule.condition
            else:
                yield rule.pattern
    for stage in model.stages.stages:
        if stage.condition is not None:
            yield stage.condition
    for disqualify in model.disqualifiers:
        yield disqualify.condition
    for recycle in model.recycles:
        yield recycle.condition
    for route in model.routes:
        if route.on is not None:
            yield route.on
        if route.condition is not None:
            yield route.condition


def _show(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:g}"


# ---------------------------------------------------------------- the lints


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _holds_possible(op: str, low: float, high: float, c: float) -> bool:
    return {
        ">=": high >= c,
        ">": high > c,
        "<=": low <= c,
        "<": low < c,
        "==": low <= c <= high,
        "!=": not (low == high == c),
    }[op]


def _unreachable(model: CheckedPolicy, nodes: Sequence[ast.Expr]) -> Iterator[Diagnostic]:
    for node in nodes:
        if isinstance(node, ast.Compare):
            for score_side, const_side, op in (
                (node.left, node.right, node.op),
                (node.right, node.left, _FLIP[node.op]),
            ):
                if not isinstance(score_side, ast.Name):
                    continue
                ref = model.refs.get(id(score_side))
                if ref is None or ref.kind != "score":
                    continue
                c = numeric_constant(model, const_side)
                if c is None:
                    continue
                bounds = model.scores[ref.name].bounds
                if not _holds_possible(op, bounds.low, bounds.high, c):
                    if op in (">=", ">", "=="):
                        limit = f"{ref.name} is at most {_show(bounds.high)}"
                    else:
                        limit = f"{ref.name} is at least {_show(bounds.low)}"
                    yield warning(
                        "W501",
                        f"`{show(node)}` can never hold: {limit}",
                        node.span,
                        f"lower the threshold, or give `{ref.name}` rules that can reach it",
                    )
        elif isinstance(node, ast.Between) and isinstance(node.operand, ast.Name):
            ref = model.refs.get(id(node.operand))
            low, high = numeric_constant(model, node.low), numeric_constant(model, node.high)
            if ref is not None and ref.kind == "score" and low is not None and high is not None:
                bounds = model.scores[ref.name].bounds
                if high < bounds.low or low > bounds.high:
                    yield warning(
                        "W501",
                        f"`{show(node)}` can never hold: {ref.name} ranges over {bounds.text()}",
                        node.span,
                    )


def _never_fires(model: CheckedPolicy, nodes: Sequence[ast.Expr]) -> Iterator[Diagnostic]:
    for node in nodes:
        if isinstance(node, ast.Between):
            low, high = numeric_constant(model, node.low), numeric_constant(model, node.high)
            if low is not None and high is not None and low > high:
                yield warning(
                    "W502",
                    f"`{show(node)}` can never hold: {_show(low)} is above {_show(high)}",
                    node.span,
                    f"write `between {_show(high)} and {_show(low)}`",
                )
        elif (
            isinstance(node, ast.Membership)
            and isinstance(node.collection, ast.ListLit)
            and not node.collection.items
        ):
            verb = "is always false" if not node.negated else "never excludes anything"
            yield warning("W502", f"`{show(node)}` {verb}: the list is empty", node.span)
        elif isinstance(node, ast.And):
            contradiction = _contradiction(model, node)
            if contradiction is not None:
                yield warning(
                    "W502",
                    f"this condition can never hold: {contradiction}",
                    node.span,
                )


def _contradiction(model: CheckedPolicy, node: ast.And) -> str | None:
    """Two operands of one `and` that cannot hold together."""
    equal: dict[str, tuple[object, ast.Expr]] = {}
    ranges: dict[str, tuple[float, float, list[ast.Expr]]] = {}
    for operand in node.operands:
        if not isinstance(operand, ast.Compare) or not isinstance(operand.left, ast.Name):
            continue
        ref = model.refs.get(id(operand.left))
        if ref is None or ref.kind not in ("field", "score", "event_field"):
            continue
        key = f"{ref.kind}:{ref.event}:{ref.name}"
        right = operand.right
        if operand.op == "==" and isinstance(right, ast.Name | ast.StringLit | ast.NumberLit):
            value: object = right.name if isinstance(right, ast.Name) else right.value
            if key in equal and equal[key][0] != value:
                return f"`{show(equal[key][1])}` and `{show(operand)}`"
            equal.setdefault(key, (value, operand))
        c = numeric_constant(model, right)
        if c is None or operand.op == "!=":
            continue
        low, high, seen = ranges.get(key, (-INF, INF, []))
        if operand.op in (">", ">="):
            low = max(low, c + (1e-12 if operand.op == ">" else 0))
        elif operand.op in ("<", "<="):
            high = min(high, c - (1e-12 if operand.op == "<" else 0))
        elif operand.op == "==":
            low, high = max(low, c), min(high, c)
        seen = [*seen, operand]
        ranges[key] = (low, high, seen)
        if low > high:
            return " and ".join(f"`{show(s)}`" for s in seen)
    return None


def _unused(model: CheckedPolicy, nodes: Sequence[ast.Expr]) -> Iterator[Diagnostic]:
    for found in _unused_anywhere(model, nodes):
        # A shared file (SPEC §3.1) declares what several policies need: not every
        # policy that includes it uses all of it.
        if model.origin(found.span) is None:
            yield found


def _unused_anywhere(model: CheckedPolicy, nodes: Sequence[ast.Expr]) -> Iterator[Diagnostic]:
    used: set[tuple[str, str]] = set()
    for ref in model.refs.values():
        used.add((ref.kind, ref.name))
    for node in nodes:
        if (isinstance(node, ast.Pattern) and node.event is not None) or (
            isinstance(node, ast.DaysSince) and node.event is not None
        ):
            used.add(("event", node.event))
    for name, param in model.params.items():
        if ("param", name) not in used:
            yield warning(
                "W503",
                f"param `{name}` is declared but never used",
                param.node.span,
                "use it in a condition, or remove it",
            )
    for name, event in model.events.items():
        if ("event", name) not in used:
            yield warning(
                "W504",
                f"event `{name}` is declared but no rule, stage, disqualifier or route uses it",
                event.node.span,
                "remove it, or say why it stays with `# mqldsl: allow W504`",
            )
    for name, info in model.fields.items():
        if ("field", name) not in used:
            yield warning(
                "W505",
                f"lead field `{name}` is declared but never used",
                info.node.span,
                "remove it, or say why it stays with `# mqldsl: allow W505`",
            )
    for name, info in model.account_fields.items():
        if ("account_field", name) not in used:
            yield warning(
                "W505",
                f"account field `{name}` is declared but never used",
                info.node.span,
            )


def _uncovered_stages(model: CheckedPolicy, _nodes: Sequence[ast.Expr]) -> Iterator[Diagnostic]:
    expected = {
        item.stage
        for example in model.examples
        for item in example.items
        if isinstance(item, ast.ExpectStage)
    }
    for stage in model.stages.stages:
        if stage.name not in expected:
            yield warning(
                "W506",
                f"no example expects the stage `{stage.name}`",
                stage.span,
                f"add an example with `expect stage {stage.name}`",
            )


def _shadowed_routes(model: CheckedPolicy, _nodes: Sequence[ast.Expr]) -> Iterator[Diagnostic]:
    # Entry routes and hot-event (`on`) routes are chosen separately (SPEC §8): an
    # unconditional entry route shadows the later entry routes of its stage; an `on` route
    # with no `where` and no `when` shadows the later `on` routes of its stage for the same
    # event (`on event`: for every event).
    catch_all: dict[str, ast.Route] = {}
    hot: dict[tuple[str, str | None], ast.Route] = {}
    for route in model.routes:
        if route.on is not None:
            first = hot.get((route.stage, None)) or hot.get((route.stage, route.on.event))
            if first is not None:
                yield warning(
                    "W507",
                    f"this route is never used: the route on line {first.span.line} already "
                    f"takes every such event of a `{route.stage}` lead",
                    route.span,
                    "move the route without `where` and `when` last, or give it a condition",
                )
            elif route.on.where is None and route.condition is None:
                hot[(route.stage, route.on.event)] = route
            continue
        if route.stage in catch_all:
            first = catch_all[route.stage]
            yield warning(
                "W507",
                f"this route is never used: the route on line {first.span.line} already takes "
                f"every `{route.stage}` lead",
                route.span,
                "move the unconditional route last, or give it a condition",
            )
        elif route.condition is None:
            catch_all[route.stage] = route


def _missing_fields(model: CheckedPolicy, nodes: Sequence[ast.Expr]) -> Iterator[Diagnostic]:
    guarded: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Presence) and isinstance(node.operand, ast.Name):
            guarded.add(node.operand.name)

    def field_of(node: ast.Expr) -> str | None:
        if isinstance(node, ast.Name):
            ref = model.refs.get(id(node))
            if ref is not None and ref.kind == "field" and ref.name not in guarded:
                return ref.name
        return None

    reported: set[int] = set()
    for node in nodes:
        name: str | None = None
        result = "false"
        if isinstance(node, ast.Compare) and node.op == "!=":
            name = field_of(node.left) or field_of(node.right)
        elif isinstance(node, ast.Membership) and node.negated:
            name = field_of(node.operand)
        elif isinstance(node, ast.Not):
            inner = node.operand
            if isinstance(inner, ast.Compare | ast.Membership | ast.Between | ast.TextTest):
                operand = inner.left if isinstance(inner, ast.Compare) else inner.operand
                name = field_of(operand)
                result = "true"
        if name is None or id(node) in reported:
            continue
        reported.add(id(node))
        yield warning(
            "W508",
            f"when a lead has no `{name}`, `{show(node)}` is {result}",
            node.span,
            f"say what a missing value means: `{name} is missing or ...` or "
            f"`{name} is present and ...`",
        )


# The items that come after the `include` lines in SPEC §3's order (the formatter's).
_AFTER_INCLUDES = (
    ast.Calendar,
    ast.Param,
    ast.Score,
    ast.Stages,
    ast.Disqualify,
    ast.Recycle,
    ast.Route,
    ast.Example,
)


def late_includes(own: ast.Policy) -> Iterator[Diagnostic]:
    """W509: an `include` written after some of the policy's own items that come after the
    includes in SPEC §3's order (``own``: the policy as written, its includes not merged).
    Its declarations count as written where `fmt` puts the line (after the events, before
    the calendars, params and scores), so they come before those items (scores in
    decisions, disqualifier reasons)."""
    first: ast.Item | None = None
    for item in own.items:
        if isinstance(item, _AFTER_INCLUDES) and first is None:
            first = item
        elif isinstance(item, ast.Include) and first is not None:
            yield warning(
                "W509",
                f'`include "{item.path}"` is written after the policy\'s own '
                f"{_kind(first)} on line {first.span.line}: its declarations count as written "
                "where `fmt` puts it, after the events and before the calendars, params and "
                "scores",
                item.span,
                f"so they come before the items from line {first.span.line} on; move it up "
                "to just after the events (`mqldsl fmt` does) so that the file reads in the "
                "order the policy has",
            )


def _kind(item: ast.Item) -> str:
    words = {
        ast.Calendar: "calendar",
        ast.Param: "param",
        ast.Score: "score",
        ast.Stages: "stages",
        ast.Disqualify: "disqualifier",
        ast.Recycle: "recycle rule",
        ast.Route: "route",
        ast.Example: "example",
    }
    return words.get(type(item), "declarations")


def lint(model: CheckedPolicy) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    # Every expression node of every condition, walked once for all lints.
    nodes = [node for condition in _conditions(model) for node in ast.walk(condition)]
    for check in (
        _unreachable,
        _never_fires,
        _unused,
        _uncovered_stages,
        _shadowed_routes,
        _missing_fields,
    ):
        found.extend(check(model, nodes))
    found.extend(dead_rules(model))
    found.extend(dead_stages(model))
    return found


# ---------------------------------------------------------------- suppression


def suppress(diagnostics: list[Diagnostic], comments: Sequence[ast.Comment]) -> list[Diagnostic]:
    """Drop warnings allowed by a `# mqldsl: allow Wnnn` comment on a line of what the
    warning points at (a condition may run over several lines: the comment on any of them,
    as `fmt` keeps it when it joins them) or on the line before. Errors are never
    suppressed."""
    allowed: dict[int, set[str]] = {}
    for comment in comments:
        # (every pragma of the comment: `fmt` joins the lines of a condition, and their
        # comments with them)
        for match in ALLOW_PRAGMA.finditer(comment.text):
            codes = {c.strip() for c in match.group(1).split(",")}
            allowed.setdefault(comment.line, set()).update(codes)
    if not allowed:
        return diagnostics
    kept = []
    for d in diagnostics:
        lines = range(d.span.line - 1, max(d.span.line, d.span.end_line) + 1)
        if not d.is_error and any(d.code in allowed.get(line, ()) for line in lines):
            continue
        kept.append(d)
    return kept
