"""What the commands share: the `mqldsl` group, the option types (instants,
memory sizes), options that several commands take, and the mapping of
library problems to what the user sees and the exit code (SPEC §13)."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click

from mqldsl import __version__
from mqldsl.io.errors import terminal_text

if TYPE_CHECKING:
    from mqldsl.analysis.model import CheckedPolicy
    from mqldsl.language.diagnostics import Diagnostic
    from mqldsl.language.source import Source

MAX_PER_FILE = 50


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mqldsl")
def cli() -> None:
    """Lead-qualification policies as code: check, format and test MQL/SQL
    rules written in the mqldsl policy language; score and explain leads;
    simulate a rule change before rollout; import CRM exports; and publish
    the shared definitions document."""


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Turn the library's problems into the command's answer: a
    :class:`~mqldsl.io.errors.UsageProblem` is a usage error (exit 2), an
    :class:`~mqldsl.io.errors.InputProblem` prints its lines to standard
    error and exits 1, as does a lead whose timeline is too long to evaluate
    (:class:`~mqldsl.engine.runtime.TimelineTooLong`, E900)."""
    from mqldsl.engine.runtime import TimelineTooLong
    from mqldsl.io.errors import InputProblem, UsageProblem

    try:
        yield
    except UsageProblem as exc:
        message = terminal_text(exc.message)
        if exc.option is not None:
            raise click.BadParameter(message, param_hint=exc.option) from None
        raise click.UsageError(message) from None
    except InputProblem as exc:
        echo_lines(exc.lines)
        sys.exit(1)
    except TimelineTooLong as exc:  # a lead (or example) too long to evaluate (E900)
        echo_lines([f"error[E900]: {exc.message}"])
        sys.exit(1)


def check_output(output: str | None) -> None:
    """Before the work, so that a typo does not waste it: ``-o``'s folder exists (else a
    usage error, exit 2) and a file can be created there (else E950, exit 1)."""
    from mqldsl.io.files import check_folder

    if output is not None:
        with reported():
            check_folder(output)


def print_diagnostics(
    diagnostics: Sequence[Diagnostic], source: Source | None, limit: int = MAX_PER_FILE
) -> None:
    for diagnostic in diagnostics[:limit]:
        click.echo(terminal_text(diagnostic.render(source)))
    if len(diagnostics) > limit:
        file = diagnostics[0].span.file
        click.echo(terminal_text(f"{file}: ... and {len(diagnostics) - limit} more"))


def load_policy(path: str) -> CheckedPolicy:
    """Check a policy; print its diagnostics and exit 1 if it has errors."""
    from mqldsl.io.policy import load_policy as load

    with reported():
        return load(path)


def params(model: CheckedPolicy, assignments: Sequence[str]) -> dict[str, object]:
    """The `--set` overrides; a usage error for a bad one."""
    from mqldsl.io.policy import param_values

    with reported():
        return param_values(model, assignments)


def as_of_or_now(as_of: float | None) -> float:
    from mqldsl.io.policy import now

    return as_of if as_of is not None else now()


def echo_lines(lines: Sequence[str]) -> None:
    """Lines to standard error, their control characters shown (``terminal_text``: a file
    name or a value from the input never drives the terminal)."""
    for line in lines:
        click.echo(terminal_text(line), err=True)


# ---------------------------------------------------------------- option types


class _Instant(click.ParamType):  # type: ignore[type-arg]
    """An instant (`2026-11-01T09:30:00Z`) or a date (midnight UTC)."""

    name = "instant"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        from mqldsl.engine.runtime import date_seconds, parse_instant

        text = str(value)
        try:
            if "T" not in text:
                import datetime as dt

                return date_seconds(dt.date.fromisoformat(text))
            return parse_instant(text)
        except ValueError as exc:
            self.fail(f"{text!r} is not an instant such as 2026-11-01T09:30:00Z or a date: {exc}")


INSTANT = _Instant()


class _Date(click.ParamType):  # type: ignore[type-arg]
    """A calendar date written `2026-12-01`, kept as that text."""

    name = "date"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        import datetime as dt

        text = str(value).strip()
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            self.fail(f"{text!r} is not a date such as 2026-12-01")


DATE = _Date()

