"""benchmarks/cost.py's arithmetic (laq/cost.py) against hand computations on fake benchmark files."""

import math
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from laq.cost import (
    Bench, Shape, cost_table, count_outputs, disk_bytes, format_table, gpu_seconds, parse_job_stats, read_benchmarks,
    scale, work,
)
from laq.io import LaqError

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def shape(**kw):
    base = dict(classes=100, train_per_class=10, test_per_class=5, image_bytes=32 * 32 * 3, subset_size=10, subsets=2,
                base_epochs=0, finetune_epochs=2, draws=1, calibration_images=64, calibration_mode="per_layer",
                similarity_per_class=10, models_per_quantize_job=4)
    base.update(kw)
    if "draws" in kw and "models_per_quantize_job" not in kw:
        base["models_per_quantize_job"] = 4 * kw["draws"]  # four quantized variants per draw
    return Shape(**base)


def write_bench(root: Path, rule: str, rows):
    d = root / "benchmarks" / rule
    d.mkdir(parents=True, exist_ok=True)
    for i, (s, rss, cpu) in enumerate(rows):
        (d / f"job{i}.tsv").write_text(HEADER + f"{s}\t0:00:00\t{rss}\t0\t0\t0\t0\t0\t50\t{cpu}\n")


def test_benchmarks_are_averaged_per_rule_with_the_largest_memory(tmp_path):
    write_bench(tmp_path, "quantize", [(100, 2000, 90), (300, 2500, 110)])
    write_bench(tmp_path, "finetune", [(40, 1500, "NA")])  # no cpu_time: the wall seconds stand in
    b = read_benchmarks(tmp_path)
    assert b["quantize"] == Bench(seconds=200, cpu_seconds=100, max_rss_mb=2500, jobs=2)
    assert b["finetune"] == Bench(seconds=40, cpu_seconds=40, max_rss_mb=1500, jobs=1)
    with pytest.raises(LaqError, match="benchmarks does not exist"):
        read_benchmarks(tmp_path / "nothing")


def test_scaling_by_draws_calibration_images_epochs_and_images():
    ref, target = shape(), shape(train_per_class=500, test_per_class=100, subsets=35, draws=3, finetune_epochs=5)
    b = Bench(seconds=0, cpu_seconds=1000.0, max_rss_mb=3000.0, jobs=1)
    # quantize: 4 models x draws per job, same calibration images: 3x the work
    cpu, mb = scale("quantize", b, ref, target)
    assert cpu == pytest.approx(1000 * (4 * 3 * 64) / (4 * 1 * 64))
    # its memory grows by the training images it holds: (50,000 - 1,000) x 3,072 bytes
    assert mb == pytest.approx(3000 + 49_000 * 3072 / 2**20)
    # finetune: epochs x subset images = 5 x 10 x 500 vs 2 x 10 x 10
    cpu, _ = scale("finetune", b, ref, target)
    assert cpu == pytest.approx(1000 * 25_000 / 200)
    # evaluate (one job per spec): subsets x models x subset test images = 35 x 12 x 1,000 vs 2 x 4 x 50
    cpu, mb = scale("evaluate", b, ref, target)
    assert cpu == pytest.approx(1000 * (35 * 12 * 1000) / (2 * 4 * 50))
    assert mb == pytest.approx(3000 + (10_000 - 500) * 3072 / 2**20)
    # train_base at epochs 0 only loads the model: the same in both
    assert scale("train_base", b, ref, target)[0] == 1000
    assert work("embed", target) / work("embed", ref) == 50


def test_calibration_modes_must_match():
    b = Bench(0, 10.0, 100.0, 1)
    with pytest.raises(LaqError, match="reference calibrates fixed, the target per_layer"):
        scale("quantize", b, shape(calibration_mode="fixed"), shape())


def test_the_table_totals_are_jobs_times_seconds():
    counts = {"quantize": 175, "finetune": 35, "subset": 35, "all": 1}
    benches = {"quantize": Bench(0, 2000.0, 3000.0, 4), "finetune": Bench(0, 100.0, 2000.0, 2)}
    ref, target = shape(), shape(train_per_class=500, test_per_class=100, subsets=35, draws=3, finetune_epochs=5)
    rows = {r.rule: r for r in cost_table(counts, benches, ref, target)}
    assert set(rows) == {"quantize", "finetune", "subset"}
    assert rows["quantize"].cpu_hours == pytest.approx(175 * 6000 / 3600)
    assert rows["finetune"].cpu_hours == pytest.approx(35 * 100 * 125 / 3600)
    assert rows["subset"].cpu_hours == 0 and math.isnan(rows["subset"].peak_mb)
    text = format_table(list(rows.values()))
    total = 175 * 6000 / 3600 + 35 * 12_500 / 3600
    assert f"**{total:,.1f}**" in text and "| quantize | 175 | 6,000 |" in text and "| subset (local) | 35 | – |" in text
    # a figure given by hand (Bench.jobs 0, benchmarks/cost.py --assume) is marked as such
    rows = cost_table({"quantize": 175}, {"quantize": Bench(2000.0, 2000.0, math.nan, 0)}, ref, target)
    assert "| quantize (assumed) | 175 | 6,000 |" in format_table(rows)


