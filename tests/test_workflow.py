"""The workflow end-to-end on the smoke preset: outputs, what re-runs when config changes, kills, reproducibility."""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from safetensors.numpy import load_file

from conftest import REPO, SUMMARY, run_snakemake
from laq.design import variants_for, variants_in
from laq.tables import METRICS

SMOKE = str(REPO / "presets" / "smoke.yaml")
ROOT = Path("results/glyphs100/seed-0")  # the study seed's outputs
DATA = Path("results/glyphs100")  # the prepared data, logs and benchmarks (shared by every seed)
SUBSETS = {"similar-k3-00", "dissimilar-k3-00", "random-k3-00"}
DRAWS = 2  # presets/smoke.yaml


def planned_jobs(work: Path, *configs: dict) -> dict[str, int]:
    """Rule -> number of jobs a dry run would execute in `work` with the smoke preset plus `configs`."""
    files = [SMOKE]
    for i, c in enumerate(configs):
        f = work.parent / f"{work.name}-override-{os.getpid()}-{i}.yaml"
        f.write_text(yaml.safe_dump(c))
        files.append(str(f))
    proc = run_snakemake(work, "-n", "--cores", "2", "--configfile", *files, timeout=180)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    stats = out.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m[1] != "total"}


def test_smoke_table_has_every_column_with_sane_values(smoke_run):
    df = pd.read_csv(smoke_run / ROOT / "tables" / "tiny_gpfq4.csv")
    assert set(df["subset"]) == SUBSETS and len(df) == len(SUBSETS) * DRAWS
    assert sorted(df.groupby("subset")["draw"].apply(tuple).unique()) == [tuple(range(DRAWS))]
    assert set(df["strategy"]) == {"similar", "dissimilar", "random"}
    VARIANTS = variants_in(df.columns)
    assert VARIANTS == variants_for(None)  # the default conditions: the table's columns come from the design
    for v in VARIANTS:
        for m in METRICS:
            assert df[f"{v}_{m}"].between(0, 100).all(), f"{v}_{m}"
        for mode in ("all", "sub"):
            assert (df[f"{v}_top5_{mode}"] >= df[f"{v}_top1_{mode}"]).all()
        # restricting the argmax to the subset's classes can only turn wrong answers into right ones
        assert (df[f"{v}_top1_sub"] >= df[f"{v}_top1_all"]).all()
    for v in ("original", "finetuned"):  # not quantized: the same in every draw
        assert df.groupby("subset")[f"{v}_top1_all"].nunique().eq(1).all()
    assert (df["dist_min"] <= df["dist_median"]).all() and (df["dist_median"] <= df["dist_max"]).all()
    assert (df["size"] == 3).all() and (df["bits_min"] == 4).all() and (df["bits_max"] == 4).all()
    assert (df["bits_schedule"] == "uniform").all() and df["bits_per_weight"].between(4, 5).all()
    assert df["compression"].gt(1).all() and df["size_bytes"].gt(0).all()
    assert df["config_hash"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert df["packages"].str.contains("torch=").all()
    assert df["checkpoints_sha256"].str.count(":").eq(len(VARIANTS)).all()
    assert df["checkpoints_sha256"].nunique() == len(df)  # every draw its own quantized checkpoints


def test_smoke_writes_every_figure_statistics_and_findings(smoke_run):
    figs = smoke_run / ROOT / "figures"
    for stem in ("tiny_gpfq4_all_median", "tiny_gpfq4_sub_median", "tiny_gpfq4_quant_drop", "tiny_gpfq4_aware_gain",
                 "similarity_heatmap", "similarity_pairs", "similarity_histogram", "similarity_embedding"):
        for ext in ("png", "svg"):
            assert (figs / f"{stem}.{ext}").stat().st_size > 1000, stem
    stats = pd.read_csv(smoke_run / ROOT / "tables" / "tiny_gpfq4_all_statistics.csv")
    assert len(stats) > 0
    gains = pd.read_csv(smoke_run / ROOT / "tables" / "tiny_gpfq4_gains.csv")
    assert set(gains["comparison"]) >= {"aware_vs_agnostic", "aware_vs_mismatched", "aware_vs_density"}
    assert set(gains["mode"]) == {"all", "sub"}
    assert (gains["n_subsets"] == len(SUBSETS)).all() and (gains["n_draws"] == DRAWS).all()
    mcnemar = pd.read_csv(smoke_run / ROOT / "tables" / "tiny_gpfq4_mcnemar.csv")
    assert len(mcnemar) == 3 * 2 * len(SUBSETS) * DRAWS and mcnemar["p"].between(0, 1).all()  # 3 gains x 2 modes
    overlap = json.loads((smoke_run / ROOT / "subsets" / "overlap.json").read_text())
    assert overlap["by_size"]["3"]["pairs"] == 3 and overlap["by_size"]["3"]["max_jaccard"] <= overlap["max_jaccard"]
    # the findings carry the gains file's numbers
    text = (smoke_run / ROOT / "findings.md").read_text()
    row = gains[(gains["comparison"] == "aware_vs_agnostic") & (gains["mode"] == "all")].iloc[0]
    assert f"{row['mean_pp']:+.1f} pp [95 % CI {row['ci_low']:+.1f}, {row['ci_high']:+.1f}]" in text
    assert f"{len(SUBSETS)} subsets × {DRAWS} draws" in text and "optimistic" in text


def test_quantized_sidecars_record_calibration_that_matches_the_condition(smoke_run):
    """Every quantized model's calibration images came from the classes its condition allows (from the sidecars)."""
    train_labels = load_file(smoke_run / DATA / "data" / "train.safetensors")["labels"]
    all_classes = set(range(10))
    seen = 0
    for sid in SUBSETS:
        subset = set(json.loads((smoke_run / ROOT / "subsets" / f"{sid}.json").read_text())["classes"])
        images = {}
        for meta in (smoke_run / ROOT / "models/tiny/quantized/gpfq4" / sid).glob("*.json"):
            q = json.loads(meta.read_text())["quantization"]
            cal, variant = q["calibration"], q["variant"]
            got = {int(c) for c in train_labels[cal["indices"]]}
            n = round(16 * 10 / 3) if variant == "quant_density" else 16  # density: as many per class as aware
            assert cal["n_images"] == len(cal["indices"]) == n and got == set(cal["image_classes"])
            assert cal["subset_images"] == int(np.isin(train_labels[cal["indices"]], list(subset)).sum())
            if variant in ("quant_aware", "finetuned_quant"):
                assert got <= subset and set(cal["pool_classes"]) == subset and cal["subset_images"] == n
            elif variant == "quant_mismatched":
                assert not got & subset and len(cal["pool_classes"]) == len(subset)
            else:
                assert variant in ("quant_agnostic", "quant_density") and set(cal["pool_classes"]) == all_classes
            images[variant, cal["draw"]] = cal["indices"]
            seen += 1
        for d in range(DRAWS):  # fine-tuned + quantized uses the label-aware draw's images
            assert images["finetuned_quant", d] == images["quant_aware", d]
        assert images["quant_aware", 0] != images["quant_aware", 1]
    assert seen == len(SUBSETS) * 5 * DRAWS  # quantization.conditions of config.yaml, plus fine-tuned + quantized


def test_manifests_and_results_record_provenance(smoke_run):
    manifest = json.loads((smoke_run / ROOT / "subsets" / "similar-k3-00.json").read_text())
    assert len(manifest["classes"]) == 3 and manifest["provenance"]["inputs"]["matrix"]
    q = json.loads((smoke_run / ROOT / "models/tiny/quantized/gpfq4/similar-k3-00/quant_aware-d0.json").read_text())
    prov = q["provenance"]
    assert prov["config_hash"] and "torch" in prov["packages"] and len(prov["inputs"]["model"]) == 64
    ev = json.loads((smoke_run / ROOT / "eval/tiny/spec-gpfq4.json").read_text())
    assert ev["provenance"]["config_hash"] and set(ev["subsets"]) == SUBSETS
    aware = smoke_run / ROOT / "models/tiny/quantized/gpfq4/similar-k3-00/quant_aware-d1.safetensors"
    assert ev["subsets"]["similar-k3-00"]["quant_aware"][1]["sha256"] == hashlib.sha256(aware.read_bytes()).hexdigest()


def test_a_finished_run_has_nothing_left_to_do(smoke_run):
    assert planned_jobs(smoke_run) == {}


@pytest.mark.parametrize(
    "change, must_run, must_not_run",
    [
        ({"finetune": {"epochs": 2}}, {"finetune", "quantize", "evaluate_finetuned"},
         {"prepare_data", "train_base", "embed", "distance", "subset"}),
        ({"quantization": {"specs": [{"name": "gpfq4", "method": "gpfq", "bits": 4, "scalar": 1.0}]}},
         {"quantize", "evaluate", "table", "statistics", "findings"},
         {"prepare_data", "train_base", "embed", "distance", "subset", "finetune", "evaluate_finetuned"}),
        ({"subsets": {"count": {"similar": 2}}}, {"subset", "finetune", "quantize"},
         {"prepare_data", "train_base", "embed", "distance", "evaluate_base"}),
        ({"plots": {"rc": {"font.size": 11}}}, {"plot_accuracy", "plot_spec", "plot_similarity"},
         {"table", "evaluate", "quantize_aware", "finetune", "subset", "distance", "embed", "train_base"}),
    ],
    ids=["finetune-epochs", "quant-spec", "subset-count", "plot-style"],
)
def test_a_config_change_reruns_only_what_depends_on_it(smoke_run, change, must_run, must_not_run):
    jobs = planned_jobs(smoke_run, change)
    assert must_run <= set(jobs), jobs
    assert not (must_not_run & set(jobs)), jobs
    if "subsets" in change:
        assert jobs["subset"] == 1 and jobs["finetune"] == 1 and jobs["quantize"] == 1  # only the new subset


def _outputs(work: Path) -> dict[str, float]:
    """Every finished-looking result file (no hidden temp files) and its mtime."""
    return {str(p.relative_to(work)): p.stat().st_mtime for p in (work / DATA).rglob("*")
            if p.is_file() and not p.name.startswith(".") and "logs" not in p.parts and "benchmarks" not in p.parts}


def _loads(path: Path) -> None:
    if path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".safetensors":
        load_file(path)
    elif path.suffix == ".csv":
        pd.read_csv(path)
    elif path.suffix in (".npy", ".npz"):
        np.load(path)


def test_killed_run_resumes_without_recomputing_and_reproduces_bytes(smoke_run, tmp_path):
    """SIGKILL mid-run, resume (--cores 4), and compare every result with the first clean run byte for byte."""
    work = tmp_path / "killed"
    work.mkdir()
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work),
           "--cores", "2", "--configfile", SMOKE]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    target = work / ROOT / "models/tiny/finetuned"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not any(target.glob("*.safetensors")):
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    run_snakemake(work, "--unlock", "--configfile", SMOKE)
    # Snakemake refuses to go on until told what to do with the outputs of the jobs that were running
    dry = run_snakemake(work, "-n", "--configfile", SMOKE, check=False)
    said = dry.stdout + dry.stderr
    listed = said.split("Incomplete files:", 1)[1].split() if "Incomplete files:" in said else []
    incomplete = {str(Path(f)) for f in listed if f.startswith("results/")}
    assert (dry.returncode != 0) == bool(incomplete), said[-3000:]  # killed between jobs: nothing incomplete
    before = {k: v for k, v in _outputs(work).items() if k not in incomplete}
    assert before and not (work / ROOT / "tables").exists()
    for rel in before:  # whatever exists under its final name and is not marked incomplete is complete
        _loads(work / rel)

    run_snakemake(work, "--cores", "4", "--rerun-incomplete", "--configfile", SMOKE)
    after = _outputs(work)
    kept = [r for r in before if after.get(r) == before[r]]
    assert len(kept) == len(before), sorted(set(before) - set(kept))
    SUMMARY["kill -9 mid-run"] = f"resumed; {len(kept)} finished outputs kept, {len(incomplete)} incomplete redone, {len(after) - len(kept)} made after"

    # two clean runs: byte-identical manifests, tables and quantized codes (CPU)
    compared = 0
    for rel in sorted(after):
        if rel.endswith(".safetensors") and "/quantized/" not in rel and "logits" not in rel:
            continue  # float checkpoints are compared through their quantized codes and logits below
        if rel.endswith((".png", ".svg", "_layers.csv")):
            continue  # figures: compared by their tables; layer tables carry per-layer wall times
        a, b = (work / rel).read_bytes(), (smoke_run / rel).read_bytes()
        assert a == b, f"{rel} differs between two runs with the same config"
        compared += 1
    assert compared > 20
    SUMMARY["reproducibility"] = f"{compared} result files byte-identical across two clean runs"


