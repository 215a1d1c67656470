"""models.ssd: builds without downloads, losses in training, detections in eval, augmentation
keeps boxes valid, the best person box."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.hub
from torchvision import tv_tensors
from torchvision.models import mobilenet_v3_large, vgg

from models import ssd
from models.ssd import (
    DetectorConfig,
    best_person_box,
    build_detector,
    detection_sample,
    eval_transform,
    person_boxes,
    train_transform,
)


@pytest.fixture()
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"a download was attempted: {args}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def ssdlite() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_detector(DetectorConfig(score_thresh=0.0, detections_per_img=5))


def test_the_factory_passes_no_weights_and_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    for arch in ssd.BUILDERS:
        monkeypatch.setitem(ssd.BUILDERS, arch, lambda **kwargs: calls.append(kwargs))
        build_detector(DetectorConfig(arch=arch, score_thresh=0.3, nms_thresh=0.4))
    assert len(calls) == 2
    for kwargs in calls:
        assert kwargs["weights"] is None and kwargs["weights_backbone"] is None
        assert kwargs["num_classes"] == 2 and kwargs["score_thresh"] == 0.3
        assert kwargs["nms_thresh"] == 0.4 and kwargs["detections_per_img"] == 20


@pytest.mark.parametrize("arch", list(ssd.BUILDERS))
def test_both_architectures_build_without_downloading(arch: str, no_downloads: None) -> None:
    model = build_detector(DetectorConfig(arch=arch, score_thresh=0.2, detections_per_img=7))
    assert model.score_thresh == 0.2 and model.detections_per_img == 7
    # two classes: background and person
    assert model.head.classification_head.num_columns == 2


def _imagenet_state(arch: str) -> dict[str, torch.Tensor]:
    """The state dict of torchvision's ImageNet classifier behind `arch` (VGG-16's features
    only: its classifier is 120 M parameters the detector never has)."""
    torch.manual_seed(0)
    if arch == "ssd300_vgg16":
        features = vgg.make_layers(vgg.cfgs["D"]).state_dict()
        return {f"features.{name}": tensor for name, tensor in features.items()}
    return mobilenet_v3_large().state_dict()


@pytest.mark.parametrize("arch", list(ssd.BUILDERS))
def test_the_imagenet_layout_takes_torchvisions_classifier_weights(
    arch: str, no_downloads: None
) -> None:
    model = build_detector(DetectorConfig(arch=arch, reduced_tail=False)).state_dict()
    backbone = {key: t.shape for key, t in model.items() if ssd.is_backbone(arch, key)}
    source = _imagenet_state(arch)
    heads = [name for name in source if ssd.backbone_key(arch, name) is None]
    classifier = [
        "classifier.0.weight",
        "classifier.0.bias",
        "classifier.3.weight",
        "classifier.3.bias",
    ]
    assert heads == ([] if arch == "ssd300_vgg16" else classifier)  # the head: left out
    mapped = {ssd.backbone_key(arch, n): t.shape for n, t in source.items() if n not in heads}
    assert mapped == backbone  # every classifier weight has a place, every place a weight
    assert len(backbone) == {"ssd300_vgg16": 26, "ssdlite320_mobilenet_v3_large": 308}[arch]
    if arch == "ssdlite320_mobilenet_v3_large":  # torchvision's own build, with the full tail
        reduced = build_detector(DetectorConfig(arch=arch)).state_dict()
        assert list(reduced) == list(model)
        differ = [key for key in model if model[key].shape != reduced[key].shape]
        assert differ and all(key.split(".")[:3] != ["backbone", "features", "0"] for key in differ)
        assert model["backbone.features.1.3.0.weight"].shape == (960, 160, 1, 1)  # 480 reduced


def test_training_forward_gives_finite_losses(ssdlite: torch.nn.Module) -> None:
    images = [torch.rand(3, 160, 160), torch.rand(3, 160, 120)]
    targets = [
        {"boxes": torch.tensor([[20.0, 30.0, 90.0, 150.0]]), "labels": torch.tensor([1])},
        {
            "boxes": torch.tensor([[5.0, 5.0, 60.0, 100.0], [50.0, 20.0, 110.0, 150.0]]),
            "labels": torch.tensor([1, 1]),
        },
    ]
    losses = ssdlite.train()(images, targets)
    assert set(losses) == {"bbox_regression", "classification"}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()


def test_eval_forward_gives_boxes_scores_labels(ssdlite: torch.nn.Module) -> None:
    with torch.no_grad():
        out = ssdlite.eval()([torch.rand(3, 160, 160), torch.rand(3, 120, 200)])
    assert len(out) == 2
    for det, (height, width) in zip(out, [(160, 160), (120, 200)], strict=True):
        assert set(det) == {"boxes", "scores", "labels"}
        assert det["boxes"].shape[1] == 4 and len(det["boxes"]) <= 5
        if len(det["boxes"]):  # boxes come back in the input image's pixels
            assert (
                float(det["boxes"][:, 2].max()) <= width
                and float(det["boxes"][:, 3].max()) <= height
            )


@pytest.mark.parametrize("preset", ["ssd", "ssdlite"])
def test_augmentation_keeps_boxes_valid(preset: str) -> None:
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 20.0, 60.0, 110.0], [70.0, 5.0, 155.0, 80.0], [0.0, 0.0, 30.0, 30.0]])
    transform = train_transform(DetectorConfig(augment=preset))
    for _ in range(60):
        out_image, target = transform(*detection_sample(image, boxes))
        assert out_image.dtype == torch.float32 and float(out_image.min()) >= 0.0
        assert float(out_image.max()) <= 1.0
        height, width = out_image.shape[-2:]
        b = target["boxes"]
        assert isinstance(b, tv_tensors.BoundingBoxes) and tuple(b.canvas_size) == (height, width)
        assert len(b) == len(target["labels"]) and bool((target["labels"] == 1).all())
        assert bool((b[:, 0] >= 0).all() and (b[:, 1] >= 0).all())
        assert bool((b[:, 2] <= width).all() and (b[:, 3] <= height).all())
        assert bool(((b[:, 2] - b[:, 0]) > 0).all() and ((b[:, 3] - b[:, 1]) > 0).all())


def test_eval_transform_scales_to_float() -> None:
    image, _ = detection_sample(np.full((4, 5, 3), 255, dtype=np.uint8), np.zeros((0, 4)))
    out = eval_transform()(image)
    assert out.shape == (3, 4, 5) and out.dtype == torch.float32 and float(out.max()) == 1.0
    from_array = eval_transform()(np.full((4, 5, 3), 255, dtype=np.uint8))
    assert from_array.shape == (3, 4, 5) and float(from_array.min()) == 1.0


def test_person_boxes_are_the_person_detections_best_first() -> None:
    detections = {
        "boxes": torch.tensor([[0.0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 3, 3], [3, 3, 4, 4]]),
        "scores": torch.tensor([0.3, 0.9, 0.5, 0.7]),
        "labels": torch.tensor([1, 2, 1, 1]),
    }
    found = person_boxes(detections)
    assert [s for _, s in found] == pytest.approx([0.7, 0.5, 0.3])
    np.testing.assert_array_equal(found[0][0], [3, 3, 4, 4])
    assert person_boxes({**detections, "labels": torch.tensor([2, 2, 2, 2])}) == []


def test_best_person_box_picks_the_highest_scoring_person() -> None:
    detections = {
        "boxes": torch.tensor([[0.0, 0, 10, 10], [1, 1, 20, 30], [2, 2, 5, 5], [3, 3, 9, 9]]),
        "scores": torch.tensor([0.5, 0.7, 0.9, 0.6]),
        "labels": torch.tensor([1, 1, 2, 1]),
    }
    found = best_person_box(detections)
    assert found is not None
    box_xyxy_px, score = found
    np.testing.assert_array_equal(box_xyxy_px, [1, 1, 20, 30])
    assert score == pytest.approx(0.7)
    empty = {
        "boxes": torch.zeros(0, 4),
        "scores": torch.zeros(0),
        "labels": torch.zeros(0, dtype=torch.int64),
    }
    assert best_person_box(empty) is None
    assert best_person_box({**detections, "labels": torch.tensor([2, 2, 2, 2])}) is None


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(ValueError, match="arch"):
        DetectorConfig(arch="yolo")
    with pytest.raises(ValueError, match="augment"):
        DetectorConfig(augment="heavy")
    with pytest.raises(ValueError, match="image_hwc"):
        detection_sample(np.zeros((4, 4, 3), dtype=np.float32), np.zeros((0, 4)))
    with pytest.raises(ValueError, match="labels"):
        detection_sample(np.zeros((4, 4, 3), dtype=np.uint8), np.zeros((2, 4)), np.array([1]))
    with pytest.raises(ValueError, match="scores"):
        best_person_box({"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)})
