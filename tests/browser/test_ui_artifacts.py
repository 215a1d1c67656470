"""A pipeline run's artifacts on the Prefect UI's own artifact page (the server's UI, the default
one and the V2 one, opened in headless Chromium): the figure is drawn there (a data URI,
downscaled to the page), and every one of 16 metrics is on screen, none cut off at the right
(marker `browser`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from PIL import Image, ImageDraw
from prefect import flow

from tasks.artifact_pages import MAX_SIDE_PX
from tasks.repro import RunResults, publish_artifacts

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

METRICS = {
    "p1_mm": 36.25928, "p2_mm": 28.5, "rows": 600, "challenge_mm": 41.0,
    "per_action": {f"action{i}": 30.0 + i for i in range(12)},
}  # fmt: skip
NAMES = ["p1_mm", "p2_mm", "rows", "challenge_mm", *(f"per_action.action{i}" for i in range(12))]
FIGURE = "data/evaluate/fig3.png"
IMAGES = "[...document.querySelectorAll('img')].filter(i => i.src.startsWith('data:image/'))"
FIGURE_QUERIES = {
    "drawn": f"{IMAGES}.map(i => [i.naturalWidth, i.naturalHeight, i.getBoundingClientRect().width])",
    "text": "document.body.innerText",
}
METRICS_QUERIES = {
    "text": "document.body.innerText",
    "rows": "document.querySelectorAll('table tr').length",
    # a cell beyond the page's right edge, or hidden inside a narrower scrolling box, is cut off
    "cut": "[...document.querySelectorAll('table td, table th')].filter(c => {"
    " const r = c.getBoundingClientRect(); let box = c.parentElement;"
    " while (box && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;"
    " const right = box ? Math.min(window.innerWidth, box.getBoundingClientRect().right)"
    " : window.innerWidth; return r.width === 0 || r.right > right + 1; }).length",
}


def _run_folder(root: Path) -> RunResults:
    """A run's outputs in `root` (a large figure, 16 metrics) as `collect_results` gives them."""
    (root / FIGURE).parent.mkdir(parents=True)
    img = Image.new("RGB", (2400, 1200), "white")
    ImageDraw.Draw(img).line([(0, 1200), (800, 300), (2400, 900)], fill="navy", width=12)
    img.save(root / FIGURE)
    (root / "data/evaluate/metrics.json").write_text(json.dumps(METRICS))
    files = sorted((root / "data").rglob("*"))
    return RunResults(
        metrics={str(p.relative_to(root)): json.loads(p.read_text()) for p in files if p.suffix == ".json"},
        figures={str(p.relative_to(root)): p.read_bytes() for p in files if p.suffix == ".png"},
    )  # fmt: skip


def _open(chromium: Callable[..., Any], url: str, queries: dict[str, str], ready: str) -> Any:
    """The page at `url` once `ready` is true. On a busy machine the UI's first call to the
    server can time out ("Can't connect to Server API"), and the page stays empty: it is opened
    once more then."""
    for _ in range(2):
        run = chromium(url, {**queries, "ready": ready}, settle_s=0.5, ready=ready)
        if run.values["ready"]:
            break
    return run


@pytest.mark.parametrize("ui", ["", pytest.param("/v2", marks=pytest.mark.slow)],
                         ids=["ui", "ui-v2"])  # the default UI, and the new one (make test-slow)  # fmt: skip
def test_the_ui_draws_the_figure_and_shows_every_metric(
    ui: str,
    tmp_path: Path,
    prefect_harness: None,
    prefect_api: str,
    chromium: Callable[..., Any],
) -> None:
    results = _run_folder(tmp_path)

    @flow(name="publish-artifacts")
    def publish() -> dict[str, UUID]:
        return publish_artifacts(results, tmp_path)

    ids = publish()
    page = prefect_api.removesuffix("/api") + ui + "/artifacts/artifact/{}"

    drawn = f"{IMAGES}.some(i => i.complete && i.naturalWidth > 0)"
    figure = _open(chromium, page.format(ids["data-evaluate-fig3"]), FIGURE_QUERIES, drawn)
    assert figure.values["drawn"], figure.values["text"][:2000]
    [(width, height, shown_width)] = figure.values["drawn"]
    assert (width, height) == (MAX_SIDE_PX, MAX_SIDE_PX // 2)  # decoded, downscaled from 2400
    assert shown_width > 0
    assert f"{FIGURE} (2400x1200 px, shown at 1200x600)" in figure.values["text"]

    shown = "document.body.innerText.includes('per_action.action11')"
    table = _open(chromium, page.format(ids["pipeline-metrics"]), METRICS_QUERIES, shown)
    missing = [name for name in NAMES if name not in table.values["text"]]
    assert not missing, table.values["text"][:2000]
    assert table.values["rows"] == 1 + len(NAMES)  # the header and one row per metric
    assert table.values["cut"] == 0  # the 16-column table had 24 of its 34 cells cut off
