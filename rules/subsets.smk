rule subset:
    """One class subset as a JSON manifest: id, strategy, seed, classes, names, pairwise-distance statistics."""
    input:
        unpack(subset_inputs),
    output:
        P.subset,
    log:
        P.log("subset", "subset"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        seed=config["seed"],
        size=config["subsets"]["size"],
    script:
        "../scripts/make_subset.py"


localrules:
    subset,
    plot_similarity,
