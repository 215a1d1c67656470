from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from lifting_rows import sequence_rows

from models.lifter import Layer, Lifter, _ClippedLinear, keep_mask
from pose3d.camera import Camera, look_at
from pose3d.config import AugmentConfig, ConfigError, LifterConfig, TrainLifterConfig
from pose3d.io import HISTORY
from pose3d.lifting.dataset import LiftingDataset
from tasks import engine
from tasks import train_lifter as tl
from tasks.lifter import inference as li

SMALL = LifterConfig(width=32, num_blocks=1, dropout=0.1)


def _train_cfg(**changes: object) -> TrainLifterConfig:
    cfg = TrainLifterConfig(
        model=SMALL, epochs=3,
        batch_size=32, lr=3e-3, lr_schedule="cosine", lr_decay=0.96, lr_decay_steps=1000,
        warmup_fraction=0.1, weight_decay=0.0, loss="mse", norm_2d="zscore", flip_train=False,
        flip_test=False,
    )  # fmt: skip
    return dataclasses.replace(cfg, **changes)  # type: ignore[arg-type]


def _dataset(n: int = 256, joints: int = 17, seed: int = 0) -> LiftingDataset:
    """Poses from a 4-dimensional linear model, seen by a pinhole camera 5 m away."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(99).normal(0, 150, size=(4, joints, 3))
    pose = np.einsum("nk,kjd->njd", rng.normal(size=(n, 4)), basis)
    pose -= pose[:, :1]
    absolute = pose + np.array([0.0, 0.0, 5000.0])
    kp = 1000.0 * absolute[..., :2] / absolute[..., 2:] + 500.0
    return LiftingDataset(kp, pose, np.full(n, "S1", object), np.full(n, "Walking", object),
                          np.full(n, "c1", object), np.tile([1000.0, 1000.0], (n, 1)),
                          np.tile([500.0, 500.0], (n, 1)))  # fmt: skip


def test_model_shapes_and_switches() -> None:
    for cfg in (
        SMALL,
        dataclasses.replace(SMALL, residual=False, batch_norm=False, max_norm=False),
    ):
        model = Lifter(cfg)
        assert model(torch.zeros(8, 34)).shape == (8, 48)
        has_bn = any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())
        assert has_bn == cfg.batch_norm
    model = Lifter(dataclasses.replace(SMALL, input_joints=tuple(j for j in range(17) if j != 9)))
    assert model(torch.zeros(4, 32)).shape == (4, 48)
    with pytest.raises(ValueError, match=r"\(B, 32\)"):
        model(torch.zeros(4, 34))
    with pytest.raises(ValueError, match="max_norm_mode"):
        Lifter(dataclasses.replace(SMALL, max_norm_mode="clip_grad"))
    with pytest.raises(ValueError, match="matmul_dtype"):
        Lifter(dataclasses.replace(SMALL, matmul_dtype="float16"))


@pytest.mark.parametrize("max_norm", [True, False])
def test_bfloat16_blocks_match_float32_to_its_rounding(max_norm: bool) -> None:
    """Same weights, block products in bfloat16: outputs and gradients within bfloat16 rounding,
    parameters stay float32, and the first and last layers are left in float32."""
    cfg = dataclasses.replace(SMALL, width=64, dropout=0.0, max_norm=max_norm)
    torch.manual_seed(0)
    full = Lifter(cfg)
    half = Lifter(dataclasses.replace(cfg, matmul_dtype="bfloat16"))
    half.load_state_dict(full.state_dict())
    dtypes = [m.matmul_dtype for m in half.linears()]
    assert dtypes[0] == dtypes[-1] == torch.float32 and set(dtypes[1:-1]) == {torch.bfloat16}
    x, g = torch.randn(32, 34), torch.randn(32, 48)
    outs, grads = [], []
    for model in (full, half):
        out = model(x)
        (out * g).sum().backward()
        outs.append(out.detach())
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
        assert (
            all(p.dtype == torch.float32 for p in model.parameters()) and out.dtype == torch.float32
        )
    err = float((outs[1] - outs[0]).norm() / outs[0].norm())
    assert 0 < err < 2e-2  # rounded (not identical), but only by bfloat16's ~0.4% per product
    cos = torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0)
    assert float(cos) > 0.999


def test_clipped_linear_gradients_match_autograd_through_the_clip() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    for scale in (3.0, 0.01):  # clipped and not clipped
        w = (torch.randn(4, 7, dtype=torch.float64) * scale).requires_grad_()
        assert torch.autograd.gradcheck(
            lambda x, w, b: _ClippedLinear.apply(x, w, b, 1.0, torch.float64), (x, w, b)
        )
        g = torch.randn(5, 4, dtype=torch.float64)
        ours = torch.autograd.grad(
            (_ClippedLinear.apply(x, w, b, 1.0, torch.float64) * g).sum(), (x, w, b)
        )
        clipped = w * torch.clamp(1.0 / torch.linalg.vector_norm(w), max=1.0)
        ref = torch.autograd.grad((torch.nn.functional.linear(x, clipped, b) * g).sum(), (x, w, b))
        for a, r in zip(ours, ref, strict=True):
            torch.testing.assert_close(a, r)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5])
def test_keep_mask_keeps_each_entry_with_probability_one_minus_p(p: float) -> None:
    torch.manual_seed(0)
    shape = torch.Size([513, 301])  # not a multiple of 4 entries
    masks = torch.stack([keep_mask(shape, p) for _ in range(4)])
    assert masks.shape == (4, *shape) and masks.dtype == torch.bool
    kept = masks.double().mean()
    sigma = (p * (1 - p) / masks.numel()) ** 0.5
    assert abs(float(kept) - (1 - p)) <= 5 * sigma + 1e-12
    if p > 0:  # fresh draws, and no structure along the packed 16-bit words
        assert not torch.equal(masks[0], masks[1])
        by_lane = masks.reshape(-1)[: masks.numel() // 4 * 4].reshape(-1, 4).double().mean(0)
        assert torch.all((by_lane - (1 - p)).abs() <= 5 * (2 * sigma))  # a lane: 1/4 of entries


def test_relu_dropout_layer_is_inverted_dropout_after_relu() -> None:
    """Training: zero where x <= 0 or dropped, x / (1 - p) elsewhere, about 10% dropped of the
    positive entries, the same mask in the gradient; eval: plain ReLU."""
    cfg = dataclasses.replace(SMALL, dropout=0.1, batch_norm=False, max_norm=False)
    layer = Layer(16, 4096, cfg, None)
    torch.manual_seed(1)
    x = torch.randn(64, 16)
    pre = layer.linear(x).detach()
    h = pre.clone().requires_grad_()
    out = layer.dropout_relu(h)
    g = torch.randn_like(out)
    out.backward(g)
    kept = out != 0
    assert not kept[pre <= 0].any()
    torch.testing.assert_close(out[kept], pre[kept] / 0.9)
    dropped = float((~kept[pre > 0]).double().mean())
    assert 0.09 < dropped < 0.11
    torch.testing.assert_close(h.grad, torch.where(kept, g / 0.9, 0.0))
    layer.eval()
    torch.testing.assert_close(layer(x), torch.relu(pre))


def test_batch_norm_recalibration_is_an_exact_average_without_dropout() -> None:
    """The stem's batch norm gets the exact mean of its input over the rows; the next one a
    smaller variance than dropout gives it in training; weights, momenta and modes are restored."""
    torch.manual_seed(0)
    model = Lifter(dataclasses.replace(SMALL, width=64, dropout=0.4))
    _steps(model, 20)
    x = torch.randn(512, 34) * 2 + 1
    stem, block = model.stem.norm, model.blocks[0].layers[0].norm
    seen: dict[str, list[torch.Tensor]] = {"stem": [], "block": []}
    hooks = [
        stem.register_forward_hook(lambda m, i, o: seen["stem"].append(i[0].detach())),
        block.register_forward_hook(lambda m, i, o: seen["block"].append(i[0].detach())),
    ]
    model.train()
    with torch.no_grad():  # training mode: dropout on
        model(x[:256]), model(x[256:])
    var_with_dropout = torch.cat(seen["block"]).var(0)
    seen["stem"].clear()
    weights = [w.clone() for w in model.parameters()]
    engine.recalibrate_batch_norm(model, x, 5, 256, torch.Generator().manual_seed(0))  # 2 fit
    for h in hooks:
        h.remove()
    assert len(seen["stem"]) == 2  # two full batches, the rows in a random order
    torch.testing.assert_close(stem.running_mean, torch.cat(seen["stem"]).mean(0))
    batch_vars = torch.stack([b.var(0) for b in seen["stem"]])
    torch.testing.assert_close(stem.running_var, batch_vars.mean(0))
    assert float(block.running_var.mean()) < 0.9 * float(var_with_dropout.mean())
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True))
    assert stem.momentum == block.momentum == 0.1 and not any(m.training for m in model.modules())


def _steps(model: Lifter, n: int, lr: float = 0.05) -> list[float]:
    torch.manual_seed(1)
    x = torch.randn(64, 34)
    y = x @ torch.randn(34, 48) / 6.0  # a learnable target
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(n):
        loss = torch.mean((model(x) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.max_norm_step_()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("mode", ["forward", "post_step"])
def test_max_norm_holds_after_steps(mode: str) -> None:
    model = Lifter(dataclasses.replace(SMALL, max_norm_mode=mode, max_norm_value=1.0))
    _steps(model, 20)
    assert max(model.effective_weight_norms()) <= 1.0 + 1e-5
    stored = [float(torch.linalg.vector_norm(m.weight.detach())) for m in model.linears()]
    if mode == "forward":  # the stored matrix is free; only the one in the product is clipped
        assert max(stored) > 1.0
    else:
        assert max(stored) <= 1.0 + 1e-5


def test_a_few_steps_lower_the_loss() -> None:
    losses = _steps(Lifter(SMALL), 40, lr=0.03)
    assert losses[-1] < 0.5 * losses[0]


def test_train_writes_checkpoint_and_history_and_lowers_the_loss(tmp_path: Path) -> None:
    res = tl.train_lifter(_dataset(), _dataset(64, seed=1), _train_cfg(epochs=4), tmp_path, seed=0)
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4] and res.epochs_run == 4
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert res.history[-1]["val_mpjpe_p1_mm"] < res.history[0]["val_mpjpe_p1_mm"]
    lines = (tmp_path / HISTORY).read_text().splitlines()
    assert lines[0].split(",") == list(tl.HISTORY_FIELDS) and len(lines) == 5
    lifter = li.load_lifter(res.checkpoint, num_joints=17)
    val = _dataset(64, seed=1)
    pred = li.predict_lifter(lifter, val.kp2d_px, val.image_wh_px)
    assert pred.shape == (64, 17, 3) and (pred[:, 0] == 0).all()


def test_interrupted_training_resumes_to_the_same_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, cfg = _dataset(), _train_cfg(epochs=3, bn_recalibration_batches=2)
    full = tl.train_lifter(data, None, cfg, tmp_path / "full", seed=0)
    real_epoch = engine.train_one_epoch
    calls = {"n": 0}

    def crash_in_epoch_2(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "train_one_epoch", crash_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        tl.train_lifter(data, None, cfg, tmp_path / "cut", seed=0)
    monkeypatch.setattr(engine, "train_one_epoch", real_epoch)
    resumed = tl.train_lifter(data, None, cfg, tmp_path / "cut", seed=0)
    assert resumed.epochs_run == 2
    a = li.load_lifter(full.checkpoint).model.state_dict()
    b = li.load_lifter(resumed.checkpoint).model.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    (tmp_path / "cut" / HISTORY).unlink()  # as DVC does before rerunning the stage
    assert tl.train_lifter(data, None, cfg, tmp_path / "cut", seed=0).epochs_run == 0
    assert len((tmp_path / "cut" / HISTORY).read_text().splitlines()) == 4  # curves restored
    assert tl.train_lifter(data, None, cfg, tmp_path / "cut", seed=1).epochs_run == 3  # new config
    monkeypatch.setattr(engine, "code_digest", lambda module: "edited")  # other training code
    assert tl.train_lifter(data, None, cfg, tmp_path / "cut", seed=1).epochs_run == 3
    other_rows = _dataset(seed=5)  # same config and code, other training data
    assert tl.train_lifter(other_rows, None, cfg, tmp_path / "cut", seed=1).epochs_run == 3


def test_bfloat16_training_lowers_the_loss_and_reloads_in_bfloat16(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model = dataclasses.replace(SMALL, matmul_dtype="bfloat16")
    monkeypatch.setattr(tl, "bfloat16_is_native", lambda: False)
    with caplog.at_level("WARNING", logger="pose3d"):
        res = tl.train_lifter(_dataset(), None, _train_cfg(model=model, epochs=6), tmp_path, 0)
    assert "no native bfloat16" in caplog.text
    full = tl.train_lifter(_dataset(), None, _train_cfg(epochs=6), tmp_path / "f32", 0)
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < 0.85 * losses[0]
    assert abs(losses[-1] - full.history[-1]["train_loss"]) < 0.05 * losses[-1]  # as float32
    lifter = li.load_lifter(res.checkpoint)
    assert lifter.model.cfg.matmul_dtype == "bfloat16"
    assert lifter.model.linears()[1].matmul_dtype == torch.bfloat16


def test_checkpoint_for_other_joints_is_refused(tmp_path: Path) -> None:
    cfg = _train_cfg(epochs=1, model=dataclasses.replace(SMALL, num_joints=16))
    res = tl.train_lifter(_dataset(joints=16), None, cfg, tmp_path, seed=0)
    with pytest.raises(ValueError, match="trained for 16 joints, the data has 17"):
        li.load_lifter(res.checkpoint, num_joints=17)
    lifter = li.load_lifter(res.checkpoint)
    data = _dataset(8)
    with pytest.raises(ValueError, match=r"expects \(N, 16, 2\)"):
        li.predict_lifter(lifter, data.kp2d_px, data.image_wh_px)
    with pytest.raises(ValueError, match="16 joints, model.num_joints is 17"):
        tl.train_lifter(_dataset(joints=16), None, _train_cfg(epochs=1), tmp_path / "y", seed=0)


def test_nan_keypoints_are_the_training_mean(tmp_path: Path) -> None:
    data = _dataset()
    res = tl.train_lifter(data, None, _train_cfg(epochs=1, flip_test=True), tmp_path, seed=0)
    lifter = li.load_lifter(res.checkpoint)
    kp = data.kp2d_px[:8].copy()
    kp[:, 9] = np.nan
    pred = li.predict_lifter(
        lifter, kp, data.image_wh_px[:8], data.principal_px[:8], flip_test=True
    )
    assert np.isfinite(pred).all()
    mean = lifter.stats.mean_2d.reshape(17, 2)[9]
    kp[:, 9] = mean
    assert lifter.flip_test  # what training chose is the default of prediction
    filled = li.predict_lifter(lifter, kp, data.image_wh_px[:8], flip_test=False)
    kp[:, 9] = np.nan
    np.testing.assert_allclose(
        li.predict_lifter(lifter, kp, data.image_wh_px[:8], flip_test=False), filled, atol=1e-4
    )


def test_min_score_makes_doubtful_joints_missing_in_training_and_at_inference(
    tmp_path: Path,
) -> None:
    data = _dataset()
    scores = np.random.default_rng(4).random((len(data), 17)).astype(np.float32)
    data = dataclasses.replace(data, scores=scores)
    model = dataclasses.replace(SMALL, min_score=0.3)
    res = tl.train_lifter(data, data, _train_cfg(epochs=1, model=model), tmp_path, seed=0)
    lifter = li.load_lifter(res.checkpoint)
    assert lifter.model.cfg.min_score == 0.3  # the checkpoint records what inference repeats
    # training saw the doubtful joints as missing: its statistics ignore them
    kept = np.where((scores < 0.3)[..., None], np.nan, data.kp2d_px)
    np.testing.assert_allclose(
        lifter.stats.mean_2d.reshape(17, 2), np.nanmean(kept, axis=0), rtol=1e-5
    )
    rows, wh = data.kp2d_px[:16], data.image_wh_px[:16]
    given = li.predict_lifter(lifter, rows, wh, scores=scores[:16])
    np.testing.assert_allclose(given, li.predict_lifter(lifter, kept[:16], wh), atol=1e-5)
    assert not np.allclose(given, li.predict_lifter(lifter, rows, wh), atol=1e-3)  # no scores
    zero = li.predict_lifter(lifter, rows, wh, scores=np.zeros((16, 17)))  # nothing trusted
    np.testing.assert_allclose(zero, np.broadcast_to(zero[:1], zero.shape), atol=1e-5)


def test_empty_split_and_bad_settings_raise(tmp_path: Path) -> None:
    data = _dataset()
    with pytest.raises(ValueError, match="empty"):
        tl.train_lifter(data.take(np.zeros(len(data), bool)), None, _train_cfg(), tmp_path, seed=0)
    with pytest.raises(ValueError, match="loss"):
        tl.train_lifter(data, None, _train_cfg(loss="huber"), tmp_path, seed=0)
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        li.load_lifter(tmp_path / "none.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(engine.CheckpointError, match=f"{broken}: unreadable checkpoint"):
        li.load_lifter(broken)


def test_flip_training_and_all_schedules_and_losses_run(tmp_path: Path) -> None:
    data = _dataset(128)
    for i, (schedule, loss) in enumerate([("exponential", "mpjpe"), ("onecycle", "l1")]):
        cfg = _train_cfg(
            epochs=1, lr_schedule=schedule, loss=loss, flip_train=True, norm_2d="image"
        )
        res = tl.train_lifter(data, data, cfg, tmp_path / str(i), seed=0)
        assert np.isfinite(res.history[0]["val_mpjpe_p1_mm"])
    cfg = _train_cfg(lr_schedule="cosine", warmup_fraction=0.1)
    factors = [tl.lr_factor(cfg, s, 100) for s in range(100)]
    assert factors[9] == pytest.approx(1.0) and factors[0] < 0.2 and factors[-1] < 0.01
    exp = _train_cfg(lr_schedule="exponential", lr_decay=0.5, lr_decay_steps=10)
    assert tl.lr_factor(exp, 20, 100) == pytest.approx(0.25)


def test_augmented_epochs_replace_a_share_of_rows_reproducibly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = _dataset()
    augment = AugmentConfig(probability=0.5, rotate_deg=30.0, bone_scale=0.05)
    cfg = _train_cfg(epochs=1, augment=augment)
    with caplog.at_level("WARNING", logger="pose3d"):  # rows without a camera: no augmentation
        plain = tl.train_lifter(data, None, cfg, tmp_path / "none", seed=0)
    assert "without the body augmentation" in caplog.text and plain.epochs_run == 1
    # the camera of `_dataset`: pinhole, f 1000 px, centre (500, 500), root 5 m ahead, y down, 1.5 m up
    view = [0.0, 0.0, 5000.0, 0.0, -1.0, 0.0, 1000.0, 1000.0, 500.0, 500.0, 0, 0, 0, 0, 0, 1500]
    data = dataclasses.replace(data, geometry=np.tile(view, (len(data), 1)))
    base = tl.training_set(data, cfg)
    x0, y0 = tl.epoch_arrays(base, cfg, seed=0, epoch=0)
    again, _ = tl.epoch_arrays(base, cfg, seed=0, epoch=0)
    x1, _ = tl.epoch_arrays(base, cfg, seed=0, epoch=1)
    torch.testing.assert_close(x0, again)
    changed = (x0 != base.x).any(dim=1)
    assert 0.35 < float(changed.float().mean()) < 0.65
    assert ((y0 != base.y).any(dim=1) == changed).all()
    assert not torch.equal(x0, x1)
    res = tl.train_lifter(data, data, cfg, tmp_path / "aug", seed=0)
    assert np.isfinite(res.history[0]["val_mpjpe_p1_mm"])


def test_joint_dropout_sets_whole_joints_to_the_mean_in_a_share_of_the_rows(
    tmp_path: Path,
) -> None:
    data = _dataset()
    cfg = _train_cfg(epochs=1, joint_dropout=0.2)
    base = tl.training_set(data, cfg)
    joints = len(base.stats.input_joints)
    x0, y0 = tl.epoch_arrays(base, cfg, seed=0, epoch=0)
    torch.testing.assert_close(x0, tl.epoch_arrays(base, cfg, seed=0, epoch=0)[0])  # resumable
    assert not torch.equal(x0, tl.epoch_arrays(base, cfg, seed=0, epoch=1)[0])  # fresh each epoch
    assert torch.equal(y0, base.y)  # targets untouched
    pairs = x0[:, : 2 * joints].reshape(len(x0), joints, 2)
    old = base.x[:, : 2 * joints].reshape(len(x0), joints, 2)
    changed = (pairs != old).any(-1)
    assert ((pairs[changed] == 0).all(-1)).all()  # a dropped joint: both coordinates at the mean
    assert 0.15 < float(((pairs == 0).all(-1) & (old != 0).any(-1)).float().mean()) < 0.25
    assert torch.equal(x0[:, 2 * joints :], base.x[:, 2 * joints :])  # other inputs kept
    plain = dataclasses.replace(cfg, joint_dropout=0.0)
    assert torch.equal(tl.epoch_arrays(base, plain, seed=0, epoch=0)[0], base.x)
    res = tl.train_lifter(data, data, cfg, tmp_path / "drop", seed=0)
    assert np.isfinite(res.history[0]["val_mpjpe_p1_mm"])
    with pytest.raises(ConfigError, match="joint_dropout"):
        _train_cfg(joint_dropout=1.0)
    with pytest.raises(ConfigError, match="error_resample"):  # shares of the augmented rows
        _train_cfg(augment=AugmentConfig(probability=0.5, error_resample=0.7, error_clean=0.4))


def test_floor_input_trains_and_needs_the_view_geometry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = dataclasses.replace(SMALL, floor_input=True)
    unknown = dataclasses.replace(_dataset(), geometry=np.full((256, 16), np.nan))
    for i, data in enumerate((_dataset(), unknown)):  # no geometry at all, or none known
        with caplog.at_level("DEBUG", logger="pose3d"):  # said once per process (`warn_once`)
            res = tl.train_lifter(
                data, None, _train_cfg(model=model, epochs=1), tmp_path / str(i), 0
            )
        assert "without the floor input" in caplog.text
        assert li.load_lifter(res.checkpoint).model.in_dim == 34  # trained without it
    eye = np.array([0.0, -5000.0, 1500.0])
    cam = Camera("c1", look_at(eye, np.array([0.0, 0.0, 900.0])), eye, [1000.0, 1000.0],
                 [500.0, 500.0], [0.0, 0.0, 0.0], [0.0, 0.0], 1000, 1000)  # fmt: skip
    world = np.random.default_rng(0).normal(0.0, 250.0, size=(256, 32, 3)) + [0.0, 0.0, 900.0]
    rows = sequence_rows(world, cam, None, ("S1", "Walking"))
    cfg = _train_cfg(model=model, epochs=4, flip_train=True, flip_test=True)
    res = tl.train_lifter(rows, rows, cfg, tmp_path, seed=0)
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    lifter = li.load_lifter(res.checkpoint)
    assert lifter.model.in_dim == 34 + 2 and lifter.stats.floor_input
    pred = li.predict_dataset(lifter, rows, flip_test=True)
    assert pred.shape == (256, 17, 3) and np.isfinite(pred).all()
    with pytest.raises(ValueError, match="floor input"):
        li.predict_lifter(lifter, rows.kp2d_px, rows.image_wh_px)


def test_a_warning_of_every_lifter_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    """The ablation trains a dozen lifters on the same rows: one warning, not a dozen."""
    no_view = dataclasses.replace(_dataset(64), geometry=None)
    cfg = _train_cfg(model=dataclasses.replace(SMALL, floor_input=True))
    with caplog.at_level("DEBUG", logger="pose3d"):
        for _ in range(3):
            assert not tl.effective_config(no_view, cfg).model.floor_input
    said = [r.levelname for r in caplog.records if "no training row has a camera" in r.message]
    assert len(said) == 3 and said.count("WARNING") <= 1
