"""Regression tests against the seed study's published data (resources/seed/, no network), and the
options that reproduce its protocol."""

import ast
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO
from laq.design import METRICS, VARIANTS
from laq.io import LaqError
from laq.seed import COMPARED, compare, plot_comparison, read_log, read_seed_log, write_subsets_file
from laq.subsets import greedy_subset, read_subsets_file, subset_stats

SEED = REPO / "resources" / "seed"
LOGS = sorted(SEED.glob("Quantization_Log_*.csv"))
KL = np.load(SEED / "cifar100_kl_div_matrix.npy")
NAMES = [str(n) for n in np.load(SEED / "cifar100_class_names.npy")]


def logged_subsets(path):
    return [[int(c) for c in ast.literal_eval(s)] for s in pd.read_csv(path)["Subset_Inds"]]


def test_the_seed_files_are_all_there():
    assert [p.name for p in LOGS] == [f"Quantization_Log_resnet50_{b}.csv" for b in ("3bit", "4bit", "8bit", "mp4bit", "mpasc4bit")]
    assert KL.shape == (100, 100) and np.allclose(KL, KL.T) and (np.diag(KL) == 0).all()
    assert len(NAMES) == 100 and NAMES[:2] == ["apple", "aquarium_fish"]


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.stem)
def test_greedy_rule_reproduces_the_logged_similar_and_dissimilar_subsets(log):
    # the seed's generate_subset: a random start, then the class of lowest (highest) mean distance to
    # the chosen ones; its rows cycle similar, dissimilar, random
    similar = {frozenset(greedy_subset(KL, 10, s, similar=True)): s for s in range(100)}
    dissimilar = {frozenset(greedy_subset(KL, 10, s, similar=False)): s for s in range(100)}
    for i, classes in enumerate(logged_subsets(log)):
        key = frozenset(classes)
        kind = ("similar", "dissimilar", "random")[i % 3]
        assert (key in similar) == (kind == "similar"), (i, classes)
        assert (key in dissimilar) == (kind == "dissimilar"), (i, classes)


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.stem)
def test_logged_distances_are_reproduced_from_the_matrix(log):
    df = pd.read_csv(log)
    for classes, (_, row) in zip(logged_subsets(log), df.iterrows()):
        s = subset_stats(KL, classes)
        # the same float64 matrix and the same pairs: only the CSV's 17-digit printing separates them
        for ours, theirs in (("dist_min", "Min_KL"), ("dist_max", "Max_KL"), ("dist_mean", "Avg_KL"), ("dist_median", "Median_KL")):
            assert s[ours] == pytest.approx(float(row[theirs]), rel=1e-12), (classes, ours)


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.stem)
def test_every_seed_log_reads_into_the_table_format(log):
    df = read_seed_log(log, NAMES)
    raw = pd.read_csv(log)
    assert len(df) == len(raw) and df["subset"].iloc[3] == "file-k10-03"
    # ids follow the replay's subsets file: a repeated subset keeps its id and counts as its next draw
    shipped = read_subsets_file(SEED / "subsets_resnet50.tsv", NAMES, size=10)
    ids = {" ".join(map(str, sorted(s))): f"file-k10-{i:02d}" for i, s in enumerate(shipped)}
    assert (df["subset"] == df["classes"].map(ids)).all()
    assert (df["draw"] == df.groupby("subset").cumcount()).all() and df["draw"].max() <= 1
    for v in VARIANTS:
        for m in METRICS:
            col = df[f"{v}_{m}"]
            if v in COMPARED:
                assert col.between(0, 100).all()
            else:
                assert col.isna().all()
    assert df["original_top1_all"].iloc[0] == pytest.approx(100 * raw["Original Top1 Accuracy"].iloc[0])
    assert df["quant_aware_top1_sub"].iloc[1] == pytest.approx(100 * raw["Quantized Top1 Accuracy (Pick Sub)"].iloc[1])
    first = logged_subsets(log)[0]
    assert df["classes"].iloc[0] == " ".join(map(str, sorted(first))) and df["seed_order"].iloc[0] == " ".join(map(str, first))
    assert df["class_names"].iloc[0].split() == [NAMES[c] for c in sorted(first)]


def test_the_replay_subsets_file_lists_the_logs_distinct_subsets(tmp_path):
    shipped = read_subsets_file(SEED / "subsets_resnet50.tsv", NAMES, size=10)
    regenerated = write_subsets_file(SEED / "Quantization_Log_resnet50_4bit.csv", tmp_path / "s.tsv")
    assert shipped == regenerated and (tmp_path / "s.tsv").read_text() == (SEED / "subsets_resnet50.tsv").read_text()
    distinct = []
    for log in LOGS:  # every log's subsets are the 4-bit log's first rows
        for s in logged_subsets(log):
            if frozenset(s) not in map(frozenset, distinct):
                distinct.append(s)
    assert shipped == distinct and len(shipped) == 34


def test_bad_logs_are_one_line_errors(tmp_path):
    with pytest.raises(LaqError, match="does not exist"):
        read_log(tmp_path / "nope.csv")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(LaqError, match="lacks column"):
        read_log(tmp_path / "x.csv")