_SIZE_UNITS = {"kb": "KB", "mb": "MB", "gb": "GB", "tb": "TB"}
_SIZE_UNITS |= {"kib": "KiB", "mib": "MiB", "gib": "GiB", "tib": "TiB"}


class _MemorySize(click.ParamType):  # type: ignore[type-arg]
    """A memory size for DuckDB: a number and a unit, e.g. 512MB or 4GB."""

    name = "size"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value).strip()
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)", text)
        if match is None or match.group(2).lower() not in _SIZE_UNITS or float(match.group(1)) <= 0:
            self.fail(
                f"{text!r} is not a memory size: write a positive number and a unit "
                "(KB, MB, GB, TB, or KiB, MiB, GiB, TiB), e.g. 4GB",
                param,
                ctx,
            )
        return match.group(1) + _SIZE_UNITS[match.group(2).lower()]


# ---------------------------------------------------------------- shared options


memory_limit_option = click.option(
    "--memory-limit",
    type=_MemorySize(),
    help="With --engine duckdb: the memory DuckDB may use, e.g. 4GB (default: DuckDB's, "
    "80% of RAM); the leads are decided in chunks sized to fit it.",
)


def standard_input(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``-`` for a journeys file: standard input (read as a pipe is, docs/language.md)."""
    return "/dev/stdin" if value == "-" else value


class InputPath(click.Path):
    """An input file named on the command line. One that does not exist, is a folder or
    cannot be read is a problem with the input, reported as every unreadable input is
    (``E960``; a policy as ``check`` reports it, ``E100``) with exit 1 (docs/errors.md),
    not as a misuse of the command line (exit 2)."""

    def __init__(self, *, policy: bool = False, allow_dash: bool = False) -> None:
        super().__init__(exists=True, dir_okay=False, allow_dash=allow_dash)
        self.policy = policy

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            pass
        import errno
        import os

        from mqldsl.io.files import cannot_read

        name = os.fsdecode(value)
        if os.path.isdir(name):
            reason = "is a directory, not a file"
        elif not os.path.exists(name):
            reason = os.strerror(errno.ENOENT)
        else:
            reason = os.strerror(errno.EACCES)
        if self.policy:
            raise Unreadable([f"{name}:1:1: error[E100]: cannot read the file: {reason}"])
        raise Unreadable([cannot_read(name, OSError(errno.EINVAL, reason)).render()])


class Unreadable(click.ClickException):
    """An input file that cannot be read (:class:`InputPath`): its lines, exit 1."""

    exit_code = 1

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__(lines[0])
        self.lines = list(lines)

    def show(self, file: Any = None) -> None:
        echo_lines(self.lines)


def standard_output(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``-o -``: standard output, where the command writes without ``-o`` (a file named
    ``-`` was written in the current folder)."""
    return None if value == "-" else value


#: An output that may be standard output (`-o -`).
OUTPUT_OR_STDOUT = click.Path(dir_okay=False, allow_dash=True)

#: The journeys file argument: a file, or `-` for standard input.
JOURNEYS_PATH = InputPath(allow_dash=True)
POLICY_PATH = InputPath(policy=True)
journey_file = click.argument("journeys", type=JOURNEYS_PATH, callback=standard_input)
policy_file = click.argument("policy", type=POLICY_PATH)
events_option = click.option(
    "--events",
    type=InputPath(),
    help="With a leads CSV: the events table (lead_id, type, at, fields...).",
)
accounts_option = click.option(
    "--accounts",
    type=InputPath(),
    help='The accounts\' fields: JSON Lines, {"id": "A-17", "profile": {...}} a line.',
)
set_option = click.option(
    "--set", "assignments", multiple=True, metavar="PARAM=VALUE", help="Override a param."
)


def with_options(options: list[Any]) -> Callable[[Any], Any]:
    """Apply a list of click options, in order, as one decorator."""

    def wrap(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function

    return wrap


__all__ = [
    "INSTANT",
    "JOURNEYS_PATH",
    "MAX_PER_FILE",
    "accounts_option",
    "as_of_or_now",
    "cli",
    "echo_lines",
    "events_option",
    "journey_file",
    "load_policy",
    "memory_limit_option",
    "params",
    "policy_file",
    "print_diagnostics",
    "reported",
    "set_option",
    "standard_input",
    "with_options",
]
