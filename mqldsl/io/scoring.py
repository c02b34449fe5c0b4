"""Scoring a journey file with the Python engine: read, validate, evaluate
and write decisions (JSON Lines or a CSV table), optionally across several
processes (`mqldsl score --jobs N`), keeping the input order and flat
memory. The DuckDB engine is in :mod:`mqldsl.warehouse.scoring`."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from mqldsl.analysis.checker import check_file
from mqldsl.analysis.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.runtime import Decision, Lead, TimelineTooLong
from mqldsl.io.accounts import grouped, index_accounts, read_accounts
from mqldsl.io.crm import CrmWriter, score_cell
from mqldsl.io.csvrows import open_input
from mqldsl.io.decisionlines import DecisionEncoder
from mqldsl.io.errors import InputProblem, UsageProblem
from mqldsl.io.journeys import (
    JourneyReader,
    Parts,
    ReadReport,
    RecordError,
    check_events_option,
    count_line,
    json_problem,
    record_id,
    remaining_lines,
)

if TYPE_CHECKING:
    from mqldsl.engine.explanation import Explanation

CHUNK = 2000


@dataclass
class ScoreOptions:
    """How to decide the leads: as of when, with which params, with each
    decision's explanation or not, in how many processes, and after how many
    rejected records to stop."""

    as_of: float
    params: dict[str, Any]
    explain: bool = False
    jobs: int = 1
    max_errors: int | None = None
    accounts: str | None = None  # the accounts file (SPEC §9), if any


_TIMELINE = "\x00E900:"  # marks a worker's E900 rejection


_ENCODER = DecisionEncoder()  # this process's caches (bounded), shared by its runs


def decision_line(decision: Decision, extra: dict[str, Any] | None = None) -> bytes:
    """The decision's JSON line, ``extra`` keys (an explanation) after its own."""
    if extra:
        return _ENCODER.line_with(decision, extra)
    return _ENCODER.line(decision)


class CsvWriter:
    """The flat table of SPEC §12: id, as_of, stage, one column per score,
    disqualified, queue."""

    def __init__(self, stream: IO[str], model: CheckedPolicy) -> None:
        self.scores = list(model.scores)
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow(["id", "as_of", "stage", *self.scores, "disqualified", "queue"])

    def write(self, decision: Decision) -> None:
        row: list[object] = [decision.id, _ENCODER.instant(decision.as_of), decision.stage]
        row += [score_cell(decision, s) for s in self.scores]
        row += ["; ".join(decision.disqualified), decision.route.queue if decision.route else ""]
        self.writer.writerow(row)


@dataclass(frozen=True)
class TableFormat:
    """CSV output: the flat table of SPEC §12 or, with ``crm``, the columns
    that CRM imports, ``stages`` giving its value of each stage."""

    crm: str | None = None
    stages: dict[str, str] | None = None

    def writer(self, stream: IO[str], model: CheckedPolicy) -> CsvWriter | CrmWriter:
        if self.crm is not None and self.stages is not None:
            return CrmWriter(stream, model, self.crm, self.stages)
        return CsvWriter(stream, model)


def write_table(
    sink: IO[bytes], model: CheckedPolicy, table: TableFormat, fill: Callable[[Any], int]
) -> int:
    """``fill(write)`` with ``write`` taking one decision into the CSV table
    on the binary ``sink``; what ``fill`` returns (the count written)."""
    text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=True)
    writer = table.writer(text, model)
    count = fill(writer.write)
    text.flush()
    text.detach()  # the sink stays open for its owner
    return count


def _evaluate_one(evaluator: Evaluator, lead: Lead, options: ScoreOptions) -> Decision | bytes:
    if options.explain:
        from mqldsl.engine.explain import explain  # (only here: `score` starts faster)

        result = evaluator.run(lead, options.as_of, explain=True)
        why = explain(evaluator.model, lead, result, interpreter=evaluator.reference)
        return decision_line(result.decision, {"explanation": why.to_json()})
    return evaluator.decide(lead, options.as_of)


# ---------------------------------------------------------------- parallel


@dataclass(frozen=True)
class _Worker:
    model: CheckedPolicy
    evaluator: Evaluator
    options: ScoreOptions
    reader: JourneyReader  # one per worker: the parent checks duplicates across chunks
    fused: Callable[..., bytes | None] | None  # engine/fused.py's, for this reader's records


def _worker(policy: str, params: dict[str, Any], options: ScoreOptions) -> _Worker:
    # Checked again in each worker: a spawned worker gets the path, not the model.
    result = check_file(policy)
    assert result.model is not None
    evaluator = Evaluator(result.model, params)
    reader = JourneyReader(result.model, check_duplicates=False)
    schema = reader.schema
    fused = None
    if schema is not None and not options.explain and not result.model.uses_accounts:
        fused = evaluator.fused(schema, _ENCODER.walked_line)
    return _Worker(result.model, evaluator, options, reader, fused)


