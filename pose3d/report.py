"""The evaluation report: one self-contained HTML page (plotly.js and the images inlined, so it
opens offline) with the error budget (where `evaluate` scored one), the metrics, per-action and
per-joint bars, and chosen frames: the image with the person box and the 2D keypoints the lifter
was given, and the 3D prediction against the truth in an interactive 3D view. Plotly figures; no
hand-written JavaScript."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pose3d.skeleton import H36M17_JOINTS, H36M17_LR_PAIRS, H36M17_PARENTS

IMAGE_MAX_SIDE_PX = 480  # images are downscaled to this before they are embedded (JPEG)
_JPEG_QUALITY = 85
_LEFT = frozenset(left for left, _ in H36M17_LR_PAIRS)
_COLOURS = {"prediction": "#c44e52", "truth": "#4c72b0", "left": "#dd4444", "right": "#4444dd"}
# The error budget (`tasks.evaluate.error_budget`, keys ``budget_<source>_*`` and
# ``budget_<part>_*``): the lifter's recipe trained and scored from each 2D source, best first,
# and the part of the route's MPJPE P1 each step adds to the source before it.
BUDGET_SOURCES = {"gt2d": "ground-truth 2D", "gt_box": "CPN on the label box",
                  "route": "detector + CPN (the route)"}  # fmt: skip
BUDGET_PARTS = {"lifter": "the lifter (its error from ground-truth 2D)",
                "cpn": "the CPN (label box - ground truth)",
                "detector": "the detector (route - label box)"}  # fmt: skip
_BUDGET_COLUMNS = {"mpjpe_p1_mm": "MPJPE P1 (mm)", "kp2d_error_px": "2D error to the truth (px)",
                   "left_right_ratio": "left-right ratio", "swap_share": "swap share",
                   "rows": "test rows"}  # fmt: skip
LABELS = {
    "mpjpe_p1_mm": "MPJPE P1 (mm, mean over actions)",
    "mpjpe_p2_mm": "MPJPE P2 (mm, Procrustes, mean over actions)",
    "mpjpe_p1_all_frames_mm": "MPJPE P1 over all frames (mm)",
    "challenge_mpjpe_mm": "ECCV 2018 challenge MPJPE (mm)",
    "reference_mpjpe_p1_mm": "reference (ground-truth 2D): MPJPE P1 (mm)",
    "reference_mpjpe_p2_mm": "reference (ground-truth 2D): MPJPE P2 (mm)",
    "reference_challenge_mpjpe_mm": "reference (ground-truth 2D): challenge MPJPE (mm)",
    "route_over_reference_p1": "route P1 / reference P1",
    "kp2d_error_px": "2D gap to the reference: mean (px)",
    "kp2d_median_error_px": "2D gap to the reference: median (px)",
    "kp2d_pck5_height": "2D: share within 5% of the person height",
    "kp2d_pck10_height": "2D: share within 10% of the person height",
    "kp2d_left_right_ratio": "2D: left-right limb distance / the reference's (median; 1 = apart as in truth)",
    "kp2d_swap_share": "2D: share of poses whose limbs fit left/right swapped better",
    "kp2d_rows_compared": "2D: rows compared",
    "gt_box_mpjpe_p1_mm": "gt_box (CPN on the label boxes): MPJPE P1 (mm)",
    "gt_box_mpjpe_p2_mm": "gt_box (CPN on the label boxes): MPJPE P2 (mm)",
    "gt_box_challenge_mpjpe_mm": "gt_box (CPN on the label boxes): challenge MPJPE (mm)",
    **{f"budget_{source}_{key}": f"error budget, {name}: {column}"
       for source, name in BUDGET_SOURCES.items() for key, column in _BUDGET_COLUMNS.items()},
    **{f"budget_{part}_{unit}": f"error budget, {name}: {what}"
       for part, name in BUDGET_PARTS.items()
       for unit, what in (("mm", "MPJPE P1 (mm)"), ("share", "share of the route's P1"))},
    "rows": "test rows",
    "actions": "actions",
}  # the keys `tasks.evaluate` writes; others are shown under their own name  # fmt: skip


@dataclass(frozen=True)
class Example:
    """One frame shown in the report. Shapes: image_rgb (H, W, 3) uint8 or None (no image);
    box_xyxy_px (4,) px (NaN: none drawn); kp2d_px (17, 2) px; pred_mm, gt_mm (17, 3)
    root-relative, camera frame."""

    title: str
    image_rgb: np.ndarray | None
    box_xyxy_px: np.ndarray
    kp2d_px: np.ndarray
    pred_mm: np.ndarray
    gt_mm: np.ndarray

    @property
    def error_mm(self) -> float:
        """MPJPE of this frame (root-relative, no alignment)."""
        return float(np.linalg.norm(self.pred_mm - self.gt_mm, axis=-1).mean())


def image_trace(image_rgb: np.ndarray, max_side_px: int = IMAGE_MAX_SIDE_PX) -> go.Image:
    """The image as an embedded JPEG (a data URI), downscaled so that its longer side is at
    most `max_side_px` and displayed over its full-size pixel coordinates (where the keypoints
    and the box are). Shapes: image_rgb (H, W, 3) uint8."""
    h, w = image_rgb.shape[:2]
    scale = min(1.0, max_side_px / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image_rgb = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])  # fmt: skip
    if not ok:
        raise ValueError(f"could not encode an image of shape {image_rgb.shape} as JPEG")
    uri = "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii")
    step = w / image_rgb.shape[1]
    return go.Image(source=uri, dx=step, dy=step, hoverinfo="skip")


def _segments(pose: np.ndarray, joints: Sequence[int]) -> list[np.ndarray | None]:
    """Bone end points of `joints` (each to its parent) as one polyline broken by None gaps."""
    points: list[np.ndarray | None] = []
    for joint in joints:
        parent = H36M17_PARENTS[joint]
        if parent >= 0 and np.isfinite(pose[[joint, parent]]).all():
            points += [pose[parent], pose[joint], None]
    return points


def _coords(points: list[np.ndarray | None], dim: int) -> list[float | None]:
    return [None if p is None else float(p[dim]) for p in points]


def _pose2d_traces(kp2d_px: np.ndarray) -> list[go.Scatter]:
    sides = (("left", sorted(_LEFT)), ("right", [j for j in range(1, 17) if j not in _LEFT]))
    traces = [
        go.Scatter(x=_coords(seg, 0), y=_coords(seg, 1), mode="lines", showlegend=False,
                   line={"color": _COLOURS[side], "width": 2}, hoverinfo="skip")
        for side, joints in sides
        for seg in [_segments(kp2d_px, joints)]
    ]  # fmt: skip
    traces.append(go.Scatter(x=kp2d_px[:, 0], y=kp2d_px[:, 1], mode="markers", showlegend=False,
                             text=list(H36M17_JOINTS), hoverinfo="text",
                             marker={"size": 5, "color": "#ffd700"}))  # fmt: skip
    return traces


def _pose3d_traces(pose_mm: np.ndarray, name: str) -> list[go.Scatter3d]:
    """A root-relative camera-frame pose viewed with "up" up: (x, z, -y)."""
    view = np.stack([pose_mm[:, 0], pose_mm[:, 2], -pose_mm[:, 1]], axis=-1)
    seg = _segments(view, range(len(view)))
    colour = _COLOURS[name]
    return [
        go.Scatter3d(x=_coords(seg, 0), y=_coords(seg, 1), z=_coords(seg, 2), mode="lines",
                     name=name, legendgroup=name, line={"color": colour, "width": 5},
                     hoverinfo="skip"),
        go.Scatter3d(x=view[:, 0], y=view[:, 1], z=view[:, 2], mode="markers", name=name,
                     legendgroup=name, showlegend=False, text=list(H36M17_JOINTS),
                     hoverinfo="text+name", marker={"size": 3, "color": colour}),
    ]  # fmt: skip


def example_figure(example: Example) -> go.Figure:
    """The image with the box and the 2D keypoints (left), prediction and truth in 3D (right)."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55],
                        specs=[[{"type": "xy"}, {"type": "scene"}]],
                        subplot_titles=("image, box and 2D input",
                                        f"3D: prediction vs truth, {example.error_mm:.0f} mm"))  # fmt: skip
    if example.image_rgb is not None:
        fig.add_trace(image_trace(example.image_rgb), row=1, col=1)
    box = np.asarray(example.box_xyxy_px, dtype=float)
    if np.isfinite(box).all():
        fig.add_shape(type="rect", x0=box[0], y0=box[1], x1=box[2], y1=box[3],
                      line={"color": "#ffd700", "width": 2}, row=1, col=1)  # fmt: skip
    for trace in _pose2d_traces(example.kp2d_px):
        fig.add_trace(trace, row=1, col=1)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", row=1, col=1)
    for name, pose in (("prediction", example.pred_mm), ("truth", example.gt_mm)):
        for trace in _pose3d_traces(pose, name):
            fig.add_trace(trace, row=1, col=2)
    lim = [-1000.0, 1000.0]
    fig.update_scenes(aspectmode="cube", xaxis={"range": lim, "title": "x"},
                      yaxis={"range": lim, "title": "z (depth)"},
                      zaxis={"range": lim, "title": "-y (up)"})  # fmt: skip
    fig.update_layout(title=example.title, height=440, margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig


def per_action_bars(per_action: Mapping[str, tuple[float, float, int]]) -> go.Figure:
    """MPJPE P1 and P2 of each action ({action: (P1 mm, P2 mm, rows)})."""
    actions = list(per_action)
    fig = go.Figure([
        go.Bar(name=f"P{p + 1}", x=actions, y=[per_action[a][p] for a in actions],
               customdata=[per_action[a][2] for a in actions],
               hovertemplate="%{x}: %{y:.1f} mm over %{customdata} rows")
        for p in (0, 1)
    ])  # fmt: skip
    fig.update_layout(title="MPJPE per action", barmode="group", yaxis_title="mm", height=380)
    return fig


def per_joint_bars(per_joint_mm: np.ndarray) -> go.Figure:
    """MPJPE P1 of each H36M-17 joint. Shapes: per_joint_mm (17,)."""
    fig = go.Figure(go.Bar(x=list(H36M17_JOINTS[: len(per_joint_mm)]), y=per_joint_mm,
                           marker_color=_COLOURS["truth"]))  # fmt: skip
    fig.update_layout(title="MPJPE P1 per joint", yaxis_title="mm", height=380)
    return fig


def _value(key: str, value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if key.endswith(("_mm", "_px")) else f"{value:.4g}"
    return str(value)


def metrics_table(metrics: Mapping[str, Any]) -> str:
    """The metrics as an HTML table, the known keys first, in `LABELS` order."""
    keys = [k for k in LABELS if k in metrics] + sorted(k for k in metrics if k not in LABELS)
    rows = "".join(
        f"<tr><td>{html.escape(LABELS.get(k, k))}</td><td><code>{html.escape(k)}</code></td>"
        f"<td class=num>{html.escape(_value(k, metrics[k]))}</td></tr>"
        for k in keys
    )
    return f"<table><tr><th>metric</th><th>key</th><th>value</th></tr>{rows}</table>"


def _budget_cell(metrics: Mapping[str, Any], key: str, share: bool = False) -> str:
    if key not in metrics:
        return "&ndash;"
    value = metrics[key]
    return html.escape(f"{value:.1%}" if share else _value(key, value))


def _budget_row(label: str, cells: Sequence[str]) -> str:
    numbers = "".join(f"<td class=num>{cell}</td>" for cell in cells)
    return f"<tr><td>{html.escape(label)}</td>{numbers}</tr>"


def budget_tables(metrics: Mapping[str, Any]) -> str:
    """The error budget (`BUDGET_SOURCES`, `BUDGET_PARTS`) as HTML: per 2D source the MPJPE P1
    of the lifter trained and scored on it and that 2D against the ground truth; then the part of
    the route's P1 each step adds. "" where `metrics` hold no budget."""
    sources = [s for s in BUDGET_SOURCES if f"budget_{s}_mpjpe_p1_mm" in metrics]
    if not sources:
        return ""
    head = "".join(f"<th>{html.escape(title)}</th>" for title in _BUDGET_COLUMNS.values())
    rows = "".join(
        _budget_row(
            BUDGET_SOURCES[s], [_budget_cell(metrics, f"budget_{s}_{k}") for k in _BUDGET_COLUMNS]
        )
        for s in sources
    )
    tables = [f"<table class=budget><tr><th>2D source</th>{head}</tr>{rows}</table>"]
    parts = [p for p in BUDGET_PARTS if f"budget_{p}_mm" in metrics]
    if parts:
        rows = "".join(
            _budget_row(BUDGET_PARTS[p], [_budget_cell(metrics, f"budget_{p}_mm"),
                                          _budget_cell(metrics, f"budget_{p}_share", share=True)])
            for p in parts
        )  # fmt: skip
        head = "<tr><th>part</th><th>mm</th><th>share</th></tr>"
        tables.append(f"<p>The route's MPJPE P1, part by part:</p>"
                      f"<table class=budget-parts>{head}{rows}</table>")  # fmt: skip
    return "".join(tables)


_STYLE = (
    "body{font-family:sans-serif;margin:1.5em auto;max-width:1100px;color:#222}"
    "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:3px 10px;"
    "text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}"
)


def report_html(
    metrics: Mapping[str, Any],
    per_action: Mapping[str, tuple[float, float, int]],
    per_joint_mm: np.ndarray,
    sections: Sequence[tuple[str, Sequence[Example]]],
    made_from: Mapping[str, str] | None = None,
) -> str:
    """The whole page: what made it (`made_from`: the data, synthetic or real, the params and
    the commit), the error budget where there is one, the metrics table, the two bar charts,
    then each (heading, examples) section.
    plotly.js is inlined once, in the first figure. Shapes: per_joint_mm (17,)."""
    parts = ["<h1>pose3d evaluation</h1>"]
    if made_from:
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in made_from.items()
        )
        parts.append(f"<h2>Made from</h2><table class=made-from>{rows}</table>")
    budget = budget_tables(metrics)
    if budget:
        parts.append(
            "<h2>Error budget</h2><p>The lifter's recipe trained and scored from ground-truth 2D, "
            "from the CPN on the label boxes and from the whole route: how much of the route's "
            f"error is the lifter's, the CPN's and the detector's.</p>{budget}"
        )
    parts.append(f"<h2>Metrics</h2>{metrics_table(metrics)}")
    blocks = [("", [per_action_bars(per_action), per_joint_bars(per_joint_mm)])]
    blocks += [(heading, [example_figure(e) for e in examples]) for heading, examples in sections]
    n = 0
    for heading, figures in blocks:
        if heading:
            parts.append(f"<h2>{html.escape(heading)}</h2>")
        for fig in figures:
            parts.append(_figure_html(fig, n))
            n += 1
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>pose3d evaluation</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _figure_html(fig: go.Figure, n: int) -> str:
    """Figure `n` of the page (plotly.js inlined with the first); its element id is fixed, not
    plotly's random one, so the same run gives the same bytes."""
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=n == 0,
            div_id=f"figure-{n}",
            config={"responsive": True},
        )  # fmt: skip
    )
