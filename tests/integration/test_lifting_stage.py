"""The `lifting` stage on tiny tables: the task through `.fn()`, the flow under the session's
Prefect test harness, and what reaches the lifter on the challenge's route; then `train_lifter`
on those rows, stopped halfway, and its three lifters scored by `evaluate` with the error
budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

import flows.train_lifter
from flows.evaluate import evaluate_flow
from flows.lifting import lifting_flow
from pose3d.config import apply_overrides, load_params, load_raw
from pose3d.frames import frames_table, write_frames
from pose3d.keypoints import KeypointRows, Producer, keypoints_table, write_keypoints
from tasks.import_keypoints import import_gt
from tasks.lifter.rows import has_variant, load_part
from tasks.lifting import build_lifting_task


def _extract(folder: Path) -> None:
    """challenge.parquet: Train 6 images, Val 4 images (one without 2D); an empty h36m table."""
    rng = np.random.default_rng(0)
    tables = []
    for split, n in (("Train", 6), ("Val", 4)):
        kp = rng.normal(160, 30, (n, 17, 2))
        if split == "Val":
            kp[3] = np.nan  # no 2D: left out of the join
        tables.append(frames_table(
            dataset="challenge", split=split, subject="", action="", camera="",
            frame=np.arange(1, n + 1), image_width=320, image_height=320, kp2d_px=kp,
            pose3d_cam_mm=rng.normal(0, 200, (n, 17, 3)),
            root_cam_mm=rng.normal(0, 100, (n, 3)) + [0, 0, 5000],  # the sidecar's: not used
        ))  # fmt: skip
    write_frames(pa.concat_tables(tables), folder / "challenge.parquet", source={}, producer={})


@pytest.fixture()
def params_file(repo_root: Path, tmp_path: Path) -> Path:
    _extract(tmp_path / "extract")
    import_gt(tmp_path / "extract", tmp_path / "kp" / "gt.parquet")
    raw = apply_overrides(load_raw(repo_root / "params.yaml"), [
        f"paths.extract={tmp_path / 'extract'}", f"paths.lifting={tmp_path / 'lifting'}",
        f"paths.train_lifter={tmp_path / 'train_lifter'}",
        f"paths.evaluate={tmp_path / 'evaluate'}",
        f"lifting.keypoints={tmp_path / 'kp' / 'gt.parquet'}",
        f"lifting.reference_keypoints={tmp_path / 'kp' / 'gt.parquet'}",
        "lifting.without_cr_keypoints=\"\"",
        f"lifting.gt_box_keypoints={tmp_path / 'kp' / 'gt.parquet'}",
    ])  # fmt: skip
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_task_joins_once_and_gives_the_challenge_no_camera(params_file: Path) -> None:
    params = load_params(params_file)
    summary = build_lifting_task.fn(params.lifting, params.paths.extract, params.paths.lifting)
    assert set(summary) == {"route", "reference", "gt_box"}  # without_cr_keypoints "": not built
    assert (
        summary["route"]["parts"]
        == summary["reference"]["parts"]
        == summary["gt_box"]["parts"]
        == {
            "train": {"rows": 6, "rows_with_camera": 0},
            "test": {"rows": 3, "rows_with_camera": 0},
        }
    )
    test = load_part(params.paths.lifting, "test")
    assert len(test) == 3 and list(test.frame) == [1, 2, 3]
    assert test.geometry is not None and np.isnan(test.geometry).all()  # no _labels camera
    np.testing.assert_array_equal(test.principal_px, np.full((3, 2), 160.0))  # image centre
    reference = load_part(params.paths.lifting, "test", "reference")
    np.testing.assert_array_equal(reference.kp2d_px, test.kp2d_px)  # the same cache twice
    assert not has_variant(params.paths.lifting, "without_cr")
    assert has_variant(params.paths.lifting, "gt_box")
    with pytest.raises(FileNotFoundError, match="run the `lifting` stage first"):
        load_part(Path(params.paths.lifting) / "absent", "train")


def test_flow_runs_under_prefect(params_file: Path, prefect_harness: None) -> None:
    summary = lifting_flow(params_path=str(params_file), overrides=[])
    assert summary["route"]["parts"]["train"]["rows"] == 6
    with pytest.raises(FileNotFoundError, match="absent.parquet: no keypoint cache there"):
        lifting_flow(params_path=str(params_file), overrides=["lifting.keypoints=absent.parquet"])


def test_an_empty_cache_leaves_its_variant_out_with_a_warning(
    params_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """infer_2d's gt_box cache on the real challenge (no label boxes): written, with no rows."""
    empty = keypoints_table(KeypointRows(source="infer_2d_gt_box", dataset="challenge", split="",
                                         subject="", action="", camera="", frame=np.zeros(0),
                                         kp2d_px=np.zeros((0, 17, 2))))  # fmt: skip
    write_keypoints(empty, tmp_path / "gt_box.parquet", Producer("infer_2d", "code"))
    params = load_params(params_file, [f"lifting.gt_box_keypoints={tmp_path / 'gt_box.parquet'}"])
    with caplog.at_level("WARNING"):
        summary = build_lifting_task.fn(params.lifting, params.paths.extract, params.paths.lifting)
    assert set(summary) == {"route", "reference"}
    assert not has_variant(params.paths.lifting, "gt_box")
    assert "lifting.gt_box_keypoints: " in caplog.text and "holds no keypoints" in caplog.text


