"""English nouns for event names, with their plurals and articles:
`teammate_invited` is "a teammate invite" / "teammate invites",
`rfp_submitted` "an RFP submission", `email_reply` "email replies".

Event names are written as a noun (`page_view`, `demo_request`) or as a noun
and a past participle (`trial_started`, `sales_accepted`). A participle is
turned into the noun of its action ("started" -> "start", "accepted" ->
"acceptance") from a table; an unknown one keeps its words and gains
"event" ("a widget frobbed event"), so the phrase stays a countable noun.
Acronyms (RFP, ROI, API, ...) are written in capitals and take the article
of how they are spoken ("an RFP", "a CRM sync").

The vocabulary of event names is small and known, so this is a table and a
few rules rather than a general inflection library; tests/test_render.py
checks it over every event name in the shipped policies and scenarios."""

from __future__ import annotations

import functools
from dataclasses import dataclass

#: Past participles and the noun of their action.
ACTIONS = {
    "accepted": "acceptance",
    "added": "addition",
    "applied": "application",
    "approved": "approval",
    "attended": "attendance",
    "booked": "booking",
    "bounced": "bounce",
    "called": "call",
    "cancelled": "cancellation",
    "canceled": "cancellation",
    "churned": "churn",
    "clicked": "click",
    "closed": "close",
    "completed": "completion",
    "connected": "connection",
    "contacted": "contact",
    "converted": "conversion",
    "created": "creation",
    "deleted": "deletion",
    "downgraded": "downgrade",
    "downloaded": "download",
    "enabled": "enablement",
    "filled": "fill-in",
    "installed": "installation",
    "invited": "invite",
    "joined": "join",
    "launched": "launch",
    "logged": "log-in",
    "lost": "loss",
    "opened": "open",
    "paid": "payment",
    "purchased": "purchase",
    "qualified": "qualification",
    "registered": "registration",
    "rejected": "rejection",
    "renewed": "renewal",
    "replied": "reply",
    "requested": "request",
    "scanned": "scan",
    "scheduled": "booking",
    "sent": "sending",
    "shared": "share",
    "signed": "signature",
    "started": "start",
    "submitted": "submission",
    "subscribed": "subscription",
    "unsubscribed": "unsubscription",
    "upgraded": "upgrade",
    "uploaded": "upload",
    "used": "use",
    "viewed": "view",
    "visited": "visit",
    "watched": "viewing",
    "won": "win",
}

#: Words written in capitals.
ACRONYMS = frozenset(
    {
        "ae",
        "api",
        "b2b",
        "crm",
        "csv",
        "faq",
        "id",
        "mql",
        "nps",
        "pdf",
        "poc",
        "pql",
        "qbr",
        "rfi",
        "rfp",
        "rfq",
        "roi",
        "sdr",
        "sla",
        "sql",
        "sso",
        "url",
    }
)

#: Short forms written out.
ABBREVIATIONS = {"calc": "calculator", "info": "information", "signup": "sign-up"}

#: Two-word verbs and their noun: `signed_up` -> "sign-up".
PHRASAL = {
    ("checked", "out"): "checkout",
    ("logged", "in"): "log-in",
    ("opted", "in"): "opt-in",
    ("opted", "out"): "opt-out",
    ("signed", "in"): "sign-in",
    ("signed", "up"): "sign-up",
}

#: Plurals that no rule gives.
IRREGULAR = {
    "analysis": "analyses",
    "child": "children",
    "person": "people",
    "man": "men",
    "woman": "women",
    "criterion": "criteria",
    "datum": "data",
}

#: Nouns with no plural of their own ("two churn events").
UNCOUNTABLE = frozenset({"churn", "feedback", "information", "software", "research"})

# Vowel-initial words spoken with a "y" or "w" sound: "a use", "a one-off".
_SPOKEN_WITH_Y_OR_W = ("one", "once", "eu", "uni", "usa", "use", "usu", "uti", "ura", "ure", "uro")

# Letters whose spoken name starts with a vowel sound: "an RFP", "an SDR", "an MQL".
_VOWEL_LETTERS = frozenset("aefhilmnorsx")


@dataclass(frozen=True, slots=True)
class Noun:
    """An event as an English noun: ``singular`` ("teammate invite"),
    ``plural`` ("teammate invites") and ``article`` ("a")."""

    singular: str
    plural: str
    article: str

    def one(self) -> str:
        """With its article: "a teammate invite"."""
        return f"{self.article} {self.singular}"

    def count(self, amount: int) -> str:
        """ "1 teammate invite", "3 teammate invites"."""
        return f"{amount} {self.singular if amount == 1 else self.plural}"


def plural(noun: str) -> str:
    """The plural of one English noun (the last word of a phrase changes)."""
    head, _, last = noun.rpartition(" ")
    prefix = f"{head} " if head else ""
    lower = last.lower()
    if lower in IRREGULAR:
        return prefix + IRREGULAR[lower]
    if lower in UNCOUNTABLE:
        return f"{prefix}{last} events"
    if last.isupper():  # an acronym: RFPs
        return f"{prefix}{last}s"
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return f"{prefix}{last}es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return f"{prefix}{last[:-1]}ies"
    return f"{prefix}{last}s"


def article(phrase: str) -> str:
    """ "a" or "an", by how the first word is spoken."""
    word = phrase.split(" ", 1)[0].strip("\"'“(")
    if not word:
        return "a"
    if word.isupper() and len(word) > 1:  # an acronym, spoken letter by letter
        return "an" if word[0].lower() in _VOWEL_LETTERS else "a"
    lower = word.lower()
    if lower.startswith(("hour", "honest", "honor", "honour", "heir")):
        return "an"
    if lower.startswith(_SPOKEN_WITH_Y_OR_W):
        return "a"
    return "an" if lower[0] in "aeiou" else "a"


def _word(word: str) -> str:
    if word in ACRONYMS:
        return word.upper()
    return ABBREVIATIONS.get(word, word)


@functools.cache
def event_noun(name: str) -> Noun:
    """The English noun for the event ``name`` (an identifier)."""
    parts = [p for p in name.lower().split("_") if p]
    if not parts:
        return Noun(name, name, "a")
    if len(parts) >= 2 and (parts[-2], parts[-1]) in PHRASAL:
        parts[-2:] = [PHRASAL[(parts[-2], parts[-1])]]
    last = parts[-1]
    event_suffix = False
    if last in ACTIONS:
        parts[-1] = ACTIONS[last]
        if len(parts) == 1:  # a bare participle: "the signed event"
            event_suffix = parts[0] in UNCOUNTABLE
    elif last.endswith("ed") and len(last) > 3:
        event_suffix = True
    words = " ".join(_word(p) for p in parts)
    if event_suffix:
        singular = f"{words} event"
        many = f"{words} events"
    else:
        singular = words
        many = plural(words)
    return Noun(singular, many, article(singular))


__all__ = ["Noun", "article", "event_noun", "plural"]
