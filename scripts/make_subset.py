from laq.io import provenance, read_json, write_json
from laq.similarity import load_matrix
from laq.subsets import make_subset, manifest_from_classes, read_subsets_file, sizes_of
from laq.workflow import job

with job(snakemake) as log:
    names = read_json(snakemake.input.classes)["names"]
    kl = load_matrix(snakemake.input.matrix, len(names), produced=True)
    sid, p = snakemake.wildcards.subset, snakemake.params
    if sid.startswith("file-"):
        classes = read_subsets_file(snakemake.input.file, names, size=sizes_of(p.size)[0])[int(sid.rsplit("-", 1)[1])]
        manifest = manifest_from_classes(kl, names, sid, classes, seed=p.seed)
    else:
        manifest = make_subset(kl, names, sid, seed=p.seed, max_jaccard=p.max_jaccard)
    log.info("%s: %s (median distance %.3f)", sid, ", ".join(manifest["class_names"]), manifest["dist_median"])
    manifest["provenance"] = provenance(dict(p.items()), dict(snakemake.input.items()))
    write_json(snakemake.output[0], manifest)
