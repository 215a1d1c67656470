"""Backbone weights a user already has: ``backbone_weights`` of `train_cpn` and `train_detector`,
the state dict of a torchvision ImageNet classifier (ResNet, MobileNetV3, VGG-16) that the
network's backbone starts from, as the paper's did. Nothing is downloaded.

`locate` finds and hashes the file: the run's fingerprint holds its sha256 (`by_content`), not
its path, so a changed file retrains and a moved one resumes; the checkpoint records both
(`provenance`). `load_backbone` reads it with ``torch.load(weights_only=True)`` (nothing in it is
run; a dict with a ``state_dict`` or ``model`` entry is opened), maps each name with the
model's own layout (`models.cpn.backbone_key`, `models.ssd.backbone_key`), leaves out the
classifier's head and refuses, naming the file, a dict that is not this backbone's: a name that
fits none of its weights, a shape that differs, a backbone weight it lacks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tasks._prefect import logger

WRAPPERS = ("state_dict", "model")  # entries that hold the state dict in a training checkpoint


@dataclass(frozen=True)
class BackboneWeights:
    """A weights file found by `locate`, and the params key that named it."""

    path: Path
    sha256: str
    key: str  # e.g. "train_cpn.backbone_weights", for messages


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def locate(path: str, key: str) -> BackboneWeights | None:
    """The file that `key` names (None for "": random init), hashed. Raises FileNotFoundError
    naming the key and the path when it is not a file."""
    if not path:
        return None
    found = Path(path).expanduser()
    if not found.is_file():
        raise FileNotFoundError(f"{key}: {path}: not found")
    return BackboneWeights(found, file_sha256(found), key)


def by_content(config: Mapping[str, Any], weights: BackboneWeights | None) -> dict[str, Any]:
    """A stage's config as its run's fingerprint sees it: ``backbone_weights`` (a path) replaced
    by ``backbone_weights_sha256`` (the file's content; "" for random init)."""
    out = {k: v for k, v in config.items() if k != "backbone_weights"}
    out["backbone_weights_sha256"] = weights.sha256 if weights else ""
    return out


def provenance(weights: BackboneWeights | None) -> dict[str, str]:
    """The checkpoint's ``backbone_weights`` entry: where the backbone started from."""
    if weights is None:
        return {"path": "", "sha256": ""}
    return {"path": str(weights.path), "sha256": weights.sha256}


def read_state_dict(path: Path, where: str = "") -> dict[str, torch.Tensor]:
    """The tensors of a state dict file (unwrapping a ``state_dict`` / ``model`` entry).
    Raises ValueError naming the file (`where`, default the path) when it is not one."""
    where = where or str(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError (not weights only), RuntimeError (not torch), ...
        raise ValueError(
            f"{where}: not a state dict that torch.load(weights_only=True) reads "
            f"({type(err).__name__}: {err}); save one with torch.save(model.state_dict(), path)"
        ) from err
    for entry in WRAPPERS:
        if isinstance(state, Mapping) and isinstance(state.get(entry), Mapping):
            state = state[entry]
            break
    if not isinstance(state, Mapping) or not state:
        raise ValueError(
            f"{where}: expected a state dict (names -> tensors), got a {type(state).__name__}"
        )
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{where}: {name!r} is a {type(value).__name__}, not a tensor")
    return dict(state)


def match_backbone(
    source: Mapping[str, torch.Tensor],
    model_state: Mapping[str, torch.Tensor],
    target: Callable[[str], str | None],
    covers: Callable[[str], bool],
    where: str,
) -> dict[str, torch.Tensor]:
    """`source`'s tensors under the model's names: ``target(name)`` (None: the classifier's head,
    left out) must be a backbone entry of `model_state` (``covers``) of the same shape, and every
    backbone entry must get one. Raises ValueError naming the file (`where`) and the first
    offending key."""
    backbone = {k: v for k, v in model_state.items() if covers(k)}
    mapped: dict[str, torch.Tensor] = {}
    for name, tensor in source.items():
        key = target(name)
        if key is None:
            continue
        if key not in backbone:
            raise ValueError(
                f"{where}: {name!r} fits none of the backbone's weights (a state dict of "
                "another architecture?)"
            )
        if tuple(tensor.shape) != tuple(backbone[key].shape):
            raise ValueError(
                f"{where}: {name!r} has shape {tuple(tensor.shape)}, the backbone's {key!r} "
                f"{tuple(backbone[key].shape)} (a state dict of another architecture?)"
            )
        mapped[key] = tensor
    missing = [k for k in backbone if k not in mapped]
    if missing:
        raise ValueError(
            f"{where}: no weight for the backbone's {missing[0]!r} ({len(missing)} of "
            f"{len(backbone)} missing)"
        )
    return mapped


def load_backbone(
    model: torch.nn.Module,
    weights: BackboneWeights,
    target: Callable[[str], str | None],
    covers: Callable[[str], bool],
) -> int:
    """Copy the file's weights into `model`'s backbone (`match_backbone`; the other weights are
    left as they are); logs and returns how many tensors were loaded."""
    where = f"{weights.key}: {weights.path}"
    source = read_state_dict(weights.path, where)
    mapped = match_backbone(source, model.state_dict(), target, covers, where)
    model.load_state_dict(mapped, strict=False)
    logger().info(
        "%s: %d backbone tensors loaded from %s (sha256 %s)",
        weights.key, len(mapped), weights.path, weights.sha256[:16],
    )  # fmt: skip
    return len(mapped)
