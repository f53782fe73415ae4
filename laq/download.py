"""Fetch first, compute offline: what a config needs from the network, where it lands, and how to get it.

`snakemake --cores 1 download --configfile <preset>` (a local rule: the login node, which has internet)
calls `fetch` for everything `needs(config)` lists; compute jobs call `require` before loading, and a missing
file is one line naming it and that command, never a download inside a job (cluster nodes are often offline).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from laq.io import LaqError

HINT_ENV = "LAQ_DOWNLOAD_COMMAND"  # set by the workflow (rules/common.smk): the download command of this run


@dataclass(frozen=True)
class Need:
    """One thing from the network: `locate()` gives alternatives, each a tuple of files that must all exist
    (looked up on every call: a hub cache's file is only found once it is there)."""

    what: str
    locate: Callable[[], tuple[tuple[Path, ...], ...]]
    fetch: Callable[[], Any]

    @property
    def alternatives(self) -> tuple[tuple[Path, ...], ...]:
        return self.locate()

    def present(self) -> bool:
        return any(all(p.exists() for p in paths) for paths in self.alternatives)

    @property
    def path(self) -> Path:
        """The file named in messages: the first missing one of the first alternative."""
        first = self.alternatives[0]
        return next((p for p in first if not p.exists()), first[0])


def jobs_offline(configfiles: list) -> None:
    """Called by the workflow when it loads (in every job too): the jobs it starts inherit the download command
    of this run for their messages, and HF_HUB_OFFLINE (the download rule's script lifts it)."""
    os.environ[HINT_ENV] = "snakemake --cores 1 download" + "".join(f" --configfile {f}" for f in configfiles)
    os.environ["HF_HUB_OFFLINE"] = "1"


def download_command() -> str:
    return os.environ.get(HINT_ENV) or "snakemake --cores 1 download --configfile <your config file>"


def missing_error(need: Need) -> LaqError:
    return LaqError(
        f"{need.what} is not on this machine ({need.path} is missing) and compute jobs do not download; "
        f"fetch it first where there is internet: {download_command()}"
    )


def require(need: Need) -> None:
    if not need.present():
        raise missing_error(need)


# ---- what each source needs --------------------------------------------------------------------------------


def cifar_need(name: str, root: Path) -> Need:
    from torchvision import datasets

    cls = datasets.CIFAR100 if name == "cifar100" else datasets.CIFAR10
    folder = Path(root) / cls.base_folder
    files = tuple(folder / f for f, _ in cls.train_list + cls.test_list)

    def fetch() -> None:
        for train in (True, False):
            cls(str(root), train=train, download=True)

    return Need(f"{name} ({cls.url})", lambda: (files,), fetch)


def torch_checkpoint(url: str) -> Path:
    """Where torch.hub.load_state_dict_from_url keeps `url`."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def torchvision_need(name: str, weights: str) -> Need:
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(name)
    except ValueError as e:
        raise LaqError(f"torchvision has no model {name!r} ({e}); see torchvision.models.list_models().") from None
    try:
        w = enum.DEFAULT if weights == "DEFAULT" else enum[weights]
    except KeyError:
        raise LaqError(f"torchvision {name} has no weights {weights!r}; use one of {', '.join(m.name for m in enum)} or DEFAULT.") from None
    return Need(f"torchvision weights {name}.{w.name}", lambda: ((torch_checkpoint(w.url),),), lambda: w.get_state_dict(progress=True))


def _hf_cached(repo: str, filename: str) -> Path:
    """The Hugging Face hub cache's file for (repo, filename), or where it would be (a path that does not exist)."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.constants import HF_HUB_CACHE

    found = try_to_load_from_cache(repo, filename)
    if isinstance(found, str):
        return Path(found)
    return Path(HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "snapshots" / "<revision>" / filename


def timm_need(name: str) -> Need:
    import timm

    def fetch() -> None:
        timm.create_model(name, pretrained=True)

    if name.startswith("hf_hub:"):
        repo = name[len("hf_hub:") :].split("@")[0]
        return Need(
            f"timm weights {name}",
            lambda: tuple((_hf_cached(repo, "config.json"), _hf_cached(repo, f)) for f in ("model.safetensors", "pytorch_model.bin")),
            fetch,
        )
    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except RuntimeError:
        cfg = None
    if cfg is None:
        if not timm.is_model(name):
            raise LaqError(f"timm has no model {name!r}; see timm.list_models().")
        raise LaqError(f"timm model {name!r} has no pretrained weights; set model.pretrained: false.")
    if cfg.hf_hub_id:
        hub_id = cfg.hf_hub_id
        return Need(f"timm weights {name}", lambda: tuple((_hf_cached(hub_id, f),) for f in ("model.safetensors", "pytorch_model.bin")), fetch)
    return Need(f"timm weights {name}", lambda: ((torch_checkpoint(cfg.url),),), fetch)


def torchhub_need(repo: str, entry: str, pretrained: bool) -> Need:
    """The repository's code; its entry point's own weights are cached by running it once when fetching."""
    import torch

    from laq.models.arch import hub_model, hub_repo_dir

    def locate() -> tuple[tuple[Path, ...], ...]:
        return ((hub_repo_dir(repo) or Path(torch.hub.get_dir()) / repo.replace("/", "_").replace(":", "_"),),)

    return Need(f"torch.hub repository {repo}", locate, lambda: hub_model(repo, entry, pretrained))


def source_need(source: str, *, pretrained: bool, weights: str = "DEFAULT") -> Need | None:
    """What a model source (model.source or similarity.embedder) needs from the network; None: nothing."""
    kind, _, rest = source.partition(":")
    if kind == "torchvision" and pretrained:
        return torchvision_need(rest, weights)
    if kind == "timm" and pretrained:
        return timm_need(rest)
    if kind == "torchhub":
        repo, _, entry = rest.rpartition(":")
        if os.path.isdir(repo):
            return None
        return torchhub_need(repo, entry, pretrained)
    return None


def needs(config: dict[str, Any]) -> list[Need]:
    """Everything the run of `config` reads from the network: the dataset, the base model's and the embedder's weights."""
    out: list[Need] = []
    ds = config["dataset"]
    if ds["name"] in ("cifar100", "cifar10"):
        out.append(cifar_need(ds["name"], Path(ds.get("root") or "data")))
    m = config["model"]
    need = source_need(m["source"], pretrained=bool(m.get("pretrained", True)))
    if need:
        out.append(need)
    sim = config["similarity"]
    if sim.get("embedder", "base") != "base" and not sim.get("matrix_file"):
        need = source_need(sim["embedder"], pretrained=True, weights=sim.get("embedder_weights", "DEFAULT"))
        if need:
            out.append(need)
    return out


def fetch(config: dict[str, Any], log: Callable[[str], Any] = print) -> list[Need]:
    """Fetch whatever of `needs(config)` is missing (a cifar dataset only with dataset.download: true); returns what was fetched."""
    fetched = []
    for need in needs(config):
        if need.present():
            log(f"present: {need.what} ({need.path})")
            continue
        if need.what.startswith(("cifar100 ", "cifar10 ")) and not config["dataset"].get("download", True):
            raise LaqError(f"{need.what} is missing at {need.path} and dataset.download is false; put it there or set dataset.download: true.")
        log(f"fetching {need.what} ...")
        try:
            need.fetch()
        except LaqError:
            raise
        except Exception as e:  # network errors come in many types (URLError, HTTPError, OSError, HF errors)
            raise LaqError(f"could not fetch {need.what} ({type(e).__name__}: {e}); check the internet connection and re-run.") from None
        if not need.present():
            raise LaqError(f"fetching {need.what} did not leave {need.path}; the cache location may have changed (TORCH_HOME, HF_HOME).")
        fetched.append(need)
        log(f"fetched: {need.what} ({need.path})")
    return fetched
