"""Safe outputs, interruptions and the last-resort handler (issue #17, E950-E999): `-o`
replaces only regular files atomically (a symlink's target, not the link; a device or FIFO
is streamed to), refuses a directory, reports a place it cannot write with a position and
code; a run stopped by SIGTERM/SIGINT leaves no temporary file and the old output; an
unexpected exception names the file the run was at and keeps the old output."""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mqldsl.cli import main
from mqldsl.io.errors import InputProblem
from mqldsl.io.files import read_input, write_atomic

from .conftest import ROOT
from .helpers import run

ACME = str(ROOT / "policies" / "acme.mql")
SCENARIO = str(ROOT / "simulations" / "acme.toml")
SQL = ["sql", ACME, "--as-of", "2026-11-01"]


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The console script in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_.value.code
    return (code if isinstance(code, int) else 1), out, err


def no_temp(folder: Path) -> bool:
    return not [p for p in os.listdir(folder) if p.endswith(".tmp")]


@pytest.fixture(scope="module")
def query() -> str:
    code, out, err = run(*SQL)
    assert code == 0, err
    return out


# ---------------------------------------------------------------- where -o writes


def test_a_regular_file_is_replaced_and_keeps_its_mode(tmp_path: Path, query: str) -> None:
    target = tmp_path / "q.sql"
    target.write_text("old")
    target.chmod(0o640)
    code, _, err = run(*SQL, "-o", str(target))
    assert code == 0, err
    assert target.read_text() == query
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert no_temp(tmp_path)


def test_a_symlink_stays_a_link_and_its_target_gets_the_output(tmp_path: Path, query: str) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "q.sql"
    real.write_text("old")
    link = tmp_path / "q.sql"
    link.symlink_to(real)
    code, _, err = run(*SQL, "-o", str(link))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == query
    assert no_temp(tmp_path) and no_temp(tmp_path / "real")


def test_a_dangling_symlink_creates_its_target(tmp_path: Path, query: str) -> None:
    link = tmp_path / "q.sql"
    link.symlink_to(tmp_path / "new.sql")
    code, _, err = run(*SQL, "-o", str(link))
    assert code == 0, err
    assert link.is_symlink() and (tmp_path / "new.sql").read_text() == query


def test_a_fifo_is_streamed_to_and_stays_a_fifo(tmp_path: Path, query: str) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run(*SQL, "-o", str(fifo))
    reader.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received == [query.encode()]
    assert no_temp(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="mknod needs root")
def test_a_null_device_survives_as_a_device(tmp_path: Path) -> None:
    """`-o /dev/null` as root used to replace the device with a regular file. The test makes
    its own node with /dev/null's device number (1, 3), so that a regression cannot break the
    machine's /dev/null."""
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    code, _, err = run(*SQL, "-o", str(null))
    assert code == 0, err
    assert os.path.exists(null) and stat.S_ISCHR(os.stat(null).st_mode)
    assert os.stat(null).st_rdev == os.makedev(1, 3)
    assert null.read_bytes() == b""  # still the null device: what was written is gone
    assert no_temp(tmp_path)


def test_a_directory_is_refused_as_misuse(tmp_path: Path) -> None:
    code, _, err = run(*SQL, "-o", str(tmp_path))
    assert code == 2
    assert "is a directory" in err and "-o" in err


def test_a_directory_is_refused_by_the_library(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "l").symlink_to(tmp_path / "d")
    from mqldsl.io.errors import UsageProblem

    with pytest.raises(UsageProblem, match="is a directory"):
        write_atomic(tmp_path / "l", "x")
    assert (tmp_path / "l").is_symlink()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
@pytest.mark.parametrize("where", ["/proc/mqldsl-out.sql", "/proc/self/mqldsl-out.sql"])
def test_a_folder_that_cannot_take_a_file_is_a_positioned_problem(
    capsys: pytest.CaptureFixture[str], where: str
) -> None:
    code, _, err = run_main(capsys, *SQL, "-o", where)
    assert code == 1, err
    assert f"{where}: error[E950]: cannot create the output" in err
    assert "internal error" not in err and "Traceback" not in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="mknod needs root")
