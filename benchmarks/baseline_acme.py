"""The hand-written baseline: policies/acme.mql evaluated by the best plain
Python we can write for that one policy, no framework. It writes the same
decisions as `mqldsl score` (SPEC §12: `entered`, the route and the policy
stamp included), byte for byte, so the benchmark also checks that both agree.

    python benchmarks/baseline_acme.py JOURNEYS.jsonl --as-of 2026-11-01T00:00:00Z > out.jsonl

How it is fast:
- typed decoding: msgspec structs with only the fields the policy reads (the
  others are skipped in C), instants parsed in C (datetime, then epoch seconds);
- the fit score depends on the profile only: computed once a lead;
- one sweep over the lead's change points (each event's arrival and the end
  of each window it counts in, sorted once), with running window counters
  (+1 at arrival, -1 when the window has passed), so intent at any instant is
  a few additions, never a rescan of the events;
- skipping what cannot matter: a competitor is disqualified at every
  instant (no sweep); when fit < 30 the intent counters are not kept (the
  only stage condition that reads intent cannot hold), when fit < 10 neither
  is the demo window, so the sweep visits only the "ever" events; the sweep stops at the first unsubscribe (disqualified from
  then on) and, after a sales acceptance, only looks for one;
- the decision written as bytes: constant parts encoded once, instants from
  cached day prefixes and tables of the minutes of a day and seconds of a minute;
- lines read through a 64 KB buffer (Python's 8 KB makes a 2 KB line cost twice as
  much), and no last garbage collection at exit (gc.freeze), as `mqldsl` does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import sys
from pathlib import Path

import msgspec
import orjson

DAY = 86400
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
# The policy every decision names (SPEC §12). policies/acme.mql is canonical
# (what `mqldsl fmt` writes), so the hash of its bytes is the policy's hash.
ACME = Path(__file__).resolve().parent.parent / "policies" / "acme.mql"
POLICY_TAIL = (
    b',"policy":'
    + orjson.dumps({"version": 4, "sha256": hashlib.sha256(ACME.read_bytes()).hexdigest()})
    + b"}\n"
)


class Profile(msgspec.Struct, gc=False):
    email_kind: str | None = None
    role: str | None = None
    seniority: str | None = None
    company_size: int | None = None
    industry: str | None = None
    region: str | None = None
    channel: str | None = None
    tech_stack: list[str] | None = None


class Event(msgspec.Struct, gc=False):
    type: str
    at: dt.datetime  # parsed and checked in C
    path: str | None = None
    kind: str | None = None


class Journey(msgspec.Struct, gc=False):
    id: str
    profile: Profile | None = None
    events: list[Event] | None = None


NO_PROFILE = Profile()

# ---------------------------------------------------------------- instants

_DAY_TEXT: dict[int, str] = {}
# "HH:MM:" of each minute of a day, "SSZ" of each second of a minute.
CLOCK = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
SECONDS = [f"{s:02d}Z" for s in range(60)]


def instant(value: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, as `mqldsl score` writes it."""
    whole = int(value)
    if whole != value:
        moment = EPOCH + dt.timedelta(seconds=value)
        text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment:%H:%M:%S}"
        if moment.microsecond:
            return f"{text}.{moment.microsecond:06d}".rstrip("0") + "Z"
        return text + "Z"
    days, rest = divmod(whole, DAY)
    prefix = _DAY_TEXT.get(days)
    if prefix is None:
        day = dt.date.fromordinal(EPOCH_ORDINAL + days)
        prefix = _DAY_TEXT[days] = f"{day.year:04d}-{day.month:02d}-{day.day:02d}T"
    minutes, secs = divmod(rest, 60)
    return prefix + CLOCK[minutes] + SECONDS[secs]


# ---------------------------------------------------------------- the policy

# Running counters, by index (START: the journey's first instant, no counter).
ANY30, PRICING14, VIEWS30, DOWNLOADS30, WEBINAR30, DEMO60, TRIAL30, FEATURES14, ROI60 = range(9)
NEWSLETTER, LEAD_EVER, SALES, UNSUBSCRIBE, START = range(9, 14)
W14, W30, W60 = 14 * DAY, 30 * DAY, 60 * DAY
# Per event type: the window counters its arrival raises, with their windows.
WINDOWED = {
    "webinar_attended": (WEBINAR30, W30),
    "demo_request": (DEMO60, W60),
    "trial_started": (TRIAL30, W30),
    "feature_used": (FEATURES14, W14),
    "roi_calc_request": (ROI60, W60),
}
# Per event type: the "ever" flag its arrival sets.
EVER = {
    "newsletter_signup": NEWSLETTER,
    "content_download": LEAD_EVER,
    "trial_started": LEAD_EVER,
    "sales_accepted": SALES,
    "unsubscribe": UNSUBSCRIBE,
}
ROLE_FIT = {"security_engineer": 15, "secops": 15, "it_manager": 5}


