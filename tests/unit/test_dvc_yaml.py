"""dvc.yaml stays true to the code: every stage lists the modules its flow imports, and the
params it names exist in params.yaml."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from pose3d.config import load_raw

PACKAGES = ("pose3d", "models", "tasks", "flows")


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(root: Path, path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        out.update(n for n in names if n.split(".")[0] in PACKAGES and _module_file(root, n))
    return out


def project_closure(root: Path, start: Path) -> set[Path]:
    """Source files of our packages reachable by imports from `start` (package inits aside)."""
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(root, path):
            found = _module_file(root, module)
            if found is not None:
                todo.append(found)
    return {p.relative_to(root) for p in seen if p.name != "__init__.py"}


def _stages(repo_root: Path) -> dict[str, dict]:
    return yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]


def _covered(rel: Path, deps: list[str]) -> bool:
    return any(rel == Path(d) or Path(d) in rel.parents for d in deps)


@pytest.mark.parametrize(
    "stage", ["generate", "extract", "import_keypoints", "train_lifter", "evaluate", "ablation"]
)
def test_stage_deps_cover_every_imported_module(repo_root: Path, stage: str) -> None:
    spec = _stages(repo_root)[stage]
    assert spec["cmd"] == f"python -m flows.{stage}"
    deps = [d for d in spec["deps"] if not d.startswith("${")]
    for dep in deps:
        assert (repo_root / dep).exists(), f"{stage}: dep {dep} does not exist"
    needed = project_closure(repo_root, repo_root / "flows" / f"{stage}.py")
    missing = sorted(str(p) for p in needed if not _covered(p, deps))
    assert not missing, f"dvc.yaml stage {stage} does not list {missing} in deps"


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
