"""models.photometric: per-image colour jitter as one affine colour map per image, checked
against torchvision's own adjustments step by step; per-image texture jitter (sharpness and
noise) against torchvision's blur; the ranges refused by name."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from models.photometric import (
    ColourJitter,
    TextureJitter,
    colour_maps,
    gaussian_blur,
    jitter_colours,
    jitter_texture,
)


def _images(n: int = 4, seed: int = 0) -> torch.Tensor:
    """Mid-range colours, so that no step reaches the clamp."""
    gen = torch.Generator().manual_seed(seed)
    return 0.3 + 0.4 * torch.rand(n, 3, 8, 8, generator=gen)


def _factors(jitter: ColourJitter, n: int, seed: int) -> dict[str, torch.Tensor]:
    """The factors `colour_maps` draws from a generator seeded with `seed`, in its order."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, centre in (("hue", 0.0), ("saturation", 1.0), ("contrast", 1.0), ("brightness", 1.0)):
        width = getattr(jitter, name)
        out[name] = centre + width * (2 * torch.rand(n, generator=gen, dtype=torch.float64) - 1)
    return out


@pytest.mark.parametrize("step", ["brightness", "contrast", "saturation"])
def test_each_step_is_torchvisions_adjustment_with_a_factor_of_its_own_per_image(step: str) -> None:
    images = _images()
    jitter = ColourJitter(**{step: 0.5})
    out = jitter_colours(images, jitter, torch.Generator().manual_seed(3))
    factors = _factors(jitter, len(images), 3)[step]
    adjust = {"brightness": TF.adjust_brightness, "contrast": TF.adjust_contrast,
              "saturation": TF.adjust_saturation}[step]  # fmt: skip
    expected = torch.stack([adjust(img, float(f)) for img, f in zip(images, factors, strict=True)])
    assert torch.allclose(out, expected, atol=3e-4)
    assert len({round(float(f), 6) for f in factors}) == len(images)  # one factor per image
    assert all(0.5 <= float(f) <= 1.5 for f in factors)


def test_a_hue_turn_keeps_the_grey_and_turns_as_torchvisions_does() -> None:
    images = 0.5 + 0.5 * (_images() - 0.5)  # weak colours: no turn reaches the clamp
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    out = jitter_colours(images, ColourJitter(hue=0.5), torch.Generator().manual_seed(1))
    assert torch.allclose((out * luma).sum(1), (images * luma).sum(1), atol=3e-4)
    assert not torch.allclose(out, images, atol=1e-3)
    # a red turned by up to half a circle lands where torchvision's HSV turn puts it
    red = torch.tensor([0.6, 0.3, 0.3]).view(1, 3, 1, 1)
    linear, offset = colour_maps(red, ColourJitter(hue=0.5), torch.Generator().manual_seed(0))
    turns = _factors(ColourJitter(hue=0.5), 1, 0)["hue"]
    assert abs(float(turns[0])) > 0.0
    half = torch.tensor([[0.6, 0.3, 0.3]]).double()
    ours = (linear @ half[:, :, None])[:, :, 0] + offset
    theirs = TF.adjust_hue(red, float(turns[0])).view(1, 3).double()
    # YIQ keeps the grey where HSV keeps the value, so compare where the hue lands: the angle
    # of the chroma in the I-Q plane
    yiq = torch.tensor([[0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
    angle = [torch.atan2(*(yiq.double() @ c[0])[[1, 0]]) for c in (ours, theirs, half)]
    assert abs(float(angle[0] - angle[1])) < 0.35  # radians: within 20 degrees
    assert abs(float(angle[0] - angle[2])) > 1.0  # and far from where it started


def test_off_is_the_identity_and_the_same_generator_gives_the_same_jitter() -> None:
    images = _images()
    assert jitter_colours(images, ColourJitter(), torch.Generator()) is images
    jitter = ColourJitter(0.4, 0.4, 0.4, 0.1)
    a = jitter_colours(images, jitter, torch.Generator().manual_seed(5))
    b = jitter_colours(images, jitter, torch.Generator().manual_seed(5))
    c = jitter_colours(images, jitter, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # the same image twice in a batch is jittered twice, differently
    twins = jitter_colours(images[:1].repeat(2, 1, 1, 1), jitter, torch.Generator().manual_seed(5))
    assert not torch.allclose(twins[0], twins[1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"brightness": 1.5}, "brightness"),
        ({"contrast": -0.1}, "contrast"),
        ({"saturation": float("nan")}, "saturation"),
        ({"hue": 0.6}, "hue"),
    ],  # fmt: skip
)
def test_ranges_out_of_bounds_are_refused_by_name(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ColourJitter(**kwargs)


def test_the_blur_is_torchvisions_gaussian_blur_of_one_pixel() -> None:
    images = torch.rand(3, 3, 12, 10, generator=torch.Generator().manual_seed(0))
    expected = TF.gaussian_blur(images, kernel_size=[5, 5], sigma=[1.0, 1.0])
    assert torch.allclose(gaussian_blur(images), expected, atol=1e-6)


def test_texture_jitter_blurs_or_sharpens_each_image_by_its_own_amount() -> None:
    images = _images(6)
    out = jitter_texture(images, TextureJitter(sharpness=1.0), torch.Generator().manual_seed(5))
    detail = images - gaussian_blur(images)
    # each image is x + a * detail with one a per image, in [-1, 1]
    amounts = ((out - images) * detail).sum(dim=(1, 2, 3)) / (detail * detail).sum(dim=(1, 2, 3))
    expected = images + amounts.view(-1, 1, 1, 1) * detail
    assert torch.allclose(out, expected, atol=1e-5)
    assert amounts.abs().max() <= 1.0 and len({round(float(a), 4) for a in amounts}) == 6
    assert (amounts < 0).any() and (amounts > 0).any()  # blurred and sharpened ones


def test_texture_noise_has_a_spread_of_its_own_per_image_and_off_is_the_identity() -> None:
    images = torch.full((8, 3, 32, 32), 0.5)
    out = jitter_texture(images, TextureJitter(noise=0.1), torch.Generator().manual_seed(2))
    spread = (out - images).std(dim=(1, 2, 3))
    assert spread.max() <= 0.11 and spread.max() > 2 * spread.min()
    again = jitter_texture(images, TextureJitter(noise=0.1), torch.Generator().manual_seed(2))
    assert torch.equal(out, again)
    assert jitter_texture(images, TextureJitter(), torch.Generator()) is images
    loud = jitter_texture(images, TextureJitter(1.0, 0.2), torch.Generator().manual_seed(0))
    assert loud.min() >= 0.0 and loud.max() <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"sharpness": 1.2}, "sharpness"), ({"noise": 0.5}, "noise")]
)
def test_texture_ranges_out_of_bounds_are_refused_by_name(
    kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        TextureJitter(**kwargs)
