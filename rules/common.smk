# Helpers shared by every stage: config validation, output paths, subset/spec names, resources.
import re
import sys

from laq.config import validate_config
from laq.io import LaqError, config_hash
from laq.paths import Paths
from laq.subsets import read_subsets_file, subset_ids

try:
    validate_config(config, workflow.basedir)
except LaqError as e:
    sys.exit(str(e))

P = Paths.from_config(config)
SPECS = {s["name"]: s for s in config["quantization"]["specs"]}
SPEC_NAMES = list(SPECS)
SUBSET_IDS = subset_ids(config["subsets"].get("count", {}), config["subsets"]["size"])
if config["subsets"].get("file"):
    try:
        SUBSET_IDS += [
            f"file-k{config['subsets']['size']}-{i:02d}"
            for i in range(len(read_subsets_file(config["subsets"]["file"], None, size=config["subsets"]["size"])))
        ]
    except LaqError as e:
        sys.exit(f"config error: {e}")
GPU = 1 if config["device"] == "cuda" else 0


wildcard_constraints:
    subset=r"(similar|dissimilar|random|file)-k\d+-\d+",
    spec="|".join(re.escape(s) for s in SPEC_NAMES),
    mode="all|sub",


def aware_models(wc):
    """The label-aware quantized model of every subset; a data-free method (RTN) has no calibration set,
    so its label-aware model is the label-agnostic one, made once instead of once per subset."""
    if SPECS[wc.spec]["method"] == "rtn":
        return expand(P.quant_agnostic, spec=wc.spec) * len(SUBSET_IDS)
    return expand(P.quant_aware, spec=wc.spec, subset=SUBSET_IDS)


def finetuned_quant_models(wc):
    """The fine-tuned, then quantized model of every subset."""
    return expand(P.quant_finetuned, spec=wc.spec, subset=SUBSET_IDS)


def study_hash(spec):
    """Hash of the config a table of `spec` depends on (plots, resources and other specs left out)."""
    keep = {k: v for k, v in config.items() if k not in ("plots", "resources", "threads", "quantization")}
    keep["quantization"] = {**config["quantization"], "specs": [SPECS[spec]]}
    return config_hash(keep)


def heavy(threads=1, mem_scale=1.0, time_scale=1.0):
    """Resources of a compute job; memory and runtime grow with each retry."""
    r = config["resources"]
    out = dict(
        cpus_per_task=threads,
        mem_mb=lambda wc, attempt: int(r["mem_mb"] * mem_scale * attempt),
        runtime=lambda wc, attempt: int(r["runtime"] * time_scale * attempt),
    )
    if GPU:
        out["gpu"] = 1
    return out


LIGHT = dict(mem_mb=1000, runtime=10, cpus_per_task=1)


def section(*keys):
    """The config values a rule depends on, as params: changing others does not re-run it."""
    return {k: config[k] for k in keys}


def sidecar(path):
    """The JSON sidecar of a checkpoint (architecture, classes, provenance)."""
    return path.rsplit(".", 1)[0] + ".json"


def svg(path):
    """The SVG written beside every PNG figure."""
    return path.rsplit(".", 1)[0] + ".svg"


def layer_table(path):
    """Per-layer quantization errors, written beside the quantized checkpoint."""
    return path.rsplit(".", 1)[0] + "_layers.csv"