def fit_of(p: Profile) -> int:
    fit = 0
    size = p.company_size
    if size is not None:
        if 200 <= size <= 5000:
            fit += 20
        elif 50 <= size <= 199:
            fit += 10
    if p.role is not None:
        fit += ROLE_FIT.get(p.role, 0)
    if p.seniority in ("director", "vp", "c_level"):
        fit += 10
    if p.industry in ("fintech", "healthcare", "saas"):
        fit += 10
    if p.region in ("na", "emea"):
        fit += 5
    if p.tech_stack is not None and "aws" in p.tech_stack:
        fit += 5
    if p.email_kind == "personal":
        fit -= 30
    elif p.email_kind == "competitor":
        fit -= 100
    return fit


def intent_of(c: list[int]) -> int:
    pricing, views, downloads, features = c[PRICING14], c[VIEWS30], c[DOWNLOADS30], c[FEATURES14]
    return (
        (20 if pricing >= 4 else 5 * pricing)
        + (10 if views >= 5 else 2 * views)
        + (20 if downloads >= 2 else 10 * downloads)
        + (15 if c[WEBINAR30] else 0)
        + (30 if c[DEMO60] else 0)
        + (25 if c[TRIAL30] else 0)
        + (20 if features >= 4 else 5 * features)
        + (20 if c[ROI60] else 0)
        + (0 if c[ANY30] else -20)
    )


def intent_at(events: list[tuple[float, Event]], t: float) -> int:
    """Intent at ``t`` from the events up to ``t``, in one pass."""
    c = [0] * 9
    for at, e in events:
        age = t - at
        if age >= W60:
            continue
        kind = e.type
        if age < W30:
            c[ANY30] = 1
        if kind == "page_view":
            if age < W30:
                c[VIEWS30] += 1
                if age < W14 and e.path is not None and e.path.startswith("/pricing"):
                    c[PRICING14] += 1
        elif kind == "content_download":
            if age < W30 and e.kind in ("case_study", "comparison_guide"):
                c[DOWNLOADS30] += 1
        else:
            windowed = WINDOWED.get(kind)
            if windowed is not None and age < windowed[1]:
                c[windowed[0]] += 1
    return intent_of(c)


def changes_of(
    events: list[tuple[float, Event]], as_of: float, intent: bool, demo: bool
) -> list[tuple[float, int, int]]:
    """(instant, counter, +1 or -1), sorted: each arrival and each window's end up to
    ``as_of`` of what the stage conditions read (the intent counters only when
    ``intent``, the demo window only when ``demo``), and the journey's start."""
    changes: list[tuple[float, int, int]] = []
    add = changes.append
    for at, e in events:
        kind = e.type
        if intent:
            add((at, ANY30, 1))
            if at + W30 <= as_of:
                add((at + W30, ANY30, -1))
            if kind == "page_view":
                add((at, VIEWS30, 1))
                if at + W30 <= as_of:
                    add((at + W30, VIEWS30, -1))
                if e.path is not None and e.path.startswith("/pricing"):
                    add((at, PRICING14, 1))
                    if at + W14 <= as_of:
                        add((at + W14, PRICING14, -1))
                continue
            if kind == "content_download" and e.kind in ("case_study", "comparison_guide"):
                add((at, DOWNLOADS30, 1))
                if at + W30 <= as_of:
                    add((at + W30, DOWNLOADS30, -1))
            windowed = WINDOWED.get(kind)
            if windowed is not None:
                counter, window = windowed
                add((at, counter, 1))
                if at + window <= as_of:
                    add((at + window, counter, -1))
        elif demo and kind == "demo_request":
            add((at, DEMO60, 1))
            if at + W60 <= as_of:
                add((at + W60, DEMO60, -1))
        ever = EVER.get(kind)
        if ever is not None:
            add((at, ever, 1))
    if not intent:
        add((min(at for at, _ in events), START, 0))
    changes.sort()
    return changes


