"""pose3d.coco: COCO-17 -> H36M-17 against hand-computed points, the head's fallbacks, missing
keypoints and scores."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d import coco
from pose3d.skeleton import H36M17_JOINTS


def _coco_person() -> np.ndarray:
    """COCO-17 keypoints at easy numbers (x, y): shoulders at y 20, hips at y 60."""
    kp = np.full((17, 2), np.nan)
    kp[0] = (10, 8)  # nose
    kp[1], kp[2] = (12, 6), (8, 6)  # eyes
    kp[3], kp[4] = (14, 7), (6, 7)  # ears
    kp[5], kp[6] = (16, 20), (4, 20)  # shoulders (left on the image's right)
    kp[7], kp[8], kp[9], kp[10] = (18, 40), (2, 40), (19, 55), (1, 55)
    kp[11], kp[12] = (14, 60), (6, 60)  # hips
    kp[13], kp[14], kp[15], kp[16] = (14, 80), (6, 80), (14, 100), (6, 100)
    return kp


def test_coco17_maps_to_h36m17_by_hand_computed_points() -> None:
    h = coco.coco17_to_h36m17(_coco_person())
    names = dict(zip(H36M17_JOINTS, h.tolist(), strict=True))
    assert names["Pelvis"] == [10, 60]  # mid-hips
    assert names["Thorax"] == [10, 20]  # mid-shoulders
    assert names["Spine"] == [10, 40]  # mid pelvis-thorax
    assert names["Neck"] == [10, 8]  # the nose
    # head centre = mid-ears (10, 7); HeadTop = (10, 7) + 0.5 * ((10, 7) - (10, 20))
    assert names["HeadTop"] == [10, 0.5]
    assert names["RHip"] == [6, 60] and names["LAnkle"] == [14, 100]
    assert names["LShoulder"] == [16, 20] and names["RWrist"] == [1, 55]


def test_coco17_head_falls_back_from_ears_to_eyes_to_nose_and_missing_hips_propagate() -> None:
    kp = _coco_person()
    kp[3] = np.nan  # one ear seen: the head centre is that ear
    assert coco.coco17_to_h36m17(kp)[10].tolist() == [6 + 0.5 * (6 - 10), 7 + 0.5 * (7 - 20)]
    kp[[3, 4]] = np.nan  # no ears: mid-eyes (10, 6)
    assert coco.coco17_to_h36m17(kp)[10].tolist() == [10, 6 + 0.5 * (6 - 20)]
    kp[[1, 2]] = np.nan  # nose only
    assert coco.coco17_to_h36m17(kp)[10].tolist() == [10, 8 + 0.5 * (8 - 20)]
    kp[0] = np.nan  # no head keypoint at all; a hip missing
    kp[11] = np.nan
    h = coco.coco17_to_h36m17(kp[None])[0]
    assert np.isnan(h[[0, 4, 7, 9, 10]]).all() and np.isfinite(h[[1, 8, 11, 16]]).all()


def test_coco17_scores_are_the_mean_of_their_sources() -> None:
    scores = np.arange(17, dtype=float)
    mapped = coco.coco17_scores_to_h36m17(scores[None])[0]
    assert mapped[0] == 11.5 and mapped[8] == 5.5 and mapped[7] == (5 + 6 + 11 + 12) / 4
    assert mapped[9] == 2.0 and mapped[3] == 16 and mapped[14] == 6
    with pytest.raises(ValueError, match="17 COCO keypoints"):
        coco.coco17_to_h36m17(np.zeros((16, 2)))
