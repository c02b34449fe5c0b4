"""The ``mqldsl`` command. Each command is a thin shell over the library:
parse the arguments, call the library, print, choose the exit code.

Exit codes (SPEC §13): 0 success; 1 the input has problems (also an output
the system refuses to create or write, E950/E951); 2 the command line itself
is wrong; 3 a bug in mqldsl; 130 interrupted (Ctrl-C, SIGINT); 143
terminated (SIGTERM; 129 for SIGHUP). An interrupted or failed run leaves an
existing ``-o`` file as it was and no temporary file behind.

One module per command group: :mod:`~mqldsl.cli.authoring` (check, fmt,
test, docs, diff), :mod:`~mqldsl.cli.scoring` (score, sql, explain,
timeline, import) and :mod:`~mqldsl.cli.simulation` (generate, simulate,
whatif, sweep), :mod:`~mqldsl.cli.tuning` (tune), :mod:`~mqldsl.cli.editor`
(lsp, the language server);
:mod:`~mqldsl.cli.common` holds the group, the shared options and the
mapping of library problems to exit codes.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence

import click

from mqldsl import __version__
from mqldsl.cli import authoring, editor, scoring, simulation, tuning  # noqa: F401 - they register commands
from mqldsl.cli.common import cli, echo_lines


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM, SIGHUP): unwinds like
    KeyboardInterrupt, so that outputs being written are cleaned up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


Handler = Callable[[int, types.FrameType | None], object] | int | signal.Handlers | None


_WATCHING: list[int] = []  # the pid whose signals main() handles, while it does


def _detach_worker() -> None:
    """In a process forked while main() handles signals (a ``--jobs`` worker):
    leave the terminal's process group, so that Ctrl-C or a SIGTERM to the
    group reaches the parent alone, which then stops its workers in order (a
    worker killed in the middle of reading the pool's task queue would leave
    the parent waiting for ever); on Linux, die with the parent."""
    if not _WATCHING or os.getpid() == _WATCHING[-1]:
        return
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def _signals() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt and SIGTERM/SIGHUP raise :class:`Terminated`
    in this process; its forked workers (``--jobs``) leave the process group
    (see :func:`_detach_worker`), ignore SIGINT and die on SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    parent = os.getpid()

    def stop(signum: int, frame: types.FrameType | None) -> None:
        if os.getpid() != parent:  # a worker: the pool stops it
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated(signum)

    def interrupt(signum: int, frame: types.FrameType | None) -> None:
        if os.getpid() == parent:
            raise KeyboardInterrupt

    wanted: dict[int, Callable[[int, types.FrameType | None], None]] = {
        signal.SIGINT: interrupt,
        signal.SIGTERM: stop,
    }
    if hasattr(signal, "SIGHUP"):
        wanted[signal.SIGHUP] = stop
    previous: dict[int, Handler] = {}
    for signum, handler in wanted.items():
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue  # e.g. started with nohup: keep ignoring it
        previous[signum] = signal.signal(signum, handler)
    if hasattr(os, "register_at_fork") and not _REGISTERED:
        os.register_at_fork(after_in_child=_detach_worker)
        _REGISTERED.append(True)
    _WATCHING.append(parent)
    try:
        yield
    finally:
        _WATCHING.pop()
        for signum, earlier in previous.items():
            signal.signal(signum, earlier)


_REGISTERED: list[bool] = []


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    try:
        with _signals():
            code = cli.main(
                args=list(argv) if argv is not None else None,
                prog_name="mqldsl",
                standalone_mode=False,
            )
    except SystemExit:
        raise
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            _interrupted()
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    except Terminated as exc:
        click.echo(f"\nterminated ({exc})", err=True)
        sys.exit(128 + exc.signum)
    except Exception as exc:
        _last_resort(exc)
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """The console script and ``python -m mqldsl``: :func:`main`, then the process ends
    without a last collection of everything it made (``gc.freeze``: the objects go with the
    process; 40-50 ms of every command's exit). Tests call :func:`main`."""
    try:
        main()
    finally:
        gc.freeze()


def _interrupted() -> None:
    click.echo("\ninterrupted", err=True)
    sys.exit(130)


def _last_resort(exc: Exception) -> None:
    """What an exception no command turned into a message becomes: a known
    kind of problem (exit 1 or 2), or an internal error that names the file
    the run was at and what to report (exit 3)."""
    from mqldsl.io.errors import InputProblem, UsageProblem
    from mqldsl.io.files import what_failed

    if isinstance(exc, InputProblem):
        echo_lines(exc.lines)
        sys.exit(1)
    if isinstance(exc, UsageProblem):
        where = f"{exc.option}: " if exc.option else ""
        echo_lines([f"Error: {where}{exc.message}"])
        sys.exit(2)
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        with contextlib.suppress(OSError):  # the reader of standard output went away
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    engine = sys.modules.get("mqldsl.warehouse.engine")
    if engine is not None and isinstance(exc, engine.EngineError):
        echo_lines([f"error: {exc}"])  # journeys the SQL engine cannot take
        sys.exit(1)
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(exc, duckdb.OutOfMemoryException):
        from mqldsl.warehouse.scoring import engine_problem

        echo_lines([f"error: {engine_problem(exc)}"])  # a resource, not a bug
        sys.exit(1)
    if os.environ.get("MQLDSL_DEBUG"):
        raise exc
    doing = what_failed(exc)
    if isinstance(exc, OSError | UnicodeDecodeError):
        _unreadable(exc, doing)
    at = f" while {doing[0][0]} {doing[0][1]}" if doing else ""
    kept = [name for action, name in doing if action == "writing"]
    lines = [
        f"mqldsl: internal error{at}: {type(exc).__name__}: {exc}",
        f"This is a bug in mqldsl {__version__}: please report it to its maintainers with "
        "the command line and, if you can, the input files; MQLDSL_DEBUG=1 shows the traceback.",
    ]
    if kept:
        lines.append(f"{', '.join(kept)}: left as it was (the new output was not written)")
    echo_lines(lines)
    sys.exit(3)


def _unreadable(exc: OSError | UnicodeDecodeError, doing: list[tuple[str, str]]) -> None:
    """A file the system would not let us read or write, or that is not
    UTF-8, is a problem with the input (exit 1), not a bug."""
    from mqldsl.io.files import cannot_read, cannot_write

    name = exc.filename if isinstance(exc, OSError) and exc.filename else None
    action = "reading"
    if name is None and doing:
        action, name = doing[0]
    if isinstance(exc, UnicodeDecodeError):
        from mqldsl.io.problems import Problem

        message = f"the file is not UTF-8 text ({exc.reason})"
        hint = "save the file as UTF-8"
        echo_lines([Problem(name or "an input file", 0, message, "E961", hint=hint).render()])
        sys.exit(1)
    shown = str(name) if name is not None else "a file"
    problem = cannot_write(shown, exc) if action == "writing" else cannot_read(shown, exc)
    echo_lines([problem.render()])
    sys.exit(1)


__all__ = ["Terminated", "cli", "main"]
