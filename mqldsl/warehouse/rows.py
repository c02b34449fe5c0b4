"""The rows of the compiled query (run by DuckDB, Spark or a warehouse) read
back as the decisions the Python engine makes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mqldsl.analysis.stamp import policy_stamp
from mqldsl.engine.calendars import Deadline, route_deadlines
from mqldsl.engine.runtime import (
    UTC,
    Decision,
    Handoff,
    RouteDecision,
    round_score,
    to_seconds,
)
from mqldsl.warehouse.compiler import DISQUALIFIED, SqlPolicy


@dataclass
class SqlDecision:
    """A decision and, for the simulator, the first entry into each stage
    with the index of the route chosen then (-1: none)."""

    decision: Decision
    first_entries: dict[str, tuple[float, int]]
    # With first entries: every handoff (SPEC §8) in time order, as the Python engine's: each
    # entry into a routed stage, and with hot-event routes each handoff a hot event made (the
    # last event of each instant that fires one; after the entry of its instant).
    handoffs: tuple[Handoff, ...] = ()


class RowReader:
    """Turns a result row of the compiled query (from any engine) into the
    decision the Python engine makes."""

    def __init__(self, compiled: SqlPolicy, columns: Sequence[str]) -> None:
        position = {name: i for i, name in enumerate(columns)}
        self.as_of = compiled.as_of
        self.policy = policy_stamp(compiled.model, compiled.params)
        self.scores = [(name, position[col]) for name, col in compiled.score_columns.items()]
        self.accounts = compiled.model.uses_accounts
        self.stages = compiled.model.stage_names
        self.account_scores = [
            (name, position[col]) for name, col in compiled.account_score_columns.items()
        ]
        self.i_account = position.get("account")
        self.entered = [(stage, position[col]) for stage, col in compiled.entered_columns.items()]
        self.firsts = [
            (stage, position[at], position[route])
            for stage, (at, route) in compiled.first_columns.items()
        ]
        self.hot = [position[column] for column in compiled.hot_columns.values()]
        self.entries = [position[column] for column in compiled.entry_columns.values()]
        self.i_id, self.i_stage = position["id"], position["stage"]
        self.i_dq, self.i_queue = position["disqualified"], position["queue"]
        self.i_sla, self.i_due = position["sla"], position["due"]
        # With hot-event routes (SPEC §8), the handoff instant (else the stage's entry).
        self.i_handoff = position.get("route_entered")
        # The query leaves the due time of a business SLA (SPEC §8.1) empty: it is counted
        # here, by the module the Python evaluators use. Its text names its calendar, so the
        # text alone says which deadline it is.
        self.business: dict[str, Deadline] = {
            deadline.text: deadline
            for deadline in route_deadlines(compiled.model)
            if deadline is not None and deadline.calendar is not None
        }

    def __call__(self, row: Sequence[Any]) -> SqlDecision:
        stage = row[self.i_stage]
        times = [(name, _seconds(row[i])) for name, i in self.entered if row[i] is not None]
        times.sort(key=lambda item: item[1])
        entered = dict(times)
        route = None
        if stage != DISQUALIFIED and row[self.i_queue] is not None:
            due = row[self.i_due]
            sla = row[self.i_sla]
            business = self.business.get(sla) if sla is not None else None
            handoff = (
                _seconds(row[self.i_handoff]) if self.i_handoff is not None else entered[stage]
            )
            route = RouteDecision(
                queue=row[self.i_queue],
                sla=sla,
                due=(
                    business.due(handoff)
                    if business is not None
                    else _seconds(due)
                    if due is not None
                    else None
                ),
                entered=handoff,
            )
        decision = Decision(
            id=row[self.i_id],
            as_of=self.as_of,
            stage=stage,
            scores={name: round_score(row[i]) for name, i in self.scores},
            disqualified=tuple(row[self.i_dq] or ()),
            route=route,
            entered=entered,
            policy=self.policy,
            account_scores={name: round_score(row[i]) for name, i in self.account_scores}
            if self.accounts
            else None,
            account=row[self.i_account] if self.i_account is not None else None,
        )
        first = {
            name: (_seconds(row[a]), int(row[r]))
            for name, a, r in self.firsts
            if row[a] is not None
        }
        handoffs: list[Handoff] = []
        if self.entries:
            at, route_numbers, stages = (row[i] or () for i in self.entries)
            handoffs += [
                Handoff(_seconds(moment), self.stages[int(stage)], int(number))
                for moment, number, stage in zip(at, route_numbers, stages, strict=True)
            ]
        if self.hot:
            at, route_numbers, stages, positions = (row[i] or () for i in self.hot)
            handoffs += [
                Handoff(_seconds(moment), self.stages[int(stage)], int(number), int(event))
                for moment, number, stage, event in zip(
                    at, route_numbers, stages, positions, strict=True
                )
            ]
        # in time order; at one instant the entry first (as the Python engine lists them)
        handoffs.sort(key=lambda h: (h.at, h.event >= 0))
        return SqlDecision(decision, first, tuple(handoffs))


def _seconds(value: dt.datetime) -> float:
    return to_seconds(value.replace(tzinfo=UTC))
