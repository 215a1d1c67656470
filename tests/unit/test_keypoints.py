from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pose3d import keypoints as kps
from pose3d.frames import frames_table
from pose3d.io import read_parquet_metadata, write_parquet_atomic
from pose3d.schema import FRAMES_SCHEMA
from pose3d.skeleton import H36M17_JOINTS

PRODUCER = kps.Producer(name="test", code_sha256="c0de", model_sha256={"cpn": "beef"})


def _kp(n: int) -> np.ndarray:
    """Distinct, exactly representable pixel values: row r, joint j, axis a -> 100 r + 2 j + a."""
    r, j, a = np.meshgrid(np.arange(n), np.arange(17), np.arange(2), indexing="ij")
    return (100.0 * r + 2.0 * j + a).astype(np.float32)


def _rows(n: int = 3, **kw: object) -> kps.KeypointRows:
    fields: dict[str, object] = dict(
        source="stacked_hourglass",
        dataset="h36m",
        split="",
        subject="S1",
        action="Directions 1",
        camera="54138969",
        frame=np.arange(n),
        kp2d_px=_kp(n),
    )
    fields.update(kw)
    return kps.KeypointRows(**fields)  # type: ignore[arg-type]


def test_identity_columns_match_the_frames_schema() -> None:
    for name in kps.IDENTITY_COLUMNS:
        assert kps.KEYPOINTS_SCHEMA.field(name) == FRAMES_SCHEMA.field(name)


def test_round_trip_keeps_arrays_and_missing_joints_have_score_zero(tmp_path: Path) -> None:
    kp = _kp(3)
    kp[1, 9] = np.nan  # Neck missing in row 1
    box = np.array([[1, 2, 3, 4], [np.nan] * 4, [5, 6, 7, 8]], dtype=np.float32)
    table = kps.keypoints_table(_rows(kp2d_px=kp, box_xyxy_px=box, image_wh=(1000, 1002)))
    path = tmp_path / "sh.parquet"
    kps.write_keypoints(table, path, PRODUCER)

    arrays = kps.keypoints_to_arrays(kps.read_keypoints(path))
    np.testing.assert_array_equal(arrays.kp2d_px, kp)  # NaN == NaN for this helper
    assert arrays.scores[1, 9] == 0.0
    assert arrays.scores.sum() == 3 * 17 - 1  # every other joint present with score 1
    np.testing.assert_array_equal(arrays.box_xyxy_px, box)
    np.testing.assert_array_equal(arrays.image_wh, [[1000, 1002]] * 3)
    np.testing.assert_array_equal(arrays.frame, [0, 1, 2])
    np.testing.assert_array_equal(arrays.person, [0, 0, 0])


def test_file_metadata(tmp_path: Path) -> None:
    path = tmp_path / "k.parquet"
    kps.write_keypoints(kps.keypoints_table(_rows(image_wh=(1000, 1002))), path, PRODUCER)
    meta = read_parquet_metadata(path)
    assert meta["schema_version"] == kps.KEYPOINTS_SCHEMA_VERSION == 1
    assert meta["joint_names"] == list(H36M17_JOINTS)
    assert meta["sources"] == ["stacked_hourglass"]
    assert meta["image_sizes"] == {"54138969": [[1000, 1002]]}
    assert meta["producer"] == {
        "name": "test",
        "code_sha256": "c0de",
        "model_sha256": {"cpn": "beef"},
        "params": {},
    }


def test_readable_with_pandas_and_pyarrow_alone(tmp_path: Path) -> None:
    path = tmp_path / "k.parquet"
    kps.write_keypoints(kps.keypoints_table(_rows(2)), path, PRODUCER)
    df = pd.read_parquet(path)
    assert list(df.columns) == kps.KEYPOINTS_SCHEMA.names
    kp_pd = np.stack(list(df.kp2d_px)).reshape(-1, 17, 2)
    assert kp_pd[1, 3, 1] == 100 + 2 * 3 + 1
    col = pq.read_table(path).column("kp2d_px").combine_chunks()
    np.testing.assert_array_equal(col.flatten().to_numpy().reshape(-1, 17, 2), _kp(2))


def test_explicit_scores_and_persons_are_kept() -> None:
    scores = np.full((2, 17), 0.25, dtype=np.float32)
    table = kps.keypoints_table(
        _rows(2, frame=np.array([7, 7]), person=np.array([0, 1]), scores=scores)
    )
    arrays = kps.keypoints_to_arrays(table)
    np.testing.assert_array_equal(arrays.scores, scores)
    np.testing.assert_array_equal(arrays.person, [0, 1])


def test_missing_column_and_wrong_type_name_the_file_and_column(tmp_path: Path) -> None:
    table = kps.keypoints_table(_rows())
    path = tmp_path / "bad.parquet"
    meta = {"schema_version": 1, "joint_names": list(H36M17_JOINTS)}
    write_parquet_atomic(table.drop_columns(["scores"]), path, meta)
    with pytest.raises(ValueError, match=r"bad\.parquet: missing column 'scores'"):
        kps.read_keypoints(path)
    frame64 = table.set_column(5, "frame", table.column("frame").cast(pa.int64()))
    write_parquet_atomic(frame64, path, meta)
    with pytest.raises(ValueError, match=r"bad\.parquet: column 'frame' has type int64"):
        kps.read_keypoints(path)


