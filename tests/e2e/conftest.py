"""End-to-end fixtures: a throw-away copy of the repository with a tiny params file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pose3d.config import apply_overrides, load_raw

# Small enough for the whole DVC pipeline to run in about a minute on 2 cores.
TINY_OVERRIDES: list[str] = [
    "generate.h36m_subjects=[S1, S5, S9, S11]",
    "generate.actions=[Walking, SittingDown]",
    "generate.seconds_per_action=0.4",
    "generate.challenge_splits={Train: [S1, S5], Val: [S9], Test: [S11]}",
    "generate.challenge_images={Train: 48, Val: 16, Test: 8}",
    "extract.h36m_subjects=[S1, S5, S9, S11]",
    "train_detector.subjects=[S1]",
    "train_detector.heldout_subjects=[S5]",
    "train_detector.image_size=128",
    "train_detector.max_images=16",
    "train_detector.epochs=1",
    "train_detector.batch_size=4",
    "train_cpn.subjects=[S1]",
    "train_cpn.heldout_subjects=[S5]",
    "train_cpn.input_size=64",
    "train_cpn.channels=16",
    "train_cpn.max_images=16",
    "train_cpn.epochs=1",
    "train_cpn.batch_size=4",
    "infer_2d.shard_size=32",
    "infer_2d.batch_size=8",
    "train_lifter.epochs=2",
    "train_lifter.batch_size=16",
    "train_lifter.model.width=64",
    "ablation.epochs=1",
    "ablation.blocks=[1]",
    "ablation.widths=[32]",
]


def _project_files(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line for line in out.splitlines() if line and (root / line).is_file()]


def _stage_env(workdir: Path, api_url: str) -> dict[str, str]:
    """The environment of a `dvc` command in `workdir`: this interpreter's tools first, the
    project's modules from `workdir`, and every stage reporting to the session's Prefect server
    `api_url` (settings otherwise from `workdir`'s prefect.toml)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PREFECT_API_URL"] = api_url
    env.pop("PREFECT_HOME", None)
    env["PYTHONPATH"] = str(workdir)
    return env


def _make_tiny_repo(repo_root: Path, work: Path) -> None:
    """A git + DVC copy of the working tree in `work` whose params.yaml is shrunk by
    TINY_OVERRIDES."""
    for rel in _project_files(repo_root):
        if rel.startswith("data/") and not rel.endswith(".gitignore"):
            continue
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo_root / rel, work / rel)
    raw = apply_overrides(load_raw(work / "params.yaml"), TINY_OVERRIDES)
    (work / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    subprocess.run([*git, "add", "-A"], cwd=work, check=True)
    subprocess.run([*git, "commit", "-qm", "tiny"], cwd=work, check=True)


@pytest.fixture(scope="session")
def built_repo(
    repo_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
    run_in: Callable[..., subprocess.CompletedProcess[str]],
) -> tuple[Path, str]:
    """The tiny repository after one whole `dvc repro`, built once per test session however
    many xdist workers there are (the first to ask builds it under a file lock, the others wait
    and reuse it), and what that `dvc repro` printed. Never changed: tests work on copies."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    built, said = shared / "tiny-built", shared / "tiny-built.out"
    with FileLock(str(shared / "tiny-built.lock")):
        if not said.is_file():
            shutil.rmtree(built, ignore_errors=True)
            built.mkdir()
            _make_tiny_repo(repo_root, built)
            said.write_text(run_in(built, "dvc", "repro").stdout)
    return built, said.read_text()


def _dvc_tmp(folder: str, names: list[str]) -> list[str]:
    return ["tmp"] if Path(folder).name == ".dvc" else []


@pytest.fixture(scope="session")
def tiny_repo(built_repo: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This worker's copy of `built_repo`, the pipeline run once (tests that change it restore
    it; DVC's state under .dvc/tmp is left behind and rebuilt)."""
    work = tmp_path_factory.mktemp("repo")
    shutil.copytree(built_repo[0], work, symlinks=True, dirs_exist_ok=True, ignore=_dvc_tmp)
    return work


@pytest.fixture(scope="session")
def stage_env(prefect_api: str) -> Callable[[Path], dict[str, str]]:
    """The environment a `dvc` command in a given repository runs with (`_stage_env`)."""
    return lambda workdir: _stage_env(workdir, prefect_api)


@pytest.fixture(scope="session")
def run_in(prefect_api: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(workdir: Path, *cmd: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            list(cmd),
            cwd=workdir,
            env=_stage_env(workdir, prefect_api),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return proc

    return run


@pytest.fixture(scope="session")
def first_repro(built_repo: tuple[Path, str], tiny_repo: Path) -> str:
    """What the whole pipeline's first `dvc repro` printed (`tiny_repo` holds its outputs)."""
    return built_repo[1]


@pytest.fixture(scope="session")
def commit(run_in: Callable[..., subprocess.CompletedProcess[str]]) -> Callable[[Path, str], None]:
    """Commit a run's record (dvc.lock, params.yaml): `dvc exp run` and clones need one."""

    def do(repo: Path, message: str) -> None:
        git = ("git", "-c", "user.name=t", "-c", "user.email=t@t")
        run_in(repo, *git, "add", "dvc.lock", "params.yaml")
        run_in(repo, *git, "commit", "-qm", message, "--allow-empty")

    return do
