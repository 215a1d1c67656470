"""tasks.infer_2d with stand-in networks whose answers are known: CR and ICR compose back to the
image, the no-person fallback is flagged, bad images are reported by name without losing the
rest, shards resume, the merged caches are valid, and ``gt_box`` crops around the label boxes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pose3d.config import CRConfig, Infer2DConfig
from pose3d.crop import (
    KeypointSquare,
    Square,
    crop_box,
    crop_transform,
    from_crop,
    full_image_square,
)
from pose3d.frames import frames_table, write_frames
from pose3d.keypoints import Producer, keypoints_to_arrays, read_keypoints
from tasks.infer_2d import (
    decoded_batches,
    drop_stale_work,
    kept_box_hits,
    load_challenge_images,
    merge_shards,
    run_shard,
    shard_specs,
    work_key,
)
from tasks.route.frames import write_images_table
from tasks.route.images import (
    MAX_RESIZE,
    Networks,
    Timer,
    infer_images,
    infer_label_boxes,
    refine_squares,
    route_keypoints,
)

SIZE = 64
BOX = np.array([30.0, 20.0, 50.0, 100.0])


def _centre_keypoints(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in CPN: every joint at the crop's centre, score 0.5."""
    n = len(crops)
    centre = (SIZE - 1) / 2
    return np.full((n, 17, 2), centre), np.full((n, 17), 0.5)


def _nets(score: float = 0.9) -> Networks:
    return Networks(
        detect=lambda images: [[(BOX.copy(), score)] for _ in images],
        keypoints=_centre_keypoints,
        input_size=SIZE,
    )


def _cfg(**changes: object) -> Infer2DConfig:
    cfg = Infer2DConfig(
        splits=("Val",), variants=("cr", "full"), batch_size=2, shard_size=3, loader_workers=1,
        min_person_score=0.2, person_candidates=1, refine_passes=0, max_pixels=10_000_000,
        runner="threads", dask_address="", dask_workers=2,
    )  # fmt: skip
    return dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]


def test_cr_keypoints_land_back_on_the_box_centre_and_full_on_the_image_centre() -> None:
    image = np.zeros((120, 160, 3), np.uint8)
    out = infer_images([image], _nets(), ("cr", "full"), 0.2, 0.25, Timer())
    kp, scores, box, person = out["cr"]
    np.testing.assert_allclose(kp[0], np.tile([(30 + 50) / 2, (20 + 100) / 2], (17, 1)), atol=1e-9)
    np.testing.assert_array_equal(box[0], BOX)
    assert person[0] == pytest.approx(0.9) and scores.shape == (1, 17)
    kp, _, box, person = out["full"]
    np.testing.assert_allclose(kp[0], np.tile([79.5, 59.5], (17, 1)), atol=1e-9)
    assert np.isnan(box).all() and np.isnan(person).all()


def test_gt_box_runs_the_cpn_around_the_label_box_not_the_detection() -> None:
    image = np.zeros((120, 160, 3), np.uint8)
    label = np.array([[80.0, 10.0, 120.0, 70.0]])  # elsewhere than the detector's BOX
    kp, scores, box, person = infer_label_boxes([image], label, _nets(), 0.25, Timer())
    np.testing.assert_allclose(kp[0], np.tile([100.0, 40.0], (17, 1)), atol=1e-9)
    np.testing.assert_array_equal(box, label)
    assert np.isnan(person).all() and scores.shape == (1, 17)  # no detector ran
    with pytest.raises(ValueError, match="positive width and height"):
        infer_label_boxes([image], np.array([[10.0, 10.0, 10.0, 50.0]]), _nets(), 0.25, Timer())


def test_icr_inverts_cr_for_any_crop_coordinates() -> None:
    rng = np.random.default_rng(0)
    square = crop_box(BOX, 0.25)
    affine = crop_transform(square, SIZE)
    crop_pts = rng.uniform(0, SIZE, (17, 2))
    image_pts = from_crop(crop_pts, affine)
    np.testing.assert_allclose(affine[:, :2] @ image_pts.T + affine[:, 2:], crop_pts.T, atol=1e-9)