def test_a_different_seed_changes_subsets_and_codes(smoke_run, tmp_path):
    work = tmp_path / "seed1"
    work.mkdir()
    (tmp_path / "seed1.yaml").write_text("seed: 1\n")
    rel = ["subsets/random-k3-00.json", "models/tiny/quantized/gpfq4/similar-k3-00/quant_agnostic-d0.safetensors"]
    targets = [str(DATA / "seed-1" / r) for r in rel]  # seed 1's study has its own folder
    run_snakemake(work, "--cores", "2", "--configfile", SMOKE, str(tmp_path / "seed1.yaml"), "--", *targets)
    a = json.loads((work / targets[0]).read_text())
    b = json.loads((smoke_run / ROOT / rel[0]).read_text())
    assert a["seed"] == 1 and b["seed"] == 0 and a["classes"] != b["classes"]
    assert (work / targets[1]).read_bytes() != (smoke_run / ROOT / rel[1]).read_bytes()


def test_html_report_builds_self_contained(smoke_run):
    run_snakemake(smoke_run, "--configfile", SMOKE, "--report", "report.html", timeout=120)
    html = (smoke_run / "report.html").read_text(errors="replace")
    assert len(html) > 100_000 and "tiny_gpfq4_all_median.png" in html
    # the front page (the workflow description) includes findings.rst: its sections get docutils ids there
    assert "findings-tiny-on-glyphs100" in html and "gpfq4-gpfq-4-bits-headline" in html
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', html)  # opens offline
    assert "Duplicate explicit target name" not in html  # a caption clashing with Snakemake's own sections
