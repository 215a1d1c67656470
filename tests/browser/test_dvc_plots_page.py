"""`pose3d plots`' page draws every plot in a real browser with no network: vega, vega-lite and
vega-embed inlined, no ``vegaEmbed is not defined`` (marker `browser`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tiny_plots import PLOTS, tiny_plots_repo

from flows.cli import main

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

QUERIES = {
    "plots": "document.querySelectorAll('body > div[id]').length",
    "embedded": "document.querySelectorAll('div.vega-embed').length",
    "drawn": "[...document.querySelectorAll('div.vega-embed :is(svg, canvas).marks')]"
    ".filter(m => m.getBoundingClientRect().width > 100).length",
    # vega-embed 7 draws SVG: the marks of each plot (lines, points, bars)
    "marks": "[...document.querySelectorAll('div.vega-embed')]"
    ".map(d => d.querySelectorAll('.role-mark > *').length)",
    "external": "[...document.scripts].filter(s => s.src).length",
    "fetched": "performance.getEntriesByType('resource').map(r => r.name)",
}


def test_plots_page_draws_every_plot_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chromium: Callable[..., Any]
) -> None:
    repo = tiny_plots_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    assert main(["plots"]) == 0
    run = chromium(repo / "dvc_plots" / "index.html", QUERIES)
    assert run.errors == []  # console errors (vegaEmbed is not defined), failed loads
    values = run.values
    assert values["plots"] == values["embedded"] == PLOTS  # vega-embed took each plot's div
    assert values["drawn"] == PLOTS  # and vega drew it
    assert len(values["marks"]) == PLOTS and min(values["marks"]) > 0
    assert values["external"] == 0
    assert values["fetched"] == []  # nothing asked of the network, or of anywhere
