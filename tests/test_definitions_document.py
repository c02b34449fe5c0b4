"""The definitions document (`mqldsl docs`) reads as a wiki page: events as
English nouns, the policy's own words (descriptions) instead of identifiers,
one way of writing negative numbers, examples grouped by what they expect,
a lifecycle diagram with `disqualified` and labelled recycle arcs, and a
what-if section whose figures are the report's."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from mqldsl.render.grammar import article, event_noun, plural

from .conftest import ROOT
from .helpers import run

POLICIES = sorted((ROOT / "policies").glob("*.mql"))
ACME = ROOT / "policies" / "acme.mql"
SAAS = ROOT / "policies" / "saas_trial.mql"

# ---------------------------------------------------------------- event nouns

#: Every event name of the shipped policies and scenarios: (with its article, plural).
EVENT_NOUNS = {
    "content_download": ("a content download", "content downloads"),
    "demo_request": ("a demo request", "demo requests"),
    "email_click": ("an email click", "email clicks"),
    "email_reply": ("an email reply", "email replies"),
    "event_booth_scan": ("an event booth scan", "event booth scans"),
    "executive_briefing_request": (
        "an executive briefing request",
        "executive briefing requests",
    ),
    "feature_used": ("a feature use", "feature uses"),
    "first_contact": ("a first contact", "first contacts"),
    "integration_connected": ("an integration connection", "integration connections"),
    "meeting_booked": ("a meeting booking", "meeting bookings"),
    "newsletter_signup": ("a newsletter sign-up", "newsletter sign-ups"),
    "page_view": ("a page view", "page views"),
    "pricing_call": ("a pricing call", "pricing calls"),
    "pricing_view": ("a pricing view", "pricing views"),
    "rfp_submitted": ("an RFP submission", "RFP submissions"),
    "roi_calc_request": ("an ROI calculator request", "ROI calculator requests"),
    "sales_accepted": ("a sales acceptance", "sales acceptances"),
    "sales_contact_request": ("a sales contact request", "sales contact requests"),
    "sales_rejected": ("a sales rejection", "sales rejections"),
    "signup": ("a sign-up", "sign-ups"),
    "teammate_invited": ("a teammate invite", "teammate invites"),
    "trial_started": ("a trial start", "trial starts"),
    "unsubscribe": ("an unsubscribe", "unsubscribes"),
    "webinar_attended": ("a webinar attendance", "webinar attendances"),
    "whitepaper_download": ("a whitepaper download", "whitepaper downloads"),
    "workspace_created": ("a workspace creation", "workspace creations"),
}


def shipped_event_names() -> set[str]:
    names = set()
    for policy in POLICIES:
        names |= set(re.findall(r"^event (\w+)", policy.read_text(), re.MULTILINE))
    for scenario in (ROOT / "simulations").glob("*.toml"):
        data = tomllib.loads(scenario.read_text())
        names |= set(data.get("event_fields", {}))
        for persona in data.get("personas", {}).values():
            for state in persona.get("events", {}).values():
                names |= set(state)
    return names


def test_the_table_covers_every_shipped_event_name() -> None:
    assert shipped_event_names() == set(EVENT_NOUNS)


@pytest.mark.parametrize(("name", "forms"), sorted(EVENT_NOUNS.items()))
def test_event_names_as_english_nouns(name: str, forms: tuple[str, str]) -> None:
    noun = event_noun(name)
    assert (noun.one(), noun.plural) == forms
    assert noun.count(1) == "1 " + forms[0].split(" ", 1)[1]
    assert noun.count(3) == "3 " + forms[1]


@pytest.mark.parametrize(
    ("name", "one", "many"),
    [
        ("signed_up", "a sign-up", "sign-ups"),
        ("opted_out", "an opt-out", "opt-outs"),
        ("churned", "a churn event", "churn events"),  # no plural of its own
        ("widget_frobbed", "a widget frobbed event", "widget frobbed events"),  # unknown participle
        ("usage_alert", "a usage alert", "usage alerts"),
        ("hour_logged", "an hour log-in", "hour log-ins"),
        ("sso_enabled", "an SSO enablement", "SSO enablements"),
        ("crm_sync", "a CRM sync", "CRM syncs"),
        ("case_study_download", "a case study download", "case study downloads"),
        ("user_invited", "a user invite", "user invites"),
        ("api_key_created", "an API key creation", "API key creations"),
        ("analysis", "an analysis", "analyses"),
        ("person_added", "a person addition", "person additions"),
    ],
)
def test_irregular_and_multi_word_event_names(name: str, one: str, many: str) -> None:
    noun = event_noun(name)
    assert (noun.one(), noun.plural) == (one, many)


@pytest.mark.parametrize(
    ("noun", "many"),
    [
        ("search", "searches"),
        ("box", "boxes"),
        ("inquiry", "inquiries"),
        ("day", "days"),
        ("person", "people"),
        ("child", "children"),
        ("demo", "demos"),
        ("RFP", "RFPs"),
        ("sales reply", "sales replies"),
    ],
)
def test_plurals(noun: str, many: str) -> None:
    assert plural(noun) == many


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("hour", "an"),
        ("honest call", "an"),
        ("use", "a"),
        ("user invite", "a"),
        ("unsubscribe", "an"),
        ("European lead", "a"),
        ("one-off", "a"),
        ("MQL", "an"),
        ("SQL", "an"),
        ("CRM", "a"),
        ("RFP", "an"),
        ("event", "an"),
        ("page", "a"),
    ],
)
def test_articles(phrase: str, expected: str) -> None:
    assert article(phrase) == expected


def test_counts_read_as_english_in_the_document() -> None:
    code, text, _ = run("docs", str(SAAS))
    assert code == 0
    assert "the number of teammate invites in the last 14 days is at least 3" in text
    assert "inviteds" not in text and "teammate invited" not in text
    # every event of every shipped policy appears as its noun, never as "<name>s"
    for policy in POLICIES:
        code, text, _ = run("docs", str(policy))
        assert code == 0
        for name in re.findall(r"^event (\w+)", policy.read_text(), re.MULTILINE):
            assert f"| {EVENT_NOUNS[name][0].split(' ', 1)[1]} (`{name}`) |" in text
            naive = name.replace("_", " ") + "s"
            if EVENT_NOUNS[name][1] != naive:  # "page views" is right; "teammate inviteds" not
                assert naive + " " not in text


# ---------------------------------------------------------------- the policy's words


def _described(text: str, keyword: str) -> dict[str, str]:
    """``keyword NAME "DESCRIPTION"`` declarations read from the policy text."""
    return dict(re.findall(rf'^{keyword} (\w+)(?: = \S+)? "([^"]+)"', text, re.MULTILINE))


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
def test_descriptions_replace_generated_phrases(policy: Path) -> None:
    source = policy.read_text()
    code, text, _ = run("docs", str(policy))
    assert code == 0
    events = _described(source, "event")
    for name, description in events.items():
        noun = EVENT_NOUNS[name][0].split(" ", 1)[1]
        assert f"| {noun} (`{name}`) | {description} |" in text  # the events table
        assert f"at least one {noun}" not in text  # never the generated phrase
        if re.search(rf"when[^\n]*\b{name} (within|ever)", source):
            assert re.search(rf"“{re.escape(description)}” [^|]*\(`{name}`\)", text), name
    params = _described(source, "param")
    for name, description in params.items():
        value = re.search(rf"^param {name} = (\S+)", source, re.MULTILINE)
        assert value is not None
        if re.search(rf"(>=|<=|>|<|==) {name}\b", source):
            assert f"{value.group(1)} (“{description}”, param `{name}`)" in text
    # stages and queues: the stage's words with the identifier in code font
    stages = dict(re.findall(r'^  (\w+) "([^"]+)"', source, re.MULTILINE))
    for stage, queue in re.findall(r"^route (\w+) to (\w+)", source, re.MULTILINE):
        assert re.search(rf"\| “{re.escape(stages[stage])}” \(`{stage}`\) \| `{queue}` \|", text)


def test_diff_compares_rules_not_descriptions(tmp_path: Path) -> None:
    """`diff` shares the English; a changed description is no change in meaning, but the
    documents show it, so it is listed (as reworded)."""
    new = tmp_path / "new.mql"
    new.write_text(
        ACME.read_text()
        .replace('"Asked for a demo on the website"', '"Asked for a demo"')
        .replace('"Lowest fit score an MQL may have"', '"Fit floor"')
    )
    code, out, _ = run("diff", str(ACME), str(new))
    assert (code, out.splitlines()) == (
        0,
        [
            "event demo_request description: Asked for a demo on the website → Asked for a demo",
            "param mql_fit_min description: Lowest fit score an MQL may have → Fit floor",
            "no change in meaning: only descriptions changed",
        ],
    )
    code, out, _ = run("diff", str(ACME), str(new), "--format", "json")
    assert [c["kind"] for c in json.loads(out)] == ["reworded", "reworded"]


# ---------------------------------------------------------------- negative numbers


@pytest.mark.parametrize("kind", ["md", "html"])
def test_negative_numbers_are_written_one_way(tmp_path: Path, kind: str) -> None:
    for policy in POLICIES:
        out = tmp_path / f"{policy.stem}.{kind}"
        assert run("docs", str(policy), "-o", str(out))[0] == 0
        text = out.read_text()
        assert "\u2212" not in text, policy  # no typographic minus anywhere
        source = policy.read_text()
        for points in re.findall(r"^\s+-(\d+) (?:when|per)", source, re.MULTILINE):
            cell = f"| -{points} |" if kind == "md" else f"<td>-{points}</td>"
            assert cell in text, (policy, points)
        # expectations in text: "intent is -20" as the example writes it
        for score, value in re.findall(r"expect (\w+) == -(\d+)", source):
            assert f"{score} is -{value}" in text


# ---------------------------------------------------------------- examples


def _examples(source: str) -> list[tuple[str, str]]:
    """(name, group) of each example, by what it expects: a stage at or after
    `mql` (or, with no stage, a route) is accepted; disqualified or an
    earlier stage is rejected."""
    stages_block = re.search(r"^stages[^{]*\{(.*?)^\}", source, re.MULTILINE | re.DOTALL)
    assert stages_block is not None
    order = re.findall(r"^  (\w+)", stages_block.group(1), re.MULTILINE)
    result = []
    for name, body in re.findall(
        r'^example "([^"]+)"[^{]*\{(.*?)^\}', source, re.MULTILINE | re.DOTALL
    ):
        stage = re.search(r"expect stage (\w+)", body)
        if "expect disqualified" in body:
            group = "rejected"
        elif stage:
            group = "accepted" if order.index(stage.group(1)) >= order.index("mql") else "rejected"
        elif "expect route" in body:
            group = "accepted"
        else:
            group = "other"
        result.append((name, group))
    return result


def _groups(text: str, kind: str) -> dict[str, list[str]]:
    """The example names under each group heading of a rendered document."""
    section = text[text.index("Accepted and rejected leads") :]
    if kind == "md":
        parts = re.split(
            r"^### (Accepted leads|Rejected leads|Other examples.*)$", section, flags=re.M
        )
        names = lambda body: re.findall(r"^#### (.+)$", body, re.MULTILINE)  # noqa: E731
    else:
        parts = re.split(
            r'<h3 id="\w+">(Accepted leads|Rejected leads|Other examples[^<]*)</h3>', section
        )
        names = lambda body: re.findall(r"<h4>(.+?)</h4>", body)  # noqa: E731
    return {
        title.split()[0].lower(): [n.replace("&#39;", "'") for n in names(body)]
        for title, body in zip(parts[1::2], parts[2::2], strict=True)
    }


@pytest.mark.parametrize("kind", ["md", "html"])
@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
def test_examples_are_grouped_by_what_they_expect(tmp_path: Path, policy: Path, kind: str) -> None:
    out = tmp_path / f"doc.{kind}"
    assert run("docs", str(policy), "-o", str(out))[0] == 0
    text = out.read_text()
    expected: dict[str, list[str]] = {"accepted": [], "rejected": []}
    for name, group in _examples(policy.read_text()):
        expected.setdefault(group, []).append(name)
    assert _groups(text, kind) == expected
    assert "✓" not in text and "✗" not in text
    # the check mark says what it means, apart from accepted/rejected
    assert "The current rules agree" in text or "“The current rules agree”" in text
    assert "still give exactly what the example expects" in text
    assert text.count("Check: the current rules agree.") == sum(map(len, expected.values()))


def test_an_example_the_rules_no_longer_agree_with_stays_in_its_group(tmp_path: Path) -> None:
    changed = tmp_path / "acme.mql"
    # the demo request no longer makes an MQL: the example still expects one
    changed.write_text(ACME.read_text().replace("and fit >= 10", "and fit >= 90"))
    code, text, _ = run("docs", str(changed))
    assert code == 0
    groups = _groups(text, "md")
    assert "A demo request from a fitting account is an MQL" in groups["accepted"]
    block = text[text.index("#### A demo request from a fitting account") :]
    block = block[: block.index("\n####")]
    assert "- Check: **the current rules disagree**: expected stage mql, got stage visitor" in block


# ---------------------------------------------------------------- lifecycle diagram


def _mermaid(text: str) -> str:
    return text[text.index("```mermaid\n") : text.index("```\n", text.index("```mermaid") + 3)]


def test_mermaid_shows_disqualified_and_each_recycle_with_its_condition(tmp_path: Path) -> None:
    two = tmp_path / "two.mql"
    two.write_text(
        SAAS.read_text().replace(
            "recycle mql to trial when no event within quiet_period "
            '"Went cold: back to the trial nurture"',
            "recycle mql to trial when no event within quiet_period\n"
            "recycle sql to trial when no feature_used within 60 days",
        )
    )
    code, text, _ = run("docs", str(two))
    assert code == 0
    chart = _mermaid(text)
    assert 'dq(["disqualified: Student or education; Unsubscribed"])' in chart
    assert "funnel -. " in chart and " .-> dq" in chart
    arcs = re.findall(r"^  s(\d) -\. \"(.+)\" \.-> s(\d)$", chart, re.MULTILINE)
    assert arcs == [
        ("4", "recycle when no activity in the last 30 days (param quiet_period)", "3"),
        ("5", "recycle when no feature use in the last 60 days", "3"),
    ]
    # the HTML diagram: the same state, the same labels, the stage descriptions
    page = tmp_path / "two.html"
    assert run("docs", str(two), "-o", str(page))[0] == 0
    svg = page.read_text()
    svg = svg[svg.index("<svg") : svg.index("</svg>")]
    assert ">disqualified</text>" in svg and ">Student or education; Unsubscribed</text>" in svg
    assert ">recycle when no activity in the last 30 days (param `quiet_period`)</text>" in svg
    assert ">recycle when no feature use in the last 60 days</text>" in svg
    for description in ("Has a free account", "Trying the paid features", "Sales qualified"):
        assert f">{description}</text>" in svg
    assert svg.count("<path d=") >= 2 + 2 + 1  # two markers, two arcs, the bracket


def test_no_disqualified_state_without_disqualifiers() -> None:
    olist = ROOT / "policies" / "olist.mql"
    assert "disqualify" not in olist.read_text()
    code, text, _ = run("docs", str(olist))
    assert code == 0
    assert "disqualified" not in _mermaid(text) and "subgraph" not in _mermaid(text)


# ---------------------------------------------------------------- the simulation section

LABELS = {
    "mqls": "MQLs",
    "mql_precision": "MQL precision",
    "buyer_recall": "buyer recall",
    "sqls": "SQLs",
    "mql_to_sql": "MQL to SQL",
    "sla_met": "SLA met",
    "median_hours_to_first_touch": "median hours to first touch",
}


def _figure(value: float | int | None) -> str:
    """A figure as the document must show it: four significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _row(delta: dict[str, object], label: str, prediction: bool) -> list[str]:
    diff = delta["diff"]
    assert isinstance(diff, float | int)
    change = ("+" if diff > 0 else "") + _figure(diff) + f" ({delta['diff_pct']:+.1f}%)"
    ci = delta["ci95"]
    assert isinstance(ci, list)
    row = [label, _figure(delta["base"]), _figure(delta["proposed"]), change]  # type: ignore[arg-type]
    row.append(f"[{_figure(ci[0])} to {_figure(ci[1])}]")
    if prediction:
        pi = delta["pi95"]
        assert isinstance(pi, list)
        row.append(f"[{_figure(pi[0])} to {_figure(pi[1])}]")
    return row