def test_a_weak_or_missing_detection_falls_back_to_the_whole_image_and_is_flagged() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    for nets in (_nets(score=0.1), dataclasses.replace(_nets(), detect=lambda ims: [[]])):
        kp, _, box, _ = infer_images([image], nets, ("cr",), 0.2, 0.25, Timer())["cr"]
        assert np.isnan(box).all()  # the flag: no box
        centre = full_image_square(100, 100)
        np.testing.assert_allclose(kp[0], np.tile([centre.cx, centre.cy], (17, 1)), atol=1e-9)


def _images(folder: Path) -> list[str]:
    """Six images of every kind a user may have: colour, grey, 16-bit, 4-channel, corrupt,
    empty."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    colour = (rng.random((90, 120, 3)) * 255).astype(np.uint8)
    files = {
        "colour.png": colour,
        "grey.png": colour[:, :, 0],
        "deep.png": colour.astype(np.uint16) * 257,
        "alpha.png": np.dstack([colour, np.full((90, 120), 255, np.uint8)]),
    }
    for name, image in files.items():
        assert cv2.imwrite(str(folder / name), image)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 not a jpeg at all" * 20)
    (folder / "empty.jpg").write_bytes(b"")
    return [str(folder / n) for n in (*files, "corrupt.jpg", "empty.jpg")]


def test_decoded_batches_keep_order_and_name_bad_files(tmp_path: Path) -> None:
    paths = _images(tmp_path)
    for workers in (0, 2):
        got = list(decoded_batches(paths, 4, workers, 10_000_000))
        assert [i for idx, _ in got for i in idx] == list(range(6))
        items = [x for _, batch in got for x in batch]
        assert all(isinstance(x, np.ndarray) and x.shape == (90, 120, 3) for x in items[:4])
        assert "corrupt.jpg" in items[4] and "empty.jpg" in items[5]
    huge = list(decoded_batches(paths[:1], 1, 0, max_pixels=1000))[0][1][0]
    assert isinstance(huge, str) and "too large" in huge and "colour.png" in huge


def _table(tmp_path: Path, boxes: np.ndarray | None = None) -> Path:
    paths = _images(tmp_path / "img")
    n = len(paths)
    kp = np.full((n, 17, 2), np.nan)
    kp[0] = [[40.0, 60.0]] * 17  # label 2D for one row
    table = frames_table(
        dataset="challenge", split="Val", subject="S9", action="", camera="",
        frame=np.arange(1, n + 1), image_path=paths, image_width=120, image_height=90,
        kp2d_px=kp, box_xyxy_px=boxes,
    )  # fmt: skip
    (tmp_path / "extract").mkdir()
    write_frames(table, tmp_path / "extract" / "challenge.parquet", source={}, producer={})
    return tmp_path / "extract"


def test_shards_resume_and_merge_into_valid_caches_with_bad_images_reported(
    tmp_path: Path,
) -> None:
    cfg = _cfg()
    images = load_challenge_images(_table(tmp_path), ["Val"])
    specs = shard_specs(images, cfg, CRConfig(0.25), ("det.pt", "cpn.pt"), tmp_path / "work",
                        "cpu", 0)  # fmt: skip
    assert [len(s.paths) for s in specs] == [3, 3]
    first = run_shard(specs[0], _nets())
    assert first["errors"] == {} and first["images"] == 3
    assert run_shard(specs[0], _nets()) == {"index": 0, "resumed": True}  # done: not recomputed
    second = run_shard(specs[1], _nets(score=0.1))  # no person found in these
    assert sorted(second["errors"]) == [1, 2]
    producer = Producer("infer_2d", "code digest", {"cpn": "model digest"}, {})
    metrics = merge_shards(images, specs, cfg, producer, tmp_path / "out", 1.0)
    assert metrics["images"] == 6 and metrics["bad_images"] == 2 and metrics["cr_no_person"] == 1
    assert metrics["cr_label_rows"] == 1  # only row 0 has label 2D
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert sorted(Path(p).name for p in report["bad_images"]) == ["corrupt.jpg", "empty.jpg"]
    assert [Path(p).name for p in report["no_person"]] == ["alpha.png"]
    for variant in ("cr", "full"):
        arrays = keypoints_to_arrays(read_keypoints(tmp_path / "out" / f"{variant}.parquet"))
        assert list(arrays.frame) == [1, 2, 3, 4]  # the two bad images left out, order kept
        boxed = np.isfinite(arrays.box_xyxy_px).all(axis=1)
        assert list(boxed) == ([True, True, True, False] if variant == "cr" else [False] * 4)


# label boxes of _table's six images: none, degenerate (none), and one for the corrupt image
LABEL_BOXES = np.array([[10.0, 5.0, 30.0, 45.0], [np.nan] * 4, [60.0, 20.0, 100.0, 80.0],
                        [5.0, 5.0, 5.0, 20.0], [0.0, 0.0, 50.0, 50.0], [np.nan] * 4])  # fmt: skip


def test_gt_box_uses_the_label_boxes_and_leaves_out_rows_without_one(tmp_path: Path) -> None:
    cfg = _cfg(variants=("cr", "gt_box"))
    images = load_challenge_images(_table(tmp_path, LABEL_BOXES), ["Val"])
    specs = shard_specs(images, cfg, CRConfig(0.25), ("det.pt", "cpn.pt"), tmp_path / "work",
                        "cpu", 0)  # fmt: skip
    for spec in specs:
        run_shard(spec, _nets())
    producer = Producer("infer_2d", "code digest", {"cpn": "model digest"}, {})
    metrics = merge_shards(images, specs, cfg, producer, tmp_path / "out", 1.0)
    assert metrics["gt_box_no_label_box"] == 3  # no box, a degenerate one, no box
    assert metrics["gt_box_label_rows"] == 1  # row 0: label 2D and a box
    table = read_keypoints(tmp_path / "out" / "gt_box.parquet")
    assert set(table.column("source").to_pylist()) == {"infer_2d_gt_box"}
    gt_box = keypoints_to_arrays(table)
    assert list(gt_box.frame) == [1, 3]  # rows 2, 4, 6 have no usable box; 5 is corrupt
    np.testing.assert_array_equal(gt_box.box_xyxy_px, LABEL_BOXES[[0, 2]])
    centres = (LABEL_BOXES[[0, 2], :2] + LABEL_BOXES[[0, 2], 2:]) / 2
    np.testing.assert_allclose(gt_box.kp2d_px, np.repeat(centres[:, None], 17, axis=1), atol=1e-4)
    cr = keypoints_to_arrays(read_keypoints(tmp_path / "out" / "cr.parquet"))
    assert list(cr.frame) == [1, 2, 3, 4]  # the detector's box on every readable image
    np.testing.assert_allclose(cr.kp2d_px[:, 0], np.tile([40.0, 60.0], (4, 1)), atol=1e-4)


def test_the_label_boxes_key_the_gt_box_shards(tmp_path: Path) -> None:
    """A moved label box gives new shards where gt_box is a variant (they hold its crops), the
    same shards where it is not."""
    images = load_challenge_images(_table(tmp_path, LABEL_BOXES), ["Val"])
    moved = images.box_label_px.copy()
    moved[0] += 2.0
    other = dataclasses.replace(images, box_label_px=moved)
    models = {"detector": "d", "cpn": "c"}
    with_gt_box, without = _cfg(variants=("cr", "gt_box")), _cfg(variants=("cr", "full"))
    assert work_key(with_gt_box, 0.25, models, other) != work_key(with_gt_box, 0.25, models, images)
    assert work_key(without, 0.25, models, other) == work_key(without, 0.25, models, images)


def test_shards_are_keyed_by_the_images_bytes_and_stale_ones_removed(tmp_path: Path) -> None:
    """An image replaced at the same path (an interrupted run, then new pixels) gets new shards,
    not the old person's box and 2D; another run's shard folders are removed."""
    cfg, models = _cfg(), {"cpn": "weights digest"}
    images = load_challenge_images(_table(tmp_path), ["Val"])
    key = work_key(cfg, 0.25, models, images)
    assert work_key(cfg, 0.25, models, images) == key  # the same bytes: the same shards
    assert work_key(dataclasses.replace(cfg, runner="dask"), 0.25, models, images) == key
    grey = Path(images.image_path[1])
    cv2.imwrite(str(grey), np.zeros((90, 120), np.uint8))  # other pixels, same path and size
    assert work_key(cfg, 0.25, models, images) != key
    root = tmp_path / "work"
    for name in (key, "other-run", "third-run"):
        (root / name).mkdir(parents=True)
        (root / name / "shard-00000.npz").write_bytes(b"x")
    removed = drop_stale_work(root, key)
    assert sorted(p.name for p in removed) == ["other-run", "third-run"]
    assert [p.name for p in root.iterdir()] == [key]
    assert drop_stale_work(tmp_path / "absent", key) == []


def test_any_images_become_a_table_infer_2d_reads(tmp_path: Path) -> None:
    paths = _images(tmp_path / "img")
    write_images_table(paths, tmp_path / "extract", split="Test")
    images = load_challenge_images(tmp_path / "extract", ["Test"])
    assert list(images.columns["frame"]) == [1, 2, 3, 4, 5, 6]
    assert list(images.columns["camera"][:2]) == ["colour.png", "grey.png"]
    width = images.columns["image_width"].astype(float)
    assert list(width) == [120.0] * 4 + [-1.0] * 2  # unreadable: unknown (-1)


def test_weights_digest_follows_the_weights_not_the_training_history(tmp_path: Path) -> None:
    from tasks.engine import save_checkpoint
    from tasks.route.images import file_sha256, weights_digest

    weights = {"conv.weight": torch.arange(6.0).reshape(2, 3), "bn.num_batches": torch.tensor(3)}
    paths = []
    for n, seconds in enumerate((1.5, 2.5)):  # the same network, trained in other wall times
        paths.append(tmp_path / f"{n}.pt")
        history = [{"epoch": 1, "train_seconds": seconds}]
        save_checkpoint(paths[-1], {"model": weights, "config": {"width": 3}, "history": history})
    assert file_sha256(paths[0]) != file_sha256(paths[1])
    assert weights_digest(paths[0]) == weights_digest(paths[1])
    changed = dict(weights, **{"conv.weight": weights["conv.weight"] + 1e-6})
    save_checkpoint(tmp_path / "other.pt", {"model": changed, "config": {"width": 3}})
    assert weights_digest(tmp_path / "other.pt") != weights_digest(paths[0])


def test_refine_passes_draw_the_square_again_around_the_keypoints() -> None:
    """A stand-in CPN that finds a bright rectangle (the person) in its crop: joint 0 on its
    top-left corner, joint 1 on its bottom-right, the rest on its centre. The detector's box is
    too large and off the person's centre; one refine pass must give the CPN the person centred
    in a square of the person's longest side x `side_ratio` x (1 + margin)."""
    image = np.zeros((200, 200, 3), np.uint8)
    image[60:141, 100:141] = 255  # the person: x 100..140, y 60..140 (pixel centres)
    blank = np.zeros_like(image)
    seen: list[np.ndarray] = []

    def bright_rectangle(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seen.append(crops)
        kp = np.zeros((len(crops), 17, 2))
        for i, crop in enumerate(crops):
            ys, xs = np.nonzero(crop[:, :, 0] > 127)
            if len(xs) == 0:
                kp[i] = (SIZE - 1) / 2
                continue
            kp[i] = [(xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2]
            kp[i, 0], kp[i, 1] = [xs.min(), ys.min()], [xs.max(), ys.max()]
        return kp, np.full((len(crops), 17), 0.5)

    detected = np.array([90.0, 40.0, 170.0, 150.0])
    nets = Networks(
        detect=lambda images: [[(detected.copy(), 0.9)], []][: len(images)],
        keypoints=bright_rectangle, input_size=SIZE,
        keypoint_square=KeypointSquare(side_ratio=1.0, offset_x=0.0, offset_y=0.0),
    )  # fmt: skip
    kp, _, box, _ = infer_images([image, blank], nets, ("cr",), 0.2, 0.25, Timer(), 1)["cr"]
    assert [len(c) for c in seen] == [2, 1]  # the image without a person is not refined
    ys, xs = np.nonzero(seen[1][0, :, :, 0] > 127)
    centre = (SIZE - 1) / 2
    assert abs((xs.min() + xs.max()) / 2 - centre) <= 1.0
    assert abs((ys.min() + ys.max()) / 2 - centre) <= 1.0
    assert (ys.max() - ys.min()) == pytest.approx(SIZE / 1.25, abs=2.0)  # 80 px of a 100 px side
    np.testing.assert_allclose(kp[0, :2], [[100, 60], [140, 140]], atol=2.0)
    np.testing.assert_array_equal(box[0], detected)  # the cache keeps the detector's box
    assert np.isnan(box[1]).all()

    no_square = dataclasses.replace(nets, keypoint_square=None)
    with pytest.raises(ValueError, match="infer_2d.refine_passes: 0"):
        infer_images([image], no_square, ("cr",), 0.2, 0.25, Timer(), 1)
    seen.clear()
    infer_images([image], no_square, ("cr",), 0.2, 0.25, Timer(), 0)
    assert len(seen) == 1


def test_a_refine_pass_keeps_the_square_where_the_joints_bunch_or_vanish() -> None:
    fit = KeypointSquare(side_ratio=1.2, offset_x=0.0, offset_y=0.0)
    old = [Square(50.0, 50.0, 100.0)] * 3
    kp = np.full((3, 17, 2), 40.0)
    kp[0, 0] = 40.001  # all on one spot: the square would shrink to nothing
    kp[1] = np.nan  # none found: the square stays as it was
    kp[2, :, 1] = np.linspace(0.0, 1000.0, 17)  # spread far beyond the square
    bunched, lost, spread = refine_squares(kp, old, fit, 0.25)
    assert bunched.side == pytest.approx(100.0 / MAX_RESIZE)
    assert (bunched.cx, bunched.cy) == pytest.approx((40.0, 40.0), abs=0.01)
    assert lost == old[1]
    assert spread.side == pytest.approx(100.0 * MAX_RESIZE) and spread.cy == pytest.approx(500.0)


def test_the_cpn_picks_among_the_detectors_candidates_the_box_with_a_person() -> None:
    """The detector's best box holds nothing, its second the person: the stand-in CPN's joint
    scores are the share of bright pixels in its crop. With one candidate the route keeps the
    best box; with two, the person's; a box under min_person_score is never a candidate."""
    image = np.zeros((200, 200, 3), np.uint8)
    image[120:181, 20:61] = 255  # the person
    empty, person = np.array([120.0, 10.0, 180.0, 90.0]), np.array([15.0, 115.0, 65.0, 185.0])

    def brightness(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        share = (crops[:, :, :, 0] > 127).mean(axis=(1, 2))
        return np.full((len(crops), 17, 2), (SIZE - 1) / 2), np.repeat(share[:, None], 17, 1)

    def nets(boxes: list[tuple[np.ndarray, float]]) -> Networks:
        return Networks(lambda images: [list(boxes)], brightness, SIZE)

    found = [(empty, 0.6), (person, 0.4)]
    for candidates, want_box, want_score in ((1, empty, 0.6), (2, person, 0.4), (3, person, 0.4)):
        kp, _, box, score = route_keypoints([image], [found], nets(found), 0.2, 0.25, Timer(),
                                            candidates, 0)  # fmt: skip
        np.testing.assert_array_equal(box[0], want_box)
        assert score[0] == pytest.approx(want_score)
        np.testing.assert_allclose(kp[0], np.tile((want_box[:2] + want_box[2:]) / 2, (17, 1)))
    weak = [(empty, 0.6), (person, 0.1)]
    _, _, box, _ = route_keypoints([image], [weak], nets(weak), 0.2, 0.25, Timer(), 2, 0)
    np.testing.assert_array_equal(box[0], empty)


def test_kept_box_hits_count_the_rows_whose_box_overlaps_the_label_box() -> None:
    """IoU >= 0.5 against the label box: a hit; a shifted box, no box (NaN) or a box elsewhere:
    a miss; rows without a label box (the real challenge's) are left out, all of them: {}."""
    label = np.array([[0, 0, 10, 20], [0, 0, 10, 20], [0, 0, 10, 20], [0, 0, 10, 20],
                      [np.nan] * 4], float)  # fmt: skip
    kept = np.array([[1, 1, 11, 21], [5, 10, 15, 30], [np.nan] * 4, [0, 0, 10, 12],
                     [0, 0, 10, 20]], float)  # fmt: skip
    # IoU: 171/229 hit; 50/350 miss; none; 120/200 = 0.6 hit; no label box: not counted
    assert kept_box_hits(kept, label) == {"cr_box_iou50": 0.5}
    assert kept_box_hits(kept[:1], label[4:]) == {}
