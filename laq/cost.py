"""Cost before compute: a run's jobs per rule, each job's seconds and peak memory scaled from the `benchmark:`
files of a smaller run at the same shapes (e.g. presets/rehearsal.yaml), and the totals.

Jobs per rule come from Snakemake's own dry run (`job_counts`), so they cannot drift from the workflow. Each
compute rule's work per job (`work`) is what its time grows with: images, epochs, models, calibration images;
seconds scale linearly with it (CPU seconds from the `cpu_time` column, which a loaded machine does not
inflate). Peak memory is the reference's plus the size of the image arrays the job holds beyond the
reference's. Used by benchmarks/cost.py.
"""

from __future__ import annotations

import csv
import math
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from laq.io import LaqError

# images per class when the config says null (all): what the dataset has
DATASET_PER_CLASS = {"cifar100": (500, 100, 100), "cifar10": (5000, 1000, 10), "glyphs100": (500, 100, 100)}
GPU_RULES = ("train_base", "evaluate_base", "embed", "finetune", "quantize", "evaluate", "evaluate_finetuned")


@dataclass(frozen=True)
class Shape:
    """The sizes of a run that its jobs' work depends on."""

    classes: int
    train_per_class: int
    test_per_class: int
    image_bytes: int  # one stored image (H*W*3 uint8)
    subset_size: int
    subsets: int
    base_epochs: int
    finetune_epochs: int
    draws: int
    calibration_images: int
    calibration_mode: str
    similarity_per_class: int
    models_per_quantize_job: int  # quantized checkpoints one quantize job writes (from the DAG: laq/design.py decides)

    @classmethod
    def from_config(cls, config: dict[str, Any], subsets: int, models_per_quantize_job: int) -> "Shape":
        ds = config["dataset"]
        if ds["name"] not in DATASET_PER_CLASS:
            raise LaqError(f"dataset {ds['name']!r}: its size is not known before it is read; cost it from a run on it.")
        train_all, test_all, classes = DATASET_PER_CLASS[ds["name"]]
        classes = ds.get("num_classes") or classes
        train = min(ds.get("train_per_class") or train_all, train_all) if ds["name"] != "glyphs100" else ds.get("train_per_class") or train_all
        test = min(ds.get("test_per_class") or test_all, test_all) if ds["name"] != "glyphs100" else ds.get("test_per_class") or test_all
        size = ds.get("image_size", 32) if ds["name"] == "glyphs100" else 32
        q = config["quantization"]
        sim = config["similarity"]
        return cls(
            classes=classes, train_per_class=train, test_per_class=test, image_bytes=size * size * 3,
            subset_size=config["subsets"]["size"], subsets=subsets,
            base_epochs=config["model"]["train"].get("epochs", 0), finetune_epochs=config["finetune"]["epochs"],
            draws=q["draws"], calibration_images=q["calibration_images"],
            calibration_mode=q.get("calibration_mode", "fixed"),
            similarity_per_class=min(sim.get("max_per_class") or train, train),
            models_per_quantize_job=models_per_quantize_job,
        )

    @property
    def n_train(self) -> int:
        return self.classes * self.train_per_class

    @property
    def n_test(self) -> int:
        return self.classes * self.test_per_class

    def quantizations_per_job(self) -> int:
        return self.models_per_quantize_job


def work(rule: str, s: Shape) -> float:
    """What one job of `rule` does, in units its time is proportional to (only ratios between runs matter)."""
    per_quant = s.calibration_images  # per_layer: n images through each layer's prefix; fixed: n images once
    w = {
        "prepare_data": s.n_train + s.n_test,
        "train_base": max(s.base_epochs, 0) * s.n_train or 1,  # epochs 0: the source model is only loaded
        "evaluate_base": s.n_test,
        "embed": s.n_train,
        "distance": s.classes * s.similarity_per_class,
        "finetune": s.finetune_epochs * s.subset_size * s.train_per_class,
        "quantize": s.quantizations_per_job() * per_quant,
        "evaluate": s.subsets * s.quantizations_per_job() * s.subset_size * s.test_per_class,
        "evaluate_finetuned": s.subsets * s.subset_size * s.test_per_class,
    }
    return float(w.get(rule, 1))


def data_bytes(rule: str, s: Shape) -> int:
    """The image arrays a job of `rule` holds in memory."""
    if rule in ("prepare_data", "embed", "distance", "train_base", "finetune", "quantize"):
        return (s.n_train + (s.n_test if rule == "prepare_data" else 0)) * s.image_bytes
    if rule in ("evaluate_base", "evaluate", "evaluate_finetuned"):
        return s.n_test * s.image_bytes
    return 0


