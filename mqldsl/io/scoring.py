"""Scoring a journey file: read, validate, evaluate and write decisions,
optionally across several processes (`mqldsl score --jobs N`), keeping the
input order and flat memory."""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from mqldsl.check.checker import check_file
from mqldsl.check.model import CheckedPolicy
from mqldsl.engine.evaluator import Evaluator
from mqldsl.engine.explain import explanation
from mqldsl.engine.runtime import Decision, Lead
from mqldsl.io.journeys import JourneyReader, ReadReport, RecordError

CHUNK = 2000


@dataclass
class ScoreOptions:
    as_of: float
    params: dict[str, Any]
    explain: bool = False
    jobs: int = 1
    max_errors: int | None = None


def decision_line(decision: Decision, extra: dict[str, Any] | None = None) -> bytes:
    data = decision.to_json()
    if extra:
        data.update(extra)
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS) + b"\n"


class CsvWriter:
    """The flat table of SPEC §12: id, as_of, stage, one column per score,
    disqualified, queue."""

    def __init__(self, stream: IO[str], model: CheckedPolicy) -> None:
        self.scores = list(model.scores)
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow(["id", "as_of", "stage", *self.scores, "disqualified", "queue"])

    def write(self, decision: Decision) -> None:
        data = decision.to_json()
        row = [data["id"], data["as_of"], data["stage"]]
        row += ["" if data["scores"][s] is None else data["scores"][s] for s in self.scores]
        row += ["; ".join(data["disqualified"]), data["route"]["queue"] if data["route"] else ""]
        self.writer.writerow(row)


def _evaluate_one(evaluator: Evaluator, lead: Lead, options: ScoreOptions) -> Decision | bytes:
    if options.explain:
        result = evaluator.run(lead, options.as_of, explain=True)
        return decision_line(
            result.decision, {"explanation": explanation(evaluator.model, lead, result)}
        )
    return evaluator.decide(lead, options.as_of)


# ---------------------------------------------------------------- parallel


_WORKER: dict[str, Any] = {}


def _init_worker(policy: str, params: dict[str, Any], options: ScoreOptions) -> None:
    result = check_file(policy)
    assert result.model is not None
    _WORKER["model"] = result.model
    _WORKER["evaluator"] = Evaluator(result.model, params)
    _WORKER["options"] = options


def _work(chunk: list[tuple[int, bytes]]) -> list[tuple[int, str | None, bytes | str]]:
    """Per line: (line number, id or None, the output line or the rejection reason)."""
    model: CheckedPolicy = _WORKER["model"]
    evaluator: Evaluator = _WORKER["evaluator"]
    options: ScoreOptions = _WORKER["options"]
    reader = JourneyReader(model, check_duplicates=False)  # the parent checks across chunks
    out: list[tuple[int, str | None, bytes | str]] = []
    for number, line in chunk:
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            out.append((number, None, f"invalid JSON: {str(exc).splitlines()[0][:120]}"))
            continue
        try:
            lead = reader.lead(raw)
        except RecordError as exc:
            out.append((number, None, str(exc)))
            continue
        result = _evaluate_one(evaluator, lead, options)
        out.append(
            (number, lead.id, result if isinstance(result, bytes) else decision_line(result))
        )
    counters = reader.report
    out.append(
        (
            -1,
            None,
            orjson.dumps(
                [
                    dict(counters.unknown_event_types),
                    dict(counters.unknown_fields),
                    dict(counters.unknown_event_fields),
                ]
            ).decode(),
        )
    )
    return out


def _chunks(path: str) -> Iterator[list[tuple[int, bytes]]]:
    with open(path, "rb") as stream:
        numbered = ((n, line) for n, line in enumerate(stream, start=1) if line.strip())
        while True:
            chunk = list(itertools.islice(numbered, CHUNK))
            if not chunk:
                return
            yield chunk


def score_parallel(
    policy: str, journeys: str, options: ScoreOptions, sink: IO[bytes], report: ReadReport
) -> int:
    import multiprocessing

    seen: set[str] = set()
    evaluated = 0
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(
        options.jobs, initializer=_init_worker, initargs=(policy, options.params, options)
    ) as pool:
        for results in pool.imap(_work, _chunks(journeys), chunksize=1):
            for number, lead_id, payload in results:
                if number == -1:
                    assert isinstance(payload, str)
                    types, fields, event_fields = orjson.loads(payload)
                    report.unknown_event_types.update(types)
                    report.unknown_fields.update(fields)
                    report.unknown_event_fields.update(event_fields)
                    continue
                report.read += 1
                if lead_id is None:
                    assert isinstance(payload, str)
                    report.reject(journeys, number, payload)
                elif lead_id in seen:
                    report.reject(journeys, number, f"duplicate id `{lead_id}`")
                else:
                    seen.add(lead_id)
                    assert isinstance(payload, bytes)
                    sink.write(payload)
                    evaluated += 1
                if options.max_errors is not None and report.rejected_count >= options.max_errors:
                    pool.terminate()
                    return evaluated
    return evaluated


# ---------------------------------------------------------------- sequential


def read_leads(
    model: CheckedPolicy, journeys: str, events: str | None, report: ReadReport
) -> Iterator[Lead]:
    reader = JourneyReader(model, report)
    if Path(journeys).suffix.lower() == ".csv":
        return reader.read_csv(journeys, events)
    return reader.read_jsonl(journeys)


def score_sequential(
    model: CheckedPolicy,
    journeys: str,
    events: str | None,
    options: ScoreOptions,
    write: Any,
    report: ReadReport,
) -> int:
    evaluator = Evaluator(model, options.params)
    report.limit = options.max_errors
    evaluated = 0
    for lead in read_leads(model, journeys, events, report):
        write(_evaluate_one(evaluator, lead, options))
        evaluated += 1
    return evaluated


def summary_lines(evaluated: int, report: ReadReport, shown: int = 20) -> list[str]:
    lines = [f"{file}:{line}: {reason}" for file, line, reason in report.rejected[:shown]]
    if report.rejected_count > shown:
        lines.append(f"... and {report.rejected_count - shown} more rejected records")
    lines.extend(report.notes())
    lines.append(f"{evaluated} leads evaluated, {report.rejected_count} rejected")
    return lines