@pytest.fixture(scope="module")
def whatif_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whatif") / "report.json"
    code, _, err = run(
        "whatif", str(ACME), "--set", "mql_intent_min=50",
        "--scenario", str(ROOT / "simulations" / "acme.toml"),
        "--leads", "300", "--replications", "2", "-o", str(path),
    )  # fmt: skip
    assert code == 0, err
    return path


@pytest.mark.parametrize("kind", ["md", "html"])
def test_whatif_section_shows_base_proposed_change_and_intervals(
    tmp_path: Path, whatif_report: Path, kind: str
) -> None:
    report = json.loads(whatif_report.read_text())
    out = tmp_path / f"doc.{kind}"
    code, _, err = run("docs", str(ACME), "--simulation", str(whatif_report), "-o", str(out))
    assert code == 0, err
    text = out.read_text()
    section = text[text.index("Simulation: what the proposed change does") :]
    for name, label in LABELS.items():
        cells = _row(report["delta"][name], label, prediction=True)
        if kind == "md":
            assert "| " + " | ".join(cells) + " |" in section, cells
        else:
            assert "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>" in section, cells
    header = ["metric", "base", "proposed", "change", "95% CI of the mean", "one quarter (95%)"]
    if kind == "md":
        assert "| " + " | ".join(header) + " |" in section
    # where the numbers come from: the scenario the report names
    data = report["data"]
    source = (
        f"Where the numbers come from: the synthetic scenario "
        f"{'`' if kind == 'md' else '<code>'}{data['scenario']}"
    )
    assert source in section
    assert f"{data['replications']} replications from seed {data['seed']}" in section
    assert f"{data['leads']} leads in replication 1, as of {data['as_of']}" in section
    assert "not measured outcomes" in section
    assert "param mql_intent_min: 40 → 50" in section
    assert "\u2212" not in text  # negative figures with the same minus as the rules


