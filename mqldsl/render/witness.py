"""What `mqldsl diff --witness` prints (docs/witness.md): the lead two versions decide
differently, both decisions and the explanation of each; or what was proved, or searched."""

from __future__ import annotations

import json
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.runtime import Decision, format_instant
from mqldsl.io.journeys import JourneyReader
from mqldsl.io.scoring import explain_lead
from mqldsl.render.explanation import outline, render_explanation
from mqldsl.simulation.witness import Witness


def record_line(record: dict[str, Any]) -> str:
    """The witness as one journey line (SPEC §12)."""
    return json.dumps(record, ensure_ascii=False)


def decision_text(decision: Decision) -> str:
    """``stage mql, route sdr_inbound (sla 5 minutes)``; a disqualified lead's reasons."""
    text = f"stage {decision.stage}"
    if decision.disqualified:
        text += " (" + "; ".join(decision.disqualified) + ")"
    route = decision.route
    if route is None:
        return text + ", no route"
    sla = f" (sla {route.sla})" if route.sla is not None else ""
    return text + f", route {route.queue}{sla}"


def bounds_text(witness: Witness) -> str:
    events = "event" if witness.bound == 1 else "events"
    return f"within {witness.bound} {events} of each type"


def witness_text(
    witness: Witness,
    models: tuple[CheckedPolicy, CheckedPolicy],
    names: tuple[str, str],
    output: str | None,
) -> str:
    """The whole report (see the module's text)."""
    when = format_instant(witness.as_of)
    lines: list[str] = []
    if witness.outcome == "equivalent":
        lines.append(
            f"no witness: the two versions decide every lead the same as of {when}, "
            f"{bounds_text(witness)} (proved by the solver; docs/witness.md says what "
            "the proof covers)"
        )
    elif witness.outcome == "unconfirmed":
        lines.append(
            f"could not confirm: the solver proposed leads that the evaluators decide the "
            f"same ({witness.reason}); no witness is printed and nothing was proved"
        )
    elif witness.outcome == "searched":
        lines.append(f"no proof was made: {witness.reason}")
        lines.append(
            f"a random search over {witness.searched} generated leads "
            f"({bounds_text(witness)}) found none that the two versions decide "
            f"differently as of {when}"
        )
    else:
        assert witness.record is not None and witness.old is not None and witness.new is not None
        how = "found by the solver" if witness.proved else "found by a random search"
        if not witness.proved:
            lines.append(f"no proof was made: {witness.reason}")
        lines.append(
            f"witness: a lead the two versions decide differently as of {when} ({how}, "
            "re-checked by both evaluators):"
        )
        lines.append(record_line(witness.record))
        lines.append(f"  old ({names[0]}): {decision_text(witness.old)}")
        lines.append(f"  new ({names[1]}): {decision_text(witness.new)}")
        if output is not None:
            lines.append(f"wrote {output}")
        for label, model, name in zip(("old", "new"), models, names, strict=True):
            lead = JourneyReader(model).lead(dict(witness.record))
            _, data = explain_lead(model, {}, lead, witness.as_of)
            lines.append("")
            lines.append(f"why, under the {label} version ({name}):")
            text = render_explanation(outline(data), "text")
            lines.extend("  " + line if line else "" for line in text.rstrip("\n").split("\n"))
    return "\n".join(lines) + "\n"
