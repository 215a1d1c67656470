"""pose3d.predictions: the output document validates and round-trips as input; the 2D JSON
input is read in both formats and bad input names the file, the frame and the key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pose3d.coco import coco17_to_h36m17
from pose3d.predictions import (
    FramePrediction,
    parse_keypoints_json,
    predictions_document,
    read_keypoints_json,
    validate_predictions,
    write_predictions,
)


def _frame(found: bool) -> FramePrediction:
    kp = np.arange(34, dtype=float).reshape(17, 2)
    kp[3] = np.nan
    return FramePrediction(
        "a.jpg", 2, (64, 48), found, np.array([1.0, 2.0, 30.0, 40.0]) if found else None,
        0.9 if found else None, kp, np.full(17, 0.5), np.zeros((17, 3)),
    )  # fmt: skip


def test_the_document_validates_writes_one_line_per_frame_and_reads_back(tmp_path: Path) -> None:
    doc = predictions_document([_frame(True), _frame(False)], {"lifter": {"path": "l.pt",
                               "sha256": "0" * 64}}, {"device": "cpu"}, [])  # fmt: skip
    path = tmp_path / "p.json"
    write_predictions(path, doc)
    text = path.read_text()
    assert len(text.splitlines()) < 60  # header indented, frames one line each
    back = json.loads(text)
    validate_predictions(back, str(path))
    assert back["frames"][0]["kp2d_px"][3] == [None, None]
    assert back["frames"][1]["person_found"] is False and back["frames"][1]["box_xyxy_px"] is None
    again = read_keypoints_json(path)
    np.testing.assert_array_equal(again.kp2d_px[0], _frame(True).kp2d_px)
    assert again.image_wh.tolist() == [[64, 48], [64, 48]] and again.frame.tolist() == [2, 2]


def test_a_frame_whose_flag_disagrees_with_its_box_is_refused() -> None:
    doc = predictions_document([_frame(True)], {}, {}, [])
    doc["frames"][0]["box_xyxy_px"] = None
    with pytest.raises(ValueError, match=r"out.json: frames\[0\]: person_found disagrees"):
        validate_predictions(doc, "out.json")


def test_coco17_input_is_mapped_and_missing_keypoints_score_zero() -> None:
    kp = np.random.default_rng(0).uniform(0, 100, (17, 2))
    raw = kp.tolist()
    raw[11] = None  # a hip missing: the pelvis and spine go missing too
    got = parse_keypoints_json({"format": "coco17", "frames": [{"kp2d_px": raw}]}, "in.json")
    expected = kp.copy()
    expected[11] = np.nan
    np.testing.assert_array_equal(got.kp2d_px[0], coco17_to_h36m17(expected))
    assert got.scores[0, 0] == 0 and got.scores[0, 7] == 0 and got.scores[0, 1] == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": "mpii", "frames": []}, r"format 'mpii': expected one of"),
        ([], "expected a non-empty list of frames"),
        ([{"kp": []}], r"frames\[0\]: expected an object with 'kp2d_px'"),
        ([{"kp2d_px": [[None, None]] * 17}], r"frames\[0\].kp2d_px: no joint is present"),
        ([{"kp2d_px": [[1, 2]] * 17, "scores": [1] * 3}], r"frames\[0\].scores: expected shape"),
        ([{"kp2d_px": [["a", 2]] * 17}], r"frames\[0\].kp2d_px: expected numbers"),
    ],
)
def test_bad_input_names_the_file_the_frame_and_the_key(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_keypoints_json(data, "in.json")


def test_a_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="k.json: not valid JSON"):
        read_keypoints_json(path)