def test_whatif_over_journeys_names_them_and_its_bootstrap_interval(
    tmp_path: Path, whatif_report: Path
) -> None:
    report = json.loads(whatif_report.read_text())
    report["data"] |= {
        "scenario": None,
        "journeys": "leads.jsonl",
        "replications": None,
        "intervals": {"method": "bootstrap", "draws": 1000, "resampled": "leads"},
    }
    for delta in report["delta"].values():
        delta.pop("pi95", None)
    path = tmp_path / "journeys.json"
    path.write_text(json.dumps(report))
    code, text, err = run("docs", str(ACME), "--simulation", str(path))
    assert code == 0, err
    section = text[text.index("## Simulation") :]
    assert "the journeys in `leads.jsonl` (300 leads, as of " in section
    assert "| metric | base | proposed | change | 95% interval |" in section
    assert "one quarter" not in section and "synthetic" not in section
    for name, label in LABELS.items():
        assert "| " + " | ".join(_row(report["delta"][name], label, False)) + " |" in section


def test_simulate_report_section_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "simulate.json"
    scenario = str(ROOT / "simulations" / "acme.toml")
    assert (
        run("simulate", str(ACME), "--scenario", scenario, "--leads", "200", "-o", str(path))[0]
        == 0
    )
    report = json.loads(path.read_text())
    code, text, err = run("docs", str(ACME), "--simulation", str(path))
    assert code == 0, err
    section = text[text.index("## Simulation") :]
    for name, label in LABELS.items():
        assert f"| {label} | {_figure(report['metrics'][name])} |" in section
    assert f"a synthetic scenario ({report['leads']} leads as of {report['as_of']})" in section


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (
            "<!DOCTYPE html>\n<html><body>What-if</body></html>\n",
            "not a JSON report (an HTML page)",
        ),
        ("# What-if\n\n| metric | base |\n", "not a JSON report (Markdown or text)"),
        ('{"delta": ', "not a JSON report (broken JSON: Expecting value at line 1, column 11)"),
        ('{"rows": [], "params": ["x"]}', "a JSON file, but not a simulate or what-if report"),
        ("[1, 2]", "a JSON file, but not a simulate or what-if report"),
    ],
)
def test_a_file_that_is_not_a_report_is_a_clean_error(
    tmp_path: Path, content: str, what: str
) -> None:
    path = tmp_path / "report.html"
    path.write_text(content)
    code, out, err = run("docs", str(ACME), "--simulation", str(path))
    assert code == 1 and out == ""
    assert err.startswith(f"{path}: {what}")
    assert "mqldsl whatif BASE PROPOSED --scenario S -o report.json" in err
    assert "Traceback" not in err and "Expecting value: line 1 column 1" not in err


