"""What each rule depends on: config sections with the options the current setting ignores left out.

Snakemake re-runs a job when one of its params changes, so a param that the job does not read (the
embedder's weights while the embedder is the base model, UMAP's options under `knn`, a `root` for the
generated dataset) would re-run it, and everything after it, for nothing. Files a job reads are its
inputs; their paths stay out of params (a byte-identical copy elsewhere re-runs only their readers) and
the study hash of the tables records their content instead. Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

from typing import Any, Mapping

from laq.io import config_hash, sha256_file


def dataset(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The dataset section as `laq.data.datasets.prepare_dataset` reads it for this dataset."""
    d = dict(cfg["dataset"])
    ignored = {"glyphs100": ("root", "download"), "imagefolder": ("download",), "cifar10": ("image_size",),
               "cifar100": ("image_size",)}.get(d["name"], ())
    return {k: v for k, v in d.items() if k not in ignored}


def model(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The model section: depth/width only for `source: train`, pretrained only for hub sources, the
    training options only when there is training."""
    m = dict(cfg["model"])
    source = m["source"]
    if source == "train" or source.startswith("file:"):
        m.pop("pretrained", None)
    if source != "train":
        m.pop("depth", None)
        m.pop("width", None)
    if not m.get("train", {}).get("epochs", 0):
        m["train"] = {"epochs": 0}
    return m


def calibration(cfg: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """The quantize job's calibration settings; a method that reads no data (RTN) reads neither."""
    from laq.quant.registry import get

    q = cfg["quantization"]
    if not get(spec.get("method", "gpfq")).needs_calibration:
        return {"calibration_images": 0, "calibration_mode": "fixed"}
    return {"calibration_images": q["calibration_images"], "calibration_mode": q.get("calibration_mode", "fixed")}


def embedder(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The embedder and, for an ImageNet embedder only, its weights and preprocessing."""
    s = cfg["similarity"]
    if s["embedder"] == "base":
        return {"embedder": "base"}
    return {"embedder": s["embedder"], "weights": s.get("embedder_weights", "DEFAULT"),
            "preprocess": s.get("embedder_preprocess", "resize")}


_METHOD_KEYS = {"umap_gaussian": ("umap", "distance"), "pca_gaussian": ("pca_dim", "distance"), "knn": ("pca_dim", "knn_k")}


def similarity(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What the distance job reads: nothing from this section with a matrix file (the file is its input),
    else the method, max_per_class and that method's own options."""
    s = cfg["similarity"]
    if s.get("matrix_file"):
        return {}
    return {k: s[k] for k in ("method", "max_per_class", *_METHOD_KEYS.get(s["method"], ())) if k in s}


def study(cfg: Mapping[str, Any], spec: Mapping[str, Any], seed: int | None = None) -> dict[str, Any]:
    """The config a table of `spec` at study seed `seed` (default: the config's `seed`) depends on, as the
    table's `config_hash` records it: every step's effective options (other specs, the other study seeds,
    plots, resources, threads and the seed-log comparison left out), with the files the config names
    (subsets, distance matrix) by content. `seed` stays in as the generated dataset's seed."""
    s = cfg["similarity"]
    sim = {**embedder(cfg), **similarity(cfg)}
    if s.get("matrix_file"):
        sim = {"matrix_sha256": sha256_file(s["matrix_file"])}
    subsets = {k: v for k, v in cfg["subsets"].items() if k != "file"}
    if cfg["subsets"].get("file"):
        subsets["file_sha256"] = sha256_file(cfg["subsets"]["file"])
    keep = {k: v for k, v in cfg.items() if k not in ("plots", "resources", "threads", "reference", "seeds")}
    return {
        **keep, "study_seed": cfg["seed"] if seed is None else int(seed), "dataset": dataset(cfg), "model": model(cfg), "similarity": sim, "subsets": subsets,
        "quantization": {**cfg["quantization"], **calibration(cfg, spec), "specs": [dict(spec)]},
    }


def study_hash(cfg: Mapping[str, Any], spec: Mapping[str, Any], seed: int | None = None) -> str:
    return config_hash(study(cfg, spec, seed))
