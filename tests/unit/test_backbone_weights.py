"""tasks.backbone_weights: a torchvision ImageNet state dict written here lands on the CPN's
ResNet (plain, or inside a ``state_dict`` / ``model`` entry; the classifier left out); another
architecture, a missing weight, a file that is no state dict and a missing file are refused by
name; the fingerprint sees the file's content, not its path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models import mobilenet_v3_large, resnet18, resnet50

from models.cpn import CPN, CPNConfig, backbone_key, is_backbone
from tasks.backbone_weights import by_content, load_backbone, locate, provenance

pytestmark = pytest.mark.usefixtures("torch_one_thread")

KEY = "train_cpn.backbone_weights"


@pytest.fixture(scope="module")
def imagenet_resnet18() -> dict[str, torch.Tensor]:
    """A resnet18 state dict as torchvision saves it, seeded, with a recognisable first conv."""
    torch.manual_seed(7)
    state = resnet18().state_dict()
    state["conv1.weight"] = torch.linspace(-1, 1, state["conv1.weight"].numel()).view(64, 3, 7, 7)
    return state


def _cpn() -> CPN:
    torch.manual_seed(0)
    return CPN(CPNConfig(backbone="resnet18", input_size=64, channels=8))


def _write(path: Path, state: object) -> Path:
    torch.save(state, path)
    return path


@pytest.mark.parametrize("wrapper", ["", "state_dict", "model"])
def test_an_imagenet_resnet_lands_on_the_cpn_backbone_and_nothing_else(
    imagenet_resnet18: dict[str, torch.Tensor], tmp_path: Path, wrapper: str
) -> None:
    payload = {wrapper: imagenet_resnet18, "epoch": 90} if wrapper else imagenet_resnet18
    weights = locate(str(_write(tmp_path / "r18.pth", payload)), KEY)
    assert weights is not None
    model = _cpn()
    head_before = {k: v.clone() for k, v in model.state_dict().items() if not is_backbone(k)}
    loaded = load_backbone(model, weights, backbone_key, is_backbone)
    state = model.state_dict()
    # every tensor but fc.weight and fc.bias, buffers (running stats, counters) included
    assert loaded == len(imagenet_resnet18) - 2 == sum(map(is_backbone, state))
    for name, tensor in imagenet_resnet18.items():
        if not name.startswith("fc."):
            assert torch.equal(state[f"backbone.{name}"], tensor), name
    for name, tensor in head_before.items():  # GlobalNet, RefineNet: untouched
        assert torch.equal(state[name], tensor), name


def test_another_architecture_is_refused_naming_the_file_and_the_key(
    imagenet_resnet18: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    model = _cpn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(0)
    cases = [
        (resnet50().state_dict(), r"r\.pth: 'layer1\.0\.conv1\.weight' has shape \(64, 64, 1, 1\), "
         r"the backbone's 'backbone\.layer1\.0\.conv1\.weight' \(64, 64, 3, 3\)"),
        (mobilenet_v3_large().state_dict(), r"r\.pth: 'features\.0\.0\.weight' fits none"),
        ({k: v for k, v in imagenet_resnet18.items() if k != "layer2.0.bn1.bias"},
         r"r\.pth: no weight for the backbone's 'backbone\.layer2\.0\.bn1\.bias' \(1 of 120"),
        ({"fc.weight": imagenet_resnet18["fc.weight"]}, r"r\.pth: no weight .* \(120 of 120"),
    ]  # fmt: skip
    for state, message in cases:
        weights = locate(str(_write(tmp_path / "r.pth", state)), KEY)
        assert weights is not None
        with pytest.raises(ValueError, match=message):
            load_backbone(model, weights, backbone_key, is_backbone)
    for name, tensor in model.state_dict().items():  # a refused file changes nothing
        assert torch.equal(tensor, before[name]), name


def test_a_file_that_is_no_state_dict_or_no_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=rf"^{KEY}: {tmp_path}/gone\.pth: not found$"):
        locate(str(tmp_path / "gone.pth"), KEY)
    assert locate("", KEY) is None  # random init
    model = _cpn()
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    whole = _write(tmp_path / "module.pth", torch.nn.Linear(2, 2))  # a pickled module, not weights
    numbers = _write(tmp_path / "numbers.pth", {"conv1.weight": [1.0, 2.0]})
    for path, message in [
        (tmp_path / "junk.pth", "junk.pth: not a state dict that torch.load"),
        (whole, "module.pth: not a state dict that torch.load"),
        (numbers, r"numbers.pth: 'conv1.weight' is a list, not a tensor"),
    ]:
        weights = locate(str(path), KEY)
        assert weights is not None
        with pytest.raises(ValueError, match=message):
            load_backbone(model, weights, backbone_key, is_backbone)


def test_the_fingerprint_sees_the_content_and_the_checkpoint_the_path(
    imagenet_resnet18: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    config = {"backbone": "resnet18", "backbone_weights": ""}
    assert by_content(config, None) == {"backbone": "resnet18", "backbone_weights_sha256": ""}
    first = locate(str(_write(tmp_path / "a.pth", imagenet_resnet18)), KEY)
    (tmp_path / "a.pth").rename(tmp_path / "b.pth")
    moved = locate(str(tmp_path / "b.pth"), KEY)
    changed = dict(imagenet_resnet18, **{"bn1.bias": imagenet_resnet18["bn1.bias"] + 1})
    edited = locate(str(_write(tmp_path / "b.pth", changed)), KEY)
    assert first is not None and moved is not None and edited is not None
    runs = [by_content({**config, "backbone_weights": str(w.path)}, w) for w in (first, moved)]
    assert runs[0] == runs[1] and len(first.sha256) == 64
    assert by_content(config, edited) != runs[0]
    assert provenance(first) == {"path": str(tmp_path / "a.pth"), "sha256": first.sha256}
    assert provenance(None) == {"path": "", "sha256": ""}
