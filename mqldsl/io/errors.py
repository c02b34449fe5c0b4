"""The two kinds of problem a library call reports to whoever called it
(the CLI turns them into exit codes, SPEC §13).

:class:`UsageProblem` — the request itself is wrong (a bad option value, two
options that do not go together): the CLI exits 2. :class:`InputProblem` —
the files given have problems (a policy with errors, a broken scenario):
its ``lines`` say what, one a line, and the CLI prints them and exits 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from mqldsl.language.source import terminal_text


class UsageProblem(ValueError):
    """The request is wrong; ``option`` names the option (as the command line
    spells it, e.g. ``--set``) whose value is at fault, if one is."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.option = option


class InputProblem(Exception):
    """The input has problems; ``lines`` describe them, one a line."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


__all__ = ["InputProblem", "UsageProblem", "terminal_text"]