def test_a_write_that_fails_is_a_positioned_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A device whose writes fail with ENOSPC: the test's own node with /dev/full's device
    number (1, 7), so that a regression cannot replace the machine's /dev/full."""
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    code, _, err = run_main(capsys, *SQL, "-o", str(full))
    assert code == 1, err
    assert f"{full}: error[E951]: writing the output failed: No space left on device" in err
    assert "internal error" not in err
    assert stat.S_ISCHR(os.stat(full).st_mode) and no_temp(tmp_path)


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    from mqldsl.io.files import atomic_output

    with pytest.raises(RuntimeError), atomic_output(target) as sink:
        sink.write(b"half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert no_temp(tmp_path)


def test_no_writer_bypasses_io_files() -> None:
    """Every output of the package goes through mqldsl.io.files (atomic or streamed)."""
    offenders = []
    for path in sorted((ROOT / "mqldsl").rglob("*.py")):
        if path.name == "files.py" and path.parent.name == "io":
            continue
        text = path.read_text()
        for needle in ("os.replace(", "os.rename(", "write_text(", "write_bytes(", '"w")', '"wb")'):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    # warehouse/tables.py writes DuckDB's staging files in its own temporary folder;
    # language/parsecache.py its cache entries (no command's output; written atomically too)
    exempt = ("mqldsl/warehouse/tables.py", "mqldsl/language/parsecache.py")
    assert [o for o in offenders if not o.startswith(exempt)] == []


# ---------------------------------------------------------------- reading inputs


def test_read_input_names_the_file_line_and_column_of_a_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(b"a = 1\nb = '\xc3x'\n")
    with pytest.raises(InputProblem) as problem:
        read_input(path, "scenario")
    # the bad byte is on line 2, column 6 (1-based), counted here by hand
    assert problem.value.lines[0].startswith(f"{path}:2:6: error[E961]: the file is not UTF-8")


def test_read_input_refuses_a_directory_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(InputProblem) as problem:
        read_input(tmp_path, "scenario")
    assert problem.value.lines[0].startswith(f"{tmp_path}: error[E960]: cannot read the scenario")


def test_read_input_drops_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(b"\xef\xbb\xbfa = 1\n")
    assert read_input(path) == "a = 1\n"


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs /proc/self/mem")
def test_an_input_the_system_cannot_read_is_exit_1_with_its_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run_main(capsys, "score", ACME, "/proc/self/mem", "--as-of", "2026-11-01")
    assert code == 1, err
    assert "/proc/self/mem: error[E960]: cannot read the file" in err
    assert "internal error" not in err


# ---------------------------------------------------------------- the last resort


def test_an_unexpected_exception_names_the_file_and_keeps_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    journeys = tmp_path / "journeys.jsonl"
    code, _, err = run("generate", SCENARIO, "--leads", "20", "--seed", "3", "-o", str(journeys))
    assert code == 0, err
    out = tmp_path / "out.jsonl"
    out.write_text("previous decisions\n")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("mqldsl.io.journeys.JourneyReader.lead", broken)
    monkeypatch.setattr("mqldsl.io.journeys.JourneyReader.decoded", broken)  # typed decoding
    monkeypatch.setattr("mqldsl.io.fastdecode.FastDecoder.parts", broken)  # ... for engine/fused
    monkeypatch.delenv("MQLDSL_DEBUG", raising=False)
    code, _, err = run_main(
        capsys, "score", ACME, str(journeys), "--as-of", "2026-11-01", "-o", str(out)
    )
    assert code == 3
    assert f"internal error while reading {journeys}: RuntimeError: a bug" in err
    assert "please report it" in err
    assert f"{out}: left as it was" in err
    assert out.read_text() == "previous decisions\n"
    assert no_temp(tmp_path)


def test_ctrl_c_exits_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("mqldsl.warehouse.scoring.policy_sql", interrupted)
    code, _, err = run_main(capsys, *SQL)
    assert code == 130
    assert err.strip() == "interrupted"


# ---------------------------------------------------------------- signals, for real


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("many") / "journeys.jsonl"
    # Enough that a run is still writing well after its first batch of 10,000 decisions.
    code, _, err = run("generate", SCENARIO, "--leads", "40000", "--seed", "5", "-o", str(path))
    assert code == 0, err
    return path


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize(
    ("signum", "jobs", "group", "expected", "said"),
    [
        (signal.SIGTERM, 1, False, 143, "terminated"),
        (signal.SIGINT, 1, False, 130, "interrupted"),
        (signal.SIGINT, 2, True, 130, "interrupted"),  # Ctrl-C in a terminal: the whole group
        (signal.SIGTERM, 2, True, 143, "terminated"),
    ],
)
def test_a_signal_while_writing_leaves_the_old_output_and_no_temporary_file(
    many: Path, tmp_path: Path, signum: int, jobs: int, group: bool, expected: int, said: str
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    command = [sys.executable, "-m", "mqldsl", "score", ACME, str(many), "--as-of", "2026-11-01"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [*command, "-o", str(out), "--jobs", str(jobs)],
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        temps = glob.glob(str(tmp_path / ".out.jsonl.*.tmp"))
        with contextlib.suppress(FileNotFoundError):  # renamed: the run ended (asserted below)
            if temps and os.path.getsize(temps[0]) > 0:
                break
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before it was signalled"
    if group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == expected, err
    assert said in err.decode() and b"Traceback" not in err
    assert out.read_text() == "old\n"
    assert no_temp(tmp_path)


# ---------------------------------------------------------------- inputs the readers do not guard


TINY_MQLS = "mql_id,first_contact_date,landing_page_id,origin\nabc,2018-02-01,lp1,organic_search\n"


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ("folder", "cannot read the file: Is a directory"),
        ("missing.csv", "cannot read the file: No such file"),
    ],
)
def test_a_table_that_is_a_folder_or_missing_is_exit_1_with_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, said: str
) -> None:
    (tmp_path / "folder").mkdir()
    leads = tmp_path / "mqls.csv"
    leads.write_text(TINY_MQLS)
    code, _, err = run_main(
        capsys,
        *("import", str(leads), "--policy", str(ROOT / "policies" / "olist.mql")),
        *("--mapping", str(ROOT / "policies" / "olist.toml")),
        *("--table", f"deals={tmp_path / table}", "-o", str(tmp_path / "out.jsonl")),
    )
    assert code == 1, err
    assert f"{tmp_path / table}: error[E960]: {said}" in err
    assert "internal error" not in err
    assert not (tmp_path / "out.jsonl").exists() and no_temp(tmp_path)


def test_an_events_table_that_is_not_utf8_is_exit_1_with_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("id\na\n")
    events = tmp_path / "events.csv"
    events.write_bytes(b"lead_id,type,at\na,visit,2026-10-01T00:00:00Z \xff\n")
    code, _, err = run_main(
        capsys, "score", ACME, str(leads), "--events", str(events), "--as-of", "2026-11-01"
    )
    assert code == 1, err
    assert str(events) in err and "UTF-8" in err
    assert "internal error" not in err


def test_a_reader_that_marks_itself_is_named_innermost_first(tmp_path: Path) -> None:
    from mqldsl.io.files import reading, what_failed, writing

    try:
        with writing(tmp_path / "out.jsonl"), reading("scenario.toml"):
            raise ValueError("a bug")
    except ValueError as exc:
        doing = what_failed(exc)
    assert doing == [("reading", "scenario.toml"), ("writing", str(tmp_path / "out.jsonl"))]
