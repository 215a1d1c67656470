from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from tiny_report import tiny_report, tiny_rows

from pose3d.report import IMAGE_MAX_SIDE_PX, image_trace, metrics_table
from tasks.evaluate import extremes


def test_extremes_are_the_best_and_worst_rows_with_an_image(tmp_path: Path) -> None:
    data, pred = tiny_rows(tmp_path)  # the error grows with the row; rows 0-3 have an image path
    (best_heading, best), (worst_heading, worst) = extremes(data, pred, 2)
    assert (best_heading, worst_heading) == ("Best frames", "Worst frames")
    assert [e.title.split(" #")[1].split(":")[0] for e in best + worst] == ["0", "1", "3", "2"]
    assert [e.image_rgb is None for e in best + worst] == [False, False, True, False]  # 3: bad
    np.testing.assert_allclose([e.error_mm for e in best], [10.0 * 16 / 17 * np.sqrt(3),
                                                            20.0 * 16 / 17 * np.sqrt(3)],
                               rtol=1e-5)  # fmt: skip
    assert np.isnan(best[1].box_xyxy_px).all()
    assert extremes(data, pred, 0) == []
    (_, few), (_, rest) = extremes(data, pred, 3)
    assert len(few) == 3 and len(rest) == 1  # 4 rows with images: no row shown twice


def test_report_is_one_self_contained_page_with_every_figure(tmp_path: Path) -> None:
    path, figures = tiny_report(tmp_path)
    page = path.read_text()
    assert figures == 6 and page.count('class="plotly-graph-div"') == figures
    assert page.count("plotly.js v") == 1  # plotly.js inlined once
    assert not re.search(r"<script[^>]*\bsrc=", page)  # nothing fetched: opens offline
    jpegs = re.findall(r"data:image(/|\\u002f)jpeg;base64,", page)  # inlined images
    assert len(jpegs) == 3  # the rows with a readable image
    assert "<td><code>mpjpe_p1_mm</code></td>" in page and "Worst frames" in page


def test_metrics_table_labels_known_keys_first_and_rounds_by_unit() -> None:
    table = metrics_table({"zeta": 1, "kp2d_pck5_height": 0.123456, "mpjpe_p1_mm": 51.2345})
    cells = re.findall(r"<td class=num>([^<]*)</td>", table)
    assert cells == ["51.2", "0.1235", "1"]
    assert "MPJPE P1 (mm, mean over actions)" in table and "<code>zeta</code>" in table


def test_image_trace_downscales_over_full_size_pixel_coordinates() -> None:
    trace = image_trace(np.zeros((600, 1000, 3), np.uint8))
    assert trace.source.startswith("data:image/jpeg;base64,")
    assert trace.dx == trace.dy == 1000 / IMAGE_MAX_SIDE_PX
    assert image_trace(np.zeros((60, 100, 3), np.uint8)).dx == 1.0  # small ones kept as they are


def test_the_same_rows_give_the_same_bytes(tmp_path: Path) -> None:
    path, _ = tiny_report(tmp_path)
    page = path.read_text()
    again, _ = tiny_report(tmp_path)
    assert again.read_text() == page  # no random element ids: a rerun is byte-identical
    ids = re.findall(r'id="(figure-\d+)"', page)
    assert ids == [f"figure-{i}" for i in range(len(ids))] and len(ids) >= 3


def test_the_page_says_what_made_it() -> None:
    """Synthetic or real data, the params and the commit head the page (escaped)."""
    from pose3d.report import report_html

    made = {"data": "synthetic: the embedded world", "params": "params.yaml --set a.b=<1>",
            "commit": "abc1234"}  # fmt: skip
    page = report_html({"rows": 1}, {}, np.zeros(17), [], made)
    assert "<h2>Made from</h2>" in page and page.index("Made from") < page.index("Metrics")
    assert "<th>data</th><td>synthetic: the embedded world</td>" in page
    assert "--set a.b=&lt;1&gt;" in page and "<td>abc1234</td>" in page
    assert "Made from" not in report_html({"rows": 1}, {}, np.zeros(17), [])


def test_the_error_budget_heads_the_page_where_evaluate_scored_one() -> None:
    from pose3d.report import budget_tables, report_html

    budget = {"budget_gt2d_mpjpe_p1_mm": 50.0, "budget_gt2d_kp2d_error_px": 0.0,
              "budget_gt_box_mpjpe_p1_mm": 80.0, "budget_gt_box_kp2d_error_px": 5.31,
              "budget_gt_box_swap_share": 0.125, "budget_route_mpjpe_p1_mm": 200.0,
              "budget_lifter_mm": 50.0, "budget_lifter_share": 0.25, "budget_cpn_mm": 30.0,
              "budget_cpn_share": 0.15, "budget_detector_mm": 120.0,
              "budget_detector_share": 0.6}  # fmt: skip
    tables = budget_tables(budget)
    rows = re.findall(r"<tr><td>([^<]*)</td>((?:<td class=num>[^<]*</td>)+)</tr>", tables)
    cells = {label: re.findall(r"<td class=num>([^<]*)</td>", row) for label, row in rows}
    assert cells["CPN on the label box"] == ["80.0", "5.3", "&ndash;", "0.125", "&ndash;"]
    assert cells["the detector (route - label box)"] == ["120.0", "60.0%"]
    assert list(cells)[:3] == ["ground-truth 2D", "CPN on the label box",
                               "detector + CPN (the route)"]  # fmt: skip
    page = report_html({"mpjpe_p1_mm": 200.0, **budget}, {}, np.zeros(17), [])
    assert page.index("<h2>Error budget</h2>") < page.index("<h2>Metrics</h2>")
    assert "error budget, the CPN (label box - ground truth): MPJPE P1 (mm)" in page  # labelled
    assert "Error budget" not in report_html({"mpjpe_p1_mm": 200.0}, {}, np.zeros(17), [])
    assert budget_tables({"budget_route_mpjpe_p1_mm": 200.0}).count("<table") == 1  # no parts
