"""Name suggestions ("did you mean `company_size`?") for every diagnostic
that meets an unknown or misspelt word: one similarity measure
(:func:`difflib.get_close_matches`) and one wording."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# How similar a candidate must be (difflib's ratio, 0 to 1) to be suggested.
CUTOFF = 0.6


def closest(word: str, candidates: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """The candidate most like ``word``, or None when none is close enough.
    The answer does not depend on the candidates' order (ties go to the
    greatest string, as difflib breaks them)."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """The hint "did you mean `x`?" for the closest candidate, or None."""
    close = closest(word, candidates, cutoff)
    return f"did you mean `{close}`?" if close is not None else None
