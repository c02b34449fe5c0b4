"""Where the leads of a simulation come from: a scenario (journeys
generated with a seed, sales replayed on the handoffs) or a journeys file of
real leads, with the default as-of instant of each; and `generate`, a
scenario's journeys written as JSON Lines."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.parallel import keep
from mqldsl.engine.runtime import Lead, format_instant, parse_instant, to_seconds
from mqldsl.io.accounts import AccountGrouper
from mqldsl.io.errors import InputProblem, UsageProblem
from mqldsl.io.files import write_output
from mqldsl.io.journeys import JourneyReader, ReadReport, RecordError, count_line
from mqldsl.io.policy import load_policy, now
from mqldsl.io.scoring import read_leads, summary_lines
from mqldsl.simulation.generate import generate
from mqldsl.simulation.generated import GeneratedLeads
from mqldsl.simulation.scenario import (
    Scenario,
    ScenarioError,
    head_problems,
    load_scenario,
    parse_toml,
    scenario_from_toml,
    unreadable,
)
from mqldsl.simulation.scenario_fields import Problems


@dataclass(frozen=True)
class Source:
    """Where the leads of a simulation come from: ``scenario``, a scenario
    file (``leads`` journeys generated with ``seed``, default the
    scenario's; sales replayed on the handoffs) or ``journeys``, a JSON Lines
    file of real journeys. Exactly one of the two. ``as_of`` defaults to the
    end of the scenario's period, or the latest instant in the journeys (an
    event, or a date in a lead's truth: the data was exported after it)."""

    scenario: str | Path | None = None
    journeys: str | Path | None = None
    seed: int | None = None
    leads: int | None = None
    as_of: float | None = None
    accounts: str | Path | None = None  # with journeys: the accounts file (SPEC §9)

    def described(self, seed: int) -> dict[str, Any]:
        """Where the leads come from, for a report (SPEC §14.1): the scenario and the seed
        the run used, or the journeys file."""
        if self.scenario is not None:
            return {"scenario": str(self.scenario), "seed": seed}
        return {"journeys": str(self.journeys)}

    def __post_init__(self) -> None:
        if (self.scenario is None) == (self.journeys is None):
            raise UsageProblem("give exactly one of --scenario and --journeys")
        if self.leads is not None and self.journeys is not None:
            raise UsageProblem(
                "--leads sizes the journeys a scenario generates; --journeys reads every "
                "lead of its file: leave out --leads",
                "--leads",
            )
        if self.accounts is not None and self.journeys is None:
            raise UsageProblem(
                "--accounts goes with --journeys (a scenario generates its accounts' fields)",
                "--accounts",
            )
        if self.as_of is not None:
            try:
                format_instant(self.as_of)
            except (OverflowError, ValueError):
                raise UsageProblem(
                    "the instant is outside the calendar: give one from "
                    "0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
                    "--as-of",
                ) from None


@dataclass
class LoadedLeads:
    """The leads of a source, how many records were rejected, the default
    as-of instant, the lines that report rejected records and, for journeys, the summary
    line (`N read, N used, N rejected`)."""

    leads: list[Lead]
    rejected: int
    default_as_of: float
    notes: list[str] = field(default_factory=list)
    summary: str | None = None  # journeys: `N read, N used, N rejected`

    @property
    def lines(self) -> tuple[str, ...]:
        """The notes, then the summary: what a command prints about its reading."""
        return (*self.notes, *([self.summary] if self.summary else []))


class ScenarioProblem(InputProblem):
    """A scenario with problems, for a command: each problem, then a line
    saying nothing was simulated."""


def open_scenario(
    path: str | Path, model: CheckedPolicy, read: tuple[str, dict[str, Any]] | None = None
) -> Scenario:
    """:func:`~mqldsl.simulation.scenario.load_scenario`, with
    :class:`ScenarioProblem` for its problems; ``read`` is the file's text
    and TOML when they were read already."""
    try:
        if read is not None:
            return scenario_from_toml(str(path), read[0], read[1], model)
        return load_scenario(path, model)
    except ScenarioError as exc:
        raise _problem(path, exc) from None


def _scenario_file(path: str | Path) -> tuple[str, dict[str, Any]]:
    """The text of a scenario file and its TOML; :class:`ScenarioProblem` if
    either cannot be read (E800, E801 at the position of the TOML error) or the file is
    empty (E808)."""
    try:
        text = Path(path).read_text(encoding="utf-8").removeprefix("\ufeff")
        raw = parse_toml(str(path), text)
        if not raw:
            scenario_from_toml(str(path), text, raw)  # reports the empty scenario
    except (OSError, UnicodeDecodeError) as exc:
        raise _problem(path, unreadable(str(path), exc)) from None
    except ScenarioError as exc:
        raise _problem(path, exc) from None
    return text, raw


def _problem(path: str | Path, exc: ScenarioError) -> ScenarioProblem:
    return ScenarioProblem(
        [*exc.problems, f"{path}: the scenario has problems; nothing was simulated"]
    )


def _named_policy(path: str | Path, raw: dict[str, Any], text: str | None = None) -> str:
    table = raw.get("scenario")
    if not isinstance(table, dict) and text is not None:
        # No `[scenario]` table (misspelt, say): the file's problems, not a usage error.
        found = head_problems(str(path), text, raw)
        if found:
            raise _problem(path, ScenarioError(found))
    named = table.get("policy") if isinstance(table, dict) else None
    if named is not None and not isinstance(named, str) and text is not None:
        # A policy of the wrong kind (`policy = 5`): the file's problem, at its line.
        wrong = Problems(str(path), text)
        wrong.add(["scenario", "policy"], f"expected the path of a policy, got {named!r}", "E803")
        raise _problem(path, ScenarioError(wrong.items))
    if not isinstance(named, str):
        raise UsageProblem(f"{path} names no policy (`[scenario] policy = ...`): give --policy")
    return os.path.relpath(Path(path).parent / named)


def scenario_policy(path: str | Path, policy: str | None = None) -> str:
    """The policy for a scenario: ``policy`` if given, else the one the
    scenario names (`[scenario] policy = "..."`, relative to the scenario
    file). :class:`InputProblem` if the file cannot be read as TOML,
    :class:`UsageProblem` if it names no policy."""
    if policy is not None:
        return policy
    text, raw = _scenario_file(path)
    return _named_policy(path, raw, text)


def _as_text(raw: dict[str, Any]) -> dict[str, Any]:
    """A journey generated with instants in seconds, as the generator writes it."""
    events = [
        {"type": kind, "at": format_instant(at), **fields} for at, kind, fields in raw["events"]
    ]
    return {**raw, "events": events}


def scenario_leads(
    model: CheckedPolicy,
    scenario: Scenario,
    seed: int,
    leads: int | None,
    *,
    handed: bool = True,
) -> list[Lead]:
    """The leads a scenario generates with ``seed`` (``leads`` of them, or
    the scenario's period's worth); :class:`ScenarioProblem` (E809) for more than a run may
    generate. With ``handed`` (the default) the generator's values become leads without a
    JSON round trip where :mod:`mqldsl.simulation.generated` can make the very lead the
    typed decoder gives; ``handed=False`` takes the round trip for every journey."""
    made = GeneratedJourneys(model, scenario, handed=handed)
    result = list(map(made.lead, made.journeys(seed, leads)))
    if model.uses_accounts:
        return with_colleagues(result, str(scenario.path))
    return result


class GeneratedJourneys:
    """A scenario's journeys as its generator gives them, and the lead
    :func:`scenario_leads` makes of each (:meth:`lead`): two steps, so that the leads can
    be made where they are decided (in another process) while the generator goes on."""

    def __init__(self, model: CheckedPolicy, scenario: Scenario, *, handed: bool = True) -> None:
        self.scenario = scenario
        self.reader = JourneyReader(model)
        self.direct = GeneratedLeads.build(model, scenario) if handed else None

    def journeys(self, seed: int, leads: int | None) -> Iterator[dict[str, Any]]:
        """The journeys generated with ``seed``; the scenario's limits are checked before
        the first (E809), and the events as they are generated."""
        try:  # (generate checks the limits before it returns)
            journeys = generate(
                self.scenario, seed=seed, leads=leads, seconds=self.direct is not None
            )
        except ScenarioError as exc:
            raise ScenarioProblem(exc.problems) from None
        return self._checked(journeys)

    @staticmethod
    def _checked(journeys: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        try:
            yield from journeys
        except ScenarioError as exc:  # past the events a run may generate (E809)
            raise ScenarioProblem(exc.problems) from None

    def lead(self, raw: dict[str, Any]) -> Lead:
        """The lead of a journey of :meth:`journeys`."""
        if self.direct is not None:
            # The lead the typed decoder would give, made from the generator's values
            # (mqldsl.simulation.generated); anything else takes the round trip below.
            lead = self.direct.lead(raw)
            if lead is not None:
                return lead
            raw = _as_text(raw)
        # The typed decoder reads a generated journey in C (about 3x faster than the
        # validator); what it does not model goes to the validator, as in a journeys file.
        fast = self.reader.decoded(orjson.dumps(raw))
        if fast is not None:
            return fast
        try:
            return self.reader.lead(raw)
        except RecordError as exc:  # the scenario is checked against the policy: a safety net
            raise ScenarioProblem(
                [
                    f"{self.scenario.path}: generated journey {raw.get('id')} does not fit "
                    f"the policy: {exc}; nothing was simulated"
                ]
            ) from None


def with_colleagues(leads: list[Lead], name: str) -> list[Lead]:
    """Generated leads, each with its colleagues and its account's fields (SPEC §9), in
    the same order (:class:`~mqldsl.io.accounts.AccountGrouper`: a generated account gives
    every contact the same profile, so none is rejected)."""
    report = ReadReport()
    grouper = AccountGrouper(name, report)
    for line, lead in enumerate(leads, start=1):
        grouper.add(lead, line)
    grouped = [lead for lead, _ in grouper.finish()]
    assert len(grouped) == len(leads), report.rejected_count
    return grouped


def scenario_end(scenario: Scenario) -> float:
    """A scenario's default as-of instant: the end of its period."""
    return to_seconds(scenario.end)


def load_leads(
    model: CheckedPolicy,
    scenario: Scenario | None,
    journeys: str | Path | None,
    seed: int,
    leads: int | None = None,
    accounts: str | Path | None = None,
) -> LoadedLeads:
    """The leads of a scenario (generated with ``seed``; the default as-of
    is the end of its period) or of a journeys file (the default as-of is
    its latest instant, an event or a date in a lead's truth, or now). With a policy
    that has accounts, each lead comes with its colleagues (SPEC §9); ``accounts`` is the
    journeys' accounts file."""
    if scenario is not None:
        generated = scenario_leads(model, scenario, seed, leads)
        keep()  # they live until the run ends (engine/parallel.py)
        return LoadedLeads(generated, 0, scenario_end(scenario), unset_fields(model, scenario))
    assert journeys is not None
    report = ReadReport()
    found = list(
        read_leads(
            model, str(journeys), None, report, str(accounts) if accounts is not None else None
        )
    )
    notes = summary_lines(len(found), report)[:-1] if report.rejected_count else []
    read = len(found) + report.rejected_count
    summary = f"{journeys}: {count_line(read, len(found), report.rejected_count)}"
    latest = max(
        (at for lead in found for at in _instants(lead)),
        default=now(),
    )
    keep()
    return LoadedLeads(found, report.rejected_count, latest, notes, summary)


def unset_fields(model: CheckedPolicy, scenario: Scenario) -> list[str]:
    """A note for each profile field of the policy that no persona of the scenario gives a
    distribution (SPEC §14 asks for one for every field): every generated lead lacks it, so
    rules on it never fire. Said, not refused: a field missing in the real data is a world
    worth simulating too."""
    given = {name for persona in scenario.personas for name in persona.profile}
    return [
        f"note: no persona of the scenario gives the profile field `{name}` a distribution: "
        "every generated lead lacks it"
        for name in model.fields
        if name not in given
    ]


def _instants(lead: Lead) -> list[float]:
    """The lead's event times and the dates of its truth (`sql_at`, `won_at`,
    `created_at`): the data was exported after all of them."""
    found = [e.at for e in lead.events]
    for key in ("sql_at", "won_at", "created_at"):
        value = (lead.truth or {}).get(key)
        if isinstance(value, str):
            try:
                found.append(parse_instant(value))
            except ValueError:
                continue
    return found


def generate_journeys(
    scenario: str | Path,
    output: str | Path | None,
    *,
    policy: str | None = None,
    seed: int | None = None,
    leads: int | None = None,
    days: int | None = None,
) -> int:
    """Write the journeys of a scenario as JSON Lines to ``output``
    (atomically; None: standard output); how many. The scenario is checked
    against ``policy`` (default: the one it names). Raises
    :class:`~mqldsl.io.policy.PolicyError`,
    :class:`~mqldsl.simulation.scenario.ScenarioProblem`,
    :class:`~mqldsl.io.errors.InputProblem` and
    :class:`~mqldsl.io.errors.UsageProblem`."""
    if leads is not None and days is not None:
        raise UsageProblem("give --leads or --days, not both")
    if policy is None:  # the scenario names its policy: read the file once
        read = _scenario_file(scenario)
        spec = open_scenario(scenario, load_policy(_named_policy(scenario, read[1], read[0])), read)
    else:
        spec = open_scenario(scenario, load_policy(policy))
    try:  # the limits are checked here, before the output is opened
        journeys = generate(spec, seed=seed, leads=leads, days=days)
    except ScenarioError as exc:
        raise ScenarioProblem(exc.problems) from None

    def produce(sink: BinaryIO) -> int:
        count = 0
        try:
            for journey in journeys:
                sink.write(orjson.dumps(journey) + b"\n")
                count += 1
        except ScenarioError as exc:  # past the events a run may generate (E809)
            raise ScenarioProblem(exc.problems) from None
        return count

    return write_output(output, produce)


__all__ = [
    "GeneratedJourneys",
    "LoadedLeads",
    "ScenarioProblem",
    "Source",
    "generate_journeys",
    "load_leads",
    "open_scenario",
    "scenario_end",
    "scenario_leads",
    "scenario_policy",
]
