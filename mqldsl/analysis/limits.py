"""Limits on the work one lead may ask for (docs/robustness.md), shared by the checker (a
policy's own examples) and both engines (``engine.runtime.instants``, ``warehouse.engine``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: The most instants one lead's timeline may have: a lead that needs more is rejected (E900;
#: an example of the policy that needs more is E410).
MAX_INSTANTS = 100_000


def timeline_size(
    event_times: Sequence[float],
    windows: Sequence[float],
    decay_periods: Sequence[float],
    as_of: float,
) -> int:
    """How many instants a lead's timeline considers: the as-of instant, and per distinct
    event time up to it, the event, its window ends up to it and its decay steps up to it
    (events at one instant share all of them; the instants of events at different times are
    not merged: it is a bound, counted without listing them). The SQL back end counts the
    same (``warehouse.engine``)."""
    spans, periods = set(windows), set(decay_periods)
    count = 1
    for at in set(event_times):
        if at > as_of:
            continue
        count += 1 + sum(1 for w in spans if at + w <= as_of)
        count += sum(math.floor((as_of - at) / p) for p in periods)
    return count


__all__ = ["MAX_INSTANTS", "timeline_size"]
