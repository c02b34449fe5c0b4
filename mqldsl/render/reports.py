"""Rendering the simulate, whatif and sweep reports: a terminal summary,
JSON (docs/reports.md), Markdown, and a self-contained HTML page with inline
SVG charts. Every renderer takes the report as its JSON dict (what the .json
file holds), so a saved report renders the same as a fresh one. The Markdown
and HTML markup lives in the Jinja2 templates under templates/reports/; the
rows, cells and charts they show are picked by one module per report kind
(:mod:`~mqldsl.render.simulate_report`, :mod:`~mqldsl.render.whatif_report`,
:mod:`~mqldsl.render.sweep_report`, sharing
:mod:`~mqldsl.render.report_common`). This module is their front door."""

from __future__ import annotations

from mqldsl.render.report_common import LABELS, data_words, show, to_json
from mqldsl.render.simulate_report import (
    backtest_text,
    simulate_html,
    simulate_markdown,
    simulate_text,
    timing_lines,
    weekly_line,
)
from mqldsl.render.sweep_report import sweep_html, sweep_markdown, sweep_table
from mqldsl.render.whatif_report import whatif_context, whatif_html, whatif_markdown, whatif_text

__all__ = [
    "LABELS",
    "backtest_text",
    "data_words",
    "show",
    "simulate_html",
    "simulate_markdown",
    "simulate_text",
    "sweep_html",
    "sweep_markdown",
    "sweep_table",
    "timing_lines",
    "to_json",
    "weekly_line",
    "whatif_context",
    "whatif_html",
    "whatif_markdown",
    "whatif_text",
]