def test_groups_without_an_mql_stage_and_for_scores_only_examples(tmp_path: Path) -> None:
    from mqldsl.analysis.checker import check_text
    from mqldsl.render.document import example_group, mql_stage

    text = (
        'policy "g"\neffective 2026-12-01\nevent demo_request\n'
        "score intent {\n  +30 when demo_request within 60 days\n}\n"
        "stages {\n  known\n  pql when intent >= 30\n  won when intent >= 60\n}\n"
        "route pql to sdr\n"
        'example "scores only" {\n  expect intent == 0\n}\n'
        'example "routed" {\n  demo_request at -1 day\n  expect route sdr\n}\n'
        'example "known" {\n  expect stage known\n}\n'
        'example "won" {\n  expect stage won\n}\n'
    )
    model = check_text(text).model
    assert model is not None
    assert mql_stage(model) == "pql"  # no `mql`: the first stage with a route
    groups = {e.name: example_group(model, e) for e in model.examples}
    assert groups == {
        "scores only": "other",
        "routed": "accepted",
        "known": "rejected",
        "won": "accepted",
    }
    path = tmp_path / "g.mql"
    path.write_text(text)
    code, doc, _ = run("docs", str(path))
    assert code == 0
    assert _groups(doc, "md") == {
        "accepted": ["routed", "won"],
        "rejected": ["known"],
        "other": ["scores only"],
    }


