"""`mqldsl score --engine spark`: the compiled Python evaluator inside Spark.

The SQL back end cannot express every policy (it refuses `recycle`, E601);
this engine can, because it runs the very evaluator `--engine python` runs
(:class:`mqldsl.engine.evaluator.Evaluator`), on Spark's executors, with
`mapInArrow`. A compiled evaluator cannot be pickled, so what travels to the
executors is the policy TEXT and the params (:class:`SparkJob`); each Python
worker checks and compiles it once and keeps it.

Reading keeps the Python engine's reporting, message for message:

* JSON Lines: the driver only splits the file into numbered lines (no
  decoding); each executor decodes and validates its lines with the same
  :class:`mqldsl.io.journeys.JourneyReader` and evaluates the good ones. The
  driver restores the input order by line number, checks duplicate ids in
  that order, adds the ignored-data counts line by line and stops where the
  Python engine stops with ``--max-errors``.
* A leads CSV with its events CSV: read and validated on the driver (the
  records of a lead span both files); the leads go to the executors pickled.
* A policy with accounts (SPEC §9): the driver reads and validates the leads
  (as for a CSV), each keyed by its account (a lead without one is a group of
  its own); Spark groups them by that key (a shuffle), and each group is
  settled on an executor as :func:`mqldsl.io.accounts.resolve_account` settles
  it for the Python engine (the accounts file's profile or the leads' own, the
  same E715 rejections), then each lead is decided with its colleagues.

The output is the Python engine's, byte for byte: the same JSON lines (or CSV
rows), in input order, with the same summary.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from mqldsl.analysis.checker import check_text
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.explain import explain
from mqldsl.engine.runtime import Lead, TimelineTooLong
from mqldsl.io.accounts import AccountRecord, read_accounts, resolve_account
from mqldsl.io.csvrows import open_input
from mqldsl.io.errors import InputProblem
from mqldsl.io.journeys import (
    JourneyReader,
    ReadReport,
    RecordError,
    check_events_option,
    json_problem,
    record_id,
)
from mqldsl.io.scoring import (
    ScoreOptions,
    TableFormat,
    decision_line,
    read_numbered_leads,
    write_table,
)
from mqldsl.language.includes import reader_of

# What an executor sends back for one input record.
OUTPUT_SCHEMA = "n long, kind string, id string, payload binary, ignored binary"
_OK, _REJECTED, _TOO_LONG = "ok", "rejected", "too long"
_IN_ACCOUNT = "rejected in its account"  # payload: [code, message, hint, line] as JSON


@dataclass(frozen=True)
class SparkJob:
    """What every executor needs, all of it picklable: the policy as text
    (with the name its diagnostics use), the params, the as-of instant, and
    how to write a decision (``pickled``: the :class:`Decision` itself, for
    a CSV table the driver writes; otherwise its JSON line)."""

    policy_text: str
    policy_name: str
    params: dict[str, Any]
    as_of: float
    explain: bool = False
    pickled: bool = False
    # The files the policy includes (SPEC §3.1), by the name it reads them by, with their
    # text: executors need not see the driver's files.
    included: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, model: CheckedPolicy, options: ScoreOptions, pickled: bool = False) -> SparkJob:
        return cls(
            model.source.text,
            model.source.name,
            dict(options.params),
            options.as_of,
            options.explain,
            pickled,
            tuple((file.name, file.source.text) for file in model.includes),
        )


# One compiled evaluator per policy and params in each Python worker process.
_COMPILED: dict[tuple[str, str, bytes], Evaluator] = {}


def job_evaluator(job: SparkJob) -> Evaluator:
    """The job's evaluator, checked and compiled once per worker process."""
    key = (
        job.policy_name,
        job.policy_text,
        pickle.dumps((sorted(job.params.items()), job.included)),
    )
    evaluator = _COMPILED.get(key)
    if evaluator is None:
        read = reader_of(dict(job.included)) if job.included else None
        model = check_text(job.policy_text, job.policy_name, read).model
        if model is None:  # pragma: no cover - the driver checked the same text
            raise ValueError(f"{job.policy_name}: the policy does not check on the executor")
        evaluator = _COMPILED[key] = Evaluator(model, job.params)
    return evaluator


