"""Loading a policy for a command: check it, refuse it when it has errors,
and read `--set PARAM=VALUE` overrides against it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from mqldsl.analysis.bound import bind
from mqldsl.analysis.checker import check_file
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.params import ParamOverrideError, parse_param_override
from mqldsl.engine.runtime import to_seconds
from mqldsl.io.errors import InputProblem, UsageProblem

MAX_PER_FILE = 50  # diagnostics shown for one file


class PolicyError(InputProblem):
    """A policy that has errors: its diagnostics (at most
    :data:`MAX_PER_FILE`), then a line saying that nothing was read."""


def load_policy(path: str | Path) -> CheckedPolicy:
    """The checked policy at ``path``; :class:`PolicyError` if it has errors."""
    result = check_file(path)
    errors = [d for d in result.diagnostics if d.is_error]
    if result.model is None or errors:
        lines = [d.render(result.source) for d in result.diagnostics[:MAX_PER_FILE]]
        raise PolicyError([*lines, f"{path}: the policy has errors; nothing was run"])
    return result.model


def param_values(model: CheckedPolicy, assignments: Sequence[str]) -> dict[str, object]:
    """The params that ``PARAM=VALUE`` assignments set, as runtime values;
    :class:`UsageProblem` (option ``--set``) for an unknown param or a value
    of the wrong type."""
    values: dict[str, object] = {}
    for assignment in assignments:
        try:
            name, value = parse_param_override(model, assignment)
        except ParamOverrideError as exc:
            raise UsageProblem(
                f"error[{exc.code}]: {exc.message}" + (f"; {exc.hint}" if exc.hint else ""),
                "--set",
            ) from None
        values[name] = value
    try:
        bind(model, values)  # a duration param's length checked with the policy (SPEC §5.2)
    except ValueError as exc:
        raise UsageProblem(f"error[E307]: {exc}", "--set") from None
    return values


def load_policy_with(
    path: str | Path, assignments: Sequence[str] = ()
) -> tuple[CheckedPolicy, dict[str, object]]:
    """:func:`load_policy`, and the params the assignments set."""
    model = load_policy(path)
    return model, param_values(model, assignments)


def now() -> float:
    """The current instant to the second: the default as-of of the commands."""
    return to_seconds(dt.datetime.now(dt.UTC).replace(microsecond=0))


__all__ = ["MAX_PER_FILE", "PolicyError", "load_policy", "load_policy_with", "now", "param_values"]
