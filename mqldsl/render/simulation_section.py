"""The simulation section of the definitions document (`docs --simulation
REPORT.json`): a simulate report's main metrics, or a what-if report's base,
proposed, change and 95% interval for each main metric, always with a line
saying where the numbers come from (a synthetic scenario, journeys, real
outcomes). A file that is not such a report is an
:class:`~mqldsl.io.errors.InputProblem` naming the file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mqldsl.io.errors import InputProblem
from mqldsl.render.report_common import LABELS, interval_text, show, signed_change
from mqldsl.render.whatif_report import whatif_context
from mqldsl.simulation.metrics import MAIN

WRITE_ONE = (
    "write one with `mqldsl whatif BASE PROPOSED --scenario S -o report.json` "
    "or `mqldsl simulate POLICY --scenario S -o report.json`"
)


def load_report(path: str | Path) -> dict[str, Any]:
    """The simulate or what-if report in the JSON file ``path``;
    :class:`InputProblem` naming the file when it is not one (an HTML or
    Markdown report, a sweep report, broken JSON)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputProblem([f"{path}: not a JSON report (not even text); {WRITE_ONE}"]) from None
    except OSError as exc:
        raise InputProblem([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    try:
        report = json.loads(text)
    except RecursionError:
        raise InputProblem(
            [f"{path}: not a JSON report (nested too deeply); {WRITE_ONE}"]
        ) from None
    except ValueError as exc:
        start = text.lstrip()[:15].lower()
        what = (
            "an HTML page"
            if start.startswith(("<!doctype", "<html"))
            else "Markdown or text"
            if not start.startswith(("{", "["))
            else f"broken JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else "broken JSON"
        )
        raise InputProblem([f"{path}: not a JSON report ({what}); {WRITE_ONE}"]) from None
    report_kind(report, str(path))
    return report  # type: ignore[no-any-return]


def report_kind(report: Any, name: str = "the simulation report") -> str:
    """ "whatif" or "simulate"; :class:`InputProblem` for anything else, or for a report
    whose figures are not numbers (`"12"`, a list) where the section reads them."""
    kind = None
    if isinstance(report, dict):
        if isinstance(report.get("delta"), dict) and "base" in report and "proposed" in report:
            if all(isinstance(report["delta"].get(m), dict) for m in MAIN):
                kind = "whatif"
        elif isinstance(report.get("metrics"), dict) and "leads" in report:
            kind = "simulate"
    if kind is not None:
        if (wrong := _not_a_number(report, kind)) is not None:
            raise InputProblem([f"{name}: {wrong}; {WRITE_ONE}"])
        return kind
    raise InputProblem(
        [
            f"{name}: a JSON file, but not a simulate or what-if report "
            f"(a sweep or tune report cannot be summarised here); {WRITE_ONE}"
        ]
    )


def simulation_section(report: dict[str, Any], model: Any = None) -> dict[str, Any]:
    """What the template shows: ``kind``, ``source`` (where the numbers come
    from), ``rows`` and, for a what-if, ``changes``, ``reading`` and the
    interval columns. ``model`` (the documented policy) only serves a note
    when the report is of another policy."""
    kind = report_kind(report)
    if kind == "whatif":
        return _whatif(report, model)
    metrics = report["metrics"]
    return {
        "kind": "simulate",
        "source": _simulate_source(report),
        "note": _other_policy(report.get("policy"), model),
        "header": ["metric", "value"],
        "rows": [[LABELS.get(m, m), show(metrics.get(m))] for m in MAIN],
        "changes": [],
        "reading": [],
    }


def _not_a_number(report: dict[str, Any], kind: str) -> str | None:
    """The first figure the section reads that is not a number (or null), said."""

    def number(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float | None):
            return False
        return value is None or math.isfinite(value)

    for metric in MAIN:
        if kind == "simulate":
            value = report["metrics"].get(metric)
            if not number(value):
                return f"`metrics.{metric}` is {json.dumps(value)}, not a number"
            continue
        delta = report["delta"][metric]
        for key in ("base", "proposed", "diff", "diff_pct"):
            if not number(delta.get(key)):
                return f"`delta.{metric}.{key}` is {json.dumps(delta.get(key))}, not a number"
        for key in ("ci95", "pi95"):
            value = delta.get(key)
            if value is not None and not (
                isinstance(value, list) and len(value) == 2 and all(number(v) for v in value)
            ):
                return f"`delta.{metric}.{key}` is {json.dumps(value)}, not [low, high]"
    return None


def _simulate_source(report: dict[str, Any]) -> str:
    """A simulate report does not name its data; what it holds still tells
    a scenario (a simulated sales team) from journeys with real outcomes."""
    size = f"{report.get('leads', 'n/a')} leads as of {report.get('as_of', 'n/a')}"
    if report.get("sales"):
        return (
            f"Where the numbers come from: a synthetic scenario ({size}) with a simulated "
            "sales team; they are what the rules do to generated leads, not measured outcomes. "
            "The report does not name the scenario."
        )
    if report.get("backtest"):
        return (
            f"Where the numbers come from: journeys with recorded outcomes ({size}), "
            "a backtest of the rules on real data. The report does not name the journeys file."
        )
    return (
        f"Where the numbers come from: journeys ({size}) without recorded outcomes. "
        "The report does not name the journeys file."
    )


def _whatif(report: dict[str, Any], model: Any) -> dict[str, Any]:
    try:
        context = whatif_context(report)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputProblem(
            [f"the what-if report is incomplete ({type(exc).__name__}: {exc}); {WRITE_ONE}"]
        ) from None
    data = report.get("data") or {}
    scenario = bool(context["scenario"]) or data.get("scenario") is not None
    if data.get("scenario") is not None:
        seed, count = data.get("seed"), data.get("replications")
        runs = f"{count} replications from seed {seed}" if count else f"seed {seed}"
        source = (
            f"Where the numbers come from: the synthetic scenario `{data['scenario']}` "
            f"({runs}; {data.get('leads')} leads in replication 1, as of {data.get('as_of')}). "
            "They are what the rules do to generated leads, not measured outcomes."
        )
    else:
        real = (report.get("base") or {}).get("backtest")
        base = report.get("base") or {}
        source = (
            f"Where the numbers come from: the journeys in `{data.get('journeys')}` "
            f"({data.get('leads', base.get('leads'))} leads, as of "
            f"{data.get('as_of', base.get('as_of'))})"
        ) + (
            ", with recorded outcomes (real data)."
            if real
            else ", without recorded outcomes (generated, or real without known results)."
        )
    prediction = any(report["delta"][m].get("pi95") for m in MAIN)
    header = ["metric", "base", "proposed", "change"]
    header += ["95% CI of the mean", "one quarter (95%)"] if prediction else ["95% interval"]
    rows = []
    for metric in MAIN:
        d = report["delta"][metric]
        row = [
            LABELS.get(metric, metric),
            show(d.get("base")),
            show(d.get("proposed")),
            signed_change(d),
            interval_text(d.get("ci95"), " to "),
        ]
        if prediction:
            row.append(interval_text(d.get("pi95"), " to "))
        rows.append(row)
    return {
        "kind": "whatif",
        "scenario": scenario,
        "source": source,
        "note": _other_policy((report.get("proposed") or {}).get("policy"), model),
        "header": header,
        "rows": rows,
        "changes": context["changes"],
        # the document shows no transitions, attribution or samples
        "reading": [line for line in context["reading"] if not line.startswith("Transitions")],
    }


def _other_policy(policy: Any, model: Any) -> str:
    """A warning when the report is of another policy than the document's: another title,
    or (for reports that name it) another text, by the hash decisions carry."""
    if model is None or not isinstance(policy, dict):
        return ""
    title = policy.get("title")
    if title not in (None, model.title):
        return (
            f"Note: this report is of the policy “{title}”, "
            f"not of “{model.title}” that this document defines."
        )
    digest = policy.get("sha256")
    if digest and digest != model.sha256:
        return (
            f"Note: this report is of another text of this policy (sha256 {digest[:12]}, "
            f"version {policy.get('version')}), not of the one this document defines "
            f"(sha256 {model.sha256[:12]})."
        )
    return ""


__all__ = ["WRITE_ONE", "load_report", "report_kind", "simulation_section"]
