"""Generate Acme journeys for benchmarks (seeded, deterministic).

    python benchmarks/gen_acme_journeys.py --leads 100000 -o /tmp/acme.jsonl

About 30 events a lead over the 90 days before 2026-11-01, profiles drawn
from the policies/acme.mql schema with some fields missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random

AS_OF = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
EMAIL = ["corporate"] * 8 + ["personal"] * 3 + ["competitor"]
ROLES = [
    "security_engineer",
    "secops",
    "it_manager",
    "developer",
    "marketing",
    "finance",
    "student",
    "other",
]
SENIORITY = ["ic", "manager", "director", "vp", "c_level"]
INDUSTRY = [
    "fintech",
    "healthcare",
    "saas",
    "retail",
    "manufacturing",
    "education",
    "government",
    "media",
    "energy",
    "other",
]
REGION = ["na", "emea", "apac", "latam"]
STACK = ["aws", "gcp", "azure", "okta", "splunk", "crowdstrike"]
EVENTS = [
    ("page_view", 40),
    ("content_download", 8),
    ("newsletter_signup", 3),
    ("webinar_attended", 3),
    ("demo_request", 1),
    ("trial_started", 1),
    ("feature_used", 10),
    ("roi_calc_request", 1),
    ("unsubscribe", 1),
    ("email_click", 12),
    ("sales_accepted", 1),
    ("sales_rejected", 1),
]
PATHS = ["/pricing", "/pricing/enterprise", "/blog/zero-trust", "/docs", "/product", "/careers"]
KINDS = ["case_study", "comparison_guide", "checklist", "whitepaper", "ebook"]


def lead(rng: random.Random, number: int) -> dict[str, object]:
    profile: dict[str, object] = {}
    if rng.random() < 0.95:
        profile["email_kind"] = rng.choice(EMAIL)
    if rng.random() < 0.9:
        profile["role"] = rng.choice(ROLES)
    if rng.random() < 0.8:
        profile["seniority"] = rng.choice(SENIORITY)
    if rng.random() < 0.85:
        profile["company_size"] = int(rng.lognormvariate(5.5, 1.6))
    if rng.random() < 0.8:
        profile["industry"] = rng.choice(INDUSTRY)
    profile["region"] = rng.choice(REGION)
    profile["channel"] = rng.choice(["inbound", "inbound", "outbound"])
    profile["tech_stack"] = rng.sample(STACK, rng.randint(0, 3))
    names = [name for name, _ in EVENTS]
    weights = [weight for _, weight in EVENTS]
    events = []
    for _ in range(max(1, int(rng.gauss(30, 10)))):
        kind = rng.choices(names, weights)[0]
        at = AS_OF - dt.timedelta(seconds=rng.randint(0, 90 * 86400))
        event: dict[str, object] = {"type": kind, "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if kind == "page_view":
            event["path"] = rng.choice(PATHS)
        elif kind == "content_download":
            event["kind"] = rng.choice(KINDS)
        elif kind == "feature_used":
            event["feature"] = rng.choice(["policies", "alerts", "reports"])
        elif kind == "sales_rejected":
            event["reason"] = "no budget"
        events.append(event)
    return {
        "id": f"L-{number:07d}",
        "account": f"A-{number // 7:06d}",
        "profile": profile,
        "events": events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.output, "w", encoding="utf-8") as stream:
        for number in range(args.leads):
            stream.write(json.dumps(lead(rng, number), separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
