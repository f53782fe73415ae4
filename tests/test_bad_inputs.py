"""The bad-input corpus, file cases: hostile or broken files generated here, each with its exact outcome
(a one-line LaqError, a logged skip, or a refusal before anything runs). Config cases are data files
under tests/bad_inputs/configs (tests/test_bad_configs.py)."""

from __future__ import annotations

import errno
import json
import logging
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from laq.io import LaqError, atomic_path, load_array, write_json
from laq.models.arch import build_arch, check_arch, cifar_resnet_layers, cifar_resnet_params
from laq.models.checkpoint import load_checkpoint, save_checkpoint
from laq.models.resnet import CifarResNet


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert msg and "\n" not in msg, msg
    return msg


def _meta(arch="cifar_resnet:8:4", n=5):
    return {"arch": arch, "num_classes": n, "input_size": 32, "mean": [0.5] * 3, "std": [0.25] * 3, "classes": [f"c{i}" for i in range(n)]}


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, CifarResNet(8, 4, 5), _meta())
    return path


# ------------------------------------------------------------------------------ sidecars are data


def _hostile_hub(tmp_path: Path) -> tuple[Path, Path]:
    """A local torch.hub repository whose hubconf.py writes a marker file when imported."""
    repo, marker = tmp_path / "evil_repo", tmp_path / "PWNED"
    repo.mkdir()
    (repo / "hubconf.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "import torch\ndependencies = ['torch']\n"
        "def evil(pretrained=False):\n    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 5))\n"
    )
    return repo, marker


def test_a_sidecar_naming_a_torchhub_repo_never_runs_it(tmp_path, checkpoint):
    from laq.models.sources import load_base
    from laq.stages import load_quantized_checkpoint

    repo, marker = _hostile_hub(tmp_path)
    arch = f"torchhub:{repo}:evil"
    checkpoint.with_suffix(".json").write_text(json.dumps(_meta(arch)))
    for load in (
        lambda: load_checkpoint(checkpoint),  # a checkpoint under results/
        lambda: load_checkpoint(checkpoint, trusted_hub="torchhub:pytorch/vision:resnet18"),  # another source configured
        lambda: load_base(f"file:{checkpoint}", 5),  # model.source: file:
        lambda: load_quantized_checkpoint(str(checkpoint)),
    ):
        with pytest.raises(LaqError) as e:
            load()
        assert "hubconf.py" in one_line(e) and "model.source" in str(e.value)
        assert not marker.exists()
    # control: the same repository is built when it is the configured model.source, so the payload is live
    build_arch(arch, 5, trusted_hub=arch)
    assert marker.exists()


@pytest.mark.parametrize(
    "sidecar, expect",
    [
        ("[1, 2, 3]", "not a JSON object"),
        ("{not json", "not valid JSON"),
        (json.dumps({"arch": "cifar_resnet:8:4"}), "missing num_classes"),
        (json.dumps({**_meta(), "num_classes": "5"}), "num_classes = '5'"),
        (json.dumps({**_meta(), "num_classes": True}), "num_classes = True"),
        (json.dumps({**_meta(), "input_size": 10**9}), "input_size"),
        (json.dumps({**_meta(), "mean": [0.5, 0.5]}), "mean"),
        (json.dumps({**_meta(), "std": [0.25, 0, 0.25]}), "std"),
        (json.dumps({**_meta(), "classes": ["a"]}), "classes must list 5"),
        (json.dumps(_meta("cifar_resnet:8:200000")), "width 200000"),
        (json.dumps(_meta("cifar_resnet:1202:1024")), "parameters"),
        (json.dumps(_meta("cifar_resnet:10:4")), "6n+2"),
        (json.dumps(_meta("cifar_resnet:8")), "malformed"),
        (json.dumps(_meta("pickle:os.system")), "not one laq builds"),
        (json.dumps(_meta("torchvision:not_a_model")), "torchvision has no model"),
        (json.dumps(_meta("timm:not_a_model")), "timm has no model"),
        (json.dumps(_meta("torchvision:../../etc")), "malformed"),
    ],
    ids=["list", "not-json", "missing-keys", "classes-str", "classes-bool", "input-size", "mean-len", "std-zero",
         "classes-len", "huge-width", "huge-params", "depth", "arch-short", "arch-kind", "tv-unknown", "timm-unknown", "tv-path"],
)
def test_malformed_sidecars_are_one_line_errors_before_any_model_is_built(checkpoint, monkeypatch, sidecar, expect):
    checkpoint.with_suffix(".json").write_text(sidecar)
    built = []
    real_init = CifarResNet.__init__
    monkeypatch.setattr(CifarResNet, "__init__", lambda self, *a, **k: (built.append(a), real_init(self, *a, **k))[1])
    with pytest.raises(LaqError) as e:
        load_checkpoint(checkpoint)
    assert expect in one_line(e) and "m.json" in str(e.value)
    assert not built


