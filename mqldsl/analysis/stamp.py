"""Which policy made a decision (SPEC §12): every decision carries
``"policy": {"version": N, "sha256": "…"}``, so that a decision in a CRM can
be traced to the exact rules that made it.

``sha256`` is :attr:`CheckedPolicy.sha256 <mqldsl.analysis.model.CheckedPolicy.sha256>`,
the hash of the policy's canonical text (what `mqldsl fmt` writes, comments
included; with includes, followed by each included file's, docs/decisions.md),
computed once per loaded policy. ``version`` is the policy's
`version N` (None when it has none). When a run changes params without
editing the file (`--set`, ``params=`` in the API), the text alone no longer
names the rules, so the stamp also lists, in declaration order, the params
whose values differ from the file's: ``"params": {"mql_intent_min": 30}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.language import ast


@dataclass(frozen=True, slots=True)
class PolicyStamp:
    """The policy of a decision: its version, the hash of its canonical text
    and the params a run set to other values than the text's."""

    version: ast.Number | None
    sha256: str
    params: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": self.version, "sha256": self.sha256}
        if self.params:
            data["params"] = {name: _json_value(value) for name, value in self.params}
        return data

    def params_text(self) -> str:
        """The params as `--set` takes them, ``NAME=VALUE; ...`` ("" for none):
        the form of a flat table's cell."""
        return "; ".join(f"{name}={_text(value)}" for name, value in self.params)


def policy_stamp(model: CheckedPolicy, params: Mapping[str, Any] | None = None) -> PolicyStamp:
    """The stamp of decisions made by ``model`` with ``params`` (overrides, or
    every param's value: only those that differ from the declared value are
    listed)."""
    changed = tuple(
        (name, params[name])
        for name, info in model.params.items()
        if params is not None and name in params and not _same(params[name], info.value)
    )
    return PolicyStamp(model.version, model.sha256, changed)


def _same(value: Any, declared: Any) -> bool:
    if isinstance(value, bool) or isinstance(declared, bool):
        return type(value) is type(declared) and value == declared
    if isinstance(value, list | tuple) and isinstance(declared, list | tuple):
        return list(value) == list(declared)
    if isinstance(value, ast.Duration) and isinstance(declared, ast.Duration):
        return value.seconds == declared.seconds
    return bool(value == declared)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(_text(item) for item in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, ast.Duration):
        return value.text()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_json_value(item) for item in value]
    return value


__all__ = ["PolicyStamp", "policy_stamp"]