# One line's outcome, from a worker: (its number, its id when it has one a lead can take, the
# decision's JSON line or the rejection's code, column and reason separated by tabs, what the
# validator ignored on it as [event types, profile fields, event fields, keys] or None).
_Outcome = tuple[int, str | None, bytes | str, list[dict[str, int]] | None]


def _work(worker: _Worker, chunk: list[tuple[int, bytes]]) -> list[_Outcome]:
    """Each line of ``chunk`` read and decided. What the validator ignores is kept per line:
    the parent drops it with a line it rejects as a duplicate, as one reader would have."""
    reader = worker.reader
    fused = worker.fused
    as_of = worker.options.as_of
    out: list[_Outcome] = []
    for number, line in chunk:
        parts = None if fused is None else reader.parts(line)
        if parts is not None:
            assert fused is not None
            try:
                fused_line = fused(*parts, as_of)
                if fused_line is None:  # left to evaluate (engine/fused.py)
                    whole = worker.evaluator.decide(reader.whole(parts), as_of)
                    fused_line = decision_line(whole)
            except TimelineTooLong as exc:
                out.append((number, parts[0].id, _TIMELINE + exc.message, None))
                continue
            out.append((number, parts[0].id, fused_line, None))
            continue
        lead = reader.decoded(line)  # typed decoding; the validator reads what it refuses
        lead_id = None if lead is None else lead.id
        notes = None
        if lead is None:
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                reason, column = json_problem(exc, line)
                out.append((number, None, f"E701\t{column}\t{reason}", None))
                continue
            lead_id = record_id(raw)
            reader.report = ReadReport()  # what this line alone makes it ignore
            try:
                lead = reader.lead(raw)
            except RecordError as exc:
                out.append((number, lead_id, f"{exc.code}\t0\t{exc}", reader.report.ignored()))
                continue
            notes = reader.report.ignored()
        try:
            result = _evaluate_one(worker.evaluator, lead, worker.options)
        except TimelineTooLong as exc:
            out.append((number, lead_id, _TIMELINE + exc.message, notes))
            continue
        decided = result if isinstance(result, bytes) else decision_line(result)
        out.append((number, lead_id, decided, notes))
    return out


def _chunks(path: str, counted: list[int]) -> Iterator[list[tuple[int, bytes]]]:
    """The numbered non-blank lines of ``path`` in chunks; ``counted[0]``: the lines read so
    far, blank ones too (all of them once the chunks are exhausted: a pipe is not read
    twice)."""
    with open_input(path) as stream:
        lines: Iterator[tuple[int, bytes]] = enumerate(stream, start=1)
        first = next(lines, None)
        if first is not None:  # a byte-order mark, as JourneyReader.read_jsonl drops it
            lines = itertools.chain([(1, first[1].removeprefix(b"\xef\xbb\xbf"))], lines)

        def numbered() -> Iterator[tuple[int, bytes]]:
            for n, line in lines:
                counted[0] = n
                if line.strip():
                    yield n, line

        taken = numbered()
        while True:
            chunk = list(itertools.islice(taken, CHUNK))
            if not chunk:
                return
            yield chunk


def score_parallel(
    policy: str, journeys: str, options: ScoreOptions, sink: IO[bytes], report: ReadReport
) -> int:
    """Decide the JSON Lines file ``journeys`` across ``options.jobs``
    processes, writing JSON Lines to ``sink`` in input order; the number of
    leads decided. ``policy`` is the policy's path (each worker checks it). The same
    decisions, rejections and notes as one process reading the file
    (:func:`score_sequential`)."""
    seen: set[str] = set()
    evaluated = 0
    full_at = 0  # the line whose rejection reached --max-errors
    counted = [0]  # the lines of the input read (_chunks)
    from mqldsl.engine.parallel import ordered_map  # (only with --jobs: `score` starts faster)

    results = ordered_map(
        _work, _chunks(journeys, counted), options.jobs, _worker, (policy, options.params, options)
    )
    with contextlib.closing(results):
        for part in results:
            for number, lead_id, payload, notes in part:
                if full_at:  # one reader stops at the next line (closing stops the workers)
                    _stop(report, journeys, full_at, options.max_errors)
                    return evaluated
                report.read += 1
                if lead_id is not None and lead_id in seen:
                    # (checked first, as the reader does: what else the line has is not read)
                    report.reject(journeys, number, f"duplicate id `{lead_id}`", "E704")
                else:
                    if notes is not None:
                        report.add_ignored(notes)
                    if isinstance(payload, bytes):
                        assert lead_id is not None
                        seen.add(lead_id)
                        sink.write(payload)
                        evaluated += 1
                    elif payload.startswith(_TIMELINE):
                        assert lead_id is not None
                        seen.add(lead_id)  # read, then refused: a later line is a duplicate
                        message = payload.removeprefix(_TIMELINE)
                        report.reject(journeys, number, message, code="E900")
                    else:
                        code, column, reason = payload.split("\t", 2)
                        report.reject(journeys, number, reason, code, int(column))
                if options.max_errors is not None and report.rejected_count >= options.max_errors:
                    full_at = number
    if full_at and counted[0] > full_at:  # blank lines after it: one reader reads one and
        _stop(report, journeys, full_at, options.max_errors, counted[0] - full_at)  # stops
    return evaluated


