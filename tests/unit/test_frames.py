"""pose3d.frames: building, writing, reading and unpacking frames tables; boxes; stored paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pose3d.frames import (
    boxes_from_keypoints,
    concat_frames,
    empty_frames,
    frames_arrays,
    frames_table,
    read_frames,
    stored_path,
    write_frames,
)
from pose3d.io import read_parquet_metadata, write_parquet_atomic
from pose3d.schema import FRAMES_SCHEMA


def _table(n: int = 3) -> pa.Table:
    rng = np.random.default_rng(1)
    kp2d = rng.uniform(0, 500, size=(n, 17, 2))
    pose = rng.normal(0, 300, size=(n, 17, 3))
    pose[1] = np.nan  # an unknown pose -> null
    return frames_table(
        dataset="h36m",
        split="",
        subject=["S1", "S5", "S9"][:n],
        action="Walking 1",
        camera="54138969",
        frame=np.arange(n) * 5,
        image_path=["a.jpg", None, "c.jpg"][:n],
        image_width=1000,
        image_height=np.array([1002, 1002, 1000][:n]),
        box_xyxy_px=boxes_from_keypoints(kp2d, 0.1),
        kp2d_px=kp2d,
        pose3d_cam_mm=pose,
        root_cam_mm=rng.normal(0, 1000, size=(n, 3)),
    )


def test_round_trip(tmp_path) -> None:
    table = _table()
    path = tmp_path / "frames.parquet"
    write_frames(table, path, source={"root": "x"}, producer={"stage": "test"})
    back = frames_arrays(read_frames(path))
    before = frames_arrays(table)
    assert back["subject"].tolist() == ["S1", "S5", "S9"]
    assert back["image_path"].tolist() == ["a.jpg", None, "c.jpg"]
    assert back["frame"].tolist() == [0, 5, 10]
    assert back["image_height"].tolist() == [1002, 1002, 1000]
    assert back["kp2d_px"].shape == (3, 17, 2)
    np.testing.assert_array_equal(back["kp2d_px"], before["kp2d_px"])
    assert np.isnan(back["pose3d_cam_mm"][1]).all()
    assert np.isfinite(back["pose3d_cam_mm"][[0, 2]]).all()
    meta = read_parquet_metadata(path)
    assert meta["source"] == {"root": "x"} and meta["schema_version"] == 1


def test_pandas_reads_it_alone(tmp_path) -> None:
    path = tmp_path / "frames.parquet"
    write_frames(_table(), path, source={}, producer={})
    df = pd.read_parquet(path)
    assert list(df.columns) == FRAMES_SCHEMA.names
    assert df["pose3d_cam_mm"].iloc[1] is None
    assert len(df["kp2d_px"].iloc[0]) == 34


def test_all_null_columns_and_sizes() -> None:
    table = frames_table(
        dataset="challenge", split="Test", subject="", action="", camera="", frame=[1, 2]
    )
    arrays = frames_arrays(table)
    assert table.column("box_xyxy_px").null_count == 2
    assert arrays["image_width"].tolist() == [-1, -1]
    assert np.isnan(arrays["root_cam_mm"]).all() and arrays["root_cam_mm"].shape == (2, 3)


def test_bad_shapes_and_nulls_are_rejected() -> None:
    common = dict(dataset="h36m", split="", subject="S1", action="a", camera="c", frame=[0, 1])
    with pytest.raises(ValueError, match="kp2d_px has shape"):
        frames_table(**common, kp2d_px=np.zeros((2, 16, 2)))
    with pytest.raises(ValueError, match="'subject' has 3 rows"):
        frames_table(**{**common, "subject": ["S1", "S1", "S1"]})
    with pytest.raises(ValueError, match="may not contain nulls"):
        frames_table(**{**common, "camera": ["c", None]})
    with pytest.raises(ValueError, match="'frame' must be integers"):
        frames_table(**{**common, "frame": [0.0, 1.0]})


def test_concat_and_empty() -> None:
    assert concat_frames([]).num_rows == 0
    assert empty_frames().schema == FRAMES_SCHEMA
    both = concat_frames([_table(2), _table(3)])
    assert both.num_rows == 5 and both.schema == FRAMES_SCHEMA


def test_read_frames_rejects_wrong_schema(tmp_path) -> None:
    path = tmp_path / "bad.parquet"
    write_parquet_atomic(pa.table({"x": [1]}), path, {"schema_version": 1})
    with pytest.raises(ValueError, match="missing column 'dataset'"):
        read_frames(path)
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        read_frames(tmp_path / "nope.parquet")


def test_boxes_by_hand() -> None:
    kp = np.array([[[10.0, 20.0], [30.0, 60.0], [np.nan, np.nan]]])
    # extent 20 x 40; margin 0.1 adds 2 px left/right and 4 px top/bottom
    np.testing.assert_allclose(boxes_from_keypoints(kp, 0.1), [[8.0, 16.0, 32.0, 64.0]])
    # clipped to a 31 x 50 image
    np.testing.assert_allclose(boxes_from_keypoints(kp, 0.1, 31, 50), [[8.0, 16.0, 31.0, 50.0]])
    assert np.isnan(boxes_from_keypoints(np.full((1, 17, 2), np.nan), 0.1)).all()
    with pytest.raises(ValueError, match="margin"):
        boxes_from_keypoints(kp, -0.5)


def test_stored_path(tmp_path) -> None:
    inside = tmp_path / "data" / "img.jpg"
    assert stored_path(inside, base=tmp_path) == "data/img.jpg"
    outside = tmp_path.parent / "elsewhere" / "img.jpg"
    assert stored_path(outside, base=tmp_path) == outside.as_posix()
    assert stored_path("rel/x.jpg", base=None) == "rel/x.jpg"
