from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from pose3d.config import ConfigError, Params, apply_overrides, load_params, load_raw, to_dict


def test_params_yaml_parses_into_frozen_dataclasses(repo_root: Path) -> None:
    params = load_params(repo_root / "params.yaml")
    assert isinstance(params, Params)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.seed = 1  # type: ignore[misc]
    # every key of params.yaml survives the round trip through the dataclasses
    assert to_dict(params) == load_raw(repo_root / "params.yaml")


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unknown_key_is_named(repo_root: Path, tmp_path: Path) -> None:
    raw = load_raw(repo_root / "params.yaml")
    raw["extract"]["frame_strid"] = 3
    with pytest.raises(ConfigError, match=r"extract\.frame_strid"):
        load_params(_write(tmp_path, raw))


def test_wrong_type_is_named(repo_root: Path, tmp_path: Path) -> None:
    raw = load_raw(repo_root / "params.yaml")
    raw["seed"] = "zero"
    with pytest.raises(ConfigError, match=r"seed: expected an integer"):
        load_params(_write(tmp_path, raw))
    raw["seed"] = 0
    raw["generate"]["cameras"][0]["k"] = [0.1, 0.2]
    with pytest.raises(ConfigError, match=r"generate\.cameras\[0\]\.k: expected 3 items"):
        load_params(_write(tmp_path, raw))


def test_missing_key_is_named(repo_root: Path, tmp_path: Path) -> None:
    raw = load_raw(repo_root / "params.yaml")
    del raw["paths"]["extract"]
    with pytest.raises(ConfigError, match=r"missing key paths\.extract"):
        load_params(_write(tmp_path, raw))


def test_bool_is_not_an_integer(repo_root: Path) -> None:
    with pytest.raises(ConfigError, match="seed"):
        load_params(repo_root / "params.yaml", ["seed=true"])


def test_overrides_use_dvc_spelling(repo_root: Path) -> None:
    params = load_params(repo_root / "params.yaml", ["seed=7", "extract.cameras=[a, b]"])
    assert params.seed == 7
    assert params.extract.cameras == ("a", "b")


def test_override_of_unknown_key_fails() -> None:
    with pytest.raises(ConfigError, match=r"unknown key extract\.nope"):
        apply_overrides({"extract": {"a": 1}}, ["extract.nope=2"])
    with pytest.raises(ConfigError, match="expected section.key=value"):
        apply_overrides({"extract": {"a": 1}}, ["extract.a"])


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_augment_settings_are_checked_and_may_be_left_out(repo_root: Path, tmp_path: Path) -> None:
    params = repo_root / "params.yaml"
    with pytest.raises(ConfigError, match=r"train_lifter\.augment"):
        load_params(params, ["train_lifter.augment.probability=1.5"])
    with pytest.raises(ConfigError, match=r"train_lifter\.augment"):
        load_params(params, ["train_lifter.augment.body_scale=-0.1"])
    raw = load_raw(params)
    del raw["train_lifter"]["augment"]  # params files from before the augmentation still load
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert load_params(path).train_lifter.augment.probability == 0.0


def test_fixed_choices_are_checked_when_params_load(repo_root: Path) -> None:
    params = repo_root / "params.yaml"
    with pytest.raises(ConfigError, match=r"^--set device=tpu: device: expected one of"):
        load_params(params, ["device=tpu"])
    with pytest.raises(ConfigError, match=r"^--set lifting.dataset=h37m: lifting.dataset"):
        load_params(params, ["lifting.dataset=h37m"])
    with pytest.raises(ConfigError, match="lifting.keypoints: expected the path"):
        load_params(params, ["lifting.keypoints=gt"])


def test_a_params_file_can_extend_another(repo_root: Path, tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text(
        f"extends: {repo_root / 'params.yaml'}\nlifting: {{dataset: h36m}}\nseed: 3\n"
    )
    params = load_params(tmp_path / "real.yaml")
    assert params.seed == 3 and params.lifting.dataset == "h36m"
    assert params.lifting.train == load_params(repo_root / "params.yaml").lifting.train
    real = load_params(repo_root / "params" / "h36m.yaml")  # the documented real-data file
    assert real.extract.challenge_splits == () and real.lifting.dataset == "h36m"


@pytest.mark.parametrize(
    ("override", "said"),
    [
        ("infer_2d.splits=[Tset]", "infer_2d.splits: ['Tset'] are not challenge splits"),
        ("infer_2d.splits=[Val, Val]", "infer_2d.splits: ['Val', 'Val'] names a split twice"),
        ("train_detector.eval_splits=[Vall]", "train_detector.eval_splits: ['Vall'] are not"),
        ("infer_2d.shard_size=0", "infer_2d.shard_size: expected >= 1, got 0"),
        ("infer_2d.dask_workers=0", "infer_2d.dask_workers: expected >= 1, got 0"),
    ],
)
def test_splits_and_sizes_fail_at_once_naming_the_set(
    repo_root: Path, override: str, said: str
) -> None:
    """A wrong split or size names the `--set` it came from (not params.yaml), before anything
    reads a table."""
    with pytest.raises(ConfigError) as err:
        load_params(repo_root / "params.yaml", [override])
    assert str(err.value).startswith(f"--set {override}: {said}")


@pytest.mark.parametrize("name", ["h36m.yaml", "paper2d.yaml", "long2d.yaml"])
def test_each_params_preset_loads_and_writes_its_own_outputs(repo_root: Path, name: str) -> None:
    """A preset that no longer parses, or that would write over `make run`'s outputs, fails
    here rather than in a user's half-hour run."""
    preset = load_params(repo_root / "params" / name)
    default = load_params(repo_root / "params.yaml")
    changed = [s for s in ("train_cpn", "infer_2d", "lifting", "train_lifter", "evaluate")
               if getattr(preset, s) != getattr(default, s)]  # fmt: skip
    assert changed, f"{name} changes none of the stages it names"
    for section in ("train_lifter", "evaluate"):
        assert getattr(preset.paths, section) != getattr(default.paths, section), (name, section)
