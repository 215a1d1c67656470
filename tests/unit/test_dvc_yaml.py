"""dvc.yaml stays true to the code: every stage lists exactly the modules its flow imports, and
the params it names exist in params.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pose3d.config import load_raw
from tasks.provenance import closure

STAGES = [
    "generate", "extract", "import_keypoints", "train_detector", "train_cpn", "infer_2d",
    "lifting", "train_lifter", "evaluate", "ablation",
]  # fmt: skip


def _stages(repo_root: Path) -> dict[str, dict]:
    return yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]


def _covered(rel: Path, deps: list[str]) -> bool:
    return any(rel == Path(d) or Path(d) in rel.parents for d in deps)


# flows/ modules that are not stages: the pipeline flow, the UI deployment, the server wrapper,
# the `pose3d` command, the sharing commands
ENTRY_POINTS = {"pipeline", "serve", "server", "cli", "share"}


def test_every_flow_module_is_a_stage(repo_root: Path) -> None:
    flows = {p.stem for p in (repo_root / "flows").glob("*.py")} - {"__init__", "_stage"}
    assert flows - ENTRY_POINTS == set(STAGES) == set(_stages(repo_root))


@pytest.mark.parametrize("stage", STAGES)
def test_stage_deps_cover_every_imported_module(repo_root: Path, stage: str) -> None:
    spec = _stages(repo_root)[stage]
    assert spec["cmd"] == f"python -m flows.{stage}"
    deps = [d for d in spec["deps"] if not d.startswith("${")]
    for dep in deps:
        assert (repo_root / dep).exists(), f"{stage}: dep {dep} does not exist"
    needed = {p for p in closure(repo_root / "flows" / f"{stage}.py", repo_root)}
    needed = {p for p in needed if p.name != "__init__.py"}
    missing = sorted(str(p) for p in needed if not _covered(p, deps))
    assert not missing, f"dvc.yaml stage {stage} does not list {missing} in deps"
    # and no module it does not import: editing one would rerun the stage for nothing
    code = [d for d in deps if d.endswith(".py")]
    extra = sorted(d for d in code if Path(d) not in needed)
    assert not extra, f"dvc.yaml stage {stage} lists {extra}, which it does not import"


def test_stage_params_exist_in_params_yaml(repo_root: Path) -> None:
    raw = load_raw(repo_root / "params.yaml")
    for stage, spec in _stages(repo_root).items():
        for key in spec.get("params", []):
            node = raw
            for part in str(key).split("."):
                assert isinstance(node, dict) and part in node, f"{stage}: unknown param {key}"
                node = node[part]


def test_each_stage_lists_every_key_of_its_own_section(repo_root: Path) -> None:
    raw = load_raw(repo_root / "params.yaml")
    for stage, spec in _stages(repo_root).items():
        if stage not in raw:
            continue
        listed = {str(k) for k in spec["params"]}
        if stage in listed:  # the whole section
            continue
        missing = sorted(f"{stage}.{k}" for k in raw[stage] if f"{stage}.{k}" not in listed)
        assert not missing, f"dvc.yaml stage {stage} does not list params {missing}"


def test_ablation_does_not_rerun_for_train_lifter_epochs(repo_root: Path) -> None:
    params = [str(k) for k in _stages(repo_root)["ablation"]["params"]]
    assert "train_lifter" not in params and "train_lifter.epochs" not in params
    assert "train_lifter.model" in params and "ablation" in params


def test_only_extract_depends_on_the_input_roots_and_image_folders(repo_root: Path) -> None:
    """A no-op `dvc repro` checks every file of every dep: the stages after `extract` depend on
    its image manifests, never on the roots' or `extract`'s thousands of images."""
    stages = _stages(repo_root)
    image_folders = ("${paths.h36m_root}", "${paths.challenge_root}", "${paths.generate}",
                     "${paths.extract}", "${paths.extract}/h36m_images")  # fmt: skip
    for stage, spec in stages.items():
        data = [d for d in spec["deps"] if d.startswith("${")]
        if stage == "extract":
            assert {"${paths.h36m_root}", "${paths.challenge_root}"} <= set(data)
            continue
        assert not set(data) & set(image_folders), f"{stage} depends on an image folder"
    manifests = {"train_detector": {"h36m", "challenge"}, "train_cpn": {"h36m"},
                 "infer_2d": {"challenge"}}  # fmt: skip
    for stage, datasets in manifests.items():
        for dataset in datasets:
            assert f"${{paths.extract}}/{dataset}_images.md5" in stages[stage]["deps"], stage
