"""Reading and deciding in one pass (issue #18): for `score` without explanations, a function
generated from the policy takes a journey line as the typed decoder decoded it
(:mod:`mqldsl.io.fastdecode`) and lists each pattern's match times in one loop over the
decoded events, instead of making :class:`~mqldsl.engine.runtime.Event` objects, grouping
them by type and listing the times pattern by pattern (what ``evaluate`` does, for every
reader). The rest of the function is ``evaluate``'s own code, line for line: the same walk,
the same decision.

It exists only for a policy whose decision ``evaluate`` makes with its written-out sweep (no
recycle rules, no hot-event routes), without accounts (SPEC §9) or aggregates, and whose
``where`` patterns each name an event type; for another policy :func:`compile_fused` gives
None and every lead goes through ``evaluate``. The reader hands it only leads whose events
are all at whole seconds (the sweep's case), in time order.

The generated function ``fused(lead, pr, items, tts, as_of)``:

- ``lead``: the lead with its id (and account), its events and profile left out (the
  function reads them from ``pr`` and ``items``; only the decision's id is read from it);
- ``pr``: the decoded profile record (attributes ``f0``, ``f1``… in the policy's declaration
  order of profile fields), or None;
- ``items``: the decoded event records in time order (ties in input order), ``tts`` their
  times in seconds;

and returns the line of the decision ``evaluate`` makes (written by the ``emit`` it is
compiled with: the decision's parts as ``Entries.finish`` would take them), or None for a
lead whose timeline
``evaluate`` walks at every instant (``days since``; the caller then makes the whole lead,
:meth:`FastDecoder.whole <mqldsl.io.fastdecode.FastDecoder.whole>`). A text or enum value
``""`` is a missing value, as the readers have it. tests/test_fused.py compares it with
``evaluate`` on the shipped policies and on random policies and journeys.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mqldsl.analysis.types import Type
from mqldsl.engine.codegen import CompiledPolicy, PolicyCompiler
from mqldsl.engine.expression_code import EventPattern
from mqldsl.engine.helpers import Entries, namespace

# What only evaluate's own prefix defines: the fused function must not read them.
_EVALUATE_ONLY = frozenset(["events", "tev", "by", "prof", "ef", "e", "only_scores"])


def _reads_evaluate_only(code: str) -> bool:
    """Whether Python ``code`` names what only ``evaluate`` defines (names, not the words
    of its strings: a `where path == "e"` is no reason to leave the fused function out)."""
    lines = io.StringIO(code).readline
    try:
        tokens = list(tokenize.generate_tokens(lines))
    except (tokenize.TokenError, IndentationError):  # pragma: no cover - generated code
        return True
    return any(t.type == tokenize.NAME and t.string in _EVALUATE_ONLY for t in tokens)


@dataclass(frozen=True)
class DecodedSchema:
    """How the typed decoder's records look: for each event type, its record classes (one
    per decoder) and its fields in attribute order (``f0``, ``f1``…); the profile's fields
    in attribute order."""

    events: Mapping[str, tuple[tuple[type, ...], tuple[str, ...]]]
    profile: tuple[str, ...]


def compile_fused(
    compiled: CompiledPolicy, schema: DecodedSchema, emit: Callable[..., bytes]
) -> Callable[..., bytes | None] | None:
    """The fused function of a compiled policy (see the module's text), written on by the
    compiler that wrote its ``evaluate`` (the same code after the events' lists, the same
    constants and policy stamp), or None for a policy it does not serve;
    ``emit(meta, lead, as_of, entries, reasons, values, route)`` writes the decision's line
    (``DecisionEncoder.walked_line``)."""
    model = compiled.model
    compiler = compiled.compiler
    if compiler is None or compiled.meta is None:  # pragma: no cover - compile_policy sets them
        return None
    if model.uses_accounts or model.reads_account_scores:
        return None
    if compiler.rest is None or compiler.series or compiler.account_patterns:
        return None
    classes: dict[str, type] = {}
    head = _head(compiler, schema, classes)
    if head is None:
        return None
    # The reader gives it whole seconds only (FastDecoder.parts): no need to check again.
    lines = [*head, *(line.replace("(not _whole(tts))", "False") for line in compiler.rest)]
    # A lead whose timeline is walked at every instant (`days since`, events at fractions
    # of a second): the driver reads its events, which only evaluate has.
    lines.append("    if pts is None:")
    lines.append("        return None")
    # What helpers.drive does for a lead walked by the sweep, the decision written by ``emit``.
    lines.append("    tl = _Entries(META.stages)")
    lines.append("    return _emit(META, lead, as_of, tl, sweep(tl), scores(as_of, NEG), route)")
    if _reads_evaluate_only("\n".join(line.strip() for line in head[1:])):  # pragma: no cover
        return None
    env = namespace(compiled.meta, compiler.constants)
    env.update(classes)
    env["_Entries"] = Entries
    env["_emit"] = emit
    code = compile("\n".join(lines) + "\n", f"<mqldsl fused {model.source.name}>", "exec")
    exec(code, env)
    fused: Callable[..., bytes | None] = env["fused"]
    return fused


def _blank(kind: Type) -> bool:
    """Whether a decoded value of this type can be ``""`` (a missing value for the readers)."""
    return kind.kind in ("text", "enum")


def _head(
    compiler: PolicyCompiler, schema: DecodedSchema, classes: dict[str, type]
) -> list[str] | None:
    """The function's first lines: the profile's fields and each pattern's match times (one
    loop over the events); the record classes it compares with go into ``classes``."""
    model = compiler.model
    lines = ["def fused(lead, pr, items, tts, as_of):", "    explain = None"]
    if tuple(model.fields) != schema.profile:
        return None
    if compiler.field_index:
        fields = [f"f{i}" for i in compiler.field_index.values()]
        lines.append("    if pr is None:")
        lines.append(f"        {' = '.join(fields)} = None")
        lines.append("    else:")
        for name, index in compiler.field_index.items():
            lines.append(f"        f{index} = pr.f{index}")
            if _blank(model.fields[name].type):
                lines.append(f"        if f{index} == '': f{index} = None")
    by_type: dict[str, list[EventPattern]] = {}
    for pattern in sorted(compiler.patterns.values(), key=lambda p: p.index):
        if pattern.event is None:
            if pattern.where is not None:
                return None
            lines.append(f"    m{pattern.index} = tts")
            continue
        lines.append(f"    m{pattern.index} = []")
        by_type.setdefault(pattern.event, []).append(pattern)
    if not by_type:
        return lines
    lines.append("    for item, at in zip(items, tts):")
    lines.append("        c = type(item)")
    # One test a type for the records of one decoder (the typed one's first: most lines),
    # then the other decoder's: a record compared with one class a type it is not.
    branches: list[tuple[tuple[type, ...], list[str]]] = []
    for event, patterns in by_type.items():
        known = schema.events.get(event)
        if known is None:
            return None
        record_classes, names = known
        branch = _branch(compiler, patterns, names, model.events[event].fields)
        if branch is None:
            return None
        branches.append((record_classes, branch))
    keyword = "if"
    for decoder in range(max(len(record_classes) for record_classes, _ in branches)):
        for record_classes, branch in branches:
            if decoder >= len(record_classes):
                continue
            name = f"K{len(classes)}"
            classes[name] = record_classes[decoder]
            lines.append(f"        {keyword} c is {name}:")
            keyword = "elif"
            lines += ["            " + line for line in branch]
    return lines


def _branch(
    compiler: PolicyCompiler,
    patterns: list[EventPattern],
    names: tuple[str, ...],
    declared: Mapping[str, Any],
) -> list[str] | None:
    """The code for one event type's records: its fields that a `where` reads, bound to
    locals, then each pattern's test and append."""
    locals_ = {name: f"ev{position}" for position, name in enumerate(names)}
    tests: list[str] = []
    compiler.event_fields = locals_
    try:
        for pattern in patterns:
            if pattern.where is None:
                tests.append(f"m{pattern.index}.append(at)")
                continue
            condition = compiler.cond(pattern.where)
            if _reads_evaluate_only(condition):
                return None
            tests.append(f"if {condition}: m{pattern.index}.append(at)")
    except KeyError:  # a field this event type's record does not have
        return None
    finally:
        compiler.event_fields = None
    text = "\n".join(tests)
    binds: list[str] = []
    for position, name in enumerate(names):
        local = locals_[name]
        if re.search(rf"\b{local}\b", text):
            binds.append(f"{local} = item.f{position}")
            if _blank(declared[name].type):
                binds.append(f"if {local} == '': {local} = None")
    return binds + tests