def _stop(
    report: ReadReport, journeys: str, line: int, limit: int | None, left: int | None = None
) -> None:
    """--max-errors (``limit``) stopped the reading after line ``line``; ``left``: the lines
    after it, when known (else counted in the file; -1 for a pipe, read once)."""
    report.limit = limit
    report.not_read = _lines_after(journeys, line) if left is None else left


def _lines_after(path: str, number: int) -> int:
    """The lines of the file ``path`` after its line ``number`` (-1: a stream, such as a
    pipe, that cannot be read again)."""
    if not Path(path).is_file():
        return -1
    with open_input(path) as stream:
        return remaining_lines(stream, b"") - number


# ---------------------------------------------------------------- sequential


def read_leads(
    model: CheckedPolicy,
    journeys: str,
    events: str | None,
    report: ReadReport,
    accounts: str | None = None,
) -> Iterator[Lead]:
    """The valid leads of a JSON Lines file, or of a leads CSV (with the
    events CSV ``events``); ``report`` collects the rejected records.
    With a policy that has accounts (SPEC §9), each lead comes with its colleagues
    and its account's fields (from the accounts file ``accounts`` or the leads'
    ``account_profile``), in input order (:mod:`mqldsl.io.accounts`).
    :class:`UsageProblem` for ``events`` with a JSON Lines file."""
    numbered = read_numbered_leads(model, journeys, events, report, accounts)
    return (lead for lead, _ in numbered)


def read_numbered_leads(
    model: CheckedPolicy,
    journeys: str,
    events: str | None,
    report: ReadReport,
    accounts: str | None = None,
) -> Iterator[tuple[Lead, int]]:
    """:func:`read_leads`, each lead with its line (in the leads table for a CSV)."""
    check_events_option(journeys, events)
    reader = JourneyReader(model, report)
    is_csv = Path(journeys).suffix.lower() == ".csv"
    leads = reader.read_csv(journeys, events) if is_csv else reader.read_jsonl(journeys)
    numbered = ((lead, reader.line) for lead in leads)
    if not model.uses_accounts:
        if accounts is not None:
            raise UsageProblem(
                "--accounts: the policy declares no account fields or account scores, so an "
                "accounts file would change nothing"
            )
        return numbered
    table = read_accounts(accounts, model, report) if accounts is not None else None
    last = None if is_csv else index_accounts(journeys)
    return grouped(numbered, journeys, report, table, last)


def score_sequential(
    model: CheckedPolicy,
    journeys: str,
    events: str | None,
    options: ScoreOptions,
    write: Callable[[Any], None],
    report: ReadReport,
    *,
    write_takes_lines: bool = False,
) -> int:
    """Decide the leads one after the other, passing each decision (or, with
    ``options.explain``, its JSON line) to ``write``; the count decided. With
    ``write_takes_lines`` (``write`` takes JSON lines too), a lead the fused function
    (engine/fused.py) decides is passed as its line."""
    evaluator = Evaluator(model, options.params)
    report.limit = options.max_errors
    evaluated = 0
    fused, reader = (
        _fused_reading(model, journeys, events, options, evaluator, report)
        if write_takes_lines
        else (None, None)
    )
    if fused is None or reader is None:
        numbered: Iterator[tuple[Lead | Parts, int]] = read_numbered_leads(
            model, journeys, events, report, options.accounts
        )
    else:
        numbered = ((lead, reader.line) for lead in reader.read_parts(journeys))
    as_of = options.as_of
    for lead, line in numbered:
        try:
            if isinstance(lead, tuple):  # read for the fused function (engine/fused.py)
                assert fused is not None and reader is not None
                line_bytes = fused(*lead, as_of)
                item: Decision | bytes = (
                    line_bytes
                    if line_bytes is not None
                    else evaluator.decide(reader.whole(lead), as_of)
                )
            else:
                item = _evaluate_one(evaluator, lead, options)
        except TimelineTooLong as exc:
            report.reject(journeys, line, exc.message, code="E900")
            continue
        write(item)
        evaluated += 1
    return evaluated


