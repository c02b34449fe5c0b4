"""`mqldsl diff`: what changed between two versions of a policy, in words,
rule by rule. Rules are matched across versions by
:func:`mqldsl.analysis.matching.match_rules`; a moved rule is never reported as
removed and added."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mqldsl.analysis.matching import (
    common_order,
    match_rules,
    route_key,
    route_name,
    route_orders,
    rule_key,
)
from mqldsl.analysis.model import CheckedPolicy, FieldInfo
from mqldsl.language import ast
from mqldsl.language.notation import expr, number
from mqldsl.language.printer import canonical_items
from mqldsl.render.english import English, calendar, duration, sla


@dataclass(frozen=True)
class Change:
    kind: str  # added, removed, changed, moved; reworded (a description: no change in meaning)
    what: str
    old: str | None = None
    new: str | None = None

    def text(self) -> str:
        if self.kind == "added":
            return f"added {self.what}" + (f": {self.new}" if self.new else "")
        if self.kind == "removed":
            return f"removed {self.what}" + (f": {self.old}" if self.old else "")
        if self.kind == "moved":
            return f"moved {self.what}" + (f" ({self.old} → {self.new})" if self.old else "")
        return f"{self.what}: {self.old} → {self.new}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "what": self.what, "old": self.old, "new": self.new}


def _rule_changes(
    score: str,
    a: ast.Rule,
    b: ast.Rule,
    old_index: int,
    new_index: int,
    say: English,
    said: English,
    moved: bool = True,
) -> list[Change]:
    name = f'score {score}: rule "{b.label or said.rule(b)}"'
    changes = []
    if a.points != b.points:
        changes.append(Change("changed", f"{name} points", _points(a.points), _points(b.points)))
    if (
        isinstance(a, ast.WhenRule)
        and isinstance(b, ast.WhenRule)
        and expr(a.condition) != expr(b.condition)
    ):
        changes.append(
            Change(
                "changed",
                f"{name} condition",
                say.condition(a.condition),
                said.condition(b.condition),
            )
        )
    if isinstance(a, ast.PerRule) and isinstance(b, ast.PerRule):
        if a.per_contact != b.per_contact:
            each = {True: "for each person at the account", False: "for each event"}
            changes.append(
                Change("changed", f"{name} counts", each[a.per_contact], each[b.per_contact])
            )
        if expr(a.pattern) != expr(b.pattern):
            changes.append(
                Change(
                    "changed",
                    f"{name} events",
                    say.pattern_noun(a.pattern),
                    said.pattern_noun(b.pattern),
                )
            )
        if a.max != b.max:
            changes.append(Change("changed", f"{name} cap", _cap(a.max), _cap(b.max)))
    if a.label != b.label:
        changes.append(Change("changed", f"{name} label", repr(a.label), repr(b.label)))
    if moved and old_index != new_index and not changes and rule_key(a) == rule_key(b):
        changes.append(
            Change("moved", name, f"position {old_index + 1}", f"position {new_index + 1}")
        )
    return changes


def _points(value: float | int) -> str:
    return ("+" if value > 0 else "") + number(value)


def _cap(value: float | int | None) -> str:
    return "no cap" if value is None else f"at most {number(value)}"


def _show_range(value: ast.RangeOption | None) -> str:
    return "none" if value is None else f"{number(value.low)} to {number(value.high)}"


def _show_decay(value: ast.DecayOption | None) -> str:
    return "none" if value is None else f"{number(value.percent)}% every {duration(value.every)}"


def _header(old: CheckedPolicy, new: CheckedPolicy) -> list[Change]:
    changes = []
    for label, before, after in (
        ("title", old.title, new.title),
        ("version", old.version, new.version),
        ("owner", old.owner, new.owner),
        ("effective date", old.effective, new.effective),
        ("about text", old.about, new.about),
    ):
        if before != after:
            changes.append(Change("changed", label, _shown(before), _shown(after)))
    return changes


def _shown(value: object) -> str:
    """A header value in words (an absent one is `none`)."""
    return "none" if value is None else str(value)


def _schema(old: CheckedPolicy, new: CheckedPolicy) -> list[Change]:
    changes = []
    for kind, before, after in (
        ("lead field", old.fields, new.fields),
        ("account field", old.account_fields, new.account_fields),
    ):
        changes += _fields(kind, before, after)
    changes += [Change("removed", f"event {n}") for n in old.events if n not in new.events]
    changes += [Change("added", f"event {n}") for n in new.events if n not in old.events]
    for name, event in old.events.items():
        if name in new.events:
            other = new.events[name]
            changes += _description(f"event {name}", event.description, other.description)
            changes += _fields(f"event {name} field", event.fields, other.fields)
    for name, param in old.params.items():
        if name not in new.params:
            changes.append(Change("removed", f"param {name}", str(param.value)))
            continue
        if param.value != new.params[name].value:
            changes.append(
                Change("changed", f"param {name}", str(param.value), str(new.params[name].value))
            )
        changes += _description(f"param {name}", param.description, new.params[name].description)
    for name, param in new.params.items():
        if name not in old.params:
            changes.append(Change("added", f"param {name}", None, str(param.value)))
    return changes


def _fields(kind: str, before: dict[str, FieldInfo], after: dict[str, FieldInfo]) -> list[Change]:
    """The fields of a record (``kind``: what they are) removed, added, or of another type or
    description."""
    changes = []
    for name, info in before.items():
        if name not in after:
            changes.append(Change("removed", f"{kind} {name}", str(info.type)))
            continue
        if info.type != after[name].type:
            changes.append(
                Change("changed", f"{kind} {name} type", str(info.type), str(after[name].type))
            )
        changes += _description(f"{kind} {name}", info.description, after[name].description)
    for name, info in after.items():
        if name not in before:
            changes.append(Change("added", f"{kind} {name}", None, str(info.type)))
    return changes


def _description(what: str, before: str | None, after: str | None) -> list[Change]:
    """The change of ``what``'s description, if any (the words the documents show)."""
    if before == after:
        return []
    return [Change("reworded", f"{what} description", _shown(before), _shown(after))]


