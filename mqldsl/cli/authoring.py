"""Commands for writing policies: check, fmt, test, docs, diff."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mqldsl.cli.common import (
    DATE,
    INSTANT,
    OUTPUT_OR_STDOUT,
    POLICY_PATH,
    InputPath,
    as_of_or_now,
    check_output,
    cli,
    echo_lines,
    load_policy,
    policy_file,
    print_diagnostics,
    reported,
    standard_output,
)
from mqldsl.io.errors import terminal_text

if TYPE_CHECKING:
    from mqldsl.analysis.model import CheckedPolicy
    from mqldsl.language.diagnostics import Diagnostic


def _say(text: str) -> None:
    """A line of `test`'s report to standard output, its control characters written out (an
    example's name or an expected value comes from the policy's text)."""
    click.echo(terminal_text(text))


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github", "sarif"]),
    default="text",
    show_default=True,
    help="How to print the diagnostics: for people, as JSON, as GitHub Actions annotations, "
    "or as a SARIF log for code scanning (docs/ci.md).",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option(
    "--deep",
    is_flag=True,
    help="Also ask the SMT solver for stages, thresholds, routes and disqualifiers no lead "
    "can reach (W520-W524, each a proof within a stated number of events; docs/witness.md).",
)
@click.option(
    "--hash",
    "show_hash",
    is_flag=True,
    help="Print each policy's version and sha256, as its decisions name it.",
)
def check(
    paths: tuple[str, ...], output_format: str, strict: bool, deep: bool, show_hash: bool
) -> None:
    """Parse, type-check and lint policies.

    PATHS are .mql files or folders (every .mql file under a folder is
    checked), or - for a policy on standard input. Prints every problem
    found, then a summary; exits 1 when there is an error (with --strict,
    also on a warning). With --hash, prints for
    each policy without errors `FILE: version N, sha256 HEX`: the `policy` its
    decisions carry (the hash of its canonical text, what `fmt` writes).
    """
    from mqldsl import __version__
    from mqldsl.analysis.checker import check_bytes, check_file
    from mqldsl.io.files import expand_policy_paths
    from mqldsl.language.diagnostics import summary, to_github, to_json, to_sarif

    if show_hash and output_format != "text":
        raise click.UsageError(f"--hash prints text: leave out --format {output_format}")
    files = expand_policy_paths(paths, included=False)
    # Files without a `policy` header under a folder: included files, checked through the
    # policies that include them; one that no policy includes is checked (E111), not skipped.
    shared = [f for f in expand_policy_paths(paths) if f not in set(files)]
    if not files and not shared:
        raise click.UsageError(terminal_text("no .mql files found in " + ", ".join(paths)))
    everything: list[Diagnostic] = []
    included: set[str] = set()

    unknown = False  # a policy whose includes could not all be followed (E1xx)
    reported: set[Diagnostic] = set()

    def check_one(file: str) -> None:
        nonlocal unknown
        # `-`: the policy on standard input (its includes relative to the current folder)
        if file == "-":
            result = check_bytes(sys.stdin.buffer.read(), "<stdin>")
        else:
            result = check_file(file)
        included.update(os.path.realpath(name) for name in result.source.included)
        # A problem in a file several policies include is reported once.
        diagnostics = [d for d in result.diagnostics if d.span.file == file or d not in reported]
        if deep and result.model is not None:
            diagnostics = _deep(file, result.model, diagnostics)
        reported.update(diagnostics)
        unknown = unknown or any(d.is_error and d.code.startswith("E1") for d in diagnostics)
        everything.extend(diagnostics)
        if output_format == "text":
            print_diagnostics(diagnostics, result.source)
        if show_hash and result.model is not None:
            version = result.model.version
            shown = "none" if version is None else version
            click.echo(f"{result.source.name}: version {shown}, sha256 {result.model.sha256}")

    for file in files:
        check_one(file)
    # A file no policy includes is reported (E111), unless a policy could not be read or
    # followed through its includes: it may be one of that policy's files.
    orphans = [] if unknown else [f for f in shared if os.path.realpath(f) not in included]
    for file in orphans:
        check_one(file)
    files += orphans
    if output_format == "json":
        click.echo(to_json(everything))
    elif output_format == "sarif":
        click.echo(to_sarif(everything, __version__))
    else:
        if output_format == "github" and everything:
            click.echo(to_github(everything))
        noun = "file" if len(files) == 1 else "files"
        echo_lines([f"checked {len(files)} {noun}: {summary(everything)}"])
    failed = any(d.is_error for d in everything) or (strict and bool(everything))
    sys.exit(1 if failed else 0)


def _deep(file: str, model: CheckedPolicy, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """``diagnostics`` with the W52x warnings of `check --deep` (their `# mqldsl: allow`
    comments honoured); a note on standard error when some could not be made."""
    from mqldsl.analysis.lints import suppress
    from mqldsl.analysis.solver.deep import deep_lints
    from mqldsl.language.diagnostics import sort_diagnostics

    found = deep_lints(model, diagnostics)
    if found.note is not None:
        echo_lines([f"note: {file}: check --deep: {found.note}"])
    extra = suppress(found.diagnostics, model.policy.comments)
    return sort_diagnostics([*diagnostics, *extra])


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--check", "check_only", is_flag=True, help="Change nothing; exit 1 if a file would change."
)
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Print what would change as a unified diff; change nothing (exit 1 when a file "
    "would change, as --check).",
)
def fmt(paths: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Rewrite policies in canonical form.

    PATHS are .mql files or folders; `-` reads a policy from standard input
    and writes the formatted text to standard output. Comments are kept.
    A file with syntax errors is reported and left untouched.
    """
    import difflib

    from mqldsl.io.files import expand_policy_paths, write_atomic
    from mqldsl.io.formatting import MeaningChanged, formatted
    from mqldsl.language.diagnostics import sort_diagnostics
    from mqldsl.language.includes import parse_any
    from mqldsl.language.parser import parse_file

    files = expand_policy_paths(paths)
    if not files:
        raise click.UsageError(terminal_text("no .mql files found in " + ", ".join(paths)))
    failed = False
    changed: list[str] = []
    unchanged = 0
    for file in files:
        # A file without a `policy` header is one that policies include (SPEC §3.1):
        # formatted alone, never merged with the files it includes.
        if file == "-":
            result = parse_any(sys.stdin.buffer.read(), "<stdin>")
        else:
            try:
                data = Path(file).read_bytes()
            except OSError:
                result = parse_file(file)  # reports why it cannot be read
            else:
                result = parse_any(data, file)
        if result.policy is None or any(d.is_error for d in result.diagnostics):
            print_diagnostics(sort_diagnostics(result.diagnostics), result.source)
            failed = True
            continue
        original = result.source.text
        try:
            text = formatted(result)
        except MeaningChanged as exc:
            raise click.ClickException(terminal_text(str(exc))) from None
        if file == "-" and not (check_only or show_diff):
            click.echo(text, nl=False)  # standard input formatted to standard output
            continue
        if text == original:
            unchanged += 1
            continue
        changed.append(file)
        name = "<stdin>" if file == "-" else file
        if show_diff:
            click.echo(
                "".join(
                    difflib.unified_diff(
                        original.splitlines(keepends=True),
                        text.splitlines(keepends=True),
                        fromfile=name,
                        tofile=name + " (formatted)",
                    )
                ),
                nl=False,
            )
        elif check_only:
            click.echo(f"would reformat {name}")
        else:
            write_atomic(file, text)
            echo_lines([f"reformatted {file}"])
    verb = "would be reformatted" if (check_only or show_diff) else "reformatted"
    if any(f != "-" for f in files):
        click.echo(
            f"{len(changed)} {'file' if len(changed) == 1 else 'files'} {verb}, "
            f"{unchanged} unchanged",
            err=True,
        )
    if failed or ((check_only or show_diff) and changed):
        sys.exit(1)


