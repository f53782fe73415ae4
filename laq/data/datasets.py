"""Turn a configured dataset into prepared splits (see `laq.data.store`)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from laq import seeding
from laq.data.imagefolder import scan_imagefolder
from laq.data.store import Split
from laq.download import download_command
from laq.io import LaqError

log = logging.getLogger(__name__)
DATASETS = ("glyphs100", "cifar100", "cifar10", "imagefolder")


def per_class_cap(split: Split, cap: int | None, seed: int, part: str) -> Split:
    """Keep at most `cap` images per class, chosen deterministically (None keeps everything)."""
    if cap is None:
        return split
    rng = seeding.rng(seed, "dataset", "cap", part)
    keep = []
    for c in np.unique(split.labels):
        idx = np.flatnonzero(split.labels == c)
        keep.append(np.sort(rng.permutation(idx)[:cap]) if len(idx) > cap else idx)
    idx = np.sort(np.concatenate(keep))
    return Split(split.images[idx], split.labels[idx])


def first_classes(split: Split, n: int) -> Split:
    return split.subset(np.arange(n))


def _cifar(name: str, root: Path) -> tuple[Split, Split, list[str]]:
    """The extracted dataset under `root`, never downloaded here (the download target fetches it)."""
    from torchvision import datasets

    from laq.download import cifar_need, missing_error

    cls = datasets.CIFAR100 if name == "cifar100" else datasets.CIFAR10
    need = cifar_need(name, root)
    if not need.present():
        raise missing_error(need)
    try:
        tr = cls(str(root), train=True, download=False)
        te = cls(str(root), train=False, download=False)
    except RuntimeError:  # present but damaged (torchvision checks the md5 of every file)
        raise LaqError(f"{name} in {root / cls.base_folder} is damaged; delete that folder and fetch it again: {download_command()}") from None

    def split(ds: Any) -> Split:
        return Split(np.asarray(ds.data, dtype=np.uint8), np.asarray(ds.targets, dtype=np.int64))

    return split(tr), split(te), list(tr.classes)


def _imagefolder(root: Path, image_size: int) -> tuple[Split, Split, list[str]]:
    layout = scan_imagefolder(root)
    for path in layout.skipped:
        log.warning("skipping hidden %s (not an image of any class)", path)
    out = []
    for part in ("train", "test"):
        imgs, labels = [], []
        for c, f in tqdm(layout.files[part], desc=f"load {part}", mininterval=2):
            imgs.append(_read_image(f, image_size))
            labels.append(c)
        out.append(Split(np.stack(imgs).astype(np.uint8), np.asarray(labels, dtype=np.int64)))
    return out[0], out[1], layout.classes


def _read_image(path: Path, image_size: int) -> np.ndarray:
    """One image as uint8 RGB, resized; an unreadable file or a decompression bomb (an image far larger
    than its file, which would exhaust memory) is a LaqError naming it."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB").resize((image_size, image_size), Image.BILINEAR))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise LaqError(f"image {path} is too large to decode safely ({e}); remove it or shrink it.") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise LaqError(f"cannot read image {path} ({type(e).__name__}: {e}); remove it or fix the file.") from None


def prepare_dataset(cfg: dict[str, Any], seed: int) -> tuple[Split, Split, list[str]]:
    """Build (train, test, class names) from the `dataset:` section of the config."""
    name = cfg["name"]
    if name == "glyphs100":
        from laq.data.glyphs import generate_glyphs

        return generate_glyphs(
            num_classes=cfg.get("num_classes") or 100,
            train_per_class=cfg.get("train_per_class") or 500,
            test_per_class=cfg.get("test_per_class") or 100,
            seed=seed,
            image_size=cfg.get("image_size", 32),
        )
    if name in ("cifar100", "cifar10"):
        train, test, names = _cifar(name, Path(cfg.get("root") or "data"))
    elif name == "imagefolder":
        if not cfg.get("root"):
            raise LaqError("dataset.root must name the image folder when dataset.name is imagefolder.")
        train, test, names = _imagefolder(Path(cfg["root"]), cfg.get("image_size", 32))
    else:
        raise LaqError(f"unknown dataset.name {name!r}; use one of {', '.join(DATASETS)}.")
    if cfg.get("num_classes"):
        train, test, names = first_classes(train, cfg["num_classes"]), first_classes(test, cfg["num_classes"]), names[: cfg["num_classes"]]
    return (
        per_class_cap(train, cfg.get("train_per_class"), seed, "train"),
        per_class_cap(test, cfg.get("test_per_class"), seed, "test"),
        names,
    )