def _scores(old: CheckedPolicy, new: CheckedPolicy, say: English, said: English) -> list[Change]:
    changes = []
    for name, info in old.scores.items():
        if name not in new.scores:
            changes.append(Change("removed", f"score {name}"))
            continue
        before: ast.Score = info.node
        after: ast.Score = new.scores[name].node
        changes += _description(f"score {name}", before.description, after.description)
        if _show_range(before.range) != _show_range(after.range):
            changes.append(
                Change(
                    "changed",
                    f"score {name} range",
                    _show_range(before.range),
                    _show_range(after.range),
                )
            )
        if before.on_account != after.on_account:
            level = {True: "account score", False: "lead score"}
            changes.append(
                Change(
                    "changed",
                    f"score {name} level",
                    level[before.on_account],
                    level[after.on_account],
                )
            )
        if _show_decay(before.decay) != _show_decay(after.decay):
            changes.append(
                Change(
                    "changed",
                    f"score {name} decay",
                    _show_decay(before.decay),
                    _show_decay(after.decay),
                )
            )
        if before.formula is not None or after.formula is not None:
            old_text = say.value(before.formula) if before.formula is not None else "rules"
            new_text = said.value(after.formula) if after.formula is not None else "rules"
            if old_text != new_text:
                changes.append(Change("changed", f"score {name} formula", old_text, new_text))
            continue
        old_rules, new_rules = before.rules or (), after.rules or ()
        pairs, removed, added = match_rules(old_rules, new_rules)
        # A rule moved when its place among the rules in both versions changed (not when a
        # rule was added or removed before it).
        rank_old = {i: r for r, i in enumerate(sorted(i for i, _ in pairs))}
        rank_new = {j: r for r, j in enumerate(sorted(j for _, j in pairs))}
        for i, j in pairs:
            moved = rank_old[i] != rank_new[j]
            changes.extend(_rule_changes(name, old_rules[i], new_rules[j], i, j, say, said, moved))
        for i in removed:
            changes.append(Change("removed", f"score {name} rule", say.rule(old_rules[i])))
        for j in added:
            changes.append(Change("added", f"score {name} rule", None, said.rule(new_rules[j])))
    changes += [Change("added", f"score {n}") for n in new.scores if n not in old.scores]
    return changes


