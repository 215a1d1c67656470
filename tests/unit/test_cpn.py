"""models.cpn and models.cpn_loss: shapes, OHKM by hand, masking, a few steps that lower the loss,
channels_last and bfloat16 autocast. Small: ResNet-18 on 64 x 64 crops, batch 2."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.cpn import CPN, CPNConfig
from models.cpn_loss import cpn_loss, global_loss, per_joint_l2, refine_loss
from pose3d.heatmaps import gaussian_heatmaps

SMALL = CPNConfig(backbone="resnet18", input_size=64, channels=32, refine_depth=1)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _batch(cfg: CPNConfig, n: int = 2, seed: int = 0):
    """Images, global targets (N, 4, J, H, W), refine targets (N, J, H, W), visibility (N, J)."""
    rng = np.random.default_rng(seed)
    kp_crop_px = rng.uniform(4.0, cfg.input_size - 4.0, size=(n, cfg.num_joints, 2))
    visible = rng.random((n, cfg.num_joints)) > 0.2
    per_level = [
        gaussian_heatmaps(kp_crop_px, visible, cfg.input_size, 4, s) for s in cfg.global_sigmas
    ]
    refine = gaussian_heatmaps(kp_crop_px, visible, cfg.input_size, 4, cfg.refine_sigma)
    images = torch.from_numpy(rng.normal(size=(n, 3, cfg.input_size, cfg.input_size))).float()
    return (
        images,
        torch.from_numpy(np.stack(per_level, axis=1)),
        torch.from_numpy(refine),
        torch.from_numpy(visible),
    )


@pytest.fixture(scope="module")
def model() -> CPN:
    torch.manual_seed(0)
    return CPN(SMALL)


def test_output_shapes(model: CPN) -> None:
    images, *_ = _batch(SMALL)
    global_heatmaps, refine_heatmaps = model.eval()(images)
    assert len(global_heatmaps) == 4
    for h in [*global_heatmaps, refine_heatmaps]:
        assert tuple(h.shape) == (2, 17, 16, 16)
    with pytest.raises(ValueError, match="CPN input"):
        model(torch.zeros(2, 3, 96, 96))


def test_ohkm_keeps_the_k_hardest_visible_joints() -> None:
    # per-joint loss of joint j is a_j^2 with a constant error a_j; joints 15 and 16 invisible
    errors = torch.tensor([3.0, 14, 1, 9, 0, 12, 7, 2, 10, 5, 13, 4, 11, 8, 6, 15, 16])
    targets = errors[None, :, None, None].expand(1, 17, 4, 4)
    visible = torch.ones(1, 17, dtype=torch.bool)
    visible[0, 15:] = False
    loss = refine_loss(torch.zeros(1, 17, 4, 4), targets, visible, top_k=8)
    # the 8 largest visible errors are 7..14: (49 + 64 + ... + 196) / 8 = 924 / 8
    assert float(loss) == pytest.approx(115.5)
    # with two visible joints only those two count
    visible2 = torch.zeros(1, 17, dtype=torch.bool)
    visible2[0, [2, 4]] = True
    assert float(refine_loss(torch.zeros(1, 17, 4, 4), targets, visible2)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="top_k"):
        refine_loss(torch.zeros(1, 17, 4, 4), targets, visible, top_k=18)


def test_ohkm_averages_samples_and_its_gradient_reaches_only_the_hardest() -> None:
    pred = torch.zeros(2, 17, 2, 2, requires_grad=True)
    targets = torch.arange(34, dtype=torch.float32).reshape(2, 17, 1, 1).expand(2, 17, 2, 2)
    loss = refine_loss(pred, targets, torch.ones(2, 17, dtype=torch.bool), top_k=3)
    expected = (np.mean([14**2, 15**2, 16**2]) + np.mean([31**2, 32**2, 33**2])) / 2
    assert float(loss.detach()) == pytest.approx(expected)
    loss.backward()
    assert pred.grad is not None
    touched = pred.grad.abs().sum(dim=(-2, -1)) > 0
    assert touched[:, 14:].all() and not touched[:, :14].any()


def test_invisible_joints_do_not_contribute_to_the_global_loss() -> None:
    _, targets, _, visible = _batch(SMALL)
    heatmaps = [t.clone() + 0.1 for t in targets.unbind(dim=1)]
    base = global_loss(heatmaps, targets, visible)
    spoiled = [h.clone() for h in heatmaps]
    for h in spoiled:
        h[~visible] = 100.0
    assert float(global_loss(spoiled, targets, visible)) == pytest.approx(float(base))
    # each level's mean over visible joints of the per-pixel squared error 0.01: 4 levels
    assert float(base) == pytest.approx(0.04, rel=1e-5)
    assert float(global_loss(heatmaps, list(targets.unbind(dim=1)), visible)) == pytest.approx(
        0.04, rel=1e-5
    )
    with pytest.raises(ValueError, match="targets"):
        global_loss(heatmaps[:3], targets, visible)
    with pytest.raises(ValueError, match="visible"):
        global_loss(heatmaps, targets, visible[:, :16])


def test_per_joint_l2_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="heatmaps"):
        per_joint_l2(torch.zeros(1, 17, 4, 4), torch.zeros(1, 17, 4, 5))


def test_adam_steps_on_a_fixed_batch_lower_the_loss() -> None:
    torch.manual_seed(1)
    model = CPN(SMALL).train()
    images, global_targets, refine_targets, visible = _batch(SMALL, seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = cpn_loss(model(images), global_targets, refine_targets, visible, SMALL.top_k)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0], losses


def test_channels_last_gives_the_same_heatmaps(model: CPN) -> None:
    images, *_ = _batch(SMALL)
    model.eval()
    with torch.no_grad():
        reference = model(images)[1]
        model_cl = model.to(memory_format=torch.channels_last)
        out = model_cl(images.contiguous(memory_format=torch.channels_last))[1]
        model.to(memory_format=torch.contiguous_format)
    assert out.shape == reference.shape
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)


def test_bfloat16_autocast_trains_with_a_float32_loss() -> None:
    torch.manual_seed(2)
    model = CPN(SMALL).train().to(memory_format=torch.channels_last)
    images, global_targets, refine_targets, visible = _batch(SMALL, seed=2)
    images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = model(images)
        loss = cpn_loss(outputs, global_targets, refine_targets, visible)
    assert outputs[1].dtype == torch.bfloat16
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="backbone"):
        CPNConfig(backbone="resnet34")
    with pytest.raises(ValueError, match="input_size"):
        CPNConfig(input_size=100)
    with pytest.raises(ValueError, match="heatmap_stride"):
        CPNConfig(heatmap_stride=8)
    with pytest.raises(ValueError, match="top_k"):
        CPNConfig(top_k=0)
