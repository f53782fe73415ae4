# Helpers shared by every stage: config validation, output paths, subset/spec names, resources.
import re
import sys

from snakemake.utils import update_config

from laq import owner
from laq.config import typed_overrides, validate_config
from laq.design import VARIANT_LABELS, check_conditions, quantized_runs, variants_for
from laq.download import jobs_offline
from laq.io import LaqError
import laq.params as needs  # each rule's params: what it reads, without options the setting ignores
from laq.paths import Paths, layer_table, sidecar, svg
from laq.subsets import read_subsets_file, sizes_of, subset_ids

# `--config "finetune={epochs: 2}"` arrives with '2' as a string: type nested values as a config file would
update_config(config, typed_overrides(dict(workflow.config_settings.config)))
try:
    validate_config(config, workflow.basedir)
    owner.check(config["results"])  # one results folder, one working directory (laq/owner.py)
except LaqError as e:
    sys.exit(str(e))


onstart:
    owner.claim(config["results"])


P = Paths.from_config(config)
# Study seeds: each makes its own base model, distances, subsets and draws under seed-<s>/ (wildcard {seed});
# the prepared data is shared. Gains are pooled over them when there are several.
SEEDS = list(config.get("seeds") or [config["seed"]])
# Compute jobs never download: what they say when a file is missing, and the Hugging Face hub kept to its cache.
jobs_offline(workflow.config_settings.configfiles)
SPECS = {s["name"]: s for s in config["quantization"]["specs"]}
SPEC_NAMES = list(SPECS)
SUBSET_IDS = subset_ids(config["subsets"].get("count", {}), config["subsets"]["size"])
if config["subsets"].get("file"):
    try:
        FILE_SIZE = sizes_of(config["subsets"]["size"])[0]  # validated: one size with a subsets file
        SUBSET_IDS += [
            f"file-k{FILE_SIZE}-{i:02d}"
            for i in range(len(read_subsets_file(config["subsets"]["file"], None, size=FILE_SIZE)))
        ]
    except LaqError as e:
        sys.exit(f"config error: {e}")
# device `cuda` or `auto`: the rules that compute on the device ask for one GPU each (`gpu`, the SLURM
# plugin's resource: sbatch --gpus=1). On a cluster (the slurm profile) that is what makes `auto` mean cuda;
# a local run only counts it (`--resources gpu=1` runs one GPU job at a time) and `auto` takes a visible GPU.
GPU = 1 if config["device"] in ("cuda", "auto") else 0


DRAWS = config["quantization"]["draws"]
CONDITIONS = list(check_conditions(config["quantization"].get("conditions")))  # validated with the config
SERIES = [VARIANT_LABELS[v] for v in variants_for(CONDITIONS)]  # the figures' series, in the design's order
QUANT_RUNS = quantized_runs(DRAWS, CONDITIONS)  # (variant, draw) made by each quantize job, in output order


def study_seed(wc):
    """The study seed of a per-seed job (its {seed} wildcard), as the integer its params carry."""
    return int(wc.seed)


def per_seed(pattern, **wildcards):
    """`pattern` expanded over `wildcards`, keeping {seed} for the job's own seed (inputs of a per-seed rule)."""
    return expand(pattern, **wildcards, allow_missing=True)


def quantized_models(wc):
    """Every quantized checkpoint of a spec: subset by subset, each in QUANT_RUNS order (see laq.design.nest_runs)."""
    return [P.quantized(v, d).format(seed=wc.seed, spec=wc.spec, subset=s) for s in SUBSET_IDS for v, d in QUANT_RUNS]


def result_figures():
    figs = per_seed([P.result_figure(k) for k in ("quant_drop", "aware_gain", "decomposition")], spec=SPEC_NAMES)
    return figs + [P.dose_figure] + ([P.bits_figure] if len(SPEC_NAMES) > 1 else [])


def seed_outputs():
    """The comparison with a seed log, when config `reference` names one."""
    return [P.seed_comparison, P.seed_figure] if config.get("reference") else []


def pooled_outputs():
    """With several study seeds: every spec's gains pooled over them, the pooled findings and the seeds table."""
    if len(SEEDS) < 2:
        return []
    return expand(P.pooled_gains, spec=SPEC_NAMES) + [P.pooled_findings, P.seed_table]


def study_hash(spec, seed):
    """Hash of the config a table of `spec` at study seed `seed` depends on (laq.params.study)."""
    return needs.study_hash(config, SPECS[spec], int(seed))


def heavy(rule, threads=1, gpu=False):
    """Resources of a compute job: config `resources`, overridden per rule by `resources.rules.<rule>`
    (measured values: benchmarks/cost.py); memory and runtime grow with each retry. `gpu`: the job computes
    on `device`, so it asks for a GPU when the device may be one."""
    r = {**config["resources"], **config["resources"].get("rules", {}).get(rule, {})}
    out = dict(
        cpus_per_task=threads,
        mem_mb=lambda wc, attempt: int(r["mem_mb"] * attempt),
        runtime=lambda wc, attempt: int(r["runtime"] * attempt),
    )
    if gpu and GPU:
        out["gpu"] = GPU
    return out


LIGHT = dict(mem_mb=1000, runtime=10, cpus_per_task=1)


def section(*keys):
    """The config sections a step depends on, as params (changing other sections does not re-run it)."""
    return {k: config[k] for k in keys}


def base_inputs(wc):
    """The prepared data; for model.source file:<path> also that checkpoint and its sidecar, so a changed file re-runs."""
    out = {"train": P.train, "classes": P.classes}
    if config["model"]["source"].startswith("file:"):
        out["source"] = config["model"]["source"][5:]
        out["source_meta"] = sidecar(out["source"])
    return out


def embed_inputs(wildcards):
    return {"train": P.train, "model": P.base} if config["similarity"]["embedder"] == "base" else {"train": P.train}


def distance_inputs(wildcards):
    if config["similarity"].get("matrix_file"):
        return {"matrix": config["similarity"]["matrix_file"], "classes": P.classes}
    return {"embeddings": P.embeddings, "classes": P.classes}


def similarity_figures():
    kinds = ["heatmap", "pairs", "histogram"]
    if not config["similarity"].get("matrix_file") and config["similarity"]["method"] != "knn":
        kinds.append("embedding")
    return [P.similarity_figure(k) for k in kinds]


def subset_inputs(wc):
    """The distance matrix and class names; for a file- subset also subsets.file, so editing it re-runs those."""
    out = {"matrix": P.distance, "classes": P.classes}
    if wc.subset.startswith("file-"):
        out["file"] = config["subsets"]["file"]
    return out
