"""Atomic file output and validated Parquet artifacts.

Every artifact is written to a temporary name beside its target and renamed into place, so a
crash never leaves a half-written file behind.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_VERSION_KEY = b"pose3d.schema_version"
# The file names every training stage writes in its output folder (tasks.engine)
CHECKPOINT = "checkpoint.pt"
HISTORY = "history.csv"
_UMASK = os.umask(0)
os.umask(_UMASK)


_FULL = (errno.ENOSPC, errno.EDQUOT)


def _name_full_disk(err: BaseException, target: Path) -> None:
    """A full disk (or quota) while writing `target`: raise an OSError that names it and says
    what is left (the OS's error names neither); other errors go on as they are."""
    if isinstance(err, OSError) and err.errno in _FULL:
        raise OSError(
            err.errno,
            f"{err.strerror} while writing {target} (nothing of it was written; the previous "
            f"version, if any, is untouched): free space on {target.parent} and rerun",
        ) from err


@contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `target`; rename it onto `target` if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix or target.suffix or ".tmp", dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual file mode
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException as err:
        tmp_path.unlink(missing_ok=True)
        _name_full_disk(err, target)
        raise


@contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory next to `target`; it replaces `target` if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        _name_full_disk(err, target)
        raise


def work_root(out_dir: str | os.PathLike[str]) -> Path:
    """Where a stage keeps resumable work until its outputs are complete: beside its output
    folder, which DVC deletes before the stage runs (``<parent>/.work/<name>``)."""
    out = Path(out_dir)
    return out.parent / ".work" / out.name


def move_into(built: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Move every file of the complete folder `built` to the same place under `target` (each a
    rename, replacing what is there), then remove `built`. Files of `target` that `built` has
    not (DVC's ``.gitignore``) stay."""
    built, target = Path(built), Path(target)
    for path in sorted(p for p in built.rglob("*") if not p.is_dir()):
        dest = target / path.relative_to(built)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
    shutil.rmtree(built)


@contextmanager
def staged_files(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside `out_dir` to write a stage's output files in; when the
    block succeeds each entry is renamed into `out_dir` (replacing the old one), when it fails
    the folder is removed. A failed run leaves the previous outputs, never a mix of old and new.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".staged.", dir=out_dir.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        for entry in sorted(tmp.iterdir()):
            target = out_dir / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
    except OSError as err:
        _name_full_disk(err, out_dir)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


METRICS = "metrics.json"  # a stage's few headline numbers (`dvc metrics show`)
SCORES = "scores.json"  # every number the stage measured


def write_metrics(out_dir: str | os.PathLike[str], scores: Mapping[str, Any],
                  headline: Sequence[str]) -> None:  # fmt: skip
    """``scores.json`` with every number of `scores` and ``metrics.json`` with the `headline`
    keys found in it: one row of `dvc metrics show` per stage stays readable."""
    out = Path(out_dir)
    write_json_atomic(out / SCORES, dict(scores))
    write_json_atomic(out / METRICS, {k: scores[k] for k in headline if k in scores})


def write_parquet_atomic(
    table: pa.Table, path: str | os.PathLike[str], metadata: Mapping[str, Any]
) -> None:
    """Write `table` with file metadata (values JSON-encoded under ``pose3d.<key>``)."""
    meta = dict(table.schema.metadata or {})
    for key, value in metadata.items():
        meta[f"pose3d.{key}".encode()] = json.dumps(value).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)


def read_parquet_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the ``pose3d.*`` file metadata of a Parquet file, JSON-decoded, prefix removed."""
    raw = pq.read_schema(path).metadata or {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith(b"pose3d."):
            out[key[len(b"pose3d.") :].decode()] = json.loads(value)
    return out


def read_parquet_validated(
    path: str | os.PathLike[str], schema: pa.Schema, schema_version: int
) -> pa.Table:
    """Read a Parquet artifact and check its columns, types and schema version.

    Raises ValueError naming the file and the offending column or key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such Parquet file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(f"{path}: not a readable Parquet file ({err})") from err
    meta = read_parquet_metadata(path)
    version = meta.get("schema_version")
    if version != schema_version:
        raise ValueError(f"{path}: schema_version is {version!r}, expected {schema_version}")
    for field in schema:
        if field.name not in table.column_names:
            raise ValueError(f"{path}: missing column {field.name!r}")
        actual = table.schema.field(field.name).type
        if actual != field.type:
            raise ValueError(
                f"{path}: column {field.name!r} has type {actual}, expected {field.type}"
            )
    return table.select(schema.names)