def _decided(job: SparkJob, evaluator: Evaluator, lead: Lead) -> bytes:
    if job.explain:
        result = evaluator.run(lead, job.as_of, explain=True)
        why = explain(evaluator.model, lead, result, interpreter=evaluator.reference)
        return decision_line(result.decision, {"explanation": why.to_json()})
    decision = evaluator.decide(lead, job.as_of)
    return pickle.dumps(decision) if job.pickled else decision_line(decision)


def _ignored(report: ReadReport) -> bytes:
    """The ignored-data counts one record added (then cleared), as JSON; b"" for none."""
    counts = report.ignored()
    if counts is None:
        return b""
    report.clear_ignored()
    return orjson.dumps(counts)


def decide_line(
    job: SparkJob, reader: JourneyReader, line: bytes
) -> tuple[str, str | None, bytes, bytes]:
    """One JSON line decided as the Python engine decides it: (kind, the id
    the line names, the decision or the rejection, the ignored-data counts)."""
    evaluator = job_evaluator(job)
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        reason, column = json_problem(exc, line)
        return _REJECTED, None, f"E701\t{column}\t{reason}".encode(), b""
    lead_id = record_id(raw)
    try:
        lead = reader.lead(raw)
    except RecordError as exc:
        return _REJECTED, lead_id, f"{exc.code}\t0\t{exc}".encode(), _ignored(reader.report)
    ignored = _ignored(reader.report)
    try:
        return _OK, lead_id, _decided(job, evaluator, lead), ignored
    except TimelineTooLong as exc:
        return _TOO_LONG, lead_id, exc.message.encode(), ignored


def decide_lead(job: SparkJob, lead: Lead) -> tuple[str, str | None, bytes, bytes]:
    """One lead the driver read, decided (kind, id, the decision or the message, b"")."""
    try:
        return _OK, lead.id, _decided(job, job_evaluator(job), lead), b""
    except TimelineTooLong as exc:
        return _TOO_LONG, lead.id, exc.message.encode(), b""


def arrow_decider(job: SparkJob, leads: bool) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """The function `mapInArrow` runs: record batches of (n, record) to
    batches of :data:`OUTPUT_SCHEMA`; a record is a JSON line, or a pickled
    :class:`Lead` when ``leads``."""

    def decide(batches: Iterable[Any]) -> Iterator[Any]:
        import pyarrow as pa

        reader = None if leads else JourneyReader(job_evaluator(job).model, check_duplicates=False)
        for batch in batches:
            numbers = batch.column("n").to_pylist()
            records = batch.column("record").to_pylist()
            columns: tuple[list[Any], ...] = ([], [], [], [], [])
            for number, record in zip(numbers, records, strict=True):
                if reader is None:
                    out = decide_lead(job, pickle.loads(record))
                else:
                    out = decide_line(job, reader, record)
                for column, value in zip(columns, (number, *out), strict=True):
                    column.append(value)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(columns[0], pa.int64()),
                    pa.array(columns[1], pa.string()),
                    pa.array(columns[2], pa.string()),
                    pa.array(columns[3], pa.binary()),
                    pa.array(columns[4], pa.binary()),
                ],
                names=["n", "kind", "id", "payload", "ignored"],
            )

    return decide


#: The driver heap a session mqldsl starts itself gets per byte of input (the input passes
#: through the driver, see docs/spark.md): with Spark's default of 1 GB, 100,000 Acme leads
#: (216 MB of JSON Lines) stall in garbage collection; 4 GB decide them in 37 s.
DRIVER_BYTES_PER_INPUT_BYTE = 16
DRIVER_MEMORY_MIN = 1 << 30


