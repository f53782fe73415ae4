rule subset:
    """One class subset as a JSON manifest: id, strategy, seed, classes, names, pairwise-distance statistics."""
    input:
        unpack(subset_inputs),
    output:
        P.subset,
    log:
        P.log("subset", "seed", "subset"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        seed=study_seed,
        size=config["subsets"]["size"],
        max_jaccard=config["subsets"].get("max_jaccard", 1.0),
    script:
        "../scripts/make_subset.py"


rule subset_overlap:
    """The realized overlap of the run's subsets: every pair's Jaccard index and shared classes, with summaries."""
    input:
        per_seed(P.subset, subset=SUBSET_IDS),
    output:
        P.subset_overlap,
    log:
        P.log("subset_overlap", "seed"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        max_jaccard=config["subsets"].get("max_jaccard", 1.0),
    script:
        "../scripts/subset_overlap.py"


localrules:
    subset,
    subset_overlap,
    plot_similarity,
