# laq: label-aware post-training quantization, as a Snakemake workflow.
# Stages, in order: data -> base model -> similarity -> subsets -> finetune -> quantize -> evaluate -> table
# -> statistics -> plots -> findings.
# Run: snakemake --cores 4            (default study, offline)
#      snakemake --cores 4 --configfile presets/smoke.yaml
#      snakemake --profile slurm      (cluster; see slurm/config.yaml)


# The defaults live beside this file, so runs from another working directory (--directory) still find them;
# --configfile files are merged on top.
configfile: f"{workflow.basedir}/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


wildcard_constraints:
    subset=r"(similar|dissimilar|random|file)-k\d+-\d+",
    spec="|".join(re.escape(s) for s in SPEC_NAMES),
    mode="all|sub",
    seed=r"\d+",


include: "rules/data.smk"
include: "rules/base.smk"
include: "rules/similarity.smk"
include: "rules/subsets.smk"
include: "rules/finetune.smk"
include: "rules/quantize.smk"
include: "rules/evaluate.smk"
include: "rules/table.smk"
include: "rules/plots.smk"
include: "rules/findings.smk"
include: "rules/seed.smk"
include: "rules/download.smk"


rule all:
    default_target: True
    input:
        expand(
            [P.base_metrics, *similarity_figures(), P.subset_overlap, P.findings, *result_figures(), *seed_outputs()],
            seed=SEEDS,
        ),
        expand(P.table, seed=SEEDS, spec=SPEC_NAMES),
        expand(P.accuracy_figure, seed=SEEDS, spec=SPEC_NAMES, mode=["all", "sub"]),
        expand(P.statistics, seed=SEEDS, spec=SPEC_NAMES, mode=["all", "sub"]),
        expand(P.mcnemar, seed=SEEDS, spec=SPEC_NAMES),
        pooled_outputs(),
