from pathlib import Path

from laq.io import provenance, read_json, write_json
from laq.subsets import overlap_report
from laq.workflow import job

with job(snakemake) as log:
    report = overlap_report([read_json(p) for p in snakemake.input])
    for k, s in report["by_size"].items():
        log.info("k=%s: %d pairs, %d share classes, Jaccard mean %.3f max %.3f", k, s["pairs"], s["pairs_sharing_classes"],
                 s["mean_jaccard"], s["max_jaccard"])
    write_json(snakemake.output[0], {**report, "max_jaccard": snakemake.params.max_jaccard,
                                     "provenance": provenance(dict(snakemake.params.items()), {Path(f).stem: f for f in snakemake.input})})