@dataclass(frozen=True)
class Bench:
    """One rule's mean over its jobs' benchmark files."""

    seconds: float  # wall
    cpu_seconds: float
    max_rss_mb: float
    jobs: int  # 0: assumed (given by hand), not read from a benchmark file


def read_benchmarks(results: Path) -> dict[str, Bench]:
    """{rule: Bench} from `<results>/benchmarks/<rule>/*.tsv` (Snakemake's benchmark format: s, max_rss, cpu_time, ...)."""
    out = {}
    root = Path(results) / "benchmarks"
    if not root.is_dir():
        raise LaqError(f"{root} does not exist; give --from the results/<dataset> folder of a finished run.")
    for rule_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        rows = []
        for f in sorted(rule_dir.glob("*.tsv")):
            with open(f, newline="") as fh:
                rows += list(csv.DictReader(fh, delimiter="\t"))
        if not rows:
            continue

        def num(row: dict[str, str], key: str) -> float:
            v = row.get(key, "NA")
            return float(v) if v not in ("NA", "-", "") else math.nan

        secs = [num(r, "s") for r in rows]
        cpu = [num(r, "cpu_time") for r in rows]
        rss = [num(r, "max_rss") for r in rows]
        cpu_ok = [c for c in cpu if not math.isnan(c)]
        out[rule_dir.name] = Bench(
            seconds=sum(secs) / len(secs),
            cpu_seconds=sum(cpu_ok) / len(cpu_ok) if cpu_ok else sum(secs) / len(secs),
            max_rss_mb=max(r for r in rss if not math.isnan(r)) if any(not math.isnan(r) for r in rss) else math.nan,
            jobs=len(rows),
        )
    return out


@dataclass(frozen=True)
class RuleCost:
    rule: str
    jobs: int
    cpu_seconds: float  # per job
    peak_mb: float  # per job
    gpu_seconds: float | None  # per job, where a GPU benchmark covers the rule
    assumed: bool = False  # from a figure given by hand, not a benchmark file

    @property
    def cpu_hours(self) -> float:
        return self.jobs * self.cpu_seconds / 3600

    @property
    def gpu_hours(self) -> float | None:
        return None if self.gpu_seconds is None else self.jobs * self.gpu_seconds / 3600


def scale(rule: str, bench: Bench, ref: Shape, target: Shape) -> tuple[float, float]:
    """(CPU seconds, peak MB) of one `target` job from the reference's mean job."""
    if rule == "quantize" and ref.calibration_mode != target.calibration_mode:
        raise LaqError(f"the reference calibrates {ref.calibration_mode}, the target {target.calibration_mode}; cost it from a run in the same mode.")
    ratio = work(rule, target) / work(rule, ref)
    extra_mb = (data_bytes(rule, target) - data_bytes(rule, ref)) / 2**20
    return bench.cpu_seconds * ratio, max(bench.max_rss_mb + extra_mb, bench.max_rss_mb * 0.5)


def gpu_seconds(rule: str, target: Shape, gpu: dict[str, Any], cpu_seconds: float) -> float | None:
    """Seconds of one job on the GPU of a gpu_check JSON (None: the JSON does not cover the rule).

    Keys read: quantize_per_layer_s / quantize_fixed_s (one ResNet-50 quantization), evaluate_images_per_s,
    finetune_images_per_s, and job_overhead_s (start-up and loading, added to every job; default 10)."""
    overhead = float(gpu.get("job_overhead_s", 10.0))
    if rule == "quantize":
        key = f"quantize_{target.calibration_mode}_s"
        return overhead + target.quantizations_per_job() * float(gpu[key]) if key in gpu else None
    if rule in ("evaluate", "evaluate_finetuned", "evaluate_base", "embed") and "evaluate_images_per_s" in gpu:
        images = {"evaluate_base": target.n_test, "embed": target.n_train}.get(rule)
        if images is None:
            images = work(rule, target)
        return overhead + images / float(gpu["evaluate_images_per_s"])
    if rule in ("finetune", "train_base") and "finetune_images_per_s" in gpu:
        return overhead + work(rule, target) / float(gpu["finetune_images_per_s"]) * (rule == "finetune" or target.base_epochs > 0)
    return None


@dataclass(frozen=True)
class Plan:
    """What Snakemake's dry run says a run will do."""

    jobs: dict[str, int]  # per rule
    models_per_quantize_job: int  # .safetensors outputs of one quantize job


