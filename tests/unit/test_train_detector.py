"""tasks.train_detector and tasks.route.detector: AP and best-box recall on hand-made cases,
the learning-rate schedule, the detector's input side, the checkpoint round trip, the resume
rule and the Val/Test subject check, a start from ImageNet MobileNetV3 weights written here, on
64 x 64 images and one thread."""

from __future__ import annotations

import hashlib
from pathlib import Path

import detector_frames
import numpy as np
import pytest
import torch
from torchvision.models import mobilenet_v3_large, resnet18

from models.ssd import DetectorConfig
from pose3d.config import TrainDetectorConfig, load_params
from tasks import train_detector as td
from tasks.engine import save_checkpoint
from tasks.route.detector import (
    checkpoint_config,
    detect,
    detect_person_boxes,
    load_detector,
    sized_detector,
)
from tasks.train_detector import detection_scores, shrink, train_detector

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _det(boxes: list[list[float]], scores: list[float], labels: list[int] | None = None) -> dict:
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "scores": torch.tensor(scores, dtype=torch.float32),
        "labels": torch.tensor(labels if labels is not None else [1] * len(scores)),
    }


TRUTH = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])


def test_ap_counts_a_higher_ranked_miss_and_recall_takes_the_best_box_only() -> None:
    # ranked: 0.9 hit (image 0), 0.8 miss (image 1), 0.7 hit (image 1)
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: AP = 1/2 * 1 + 1/2 * 2/3
    dets = [
        _det([[0, 0, 10, 10]], [0.9]),
        _det([[50, 50, 60, 60], [20, 20, 30, 30]], [0.8, 0.7]),
    ]
    ap, recall = detection_scores(dets, TRUTH)
    assert ap == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert recall == pytest.approx(0.5)  # image 1's best box is the miss