def test_cifar_resnet_layer_arithmetic_matches_the_real_model():
    for depth, width, n in ((8, 4, 10), (14, 3, 7), (20, 16, 100)):
        model = CifarResNet(depth, width, n)
        real = [(name, m.weight.numel()) for name, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        assert cifar_resnet_layers(depth, width, n) == real
        assert cifar_resnet_params(depth, width, n) == sum(p.numel() for p in model.parameters())
    assert check_arch("cifar_resnet:8:16", 100) == "cifar_resnet:8:16"


# ------------------------------------------------------------------------------ quantization


def test_quantization_stops_on_non_finite_steps_bad_bits_lists_and_unknown_skips():
    from laq.quant import QuantSpec, quantize_model

    torch.manual_seed(0)
    model, calib = CifarResNet(8, 4, 5).eval(), torch.randn(4, 3, 16, 16)
    cases = [
        (QuantSpec(bits=4, scalar=float("inf")), "scalar"),
        (QuantSpec(bits=[4, 4, 4]), "10 entries"),  # depth 8: 10 Conv2d/Linear layers
        (QuantSpec(bits=4, skip=["layer4.*"]), "'layer4.*' matches no"),
    ]
    for spec, expect in cases:
        with pytest.raises(LaqError) as e:
            quantize_model(model, calib, spec, progress=False)
        assert expect in one_line(e)
    with torch.no_grad():
        model.layers[0].conv1.weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(LaqError) as e:
        quantize_model(model, calib, QuantSpec(bits=4), progress=False)
    assert "has non-finite weights" in one_line(e)


def test_calibration_asks_for_no_more_images_than_exist():
    from laq.design import draw_calibration

    labels = np.repeat(np.arange(6), 10)
    kw = dict(seed=0, subset_id="random-k2-00", draw=0)
    assert len(draw_calibration(labels, "aware", [0, 1], 6, 20, **kw).indices) == 20
    with pytest.raises(LaqError) as e:
        draw_calibration(labels, "aware", [0, 1], 6, 21, **kw)
    assert "calibration_images to 20 or less" in one_line(e)


# ------------------------------------------------------------------------------ intermediates


class _Payload:
    """Unpickling this writes MARKER: the payload of a hostile .npy/.npz."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_npy_and_npz_are_refused_without_running_them(tmp_path):
    _Payload.marker = str(tmp_path / "PWNED")
    arr = np.array([_Payload()], dtype=object)
    np.save(tmp_path / "m.npy", arr, allow_pickle=True)
    np.savez(tmp_path / "e.npz", features=arr, labels=np.zeros(1))
    (tmp_path / "short.npy").write_bytes((tmp_path / "m.npy").read_bytes()[:20])
    cases = [("m.npy", ()), ("e.npz", ("features", "labels")), ("short.npy", ()), ("missing.npz", ("features",)),
             ("e.npz", ("points",)), ("m.npy", ("features",))]
    for name, keys in cases:
        with pytest.raises(LaqError) as e:
            load_array(tmp_path / name, keys)
        assert name in one_line(e) and "--forcerun" in str(e.value)
    assert not Path(_Payload.marker).exists()
    np.savez(tmp_path / "ok.npz", features=np.ones((2, 3)), labels=np.arange(2))
    assert load_array(tmp_path / "ok.npz", ("features", "labels"))["features"].shape == (2, 3)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("No space left on device (os error 28)")])
def test_a_full_disk_is_one_line_naming_the_folder_and_leaves_no_partial_file(tmp_path, error):
    target = tmp_path / "out" / "result.json"
    with pytest.raises(LaqError) as e:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise error
    msg = one_line(e)
    assert str(target.parent) in msg and "free space" in msg
    assert list(target.parent.iterdir()) == []
    with pytest.raises(ValueError):  # other errors pass through unchanged
        with atomic_path(target):
            raise ValueError("not a disk problem")


def test_a_full_disk_during_write_json(tmp_path, monkeypatch):
    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(LaqError, match="free space"):
        write_json(tmp_path / "x.json", {"a": 1})


# ------------------------------------------------------------------------------ imagefolder


def _png(path: Path, colour=(200, 10, 10)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 6), colour).save(path)


def _folder(root: Path, classes=("a", "b"), per_class=2) -> Path:
    for part in ("train", "test"):
        for i, c in enumerate(classes):
            for j in range(per_class):
                _png(root / part / c / f"{j}.png", (40 * i, 10 * j, 100))
    return root


def _bomb_png(path: Path, side: int = 50_000) -> None:
    """A few dozen bytes that claim a side x side image: PIL refuses it at open, before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))


def test_hidden_files_are_skipped_with_a_logged_warning(tmp_path, caplog):
    from laq.data.datasets import prepare_dataset

    root = _folder(tmp_path / "imgs")
    (root / "train" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "train" / "a" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "test" / ".git").mkdir()
    with caplog.at_level(logging.WARNING):
        train, test, names = prepare_dataset({"name": "imagefolder", "root": str(root), "image_size": 8}, seed=0)
    assert names == ["a", "b"] and len(train) == 4 and len(test) == 4
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum(".DS_Store" in w for w in warned) == 2 and any(".git" in w for w in warned)


