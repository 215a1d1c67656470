"""The `lifting` stage on tiny tables: the task through `.fn()`, the flow under the session's
Prefect test harness, and what reaches the lifter on the challenge's route; then `train_lifter`
on those rows, stopped halfway."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

import flows.train_lifter
from flows.lifting import lifting_flow
from pose3d.config import apply_overrides, load_params, load_raw
from pose3d.frames import frames_table, write_frames
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
        f"lifting.keypoints={tmp_path / 'kp' / 'gt.parquet'}",
        f"lifting.reference_keypoints={tmp_path / 'kp' / 'gt.parquet'}",
        "lifting.without_cr_keypoints=\"\"",
    ])  # fmt: skip
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_task_joins_once_and_gives_the_challenge_no_camera(params_file: Path) -> None:
    params = load_params(params_file)
    summary = build_lifting_task.fn(params.lifting, params.paths.extract, params.paths.lifting)
    assert set(summary) == {"route", "reference"}  # without_cr_keypoints "": not built
    assert (
        summary["route"]["parts"]
        == summary["reference"]["parts"]
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
    with pytest.raises(FileNotFoundError, match="run the `lifting` stage first"):
        load_part(Path(params.paths.lifting) / "absent", "train")


def test_flow_runs_under_prefect(params_file: Path, prefect_harness: None) -> None:
    summary = lifting_flow(params_path=str(params_file), overrides=[])
    assert summary["route"]["parts"]["train"]["rows"] == 6
    with pytest.raises(FileNotFoundError, match="absent.parquet: no keypoint cache there"):
        lifting_flow(params_path=str(params_file), overrides=["lifting.keypoints=absent.parquet"])


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
