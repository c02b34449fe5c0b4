"""A checked policy as a run has it (SPEC §5.2): with a duration param set
to another length than the policy's, the policy checked again with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mqldsl.analysis.checker import check_policy
from mqldsl.analysis.durations import parse_duration
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.language import ast


def bind(model: CheckedPolicy, params: Mapping[str, Any] | None) -> CheckedPolicy:
    """``model`` as it is with ``params`` (a run's param values): itself when
    they give every duration param its declared length, else the policy
    checked again with the given lengths (kept on ``model``, so a run that
    compiles several evaluators checks once)."""
    if not params:
        return model
    changed: dict[str, ast.Duration] = {}
    for name, info in model.params.items():
        value = params.get(name)
        if isinstance(value, str) and isinstance(info.value, ast.Duration):
            value = parse_duration(value)  # as a report writes it, `14 days`
        if (
            isinstance(value, ast.Duration)
            and isinstance(info.value, ast.Duration)
            and value.seconds != info.value.seconds
        ):
            changed[name] = value
    if not changed:
        return model
    key = tuple((name, value.seconds) for name, value in changed.items())
    found = model.bound.get(key)
    if found is not None:
        return found
    bound, diagnostics = check_policy(model.policy, model.source, model.includes, lengths=changed)
    if bound is None:
        problems = "; ".join(d.message for d in diagnostics if d.is_error)
        shown = ", ".join(f"{name}={value.text()}" for name, value in changed.items())
        raise ValueError(f"the policy is not valid with {shown}: {problems}")
    bound.own_policy = model.own_policy
    model.bound[key] = bound
    return bound
