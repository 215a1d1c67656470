"""tasks.train_cpn and tasks.route.cpn on tiny data: the training sample's crop, keypoints
and targets agree (with jitter and flip), predict_crops and its flip test, the metrics by hand,
the resume rule and the refusal of the challenge's Val/Test subjects; a run started from an
ImageNet ResNet's state dict written here (``backbone_weights``), which decides the run."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from cpn_fixtures import tiny_cpn_config, write_tiny_extract
from torch import nn
from torchvision.models import resnet18, resnet34

from models.cpn import CPN, CPNConfig
from pose3d.config import ConfigError
from pose3d.crop import CropJitter, fit_keypoint_square, from_crop
from pose3d.heatmaps import decode_heatmaps
from pose3d.skeleton import flip_lr
from tasks.engine import CheckpointError, save_checkpoint
from tasks.route.cpn import LoadedCPN, load_cpn, normalize_images, predict_crops
from tasks.train_cpn import (
    _step_loss,
    build_sample,
    cpn_config,
    keypoint_errors,
    load_training_frames,
    sample_targets,
    train_cpn,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")

NET = CPNConfig(backbone="resnet18", input_size=64, channels=8)


def _dotted_image(kp: np.ndarray, joint: int) -> np.ndarray:
    """A dark image with one bright pixel, at `joint`'s position (rounded)."""
    image = np.zeros((120, 100, 3), np.uint8)
    x, y = np.round(kp[joint]).astype(int)
    image[y - 1 : y + 2, x - 1 : x + 2] = 255
    return image


@pytest.mark.parametrize(
    ("rotate", "scale", "flip", "shift"),
    [
        (0.0, 1.0, False, 0.0),
        (25.0, 0.85, False, 0.0),
        (-30.0, 1.2, True, 0.0),
        (10.0, 1.1, True, 0.06),
    ],  # fmt: skip
)
def test_sample_targets_peak_on_the_keypoints_after_decode_and_icr(
    rotate: float, scale: float, flip: bool, shift: float
) -> None:
    rng = np.random.default_rng(1)
    kp = np.stack([rng.uniform(30, 70, 17), rng.uniform(20, 100, 17)], axis=-1)
    kp[0] = np.round(kp[0])  # the dotted joint sits on a pixel centre
    box = np.concatenate([kp.min(0), kp.max(0)])
    jitter = CropJitter(rotate, scale, shift, -shift)
    sample = build_sample(_dotted_image(kp, 0), box, kp, 64, 0.25, jitter, flip)
    assert sample.crop.shape == (64, 64, 3) and sample.crop.dtype == np.uint8
    assert sample.visible.all()
    global_maps, refine = sample_targets(sample, NET)
    assert global_maps.shape == (4, 17, 16, 16) and refine.shape == (17, 16, 16)
    side_px = (box[3] - box[1]) * 1.25 * scale / 64  # image px per crop px
    expected = flip_lr(kp) if flip else kp
    for maps in (refine, *global_maps):
        kp_hm, _ = decode_heatmaps(maps[None])
        back = from_crop(kp_hm[0] * 4, sample.affine)
        # argmax + quarter shift: within a quarter heatmap pixel (1 crop px) per crop axis
        assert np.linalg.norm(back - expected, axis=-1).max() <= 1.01 * np.sqrt(2) * side_px
    # the crop's pixels agree with its keypoints: the bright pixel is where joint 0 went
    # (the left/right swap leaves the pelvis, joint 0, in place)
    bright = np.unravel_index(np.argmax(sample.crop[..., 0]), (64, 64))[::-1]
    assert np.abs(np.array(bright) - sample.kp_crop_px[0]).max() <= 1.0
    if flip:  # the flipped crop's RHip is the unflipped crop's LHip, mirrored
        unflipped = build_sample(_dotted_image(kp, 0), box, kp, 64, 0.25, jitter, False)
        np.testing.assert_allclose(sample.kp_crop_px[1, 0], 63 - unflipped.kp_crop_px[4, 0])
        np.testing.assert_allclose(sample.kp_crop_px[1, 1], unflipped.kp_crop_px[4, 1])


def test_joints_outside_the_crop_or_missing_are_not_visible() -> None:
    kp = np.tile([[50.0, 60.0]], (17, 1))
    kp[3] = [400.0, 60.0]  # far outside the box's square
    kp[5] = np.nan
    box = np.array([40.0, 30.0, 60.0, 90.0])
    sample = build_sample(np.zeros((120, 100, 3), np.uint8), box, kp, 64, 0.25)
    assert not sample.visible[3] and not sample.visible[5] and sample.visible.sum() == 15
    _, refine = sample_targets(sample, NET)
    assert refine[3].max() == 0 and refine[5].max() == 0 and refine[0].max() > 0.9


