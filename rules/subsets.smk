def subset_inputs(wc):
    """The distance matrix and class names; for a file- subset also subsets.file, so editing it re-runs those."""
    out = {"matrix": P.distance, "classes": P.classes}
    if wc.subset.startswith("file-"):
        out["file"] = config["subsets"]["file"]
    return out


rule subset:
    """One class subset as a JSON manifest: id, strategy, seed, classes, names, pairwise-distance statistics."""
    input:
        unpack(subset_inputs),
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
