"""Diagnostics: coded, positioned problems, rendered for people or as JSON.

Every problem with user input (a policy, a journey line, a scenario) becomes a
:class:`Diagnostic`. Nothing in the package prints a traceback for bad input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from mqldsl.language.source import Source, Span, render_snippet

#: A comment that allows warnings on its line and the next: `# mqldsl: allow W501, W508`
#: (the codes in group 1; analysis.lints drops them, the printer keeps each pragma with the
#: statements of its line).
ALLOW_PRAGMA = re.compile(r"mqldsl:\s*allow\s+(W\d{3}(?:\s*,\s*W\d{3})*)")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (
            self.span.file,
            self.span.line,
            self.span.column,
            0 if self.is_error else 1,
            self.code,
        )

    def render(self, source: Source | None = None) -> str:
        head = (
            f"{self.span.file}:{self.span.line}:{self.span.column}: "
            f"{self.severity.value}[{self.code}]: {self.message}"
        )
        return "\n".join([head, *render_snippet(source, self.span, self.hint)])

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "end": {"line": self.span.end_line, "column": self.span.end_column},
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


def error(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, hint)


def warning(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, span, hint)


class DiagnosticsError(Exception):
    """Raised by library entry points when input has errors; carries them all."""

    def __init__(self, diagnostics: Sequence[Diagnostic], source: Source | None = None) -> None:
        self.diagnostics = list(diagnostics)
        self.source = source
        super().__init__("\n".join(d.render(source) for d in self.diagnostics))


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=Diagnostic.sort_key)


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors

    def plural(n: int, word: str) -> str:
        return f"{n} {word}" if n == 1 else f"{n} {word}s"

    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def to_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2, ensure_ascii=False)


def _github_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub Actions reads it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    """A workflow command's property value (a file name, a title), escaped."""
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands (``::error file=...,line=...::message``), one line a
    diagnostic: a workflow step that runs `mqldsl check --format github` annotates the pull
    request's lines (docs/ci.md)."""
    lines = []
    for d in diagnostics:
        kind = "error" if d.is_error else "warning"
        span = d.span
        properties = [
            f"file={_github_property(span.file)}",
            f"line={span.line}",
            f"col={span.column}",
            f"endLine={span.end_line}",
            f"endColumn={span.end_column}",
            f"title={_github_property(f'{d.code} {CODES.get(d.code, d.code)}')}",
        ]
        message = f"[{d.code}] {d.message}" + (f" ({d.hint})" if d.hint else "")
        lines.append(f"::{kind} {','.join(properties)}::{_github_data(message)}")
    return "\n".join(lines)


def to_sarif(diagnostics: Sequence[Diagnostic], version: str) -> str:
    """The diagnostics as a SARIF 2.1.0 log (for code scanning): one run of the tool
    ``mqldsl``, its rules the codes that occur (with their titles), one result a diagnostic
    with its file and region (lines and columns from 1, the end column exclusive)."""
    codes = sorted({d.code for d in diagnostics})
    rules = [
        {
            "id": code,
            "name": CODES.get(code, code),
            "shortDescription": {"text": CODES.get(code, code)},
            "help": {"text": f"docs/errors.md explains {code} with an example and its fix"},
        }
        for code in codes
    ]
    results = []
    for d in diagnostics:
        text = d.message + (f" ({d.hint})" if d.hint else "")
        region = {
            "startLine": max(d.span.line, 1),
            "startColumn": max(d.span.column, 1),
            "endLine": max(d.span.end_line, d.span.line, 1),
            "endColumn": max(d.span.end_column, 1),
        }
        results.append(
            {
                "ruleId": d.code,
                "ruleIndex": codes.index(d.code),
                "level": "error" if d.is_error else "warning",
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": d.span.file.replace("\\", "/")},
                            "region": region,
                        }
                    }
                ],
            }
        )
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "mqldsl", "version": version, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)