def test_gpu_seconds_from_a_gpu_check_json():
    target = shape(train_per_class=500, test_per_class=100, subsets=35, draws=3, finetune_epochs=5)
    gpu = {"quantize_per_layer_s": 11.2, "evaluate_images_per_s": 329.0, "finetune_images_per_s": 251.0, "job_overhead_s": 20}
    assert gpu_seconds("quantize", target, gpu, 0) == pytest.approx(20 + 12 * 11.2)
    assert gpu_seconds("evaluate", target, gpu, 0) == pytest.approx(20 + 35 * 12 * 1000 / 329)
    assert gpu_seconds("finetune", target, gpu, 0) == pytest.approx(20 + 5 * 10 * 500 / 251)
    assert gpu_seconds("quantize", shape(calibration_mode="fixed"), gpu, 0) is None  # no fixed-mode figure
    rows = cost_table({"quantize": 175}, {"quantize": Bench(0, 500.0, 3000.0, 1)}, shape(), target, gpu)
    assert rows[0].gpu_hours == pytest.approx(175 * (20 + 12 * 11.2) / 3600)
    assert "GPU-hours" in format_table(rows, gpu_name="H200")


def test_shapes_of_the_seed_preset_and_the_rehearsal():
    def cfg(*files):
        c = yaml.safe_load((REPO / "config.yaml").read_text())
        for f in files:
            for k, v in yaml.safe_load((REPO / f).read_text()).items():
                c[k] = {**c[k], **v} if isinstance(v, dict) and isinstance(c.get(k), dict) else v
        return c

    seed = Shape.from_config(cfg("presets/cifar100-resnet50.yaml"), subsets=35, models_per_quantize_job=12)
    assert (seed.n_train, seed.n_test, seed.draws, seed.finetune_epochs, seed.calibration_images) == (50_000, 10_000, 3, 5, 64)
    assert seed.similarity_per_class == 500  # max_per_class null: every image
    rehearsal = Shape.from_config(cfg("presets/rehearsal.yaml"), subsets=2, models_per_quantize_job=4)
    assert (rehearsal.n_train, rehearsal.n_test, rehearsal.calibration_mode) == (1000, 500, "per_layer")
    assert rehearsal.image_bytes == seed.image_bytes  # 32 px images, as CIFAR's


def test_disk_scales_models_and_data(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.safetensors").write_bytes(b"x" * 1500)
    q = tmp_path / "models" / "m" / "quantized" / "s" / "id"
    q.mkdir(parents=True)
    (q / "quant_aware-d0.safetensors").write_bytes(b"x" * 100)
    (tmp_path / "findings.md").write_bytes(b"x" * 7)
    ref, target = shape(), shape(train_per_class=500, test_per_class=100, subsets=35, draws=3)
    want = 1500 * 60_000 / 1500 + 100 * (35 * 3) / (2 * 1) + 7
    assert disk_bytes(tmp_path, ref, target) == pytest.approx(want)


def test_job_stats_are_read_from_snakemakes_dry_run_text():
    text = "Job stats:\njob         count\n--------  -------\nquantize      175\nsubset         35\ntotal         210\n\nReasons:"
    assert parse_job_stats(text) == {"quantize": 175, "subset": 35}
    with pytest.raises(LaqError, match="no 'Job stats'"):
        parse_job_stats("Nothing to be done.")


def test_models_per_quantize_job_are_counted_in_the_dry_run(tmp_path):
    from conftest import run_snakemake

    out = run_snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(REPO / "presets" / "smoke.yaml")).stdout
    cfg = yaml.safe_load((REPO / "presets" / "smoke.yaml").read_text())
    n = count_outputs(out, "quantize", ".safetensors")
    # every quantized variant of the design, once per draw: a multiple of the draws, at least aware/agnostic/finetuned
    assert n % cfg["quantization"]["draws"] == 0 and n >= 3 * cfg["quantization"]["draws"]
    assert count_outputs(out, "no_such_rule", ".safetensors") == 0
