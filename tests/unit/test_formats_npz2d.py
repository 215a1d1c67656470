from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose3d.formats import npz2d


def _kp(n: int, offset: float) -> np.ndarray:
    return (offset + np.arange(n * 17 * 2, dtype=np.float32)).reshape(n, 17, 2)


def _write(path: Path, metadata: dict | None = None, joints: int = 17) -> None:
    positions = {
        "S9": {"Walking": [_kp(2, 0), _kp(2, 1000)]},
        "S1": {"Directions 1": [_kp(3, 0)], "Bad": []},
    }
    if joints != 17:
        positions["S1"]["Directions 1"] = [np.zeros((3, joints, 2), np.float32)]
    npz2d.write_positions_2d(path, positions, metadata)


def test_round_trip_with_standard_camera_order(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    _write(path, {"layout_name": "h36m", "num_joints": 17})
    seqs, meta = npz2d.read_positions_2d(path, trust_pickle=True)
    assert [(s.subject, s.action, s.camera) for s in seqs] == [
        ("S1", "Directions 1", "54138969"),
        ("S9", "Walking", "54138969"),
        ("S9", "Walking", "55011271"),
    ]
    np.testing.assert_array_equal(seqs[2].kp2d_px, _kp(2, 1000))
    assert seqs[0].scores is None
    assert meta["num_joints"] == 17


def test_metadata_camera_ids_override_the_order(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    _write(path, {"camera_ids": {"S1": ["c1"], "S9": ["a", "b"]}})
    seqs, _ = npz2d.read_positions_2d(path, trust_pickle=True)
    assert [s.camera for s in seqs] == ["c1", "a", "b"]
    _write(path, {"camera_ids": ["x"]})  # S9 has two arrays, one id
    with pytest.raises(ValueError, match=r"\['S9'\]\['Walking'\]: 2 cameras, camera ids known"):
        npz2d.read_positions_2d(path, trust_pickle=True)


def test_scores_in_a_third_channel(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    arr = np.concatenate([_kp(2, 0), np.full((2, 17, 1), 0.5, np.float32)], axis=-1)
    npz2d.write_positions_2d(path, {"S1": {"A": [arr]}})
    (seq,), _ = npz2d.read_positions_2d(path, trust_pickle=True)
    np.testing.assert_array_equal(seq.kp2d_px, _kp(2, 0))
    np.testing.assert_array_equal(seq.scores, np.full((2, 17), 0.5))


def test_other_joint_counts_and_layouts_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    _write(path, joints=16)
    with pytest.raises(
        ValueError, match=r"\['S1'\]\['Directions 1'\]\[0\]: 16 joints, expected 17"
    ):
        npz2d.read_positions_2d(path, trust_pickle=True)
    _write(path, {"layout_name": "coco", "num_joints": 17})
    with pytest.raises(ValueError, match=r"d\.npz: metadata layout_name is 'coco'"):
        npz2d.read_positions_2d(path, trust_pickle=True)
    _write(path, {"num_joints": 15})
    with pytest.raises(ValueError, match="num_joints is 15, expected 17"):
        npz2d.read_positions_2d(path, trust_pickle=True)


def test_pickle_needs_explicit_trust(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    _write(path)
    with pytest.raises(ValueError, match=r"d\.npz: positions_2d is a pickled object.*trust_pickle"):
        npz2d.read_positions_2d(path, trust_pickle=False)


def test_bad_archives(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="none.npz"):
        npz2d.read_positions_2d(tmp_path / "none.npz", trust_pickle=True)
    other = tmp_path / "other.npz"
    np.savez(other, positions_3d=np.zeros(3))
    with pytest.raises(ValueError, match=r"other\.npz: no 'positions_2d' array"):
        npz2d.read_positions_2d(other, trust_pickle=True)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"junk\.npz: not a readable \.npz archive"):
        npz2d.read_positions_2d(junk, trust_pickle=True)
    flat = tmp_path / "flat.npz"
    np.savez(flat, positions_2d=np.zeros((2, 17, 2)))
    with pytest.raises(ValueError, match=r"flat\.npz: positions_2d is ndarray, expected a dict"):
        npz2d.read_positions_2d(flat, trust_pickle=True)


def test_shared_positions_2d_archives(shared_data: Path) -> None:
    # Listing an archive's members does not unpickle anything.
    found = []
    for path in sorted(shared_data.rglob("*.npz")):
        with np.load(path, allow_pickle=False) as data:
            if npz2d.POSITIONS_KEY in data.files:
                found.append(path)
    if not found:
        pytest.skip(f"no positions_2d archive under {shared_data} (only the tmp one is tested)")
    for path in found:  # the project's own curated data: trusted
        seqs, _ = npz2d.read_positions_2d(path, trust_pickle=True)
        assert seqs and all(s.kp2d_px.shape[1:] == (17, 2) for s in seqs)