def test_perfect_ranking_gives_ap_one_and_duplicates_are_false_positives_after_it() -> None:
    dets = [
        _det([[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.3]),  # duplicate: FP, ranked last
        _det([[20, 20, 30, 30]], [0.8]),
    ]
    assert detection_scores(dets, TRUTH) == pytest.approx((1.0, 1.0))
    # the duplicate ranked between the two hits costs precision at recall 1
    dets[0]["scores"] = torch.tensor([0.9, 0.85])
    ap, recall = detection_scores(dets, TRUTH)
    assert ap == pytest.approx(0.5 + 0.5 * 2 / 3) and recall == 1.0


def test_iou_threshold_other_labels_and_no_detections() -> None:
    half = _det([[0, 0, 10, 5]], [0.5])  # IoU exactly 0.5 with image 0's truth: a hit
    nothing = _det([], [])
    assert detection_scores([half, nothing], TRUTH) == pytest.approx((0.5, 0.5))
    assert detection_scores([half, nothing], TRUTH, iou_thresh=0.51) == (0.0, 0.0)
    not_person = _det([[0, 0, 10, 10]], [0.99], labels=[2])
    assert detection_scores([not_person, nothing], TRUTH) == (0.0, 0.0)
    with pytest.raises(ValueError, match="truth boxes"):
        detection_scores([nothing], TRUTH)


def test_image_size_sets_the_input_side_and_the_anchors_follow() -> None:
    torch.manual_seed(0)
    model = sized_detector(DetectorConfig(), 96)
    assert model.transform.fixed_size == (96, 96)
    images = [torch.rand(3, 64, 80), torch.rand(3, 100, 90)]
    box = {"boxes": torch.tensor([[10.0, 10.0, 40.0, 60.0]]), "labels": torch.tensor([1])}
    targets = [box, box]
    losses = model.train()(images, targets)
    assert all(torch.isfinite(v) for v in losses.values())
    # the default boxes span the resized 96 x 96 input, not 320 x 320
    image_list, _ = model.transform(images)
    features = list(model.backbone(image_list.tensors).values())
    anchors = model.anchor_generator(image_list, features)[0]
    assert anchors[:, 2:].max() <= 96 * 1.5 and anchors[:, :2].min() >= -96 * 0.5
    assert 0.4 * 96 < float(anchors[:, [0, 2]].mean()) < 0.6 * 96
    with pytest.raises(ValueError, match="300 px only"):
        sized_detector(DetectorConfig(arch="ssd300_vgg16"), 224)


def test_checkpoint_round_trip_detects_in_original_pixels(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = DetectorConfig(score_thresh=0.0, detections_per_img=5)
    model = sized_detector(cfg, 64).eval()
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"model": model.state_dict(), "config": checkpoint_config(cfg, 64, True)})
    det = load_detector(path)
    assert not det.model.training and det.image_size == 64 and det.channels_last
    assert det.model.transform.fixed_size == (64, 64)
    conv = next(m for m in det.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    rng = np.random.default_rng(0)
    images = [
        rng.integers(0, 255, (48, 64, 3), np.uint8),
        rng.integers(0, 255, (90, 70, 3), np.uint8),
    ]
    best = [found[0] for found in detect_person_boxes(det, images, batch_size=1)]
    with torch.no_grad():
        direct = model([torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images])
    for found, ref, image in zip(best, direct, images, strict=True):
        assert found is not None
        box, score = found
        assert box.shape == (4,) and isinstance(score, float)
        np.testing.assert_allclose(box, ref["boxes"][0].numpy(), atol=1e-3)
        assert score == pytest.approx(float(ref["scores"][0]), abs=1e-5)
        height, width = image.shape[:2]
        assert 0 <= box[0] <= box[2] <= width and 0 <= box[1] <= box[3] <= height
    assert len(detect(det, [])) == 0
    with pytest.raises(ValueError, match="uint8"):
        detect_person_boxes(det, [np.zeros((8, 8), np.uint8)])


def _tiny_cfg(repo_root: Path, *overrides: str) -> TrainDetectorConfig:
    return load_params(repo_root / "params.yaml", [
        "train_detector.image_size=64", "train_detector.subjects=[S1, S5]",
        "train_detector.heldout_subjects=[S8]", "train_detector.epochs=1",
        "train_detector.batch_size=8", "train_detector.augment=ssdlite", *overrides,
    ]).train_detector  # fmt: skip


def test_trains_and_writes_its_history(repo_root: Path, tmp_path: Path) -> None:
    """Resume is the engine's (test_engine); here the detector's own step and history."""
    extract = detector_frames.write_box_frames(tmp_path / "extract")
    cfg = _tiny_cfg(repo_root)
    first = train_detector(cfg, extract, tmp_path / "out", 0, workers=0)
    assert first.epochs_run == 1 and len(first.history) == 1
    assert (tmp_path / "out" / "history.csv").read_text().count("\n") == 2
    assert set(first.history[0]) == set(td.HISTORY_FIELDS)
    assert 0.0 <= first.history[0]["heldout_ap50"] <= 1.0
    assert first.samples == 32  # S1 and S5: 32 frames, 4 batches of 8


def test_refuses_a_subject_of_the_challenge_val_or_test_images(
    repo_root: Path, tmp_path: Path
) -> None:
    extract = detector_frames.write_box_frames(
        tmp_path / "extract", h36m={"S1": 8, "S9": 8, "S8": 4}
    )
    cfg = _tiny_cfg(repo_root, "train_detector.subjects=[S1, S9]")
    with pytest.raises(ValueError, match=r"subjects: \['S9'\] appear in the challenge's Val/Test"):
        train_detector(cfg, extract, tmp_path / "out", 0, workers=0)
    assert not (tmp_path / "out").exists()


def test_shrink_keeps_the_box_on_the_same_pixels() -> None:
    image = np.zeros((200, 100, 3), np.uint8)
    image[50:150, 20:60] = 255
    small, box = shrink(image, np.array([20.0, 50.0, 60.0, 150.0]), 100)
    assert small.shape == (100, 50, 3)
    np.testing.assert_allclose(box, [10.0, 25.0, 30.0, 75.0])
    assert small[25:75, 10:30].min() == 255 and small[:24].max() == 0
    same, same_box = shrink(image, np.array([1.0, 2.0, 3.0, 4.0]), 0)
    assert same is image and list(same_box) == [1.0, 2.0, 3.0, 4.0]
    assert shrink(image, np.zeros(4), 200)[0] is image


def test_starts_from_imagenet_mobilenet_weights_written_here(
    repo_root: Path, tmp_path: Path
) -> None:
    extract = detector_frames.write_box_frames(tmp_path / "extract")
    torch.manual_seed(3)
    imagenet = mobilenet_v3_large().state_dict()  # as torchvision saves it
    torch.save(imagenet, tmp_path / "mobilenet_v3_large.pth")
    cfg = _tiny_cfg(
        repo_root, f"train_detector.backbone_weights={tmp_path / 'mobilenet_v3_large.pth'}",
        "train_detector.lr=1.0e-9", "train_detector.max_images=8",
    )  # fmt: skip
    result = train_detector(cfg, extract, tmp_path / "out", 0, workers=0)
    assert result.epochs_run == 1
    saved = torch.load(result.checkpoint, weights_only=False)
    # lr ~0: the file's weights, its full tail (960 channels, not the reduced 480) included
    for name, key in [("features.0.0.weight", "backbone.features.0.0.0.weight"),
                      ("features.13.block.0.0.weight", "backbone.features.0.13.0.weight"),
                      ("features.13.block.3.0.weight", "backbone.features.1.0.3.0.weight"),
                      ("features.16.0.weight", "backbone.features.1.3.0.weight")]:  # fmt: skip
        torch.testing.assert_close(saved["model"][key], imagenet[name], atol=1e-6, rtol=0)
    assert saved["model"]["backbone.features.1.3.0.weight"].shape == (960, 160, 1, 1)
    assert saved["config"]["detector"]["reduced_tail"] is False
    sha = hashlib.sha256((tmp_path / "mobilenet_v3_large.pth").read_bytes()).hexdigest()
    path = str(tmp_path / "mobilenet_v3_large.pth")
    assert saved["backbone_weights"] == {"path": path, "sha256": sha}
    assert saved["fingerprint"]["config"]["backbone_weights_sha256"] == sha
    det = load_detector(result.checkpoint)  # rebuilt with the full tail from the config alone
    assert not det.config.reduced_tail and det.model.transform.fixed_size == (64, 64)


def test_refuses_backbone_weights_missing_or_of_another_network(
    repo_root: Path, tmp_path: Path
) -> None:
    extract = detector_frames.write_box_frames(tmp_path / "extract")
    missing = tmp_path / "missing.pth"
    cfg = _tiny_cfg(repo_root, f"train_detector.backbone_weights={missing}")
    with pytest.raises(FileNotFoundError, match=f"train_detector.backbone_weights: {missing}: not"):
        train_detector(cfg, extract, tmp_path / "out", 0, workers=0)
    torch.manual_seed(0)
    torch.save(resnet18().state_dict(), tmp_path / "resnet18.pth")  # the CPN's, not the SSD's
    cfg = _tiny_cfg(repo_root, f"train_detector.backbone_weights={tmp_path / 'resnet18.pth'}")
    with pytest.raises(
        ValueError, match=r"^train_detector.backbone_weights: .*/resnet18.pth: 'conv1.weight' fits"
    ):
        train_detector(cfg, extract, tmp_path / "out", 0, workers=0)
    assert not (tmp_path / "out" / "checkpoint.pt").exists()
