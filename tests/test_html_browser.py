"""HTML reports open in a real browser (Debian's headless Chromium): they
render with no console errors and show their charts. `.ci/run` installs
Chromium when it is missing; locally the test skips without it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mqldsl.cli import cli

from .conftest import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing in CI: .ci/run should have installed it")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


def open_in_browser(page: Path, screenshot: Path) -> tuple[str, str]:
    browser = chromium()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={page.parent / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    shot = subprocess.run(
        [browser, *flags, "--window-size=1200,2400", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dom.stdout, dom.stderr + shot.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", ["simulate", "whatif"])
def test_report_renders_in_chromium_with_charts(tmp_path: Path, command: str) -> None:
    page = tmp_path / f"{command}.html"
    policy = str(ROOT / "policies" / "acme.mql")
    scenario = str(ROOT / "simulations" / "acme.toml")
    args = [command, policy, "--scenario", scenario, "--leads", "400", "-o", str(page)]
    if command == "whatif":
        args[2:2] = ["--set", "mql_intent_min=30"]
        args += ["--replications", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"{command}.png"
    dom, log = open_in_browser(page, screenshot)
    console = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    assert dom.count("<svg") >= 3  # MQLs per week, funnel, score distributions
    assert "MQL precision" in dom
    assert screenshot.stat().st_size > 20_000
    # SLA compliance per queue, in a table
    assert "<h2>SLA by queue</h2>" in dom and "<td>sdr_inbound</td>" in dom
    if command == "whatif":
        assert "met the SLA (proposed)" in dom
    # the weekly chart names its axes and marks the partial week (the scenario's as-of
    # instant, 2026-12-01, is a Tuesday)
    assert ">ISO week of the MQL handoff</text>" in dom and ">MQLs</text>" in dom
    assert "(partial)</text>" in dom and "hatched: partial week" in dom
    # the funnel's axes are labelled
    assert ">stage</text>" in dom and ">leads</text>" in dom
    # two histograms per score, at the as-of and at the MQL handoff, buyers in the legend
    for score in ("fit", "intent"):
        assert f">{score} score at the as-of</text>" in dom
        assert f">{score} score at the MQL handoff</text>" in dom
        assert f"{score} when each lead became an MQL: buyers and other MQLs" in dom
    assert dom.count(">buyers (") == 4


@pytest.mark.slow
@pytest.mark.parametrize(
    "params", [["mql_intent_min=20..50:10"], ["mql_intent_min=30..50:10", "mql_fit_min=20..40:10"]]
)
def test_sweep_page_renders_in_chromium_with_labelled_charts(
    tmp_path: Path, params: list[str]
) -> None:
    page = tmp_path / "sweep.html"
    policy = str(ROOT / "policies" / "acme.mql")
    scenario = str(ROOT / "simulations" / "acme.toml")
    args = ["sweep", policy, "--scenario", scenario, "--leads", "300", "-o", str(page)]
    for param in params:
        args += ["--param", param]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"sweep-{len(params)}.png"
    dom, log = open_in_browser(page, screenshot)
    assert [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line] == []
    assert dom.count("<svg") == 2
    assert "(current)" in dom
    if len(params) == 1:
        assert dom.count(">mql_intent_min</text>") == 2  # both x axes are labelled
        assert "current 40" in dom
    else:
        assert ">buyer recall</text>" in dom and ">MQL precision</text>" in dom
        assert "mql_intent_min=30, mql_fit_min=20" in dom
    assert screenshot.stat().st_size > 20_000


@pytest.mark.slow
@pytest.mark.parametrize("name", ["acme", "saas_trial"])
def test_definitions_document_renders_in_chromium(tmp_path: Path, name: str) -> None:
    page = tmp_path / f"{name}.html"
    args = ["docs", str(ROOT / "policies" / f"{name}.mql"), "-o", str(page)]
    if name == "acme":  # with a what-if section
        report = tmp_path / "whatif.json"
        scenario = str(ROOT / "simulations" / "acme.toml")
        whatif = ["whatif", args[1], "--set", "mql_intent_min=50", "--scenario", scenario]
        whatif += ["--leads", "300", "--replications", "2", "-o", str(report)]
        result = CliRunner().invoke(cli, whatif)
        assert result.exit_code == 0, result.output
        args += ["--simulation", str(report)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    screenshot = tmp_path / "definitions.png"
    dom, log = open_in_browser(page, screenshot)
    assert [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line] == []
    assert screenshot.stat().st_size > 20_000
    diagram = dom[dom.index("<svg") : dom.index("</svg>")]
    # the lifecycle diagram: stage names with their descriptions, the disqualified state
    stages = {
        "acme": {"lead": "Engaged with an offer", "sql": "Sales qualified"},
        "saas_trial": {"signed_up": "Has a free account", "sql": "Sales qualified"},
    }[name]
    for stage, description in stages.items():
        assert f">{stage}</text>" in diagram and f">{description}</text>" in diagram
    assert ">disqualified</text>" in diagram
    if name == "saas_trial":
        assert (
            ">recycle when no activity in the last 30 days (param `quiet_period`)</text>" in diagram
        )
    # examples grouped, with the check stated apart from accepted/rejected
    assert ">Accepted leads</h3>" in dom and ">Rejected leads</h3>" in dom
    assert "Check: the current rules agree." in dom and "✓" not in dom
    if name == "acme":
        assert "<h2>Simulation: what the proposed change does</h2>" in dom
        assert "<th>95% CI of the mean</th>" in dom
        assert "Where the numbers come from: the synthetic scenario" in dom


@pytest.mark.slow
def test_explanation_renders_in_chromium(tmp_path: Path) -> None:
    journeys = tmp_path / "j.jsonl"
    journeys.write_text(
        '{"id": "L-1", "profile": {"email_kind": "corporate", "role": "secops", '
        '"company_size": 800, "channel": "inbound"}, '
        '"events": [{"type": "page_view", "at": "2026-11-20T10:00:00Z", "path": "/pricing"}, '
        '{"type": "demo_request", "at": "2026-11-30T10:00:00Z"}]}\n'
    )
    page = tmp_path / "explain.html"
    args = ["explain", str(ROOT / "policies" / "acme.mql"), str(journeys), "--lead", "L-1"]
    args += ["--as-of", "2026-12-01T00:00:00Z", "--format", "html", "-o", str(page)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    screenshot = tmp_path / "explain.png"
    dom, log = open_in_browser(page, screenshot)
    assert [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line] == []
    for text in (
        "Lead L-1, as of 2026-12-01 00:00 UTC: mql (Marketing qualified)",
        "Why not sql",
        "Every point",
        "History",
        "when a demo request arrived",
    ):
        assert text in dom, text
    assert dom.count('class="mark no"') >= 1 and dom.count('class="mark yes"') >= 1
    assert screenshot.stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize(
    "params", [["mql_intent_min=20..50:10"], ["mql_intent_min=30..50:10", "mql_fit_min=20..40:10"]]
)
def test_tune_page_renders_in_chromium_with_its_chart(tmp_path: Path, params: list[str]) -> None:
    page = tmp_path / "tune.html"
    policy = str(ROOT / "policies" / "acme.mql")
    scenario = str(ROOT / "simulations" / "acme.toml")
    args = ["tune", policy, "--scenario", scenario, "--leads", "300", "--maximize", "buyer_recall"]
    args += ["--subject-to", "mql_precision >= 0.2", "--format", "html"]
    for param in params:
        args += ["--param", param]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    page.write_text(result.stdout)
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"tune-{len(params)}.png"
    dom, log = open_in_browser(page, screenshot)
    assert [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line] == []
    assert dom.count("<svg") == 1 and "<h2>Metrics</h2>" in dom
    if len(params) == 1:
        assert "current 40" in dom and ">mql_intent_min</text>" in dom
    else:
        assert "Pareto front" in dom and ">30, 20</text>" in dom  # the proposed point, named
    assert screenshot.stat().st_size > 20_000