def _percent(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    """--fail-under: a finite percentage from 0 to 100."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 <= number <= 100:  # also refuses nan
        raise click.BadParameter(f"{value!r} is not a percentage from 0 to 100")
    return number


@cli.command(name="test")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--coverage",
    is_flag=True,
    help="Say how many rules, stages, disqualifiers and routes the examples exercised, "
    "and list the others.",
)
@click.option(
    "--fail-under",
    metavar="PCT",
    callback=_percent,
    help="Fail (exit 1) when the examples exercise less than PCT percent of the policies' "
    "parts (0 to 100); implies --coverage.",
)
@click.option(
    "-k",
    "keyword",
    metavar="TEXT",
    help="Run only the examples whose name contains TEXT (ignoring case).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON document with every example, the totals and the coverage.",
)
def test_command(
    paths: tuple[str, ...],
    coverage: bool,
    fail_under: float | None,
    keyword: str | None,
    output_format: str,
) -> None:
    """Run the examples inside policies and report `N passed, M failed`.

    A policy that cannot be read (syntax or check errors) is reported with
    its diagnostics, and the command exits 1. With -k, examples whose name
    does not contain TEXT are deselected (counted, not run); when no example
    is selected the command says so and exits 1.
    """
    from mqldsl.engine.coverage import shown_percent
    from mqldsl.engine.testing import ExampleRun, report, run_examples, total_coverage
    from mqldsl.io.files import expand_policy_paths
    from mqldsl.render.explanation import outline, render_explanation

    text = output_format == "text"
    coverage = coverage or fail_under is not None
    files = expand_policy_paths(paths, included=False)
    # As `check` does: a file without a header that no policy includes is run (and fails,
    # E111), not skipped.
    shared = [f for f in expand_policy_paths(paths) if f not in set(files)]
    if not files and not shared:
        raise click.UsageError(terminal_text("no .mql files found in " + ", ".join(paths)))
    runs: list[tuple[str, ExampleRun]] = []
    included: set[str] = set()
    queue = list(files)
    if not queue:  # only files without a header, and no policy to include them
        queue, shared = shared, []
    while queue:
        file = queue.pop(0)
        run = run_examples(file, keyword)
        runs.append((file, run))
        included.update(os.path.realpath(name) for name in run.check.source.included)
        diagnostics = run.check.diagnostics
        if any(d.is_error and d.code.startswith("E1") for d in diagnostics):
            shared = []  # its includes could not all be followed: no file is known orphan
        if not queue and shared:
            queue = [f for f in shared if os.path.realpath(f) not in included]
            shared = []
        if not text:
            continue
        if not run.readable:
            errors = [d for d in diagnostics if d.is_error]
            print_diagnostics(errors, run.check.source)
            noun = "error" if len(errors) == 1 else "errors"
            _say(f"{file}: could not be read ({len(errors)} {noun}); no example ran")
            continue
        outcomes = run.outcomes
        if run.deselected and not outcomes:
            continue  # every example left out by -k
        header = f"{file}: {len(outcomes)} example{'s' if len(outcomes) != 1 else ''}"
        _say(header + (f" ({run.deselected} deselected)" if run.deselected else ""))
        for outcome in outcomes:
            if outcome.passed:
                _say(f"  PASS  {outcome.example.name}")
                continue
            _say(f"  FAIL  {outcome.example.name}  ({file}:{outcome.example.span.line})")
            for failure in outcome.failures:
                at = failure.expectation.span.line
                _say(f"        expected {failure.expected}, got {failure.actual}  (line {at})")
            explained = render_explanation(outline(run.explain(outcome)), "text")
            for line in explained.splitlines():
                _say(f"        | {line}" if line else "        |")
        if coverage:
            parts = run.coverage()
            _say(
                f"  coverage: {parts.covered} of {parts.total} parts exercised "
                f"({shown_percent(parts)}%)"
            )
            for part in parts.uncovered():
                _say(f"  not covered: {part.text}")
    passed = sum(run.passed for _, run in runs)
    failed = sum(run.failed for _, run in runs)
    deselected = sum(run.deselected for _, run in runs)
    unreadable = sum(1 for _, run in runs if not run.readable)
    total = total_coverage(runs)
    low = coverage and fail_under is not None and total.below(fail_under)
    nothing_selected = keyword is not None and not passed + failed
    if not text:
        click.echo(report(runs, keyword, total if coverage else None, fail_under))
    else:
        if coverage and len(runs) > 1:
            click.echo(
                f"coverage: {total.covered} of {total.total} parts exercised "
                f"({shown_percent(total)}%)"
            )
        if low:
            click.echo(f"coverage {shown_percent(total)}% is below --fail-under {fail_under:g}%")
        counts = [f"{passed} passed", f"{failed} failed"]
        if deselected:
            counts.append(f"{deselected} deselected")
        if unreadable:
            counts.append(f"{unreadable} file{'s' if unreadable != 1 else ''} could not be read")
        click.echo(", ".join(counts))
    if nothing_selected:
        echo_lines([f'no example name contains "{keyword}" ({deselected} deselected)'])
    sys.exit(1 if failed or unreadable or low or nothing_selected else 0)


@cli.command()
@policy_file
@click.option(
    "-o",
    "--output",
    type=OUTPUT_OR_STDOUT,
    callback=standard_output,
    help="FILE.md or FILE.html; without it (or with `-`), Markdown on standard output.",
)
@click.option(
    "--previous",
    type=POLICY_PATH,
    help="The previous version, for the change log.",
)
@click.option(
    "--simulation",
    type=InputPath(),
    help="A simulate or whatif JSON report (-o report.json) to summarise: a what-if "
    "shows base, proposed, change and interval for each main metric.",
)
@click.option(
    "--date", type=DATE, help="A date (2026-12-01) to print in the footer (none otherwise)."
)
def docs(
    policy: str, output: str | None, previous: str | None, simulation: str | None, date: str | None
) -> None:
    """The shared MQL/SQL definitions document, generated from the policy:
    stages, scores, parameters, disqualifiers, routing and SLAs, and the
    accepted and rejected example leads."""
    from mqldsl.io.files import write_atomic
    from mqldsl.render.diff import diff as semantic_diff
    from mqldsl.render.document import render
    from mqldsl.render.outputs import document_kind
    from mqldsl.render.simulation_section import load_report

    check_output(output)
    model = load_policy(policy)
    changes = semantic_diff(load_policy(previous), model) if previous else None
    with reported():
        report = load_report(simulation) if simulation else None
        kind = document_kind(output)
        text = render(model, kind, changes=changes, simulation=report, date=date)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
        echo_lines([f"wrote {output}"])


@cli.command(name="diff")
@click.argument("old", type=POLICY_PATH)
@click.argument("new", type=POLICY_PATH)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: the changes in words; json: each change with its kind and place.",
)
@click.option(
    "--witness",
    "witness_file",
    type=click.Path(dir_okay=False),
    help="Find a lead the two versions decide differently (stage, disqualification or "
    "route) and write it to FILE as a journey line, or prove that none exists within the "
    "bounds (docs/witness.md).",
)
@click.option(
    "--as-of",
    type=INSTANT,
    help="With --witness: the instant of the decisions (default: now).",
)
@click.option(
    "--bound",
    type=click.IntRange(1, 8),
    default=3,
    show_default=True,
    help="With --witness: events of each type the solver considers (1 to 8).",
)
def diff_command(
    old: str,
    new: str,
    output_format: str,
    witness_file: str | None,
    as_of: float | None,
    bound: int,
) -> None:
    """What changed between two versions of a policy, in words, rule by rule.

    With --witness, also a lead whose decision as of --as-of differs between the two
    versions, with both decisions and why; or a statement that they decide every lead the
    same, naming the bounds. The exit code is 0 either way: a difference is what diff
    reports, not a failure (a what-if run with --fail-if is the gate).
    """
    import json

    from mqldsl.render.diff import diff as semantic_diff

    if witness_file is not None and output_format != "text":
        raise click.UsageError(f"--witness prints text: leave out --format {output_format}")
    if witness_file is None and (as_of is not None or bound != 3):
        raise click.UsageError("--as-of and --bound go with --witness")
    old_model, new_model = load_policy(old), load_policy(new)
    changes = semantic_diff(old_model, new_model)
    if output_format == "json":
        click.echo(json.dumps([c.to_json() for c in changes], indent=2, ensure_ascii=False))
    elif not changes:
        click.echo("no change in meaning")
    else:
        for change in changes:
            click.echo(change.text())
        if all(change.kind == "reworded" for change in changes):
            click.echo("no change in meaning: only descriptions changed")
    if witness_file is not None:
        _witness(old_model, new_model, (old, new), witness_file, as_of_or_now(as_of), bound)


def _witness(
    old: CheckedPolicy,
    new: CheckedPolicy,
    names: tuple[str, str],
    output: str,
    as_of: float,
    bound: int,
) -> None:
    from mqldsl.io.errors import UsageProblem
    from mqldsl.io.files import check_folder, write_atomic
    from mqldsl.render.witness import record_line, witness_text
    from mqldsl.simulation.witness import find_witness

    try:
        check_folder(output)
    except UsageProblem as exc:
        raise click.BadParameter(exc.message, param_hint="--witness") from None
    with reported():
        witness = find_witness(old, new, as_of, bound)
        if witness.record is not None:
            write_atomic(output, record_line(witness.record) + "\n")
        click.echo("")
        click.echo(witness_text(witness, (old, new), names, output), nl=False)
