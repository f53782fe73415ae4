"""Fetch first, compute offline (laq/download.py): what a config needs, the download target, and compute jobs
that name the missing file and the command instead of downloading. No network: the fetchers are replaced by
fakes that write the files where the real ones would, and any socket use fails the test."""

import socket
from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_snakemake
from laq import download
from laq.io import LaqError


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Empty torch hub and Hugging Face caches under tmp_path."""
    import huggingface_hub.constants
    import torch

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv(download.HINT_ENV, "snakemake --cores 1 download --configfile presets/x.yaml")
    return tmp_path


def seed_config(root):
    cfg = yaml.safe_load((REPO / "presets" / "cifar100-resnet50.yaml").read_text())
    cfg["dataset"]["root"] = str(root)
    return cfg


def fake_fetchers(monkeypatch, calls):
    """Replace the three real downloaders by fakes that leave files where the real ones do."""
    import timm
    import torchvision
    import torchvision.models._api as tv_api
    from torchvision import datasets

    class FakeCifar(datasets.CIFAR100):
        def __init__(self, root, train=True, download=False):
            calls.append(("cifar", train, download))
            folder = Path(root) / self.base_folder
            folder.mkdir(parents=True, exist_ok=True)
            for f, _ in self.train_list + self.test_list:
                (folder / f).write_bytes(b"x")

    def fake_state_dict(url, *a, **k):
        calls.append(("torchvision", url))
        path = download.torch_checkpoint(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"w")
        return {}

    def fake_timm(name, pretrained=False, **k):
        calls.append(("timm", name, pretrained))
        from huggingface_hub.constants import HF_HUB_CACHE

        repo = Path(HF_HUB_CACHE) / f"models--{name[len('hf_hub:'):].replace('/', '--')}"
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text("abc123")
        (repo / "snapshots" / "abc123").mkdir(parents=True)
        for f in ("config.json", "model.safetensors"):
            (repo / "snapshots" / "abc123" / f).write_text("{}")

    monkeypatch.setattr(datasets, "CIFAR100", FakeCifar)
    monkeypatch.setattr(tv_api, "load_state_dict_from_url", fake_state_dict)
    monkeypatch.setattr(timm, "create_model", fake_timm)
    assert torchvision  # imported for its models' weights enums


def test_the_seed_preset_needs_cifar_its_timm_model_and_the_v1_embedder(caches):
    needs = download.needs(seed_config(caches / "data"))
    assert [n.what.split(" (")[0] for n in needs] == [
        "cifar100", "timm weights hf_hub:anonauthors/cifar100-timm-resnet50", "torchvision weights resnet50.IMAGENET1K_V1",
    ]
    assert needs[0].path.parent == caches / "data" / "cifar-100-python"
    assert needs[2].path == caches / "torch" / "checkpoints" / "resnet50-0676ba61.pth"  # V1, not DEFAULT's V2
    assert str(needs[1].path).startswith(str(caches / "hf" / "models--anonauthors--cifar100-timm-resnet50"))
    assert not any(n.present() for n in needs)


def test_offline_configs_need_nothing(caches):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    assert download.needs(cfg) == []
    rehearsal = {**cfg, **yaml.safe_load((REPO / "presets" / "rehearsal.yaml").read_text())}
    assert download.needs(rehearsal) == []  # glyphs100, torchvision resnet50 without weights, base embedder


def test_fetch_gets_what_is_missing_once_and_then_nothing(caches, monkeypatch, no_network):
    calls = []
    fake_fetchers(monkeypatch, calls)
    cfg = seed_config(caches / "data")
    fetched = download.fetch(cfg, log=lambda msg: None)
    assert len(fetched) == 3 and all(n.present() for n in download.needs(cfg))
    assert ("cifar", True, True) in calls and ("cifar", False, True) in calls
    assert ("timm", "hf_hub:anonauthors/cifar100-timm-resnet50", True) in calls
    assert [c for c in calls if c[0] == "torchvision"] == [("torchvision", "https://download.pytorch.org/models/resnet50-0676ba61.pth")]
    calls.clear()
    assert download.fetch(cfg, log=lambda msg: None) == [] and calls == []


def test_a_fetch_that_fails_is_one_line(caches, monkeypatch):
    import torchvision.models._api as tv_api

    def offline(url, *a, **k):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", offline)
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["similarity"]["embedder"] = "torchvision:resnet18"
    with pytest.raises(LaqError, match=r"could not fetch torchvision weights resnet18\.IMAGENET1K_V1 \(OSError: Network is unreachable\)"):
        download.fetch(cfg, log=lambda msg: None)


def test_compute_jobs_name_the_missing_file_and_the_command_without_downloading(caches, no_network):
    from laq.data.datasets import prepare_dataset
    from laq.models.sources import load_base
    from laq.stages import embedder_model

    hint = "fetch it first where there is internet: snakemake --cores 1 download --configfile presets/x.yaml"
    with pytest.raises(LaqError) as e:
        prepare_dataset({"name": "cifar100", "root": str(caches / "data"), "download": True}, seed=0)
    assert str(e.value).endswith(hint) and f"{caches}/data/cifar-100-python/" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(LaqError, match=f"torchvision weights resnet50.IMAGENET1K_V1 .*{caches}/torch/checkpoints/resnet50-0676ba61.pth is missing"):
        embedder_model("torchvision:resnet50", None, weights="IMAGENET1K_V1")
    with pytest.raises(LaqError, match="timm weights hf_hub:anonauthors/cifar100-timm-resnet50 .* is missing.*download --configfile presets/x.yaml"):
        load_base("timm:hf_hub:anonauthors/cifar100-timm-resnet50", 100)
    assert load_base("torchvision:resnet18", 10, pretrained=False).arch == "torchvision:resnet18"  # nothing to fetch


def test_after_the_fetch_compute_jobs_read_the_cache(caches, monkeypatch, no_network):
    import torch
    import torchvision

    calls = []
    fake_fetchers(monkeypatch, calls)
    cfg = seed_config(caches / "data")
    cfg["similarity"]["embedder"] = "torchvision:resnet18"
    download.fetch(cfg, log=lambda msg: None)
    # a real (random) state dict where the fake left a placeholder: the job must load it from the cache
    w = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    torch.save(torchvision.models.resnet18().state_dict(), download.torch_checkpoint(w.url))
    monkeypatch.undo()  # the real loaders again; the sockets are refused below
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("network"))
    from laq.models.sources import load_base

    monkeypatch.setattr(torch.hub, "_hub_dir", str(caches / "torch"))
    assert load_base("torchvision:resnet18", 1000, weights="IMAGENET1K_V1").arch == "torchvision:resnet18"


def test_the_download_target_is_a_local_rule_that_always_runs(tmp_path):
    # through the SLURM profile: a local rule runs on the submit host (the login node, which has internet)
    out = run_snakemake(tmp_path, "--profile", "slurm", "-n", "download", "--configfile", str(REPO / "presets" / "cifar100-resnet50.yaml")).stdout
    assert "rule download:" in out and "Rules with neither input nor output files are always executed" in out
    assert "localrules:\n    download," in (REPO / "rules" / "download.smk").read_text()
    # nothing else is planned: the download is a separate first step, not part of the DAG
    assert "prepare_data" not in out


def test_the_download_target_on_an_offline_config_fetches_nothing(tmp_path):
    run_snakemake(tmp_path, "--cores", "1", "download", "--configfile", str(REPO / "presets" / "smoke.yaml"))
    log = (tmp_path / "results" / "glyphs100" / "logs" / "download" / "download.log").read_text()
    assert "0 fetched" in log


def test_a_torchhub_repository_in_the_cache_is_loaded_without_asking_github(caches, no_network):
    from laq.models.sources import load_base

    with pytest.raises(LaqError, match="torch.hub repository someone/models .* is missing"):
        load_base("torchhub:someone/models:tiny", 4, pretrained=False)
    repo = caches / "torch" / "someone_models_main"  # where the download target's torch.hub.load leaves it
    repo.mkdir(parents=True)
    (repo / "hubconf.py").write_text(
        "import torch\ndependencies = ['torch']\n"
        "def tiny(pretrained=False):\n    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3*8*8, 5))\n"
    )
    b = load_base("torchhub:someone/models:tiny", 4, pretrained=False)
    assert b.arch == "torchhub:someone/models:tiny" and b.model[-1].out_features == 4