def plan(configfiles: list[str], snakefile: Path, extra: list[str] = ()) -> Plan:
    """The dry run of a run whose results folder is empty; run from the current folder (config files name paths
    relative to it), with results in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="laq-cost-") as d:
        cmd = [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(snakefile), "--cores", "1",
               "--configfile", *configfiles, "--config", f"results={d}", *extra]
        p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise LaqError(f"snakemake -n failed: {(p.stderr or p.stdout).strip().splitlines()[-1:]}")
    text = p.stdout + p.stderr
    return Plan(parse_job_stats(text), count_outputs(text, "quantize", ".safetensors"))


def count_outputs(text: str, rule: str, suffix: str) -> int:
    """How many outputs ending in `suffix` the first job of `rule` in a dry run's text has (0: no such job)."""
    m = re.search(rf"^(?:local)?rule {rule}:\n(?:    .*\n)*?    output: (.*)$", text, re.M)
    return sum(f.strip().endswith(suffix) for f in m.group(1).split(",")) if m else 0


def parse_job_stats(text: str) -> dict[str, int]:
    m = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal\s+\d+", text, re.S)
    if not m:
        raise LaqError("no 'Job stats' table in snakemake's dry-run output")
    return {rule: int(n) for rule, n in (line.split() for line in m.group(1).strip().splitlines())}


def cost_table(
    counts: dict[str, int], benches: dict[str, Bench], ref: Shape, target: Shape, gpu: dict[str, Any] | None = None
) -> list[RuleCost]:
    """One RuleCost per rule of `counts` (rules without a benchmark file, the local ones, cost 0 here)."""
    out = []
    for rule, jobs in counts.items():
        if rule == "all":
            continue
        b = benches.get(rule)
        if b is None:
            out.append(RuleCost(rule, jobs, 0.0, math.nan, None))
            continue
        cpu, mb = scale(rule, b, ref, target)
        on_gpu = rule in GPU_RULES and not (rule == "train_base" and target.base_epochs == 0)  # as rules/common.smk asks
        g = gpu_seconds(rule, target, gpu, cpu) if gpu and on_gpu else None
        out.append(RuleCost(rule, jobs, cpu, mb, g, assumed=b.jobs == 0))
    return out


def disk_bytes(results: Path, ref: Shape, target: Shape) -> float:
    """Bytes a target run writes, from the reference run's files: data and embeddings grow with the images,
    fine-tuned models with subsets, quantized models with subsets x models per quantize job, evaluations with models x test images."""
    total = 0.0
    q_ratio = (target.subsets * target.models_per_quantize_job) / (ref.subsets * ref.models_per_quantize_job)
    for f in Path(results).rglob("*"):
        if not f.is_file():
            continue
        parts = f.relative_to(results).parts
        size = f.stat().st_size
        if parts[0] in ("data", "similarity") and f.suffix in (".safetensors", ".npz"):
            r = (target.n_train + target.n_test) / (ref.n_train + ref.n_test)
        elif "quantized" in parts:
            r = q_ratio
        elif "finetuned" in parts:
            r = target.subsets / ref.subsets
        elif parts[0] == "eval":
            r = q_ratio * (target.subset_size * target.test_per_class) / (ref.subset_size * ref.test_per_class)
        else:
            r = 1.0
        total += size * r
    return total


def format_table(rows: list[RuleCost], disk: float | None = None, gpu_name: str | None = None) -> str:
    has_gpu = any(r.gpu_seconds is not None for r in rows)
    head = "| rule | jobs | CPU s/job | peak MB/job | CPU-hours |" + (" GPU s/job | GPU-hours |" if has_gpu else "")
    sep = "|---|---:|---:|---:|---:|" + ("---:|---:|" if has_gpu else "")
    lines = [head, sep]
    for r in sorted(rows, key=lambda r: -r.cpu_hours):
        peak = "–" if math.isnan(r.peak_mb) else f"{r.peak_mb:,.0f}"
        if math.isnan(r.peak_mb) and r.cpu_seconds == 0:  # no benchmark file: a local rule (subsets, tables, plots)
            lines.append(f"| {r.rule} (local) | {r.jobs} | – | – | – |" + (" – | – |" if has_gpu else ""))
            continue
        line = f"| {r.rule}{' (assumed)' if r.assumed else ''} | {r.jobs} | {r.cpu_seconds:,.0f} | {peak} | {r.cpu_hours:,.2f} |"
        if has_gpu:
            line += " – | – |" if r.gpu_seconds is None else f" {r.gpu_seconds:,.0f} | {r.gpu_hours:,.2f} |"
        lines.append(line)
    total = f"| **total** | {sum(r.jobs for r in rows)} | | | **{sum(r.cpu_hours for r in rows):,.1f}** |"
    if has_gpu:
        total += f" | **{sum(r.gpu_hours or 0 for r in rows):,.1f}**{f' ({gpu_name})' if gpu_name else ''} |"
    lines.append(total)
    if disk is not None:
        lines.append(f"\ndisk: {disk / 2**30:,.1f} GiB under results/")
    return "\n".join(lines)