def test_a_report_of_another_text_of_the_policy_is_noted(tmp_path: Path) -> None:
    # Same title, another rule: the report names the hash decisions carry, so the document
    # can tell the two texts apart.
    report = tmp_path / "sim.json"
    scenario = str(ROOT / "simulations" / "acme.toml")
    code, _, err = run(
        "simulate", str(ACME), "--scenario", scenario, "--leads", "200", "-o", str(report)
    )
    assert code == 0, err
    data = json.loads(report.read_text())
    assert len(data["policy"]["sha256"]) == 64
    edited = tmp_path / "acme.mql"
    edited.write_text(ACME.read_text().replace("param mql_fit_min = 30", "param mql_fit_min = 35"))
    code, out, err = run("docs", str(edited), "--simulation", str(report))
    assert code == 0, err
    assert "this report is of another text of this policy" in out
    code, out, err = run("docs", str(ACME), "--simulation", str(report))
    assert code == 0, err
    assert "another text" not in out


HOSTILE = """policy "<script>alert(1)</script> `a<b`"
owner "<b>ops</b>"
effective 2026-11-01
about "<img src=x onerror=alert(2)>"
lead {
  role: enum(a, b)
}
event ev
score s "<i>why</i>" {
  +1 when ev ever
}
stages {
  v "<u>start</u>"
  m when s >= 1 and role == a
}
example "<x>|" {
  lead { role: a }
  expect stage v
}
"""


