"""Warehouse tables for `score --engine spark --leads LEADS.parquet --events
EVENTS.parquet`: checked by the embedded DuckDB exactly as `--engine duckdb`
checks them (the same rejected rows, messages and counts, the same E900 for
a timeline too long), then turned back into :class:`Lead` records, in the
table's row order, for the executors to decide."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.analysis.types import Type
from mqldsl.engine.runtime import Event, Lead
from mqldsl.io.journeys import ReadReport
from mqldsl.io.values import INT_MAX, INT_MIN
from mqldsl.warehouse.engine import DuckDBEngine
from mqldsl.warehouse.tables import ORDER, event_columns, quote


def runtime_value(value: Any, kind: Type) -> Any:
    """A typed table value as the Python reader would hold it."""
    k = kind.kind
    if k == "int":
        return int(value)
    if k == "number":
        # The reader keeps a whole JSON number an int; a table cannot tell 40 from 40.0.
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            whole = int(value)
            return whole if INT_MIN <= whole <= INT_MAX else value
        return value
    if k == "set":
        element = kind.element
        assert element is not None
        return frozenset(runtime_value(item, element) for item in value)
    return value


def table_leads(
    model: CheckedPolicy, leads: str, events: str | None, as_of: float, report: ReadReport
) -> Iterator[Lead]:
    """The valid leads of the tables, in row order; ``report`` gets the
    rejected rows exactly as `--engine duckdb` reports them."""
    with DuckDBEngine(model) as engine:
        engine.load_tables(leads, events, report)
        engine.drop_long_timelines(as_of, report, leads)
        names = list(model.fields)
        columns = event_columns(model)
        by_lead: dict[str, list[Event]] = {}
        event_rows = engine.con.execute(
            "SELECT lead_id, type, date_diff('microsecond', TIMESTAMP '1970-01-01', \"at\")"
            + "".join(", " + quote(n) for n in columns)
            + " FROM events"
        ).fetchall()
        for lead_id, kind, at_us, *values in event_rows:
            info = model.events[kind]
            fields = {
                name: runtime_value(value, info.fields[name].type)
                for name, value in zip(columns, values, strict=True)
                if name in info.fields and value is not None
            }
            by_lead.setdefault(lead_id, []).append(Event(at_us / 1_000_000, kind, fields))
        # The lead's account (SPEC §9): grouped, with the accounts file, by the caller.
        account = "account" if model.uses_accounts else "NULL"
        cursor = engine.con.execute(
            f"SELECT id, {account}{''.join(', ' + quote(n) for n in names)} FROM leads "
            f"ORDER BY {quote(ORDER)}"
        )
        while rows := cursor.fetchmany(10_000):
            for lead_id, account_id, *values in rows:
                profile = {
                    name: runtime_value(value, model.fields[name].type)
                    for name, value in zip(names, values, strict=True)
                    if value is not None
                }
                ordered = sorted(by_lead.get(lead_id, []), key=lambda e: (e.at, e.type))
                yield Lead(
                    id=lead_id,
                    account=account_id,
                    profile=profile,
                    events=tuple(
                        Event(e.at, e.type, e.fields, index) for index, e in enumerate(ordered)
                    ),
                )


__all__ = ["runtime_value", "table_leads"]
