"""The evaluation report renders in a real browser with no console error (marker `browser`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tiny_report import tiny_report

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

QUERIES = {
    "plots": "document.querySelectorAll('.js-plotly-plot').length",
    "drawn": "document.querySelectorAll('.js-plotly-plot .main-svg').length",
    "images": "document.querySelectorAll('.js-plotly-plot image').length",
    "scenes": "document.querySelectorAll('.js-plotly-plot .gl-container canvas').length",
    "external": "[...document.scripts].filter(s => s.src).length",
}


def test_report_renders_every_figure_without_console_errors(
    tmp_path: Path, chromium: Callable[..., Any]
) -> None:
    page, figures = tiny_report(tmp_path)
    run = chromium(page, QUERIES)
    assert run.errors == []  # console errors, uncaught exceptions, failed loads
    values = run.values
    assert values["plots"] == figures == 6  # two bar charts, two best and two worst frames
    assert values["drawn"] >= figures  # plotly drew each (several svg layers a figure)
    assert values["images"] == 3  # rows 0-3 have a path; 3 (worst) cannot be read: no image
    assert values["scenes"] >= 4  # a WebGL canvas per 3D view
    assert values["external"] == 0  # self-contained: nothing loaded from elsewhere
