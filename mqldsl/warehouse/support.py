"""What the SQL back end cannot evaluate faithfully, as coded diagnostics:
recycling (E601) and field names that clash with the tables' own columns or with
each other in the one events table (E603). (E602, account fields and account scores, and
E604, hot-event routes, are no longer given: the SQL back end computes them.)"""

from __future__ import annotations

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.language.diagnostics import Diagnostic, error

RESERVED_EVENT_COLUMNS = ("lead_id", "type", "at")  # the events table's own columns


def sql_diagnostics(model: CheckedPolicy) -> list[Diagnostic]:
    """Why this policy cannot be compiled to SQL faithfully (empty if it can)."""
    found: list[Diagnostic] = []
    for recycle in model.recycles:
        found.append(
            error(
                "E601",
                "the SQL back end does not replay recycling "
                f"(`recycle {recycle.from_stage} to {recycle.to_stage}`)",
                recycle.span,
                "recycling restarts a lead's journey at an instant that depends on its own "
                "history; score this policy with the Python engine (the default)",
            )
        )
    for name, info in model.fields.items():
        if name == "id":
            found.append(
                error(
                    "E603",
                    "a lead field named `id` clashes with the leads table's `id` column",
                    info.node.span,
                    "rename the field (for example `external_id`)",
                )
            )
        if name == "account" and model.uses_accounts:
            found.append(
                error(
                    "E603",
                    "a lead field named `account` clashes with the leads table's `account` "
                    "column (the lead's account, SPEC §9)",
                    info.node.span,
                    "rename the field (for example `account_name`)",
                )
            )
    for name, info in model.account_fields.items():
        if name == "id":
            found.append(
                error(
                    "E603",
                    "an account field named `id` clashes with the accounts table's `id` column",
                    info.node.span,
                    "rename the field (for example `account_number`)",
                )
            )
    seen: dict[str, tuple[str, str]] = {}
    for event in model.events.values():
        for name, info in event.fields.items():
            if name in RESERVED_EVENT_COLUMNS:
                found.append(
                    error(
                        "E603",
                        f"event field `{name}` clashes with the events table's `{name}` column",
                        info.node.span,
                        "rename the field",
                    )
                )
                continue
            kind = _column_kind(info.type.kind)
            earlier = seen.setdefault(name, (kind, event.name))
            if earlier[0] != kind:
                found.append(
                    error(
                        "E603",
                        f"event field `{name}` is {kind} here but {earlier[0]} in "
                        f"event `{earlier[1]}`: the events table has one `{name}` column",
                        info.node.span,
                        "give the two fields different names",
                    )
                )
    return found


def _column_kind(kind: str) -> str:
    """The kind of column a field of type ``kind`` needs, in words: types
    that share a column type are one kind."""
    if kind in ("int", "number"):
        return "a number"
    if kind in ("text", "enum"):
        return "a text"
    if kind == "set":
        return "a set"
    return f"a {kind}"
