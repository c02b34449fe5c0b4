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

import functools
import gc
import multiprocessing
import os
import pickle
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from multiprocessing.connection import Connection
from typing import Any, ParamSpec, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Params = ParamSpec("Params")

_STATE: dict[str, Any] = {}

#: Seconds to wait for a pool to stop before going on without it.
STOP_WAIT = 5.0

# ---------------------------------------------------------------- the collector
# A run holds its leads and records until it ends: millions of objects that Python's cyclic
# collector would walk again at every full collection (a sixth of a 100,000-lead simulation's
# time, measured). Taken out of its rounds (gc.freeze) they are still freed by reference
# counting when dropped (leads and records hold no cycle); at the end of the run the
# collector sees everything again.

_RUNS = [0]  # how many runs are under way in this process (holds_long_lived)


def holds_long_lived(function: Callable[Params, Result]) -> Callable[Params, Result]:
    """Decorate a function whose data lives until it returns (a run): inside it,
    :func:`keep` takes what is made so far out of the collector's rounds; when the
    outermost such call returns, the collector sees it all again (unless objects were taken
    out before it began: whoever took them out puts them back)."""

    @functools.wraps(function)
    def run(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        fresh = _RUNS[0] == 0 and gc.get_freeze_count() == 0
        _RUNS[0] += 1
        try:
            return function(*args, **kwargs)
        finally:
            _RUNS[0] -= 1
            if fresh:
                gc.unfreeze()

    return run


def keep() -> None:
    """Inside a :func:`holds_long_lived` call: every object made so far lives until it
    returns, so the cyclic collector leaves them alone (gc.freeze). Elsewhere nothing."""
    if _RUNS[0]:
        gc.freeze()


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


def _chunk_child(
    work: Callable[[Sequence[Any]], list[Any]],
    items: list[Any],
    bounds: tuple[int, int],
    sink: Connection,
) -> None:
    """In a forked child: ``work`` on its chunk of the inherited ``items``, sent back
    pickled as ("ok", results) or ("error", the exception)."""
    try:
        answer: tuple[str, Any] = ("ok", work(items[bounds[0] : bounds[1]]))
    except BaseException as exc:
        answer = ("error", exc)
    try:
        data = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
    except Exception:
        data = pickle.dumps(("error", RuntimeError(repr(answer[1]))))
    sink.send_bytes(data)
    sink.close()


class _Chunks:
    """The children of :func:`produce_and_map`, oldest first."""

    def __init__(self, work: Callable[[Sequence[Any]], list[Any]], items: list[Any]) -> None:
        self.work = work
        self.items = items
        self.running: deque[tuple[Any, Connection]] = deque()
        self.context = multiprocessing.get_context("fork")

    def start(self, low: int, high: int) -> None:
        source, sink = self.context.Pipe(duplex=False)
        # The produced items are inherited, not copied: keep the child's collector off them
        # (a full collection there would touch, and so copy, every page of the parent's).
        keep()
        process = self.context.Process(
            target=_chunk_child, args=(self.work, self.items, (low, high), sink), daemon=True
        )
        process.start()
        sink.close()
        self.running.append((process, source))

    def finish_oldest(self, progress: Callable[[int], None] | None) -> list[Any]:
        process, source = self.running.popleft()
        try:
            status, payload = pickle.loads(source.recv_bytes())
        except EOFError:
            process.join()
            raise RuntimeError(
                f"a worker process stopped without an answer (exit code {process.exitcode})"
            ) from None
        finally:
            source.close()
        process.join()
        if status == "error":
            raise payload
        if progress is not None:
            progress(len(payload))
        return list(payload)

    def stop(self) -> None:
        for process, source in self.running:
            process.terminate()
            process.join()
            source.close()
        self.running.clear()


@holds_long_lived  # (the produced items live until it returns)
def produce_and_map(
    items: Iterable[Item],
    work: Callable[[Sequence[Item]], list[Result]],
    jobs: int,
    chunk: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Item], list[Result]]:
    """Every item of ``items`` (consumed here, in order) and ``work`` of them, chunk by
    chunk (``chunk`` items, more as the items made grow), in input order: while this
    process produces the next chunk, up to
    ``jobs`` forked children run ``work`` on the chunks already made (they inherit them:
    nothing is copied in; only the results come back, pickled), so the cores stay busy
    whichever of producing and working is the slower. The last chunk is shared between a
    child and this process. ``work`` of a chunk must depend only on that chunk,
    so the results are the same whatever ``jobs`` and ``chunk`` are. Without fork, or with
    one job, ``work`` runs here on all the items at once. An exception in ``work`` is raised
    here (a worker that dies without a word: :class:`RuntimeError`). ``progress`` is told
    how many more results are made, as they come back."""
    if jobs <= 1 or not can_fork():
        produced = list(items)
        return produced, work(produced)
    produced = []
    results: list[Result] = []
    chunks = _Chunks(work, produced)
    try:
        start = 0
        for item in items:
            # A full chunk, not the last one: ``chunk`` items, or a twentieth of those made so
            # far when that is more (each fork copies the page tables of all of them).
            if len(produced) - start >= max(chunk, start // 20):
                while len(chunks.running) >= jobs:
                    results.extend(chunks.finish_oldest(progress))
                chunks.start(start, len(produced))
                start = len(produced)
            produced.append(item)
        middle = start + (len(produced) - start) // 2
        if middle > start:
            chunks.start(start, middle)  # the last chunk: half in a child, half here
        mine = work(produced[middle:])
        if progress is not None:
            progress(len(mine))
        while chunks.running:
            results.extend(chunks.finish_oldest(progress))
        results.extend(mine)
    finally:
        chunks.stop()
    return produced, results


__all__ = ["can_fork", "holds_long_lived", "keep", "ordered_map", "produce_and_map"]
