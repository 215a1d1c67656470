"""pose3d.formats.h36m_cdf: release CDF poses and the choice of pose source."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d.formats.h36m import poses_path, write_positions
from pose3d.formats.h36m_cdf import (
    cdf_poses_path,
    list_cdf_actions,
    read_cdf_positions,
    read_sequence,
    resolve_pose_source,
    write_cdf_positions,
)


def _poses(n: int = 4) -> np.ndarray:
    return np.random.default_rng(3).normal(0.0, 500.0, size=(n, 32, 3))


def test_cdf_round_trip_and_layout(tmp_path) -> None:
    path = cdf_poses_path(tmp_path, "S1", "Walking 1")
    assert path == tmp_path / "S1/MyPoseFeatures/D3_Positions/Walking 1.cdf"
    write_cdf_positions(path, _poses())
    np.testing.assert_array_equal(read_cdf_positions(path), _poses())
    assert list(path.parent.iterdir()) == [path]  # no temporary files left
    write_cdf_positions(cdf_poses_path(tmp_path, "S1", "_ALL"), _poses(1))
    assert list_cdf_actions(tmp_path, "S1") == ["Walking 1"]


def test_cdf_pose_layout_matches_the_release(tmp_path) -> None:
    """``Pose`` is (1, N, 96) with joint j's x, y, z at 3j, 3j+1, 3j+2."""
    import cdflib

    path = tmp_path / "a.cdf"
    poses = _poses(2)
    write_cdf_positions(path, poses)
    raw = cdflib.CDF(str(path)).varget("Pose")
    assert raw.shape == (1, 2, 96)
    assert raw[0, 1, 3 * 5 + 2] == poses[1, 5, 2]


def test_bad_cdf_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.cdf"):
        read_cdf_positions(tmp_path / "missing.cdf")
    garbage = tmp_path / "garbage.cdf"
    garbage.write_bytes(b"not a cdf" * 20)
    with pytest.raises(ValueError, match="garbage.cdf: not a readable CDF"):
        read_cdf_positions(garbage)
    good = tmp_path / "good.cdf"
    write_cdf_positions(good, _poses(50))
    truncated = tmp_path / "truncated.cdf"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.cdf"):
        read_cdf_positions(truncated)


def test_cdf_with_wrong_variable_or_shape(tmp_path) -> None:
    from cdflib.cdfwrite import CDF

    def write(path, name, data):
        writer = CDF(str(path), cdf_spec={"Compressed": 0})
        spec = {"Variable": name, "Data_Type": CDF.CDF_DOUBLE, "Num_Elements": 1}
        writer.write_var(
            spec | {"Rec_Vary": True, "Dim_Sizes": list(data.shape[1:])}, var_data=data
        )
        writer.close()

    write(tmp_path / "other.cdf", "Angles", np.zeros((1, 3, 78)))
    with pytest.raises(ValueError, match="other.cdf: no variable 'Pose'"):
        read_cdf_positions(tmp_path / "other.cdf")
    write(tmp_path / "narrow.cdf", "Pose", np.zeros((1, 3, 64)))
    with pytest.raises(ValueError, match=r"narrow.cdf: Pose has shape \(1, 3, 64\)"):
        read_cdf_positions(tmp_path / "narrow.cdf")


def test_resolve_pose_source(tmp_path) -> None:
    write_cdf_positions(cdf_poses_path(tmp_path, "S1", "Walking"), _poses())
    assert resolve_pose_source(tmp_path, "S1", "auto") == ("cdf", ["Walking"])
    write_positions(poses_path(tmp_path, "S1", "Eating"), _poses())
    assert resolve_pose_source(tmp_path, "S1", "auto") == ("h5", ["Eating"])
    assert resolve_pose_source(tmp_path, "S1", "cdf") == ("cdf", ["Walking"])
    source, actions = resolve_pose_source(tmp_path, "S1", "h5")
    np.testing.assert_array_equal(
        read_sequence(poses_path(tmp_path, "S1", actions[0]), source), _poses()
    )
    with pytest.raises(FileNotFoundError, match=r"S5: no pose files for subject S5.*\['S1'\]"):
        resolve_pose_source(tmp_path, "S5", "auto")
    with pytest.raises(FileNotFoundError, match=r"pose source h5: expected .*S6/MyPoses"):
        resolve_pose_source(tmp_path, "S6", "h5")
    with pytest.raises(ValueError, match="expected auto, h5 or cdf"):
        resolve_pose_source(tmp_path, "S1", "json")
