from __future__ import annotations

import numpy as np
import pytest

from pose3d.camera import project_world, world_to_camera
from pose3d.config import CameraSpec
from pose3d.synth.body import subject_body
from pose3d.synth.motion import make_motion, pose_sequence
from pose3d.synth.studio import (
    VOLUME_CENTRE_MM,
    StillRange,
    in_image,
    still_camera,
    studio_camera,
    subject_cameras,
    varied_cameras,
)

SPECS = (
    CameraSpec("10000001", 45.0, 5000.0, 1500.0, 400.0, (-0.2, 0.24, -0.003), (-0.001, 0.001)),
    CameraSpec("10000002", 200.0, 4000.0, 2000.0, 300.0, (0.0, 0.0, 0.0), (0.0, 0.0)),
)


def test_studio_camera_sits_on_its_spec_and_looks_at_the_volume_centre() -> None:
    cam = studio_camera(SPECS[0], 320, 240)
    az = np.deg2rad(45.0)
    np.testing.assert_allclose(cam.T, [5000 * np.cos(az), 5000 * np.sin(az), 1500.0])
    np.testing.assert_allclose(project_world(VOLUME_CENTRE_MM, cam), [160.0, 120.0], atol=1e-9)
    np.testing.assert_allclose(cam.R.T @ cam.R, np.eye(3), atol=1e-12)
    assert np.linalg.det(cam.R) == pytest.approx(1.0)
    np.testing.assert_array_equal(cam.k, SPECS[0].k)
    np.testing.assert_array_equal(cam.f, [400.0, 400.0])
    # the floor below the centre is below it in the image (y down)
    assert project_world(np.array([0.0, 0.0, 0.0]), cam)[1] > 120.0


def test_each_subject_has_its_own_close_calibration() -> None:
    a = subject_cameras(SPECS, 320, 240, "S1", 0)
    b = subject_cameras(SPECS, 320, 240, "S5", 0)
    assert set(a) == {("S1", "10000001"), ("S1", "10000002")}
    ca, cb = a[("S1", "10000001")], b[("S5", "10000001")]
    assert 0.0 < np.abs(ca.T - cb.T).max() < 30.0
    centre_a, centre_b = project_world(VOLUME_CENTRE_MM, ca), project_world(VOLUME_CENTRE_MM, cb)
    assert 0.0 < np.abs(centre_a - centre_b).max() < 10.0
    again = subject_cameras(SPECS, 320, 240, "S1", 0)[("S1", "10000001")]
    np.testing.assert_array_equal(again.R, ca.R)


def test_still_camera_varies_scale_and_position_and_keeps_the_person_in_front() -> None:
    pose = pose_sequence(subject_body("S1", 0), make_motion("S1", "Walking", 50, 50.0, 0))[20]
    rng = np.random.default_rng(0)
    reach = StillRange((2500.0, 8000.0), 0.6)
    dists, centres = [], []
    for i in range(40):
        cam = still_camera(rng, SPECS[0], (320, 320), pose, f"c{i}", reach)
        pts = world_to_camera(pose, cam)
        assert pts[:, 2].min() > 300.0
        dists.append(np.linalg.norm(pose[0] - cam.T))
        centres.append(project_world(pose[0], cam))
    assert min(dists) > 2490.0 and max(dists) < 8010.0 and np.ptp(dists) > 2500.0
    centres_px = np.array(centres)
    assert np.abs(centres_px - 160.0).max() < 0.6 * 160.0 * 1.3  # within reach (+ distortion)
    assert np.abs(centres_px - 160.0).max() > 40.0  # not always centred


def test_varied_cameras_stand_anywhere_around_the_volume_and_keep_the_person_in_view() -> None:
    pose = pose_sequence(subject_body("S21", 0), make_motion("S21", "Walking", 50, 50.0, 0))
    eyes, seen = [], []
    for subject in ("S21", "S22", "S23", "S24", "S25", "S26"):
        cams = varied_cameras(SPECS, 320, 320, subject, 0)
        assert set(cams) == {(subject, "10000001"), (subject, "10000002")}
        for cam in cams.values():
            np.testing.assert_allclose(cam.R.T @ cam.R, np.eye(3), atol=1e-12)
            assert np.linalg.det(cam.R) == pytest.approx(1.0)
            eyes.append(cam.T)
            kp = np.stack([project_world(p, cam) for p in pose[::10]])
            seen.append(np.mean((kp >= 0) & (kp < 320)))
    eyes_mm = np.array(eyes)
    azimuths = np.degrees(np.arctan2(eyes_mm[:, 1], eyes_mm[:, 0])) % 360
    assert np.ptp(azimuths) > 180 and np.ptp(eyes_mm[:, 2]) > 800  # not the rig's places
    assert np.mean(seen) > 0.95 and min(seen) > 0.75  # now and then partly out of frame
    rig = subject_cameras(SPECS, 320, 320, "S21", 0)[("S21", "10000001")]
    assert (
        np.abs(varied_cameras(SPECS, 320, 320, "S21", 0)[("S21", "10000001")].T - rig.T).max() > 100
    )
    first, again = (varied_cameras(SPECS, 320, 320, "S21", 0)[("S21", "10000002")] for _ in "ab")
    np.testing.assert_array_equal(first.R, again.R)  # the same seed draws the same places


def test_bad_spec_is_named() -> None:
    bad = CameraSpec("cam9", 0.0, -1.0, 1500.0, 400.0, (0.0, 0.0, 0.0), (0.0, 0.0))
    with pytest.raises(ValueError, match="cam9"):
        studio_camera(bad, 64, 64)


def test_still_camera_keeps_the_person_in_the_image_but_for_the_out_of_frame_share() -> None:
    """Real Human3.6M frames show the whole person (a joint outside in 0.01% of them): so do the
    stills, but for the share allowed out; close and far off centre, many would leave."""
    pose = pose_sequence(subject_body("S1", 0), make_motion("S1", "Walking", 50, 50.0, 0))[20]
    inside = {}
    for share in (0.0, 0.5, 1.0):
        rng = np.random.default_rng(1)
        reach = StillRange((2500.0, 3500.0), 1.0, share)
        kps = [project_world(pose, still_camera(rng, SPECS[0], (320, 320), pose, f"c{i}", reach))
               for i in range(60)]  # fmt: skip
        inside[share] = np.mean([in_image(kp, (320, 320)) for kp in kps])
    assert inside[0.0] == 1.0 and inside[1.0] < 0.7 and inside[1.0] < inside[0.5] < 1.0, inside
    with pytest.raises(ValueError, match=r"still_camera far: no viewpoint of \d+ keeps the person"):
        still_camera(np.random.default_rng(0), SPECS[0], (32, 32), pose, "far",
                     StillRange((1000.0, 1000.0), 1.0, 0.0))  # fmt: skip