def driver_memory(input_bytes: int, physical: int | None) -> str | None:
    """The `spark.driver.memory` for a session started for ``input_bytes`` of input: 16 times
    the input, at least 1 GB, at most half of the ``physical`` memory (None: unknown); None
    when Spark's default (1 GB) is enough."""
    wanted = input_bytes * DRIVER_BYTES_PER_INPUT_BYTE
    if physical is not None:
        wanted = min(wanted, physical // 2)
    if wanted <= DRIVER_MEMORY_MIN:
        return None
    return f"{wanted >> 20}m"


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not on Linux or macOS
        return None


def driver_memory_set() -> bool:
    """Whether the user chose the driver's memory (spark-submit, PYSPARK_SUBMIT_ARGS,
    spark-defaults.conf): mqldsl then leaves it alone."""
    if "driver-memory" in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
        return True
    if os.environ.get("SPARK_DRIVER_MEMORY"):
        return True
    home = os.environ.get("SPARK_CONF_DIR") or (
        os.path.join(os.environ["SPARK_HOME"], "conf") if os.environ.get("SPARK_HOME") else None
    )
    if home:
        defaults = Path(home) / "spark-defaults.conf"
        try:
            return "spark.driver.memory" in defaults.read_text(errors="replace")
        except OSError:
            return False
    return False


def spark_session(input_bytes: int = 0) -> Any:
    """The active Spark session, or a new one (its master and settings from
    `spark-submit` or `spark-defaults.conf`; local on all cores otherwise)
    that logs errors only. A session started here for ``input_bytes`` of input gets
    the driver memory :func:`driver_memory` says, unless the user set it."""
    try:
        import pandas  # noqa: F401  (pyspark's Arrow functions require it)
        import pyarrow  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise InputProblem(
            [
                f"error: --engine spark needs {exc.name}: pip install 'mqldsl[spark]' "
                "(pyspark, pyarrow, pandas) and a Java runtime"
            ]
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    try:
        builder = SparkSession.builder.appName("mqldsl score").config(
            "spark.ui.showConsoleProgress",
            "false",  # no progress bars on stderr
        )
        memory = driver_memory(input_bytes, _physical_memory())
        if memory is not None and not driver_memory_set():
            builder = builder.config("spark.driver.memory", memory)
        session = builder.getOrCreate()
    except Exception as exc:  # no Java, a bad master: Spark's own exception types vary
        raise InputProblem([f"error: Spark did not start: {spark_problem(exc)}"]) from None
    session.sparkContext.setLogLevel("ERROR")  # warnings would mix with the summary
    return session


def spark_problem(exc: Exception) -> str:
    """The first line of a Spark failure."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def account_decider(
    job: SparkJob, accounts: dict[str, AccountRecord], file: str
) -> Callable[[Any], Any]:
    """The function `applyInPandas` runs on the leads of one account (columns ``n``, the
    lead's place in the input, ``line``, the line the reader reports it at, and ``record``,
    the pickled lead): the account settled as the Python engine settles it, then each lead
    decided with its colleagues; rows of :data:`OUTPUT_SCHEMA`."""

    def decide(frame: Any) -> Any:
        import pandas as pd

        members = sorted(
            (int(n), int(line), pickle.loads(record))
            for n, line, record in zip(frame["n"], frame["line"], frame["record"], strict=True)
        )
        rows: list[tuple[int, str, str | None, bytes, bytes]] = []
        order = {id(lead): n for n, _, lead in members}
        account = members[0][2].account
        if account is None:  # a lead without an account: an account of its own
            resolved = [(lead, lead, line) for _, line, lead in members]
        else:
            leads = [(lead, line) for _, line, lead in members]
            resolved, rejected = resolve_account(account, leads, accounts.get(account), file)
            kept = {id(original) for original, _, _ in resolved}
            dropped = [(n, lead) for n, _, lead in members if id(lead) not in kept]
            for (n, lead), (line, message, code, hint) in zip(dropped, rejected, strict=True):
                payload = orjson.dumps([code, message, hint, line])
                rows.append((n, _IN_ACCOUNT, lead.id, payload, b""))
        for original, lead, _ in resolved:
            rows.append((order[id(original)], *decide_lead(job, lead)))
        return pd.DataFrame(rows, columns=["n", "kind", "id", "payload", "ignored"])

    return decide


def _account_rows(
    session: Any,
    job: SparkJob,
    leads: Iterable[tuple[Lead, int]],
    accounts: dict[str, AccountRecord],
    file: str,
) -> tuple[Iterator[Any], list[int]]:
    """The executors' rows for a policy with accounts, in input order: the leads (each with
    the line the reader reports it at) read on the driver, grouped by account in Spark; and
    the line of each row's number."""
    records = []
    lines = []
    for n, (lead, line) in enumerate(leads):
        key = f"l:{lead.id}" if lead.account is None else f"a:{lead.account}"
        records.append((n, line, key, pickle.dumps(lead)))
        lines.append(line)
    frame = session.createDataFrame(records, "n long, line long, gk string, record binary")
    with warnings.catch_warnings():  # pyspark warns of pandas versions it has not tried
        warnings.simplefilter("ignore", FutureWarning)
        decided = frame.groupBy("gk").applyInPandas(
            account_decider(job, accounts, file), OUTPUT_SCHEMA
        )
    return iter(decided.orderBy("n").toLocalIterator()), lines


def _read_numbered(
    model: CheckedPolicy, journeys: str, events: str | None, report: ReadReport
) -> Iterator[tuple[Lead, int]]:
    """The valid leads of a JSON Lines file or a leads CSV, each with its line (as
    :func:`mqldsl.io.scoring.read_leads` numbers them), not yet grouped by account."""
    check_events_option(journeys, events)
    reader = JourneyReader(model, report)
    is_csv = Path(journeys).suffix.lower() == ".csv"
    for lead in reader.read_csv(journeys, events) if is_csv else reader.read_jsonl(journeys):
        yield lead, reader.line


def _decided_rows(
    session: Any, job: SparkJob, records: list[tuple[int, bytes]], leads: bool
) -> Iterator[Any]:
    """The executors' rows for ``records``, in input (line) order."""
    frame = session.createDataFrame(records, "n long, record binary")
    with warnings.catch_warnings():  # pyspark warns of pandas versions it has not tried
        warnings.simplefilter("ignore", FutureWarning)
        decided = frame.mapInArrow(arrow_decider(job, leads), OUTPUT_SCHEMA)
    return iter(decided.orderBy("n").toLocalIterator())


def _lines(journeys: str) -> tuple[list[tuple[int, bytes]], int]:
    """The numbered non-blank lines of a JSON Lines file (without a byte-order mark, as
    the reader drops it), and its number of lines."""
    numbered: list[tuple[int, bytes]] = []
    total = 0
    with open_input(journeys) as stream:
        for total, line in enumerate(stream, start=1):
            if total == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            if line.strip():
                numbered.append((total, line))
    return numbered, total


def _same(number: int) -> int:
    return number


def _no_line(number: int) -> int:
    return 0


def score_spark(
    model: CheckedPolicy,
    journeys: str,
    events: str | None,
    options: ScoreOptions,
    sink: IO[bytes],
    report: ReadReport,
    table: TableFormat | None = None,
    leads_table: str | None = None,
) -> int:
    """Decide every lead of ``journeys`` (JSON Lines, or a leads CSV with
    ``events``) on Spark and write the decisions to ``sink`` in input order,
    exactly as :func:`mqldsl.io.scoring.score_journeys` does with one
    process: JSON Lines, or the CSV ``table``; the number decided. With
    ``leads_table`` (Parquet; ``journeys`` is then ignored) the tables are
    checked as `--engine duckdb` checks them."""
    job = SparkJob.of(model, options, pickled=table is not None)
    report.limit = options.max_errors
    try:
        size = sum(os.path.getsize(p) for p in (journeys, events, leads_table) if p and p != "-")
    except OSError:
        size = 0  # the readers report an unreadable input with its own message
    session = spark_session(size)
    if model.uses_accounts:
        # Read (and the accounts file) on the driver, grouped by account in Spark.
        if leads_table is not None:
            from mqldsl.warehouse.spark_tables import table_leads

            journeys = leads_table
            found = table_leads(model, leads_table, events, options.as_of, report)
            numbered: Iterable[tuple[Lead, int]] = ((lead, 0) for lead in found)
        else:
            numbered = _read_numbered(model, journeys, events, report)
        records = read_accounts(options.accounts, model, report) if options.accounts else {}
        rows, lines_of = _account_rows(session, job, numbered, records, journeys)
        total = 0
        line_of: Callable[[int], int] = lines_of.__getitem__
    elif leads_table is not None:
        from mqldsl.warehouse.spark_tables import table_leads

        journeys = leads_table
        found = table_leads(model, leads_table, events, options.as_of, report)
        leads = [(n, pickle.dumps(lead)) for n, lead in enumerate(found)]
        rows = _decided_rows(session, job, leads, leads=True)
        total = 0
        line_of = _no_line  # (a table's rows have no lines)
    elif Path(journeys).suffix.lower() == ".csv":
        # (numbered by their lines in the leads table: the order, and where E900 is reported)
        leads = [
            (line, pickle.dumps(lead))
            for lead, line in read_numbered_leads(model, journeys, events, report)
        ]
        rows = _decided_rows(session, job, leads, leads=True)
        total = 0
        line_of = _same
    else:
        lines, total = _lines(journeys)
        rows = _decided_rows(session, job, lines, leads=False)
        line_of = _same

    def fill(write: Callable[[bytes], object]) -> int:
        try:
            return _collect(rows, journeys, total, report, write, line_of)
        except InputProblem:
            raise
        except Exception as exc:  # a failed job surfaces as a py4j or pyspark exception
            if type(exc).__module__.split(".")[0] not in ("pyspark", "py4j"):
                raise
            raise InputProblem([f"error: Spark failed: {spark_problem(exc)}"]) from None

    if table is not None:
        return write_table(sink, model, table, lambda write: fill(lambda p: write(pickle.loads(p))))
    return fill(sink.write)


def _collect(
    rows: Iterator[Any],
    journeys: str,
    total: int,
    report: ReadReport,
    write: Callable[[bytes], object],
    line_of: Callable[[int], int],
) -> int:
    """Report and write the executors' rows in order, as the sequential reader
    would have (duplicates, ignored-data counts, the stop at the limit); ``line_of``: the
    line a row's number stands for (E900 is reported there)."""
    seen: set[str] = set()
    evaluated = last = 0
    for number, kind, lead_id, payload, counts in rows:
        if total and report.full:
            break
        last = number
        if total:  # JSON Lines: the executors read; a CSV was counted on the driver
            report.read += 1
            if lead_id is not None and lead_id in seen:
                report.reject(journeys, number, f"duplicate id `{lead_id}`", "E704")
                continue
            if counts:
                report.add_ignored(orjson.loads(counts))
        if kind == _REJECTED:
            code, column, reason = payload.decode().split("\t", 2)
            report.reject(journeys, number, reason, code, int(column))
            continue
        if kind == _IN_ACCOUNT:
            code, reason, hint, line = orjson.loads(payload)
            report.reject(journeys, line, reason, code, hint=hint)
            continue
        assert lead_id is not None
        seen.add(lead_id)
        if kind == _TOO_LONG:
            report.reject(journeys, line_of(number), payload.decode(), code="E900")
            continue
        write(payload)
        evaluated += 1
    if total and report.full and last < total:  # where the sequential reader stops
        report.not_read = total - last
    return evaluated


__all__ = [
    "OUTPUT_SCHEMA",
    "SparkJob",
    "account_decider",
    "arrow_decider",
    "decide_lead",
    "decide_line",
    "job_evaluator",
    "score_spark",
    "spark_problem",
    "spark_session",
]
