"""Re-running exactly what changed, and one working directory per results folder (issue 27, items 5 and 6).

Dry runs on a copy of the finished smoke run: an option the current setting ignores re-runs nothing, a
byte-identical copy of the seed log re-runs only the job that reads it, and a second working directory
writing into the same results folder is refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from conftest import REPO, SUMMARY, run_snakemake
from test_recovery import DATA, ROOT, SMOKE, _copy, _make, _planned

# Options the smoke preset's settings ignore: the embedder is the base model (no ImageNet weights or
# preprocessing), the method is pca_gaussian (no UMAP or k-NN options), the dataset is generated (no
# root or download), the model is trained here (no pretrained weights).
IGNORED = {
    "similarity": {"embedder_weights": "IMAGENET1K_V1", "embedder_preprocess": "resize_crop", "umap": {"n_neighbors": 5},
                   "knn_k": 3},
    "dataset": {"root": "/nowhere", "download": False},
    "model": {"pretrained": False},
}


def test_options_the_setting_ignores_rerun_nothing(smoke_run, tmp_path):
    work = _copy(smoke_run, tmp_path / "ignored")
    assert _planned(work, IGNORED) == {}
    planned = _planned(work, {"similarity": {"pca_dim": 3}})  # read by pca_gaussian: the distance and what follows
    assert planned.get("distance") == 1 and planned.get("embed") is None and planned.get("train_base") is None, planned
    SUMMARY["ignored options re-run nothing"] = ", ".join(f"{s}.{k}" for s, d in IGNORED.items() for k in d)


def test_a_byte_identical_seed_log_reruns_only_the_comparison(smoke_run, tmp_path):
    work = _copy(smoke_run, tmp_path / "seedlog")
    tsv, logs = tmp_path / "subsets.tsv", [tmp_path / "a.csv", tmp_path / "b.csv"]
    tsv.write_text("0,1,2\n3,4,5\n")
    for log in logs:
        shutil.copy(REPO / "resources/seed/Quantization_Log_resnet50_4bit.csv", log)
    sub = {"subsets": {"file": str(tsv)}}
    table = str(ROOT / "tables/tiny_gpfq4.csv")
    _make(work, sub, table)
    target = str(ROOT / "tables/tiny_seed_comparison.csv")
    for log in logs:  # neither the log's path nor `reference` enters any other job's params
        assert _planned(work, {**sub, "reference": {"seed_log": str(log), "spec": "gpfq4"}}, target) == {"seed_comparison": 1}
    assert _planned(work, sub, table) == {}
    SUMMARY["seed log copied elsewhere"] = "re-runs seed_comparison only"


def _smoke(work: Path, *args: str, results: str | None = None, check: bool = True):
    extra = ("--config", f"results={results}") if results else ()
    return run_snakemake(work, "--cores", "1", "--configfile", SMOKE, *extra, *args, timeout=300, check=check)


def test_a_second_working_directory_is_refused(tmp_path):
    first, second, copy = tmp_path / "first", tmp_path / "second", tmp_path / "copy"
    first.mkdir()
    second.mkdir()
    classes = str(DATA / "data/classes.json")
    _smoke(first, "--", classes)
    record = json.loads((first / "results/.laq-owner.json").read_text())
    assert record == {"workdir": "..", "results": "results"}

    shared = str(first / "results")
    for args, where in (((), second), (("-n",), second), (("-n",), first)):
        proc = _smoke(where, *args, "--", str(Path(shared) / "glyphs100/data/classes.json"), results=shared, check=False)
        said = proc.stdout + proc.stderr
        lines = [line for line in said.splitlines() if f"results folder {Path(shared).resolve()}" in line]
        assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in said, said[-2000:]
        if where == second:
            assert f"is kept by runs from {first.resolve()}" in lines[0] and "or set results to another folder" in lines[0]
        else:  # the same folder by another spelling: Snakemake would not find its own records
            assert "set results to 'results' again" in lines[0]

    shutil.copytree(first, copy, symlinks=True)  # a project copied whole keeps its own results
    assert "Nothing to be done" in _smoke(copy, "-n", "--", classes).stdout
    SUMMARY["shared results folder"] = "a second working directory and a second spelling are refused"


def test_study_hash_ignores_the_seed_log_path_and_ignored_options(tmp_path):
    """The tables' config_hash (laq.params.study): unchanged by `reference` and ignored options, changed by used ones."""
    from laq import params

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["similarity"]["method"] = "pca_gaussian"  # as in the smoke preset, which IGNORED is written for
    spec = cfg["quantization"]["specs"][0]
    h = params.study_hash(cfg, spec)
    log = tmp_path / "log.csv"
    log.write_text("x\n")
    assert params.study_hash({**cfg, "reference": {"seed_log": str(log), "spec": spec["name"]}}, spec) == h
    for section, opts in IGNORED.items():
        assert params.study_hash({**cfg, section: {**cfg[section], **opts}}, spec) == h, section
    assert params.study_hash({**cfg, "similarity": {**cfg["similarity"], "max_per_class": 7}}, spec) != h
    assert params.study_hash({**cfg, "similarity": {**cfg["similarity"], "embedder": "torchvision:resnet18"}}, spec) != h
    # a subsets file by content: a byte-identical copy gives the same hash, an edit another
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    a.write_text("0,1,2\n")
    b.write_text("0,1,2\n")
    with_file = {**cfg, "subsets": {**cfg["subsets"], "file": str(a)}}
    assert params.study_hash(with_file, spec) == params.study_hash({**cfg, "subsets": {**cfg["subsets"], "file": str(b)}}, spec)
    a.write_text("0,1,3\n")
    assert params.study_hash(with_file, spec) != params.study_hash({**cfg, "subsets": {**cfg["subsets"], "file": str(b)}}, spec)
    # a data-free method reads no calibration settings
    rtn = {"name": "r4", "method": "rtn", "bits": 4}
    q = {**cfg, "quantization": {**cfg["quantization"], "calibration_images": 7, "calibration_mode": "per_layer"}}
    assert params.study_hash(q, rtn) == params.study_hash(cfg, rtn) and params.study_hash(q, spec) != h
    # study seeds: the list of seeds is not part of one seed's table; its study seed and the data's seed are
    assert params.study_hash({**cfg, "seeds": [0, 1, 2]}, spec, 0) == params.study_hash(cfg, spec, 0) == h
    assert params.study_hash({**cfg, "seeds": [0, 1, 2]}, spec, 1) != h
    assert params.study_hash({**cfg, "seed": 5}, spec, 0) != h
