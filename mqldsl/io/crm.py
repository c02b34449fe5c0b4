"""CRM conventions for `mqldsl score --crm hubspot|salesforce -o FILE.csv`:
the values those tools import. The stage-to-CRM mapping is declared: a
default for the usual stage names, overridden with `--crm-map STAGE=VALUE`;
a stage with no mapping is an error, never a guess."""

from __future__ import annotations

import csv
import shlex
from collections.abc import Sequence
from typing import IO

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.runtime import Decision
from mqldsl.io.errors import UsageProblem

# HubSpot's internal values of the Lifecycle Stage property, and of Lead Status.
HUBSPOT_LIFECYCLE = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
HUBSPOT_DEFAULT = {
    "subscriber": "subscriber",
    "lead": "lead",
    "mql": "marketingqualifiedlead",
    "sql": "salesqualifiedlead",
    "opportunity": "opportunity",
    "customer": "customer",
    "evangelist": "evangelist",
    "other": "other",
    "disqualified": "other",
}
HUBSPOT_LEAD_STATUS = {"mql": "NEW", "sql": "OPEN_DEAL", "disqualified": "UNQUALIFIED"}

# Salesforce's default Lead Status picklist.
SALESFORCE_STATUS = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
SALESFORCE_DEFAULT = {
    "lead": "Open - Not Contacted",
    "mql": "Open - Not Contacted",
    "sql": "Closed - Converted",
    "disqualified": "Closed - Not Converted",
}

CRMS = {
    "hubspot": (HUBSPOT_DEFAULT, HUBSPOT_LIFECYCLE),
    "salesforce": (SALESFORCE_DEFAULT, SALESFORCE_STATUS),
}


def score_cell(decision: Decision, name: str) -> object:
    """A CSV cell of score ``name``: a lead score or an account score (SPEC §9), empty
    when missing."""
    scores = decision.scores
    if name not in scores and decision.account_scores is not None:
        scores = decision.account_scores
    value = scores[name]
    return "" if value is None else value


class CrmMappingError(ValueError):
    pass


def read_mapping_file(path: str) -> dict[str, str]:
    """The `[stages]` table of a TOML file: STAGE = "CRM value"."""
    import tomllib
    from pathlib import Path

    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8").removeprefix("\ufeff"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CrmMappingError(f"{path}: {exc}") from None
    except RecursionError:
        raise CrmMappingError(f"{path}: invalid TOML: values nested too deeply to read") from None
    stages = raw.get("stages")
    if not isinstance(stages, dict) or not all(isinstance(v, str) for v in stages.values()):
        raise CrmMappingError(f'{path}: expected a [stages] table of STAGE = "value"')
    return {str(k): v for k, v in stages.items()}


def crm_stages(
    model: CheckedPolicy,
    crm: str | None,
    crm_map: Sequence[str] = (),
    crm_mapping: str | None = None,
    to_csv: bool = True,
) -> dict[str, str] | None:
    """The CRM value of every stage for ``crm`` (None when no CRM output is
    asked for): its defaults, then the ``[stages]`` table of the TOML file
    ``crm_mapping``, then ``STAGE=VALUE`` items. :class:`UsageProblem` names
    the option at fault."""
    if crm is None and not crm_map and not crm_mapping:
        return None
    if crm is None or not to_csv:
        raise UsageProblem("--crm needs -o FILE.csv (and --crm-map/--crm-mapping need --crm)")
    overrides: dict[str, str] = {}
    if crm_mapping:
        try:
            overrides.update(read_mapping_file(crm_mapping))
        except CrmMappingError as exc:
            raise UsageProblem(str(exc), "--crm-mapping") from None
    for item in crm_map:
        stage, sep, value = item.partition("=")
        if not sep:
            raise UsageProblem(f"`{item}` is not STAGE=VALUE", "--crm-map")
        overrides[stage.strip()] = value.strip()
    try:
        return stage_mapping(model, crm, overrides)
    except CrmMappingError as exc:
        # (a stage left unmapped is the policy's and --crm's, not an option the user gave)
        option = "--crm-map" if crm_map or crm_mapping else "--crm"
        raise UsageProblem(str(exc), option) from None


def stage_mapping(model: CheckedPolicy, crm: str, overrides: dict[str, str]) -> dict[str, str]:
    defaults, allowed = CRMS[crm]
    stages = [*model.stage_names, "disqualified"]
    for stage, value in overrides.items():
        if stage not in stages:
            raise CrmMappingError(
                f"`{stage}` is not a stage of the policy (stages: {', '.join(stages)})"
            )
        if value not in allowed:
            raise CrmMappingError(
                f"`{value}` is not a {crm} value; the values are: {', '.join(allowed)}"
            )
    mapping = {stage: overrides.get(stage, defaults.get(stage, "")) for stage in stages}
    unmapped = [stage for stage, value in mapping.items() if not value]
    if unmapped:
        plural = len(unmapped) > 1
        raise CrmMappingError(
            f"no {crm} value for the stage{'s' if plural else ''} {', '.join(unmapped)}: "
            f"map {'them' if plural else 'it'} with --crm-map, "
            f"e.g. --crm-map {shlex.quote(f'{unmapped[0]}={allowed[0]}')}"
        )
    return mapping


POLICY_COLUMNS = ("mqldsl_policy_version", "mqldsl_policy_sha256", "mqldsl_policy_params")


class CrmWriter:
    """One row per decision in the columns the CRM imports, then mqldsl's own
    properties: the scores, stage and queue, and the policy that decided
    (SPEC §12): its version, sha256 and the params the run set to other
    values than the policy's, as `--set` writes them (empty when none)."""

    def __init__(
        self, stream: IO[str], model: CheckedPolicy, crm: str, mapping: dict[str, str]
    ) -> None:
        self.crm = crm
        self.mapping = mapping
        self.scores = list(model.scores)
        self.writer = csv.writer(stream, lineterminator="\n")
        if crm == "hubspot":
            header = ["Record ID", "Lifecycle Stage", "Lead Status"]
        else:
            header = ["Lead ID", "Lead Status"]
        self.writer.writerow(
            [
                *header,
                *(f"mqldsl_{s}" for s in self.scores),
                "mqldsl_stage",
                "mqldsl_queue",
                *POLICY_COLUMNS,
            ]
        )

    def write(self, decision: Decision) -> None:
        value = self.mapping[decision.stage]
        if self.crm == "hubspot":
            row = [decision.id, value, HUBSPOT_LEAD_STATUS.get(decision.stage, "")]
        else:
            row = [decision.id, value]

        scores = [score_cell(decision, s) for s in self.scores]
        queue = decision.route.queue if decision.route else ""
        self.writer.writerow([*row, *scores, decision.stage, queue, *policy_cells(decision)])


def policy_cells(decision: Decision) -> list[object]:
    """The policy columns of a decision: version (empty without one), sha256,
    and the params set at run time as `NAME=VALUE; ...` (`--set` syntax)."""
    stamp = decision.policy
    version = "" if stamp.version is None else stamp.version
    return [version, stamp.sha256, stamp.params_text()]
