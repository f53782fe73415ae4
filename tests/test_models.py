import json

import pytest
import torch

from laq.io import LaqError
from laq.models.checkpoint import load_checkpoint, save_checkpoint
from laq.models.resnet import CifarResNet
from laq.models.arch import build_arch
from laq.models.sources import load_base, num_outputs


def _meta(arch, n=10, size=32):
    return {"arch": arch, "num_classes": n, "input_size": size, "mean": [0.5] * 3, "std": [0.25] * 3, "classes": [str(i) for i in range(n)]}


def test_cifar_resnet_shapes_and_depth_rule():
    m = CifarResNet(8, 4, 7).eval()
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 7)
    with pytest.raises(ValueError):
        CifarResNet(10, 4, 7)


def test_checkpoint_roundtrip_gives_identical_logits(tmp_path):
    torch.manual_seed(0)
    m = build_arch("cifar_resnet:8:4", 10).eval()
    x = torch.randn(3, 3, 32, 32)
    save_checkpoint(tmp_path / "m.safetensors", m, _meta("cifar_resnet:8:4"))
    m2, meta = load_checkpoint(tmp_path / "m.safetensors")
    assert meta["num_classes"] == 10
    assert torch.equal(m(x), m2(x))


def test_truncated_checkpoint_names_the_file(tmp_path):
    m = build_arch("cifar_resnet:8:4", 10)
    p = tmp_path / "m.safetensors"
    save_checkpoint(p, m, _meta("cifar_resnet:8:4"))
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(LaqError, match="m.safetensors"):
        load_checkpoint(p)


def test_pickle_payload_is_never_executed(tmp_path):
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    p = tmp_path / "m.safetensors"
    p.write_bytes(pickle.dumps(Evil()))
    (tmp_path / "m.json").write_text(json.dumps(_meta("cifar_resnet:8:4")))  # a valid sidecar: the weights file is the payload
    with pytest.raises(LaqError):
        load_checkpoint(p)
    assert not marker.exists()


@pytest.mark.parametrize("source, arch", [
    ("train", "cifar_resnet:8:4"),
    ("torchvision:resnet18", "torchvision:resnet18"),
    ("timm:resnet18", "timm:resnet18"),
])
def test_sources_build_models_with_the_requested_classes(source, arch):
    b = load_base(source, 13, depth=8, width=4, pretrained=False)
    assert b.arch == arch and num_outputs(b.model) == 13
    assert b.input_size == (32 if source == "train" else 224)
    # The recorded arch rebuilds the same structure.
    assert set(build_arch(b.arch, 13).state_dict()) == set(b.model.state_dict())


def test_torchhub_local_repo(tmp_path):
    (tmp_path / "hubconf.py").write_text(
        "import torch\ndependencies = ['torch']\n"
        "def tiny(pretrained=False):\n    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3*8*8, 5))\n"
    )
    b = load_base(f"torchhub:{tmp_path}:tiny", 4, pretrained=False)
    assert num_outputs(b.model) == 4 and b.arch == f"torchhub:{tmp_path}:tiny"
    assert b.model(torch.zeros(1, 3, 8, 8)).shape == (1, 4)


def test_file_source_loads_a_laq_checkpoint(tmp_path):
    m = build_arch("cifar_resnet:8:4", 10).eval()
    save_checkpoint(tmp_path / "m.safetensors", m, _meta("cifar_resnet:8:4"))
    b = load_base(f"file:{tmp_path / 'm.safetensors'}", 10)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(b.model(x), m(x))
    with pytest.raises(LaqError, match="does not exist"):
        load_base(f"file:{tmp_path / 'nope.safetensors'}", 10)


def test_unknown_source_is_a_clear_error():
    with pytest.raises(LaqError, match="unknown model.source"):
        load_base("hub:foo", 10)


@pytest.mark.skip(reason="timm hf_hub:anonauthors/cifar100-timm-resnet50 needs the Hugging Face hub; no network here")
def test_timm_hf_hub_source():
    load_base("timm:hf_hub:anonauthors/cifar100-timm-resnet50", 100)


def test_checkpoint_bytes_do_not_depend_on_the_process(tmp_path):
    """safetensors orders its metadata by a per-process hash; saved checkpoints must not."""
    import subprocess
    import sys

    code = (
        "import sys, torch; from laq.models.resnet import CifarResNet; from laq.models.checkpoint import save_checkpoint;"
        "torch.manual_seed(0); save_checkpoint(sys.argv[1], CifarResNet(depth=8, width=4, num_classes=3),"
        " {'arch': 'cifar_resnet:8:4', 'num_classes': 3, 'input_size': 32, 'mean': [0.5] * 3, 'std': [0.25] * 3,"
        " 'classes': ['a', 'b', 'c']})"
    )
    paths = [tmp_path / f"m{i}.safetensors" for i in range(4)]
    for p in paths:
        subprocess.run([sys.executable, "-c", code, str(p)], check=True)
    assert len({p.read_bytes() for p in paths}) == 1
    model, _ = load_checkpoint(paths[0])  # still a valid file
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)
