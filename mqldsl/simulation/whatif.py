"""`whatif` as a library call: two policies (or one with changed params)
over the same journeys, metric by metric, with the change, a 95% interval,
the leads that move between stages and why (:mod:`mqldsl.simulation.compare`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.explain import Explanation
from mqldsl.engine.explain import explain as explain_result
from mqldsl.engine.parallel import holds_long_lived
from mqldsl.engine.runtime import Lead
from mqldsl.io.errors import UsageProblem
from mqldsl.simulation.account_metrics import NAMES as ACCOUNT_NAMES
from mqldsl.simulation.compare import (
    Samples,
    compared,
    journeys_delta,
    outcome,
    sample_ids,
    scenario_delta,
    whatif_report,
)
from mqldsl.simulation.failif import (
    FailIfError,
    check_expression,
    check_fail_if,
    no_data_names,
)
from mqldsl.simulation.intervals import (
    BOOTSTRAP_DRAWS,
    exact_values,
    paired_bootstrap,
    prepare,
)
from mqldsl.simulation.metrics import NUMERIC, metrics
from mqldsl.simulation.records import LeadRecord
from mqldsl.simulation.results import (
    Describe,
    FailIfVerdict,
    MetricDelta,
    WhatIfData,
    WhatIfReport,
)
from mqldsl.simulation.reuse import Variant, decide_variants, share_scores
from mqldsl.simulation.run import Run, RunSpec, explain_as_run, run_policy
from mqldsl.simulation.simulate import (
    SimulationOptions,
    check_engine,
    mql_stage,
    sql_stage,
)
from mqldsl.simulation.sources import Source, load_leads, open_scenario

EXPLAINED_LEADS = 2000  # changed leads re-run with explanations, for attribution


@holds_long_lived
def whatif(
    base: CheckedPolicy,
    proposed: CheckedPolicy | None,
    source: Source,
    options: SimulationOptions | None = None,
    *,
    replications: int = 5,
    fail_if: str | None = None,
    reuse: bool = True,
    describe: Describe | None = None,
) -> WhatIfReport:
    """Compare ``base`` with ``proposed`` (None: ``base`` again) run with
    ``options.params``, over the same leads.

    Over a scenario, the whole comparison is repeated ``replications`` times
    with seeds ``seed``, ``seed + 1``, ... and the intervals come from the
    replications; the report itself is that of the first. Over journeys, the
    intervals come from a bootstrap of the leads. The first
    :data:`EXPLAINED_LEADS` leads whose stage changed are re-run with
    explanations, for the attribution and the sample leads; ``describe`` says what the
    report shows of a sample lead's explanation under each policy (the render layer's
    :func:`~mqldsl.render.explanation.sample_json`; without it, the explanations only).

    When the two policies compute the same scores (the same declarations
    and score blocks, and the same values of the params the scores read:
    :func:`~mqldsl.simulation.reuse.share_scores`), each lead's scores are
    computed once for both, on the Python engine; ``reuse=False`` computes
    them for each. The report is the same either way.

    ``fail_if`` is a `--fail-if` expression: it is read before anything
    runs, and its verdict is part of the report (:attr:`WhatIfReport.gate`).

    Raises :class:`FailIfError` (an expression that cannot be read),
    :class:`UsageProblem` (nothing to compare, options that do not fit
    a policy), :class:`~mqldsl.simulation.simulate.ScenarioProblem` and
    :class:`~mqldsl.warehouse.scoring.SqlUnsupported`.
    """
    options = options or SimulationOptions()
    if fail_if is not None:
        uses = base.uses_accounts or (proposed is not None and proposed.uses_accounts)
        check_expression(fail_if, [*NUMERIC, *(ACCOUNT_NAMES if uses else [])])
    if proposed is None and not options.params:
        raise UsageProblem("give a PROPOSED policy, or --set PARAM=VALUE to change BASE")
    proposed_model = proposed if proposed is not None else base
    check_engine(base, options.engine, options.memory_limit)
    if options.engine == "duckdb":
        check_engine(proposed_model, options.engine, options.memory_limit)
    stage = mql_stage(base, options.mql_stage)
    mql_stage(proposed_model, options.mql_stage)
    sqls = sql_stage(base, options.sql_stage)
    scenario = open_scenario(source.scenario, base) if source.scenario is not None else None
    if scenario is not None and proposed is not None:
        assert source.scenario is not None
        open_scenario(source.scenario, proposed_model)
    seed = source.seed if source.seed is not None else (scenario.seed if scenario else 1)
    base_params: dict[str, Any] = {}
    variants: list[Variant] = [(base, base_params), (proposed_model, dict(options.params))]
    shared = reuse and options.engine == "python" and share_scores(variants)
    samples: Samples = []
    # The leads are read for the policy that has accounts, if only one has (SPEC §9):
    # each lead then comes with its colleagues, which the other policy does not read.
    reader = proposed_model if proposed_model.uses_accounts and not base.uses_accounts else base
    first: tuple[Run, Run, list[Lead], float, list[str]] | None = None
    for index in range(replications if scenario is not None else 1):
        loaded = load_leads(
            reader, scenario, source.journeys, seed + index, source.leads, source.accounts
        )
        moment = source.as_of if source.as_of is not None else loaded.default_as_of

        base_spec = RunSpec(
            params=base_params,
            as_of=moment,
            mql_stage=stage,
            sql_stage=sqls,
            scenario=scenario,
            seed=seed + index,
            rejected=loaded.rejected,
            engine=options.engine,
            jobs=options.jobs,
            memory_limit=options.memory_limit,
        )

        progress = (
            options.progress(2 * len(loaded.leads), f"replication {index + 1}")
            if options.progress
            else None
        )
        try:
            proposed_spec = replace(base_spec, params=options.params)
            if shared:
                records = decide_variants(
                    variants, loaded.leads, moment, stage, sqls, options.jobs, progress
                )
                a = run_policy(base, loaded.leads, base_spec, decided=records[0])
                b = run_policy(proposed_model, loaded.leads, proposed_spec, decided=records[1])
            else:
                a = run_policy(base, loaded.leads, base_spec, progress=progress)
                b = run_policy(proposed_model, loaded.leads, proposed_spec, progress=progress)
        finally:
            if progress is not None:
                progress.close()
        samples.append((a.report.metrics, b.report.metrics))
        if first is None:
            first = (a, b, loaded.leads, moment, list(loaded.lines))
    assert first is not None
    a, b, leads, moment, notes = first
    changed = {x.id for x, y in zip(a.records, b.records, strict=True) if outcome(x) != outcome(y)}
    subset = sorted((lead for lead in leads if lead.id in changed), key=lambda x: x.id)
    subset = subset[:EXPLAINED_LEADS]
    # The attribution reads the leads as their journeys give them (a lead the policies decide
    # alike, moved by the sales replay only, is a knock-on); the samples are explained as the
    # runs left them, with the acceptance events the sales replay gave.
    specs = [
        RunSpec(params=values, as_of=moment, mql_stage=stage, sql_stage=sqls)
        for values in (base_params, options.params)
    ]
    a.kept = explain_as_run(base, subset, specs[0], {})
    b.kept = explain_as_run(proposed_model, subset, specs[1], {})
    ids = set(sample_ids(a.records, b.records))  # (whatif_report takes these)
    sampled = [lead for lead in leads if lead.id in ids]
    shown = (
        explain_as_run(base, sampled, specs[0], a.accepted),
        explain_as_run(proposed_model, sampled, specs[1], b.accepted),
    )
    delta: dict[str, MetricDelta]
    accounts = False
    if scenario is None:
        # SPEC §14.1: resample accounts when either policy reads accounts (fields or scores).
        accounts = base.uses_accounts or proposed_model.uses_accounts
        # One key per record: the records hold only the leads that existed at the as-of
        # instant (no time travel), which may be fewer than the leads read.
        with_accounts = a.records if base.uses_accounts else b.records
        keys = [
            " ".join(record.account)
            if accounts and record.account is not None
            else f"lead {record.id}"
            for record in with_accounts
        ]

        def metrics_of(records: Sequence[LeadRecord]) -> dict[str, Any]:
            return metrics(records, moment, None, False)

        names = list(compared(a.report.metrics, b.report.metrics))
        prepared = prepare(a.records, b.records, keys, metrics_of)
        intervals = paired_bootstrap(
            a.records,
            b.records,
            keys,
            names,
            metrics_of,
            draws=BOOTSTRAP_DRAWS,
            seed=seed,
            prepared=prepared,
        )
        exact = exact_values(a.records, b.records, keys, metrics_of, prepared)
        delta = journeys_delta(a.report.metrics, b.report.metrics, intervals, exact)
    else:
        delta = scenario_delta(samples)

    def explain(
        model: CheckedPolicy, lead: Lead, result: Any, values: Mapping[str, Any]
    ) -> Explanation:
        return explain_result(model, lead, result, values)

    data = WhatIfData(
        leads=a.report.leads,
        rejected=a.report.rejected,
        as_of=a.report.as_of,
        scenario=str(source.scenario) if source.scenario is not None else None,
        journeys=str(source.journeys) if source.journeys is not None else None,
        seed=seed,
        replications=replications if scenario is not None else None,
        method="replications" if scenario is not None else "bootstrap",
        draws=None if scenario is not None else BOOTSTRAP_DRAWS,
        resampled=None if scenario is not None else ("accounts" if accounts else "leads"),
        set={name: _plain(value) for name, value in sorted(options.params.items())},
        examined=len(subset),
    )
    report = whatif_report(
        base,
        proposed_model,
        a,
        b,
        delta,
        explain,
        data,
        params=(base_params, options.params),
        describe=describe,
        shown=shown,
    )
    if fail_if is not None:
        unknown = no_data_names(fail_if, report.to_json())
        report = replace(report, gate=FailIfVerdict(fail_if, report.fail_if(fail_if), unknown))
    return replace(report, notes=tuple(notes))


def _plain(value: Any) -> Any:
    """A `--set` value as JSON holds it."""
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str | list):
        return value
    return str(value)


__all__ = [
    "BOOTSTRAP_DRAWS",
    "EXPLAINED_LEADS",
    "FailIfError",
    "check_fail_if",
    "whatif",
]