def _stages(old: CheckedPolicy, new: CheckedPolicy, say: English, said: English) -> list[Change]:
    changes = []
    if old.locked != new.locked:
        mode = {True: "locked", False: "flexible"}
        changes.append(Change("changed", "stage mode", mode[old.locked], mode[new.locked]))
    after = {s.name: s for s in new.stages.stages}
    before = {s.name: s for s in old.stages.stages}

    def criteria(english: English, stage: ast.Stage) -> str:
        return english.condition(stage.condition) if stage.condition is not None else "entry"

    for stage in old.stages.stages:
        if stage.name not in after:
            changes.append(Change("removed", f"stage {stage.name}"))
            continue
        other = after[stage.name]
        if criteria(say, stage) != criteria(said, other):
            changes.append(
                Change(
                    "changed",
                    f"stage {stage.name} condition",
                    criteria(say, stage),
                    criteria(said, other),
                )
            )
        changes += _description(f"stage {stage.name}", stage.description, other.description)
    for stage in new.stages.stages:
        if stage.name not in before:
            changes.append(Change("added", f"stage {stage.name}", None, criteria(said, stage)))
    if common_order(old.stage_names, new.stage_names) is not None:
        changes.append(
            Change("changed", "stage order", ", ".join(old.stage_names), ", ".join(new.stage_names))
        )
    return changes


def _keyed(
    kind: str,
    before: dict[Any, str],
    after: dict[Any, str],
    label: Any,
) -> list[Change]:
    changes = []
    for key, text in before.items():
        if key not in after:
            changes.append(Change("removed", f"{kind} {label(key)}", text))
        elif text != after[key]:
            changes.append(Change("changed", f"{kind} {label(key)}", text, after[key]))
    for key, text in after.items():
        if key not in before:
            changes.append(Change("added", f"{kind} {label(key)}", None, text))
    return changes


def _route_text(english: English, route: ast.Route) -> str:
    if route.on is not None:  # a hot-event route (SPEC §8)
        text = english.route_condition(route, f"`{route.stage}`")
    elif route.condition is None:
        text = "always"
    else:
        text = f"when {english.condition(route.condition)}"
    return text + (f", first touch within {sla(route.sla, english.model)}" if route.sla else "")


def _route_order(old: CheckedPolicy, new: CheckedPolicy) -> list[Change]:
    """A new order of a stage's routes (matching.route_orders)."""
    return [
        Change(
            "changed",
            f"route order of {stage}",
            ", ".join(map(route_name, before)),
            ", ".join(map(route_name, after)),
        )
        for stage, before, after in route_orders(old.routes, new.routes)
    ]


def diff(old: CheckedPolicy, new: CheckedPolicy) -> list[Change]:
    """Every change in meaning from ``old`` to ``new`` (empty when there is none)."""
    if canonical_items(old.policy) == canonical_items(new.policy):
        return []
    say, said = English(old), English(new)
    changes = _header(old, new) + _schema(old, new) + _scores(old, new, say, said)
    changes += _stages(old, new, say, said)
    changes += _keyed(
        "disqualifier",
        {d.reason: say.condition(d.condition) for d in old.disqualifiers},
        {d.reason: said.condition(d.condition) for d in new.disqualifiers},
        lambda key: f'"{key}"',
    )
    changes += _keyed(
        "recycle",
        {(r.from_stage, r.to_stage): say.condition(r.condition) for r in old.recycles},
        {(r.from_stage, r.to_stage): said.condition(r.condition) for r in new.recycles},
        lambda key: f"{key[0]} to {key[1]}",
    )
    changes += _keyed(
        "calendar",
        {name: calendar(info) for name, info in old.calendars.items()},
        {name: calendar(info) for name, info in new.calendars.items()},
        lambda key: key if key is not None else "(unnamed)",
    )
    changes += _keyed(
        "route",
        {route_key(r): _route_text(say, r) for r in old.routes},
        {route_key(r): _route_text(said, r) for r in new.routes},
        lambda key: f"{key[0]} to {route_name(key)}",
    )
    changes += _route_order(old, new)
    examples_old = {e.name: e for e in old.examples}
    examples_new = {e.name: e for e in new.examples}
    for name, example in examples_old.items():
        if name not in examples_new:
            changes.append(Change("removed", f'example "{name}"'))
        elif example != examples_new[name]:
            changes.append(Change("changed", f'example "{name}"', "previous version", "edited"))
    changes += [Change("added", f'example "{n}"') for n in examples_new if n not in examples_old]
    return changes
