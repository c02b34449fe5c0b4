"""The Spark SQL that `mqldsl sql --dialect spark` prints runs on a real
distributed engine (a local PySpark session) and gives the Python engine's
decisions, field by field, lead by lead.

Needs pyspark (the `spark` extra) and a Java runtime. Skip it locally with
`pytest -m 'not spark'`; CI (`.ci/run`) installs both and sets
MQLDSL_REQUIRE_SPARK=1, which turns a missing pyspark or Java into a failure.
"""

from __future__ import annotations

from typing import Any

import pytest

from mqldsl.analysis.checker import check_file
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Lead, from_seconds, parse_instant
from mqldsl.io.scoring import decision_line
from mqldsl.warehouse.engine import RowReader, event_columns

from .conftest import ROOT
from .helpers import run
from .test_sql import HOSTILE, checked, generated, hostile_journeys

pytestmark = pytest.mark.spark


def _tables(spark: Any, model: CheckedPolicy, journeys: list[Lead]) -> None:
    """The journeys as Spark tables `leads` and `events`, typed per the schema."""
    from pyspark.sql import types as T

    def spark_type(kind: Any) -> Any:
        return {
            "int": T.DoubleType(),
            "number": T.DoubleType(),
            "bool": T.BooleanType(),
            "date": T.DateType(),
            "set": T.ArrayType(T.StringType()),
        }.get(kind.kind, T.StringType())

    def value(v: Any) -> Any:
        if isinstance(v, frozenset):
            return sorted(v)
        if isinstance(v, int) and not isinstance(v, bool):
            return float(v)
        return v

    events = event_columns(model)
    account = [T.StructField("account", T.StringType())] if model.uses_accounts else []
    lead_schema = T.StructType(
        [T.StructField("id", T.StringType()), *account]
        + [T.StructField(n, spark_type(i.type)) for n, i in model.fields.items()]
    )
    event_schema = T.StructType(
        [
            T.StructField("lead_id", T.StringType()),
            T.StructField("type", T.StringType()),
            T.StructField("at", T.TimestampType()),
        ]
        + [T.StructField(n, spark_type(i.type)) for n, i in events.items()]
    )
    lead_rows = [
        (
            lead.id,
            *([lead.account] if model.uses_accounts else []),
            *[value(lead.profile.get(n)) for n in model.fields],
        )
        for lead in journeys
    ]
    if model.uses_accounts:  # the accounts table (SPEC §9): each account's resolved fields
        profiles = {lead.account: lead.account_profile for lead in journeys if lead.account}
        account_schema = T.StructType(
            [T.StructField("id", T.StringType())]
            + [T.StructField(n, spark_type(i.type)) for n, i in model.account_fields.items()]
        )
        account_rows = [
            (key, *[value(profile.get(n)) for n in model.account_fields])
            for key, profile in profiles.items()
        ]
        spark.createDataFrame(account_rows, account_schema).createOrReplaceTempView("accounts")
    event_rows = [
        (
            lead.id,
            event.type,
            from_seconds(event.at).replace(tzinfo=None),
            *[value(event.fields.get(n)) for n in events],
        )
        for lead in journeys
        for event in lead.events
    ]
    spark.createDataFrame(lead_rows, lead_schema).createOrReplaceTempView("leads")
    spark.createDataFrame(event_rows, event_schema).createOrReplaceTempView("events")


def _compare(
    spark: Any, model: CheckedPolicy, policy_file: str, journeys: list[Lead], as_of: float
) -> list[bytes]:  # journeys with accounts: as the reader groups them (with colleagues)
    """Run the printed Spark SQL; its decisions must equal the Python engine's."""
    from mqldsl.warehouse.compiler import compile_sql

    _tables(spark, model, journeys)
    instant = from_seconds(as_of).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, query, err = run("sql", policy_file, "--dialect", "spark", "--as-of", instant)
    assert code == 0, err
    frame = spark.sql(query.rstrip().rstrip(";"))
    reader = RowReader(compile_sql(model, as_of), frame.columns)
    got = {row["id"]: decision_line(reader(list(row)).decision) for row in frame.collect()}
    evaluator = Evaluator(model)
    expected = [decision_line(evaluator.decide(lead, as_of)) for lead in journeys]
    assert len(got) == len(journeys)
    for lead, line in zip(journeys, expected, strict=True):
        assert got[lead.id] == line, f"python: {line.decode()}\nspark:  {got[lead.id].decode()}"
    return expected


def test_acme_spark_sql_decides_like_python(spark: Any) -> None:
    policy = str(ROOT / "policies" / "acme.mql")
    model = check_file(policy).model
    assert model is not None
    journeys, end = generated("acme", model, 2000)
    lines = _compare(spark, model, policy, journeys, end)
    assert len({line.split(b'"stage":')[1][:8] for line in lines}) >= 4


def test_enterprise_spark_sql_with_decay_decides_like_python(spark: Any) -> None:
    policy = str(ROOT / "policies" / "enterprise.mql")
    model = check_file(policy).model
    assert model is not None
    journeys, end = generated("enterprise", model, 800)
    _compare(spark, model, policy, journeys, end)


def test_hostile_names_and_strings_in_spark(spark: Any, tmp_path: Any) -> None:
    policy = tmp_path / "hostile.mql"
    policy.write_text(HOSTILE, encoding="utf-8")
    model = checked(HOSTILE)
    journeys = hostile_journeys()
    as_of = parse_instant("2026-11-01T00:00:00Z")
    lines = _compare(spark, model, str(policy), journeys, as_of)
    assert b"Robert'); DROP TABLE leads;--" in lines[2]


def test_abm_spark_sql_with_accounts_decides_like_python(spark: Any, tmp_path: Any) -> None:
    """Account fields and account scores in the printed Spark SQL (SPEC §9): abm.mql without
    its recycle rule, on shuffled accounts of one to four leads."""
    from mqldsl.io.journeys import ReadReport
    from mqldsl.io.scoring import read_leads

    from .test_accounts import ABM_NO_RECYCLE
    from .test_spark_engine import _accounts

    policy = tmp_path / "abm.mql"
    policy.write_text(ABM_NO_RECYCLE, encoding="utf-8")
    model = checked(ABM_NO_RECYCLE)
    lines, as_of = _accounts(300)
    path = tmp_path / "abm.jsonl"
    path.write_bytes(b"".join(lines))
    journeys = list(read_leads(model, str(path), None, ReadReport()))
    assert any(lead.colleagues for lead in journeys)
    decided = _compare(spark, model, str(policy), journeys, as_of)
    assert len({line.split(b'"stage":')[1][:6] for line in decided}) >= 3
