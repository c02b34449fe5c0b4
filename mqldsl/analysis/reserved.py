"""Names a policy cannot give because the inputs or outputs already use them:
an event field named like a journey event's own keys (E215), a score named
like a column of the decision table (E216)."""

from __future__ import annotations

from collections.abc import Mapping

from mqldsl.analysis.model import EventInfo
from mqldsl.language import ast
from mqldsl.language.diagnostics import Diagnostic, error

#: The keys of a journey's event (JSON Lines) and the columns of an events table that
#: are the event itself, not its fields: a field so named could never be filled.
EVENT_KEYS = ("at", "type")
#: The columns of the decision table (`mqldsl score -o FILE.csv`) besides the scores.
DECISION_COLUMNS = ("id", "as_of", "stage", "disqualified", "queue")


def reserved_names(
    events: Mapping[str, EventInfo], scores: Mapping[str, ast.Score]
) -> list[Diagnostic]:
    """The diagnostics for event fields and scores with a reserved name."""
    found: list[Diagnostic] = []
    for event in events.values():
        for name, info in event.fields.items():
            if name in EVENT_KEYS:
                found.append(
                    error(
                        "E215",
                        f"event field `{name}` can never be filled: `{name}` is the event's "
                        "own " + ("time" if name == "at" else "name") + " in journeys",
                        info.node.span,
                        f"rename the field (for example `{event.name}_{name}`)",
                    )
                )
    for name, score in scores.items():
        if name in DECISION_COLUMNS:
            found.append(
                error(
                    "E216",
                    f"a score named `{name}` would clash with the decision table's `{name}` column",
                    score.span,
                    "rename the score; the decision table's columns are "
                    + ", ".join(DECISION_COLUMNS)
                    + " and one per score",
                )
            )
    return found


__all__ = ["DECISION_COLUMNS", "EVENT_KEYS", "reserved_names"]