def test_wrong_version_and_joint_names_are_rejected(tmp_path: Path) -> None:
    table = kps.keypoints_table(_rows())
    path = tmp_path / "k.parquet"
    write_parquet_atomic(table, path, {"schema_version": 2, "joint_names": list(H36M17_JOINTS)})
    with pytest.raises(ValueError, match=r"k\.parquet: schema_version is 2, expected 1"):
        kps.read_keypoints(path)
    write_parquet_atomic(table, path, {"schema_version": 1, "joint_names": ["Pelvis"]})
    with pytest.raises(ValueError, match=r"k\.parquet: joint_names"):
        kps.read_keypoints(path)


def test_wrong_joint_count_is_named(tmp_path: Path) -> None:
    table = kps.keypoints_table(_rows(2))
    flat16 = np.zeros(2 * 32, dtype=np.float32)
    kp16 = pa.FixedSizeListArray.from_arrays(pa.array(flat16), 32)
    bad = table.set_column(table.schema.get_field_index("kp2d_px"), "kp2d_px", kp16)
    path = tmp_path / "k16.parquet"
    write_parquet_atomic(bad, path, {"schema_version": 1, "joint_names": list(H36M17_JOINTS)})
    with pytest.raises(
        ValueError, match=r"k16\.parquet: column 'kp2d_px' holds 32 values per row, expected 34"
    ):
        kps.read_keypoints(path)
    with pytest.raises(ValueError, match=r"kp2d_px: expected shape \(N, 17, 2\)"):
        kps.keypoints_table(_rows(2, kp2d_px=np.zeros((2, 16, 2))))


def test_nan_keypoint_with_nonzero_score_is_rejected_on_build_and_read(tmp_path: Path) -> None:
    kp = _kp(2)
    kp[1, 4] = np.nan
    with pytest.raises(ValueError, match=r"row 1: joint 4 \(LHip\) is NaN .* nonzero score"):
        kps.keypoints_table(_rows(2, kp2d_px=kp, scores=np.ones((2, 17))))
    # A file written by someone else with the same mistake fails on read, naming the file.
    good = kps.keypoints_table(_rows(2, kp2d_px=kp))
    ones = pa.FixedSizeListArray.from_arrays(pa.array(np.ones(34, np.float32)), 17)
    bad = good.set_column(good.schema.get_field_index("scores"), "scores", ones)
    path = tmp_path / "k.parquet"
    write_parquet_atomic(bad, path, {"schema_version": 1, "joint_names": list(H36M17_JOINTS)})
    with pytest.raises(ValueError, match=r"k\.parquet: column 'scores' row 1: joint 4"):
        kps.read_keypoints(path)


def test_half_missing_joint_negative_score_and_null_keypoints_are_rejected() -> None:
    kp = _kp(2)
    kp[0, 2, 0] = np.nan  # u missing, v present
    with pytest.raises(ValueError, match=r"'kp2d_px' row 0: a joint is neither"):
        kps.keypoints_table(_rows(2, kp2d_px=kp))
    scores = np.ones((2, 17))
    scores[1, 0] = -1
    with pytest.raises(ValueError, match=r"'scores' row 1: scores must be >= 0"):
        kps.keypoints_table(_rows(2, scores=scores))
    good = kps.keypoints_table(_rows(2))
    nulls = pa.nulls(2, type=good.schema.field("kp2d_px").type)
    bad = good.set_column(good.schema.get_field_index("kp2d_px"), "kp2d_px", nulls)
    with pytest.raises(ValueError, match=r"here: column 'kp2d_px' is null in row 0"):
        kps.validate_keypoints(bad, "here")


def test_duplicated_rows_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"1 duplicated row key\(s\), first .*'frame': 4"):
        kps.keypoints_table(_rows(3, frame=np.array([3, 4, 4])))


def test_empty_table_is_a_valid_cache(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    kps.write_keypoints(kps.keypoints_table(_rows(0)), path, PRODUCER)
    arrays = kps.keypoints_to_arrays(kps.read_keypoints(path))
    assert arrays.kp2d_px.shape == (0, 17, 2)
    assert arrays.scores.shape == (0, 17)
    assert read_parquet_metadata(path)["sources"] == []


def test_missing_file_and_non_parquet(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        kps.read_keypoints(tmp_path / "nope.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(ValueError, match=r"junk\.parquet: not a readable Parquet file"):
        kps.read_keypoints(junk)


def test_joins_the_frames_table_on_identity() -> None:
    frames = frames_table(
        dataset="h36m",
        split="",
        subject="S1",
        action="Directions 1",
        camera="54138969",
        frame=np.arange(4),
        pose3d_cam_mm=np.zeros((4, 17, 3)),
    )
    keypoints = kps.keypoints_table(_rows(3, frame=np.array([9, 2, 1])))
    fi, ki = kps.match_rows(frames, keypoints)
    np.testing.assert_array_equal(fi, [1, 2])  # frames 1 and 2 ...
    np.testing.assert_array_equal(ki, [2, 1])  # ... are keypoint rows 2 and 1
    kp = kps.keypoints_to_arrays(keypoints.take(ki)).kp2d_px
    np.testing.assert_array_equal(kp[:, 0, 0], [200.0, 100.0])  # 100 * row


def test_files_sha256_follows_content(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("x = 1\n")
    first = kps.files_sha256([a])
    assert first == kps.files_sha256([a]) and len(first) == 64
    a.write_text("x = 2\n")
    assert kps.files_sha256([a]) != first