def _fused_reading(
    model: CheckedPolicy,
    journeys: str,
    events: str | None,
    options: ScoreOptions,
    evaluator: Evaluator,
    report: ReadReport,
) -> tuple[Callable[..., bytes | None] | None, JourneyReader | None]:
    """The fused function (engine/fused.py) and the reader whose leads it decides, when it
    serves this run (JSON Lines, no explanations, no accounts); (None, None) otherwise."""
    if options.explain or model.uses_accounts or Path(journeys).suffix.lower() == ".csv":
        return None, None
    check_events_option(journeys, events)
    reader = JourneyReader(model, report)
    schema = reader.schema
    fused = None if schema is None else evaluator.fused(schema, _ENCODER.walked_line)
    return (None, None) if fused is None else (fused, reader)


def score_journeys(
    model: CheckedPolicy,
    journeys: str,
    sink: IO[bytes],
    options: ScoreOptions,
    report: ReadReport,
    *,
    events: str | None = None,
    table: TableFormat | None = None,
) -> int:
    """Decide every lead of ``journeys`` (JSON Lines, or a leads CSV with
    ``events``) with the Python engine and write the decisions to ``sink`` in
    input order: JSON Lines, or the CSV ``table``. Runs in ``options.jobs``
    processes when that is above 1 (JSON Lines in and out only). Returns
    the number of leads decided; ``report`` collects the rejected records."""
    check_events_option(journeys, events)
    # A policy with accounts decides a lead with its colleagues: one process reads them.
    if options.jobs > 1 and not model.uses_accounts:
        return score_parallel(model.source.name, journeys, options, sink, report)
    if table is not None:
        return write_table(
            sink,
            model,
            table,
            lambda write: score_sequential(model, journeys, events, options, write, report),
        )

    def write(item: Decision | bytes) -> None:
        sink.write(item if isinstance(item, bytes) else decision_line(item))

    return score_sequential(model, journeys, events, options, write, report, write_takes_lines=True)


def find_lead(
    model: CheckedPolicy,
    journeys: str,
    events: str | None,
    lead_id: str,
    accounts: str | None = None,
    report: ReadReport | None = None,
) -> Lead:
    """The lead ``lead_id`` of a journeys file (with its colleagues, when the policy has
    accounts); :class:`LeadNotFound` if it has none. The whole file is read: ``report``
    collects every record rejected (a colleague's among them changes the lead's account)."""
    report = ReadReport() if report is None else report
    found = None
    for lead in read_leads(model, journeys, events, report, accounts):
        if lead.id == lead_id and found is None:
            found = lead
    if found is not None:
        return found
    line = report.rejected_ids.get(lead_id)
    message = (
        f"no lead with id `{lead_id}` in {journeys}"
        if line is None
        else f"the line of lead `{lead_id}` ({journeys}:{line}) was rejected (above): "
        "correct it, then ask again"
    )
    raise LeadNotFound(message, [problem.render() for problem in report.in_order()])


class LeadNotFound(LookupError):
    """No lead with that id; ``rejected`` lists the records that could not be
    read (one of them may have been it)."""

    def __init__(self, message: str, rejected: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.rejected = rejected


def explain_lead(
    model: CheckedPolicy, params: dict[str, Any], lead: Lead, as_of: float
) -> tuple[dict[str, Any], Explanation]:
    """A lead's decision (as JSON) and its explanation (`mqldsl explain`, `timeline`)."""
    from mqldsl.engine.explain import explain

    evaluator = Evaluator(model, params)
    try:
        result = evaluator.run(lead, as_of, explain=True)
    except TimelineTooLong as exc:
        raise InputProblem([f"error[E900]: {exc.message}"]) from None
    return result.decision.to_json(), explain(model, lead, result, evaluator.compiled.params)


def summary_lines(evaluated: int, report: ReadReport, shown: int = 20) -> list[str]:
    """The summary of reading records, for standard error: the first ``shown`` rejected
    records, the ignored data, where ``--max-errors`` stopped reading, and the counts (last)."""
    lines = [problem.render() for problem in report.in_order()[:shown]]
    if report.rejected_count > shown:
        lines.append(f"... and {report.rejected_count - shown:,} more rejected records")
    lines.extend(report.notes())
    if report.not_read is not None:
        left = report.not_read
        unread = (
            "the rest was not read"
            if left < 0
            else f"{left:,} line{'s' if left != 1 else ''} not read"
        )
        lines.append(
            f"stopped after {report.rejected_count:,} rejected "
            f"record{'s' if report.rejected_count != 1 else ''} (--max-errors); {unread}"
        )
    lines.append(count_line(report.read, evaluated, report.rejected_count))
    return lines
