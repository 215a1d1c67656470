"""The `infer_2d` flow on tiny trained networks, under the session's Prefect test harness: one
process and a 2-worker Dask LocalCluster write the same caches; a corrupt image is reported by
name and the other images are kept; ``gt_box`` crops around the table's label boxes, and a table
without them (the real challenge) gives an empty ``gt_box`` cache, said once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
import yaml
from cpn_fixtures import tiny_cpn_config, write_tiny_extract
from detector_frames import write_box_frames

from flows.infer_2d import infer_2d_flow
from pose3d.config import apply_overrides, load_params, load_raw
from pose3d.crop import crop_box, full_image_square
from pose3d.frames import frames_arrays, read_frames, write_frames
from pose3d.keypoints import keypoints_to_arrays, read_keypoints
from tasks.route.frames import load_frames_2d, write_images_table
from tasks.route.images import MAX_RESIZE
from tasks.train_cpn import train_cpn
from tasks.train_detector import train_detector

CR_MARGIN = 0.25  # the CPN fixture's crop margin


@pytest.fixture(scope="module")
def trained(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A detector and a CPN trained for one tiny epoch, and challenge images to run them on."""
    root = tmp_path_factory.mktemp("infer_2d")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    boxes = write_box_frames(root / "boxes", h36m={"S1": 8, "S8": 4},
                             challenge={"Train": ("S1", 5), "Val": ("S9", 6)})  # fmt: skip
    det_cfg = load_params(repo_root / "params.yaml", [
        "train_detector.subjects=[S1]", "train_detector.heldout_subjects=[S8]",
        "train_detector.image_size=64", "train_detector.epochs=1", "train_detector.batch_size=4",
    ]).train_detector  # fmt: skip
    train_detector(det_cfg, boxes, root / "det", seed=0)
    write_tiny_extract(root / "kp")
    frames = load_frames_2d(root / "kp" / "h36m.parquet")
    train = frames.take(np.flatnonzero(frames.subject == "S1"))
    heldout = frames.take(np.flatnonzero(frames.subject == "S8"))
    # float32 (not bfloat16): sums whose last bits depend on how many threads computed them
    train_cpn(train, heldout, tiny_cpn_config(bf16=False), CR_MARGIN, root / "cpn", seed=0)
    torch.set_num_threads(threads)
    bad = sorted((boxes / "challenge_images" / "Val").glob("*.jpg"))[2]
    bad.write_bytes(b"\xff\xd8 this is not a JPEG" * 10)
    return root


def _params(repo_root: Path, root: Path, out: str, *extra: str) -> Path:
    raw = apply_overrides(load_raw(repo_root / "params.yaml"), [
        f"paths.extract={root / 'boxes'}", f"paths.train_detector={root / 'det'}",
        f"paths.train_cpn={root / 'cpn'}", f"paths.infer_2d={root / out}", "device=cpu",
        "infer_2d.splits=[Train, Val]", "infer_2d.shard_size=4", "infer_2d.batch_size=3",
        "infer_2d.min_person_score=0.0", *extra,
    ])  # fmt: skip
    path = root / f"{out}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.timeout(600)
