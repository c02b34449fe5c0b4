"""A simulate, what-if or sweep report as the text the terminal shows and
as the file `-o` asks for, chosen by its extension (.json, .md, .html)."""

from __future__ import annotations

from pathlib import Path

from mqldsl.io.errors import UsageProblem
from mqldsl.io.files import write_atomic
from mqldsl.render import reports
from mqldsl.simulation.results import SimulationReport, SweepReport, WhatIfReport

Report = SimulationReport | WhatIfReport | SweepReport


def report_text(report: Report) -> str:
    """The summary the terminal shows."""
    if isinstance(report, SimulationReport):
        return reports.simulate_text(report.to_json())
    if isinstance(report, WhatIfReport):
        return reports.whatif_text(report.to_json())
    return sweep_text(report)


def sweep_text(report: SweepReport) -> str:
    """One row per combination: the params (today's values marked "(current)"), then the
    main metrics."""
    data = report.to_json()
    header, rows = reports.sweep_table(data)
    widths = [max(len(h), 8, *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    # (what ran on what: the policy, the leads counted, the as-of instant, the data)
    said = reports.data_words(data)
    lines = [
        f"sweep: {report.title} — {report.leads} leads as of {report.as_of}"
        + (f"; {said}" if said else ""),
        "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)),
    ]
    for cells in rows:
        lines.append("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines) + "\n"


def report_document(report: Report, path: str | Path) -> str:
    """The report as JSON, Markdown or HTML, as the file name's extension
    says; :class:`UsageProblem` (option ``-o``) for another extension."""
    data = report.to_json()
    lower = str(path).lower()
    if lower.endswith(".json"):
        return reports.to_json(data)
    if lower.endswith(".md"):
        if isinstance(report, SimulationReport):
            return reports.simulate_markdown(data)
        if isinstance(report, WhatIfReport):
            return reports.whatif_markdown(data)
        return reports.sweep_markdown(data)
    if lower.endswith((".html", ".htm")):
        if isinstance(report, SimulationReport):
            return reports.simulate_html(data)
        if isinstance(report, WhatIfReport):
            return reports.whatif_html(data)
        return reports.sweep_html(data)
    raise UsageProblem("the report must end in .json, .html or .md", "-o")


def write_report(report: Report, path: str | Path) -> None:
    """Write :func:`report_document` to ``path`` atomically."""
    write_atomic(path, report_document(report, path))


def document_kind(output: str | None) -> str:
    """ "html" or "md", as the definitions document's file name says (None:
    Markdown on standard output); :class:`UsageProblem` (option ``-o``) for
    another extension."""
    kind = "html" if output and output.lower().endswith((".html", ".htm")) else "md"
    if output and kind == "md" and not output.lower().endswith(".md"):
        raise UsageProblem("the document must end in .md or .html", "-o")
    return kind


__all__ = [
    "Report",
    "document_kind",
    "report_document",
    "report_text",
    "sweep_text",
    "write_report",
]
