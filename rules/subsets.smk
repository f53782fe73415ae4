rule subset:
    """One class subset as a JSON manifest: id, strategy, seed, classes, names, pairwise-distance statistics."""
    input:
        matrix=P.distance,
        classes=P.classes,
    output:
        P.subset,
    params:
        seed=config["seed"],
        size=config["subsets"]["size"],
        file=config["subsets"].get("file"),
    resources:
        **LIGHT,
    log:
        P.log("subset", "subset"),
    script:
        "../scripts/make_subset.py"


localrules: subset, plot_similarity