TINY_LIFTER = ["train_lifter.epochs=1", "train_lifter.batch_size=2", "train_lifter.model.width=16",
               "train_lifter.model.num_blocks=1"]  # fmt: skip


def test_a_stopped_train_lifter_leaves_its_outputs_whole_and_resumes(
    params_file: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    lifting_flow(params_path=str(params_file), overrides=[])
    out = Path(load_params(params_file).paths.train_lifter)
    flows.train_lifter.train_lifter_flow(params_path=str(params_file), overrides=TINY_LIFTER)
    (out / ".gitignore").write_text("/checkpoint.pt\n")  # as DVC writes it: not an output
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert {Path("checkpoint.pt"), Path("reference/checkpoint.pt")} <= set(before)

    real_task = flows.train_lifter.train_lifter_task

    def stopped_at_the_reference(*args: object) -> object:
        if Path(str(args[3])).name == "reference":
            raise KeyboardInterrupt  # Ctrl-C after the route's lifter is done
        return real_task(*args)

    monkeypatch.setattr(flows.train_lifter, "train_lifter_task", stopped_at_the_reference)
    changed = [*TINY_LIFTER, "seed=7"]  # another run: its checkpoints are not the previous ones
    with pytest.raises(KeyboardInterrupt):
        flows.train_lifter.train_lifter_flow(params_path=str(params_file), overrides=changed)
    after = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before  # the previous outputs, whole: no new route lifter beside an old one
    work = out.parent / ".work" / out.name
    halfway = (work / "checkpoint.pt").read_bytes()

    monkeypatch.setattr(flows.train_lifter, "train_lifter_task", real_task)
    flows.train_lifter.train_lifter_flow(params_path=str(params_file), overrides=changed)
    assert (out / "checkpoint.pt").read_bytes() == halfway  # resumed complete, not retrained
    assert (out / "reference" / "checkpoint.pt").read_bytes() != before[
        Path("reference/checkpoint.pt")
    ]
    assert not work.exists() and (out / ".gitignore").is_file()
    assert (out / "gt_box" / "checkpoint.pt").is_file()  # trained after the reference's


def test_train_lifter_trains_three_lifters_and_evaluate_writes_the_error_budget(
    params_file: Path, prefect_harness: None
) -> None:
    """The route, the reference and gt_box rows from one cache: the same recipe and seed on the
    same rows, so the three lifters agree and the whole error is the lifter's."""
    lifting_flow(params_path=str(params_file), overrides=[])
    done = flows.train_lifter.train_lifter_flow(params_path=str(params_file), overrides=TINY_LIFTER)
    out = Path(load_params(params_file).paths.train_lifter)
    assert done == [str(out / "checkpoint.pt"), str(out / "reference" / "checkpoint.pt"),
                    str(out / "gt_box" / "checkpoint.pt")]  # fmt: skip
    assert all((out / sub / "history.csv").is_file() for sub in ("", "reference", "gt_box"))
    metrics = evaluate_flow(params_path=str(params_file), overrides=[])
    p1 = metrics["mpjpe_p1_mm"]
    assert metrics["gt_box_mpjpe_p1_mm"] == metrics["reference_mpjpe_p1_mm"] == p1
    assert metrics["budget_gt2d_mpjpe_p1_mm"] == metrics["budget_gt_box_mpjpe_p1_mm"] == p1
    assert (metrics["budget_lifter_share"], metrics["budget_cpn_mm"],
            metrics["budget_detector_mm"]) == (1.0, 0.0, 0.0)  # fmt: skip
    assert metrics["budget_gt_box_kp2d_error_px"] == 0.0 and metrics["budget_route_rows"] == 3
    evaluated = Path(load_params(params_file).paths.evaluate)
    headline = json.loads((evaluated / "metrics.json").read_text())
    assert 2 <= len(headline) <= 5 and "gt_box_mpjpe_p1_mm" in headline
    scores = json.loads((evaluated / "scores.json").read_text())
    assert scores["budget_cpn_share"] == 0.0
    assert "<h2>Error budget</h2>" in (evaluated / "report.html").read_text()
