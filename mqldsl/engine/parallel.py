"""The one way mqldsl spreads work over processes (`--jobs N`), for scoring
and for simulation alike: a pool of workers, each set up once, mapping a
function over items and giving the results back in input order, so that
the output never depends on how many processes ran.

Workers are forked where the platform allows it, so the state a setup
function builds from its arguments (a checked policy, a list of leads) is
inherited rather than copied; elsewhere they are spawned, and then the
setup function and its arguments must be picklable.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

_STATE: dict[str, Any] = {}

#: Seconds to wait for a pool to stop before going on without it.
STOP_WAIT = 5.0


def can_fork() -> bool:
    """Whether workers inherit the parent's memory (POSIX fork)."""
    return os.name == "posix"


def _setup(setup: Callable[..., Any], args: tuple[Any, ...]) -> None:
    _STATE["state"] = setup(*args)


def _call(task: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    work, item = task
    return work(_STATE["state"], item)


def ordered_map(
    work: Callable[[Any, Item], Result],
    items: Iterable[Item],
    jobs: int,
    setup: Callable[..., Any],
    args: tuple[Any, ...] = (),
) -> Generator[Result, None, None]:
    """``work(state, item)`` for every item, across ``jobs`` processes, in
    input order; ``state`` is ``setup(*args)``, built once per worker.

    ``work`` must be a module-level function (it travels to the workers with
    each item). The items are consumed lazily, so a long input never sits in
    memory at once. Closing the iterator early (``close()``, or dropping it)
    stops the workers.
    """
    context = multiprocessing.get_context("fork" if can_fork() else "spawn")
    pool = context.Pool(jobs, initializer=_setup, initargs=(setup, args))
    try:
        yield from pool.imap(_call, ((work, item) for item in items), chunksize=1)
    finally:
        # Pool.terminate() can wait for ever when it stops the pool in the middle of sending a
        # large item (its task thread stays blocked on a pipe no worker reads): it has killed
        # the workers by then, so after a while the run goes on (to clean up, or exit 130/143).
        stopper = threading.Thread(target=pool.terminate, daemon=True)
        stopper.start()
        stopper.join(STOP_WAIT)


__all__ = ["can_fork", "ordered_map"]