def test_keypoint_errors_by_hand() -> None:
    truth = np.zeros((2, 17, 2))
    pred = truth.copy()
    pred[0, 0] = [3.0, 4.0]  # 5 px off: a PCK@5% miss (box 80 px: 4 px), a PCK@10% hit (8 px)
    pred[1, 2] = [0.0, 9.0]  # 9 px: a miss of both
    truth[1, 16] = np.nan  # not labelled: not counted
    boxes = np.array([[0, 0, 40, 80], [10, 10, 90, 50]], float)  # longest sides 80 and 80
    metrics, per_joint = keypoint_errors(pred, truth, boxes)
    assert metrics["joints"] == 33
    assert metrics["px_error"] == pytest.approx(14.0 / 33)
    assert metrics["pck5_box"] == pytest.approx(31 / 33)
    assert metrics["pck10_box"] == pytest.approx(32 / 33)
    assert per_joint[0] == pytest.approx(2.5) and per_joint[2] == pytest.approx(4.5)
    assert per_joint[16] == 0.0 and per_joint[1] == 0.0
    pred[0, 1] = np.nan  # a labelled joint without a prediction: a miss, infinite error
    metrics, _ = keypoint_errors(pred, truth, boxes)
    assert metrics["pck10_box"] == pytest.approx(31 / 33) and metrics["px_error"] == np.inf
    with pytest.raises(ValueError, match="expected"):
        keypoint_errors(pred[:1], truth, boxes)


class _DotFinder(nn.Module):
    """Stands in for a CPN: every joint's heatmap is a Gaussian on the input's brightest pixel."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        from pose3d.heatmaps import gaussian_heatmaps

        flat = images.sum(1).flatten(1).argmax(1).numpy()
        y, x = np.divmod(flat, self.size)
        kp = np.repeat(np.stack([x, y], -1)[:, None].astype(float), 17, axis=1)
        maps = torch.from_numpy(gaussian_heatmaps(kp, np.ones(kp.shape[:2], bool), self.size))
        return [maps] * 4, maps


def test_predict_crops_flip_test_lands_on_the_dot() -> None:
    crops = np.zeros((3, 64, 64, 3), np.uint8)
    dots = [(37, 21), (10, 50), (52, 33)]
    for crop, (x, y) in zip(crops, dots, strict=True):
        crop[y, x] = 255
    cpn = LoadedCPN(_DotFinder(64), NET, margin=0.25, flip_test=True)
    for flip in (False, True):
        kp, scores = predict_crops(cpn, crops, batch_size=2, flip_test=flip)
        assert kp.shape == (3, 17, 2) and scores.shape == (3, 17)
        assert kp.dtype == np.float64 and scores.dtype == np.float64
        # without the half flip offset, x would be 1.5 px left of the dot
        assert np.abs(kp - np.array(dots)[:, None]).max() <= 1.0, (flip, kp[:, 0])
    with pytest.raises(ValueError, match="uint8"):
        predict_crops(cpn, crops.astype(np.float32))
    with pytest.raises(ValueError, match="64, 64, 3"):
        predict_crops(cpn, crops[:, :32])


def test_train_writes_loads_and_predicts(tmp_path: Path) -> None:
    """Training itself (resume included) is the engine's, tested once in test_engine."""
    write_tiny_extract(tmp_path / "extract")
    cfg = tiny_cpn_config(epochs=2, decode="dark")
    train, heldout = load_training_frames(cfg, tmp_path / "extract")
    assert set(train.subject) == {"S1"} and set(heldout.subject) == {"S8"}
    out = tmp_path / "cpn"
    first = train_cpn(train, heldout, cfg, 0.3, out, seed=0)
    assert first.epochs_run == 2 and len(first.history) == 2
    for name in ("checkpoint.pt", "history.csv", "metrics.json", "per_joint.csv", "keypoints.png"):
        assert (out / name).is_file(), name
    for key in ("heldout_px_error", "heldout_pck5_box", "heldout_pck10_box", "train_seconds"):
        assert np.isfinite(first.metrics[key]), key
    cpn = load_cpn(out / "checkpoint.pt")
    assert cpn.config == cpn_config(cfg) and cpn.margin == 0.3 and cpn.flip_test
    assert cpn.channels_last and cpn.bf16 and not cpn.model.training and cpn.decode == "dark"
    assert first.metrics["decode_dark"] == 1.0
    assert cpn.keypoint_square == fit_keypoint_square(train.kp2d_px, train.box_xyxy_px)
    crops = np.random.default_rng(0).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    kp, scores = predict_crops(cpn, crops)
    assert kp.shape == (3, 17, 2) and scores.shape == (3, 17)
    assert np.all((kp >= -1) & (kp <= 64)) and np.all(np.isfinite(scores))
    kp_single, _ = predict_crops(cpn, crops[:1], flip_test=False)
    kp_batch, _ = predict_crops(cpn, crops, batch_size=3, flip_test=False)
    assert np.abs(kp_single[0] - kp_batch[0]).max() <= 4.0  # bf16 may move an argmax a cell

    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_cpn(tmp_path / "bad.pt")

    # a checkpoint from before the option decodes as it was scored then; an unknown one is refused
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    del state["extra"]["decode"]
    save_checkpoint(tmp_path / "old.pt", state)
    assert load_cpn(tmp_path / "old.pt").decode == "quarter"
    state["extra"]["decode"] = "soft-argmax"
    save_checkpoint(tmp_path / "odd.pt", state)
    with pytest.raises(CheckpointError, match="odd.pt.*soft-argmax"):
        load_cpn(tmp_path / "odd.pt")
    # a checkpoint from before refine passes has no keypoint square; a broken one is refused
    state["extra"]["decode"] = "dark"
    del state["extra"]["keypoint_square"]
    save_checkpoint(tmp_path / "older.pt", state)
    assert load_cpn(tmp_path / "older.pt").keypoint_square is None
    state["extra"]["keypoint_square"] = {"side_ratio": -1.0, "offset_x": 0.0, "offset_y": 0.0}
    save_checkpoint(tmp_path / "square.pt", state)
    with pytest.raises(CheckpointError, match="square.pt.*keypoint square"):
        load_cpn(tmp_path / "square.pt")


