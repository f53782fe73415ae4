# Helpers shared by every stage: config validation, output paths, subset/spec names, resources.
import re
import sys

from laq.config import validate_config
from laq.design import quantized_runs
from laq.io import LaqError, config_hash
from laq.paths import Paths, layer_table, sidecar, svg
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


DRAWS = config["quantization"]["draws"]
QUANT_RUNS = quantized_runs(DRAWS)  # (variant, draw) made by each quantize job, in output order


def quantized_models(spec):
    """Every quantized checkpoint of a spec: subset by subset, each in QUANT_RUNS order (see laq.design.nest_runs)."""
    return [P.quantized(v, d).format(spec=spec, subset=s) for s in SUBSET_IDS for v, d in QUANT_RUNS]


def result_figures():
    figs = [P.result_figure(k).format(spec=s) for s in SPEC_NAMES for k in ("quant_drop", "aware_gain")]
    return figs + ([P.bits_figure] if len(SPEC_NAMES) > 1 else [])


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
