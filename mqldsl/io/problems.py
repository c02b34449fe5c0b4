"""One channel for problems in inputs other than policies (SPEC §12, docs/robustness.md):
journey lines, CSV rows, import mappings, scenarios, command-line values and outputs.

A :class:`Problem` is positioned like a policy's diagnostic — file, line, column (0 when the
format has none), a stable code and a hint — and renders the same way::

    leads.csv:14:1: error[E702]: a quoted cell opened here is never closed
      hint: close the quote, or double a quote inside a quoted cell ("")

Codes are registered in :data:`DATA_CODES` and each has a section in docs/errors.md (the test
suite checks both). Ranges: ``E70x``–``E74x`` journeys, CSV tables and truth; ``E75x``–``E79x``
import mappings; ``E80x``–``E84x`` scenarios; ``E85x``–``E89x`` simulation runs (what-if,
sweep, fail-if); ``E90x``–``E94x`` command-line values and limits on work; ``E95x``–``E99x``
outputs and interruptions.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Every code a data problem may carry, with its title (docs/errors.md has a section each).
DATA_CODES: dict[str, str] = {
    # ------------------------------------------------ journeys, CSV tables, truth (E700-E749)
    "E700": "record rejected",
    "E701": "invalid JSON line",
    "E702": "malformed CSV quoting",
    "E703": "missing id",
    "E704": "duplicate id",
    "E705": "bad field value",
    "E706": "bad event",
    "E707": "bad truth",
    "E708": "wrong number of values in a row",
    "E709": "bytes that are not UTF-8",
    "E710": "cell too large",
    "E711": "event for an unknown lead",
    "E712": "lead whose events row was rejected",
    "E713": "missing column",
    "E714": "column named twice",
    "E715": "account profiles disagree",
    "E716": "lead whose account's record was rejected",
    # ------------------------------------------------ import mappings (E750-E799)
    "E750": "unknown key in a mapping",
    "E751": "mapping that cannot be read",
    "E752": "mapping names what the policy does not have",
    "E753": "mapping value of the wrong kind",
    "E754": "column or table the mapping needs",
    "E755": "duplicate join key",
    "E756": "value without a mapping",
    "E757": "value that does not match its format",
    # ------------------------------------------------ scenarios (E800-E849)
    "E800": "scenario cannot be read",
    "E801": "invalid TOML in a scenario",
    "E802": "unknown key in a scenario",
    "E803": "wrong kind of value in a scenario",
    "E804": "scenario value out of range",
    "E805": "scenario bounds contradict",
    "E806": "unknown name in a scenario",
    "E807": "scenario runs past the calendar",
    "E808": "empty scenario",
    "E809": "scenario run too large",
    # ------------------------------------------------ simulation runs (E850-E899)
    "E850": "records rejected in a simulation run",
    "E851": "gate expression cannot be read",
    # ------------------------------------------------ command-line values and limits (E900-E949)
    "E900": "a lead's timeline is too long",
    # ------------------------------------------------ outputs and interruptions (E950-E999)
    "E950": "the output cannot be created",
    "E951": "writing the output failed",
    "E960": "an input file cannot be read",
    "E961": "an input file is not UTF-8 text",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem at a position in an input file (``line``/``column`` 0 when unknown)."""

    file: str
    line: int
    message: str
    code: str = "E700"
    column: int = 0
    hint: str | None = None

    def __post_init__(self) -> None:
        if self.code not in DATA_CODES:
            raise ValueError(f"unregistered data problem code {self.code}")

    @property
    def where(self) -> str:
        """``file:line:column`` (what the format has of it)."""
        if self.line <= 0:
            return self.file
        if self.column <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"

    def render(self) -> str:
        text = f"{self.where}: error[{self.code}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


__all__ = ["DATA_CODES", "Problem"]