def test_threads_and_a_dask_local_cluster_write_the_same_caches(
    repo_root: Path, trained: Path, prefect_harness: None
) -> None:
    """Two Dask workers on one core each, against the threads runner with this process's
    threads: the same bytes (each shard computes on one torch thread, whoever runs it)."""
    threads = torch.get_num_threads()
    single = infer_2d_flow(params_path=str(_params(repo_root, trained, "single")))
    assert torch.get_num_threads() == threads  # this thread's torch is as it was
    dask = infer_2d_flow(params_path=str(_params(
        repo_root, trained, "dask", "infer_2d.runner=dask", "infer_2d.dask_workers=2",
    )))  # fmt: skip
    for metrics in (single, dask):
        assert metrics["images"] == 11 and metrics["bad_images"] == 1
    report = json.loads((trained / "dask" / "report.json").read_text())
    assert [Path(p).name for p in report["bad_images"]] == ["0002.jpg"]
    assert "0002.jpg: not an image" in next(iter(report["bad_images"].values()))
    for variant in ("cr", "full", "gt_box"):
        a, b = (keypoints_to_arrays(read_keypoints(trained / out / f"{variant}.parquet"))
                for out in ("single", "dask"))  # fmt: skip
        assert len(a.frame) == 10  # the corrupt image left out, the rest kept
        for name in ("frame", "kp2d_px", "scores", "box_xyxy_px", "image_wh"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        same = (trained / "single" / f"{variant}.parquet").read_bytes()
        assert same == (trained / "dask" / f"{variant}.parquet").read_bytes()  # runner-free
    assert not any((trained / ".work").rglob("*.npz"))  # merged shards are cleared


def test_gt_box_crops_around_the_label_boxes_and_goes_without_where_there_are_none(
    repo_root: Path, trained: Path, prefect_harness: None, caplog: pytest.LogCaptureFixture
) -> None:
    params = _params(repo_root, trained, "gt_box", "infer_2d.variants=[cr, gt_box]")
    metrics = infer_2d_flow(params_path=str(params))
    assert metrics["gt_box_no_label_box"] == 0 and "gt_box_kp2d_error_px" not in metrics  # no 2D
    table = read_frames(trained / "boxes" / "challenge.parquet")
    labels = {(s, int(f)): box for s, f, box in zip(*(frames_arrays(table)[k] for k in (
        "split", "frame", "box_xyxy_px")), strict=True)}  # fmt: skip
    cache = read_keypoints(trained / "gt_box" / "gt_box.parquet")
    gt_box = keypoints_to_arrays(cache)
    cr = keypoints_to_arrays(read_keypoints(trained / "gt_box" / "cr.parquet"))
    assert list(gt_box.frame) == list(cr.frame) and len(gt_box.frame) == 10  # corrupt one out
    splits = cache.column("split").to_pylist()
    boxes = np.stack([labels[(s, int(f))] for s, f in zip(splits, gt_box.frame, strict=True)])
    np.testing.assert_array_equal(gt_box.box_xyxy_px, boxes)  # the label's, not the detector's
    assert not np.array_equal(gt_box.box_xyxy_px, cr.box_xyxy_px)
    for kp, box in zip(gt_box.kp2d_px, gt_box.box_xyxy_px, strict=True):
        square = crop_box(box, CR_MARGIN)  # ICR lands inside the label box's square
        lo = np.array([square.cx, square.cy]) - square.side / 2 - 1.0
        assert ((kp >= lo) & (kp <= lo + square.side + 2.0)).all(), (box, kp)
    # the real challenge's table has no boxes: an empty gt_box cache, the reason said once
    no_boxes = table.set_column(table.schema.get_field_index("box_xyxy_px"), "box_xyxy_px",
                                pa.nulls(table.num_rows, table.schema.field("box_xyxy_px").type))  # fmt: skip
    write_frames(no_boxes, trained / "unboxed" / "challenge.parquet", source={}, producer={})
    params = _params(repo_root, trained, "unboxed_out", "infer_2d.variants=[gt_box]",
                     f"paths.extract={trained / 'unboxed'}")  # fmt: skip
    with caplog.at_level("WARNING"):
        metrics = infer_2d_flow(params_path=str(params))
    assert metrics["gt_box_no_label_box"] == 11
    assert read_keypoints(trained / "unboxed_out" / "gt_box.parquet").num_rows == 0
    assert caplog.text.count("gt_box: 11 of 11 images have no label box") == 1


@pytest.mark.real_data
def test_real_photos_and_human36m_frames_run_through_the_2d_path(
    shared_data: Path, repo_root: Path, trained: Path, prefect_harness: None
) -> None:
    """The 4 real Human3.6M frames and 4 COCO photos (any size, read in place, never copied):
    every image gets a row of the cache in its own pixels. Accuracy is not asserted: these
    networks saw a few synthetic frames only, and spread their joints over the whole crop."""
    photos = sorted((shared_data / "coco_samples").glob("*.jpg"))
    frames = sorted((shared_data / "challenge_sample" / "Val" / "IMG").glob("*.jpg"))
    write_images_table([*photos, *frames], trained / "real_extract", split="Val")
    for out, refine in (("real", 2), ("real_paper", 0)):
        params = _params(repo_root, trained, out, f"paths.extract={trained / 'real_extract'}",
                         "infer_2d.splits=[Val]", f"infer_2d.refine_passes={refine}")  # fmt: skip
        metrics = infer_2d_flow(params_path=str(params))
        assert metrics["images"] == 8 and metrics["bad_images"] == 0
        for variant in ("cr", "full"):
            arrays = keypoints_to_arrays(read_keypoints(trained / out / f"{variant}.parquet"))
            assert list(arrays.frame) == list(range(1, 9))
            assert np.isfinite(arrays.kp2d_px).all()
            for kp, box, (w, h) in zip(
                arrays.kp2d_px, arrays.box_xyxy_px, arrays.image_wh, strict=True
            ):
                has_box = variant == "cr" and np.isfinite(box).all()
                square = crop_box(box, CR_MARGIN) if has_box else full_image_square(int(w), int(h))
                if has_box and refine:
                    # a refine pass crops a square up to MAX_RESIZE times the detected one's side
                    extent = kp.max(axis=0) - kp.min(axis=0)
                    assert (extent <= square.side * MAX_RESIZE + 2.0).all(), (box, kp)
                    continue
                # ICR lands inside the square that was cropped (it may reach outside the image)
                lo = np.array([square.cx, square.cy]) - square.side / 2 - 1.0
                assert ((kp >= lo) & (kp <= lo + square.side + 2.0)).all(), (variant, box, kp)