def test_a_policys_words_open_no_html_tag_in_the_markdown(tmp_path: Path) -> None:
    # Table cells were escaped; the title, owner, about, descriptions and example names
    # too (a Markdown viewer would run them as HTML). Code spans keep their text.
    policy = tmp_path / "p.mql"
    policy.write_text(HOSTILE)
    code, out, err = run("docs", str(policy))
    assert code == 0, err
    prose = re.sub(r"`[^`\n]*`", "", out)
    assert re.search(r"<[a-z/]", prose) is None, [
        line for line in prose.splitlines() if "<" in line
    ]
    assert out.startswith("# &lt;script>alert(1)&lt;/script> `a<b`\n")
    for text in ("&lt;img src=x", "Owner: &lt;b>ops&lt;/b>", "#### &lt;x>|", "— &lt;i>why&lt;/i>"):
        assert text in out, text


MARKUP = '''policy "*Big* [deal](http://x)"
owner "[ops](http://evil) R&amp;D"
about """
# Not a heading
> not a quote
a \\\\ b and _under_ and snake_case
Why this policy
---------------
1986. The year ~~struck~~
- not a list
"""
lead {
  note: text
}
stages {
  v "[x](y)"
  m when note contains "a*b*c"
}
'''


def test_a_policys_words_make_no_markdown_markup(tmp_path: Path) -> None:
    """The Markdown page shows a policy's words as the HTML page does: no emphasis, link,
    heading or quotation made of them (each markup character escaped, so a viewer shows it)."""
    policy = tmp_path / "p.mql"
    policy.write_text(MARKUP)
    code, out, err = run("docs", str(policy))
    assert code == 0, err
    assert out.startswith("# \\*Big\\* \\[deal\\](http://x)\n")
    assert "Owner: \\[ops\\](http://evil) R&amp;amp;D" in out
    assert "\\# Not a heading\n\\> not a quote\na \\\\ b and \\_under\\_ and snake_case" in out
    assert (
        "Why this policy\n\\---------------\n1986\\. The year \\~\\~struck\\~\\~\n\\- not a list"
        in out
    )
    assert "\\[x\\](y)" in out
    assert '"a\\*b\\*c"' in out
    lines = out.splitlines()
    assert not any(line.startswith(("# Not", "> not")) for line in lines)


