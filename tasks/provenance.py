"""Provenance of every artifact: which code and which params produced it.

`code_files(module)` follows the imports of a module through our packages (pose3d, models,
tasks, flows) by reading the sources, so no stage keeps a hand-written list of its files;
`code_digest` hashes them; `producer` is the ``producer`` metadata that every artifact writer
stores (Parquet file metadata, checkpoints). dvc.yaml's ``deps`` are checked against the same
closure by a unit test.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from collections.abc import Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pose3d", "models", "tasks", "flows")


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The source file of one of our modules under `root` (None for other packages)."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, root: Path) -> set[Path]:
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            target = module_file(name, root)
            if target is not None:
                found.add(target)
    return found


def closure(start: Path, root: Path = ROOT) -> list[Path]:
    """Source files of our packages reachable by imports from `start`, sorted, relative to
    `root` (package ``__init__`` files that hold no code of their own included)."""
    seen: set[Path] = set()
    todo = [start.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(path, root) - seen)
    return sorted(p.relative_to(root.resolve()) for p in seen)


@cache
def code_files(module: str) -> tuple[str, ...]:
    """What `module` runs of ours: its closure as paths relative to the project root."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"{module}: no such module")
    return tuple(str(p) for p in closure(Path(spec.origin)))


def code_digest(module: str) -> str:
    """SHA-256 over the names and bytes of `code_files(module)`."""
    digest = hashlib.sha256()
    for rel in code_files(module):
        digest.update(rel.encode() + b"\0" + (ROOT / rel).read_bytes() + b"\0")
    return digest.hexdigest()


def package_version() -> str:
    try:
        return version("pose3d")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout without installing
        return "unknown"


def producer(stage: str, module: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``producer`` metadata of an artifact: the stage, the package version, the digest of
    the code that made it (`module` and what it imports of ours) and the params it read."""
    return {
        "stage": stage,
        "package": "pose3d",
        "version": package_version(),
        "code_sha256": code_digest(module),
        "params": dict(params),
    }