# Every code the package can emit, with a one-line title. docs/errors.md
# documents each; a test keeps the two in step.
CODES: dict[str, str] = {
    # E1xx syntax
    "E100": "file cannot be read",
    "E101": "syntax error",
    "E102": "unexpected character",
    "E103": "unterminated string",
    "E104": "unknown escape in a string",
    "E105": "months and years are not durations",
    "E106": "reserved word used as a name",
    "E107": "invalid date or instant",
    "E108": "points need an explicit sign",
    "E109": "bracket never closed",
    "E110": "empty policy",
    "E111": "missing or misplaced policy header",
    "E112": "included file cannot be read",
    "E113": "unknown type",
    "E114": "number out of range",
    "E115": "include cycle",
    "E116": "not allowed in an included file",
    "E117": "invalid include",
    "E130": "not a business-hours unit",
    "E140": "expected a keyword",
    # E2xx names
    "E201": "unknown name",
    "E202": "unknown event",
    "E203": "unknown event field",
    "E204": "unknown param",
    "E205": "unknown score",
    "E206": "unknown stage",
    "E207": "not a member of the enum",
    "E208": "declared twice",
    "E209": "a name of the wrong kind",
    "E210": "scores in a cycle",
    "E211": "unknown disqualify reason",
    "E212": "unknown queue",
    "E213": "one-only item declared twice",
    "E214": "unknown account field",
    "E215": "event field named at or type",
    "E216": "score named like a decision column",
    "E220": "aggregate over any event",
    "E230": "unknown calendar",
    "E231": "business SLA without a calendar",
    "E240": "lead score inside an account score",
    "E241": "contact outside an account score",
    "E242": "account score read without account.",
    "E243": "lead field outside where in an account score",
    # E3xx types
    "E301": "incompatible comparison",
    "E302": "between needs numbers or dates",
    "E303": "membership of the wrong type",
    "E304": "contains, starts with, ends with on the wrong type",
    "E305": "arithmetic needs numbers",
    "E306": "not a condition",
    "E307": "invalid param value",
    "E308": "example value of the wrong type",
    "E309": "empty score range",
    "E310": "decay out of range",
    "E311": "max must be positive",
    "E312": "zero points",
    "E313": "formula is not a number",
    "E314": "duration must be positive",
    "E315": "is missing / is present on a non-field",
    "E316": "event inside a where condition",
    "E317": "duration param in the wrong place",
    "E320": "aggregate of a field that is not a number",
    "E330": "unknown time zone",
    "E331": "working hours that end before they start",
    "E332": "unknown day",
    "E333": "calendar setting missing or repeated",
    "E334": "calendar without working time",
    # E4xx stages, routes, examples
    "E401": "no stages block",
    "E402": "more than one stages block",
    "E403": "entry stage with a condition",
    "E404": "stage without a condition",
    "E405": "recycle needs locked stages",
    "E406": "recycle must move back",
    "E407": "example needs an instant",
    "E408": "example event after the example's instant",
    "E409": "stages block without stages",
    "E410": "example too long to evaluate",
    "E411": "expected range that is empty",
    "E412": "expected due time without an SLA",
    "E413": "window on a hot-event route",
    # W5xx warnings
    "W501": "threshold that can never be reached",
    "W502": "condition that can never hold",
    "W503": "unused param",
    "W504": "unused event",
    "W505": "unused field",
    "W506": "stage no example covers",
    "W507": "shadowed route",
    "W508": "silent dependency on a missing field",
    "W509": "include after the policy's own declarations",
    "W510": "score rule that can never change the score",
    "W511": "stage that can never be a lead's stage",
    # W52x: `check --deep`, proved by the SMT solver (mqldsl.analysis.solver.deep)
    "W520": "stage no lead can reach (proved)",
    "W521": "threshold no lead can cross (proved)",
    "W522": "route never chosen (proved)",
    "W523": "disqualifier that can never hold (proved)",
    "W524": "stages whose conditions can never differ (proved)",
    # E6xx what the SQL back end cannot evaluate faithfully (`mqldsl sql`, `--engine duckdb`)
    "E601": "recycling in SQL",
    "E603": "column name clash in SQL",
}
