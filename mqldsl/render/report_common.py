"""What every report renderer shares: the metric labels, how a value is
shown to people, a change with its sign and percentage, an interval as text,
and a report as the JSON text of its file."""

from __future__ import annotations

import json
from typing import Any

#: How each metric is named in tables and summaries.
LABELS = {
    "mqls": "MQLs",
    "mql_precision": "MQL precision",
    "buyer_recall": "buyer recall",
    "sqls": "SQLs",
    "mql_to_sql": "MQL to SQL",
    "sla_met": "SLA met",
    "median_hours_to_first_touch": "median hours to first touch",
    "median_hours_to_mql": "median hours to MQL",
    "buyers": "real buyers",
    "sdr_utilisation": "SDR utilisation",
    "queue_length": "queue at as-of",
    "accounts": "accounts",
    "mqas": "MQAs",
    "buyer_accounts": "buyer accounts",
    "mqa_precision": "MQA precision",
    "account_recall": "buyer account recall",
}


def show(value: Any) -> str:
    """A metric value for people: n/a for no data, four significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def signed_change(d: dict[str, Any]) -> str:
    """A metric's change with its sign, and its percentage of the base."""
    change = show(d["diff"])
    if d["diff"] is not None and d["diff"] > 0:
        change = "+" + change
    if d["diff_pct"] is not None:
        change += f" ({d['diff_pct']:+.1f}%)"
    return change


def interval_text(interval: list[float] | None, joiner: str = ", ") -> str:
    return f"[{show(interval[0])}{joiner}{show(interval[1])}]" if interval else ""


def data_words(report: dict[str, Any]) -> str:
    """Which policy ran on which leads (SPEC §14.1), in words: `version 4, sha256
    291dc6af1f01; scenario simulations/acme.toml, seed 7`, or `...; journeys j.jsonl`; and the
    leads left out because they did not exist yet at the as-of instant. "" when the report
    names neither (an older report)."""
    parts = []
    policy = report.get("policy") or {}
    version = policy.get("version")
    digest = policy.get("sha256")
    if version is not None or digest:
        named = [f"version {version}"] if version is not None else []
        parts.append(", ".join(named + ([f"sha256 {digest[:12]}"] if digest else [])))
    source = report.get("source") or {}
    if source.get("scenario") is not None:
        parts.append(f"scenario {source['scenario']}, seed {source.get('seed')}")
    elif source.get("journeys") is not None:
        parts.append(f"journeys {source['journeys']}")
    later = report.get("leads_after_as_of")  # (a simulation says it among its timing notes)
    if later:
        parts.append(f"{later} more left out: they did not exist yet at the as-of instant")
    return "; ".join(parts)


def to_json(report: dict[str, Any]) -> str:
    """Any report as the JSON text of its .json file."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def sla_cell(queue: dict[str, Any]) -> str:
    """A queue's SLA compliance in a cell: "met of judged (share)", or why
    there is no figure."""
    if queue["sla"] is None:
        return "no SLA"
    if queue["judged"] is None:
        return "not measured"
    if not queue["judged"]:
        return "none judged yet"
    return f"{queue['met']} of {queue['judged']} ({show(queue['share'])})"


SLA_NOTE = (
    "A handoff is judged once it has had its first touch or its SLA deadline has passed by "
    "the as-of instant; it met the SLA when the first touch came within it."
)


__all__ = ["LABELS", "SLA_NOTE", "interval_text", "show", "signed_change", "sla_cell", "to_json"]


def entry_lines(report: dict[str, Any], shown: int = 5) -> list[str]:
    """The MQAs' entry points (SPEC §9: the first of an account's leads to reach MQL) in
    a few lines: how many MQAs each segment entered, and the first ``shown`` MQAs."""
    accounts = report.get("accounts")
    if not accounts:
        return []
    entry = accounts["entry_points"]
    rows = entry["mqas"]
    lines = [
        f"MQA entry points (the first lead of each MQA to reach MQL): {len(rows)} MQAs"
        + (
            "; entered by "
            + ", ".join(f"{segment} {count}" for segment, count in entry["by_segment"].items())
            if entry["by_segment"]
            else ""
        )
    ]
    for row in rows[:shown]:
        name = row["account"] if row["account"] is not None else "(no account)"
        lines.append(f"  {name}: {row['lead']} at {row['at']}")
    if len(rows) > shown:
        lines.append(f"  ... {len(rows) - shown} more in the JSON report")
    return lines