def history(changes: list[tuple[float, int, int]], fit: int) -> tuple[str, dict[str, float]]:
    """The stage at the last change and the instant each stage was last entered (in
    time order): one sweep, the counters moved at each change point."""
    c = [0] * 14
    entered: dict[str, float] = {}
    label = ""
    reads_intent = fit >= 30
    reads_demo = fit >= 10
    n = len(changes)
    i = 0
    while i < n:
        t = changes[i][0]
        while True:
            _, counter, delta = changes[i]
            c[counter] += delta
            i += 1
            if i == n or changes[i][0] != t:
                break
        if c[UNSUBSCRIBE]:
            stage = "disqualified"
        elif c[SALES]:
            stage = "sql"
        elif (reads_demo and c[DEMO60]) or (reads_intent and intent_of(c) >= 40):
            stage = "mql"
        elif c[LEAD_EVER]:
            stage = "lead"
        elif c[NEWSLETTER]:
            stage = "subscriber"
        else:
            stage = "visitor"
        if stage == label:
            continue
        entered.pop(stage, None)  # keep the entries in time order
        entered[stage] = t
        label = stage
        if stage == "disqualified":  # for ever
            break
        if stage == "sql":  # until an unsubscribe: the rest cannot matter
            for j in range(i, n):
                if changes[j][1] == UNSUBSCRIBE:
                    entered["disqualified"] = changes[j][0]
                    label = "disqualified"
                    break
            break
    return label, entered


def decide(lead: Journey, as_of: float) -> bytes:
    p = lead.profile or NO_PROFILE
    fit = fit_of(p)
    events = [(at, e) for e in lead.events or () if (at := e.at.timestamp()) <= as_of]
    if p.email_kind == "competitor":  # disqualified at every instant
        label = "disqualified"
        entered = {label: min(at for at, _ in events) if events else as_of}
        if any(e.type == "unsubscribe" for _, e in events):
            reasons = b'["Competitor","Unsubscribed"]'
        else:
            reasons = b'["Competitor"]'
    else:
        if events:
            changes = changes_of(events, as_of, intent=fit >= 30, demo=fit >= 10)
            label, entered = history(changes, fit)
        else:
            label, entered = "visitor", {"visitor": as_of}
        # Unsubscribed is the one disqualifier left, and disqualified for ever.
        reasons = b'["Unsubscribed"]' if label == "disqualified" else b"[]"
    route = b"null"
    # The route's `entered` is its handoff instant: the entry into the stage (acme has no
    # hot-event routes).
    if label == "mql":
        due = instant(entered["mql"] + (300 if p.channel == "inbound" else DAY)).encode()
        at = instant(entered["mql"]).encode()
        if p.channel == "inbound":
            route = b'{"queue":"sdr_inbound","sla":"5 minutes","due":"%s","entered":"%s"}' % (
                due,
                at,
            )
        else:
            route = b'{"queue":"sdr_outbound","sla":"1 day","due":"%s","entered":"%s"}' % (due, at)
    elif label == "sql":
        due = instant(entered["sql"] + DAY).encode()
        at = instant(entered["sql"]).encode()
        route = b'{"queue":"account_exec","sla":"1 day","due":"%s","entered":"%s"}' % (due, at)
    text = ",".join(f'"{stage}":"{instant(at)}"' for stage, at in entered.items())
    return b"".join(
        (
            b'{"id":',
            orjson.dumps(lead.id),
            b',"as_of":"%s","stage":"%s","scores":{"fit":%d,"intent":%d},"disqualified":'
            % (instant(as_of).encode(), label.encode(), fit, intent_at(events, as_of)),
            reasons,
            b',"route":',
            route,
            b',"entered":{',
            text.encode(),
            b"}",
            POLICY_TAIL,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("journeys")
    parser.add_argument("--as-of", required=True)
    args = parser.parse_args()
    as_of = dt.datetime.fromisoformat(args.as_of).timestamp()
    decode = msgspec.json.Decoder(Journey).decode
    out = sys.stdout.buffer
    count = 0
    batch: list[bytes] = []
    with open(args.journeys, "rb", buffering=1 << 16) as stream:  # (8 KB: slower lines)
        for line in stream:
            batch.append(decide(decode(line), as_of))
            count += 1
            if len(batch) == 1000:
                out.write(b"".join(batch))
                batch.clear()
    out.write(b"".join(batch))
    print(f"{count} leads evaluated", file=sys.stderr)
    gc.freeze()  # no last collection at exit (as `mqldsl` does)


if __name__ == "__main__":
    main()
