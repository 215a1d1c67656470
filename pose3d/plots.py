"""Figures people would rather look at than read: per-joint errors, example poses, curves,
and the ablation's capacity study. Matplotlib with the non-interactive Agg backend."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pose3d.io import atomic_path  # noqa: E402
from pose3d.skeleton import H36M17_JOINTS, H36M17_PARENTS  # noqa: E402

_LEFT = {4, 5, 6, 11, 12, 13}


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Write `fig` as PNG atomically and close it."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


def per_joint_figure(errors_mm: np.ndarray, title: str) -> Figure:
    """Bar chart of the error of each H36M-17 joint. Shapes: errors_mm (17,)."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(range(len(errors_mm)), errors_mm, color="#4c72b0")
    ax.set_xticks(range(len(errors_mm)), H36M17_JOINTS[: len(errors_mm)], rotation=60, ha="right")
    ax.set_ylabel("MPJPE (mm)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return fig


def _bones(ax: plt.Axes, pose: np.ndarray, style: str, dims: Sequence[int]) -> None:
    for joint, parent in enumerate(H36M17_PARENTS):
        if parent < 0 or np.isnan(pose[[joint, parent]]).any():
            continue
        colour = "#dd4444" if joint in _LEFT else "#4444dd"
        ax.plot(*[pose[[parent, joint], d] for d in dims], style, color=colour, lw=1.8)


def examples_figure(
    kp2d_px: np.ndarray, gt_mm: np.ndarray, pred_mm: np.ndarray, titles: Sequence[str]
) -> Figure:
    """For each example: the 2D input, then ground truth (solid) and prediction (dashed) in 3D.

    Shapes: kp2d_px (K, 17, 2), gt_mm (K, 17, 3), pred_mm (K, 17, 3).
    """
    k = len(kp2d_px)
    fig = plt.figure(figsize=(4.2 * k, 7.6))
    for i in range(k):
        ax = fig.add_subplot(2, k, i + 1)
        _bones(ax, kp2d_px[i], "-o", (0, 1))
        ax.invert_yaxis()
        ax.set_aspect("equal")
        ax.set_title(titles[i], fontsize=9)
        ax3 = fig.add_subplot(2, k, k + i + 1, projection="3d")
        # camera frame: x right, y down, z forward -> plot (x, z, -y) so "up" is up
        for pose, style in ((gt_mm[i], "-"), (pred_mm[i], "--")):
            view = np.stack([pose[:, 0], pose[:, 2], -pose[:, 1]], axis=-1)
            _bones(ax3, view, style, (0, 1, 2))
        ax3.set_box_aspect((1, 1, 1))
        lim = 1000.0
        ax3.set(xlim=(-lim, lim), ylim=(-lim, lim), zlim=(-lim, lim))
        ax3.set_title("3D: truth solid, prediction dashed", fontsize=8)
    return fig


def _pose3d_panel(ax3: Any, pose_mm: np.ndarray, title: str) -> None:  # a 3D Axes
    """One root-relative camera-frame pose, viewed with "up" up (plots (x, z, -y))."""
    view = np.stack([pose_mm[:, 0], pose_mm[:, 2], -pose_mm[:, 1]], axis=-1)
    _bones(ax3, view, "-o", (0, 1, 2))
    ax3.set_box_aspect((1, 1, 1))
    lim = 900.0
    ax3.set(xlim=(-lim, lim), ylim=(-lim, lim), zlim=(-lim, lim))
    ax3.set_xticklabels([])
    ax3.set_yticklabels([])
    ax3.set_zticklabels([])
    ax3.set_title(title, fontsize=9)


def fig3_figure(
    images_rgb: Sequence[np.ndarray],
    boxes_xyxy_px: np.ndarray,
    kp2d_px: np.ndarray,
    pred_mm: np.ndarray,
    gt_mm: np.ndarray | None,
    titles: Sequence[str],
) -> Figure:
    """The paper's Fig. 3, a row per example: the image with the person box and the 2D
    keypoints the lifter was given, the 3D prediction, the 3D ground truth (a column left out
    when `gt_mm` is None: `pose3d predict` on images without labels).

    Shapes: images_rgb K x (H, W, 3) uint8; boxes_xyxy_px (K, 4) (NaN: none drawn);
    kp2d_px (K, 17, 2); pred_mm, gt_mm (K, 17, 3) root-relative.
    """
    k = len(images_rgb)
    cols = 2 if gt_mm is None else 3
    fig = plt.figure(figsize=(3.7 * cols, 3.6 * k))
    for i in range(k):
        ax = fig.add_subplot(k, cols, cols * i + 1)
        ax.imshow(images_rgb[i])
        box = boxes_xyxy_px[i]
        if np.isfinite(box).all():
            x0, y0, x1, y1 = box
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="#ffd700",
                                       lw=1.5))  # fmt: skip
        _bones(ax, kp2d_px[i], "-o", (0, 1))
        ax.set_axis_off()
        ax.set_title(titles[i], fontsize=9)
        pred_ax = fig.add_subplot(k, cols, cols * i + 2, projection="3d")
        if gt_mm is None:
            _pose3d_panel(pred_ax, pred_mm[i], "3D prediction")
            continue
        error = float(np.linalg.norm(pred_mm[i] - gt_mm[i], axis=-1).mean())
        _pose3d_panel(pred_ax, pred_mm[i], f"3D prediction ({error:.0f} mm)")
        _pose3d_panel(fig.add_subplot(k, cols, cols * i + 3, projection="3d"), gt_mm[i], "3D truth")
    fig.tight_layout()
    return fig


def curves_figure(history: Sequence[Mapping[str, float]]) -> Figure:
    """Training loss and validation MPJPE per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(epochs, [h["train_loss"] for h in history], "-o")
    a.set(xlabel="epoch", ylabel="training loss", yscale="log")
    b.plot(epochs, [h["val_mpjpe_p1_mm"] for h in history], "-o", color="#c44e52")
    b.set(xlabel="epoch", ylabel="validation MPJPE P1 (mm)")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    return fig


def capacity_figure(results: Mapping[tuple[int, int], float]) -> Figure:
    """MPJPE against the number of blocks, one line per width ({(blocks, width): mm})."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for width in sorted({w for _, w in results}):
        blocks = sorted(b for b, w in results if w == width)
        ax.plot(blocks, [results[(b, width)] for b in blocks], "-o", label=f"width {width}")
    ax.set(xlabel="residual blocks", ylabel="MPJPE P1 (mm)", title="Capacity (paper Fig. 2)")
    ax.set_xticks(sorted({b for b, _ in results}))
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
