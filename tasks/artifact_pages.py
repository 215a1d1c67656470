"""The Markdown of a pipeline run's Prefect artifacts, as the UI's artifact page shows it: the
metrics as a long table (one row per metric, where ``dvc metrics show --md`` gives one column per
key and the UI cuts all but the first few), each figure embedded as a ``data:`` URI (the UI draws
those; a ``file://`` link is refused by the browser), downscaled to the page's width, and where
an experiment's results are.

The Prefect UI (3.8) renders a Markdown image as a plain ``<img src>``, data URIs included
(tests/browser/test_ui_artifacts.py opens the page in headless Chromium).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from pose3d.metrics_listing import metric_rows

MAX_SIDE_PX = 1200  # the artifact page is about this wide; larger figures are downscaled
MAX_PNG_BYTES = 400_000  # a figure still larger as PNG (photographs) is embedded as JPEG
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Embedded:
    """A figure as embedded: its MIME type and bytes, its size and the size it is shown at."""

    mime: str
    data: bytes
    size_px: tuple[int, int]
    shown_px: tuple[int, int]

    def uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def embeddable(image: bytes, max_side_px: int = MAX_SIDE_PX) -> Embedded:
    """`image` (any format Pillow reads) at most `max_side_px` on its longer side: the bytes as
    they are when it is a PNG that fits (in pixels and `MAX_PNG_BYTES`), else downscaled where
    larger and written as PNG, or as JPEG when the PNG would exceed `MAX_PNG_BYTES`. Raises
    ValueError when Pillow cannot read it."""
    try:
        with Image.open(io.BytesIO(image)) as img:
            img.load()
            size = img.size
            fits = max(size) <= max_side_px and len(image) <= MAX_PNG_BYTES
            if fits and img.format == "PNG":
                return Embedded("image/png", image, size, size)
            img.thumbnail((max_side_px, max_side_px), Image.Resampling.LANCZOS)
            small = img.copy()
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"not an image Pillow can read: {err}") from None
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    if out.tell() > MAX_PNG_BYTES:
        out = io.BytesIO()
        _on_white(small).save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        return Embedded("image/jpeg", out.getvalue(), size, small.size)
    return Embedded("image/png", out.getvalue(), size, small.size)


def _on_white(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return img.convert("RGB")


def figure_markdown(path: str, image: bytes, where: str) -> str:
    """One figure's page: the image itself (`embeddable`), then its path, size and `where` it
    lies (a sentence), or why it cannot be shown."""
    try:
        shown = embeddable(image)
    except ValueError as err:
        return f"# {path}\n\n(cannot show it: {err})\n\n{where}\n"
    w, h = shown.size_px
    size = f"{w}x{h} px" + (
        f", shown at {shown.shown_px[0]}x{shown.shown_px[1]}"
        if shown.shown_px != shown.size_px
        else ""
    )
    return f"# {path}\n\n![{path}]({shown.uri()})\n\n`{path}` ({size}). {where}\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def metrics_markdown(
    files: Mapping[str, Mapping[str, Any]],
    baseline: Mapping[str, Mapping[str, Any]] | None = None,
    experiment: str | None = None,
    problem: str | None = None,
) -> str:
    """``{path: {key: value}}`` (as ``dvc metrics show --json`` gives them per file) as a table
    of ``stage | metric | value``, one row per metric; for an `experiment`, its values beside
    those of its `baseline` (``HEAD``; "-" where the baseline has none). `problem` (why there
    are no metrics) is said instead of an empty table."""
    title = f"# Metrics of experiment `{experiment}`" if experiment else "# Metrics"
    rows = metric_rows(files)
    if not rows:
        return f"{title}\n\n{problem or '(no metrics yet)'}\n"
    if experiment is None:
        lines = ["| stage | metric | value |", "|---|---|---:|"]
        lines += [f"| {_cell(s)} | {_cell(k)} | {_cell(v)} |" for s, k, v in rows]
    else:
        before = {(s, k): v for s, k, v in metric_rows(baseline or {})}
        lines = [f"| stage | metric | {_cell(experiment)} | HEAD |", "|---|---|---:|---:|"]
        lines += [
            f"| {_cell(s)} | {_cell(k)} | {_cell(v)} | {_cell(before.get((s, k), '-'))} |"
            for s, k, v in rows
        ]
    return f"{title}\n\n" + "\n".join(lines) + "\n"


def experiment_markdown(name: str) -> str:
    """Where the results of experiment `name` are, and how to look at them or take them."""
    return (
        f"# Experiment `{name}`\n\n"
        "This run was a DVC experiment, run in a temporary copy of the repository "
        "(`dvc exp run --temp`): the workspace (params.yaml, dvc.lock, data/) is as it was. "
        f"Its params, metrics and outputs are in DVC's experiment `{name}`.\n\n"
        "```\n"
        "dvc exp show                 # its params and metrics beside the workspace's\n"
        f"dvc exp diff HEAD {name}     # what it changed\n"
        f"dvc exp apply {name}         # its params, dvc.lock and outputs into the workspace\n"
        f"dvc exp branch {name} NAME   # or keep it as a git branch\n"
        "```\n"
    )
