"""`pose3d plots`' page: DVC's CDN script tags of vega, vega-lite and vega-embed replaced by one
inline bundle from vl-convert-python, so the page opens offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dvc_render import VegaRenderer, render_html

from pose3d.plots_page import cdn_versions, inline_vega, vega_bundle, vegalite_release

BUNDLE = "window.vegaEmbed = function () {};"


def _dvc_page(tmp_path: Path) -> str:
    """A page as `dvc plots show` writes it (DVC's own renderer), one plot of a loss curve."""
    rows = [{"epoch": e, "train_loss": 1.0 / (e + 1), "rev": "workspace"} for e in range(3)]
    renderer = VegaRenderer(rows, "loss", x="epoch", y="train_loss")
    render_html([renderer], tmp_path / "index.html")
    return (tmp_path / "index.html").read_text()


def _plot_div(html: str) -> str:
    match = re.search(r'<div id = "loss">.*?</div>', html, re.DOTALL)
    assert match is not None
    return match.group(0)


def test_the_cdn_scripts_become_one_inline_bundle_before_the_plots(tmp_path: Path) -> None:
    html = _dvc_page(tmp_path)
    assert set(cdn_versions(html)) == {"vega", "vega-lite", "vega-embed"}  # today's page
    page = inline_vega(html, BUNDLE)
    assert "cdn.jsdelivr.net" not in page and "<script src" not in page
    assert page.count(BUNDLE) == 1
    assert page.index(BUNDLE) < page.index("vegaEmbed('#loss'")  # defined before it is called
    assert _plot_div(page) == _plot_div(html)  # the plot itself untouched


def test_a_script_end_inside_the_bundle_cannot_close_the_inline_script(tmp_path: Path) -> None:
    page = inline_vega(_dvc_page(tmp_path), 'var tag = "</SCRIPT>"; ' + BUNDLE)
    inline = page[page.index("<script>") : page.index("</script>")]
    assert 'var tag = "<\\/SCRIPT>"; ' + BUNDLE in inline


def test_pages_not_of_dvc_or_loading_more_are_refused_by_name(tmp_path: Path) -> None:
    html = _dvc_page(tmp_path)
    embed = re.search(r"<script src=\"[^\"]*vega-embed@[^\"]*\"></script>", html)
    assert embed is not None
    with pytest.raises(ValueError, match="no CDN script tag of vega-embed"):
        inline_vega(html.replace(embed.group(0), ""), BUNDLE)
    plotly = '<script src="https://cdn.plot.ly/plotly-latest.min.js"></script>'
    with pytest.raises(ValueError, match="also loads https://cdn.plot.ly/plotly-latest"):
        inline_vega(html.replace("<title>", plotly + "<title>"), BUNDLE)


def test_the_vega_lite_release_keeps_the_pages_major_version() -> None:
    available = ["5.8", "5.21", "5.17", "6.1", "6.4"]
    assert vegalite_release("5.2.0", available) == "5.21"  # 5.21 > 5.17 > 5.8, not as text
    assert vegalite_release("6", available) == "6.4"
    with pytest.raises(ValueError, match="none of major version 7"):
        vegalite_release("7.0.1", available)
    with pytest.raises(ValueError, match="'latest'"):
        vegalite_release("latest", available)


def test_vl_convert_ships_the_vega_lite_of_dvcs_page(tmp_path: Path) -> None:
    bundle = vega_bundle(cdn_versions(_dvc_page(tmp_path))["vega-lite"])
    assert re.match(r"/\* vega \d+\.\d+\.\d+, vega-lite 5\.\d+, vega-embed \d", bundle)
    assert "window.vegaEmbed=" in bundle.replace(" ", "")
    assert "</script" not in bundle.lower()