def test_refuses_a_challenge_val_subject(tmp_path: Path) -> None:
    write_tiny_extract(tmp_path / "extract", challenge_val="S1")
    with pytest.raises(ValueError, match=r"train_cpn.subjects: \['S1'\] appear in the challenge"):
        load_training_frames(tiny_cpn_config(), tmp_path / "extract")
    with pytest.raises(ValueError, match="fewer than one batch"):
        write_tiny_extract(tmp_path / "ok")
        cfg = tiny_cpn_config(batch_size=8)
        train, heldout = load_training_frames(cfg, tmp_path / "ok")
        train_cpn(train, heldout, cfg, 0.25, tmp_path / "cpn", seed=0)


def _imagenet_resnet18(path: Path, seed: int) -> dict[str, torch.Tensor]:
    """Write a resnet18 state dict as torchvision saves it (seeded) to `path`; return it."""
    torch.manual_seed(seed)
    state = resnet18().state_dict()
    torch.save(state, path)
    return state


def _backbone_equals(checkpoint: Path, state: dict[str, torch.Tensor]) -> bool:
    saved = torch.load(checkpoint, weights_only=False)["model"]
    return all(
        torch.allclose(saved[f"backbone.{name}"], tensor, atol=1e-6)
        for name, tensor in state.items()
        if name.endswith("conv1.weight") or name.endswith("conv2.weight")  # not BN's running stats
    )


def test_the_backbone_weights_file_starts_the_run_and_decides_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_tiny_extract(tmp_path / "extract")
    weights = tmp_path / "imagenet" / "resnet18.pth"
    weights.parent.mkdir()
    first = _imagenet_resnet18(weights, seed=1)
    cfg = tiny_cpn_config(backbone_weights=str(weights), lr=1e-9, bf16=False)
    train, heldout = load_training_frames(cfg, tmp_path / "extract")
    out = tmp_path / "cpn"
    with caplog.at_level("INFO", logger="pose3d"):
        assert train_cpn(train, heldout, cfg, 0.3, out, seed=0).epochs_run == 1
        assert _backbone_equals(out / "checkpoint.pt", first)  # lr ~0: the file's weights
        saved = torch.load(out / "checkpoint.pt", weights_only=False)
        sha = hashlib.sha256(weights.read_bytes()).hexdigest()
        assert saved["backbone_weights"] == {"path": str(weights), "sha256": sha}
        assert saved["fingerprint"]["config"]["backbone_weights_sha256"] == sha
        assert "backbone_weights" not in saved["fingerprint"]["config"]  # the content, not the path
        # moved: the same run, resumed (complete), nothing loaded
        moved = weights.rename(tmp_path / "resnet18_moved.pth")
        cfg = dataclasses.replace(cfg, backbone_weights=str(moved))
        assert train_cpn(train, heldout, cfg, 0.3, out, seed=0).epochs_run == 0
        # changed: another run, from scratch, from the new weights
        second = _imagenet_resnet18(moved, seed=2)
        assert train_cpn(train, heldout, cfg, 0.3, out, seed=0).epochs_run == 1
        assert _backbone_equals(out / "checkpoint.pt", second)
    loads = [r.getMessage() for r in caplog.records if "backbone tensors loaded" in r.getMessage()]
    assert len(loads) == 2 and loads[0].startswith("train_cpn.backbone_weights: 120 backbone")


