"""tasks.artifact_pages: the metrics as a long table (one row per metric, however many keys),
figures embedded as data URIs at most the page's width, and where an experiment's results are."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image

from tasks.artifact_pages import (
    MAX_PNG_BYTES,
    MAX_SIDE_PX,
    embeddable,
    experiment_markdown,
    figure_markdown,
    metrics_markdown,
)

# 16 metrics in two files, as `dvc metrics show --json` gives them: the wide table had 16 columns
FILES = {
    "data/train_cpn/metrics.json": {f"heldout_m{i}": i + 0.123456 for i in range(6)},
    "data/evaluate/metrics.json": {
        "p1_mm": 36.25928, "p2_mm": 28.5, "rows": 600,
        "per_action": {f"action{i}": 30.0 + i for i in range(7)},
    },
}  # fmt: skip


def _png(width: int, height: int, noise: bool = False) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    img = Image.fromarray(pixels) if noise else Image.new("RGB", (width, height), (200, 30, 30))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _table_rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def test_metrics_are_one_row_per_metric_not_one_column() -> None:
    markdown = metrics_markdown(FILES)
    assert markdown.startswith("# Metrics\n\n| stage | metric | value |")
    rows = _table_rows(markdown)
    assert len(rows) == 16 and {len(row) for row in rows} == {3}
    assert rows[0] == ["train_cpn", "heldout_m0", "0.1235"]
    assert rows[6] == ["evaluate", "p1_mm", "36.2593"]
    assert rows[-1] == ["evaluate", "per_action.action6", "36"]


def test_an_experiments_metrics_stand_beside_its_baselines() -> None:
    baseline = {"data/evaluate/metrics.json": {"p1_mm": 40.0}}
    markdown = metrics_markdown(
        {"data/evaluate/metrics.json": {"p1_mm": 36.25928, "new": 1}}, baseline, "inane-hull"
    )
    assert markdown.startswith("# Metrics of experiment `inane-hull`\n")
    assert "| stage | metric | inane-hull | HEAD |" in markdown
    assert _table_rows(markdown) == [
        ["evaluate", "p1_mm", "36.2593", "40"],
        ["evaluate", "new", "1", "-"],  # not in the baseline
    ]


def test_no_metrics_says_why() -> None:
    assert metrics_markdown({}) == "# Metrics\n\n(no metrics yet)\n"
    said = metrics_markdown({}, problem="`dvc metrics show --json` failed: boom")
    assert said.endswith("failed: boom\n")


def test_a_large_figure_is_embedded_downscaled_to_the_page() -> None:
    markdown = figure_markdown("data/evaluate/fig3.png", _png(3000, 1000), "In the workspace.")
    found = re.search(r"!\[data/evaluate/fig3\.png\]\(data:image/png;base64,([^)]+)\)", markdown)
    assert found is not None, markdown[:200]
    shown = Image.open(io.BytesIO(base64.b64decode(found[1])))
    assert shown.format == "PNG" and shown.size == (MAX_SIDE_PX, 400)
    assert (
        "`data/evaluate/fig3.png` (3000x1000 px, shown at 1200x400). In the workspace." in markdown
    )


def test_a_small_png_is_embedded_as_it_is() -> None:
    image = _png(300, 200)
    shown = embeddable(image)
    assert (shown.mime, shown.data, shown.size_px, shown.shown_px) == (
        "image/png", image, (300, 200), (300, 200),
    )  # fmt: skip
    assert shown.uri() == "data:image/png;base64," + base64.b64encode(image).decode()


def test_a_photograph_too_large_as_png_is_embedded_as_jpeg() -> None:
    shown = embeddable(_png(1600, 1600, noise=True))
    assert shown.mime == "image/jpeg" and shown.shown_px == (MAX_SIDE_PX, MAX_SIDE_PX)
    assert Image.open(io.BytesIO(shown.data)).format == "JPEG"
    small = _png(400, 400, noise=True)  # fits the page, not the byte budget
    assert len(small) > MAX_PNG_BYTES
    shown = embeddable(small)
    assert shown.mime == "image/jpeg" and shown.shown_px == (400, 400)
    assert len(shown.data) < len(small)


def test_an_unreadable_figure_is_said_not_fatal() -> None:
    markdown = figure_markdown("data/x/y.png", b"not a png", "In the workspace.")
    assert "(cannot show it: not an image Pillow can read" in markdown
    assert "data:" not in markdown


def test_the_experiment_note_names_it_and_how_to_apply_it() -> None:
    note = experiment_markdown("inane-hull")
    assert note.startswith("# Experiment `inane-hull`\n")
    assert "dvc exp run --temp" in note and "the workspace (params.yaml, dvc.lock, data/)" in note
    assert "dvc exp show" in note and "dvc exp apply inane-hull" in note