@pytest.mark.parametrize(
    "case, expect",
    [
        ("test-class-missing", "lacks b"),
        ("test-class-extra", "classes not in train/: c"),
        ("test-class-empty", "has no images"),
        ("train-class-empty", "has no images"),
        ("nested-folder", "is a folder inside class folder"),
        ("symlink-class", "symbolic link to a folder"),
        ("stray-file", "is not a class folder"),
        ("one-class", "at least 2 classes"),
        ("no-test", "no test/ or val/"),
        ("bomb", "too large to decode safely"),
        ("not-an-image", "cannot read image"),
    ],
)
def test_broken_imagefolders_are_one_line_errors_before_training(tmp_path, case, expect):
    import shutil

    from laq.data.datasets import prepare_dataset

    root = _folder(tmp_path / "imgs")
    if case == "test-class-missing":
        shutil.rmtree(root / "test" / "b")
    elif case == "test-class-extra":
        _png(root / "test" / "c" / "0.png")
    elif case == "test-class-empty":
        shutil.rmtree(root / "test" / "b")
        (root / "test" / "b").mkdir()
    elif case == "train-class-empty":
        (root / "train" / "c").mkdir()
        _png(root / "test" / "c" / "0.png")
    elif case == "nested-folder":
        _png(root / "train" / "a" / "more" / "0.png")
    elif case == "symlink-class":
        os.symlink(".", root / "train" / "self")
    elif case == "stray-file":
        _png(root / "train" / "loose.png")
    elif case == "one-class":
        shutil.rmtree(root / "train" / "b")
        shutil.rmtree(root / "test" / "b")
    elif case == "no-test":
        shutil.rmtree(root / "test")
    elif case == "bomb":
        _bomb_png(root / "train" / "a" / "bomb.png")
    elif case == "not-an-image":
        (root / "test" / "a" / "notes.txt").write_text("hello")
    with pytest.raises(LaqError) as e:
        prepare_dataset({"name": "imagefolder", "root": str(root), "image_size": 8}, seed=0)
    assert expect in one_line(e)


def test_imagefolder_fingerprint_follows_images_not_hidden_files(tmp_path):
    from laq.data.imagefolder import fingerprint, scan_imagefolder

    root = _folder(tmp_path / "imgs")
    fp = lambda: fingerprint(scan_imagefolder(root))  # noqa: E731
    first = fp()
    assert fp() == first
    (root / "train" / "a" / ".DS_Store").write_bytes(b"x")
    assert fp() == first  # hidden files are not read, so they do not re-run anything
    _png(root / "train" / "a" / "0.png", (1, 2, 3))  # same name, new content
    edited = fp()
    assert edited != first
    _png(root / "test" / "b" / "9.png")
    added = fp()
    assert added != edited
    (root / "test" / "b" / "9.png").unlink()
    assert fp() == edited


# ------------------------------------------------------------------------------ subsets


def test_subsets_that_would_repeat_are_refused(tmp_path):
    from laq.subsets import make_subset, read_subsets_file

    (tmp_path / "s.tsv").write_text("0\t1\t2\n3,4,5\n2\t0\t01\n")
    with pytest.raises(LaqError) as e:
        read_subsets_file(tmp_path / "s.tsv", None, size=3)
    assert "line 3 repeats the subset of line 1" in one_line(e)
    names = [str(i) for i in range(10)]
    kl = np.ones((10, 10))
    kl[:9, :9] = 0.1  # classes 0..8 close together, 9 far: every start in 0..8 grows into {0..8}, start 9 into {9, 0..7}
    np.fill_diagonal(kl, 0)
    make_subset(kl, names, "similar-k9-00", seed=0)
    with pytest.raises(LaqError) as e:
        make_subset(kl, names, "similar-k9-02", seed=0)
    assert "only 2 similar subsets of 9 classes" in one_line(e) and "lower subsets.count.similar" in one_line(e)
    for i in range(10):  # C(10, 9) = 10 distinct random subsets, then none
        make_subset(kl, names, f"random-k9-{i:02d}", seed=0)
    with pytest.raises(LaqError) as e:
        make_subset(kl, names, "random-k9-10", seed=0)
    assert "lower subsets.count.random" in one_line(e)


def test_config_validation_stays_torch_free():
    """It runs on every snakemake call, including every dry run of the config corpus."""
    import subprocess
    import sys

    from conftest import REPO

    code = (
        "import sys, yaml; from laq.config import data_fingerprint, validate_config;"
        f"cfg = yaml.safe_load(open({str(REPO / 'config.yaml')!r})); validate_config(cfg); data_fingerprint(cfg['dataset']);"
        "assert 'torch' not in sys.modules, 'config validation imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