def test_backbone_weights_missing_or_of_another_network_are_refused_by_name(
    tmp_path: Path,
) -> None:
    write_tiny_extract(tmp_path / "extract")
    cfg = tiny_cpn_config(backbone_weights=str(tmp_path / "missing.pth"))
    train, heldout = load_training_frames(cfg, tmp_path / "extract")
    with pytest.raises(
        FileNotFoundError, match=r"train_cpn.backbone_weights: .*/missing.pth: not found"
    ):
        train_cpn(train, heldout, cfg, 0.3, tmp_path / "cpn", seed=0)
    torch.manual_seed(0)
    torch.save(resnet34().state_dict(), tmp_path / "resnet34.pth")  # a backbone=resnet34 file
    cfg = tiny_cpn_config(backbone_weights=str(tmp_path / "resnet34.pth"))
    with pytest.raises(
        ValueError,
        match=r"^train_cpn.backbone_weights: .*/resnet34.pth: 'layer1.2.conv1.weight' fits none",
    ):
        train_cpn(train, heldout, cfg, 0.3, tmp_path / "cpn", seed=0)
    assert not (tmp_path / "cpn" / "checkpoint.pt").exists()  # refused before any step


def _network_inputs(cfg_changes: dict[str, object], seed: int) -> torch.Tensor:
    """The images one training step of `_step_loss` gives the network, for a fixed batch."""
    cfg = tiny_cpn_config(**cfg_changes)
    net = cpn_config(cfg)
    model = CPN(net)
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    rng = np.random.default_rng(0)
    crops = torch.from_numpy(rng.integers(40, 200, (2, 64, 64, 3), dtype=np.uint8))
    maps = torch.zeros(2, len(net.global_sigmas), 17, 16, 16)
    batch = (crops, maps, torch.zeros(2, 17, 16, 16), torch.ones(2, 17, dtype=torch.bool))
    step = _step_loss(model, net, cfg, torch.device("cpu"), torch.Generator().manual_seed(seed))
    loss, n = step(batch)
    assert n == 2 and torch.isfinite(loss)
    plain = normalize_images(crops, cfg.channels_last)
    return torch.stack([seen[0], plain])


@pytest.mark.parametrize(
    "jitter",
    [
        {"colour_jitter": (0.4, 0.4, 0.4, 0.1)},
        {"texture_jitter": (1.0, 0.05)},
        {"occlusion": (1.0, 2)},
    ],  # fmt: skip
)
def test_the_training_step_jitters_each_crops_look_when_asked_and_only_then(
    jitter: dict[str, object],
) -> None:
    off = _network_inputs({}, seed=0)
    assert torch.equal(off[0], off[1])
    on, again, other = (_network_inputs(jitter, seed) for seed in (0, 0, 1))
    assert not torch.allclose(on[0], on[1], atol=1e-3)
    assert torch.equal(on[0], again[0]) and not torch.equal(on[0], other[0])


@pytest.mark.parametrize("jitter", [(1.5, 0.0, 0.0, 0.0), (0.0, 0.0, -0.1, 0.0), (0, 0, 0, 0.6)])
def test_colour_jitter_out_of_range_is_refused_by_key(jitter: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="train_cpn.colour_jitter"):
        tiny_cpn_config(colour_jitter=jitter)


@pytest.mark.parametrize("texture", [(1.5, 0.0), (-0.1, 0.0), (0.5, 0.3)])
def test_texture_jitter_out_of_range_is_refused_by_key(texture: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="train_cpn.texture_jitter"):
        tiny_cpn_config(texture_jitter=texture)


@pytest.mark.parametrize("shift", [-0.1, 0.6])
def test_a_shift_out_of_range_is_refused_by_key(shift: float) -> None:
    with pytest.raises(ConfigError, match="train_cpn.shift"):
        tiny_cpn_config(shift=shift)


@pytest.mark.parametrize("occlusion", [(1.5, 1), (-0.1, 1), (0.5, 9), (0.5, 1.5)])
def test_occlusion_out_of_range_is_refused_by_key(occlusion: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="train_cpn.occlusion"):
        tiny_cpn_config(occlusion=occlusion)


def test_an_unknown_heatmap_decoding_is_refused_by_key() -> None:
    with pytest.raises(ConfigError, match="train_cpn.decode.*'centroid'"):
        tiny_cpn_config(decode="centroid")