def test_the_data_section_gives_each_fields_type_and_description(tmp_path: Path) -> None:
    """A rule's numbers need their units: the fields' descriptions (lead, account and event
    fields) are on the page, with their types in words."""
    abm = ACME.parent / "abm.mql"
    code, out, err = run("docs", str(abm))
    assert code == 0, err
    assert "| account field | type | what it is |" in out
    assert (
        "| tier (`tier`) | one of strategic, enterprise, commercial | Account tier set by sales |"
        in out
    )
    assert "| target (`target`) | yes or no | On the named-account list |" in out
    code, out, err = run("docs", str(ACME))
    assert "| company size (`company_size`) | whole number | Employees, from enrichment |" in out
    assert "| tech stack (`tech_stack`) | a set of texts |  |" in out
    policy = tmp_path / "p.mql"
    policy.write_text(
        'policy "p"\nevent session { minutes: number "Minutes of active use" }\nstages {\n  v\n}\n'
    )
    code, out, err = run("docs", str(policy))
    assert code == 0, err
    assert "The policy declares no lead fields." in out
    assert "| minutes (Minutes of active use) |" in out
    code, _, err = run("docs", str(policy), "-o", str(tmp_path / "p.html"))
    assert code == 0, err
    page = (tmp_path / "p.html").read_text()
    assert "<p>The policy declares no lead fields.</p>" in page
    assert "minutes (Minutes of active use)" in page


def test_an_example_says_its_moment_and_its_colleagues_fields() -> None:
    code, out, err = run("docs", str(ACME.parent / "abm.mql"))
    assert code == 0, err
    start = out.index("#### A free email never qualifies")
    end = out.find("\n#", start + 1)
    block = out[start : end if end > 0 else None]
    assert "- As of: 2026-11-01 00:00 UTC\n" in block
    assert "colleague L-7 is email kind: corporate, role: finance, seniority: executive" in block


def test_a_scores_bounds_are_said_for_what_they_are(tmp_path: Path) -> None:
    """The checker's bounds count each rule on its own: the page says "at most" (Acme's fit
    cannot reach -130, two of its negative rules exclude each other), and says "no bound" in
    words (it said "from unbounded to unbounded")."""
    code, out, err = run("docs", str(ACME))
    assert code == 0, err
    assert (
        "Its value lies between -130 and 80 (at most: rules that cannot hold together can keep "
        "it further in)."
    ) in out
    policy = tmp_path / "p.mql"
    policy.write_text(
        'policy "p"\nlead {\n  revenue: number\n}\nscore r = revenue * 2\n'
        "score s = 5\nscore f {\n  +5 when revenue > 1\n}\nstages {\n  v\n}\n"
    )
    code, out, err = run("docs", str(policy))
    assert code == 0, err
    assert "Its value has no bound." in out
    assert "Its value is always 5." in out
    assert "Its value lies between 0 and 5 (at most: rules" in out
    assert "unbounded" not in out


def test_the_header_line_starts_with_what_the_policy_gives(tmp_path: Path) -> None:
    policy = tmp_path / "p.mql"
    policy.write_text('policy "p"\nowner "ops"\neffective 2026-01-01\nstages {\n  v\n}\n')
    code, out, err = run("docs", str(policy))
    assert code == 0, err
    assert out.splitlines()[2] == "Owner: ops · Effective 2026-01-01"
    policy.write_text('policy "p"\neffective 2026-01-01\nstages {\n  v\n}\n')
    assert run("docs", str(policy))[1].splitlines()[2] == "Effective 2026-01-01"
