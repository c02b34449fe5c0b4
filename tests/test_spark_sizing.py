"""The driver memory a Spark session started by mqldsl asks for (the input passes through
the driver: docs/spark.md). Pure functions: no Spark needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqldsl.warehouse import spark_engine
from mqldsl.warehouse.spark_engine import driver_memory

GB = 1 << 30


def test_small_inputs_keep_sparks_default() -> None:
    assert driver_memory(0, 16 * GB) is None
    assert driver_memory(50 * (1 << 20), 16 * GB) is None  # 50 MB x 16 = 800 MB < 1 GB


def test_the_heap_grows_with_the_input_up_to_half_the_machine() -> None:
    # 216 MB of JSON Lines (100,000 Acme leads) stalled with 1 GB: 16 times the input.
    assert driver_memory(216 * (1 << 20), 23 * GB) == f"{216 * 16}m"
    assert driver_memory(10 * GB, 23 * GB) == f"{(23 * GB // 2) >> 20}m"
    assert driver_memory(200 * (1 << 20), None) == f"{200 * 16}m"


def test_a_users_choice_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("PYSPARK_SUBMIT_ARGS", "SPARK_DRIVER_MEMORY", "SPARK_CONF_DIR", "SPARK_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert not spark_engine.driver_memory_set()
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", "--driver-memory 2g pyspark-shell")
    assert spark_engine.driver_memory_set()
    monkeypatch.delenv("PYSPARK_SUBMIT_ARGS")
    (tmp_path / "spark-defaults.conf").write_text("spark.executor.memory 2g\n")
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    assert not spark_engine.driver_memory_set()
    (tmp_path / "spark-defaults.conf").write_text("spark.driver.memory 6g\n")
    assert spark_engine.driver_memory_set()
