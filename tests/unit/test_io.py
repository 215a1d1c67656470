from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pose3d.io import (
    atomic_dir,
    atomic_path,
    read_parquet_metadata,
    read_parquet_validated,
    write_parquet_atomic,
)
from pose3d.schema import array_to_column, column_to_array


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_dir_replaces_on_success_only(tmp_path: Path) -> None:
    target = tmp_path / "tree"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    assert (target / "a").read_text() == "1"
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
        raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree"]


SCHEMA = pa.schema([pa.field("name", pa.string()), pa.field("kp", pa.list_(pa.float32(), 4))])


def _table() -> pa.Table:
    kp = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    kp[1] = np.nan
    return pa.table({"name": ["a", "b"], "kp": array_to_column(kp, 2, 4)}, schema=SCHEMA)


def test_parquet_round_trip_with_metadata(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_parquet_atomic(_table(), path, {"schema_version": 3, "units": {"kp": "px"}})
    assert read_parquet_metadata(path) == {"schema_version": 3, "units": {"kp": "px"}}
    table = read_parquet_validated(path, SCHEMA, 3)
    kp = column_to_array(table["kp"], (2, 2))
    np.testing.assert_array_equal(kp[0], [[0, 1], [2, 3]])
    assert np.isnan(kp[1]).all()


def test_parquet_validation_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_parquet_atomic(_table(), path, {"schema_version": 3})
    with pytest.raises(ValueError, match="schema_version is 3, expected 4"):
        read_parquet_validated(path, SCHEMA, 4)
    other = pa.schema([pa.field("name", pa.string()), pa.field("kp", pa.list_(pa.float32(), 6))])
    with pytest.raises(ValueError, match=r"t\.parquet: column 'kp' has type"):
        read_parquet_validated(path, other, 3)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="bad.parquet: not a readable Parquet file"):
        read_parquet_validated(tmp_path / "bad.parquet", SCHEMA, 3)


def test_array_to_column_checks_width() -> None:
    with pytest.raises(ValueError, match="expected 4 values per row, got 6"):
        array_to_column(np.zeros((2, 6)), 2, 4)


def test_empty_columns_round_trip() -> None:
    column = array_to_column(np.zeros((0, 2, 2)), 0, 4)
    assert len(column) == 0
    assert column_to_array(column, (2, 2)).shape == (0, 2, 2)


def test_atomic_files_get_the_usual_mode(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "f.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "f.txt").stat().st_mode & 0o044 == 0o044  # group/other may read


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full (Linux) to fill")
def test_a_full_disk_names_what_was_being_written(tmp_path: Path) -> None:
    def fill() -> None:
        with open("/dev/full", "wb") as full:  # every write: ENOSPC, "No space left on device"
            full.write(b"x" * 65536)
            full.flush()

    (tmp_path / "kept.json").write_text("{}")
    full = r"No space left on device while writing .*kept\.json"
    with pytest.raises(OSError, match=full), atomic_path(tmp_path / "kept.json"):
        fill()
    assert (tmp_path / "kept.json").read_text() == "{}" and len(list(tmp_path.iterdir())) == 1
    named = r"while writing .*/out \(nothing of it was written"
    with pytest.raises(OSError, match=named), atomic_dir(tmp_path / "out"):
        fill()
    with pytest.raises(OSError) as other, atomic_path(tmp_path / "x.bin"):
        raise PermissionError(13, "Permission denied")  # not a full disk: as it was
    assert "while writing" not in str(other.value)
