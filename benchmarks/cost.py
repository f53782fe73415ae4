"""Cost before compute: jobs per rule, CPU seconds and peak memory per job, CPU-hours, GPU-hours and disk of a run.

    python benchmarks/cost.py --configfile presets/cifar100-resnet50.yaml --from /tmp/rehearsal/results/glyphs100
    python benchmarks/cost.py --configfile presets/cifar100-resnet50.yaml --from ... --gpu gpu_check.json

Jobs per rule come from `snakemake -n` on the config (the workflow's own DAG); seconds and memory from the
`benchmark:` files of a finished run at the same shapes (`--from`, by default a run of presets/rehearsal.yaml,
whose config `--from-configfile` names), scaled by images, epochs, models and calibration images (laq/cost.py).
Without --from, only the jobs per rule are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from laq.cost import Bench, Shape, cost_table, disk_bytes, format_table, plan, read_benchmarks  # noqa: E402
from laq.io import LaqError  # noqa: E402


def merged_config(configfiles: list[str]) -> dict:
    """config.yaml with the configfiles on top, merged as Snakemake merges them (dicts key by key)."""

    def update(a: dict, b: dict) -> dict:
        for k, v in b.items():
            a[k] = update(dict(a[k]), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    for f in configfiles:
        cfg = update(cfg, yaml.safe_load(Path(f).read_text()) or {})
    return cfg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configfile", nargs="+", required=True, help="the run to cost (config files, as for snakemake)")
    ap.add_argument("--from", dest="ref", help="results/<dataset> folder of a finished reference run (its benchmarks/)")
    ap.add_argument("--from-configfile", nargs="+", default=[str(REPO / "presets" / "rehearsal.yaml")],
                    help="config files of the reference run (default: presets/rehearsal.yaml)")
    ap.add_argument("--gpu", help="JSON of GPU timings (benchmarks/gpu_check.py --out)")
    ap.add_argument("--assume", nargs="*", default=[], metavar="RULE=CPU_S[:MB]",
                    help="a reference job the reference run did not finish: its CPU seconds (and peak MB); marked in the table")
    a = ap.parse_args(argv)
    try:
        target_plan = plan(a.configfile, REPO / "Snakefile")
        counts = target_plan.jobs
        print(f"jobs per rule ({', '.join(a.configfile)}): {sum(counts.values())} in all")
        if not a.ref:
            for rule, n in counts.items():
                print(f"  {rule:20s} {n}")
            return 0
        ref_plan = plan(a.from_configfile, REPO / "Snakefile")
        target = Shape.from_config(merged_config(a.configfile), counts.get("subset", 0), target_plan.models_per_quantize_job)
        ref = Shape.from_config(merged_config(a.from_configfile), ref_plan.jobs.get("subset", 0), ref_plan.models_per_quantize_job)
        gpu = json.loads(Path(a.gpu).read_text()) if a.gpu else None
        benches = read_benchmarks(Path(a.ref))
        for item in a.assume:
            rule, _, value = item.partition("=")
            cpu, _, mb = value.partition(":")
            benches[rule] = Bench(seconds=float(cpu), cpu_seconds=float(cpu), max_rss_mb=float(mb or "nan"), jobs=0)
        rows = cost_table(counts, benches, ref, target, gpu)
        print(format_table(rows, disk_bytes(Path(a.ref), ref, target), gpu.get("device") if gpu else None))
    except LaqError as e:
        print(f"cost: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
