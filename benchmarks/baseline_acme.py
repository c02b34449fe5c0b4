"""The hand-written baseline: policies/acme.mql evaluated by one plain Python
function, with the standard json module, no framework. It writes the same
decisions as `mqldsl score` (SPEC §12), so the benchmark can also check that
both agree.

    python benchmarks/baseline_acme.py JOURNEYS.jsonl --as-of 2026-11-01T00:00:00Z > out.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

DAY = 86400.0
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
STAGES = ["visitor", "subscriber", "lead", "mql", "sql"]
WINDOWS = (14 * DAY, 30 * DAY, 60 * DAY)
# The policy every decision names (SPEC §12). policies/acme.mql is canonical
# (what `mqldsl fmt` writes), so the hash of its bytes is the policy's hash.
ACME = Path(__file__).resolve().parent.parent / "policies" / "acme.mql"
POLICY = {"version": 4, "sha256": hashlib.sha256(ACME.read_bytes()).hexdigest()}


def seconds(text: str) -> float:
    return (dt.datetime.fromisoformat(text) - EPOCH).total_seconds()


def instant(value: float) -> str:
    return (EPOCH + dt.timedelta(seconds=value)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rounded(value: float) -> float | int:
    if value == int(value):
        return int(value)
    result = float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return int(result) if result == int(result) else result


def decide(lead: dict, as_of: float) -> dict:
    p = lead.get("profile") or {}
    size = p.get("company_size")
    role = p.get("role")
    email = p.get("email_kind")
    fit = 0.0
    if size is not None and 200 <= size <= 5000:
        fit += 20
    if size is not None and 50 <= size <= 199:
        fit += 10
    if role in ("security_engineer", "secops"):
        fit += 15
    if role == "it_manager":
        fit += 5
    if p.get("seniority") in ("director", "vp", "c_level"):
        fit += 10
    if p.get("industry") in ("fintech", "healthcare", "saas"):
        fit += 10
    if p.get("region") in ("na", "emea"):
        fit += 5
    if p.get("tech_stack") is not None and "aws" in p["tech_stack"]:
        fit += 5
    if email == "personal":
        fit -= 30
    if email == "competitor":
        fit -= 100
    fit = rounded(fit)
    events = sorted(
        ((seconds(e["at"]), e["type"], e) for e in lead.get("events") or ()), key=lambda x: x[0]
    )

    def intent_at(t: float) -> float:
        pricing = views = downloads = features = 0
        webinar = demo = trial = roi = anything = False
        for at, kind, e in events:
            if at > t:
                break
            age = t - at
            anything = anything or age < 30 * DAY
            if kind == "page_view":
                if (
                    age < 14 * DAY
                    and str(e.get("path", "")).startswith("/pricing")
                    and e.get("path") is not None
                ):
                    pricing += 1
                if age < 30 * DAY:
                    views += 1
            elif kind == "content_download":
                if age < 30 * DAY and e.get("kind") in ("case_study", "comparison_guide"):
                    downloads += 1
            elif kind == "webinar_attended":
                webinar = webinar or age < 30 * DAY
            elif kind == "demo_request":
                demo = demo or age < 60 * DAY
            elif kind == "trial_started":
                trial = trial or age < 30 * DAY
            elif kind == "feature_used":
                if age < 14 * DAY:
                    features += 1
            elif kind == "roi_calc_request":
                roi = roi or age < 60 * DAY
        value = min(5.0 * pricing, 20) + min(2.0 * views, 10) + min(10.0 * downloads, 20)
        value += (15 if webinar else 0) + (30 if demo else 0) + (25 if trial else 0)
        value += min(5.0 * features, 20) + (20 if roi else 0) + (0 if anything else -20)
        return value

    def ever(kind: str, t: float) -> bool:
        return any(k == kind and at <= t for at, k, _ in events)

    def stage_at(t: float) -> str:
        if email == "competitor" or ever("unsubscribe", t):
            return "disqualified"
        intent = rounded(intent_at(t))
        demo = any(k == "demo_request" and t - 60 * DAY < at <= t for at, k, _ in events)
        stage = "visitor"
        if ever("newsletter_signup", t):
            stage = "subscriber"
        if ever("content_download", t) or ever("trial_started", t):
            stage = "lead"
        if (fit >= 30 and intent >= 40) or (demo and fit >= 10):
            stage = "mql"
        if ever("sales_accepted", t):
            stage = "sql"
        return stage

    points = {as_of}
    for at, _, _ in events:
        if at <= as_of:
            points.add(at)
            for window in WINDOWS:
                if at + window <= as_of:
                    points.add(at + window)
    entered: dict[str, float] = {}
    label = None
    for t in sorted(points):
        now = stage_at(t)
        if now != label:
            entered[now] = t
            label = now
    reasons = []
    if email == "competitor":
        reasons.append("Competitor")
    if ever("unsubscribe", as_of):
        reasons.append("Unsubscribed")
    route = None
    if label in ("mql", "sql"):
        at = entered[label]
        if label == "mql" and p.get("channel") == "inbound":
            route = {"queue": "sdr_inbound", "sla": "5 minutes", "due": instant(at + 300)}
        elif label == "mql":
            route = {"queue": "sdr_outbound", "sla": "1 day", "due": instant(at + DAY)}
        else:
            route = {"queue": "account_exec", "sla": "1 day", "due": instant(at + DAY)}
    return {
        "id": str(lead["id"]),
        "as_of": instant(as_of),
        "stage": label,
        "scores": {"fit": fit, "intent": rounded(intent_at(as_of))},
        "disqualified": reasons,
        "route": route,
        "entered": {k: instant(v) for k, v in sorted(entered.items(), key=lambda kv: kv[1])},
        "policy": POLICY,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("journeys")
    parser.add_argument("--as-of", required=True)
    args = parser.parse_args()
    as_of = seconds(args.as_of)
    out = sys.stdout
    count = 0
    with open(args.journeys, encoding="utf-8") as stream:
        for line in stream:
            out.write(json.dumps(decide(json.loads(line), as_of), separators=(",", ":")) + "\n")
            count += 1
    print(f"{count} leads evaluated", file=sys.stderr)


if __name__ == "__main__":
    main()
