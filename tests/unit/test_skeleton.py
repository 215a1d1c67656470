from __future__ import annotations

import numpy as np
import pytest

from pose3d import skeleton as sk


def test_h36m17_parents_form_a_tree_rooted_at_pelvis() -> None:
    assert sk.H36M17_PARENTS[sk.ROOT] == -1
    for joint, parent in enumerate(sk.H36M17_PARENTS):
        if joint != sk.ROOT:
            assert 0 <= parent < joint  # parents come first, so a single pass builds a pose


def test_mocap_parents_agree_with_the_17_joint_subset() -> None:
    # Walking up the 32-joint tree from a kept joint reaches the kept parent first, except for
    # the shoulders: the mocap hangs them off the spine, the 17-joint convention off the thorax.
    kept = list(sk.H36M32_TO_17)
    rewired = {11: 7, 14: 7}
    for j17, parent17 in enumerate(sk.H36M17_PARENTS):
        if parent17 < 0:
            continue
        parent17 = rewired.get(j17, parent17)
        node = sk.H36M32_PARENTS[kept[j17]]
        while node not in kept:
            node = sk.H36M32_PARENTS[node]
        assert kept.index(node) == parent17, sk.H36M17_JOINTS[j17]


def test_mpii_mapping_leaves_only_the_neck_missing() -> None:
    kp16 = np.arange(32, dtype=float).reshape(16, 2)
    kp17 = sk.mpii16_to_h36m17(kp16)
    assert np.isnan(kp17[9]).all()
    assert not np.isnan(np.delete(kp17, 9, axis=0)).any()
    # MPII joint 0 (RAnkle) lands on H36M RAnkle (3); MPII 9 (HeadTop) on HeadTop (10)
    np.testing.assert_array_equal(kp17[3], kp16[0])
    np.testing.assert_array_equal(kp17[10], kp16[9])
    for i, name in enumerate(sk.MPII16_JOINTS):
        target = sk.H36M17_JOINTS[sk.MPII16_TO_H36M17[i]]
        assert target == name or (name, target) == ("Spine", "Spine")


def test_flip_lr_is_an_involution_that_swaps_sides() -> None:
    kp = np.arange(51, dtype=float).reshape(17, 3)
    flipped = sk.flip_lr(kp)
    np.testing.assert_array_equal(flipped[1], kp[4])
    np.testing.assert_array_equal(sk.flip_lr(flipped), kp)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="32 mocap joints"):
        sk.mocap32_to_h36m17(np.zeros((5, 17, 3)))
    with pytest.raises(ValueError, match="16 MPII joints"):
        sk.mpii16_to_h36m17(np.zeros((17, 2)))
