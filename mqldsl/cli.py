"""The ``mqldsl`` command. Each command is a thin shell over the library:
parse the arguments, call the library, print, choose the exit code.

Exit codes (SPEC §13): 0 success; 1 the input has problems; 2 the command
line itself is wrong.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from . import __version__

if TYPE_CHECKING:
    from .diagnostics import Diagnostic
    from .source import Source

MAX_PER_FILE = 50


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mqldsl")
def cli() -> None:
    """Lead-qualification policies as code: check, format, score and simulate
    MQL/SQL rules written in the mqldsl policy language."""


def _print_diagnostics(
    diagnostics: Sequence[Diagnostic], source: Source | None, limit: int = MAX_PER_FILE
) -> None:
    for diagnostic in diagnostics[:limit]:
        click.echo(diagnostic.render(source))
    if len(diagnostics) > limit:
        file = diagnostics[0].span.file
        click.echo(f"{file}: ... and {len(diagnostics) - limit} more")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print the diagnostics.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def check(paths: tuple[str, ...], output_format: str, strict: bool) -> None:
    """Parse, type-check and lint policies.

    PATHS are .mql files or folders (every .mql file under a folder is
    checked). Prints every problem found, then a summary; exits 1 when there
    is an error (with --strict, also on a warning).
    """
    from .checker import check_file
    from .diagnostics import summary, to_json
    from .fileio import expand_policy_paths

    files = expand_policy_paths(paths)
    if not files:
        raise click.UsageError("no .mql files found in " + ", ".join(paths))
    everything: list[Diagnostic] = []
    for file in files:
        result = check_file(file)
        diagnostics = result.diagnostics
        everything.extend(diagnostics)
        if output_format == "text":
            _print_diagnostics(diagnostics, result.source)
    if output_format == "json":
        click.echo(to_json(everything))
    else:
        noun = "file" if len(files) == 1 else "files"
        click.echo(f"checked {len(files)} {noun}: {summary(everything)}", err=True)
    failed = any(d.is_error for d in everything) or (strict and bool(everything))
    sys.exit(1 if failed else 0)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--check", "check_only", is_flag=True, help="Change nothing; exit 1 if a file would change."
)
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Print what would change as a unified diff; change nothing.",
)
def fmt(paths: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Rewrite policies in canonical form.

    PATHS are .mql files or folders; `-` reads a policy from standard input
    and writes the formatted text to standard output. Comments are kept.
    A file with syntax errors is reported and left untouched.
    """
    import difflib

    from .diagnostics import sort_diagnostics
    from .fileio import expand_policy_paths, write_atomic
    from .parser import parse_bytes, parse_file
    from .printer import format_policy

    files = expand_policy_paths(paths)
    if not files:
        raise click.UsageError("no .mql files found in " + ", ".join(paths))
    failed = False
    changed: list[str] = []
    unchanged = 0
    for file in files:
        if file == "-":
            result = parse_bytes(sys.stdin.buffer.read(), "<stdin>")
        else:
            result = parse_file(file)
        if result.policy is None or any(d.is_error for d in result.diagnostics):
            _print_diagnostics(sort_diagnostics(result.diagnostics), result.source)
            failed = True
            continue
        original = result.source.text
        formatted = format_policy(result.policy, result.source)
        _verify(result, formatted)
        if file == "-":
            click.echo(formatted, nl=False)
            continue
        if formatted == original:
            unchanged += 1
            continue
        changed.append(file)
        if show_diff:
            click.echo(
                "".join(
                    difflib.unified_diff(
                        original.splitlines(keepends=True),
                        formatted.splitlines(keepends=True),
                        fromfile=file,
                        tofile=file + " (formatted)",
                    )
                ),
                nl=False,
            )
        elif check_only:
            click.echo(f"would reformat {file}")
        else:
            write_atomic(file, formatted)
            click.echo(f"reformatted {file}", err=True)
    verb = "would be reformatted" if (check_only or show_diff) else "reformatted"
    if any(f != "-" for f in files):
        click.echo(
            f"{len(changed)} {'file' if len(changed) == 1 else 'files'} {verb}, "
            f"{unchanged} unchanged",
            err=True,
        )
    if failed or ((check_only or show_diff) and changed):
        sys.exit(1)


def _verify(result: object, formatted: str) -> None:
    """The formatter must keep the meaning: refuse to write otherwise."""
    from .parser import ParseResult, parse_text
    from .printer import canonical_items

    assert isinstance(result, ParseResult) and result.policy is not None
    again = parse_text(formatted, result.source.name)
    if again.policy != canonical_items(result.policy):
        raise click.ClickException(
            f"{result.source.name}: the formatter would change the meaning of this policy; "
            "nothing was written. Please report this as a bug."
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="mqldsl")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # pragma: no cover - a bug, not bad input
        if os.environ.get("MQLDSL_DEBUG"):
            raise
        click.echo(
            f"mqldsl: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in mqldsl; run again with MQLDSL_DEBUG=1 for details.",
            err=True,
        )
        sys.exit(3)
