"""mqldsl: lead-qualification policies as code.

The front door (docs/api.md)::

    import mqldsl
    policy = mqldsl.load("policies/acme.mql")
    lead = {"id": "L1", "profile": {...}, "events": [...]}
    decision = mqldsl.decide(policy, lead, "2026-12-01T00:00:00Z")
    report = mqldsl.compare(policy, params={"mql_intent_min": 30},
                            scenario="simulations/acme.toml")

The functions live in :mod:`mqldsl.api` and load on first use, so that
``import mqldsl`` (and the command line) stay fast. The pipeline behind them
is described in docs/architecture.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors
    from mqldsl.api import (
        Problem,
        UsageError,
        check,
        compare,
        compile,
        decide,
        diff,
        docs,
        explain,
        generate,
        instant,
        lead,
        load,
        save,
        score,
        simulate,
        sql,
        summary,
        sweep,
        tune,
    )

__all__ = [
    "Problem",
    "UsageError",
    "__version__",
    "check",
    "compare",
    "compile",
    "decide",
    "diff",
    "docs",
    "explain",
    "generate",
    "instant",
    "lead",
    "load",
    "save",
    "score",
    "simulate",
    "sql",
    "summary",
    "sweep",
    "tune",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mqldsl import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mqldsl' has no attribute {name!r}")
