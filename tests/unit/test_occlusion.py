"""models.occlusion: shapes pasted over a share of the crops, each crop its own, drawn
deterministically from the generator; the shapes' geometry; the ranges refused by name."""

from __future__ import annotations

import math

import pytest
import torch

from models.occlusion import HALF_SIZE, KINDS, Occlusion, occluder_layers, paste_occluders


def _grey(n: int, size: int = 32) -> torch.Tensor:
    return torch.full((n, 3, size, size), 0.5)


def test_off_is_the_identity_and_on_is_deterministic_per_generator() -> None:
    images = _grey(6)
    assert paste_occluders(images, Occlusion(), torch.Generator()) is images
    assert paste_occluders(images, Occlusion(0.0, 3), torch.Generator()) is images
    on = Occlusion(1.0, 3)
    first = paste_occluders(images, on, torch.Generator().manual_seed(4))
    again = paste_occluders(images, on, torch.Generator().manual_seed(4))
    other = paste_occluders(images, on, torch.Generator().manual_seed(5))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert torch.equal(images, _grey(6))  # the input is not written to
    assert first.min() >= 0.0 and first.max() <= 1.0


def test_the_share_of_occluded_crops_follows_the_probability() -> None:
    images = _grey(400, 16)
    out = paste_occluders(images, Occlusion(0.3, 2), torch.Generator().manual_seed(0))
    occluded = (out != images).flatten(1).any(dim=1).float().mean()
    assert 0.22 < float(occluded) < 0.38
    every = paste_occluders(images, Occlusion(1.0, 1), torch.Generator().manual_seed(0))
    assert (every != images).flatten(1).any(dim=1).all()


def test_each_crop_gets_one_to_max_shapes_of_the_stated_size() -> None:
    size, k = 48, 3
    masks, values = occluder_layers(300, size, size, Occlusion(1.0, k), torch.Generator())
    assert masks.shape == (300, k, size, size) and values.shape == (300, k, 3, size, size)
    used = masks.flatten(2).any(dim=2)  # (N, K)
    assert used[:, 0].all()  # every crop has its first shape
    counts = used.sum(dim=1)
    assert set(counts.tolist()) == {1, 2, 3}
    # a slot is used only after the ones before it
    assert (used[:, 1:] <= used[:, :-1]).all()
    # no shape covers more than its bounding rectangle: (2 * largest half-size)^2 of the crop
    area = masks.flatten(2).float().mean(dim=2)
    assert float(area.max()) <= (2 * HALF_SIZE[1]) ** 2 + 0.02
    assert float(area[used].min()) > 0.0


def test_shapes_are_rectangles_ellipses_and_stadiums() -> None:
    size, n = 64, 600
    masks, _ = occluder_layers(n, size, size, Occlusion(1.0, 1), torch.Generator().manual_seed(1))
    area = masks[:, 0].flatten(1).float().sum(dim=1)
    assert len(KINDS) == 3
    filled = []
    for i in range(n):
        rows = torch.nonzero(masks[i, 0])
        if len(rows) < 20 or rows.min() == 0 or rows.max() == size - 1:  # cut by the border
            continue
        h = float(rows[:, 0].max() - rows[:, 0].min() + 1)
        w = float(rows[:, 1].max() - rows[:, 1].min() + 1)
        filled.append(float(area[i]) / (h * w))
    filled_t = torch.tensor(filled)
    # turned rectangles, ellipses (pi/4 of their box when unturned) and stadiums fill different
    # shares of their bounding boxes: some nearly all of it, some well under pi/4
    assert float(filled_t.max()) > 0.9 and float(filled_t.min()) < math.pi / 4 - 0.1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"probability": 1.5}, "probability"),
        ({"max_shapes": 9}, "max_shapes"),
        ({"max_shapes": 1.5}, "max_shapes"),
    ],  # fmt: skip
)
def test_out_of_range_is_refused_by_name(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Occlusion(**kwargs)  # type: ignore[arg-type]