def test_comparison_matches_rows_by_classes_and_plots(tmp_path):
    seed = read_seed_log(SEED / "Quantization_Log_resnet50_4bit.csv", NAMES)
    # "ours": the replay's table, two draws per subset, 1 pp above the seed for every measured variant
    distinct = seed.drop_duplicates("classes").reset_index(drop=True)
    rows = []
    for i, r in distinct.iterrows():
        for d in range(2):
            row = {**r.to_dict(), "subset": f"file-k10-{i:02d}", "draw": d}
            for v in VARIANTS:
                for m in METRICS:
                    row[f"{v}_{m}"] = r[f"{v}_{m}"] + 1.0 + (0.5 if d else -0.5)
            rows.append(row)
    ours = pd.DataFrame(rows)
    cmp = compare(ours, seed)
    assert len(cmp) == len(seed) * len(COMPARED) * len(METRICS)  # the repeated log row is compared too
    first = cmp["seed_row"] != 27
    assert np.allclose(cmp.loc[first, "difference_pp"], 1.0)
    # log row 27 repeats row 18's subset with other accuracies (the seed's own run-to-run spread):
    # it is compared with the same subset of ours
    repeated, original = (cmp[cmp["seed_row"] == r].set_index(["variant", "metric"]) for r in (27, 18))
    assert set(repeated["subset"]) == {"file-k10-18"}
    assert np.allclose(repeated["ours"], original["ours"]) and not np.allclose(repeated["seed"], original["seed"])
    plot_comparison(cmp, tmp_path / "c.png", title="t")
    assert (tmp_path / "c.png").stat().st_size > 1000 and (tmp_path / "c.svg").exists()
    other = ours.assign(classes="0 1 2 3 4 5 6 7 8 9")
    with pytest.raises(LaqError, match="subsets.file"):
        compare(other, seed)


def test_seed_replay_preset_plans_the_comparison(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", "presets/seed-replay.yaml", "--config", f"results={tmp_path}"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "seed_comparison" in r.stdout and "file-k10-33" in r.stdout and "file-k10-34" not in r.stdout


# ---------------------------------------------------------------- protocol options


def test_resize_crop_is_resize_then_centre_crop():
    from torchvision.transforms import functional as TF

    from laq.data.transforms import Preprocess, crop_window

    images = torch.randint(0, 256, (3, 32, 32, 3), dtype=torch.uint8)
    p = Preprocess(56, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "resize_crop")
    x = images.permute(0, 3, 1, 2).float() / 255
    ref = TF.center_crop(TF.resize(x, [64, 64], antialias=True), [56, 56])  # 56 * 256 / 224 = 64
    assert torch.allclose(p(images), (ref - 0.5) / 0.25, atol=1e-5)
    assert crop_window(256, 224) == 16 and crop_window(64, 56) == 4
    plain = Preprocess(56, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))(images)
    assert plain.shape == (3, 3, 56, 56) and not torch.allclose(plain, p(images))


def test_the_models_preprocessing_travels_in_its_sidecar():
    from laq.workflow import preprocess_for

    meta = {"input_size": 224, "mean": [0.5] * 3, "std": [0.2] * 3}
    assert preprocess_for(meta).mode == "resize" and preprocess_for({**meta, "preprocess": "resize_crop"}).mode == "resize_crop"
    from laq.models.arch import check_meta

    bad = {**meta, "arch": "cifar_resnet:8:4", "num_classes": 2, "classes": ["a", "b"], "preprocess": "zoom"}
    with pytest.raises(LaqError, match="preprocess"):
        check_meta(bad, "sidecar")


def test_embedder_weights_are_asked_for_by_name(monkeypatch):
    import torchvision

    from laq.stages import embedder_model

    asked = {}

    def fake_get_model(name, weights=None):
        asked[name] = weights
        return torchvision.models.resnet18(weights=None)

    monkeypatch.setattr(torchvision.models, "get_model", fake_get_model)
    monkeypatch.setattr("laq.download.Need.present", lambda self: True)  # as if `snakemake download` had fetched them
    model, meta = embedder_model("torchvision:resnet18", None, weights="IMAGENET1K_V1", preprocess="resize_crop")
    assert asked == {"resnet18": "IMAGENET1K_V1"} and meta["preprocess"] == "resize_crop"


@pytest.mark.parametrize("augment,pad", [(True, 4), (False, 0)])
def test_finetune_augmentation_switch(monkeypatch, augment, pad):
    import laq.stages as stages
    from laq.data.store import Split

    seen = {}
    monkeypatch.setattr(stages, "train_classifier", lambda model, data, prep, settings, **kw: seen.setdefault("s", settings))
    split = Split(np.zeros((4, 8, 8, 3), np.uint8), np.array([0, 1, 0, 1]))
    meta = {"input_size": 8, "mean": [0.5] * 3, "std": [0.2] * 3}
    stages.finetune(torch.nn.Linear(1, 1), meta, split, [0, 1], {"epochs": 1, "lr": 1e-3, "batch_size": 2, "weight_decay": 0.0, "augment": augment},
                    seed=0, device="cpu")
    assert seen["s"].crop_pad == pad


def test_missing_cifar_says_where_to_put_it(tmp_path):
    from laq.data.datasets import prepare_dataset

    with pytest.raises(LaqError, match=f"cifar100 .*{tmp_path}/cifar-100-python/.* is missing.*snakemake --cores 1 download"):
        prepare_dataset({"name": "cifar100", "root": str(tmp_path), "download": False}, seed=0)


def test_missing_hub_weights_say_where_to_put_them(monkeypatch):
    import timm
    from huggingface_hub.constants import HF_HUB_CACHE

    from laq.models.sources import load_base

    def offline(name, pretrained=True):
        raise OSError("no network")

    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(LaqError, match=f"timm weights .*{HF_HUB_CACHE}.* is missing.*snakemake --cores 1 download"):
        load_base("timm:hf_hub:anonauthors/cifar100-timm-resnet50", 100)
