"""The ``mqldsl`` command. Each command is a thin shell over the library:
parse the arguments, call the library, print, choose the exit code.

Exit codes (SPEC §13): 0 success; 1 the input has problems; 2 the command
line itself is wrong; 3 a bug in mqldsl; 130 interrupted.

One module per command group: :mod:`~mqldsl.cli.authoring` (check, fmt,
test, docs, diff), :mod:`~mqldsl.cli.scoring` (score, sql, explain,
timeline, import) and :mod:`~mqldsl.cli.simulation` (generate, simulate,
whatif, sweep), :mod:`~mqldsl.cli.tuning` (tune);
:mod:`~mqldsl.cli.common` holds the group, the shared options and the
mapping of library problems to exit codes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from mqldsl.cli import authoring, scoring, simulation, tuning  # noqa: F401 - they register commands
from mqldsl.cli.common import cli


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
        engine = sys.modules.get("mqldsl.warehouse.engine")
        if engine is not None and isinstance(exc, engine.EngineError):
            click.echo(f"error: {exc}", err=True)  # journeys the SQL engine cannot take
            sys.exit(1)
        duckdb = sys.modules.get("duckdb")
        if duckdb is not None and isinstance(exc, duckdb.OutOfMemoryException):
            from mqldsl.warehouse.scoring import engine_problem

            click.echo(f"error: {engine_problem(exc)}", err=True)  # a resource, not a bug
            sys.exit(1)
        if os.environ.get("MQLDSL_DEBUG"):
            raise
        click.echo(
            f"mqldsl: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in mqldsl; run again with MQLDSL_DEBUG=1 for details.",
            err=True,
        )
        sys.exit(3)


__all__ = ["cli", "main"]
