def base_inputs(wc):
    """The prepared data; for model.source file:<path> also that checkpoint and its sidecar, so a changed file re-runs."""
    out = {"train": P.train, "classes": P.classes}
    if config["model"]["source"].startswith("file:"):
        out["source"] = config["model"]["source"][5:]
        out["source_meta"] = sidecar(out["source"])
    return out


rule train_base:
    """The original model: from model.source, trained on the full training set when model.train.epochs > 0."""
    input:
        unpack(base_inputs),
    output:
        model=P.base,
        meta=sidecar(P.base),
    params:
        model=config["model"],
        seed=config["seed"],
        device=config["device"],
        threads=config["threads"],  # pinned, not --cores: the trained weights depend on it
    threads: config["threads"]
    resources:
        **heavy(config["threads"], time_scale=2),
    log:
        P.log("train_base"),
    benchmark:
        P.benchmark("train_base")
    script:
        "../scripts/train_base.py"


rule evaluate_base:
    """Test logits of the original model, computed once; every subset's numbers derive from them."""
    input:
        model=P.base,
        meta=sidecar(P.base),
        test=P.test,
    output:
        logits=P.base_logits,
        metrics=P.base_metrics,
    params:
        batch_size=config["evaluation"]["batch_size"],
        device=config["device"],
    threads: config["threads"]
    resources:
        **heavy(config["threads"]),
    log:
        P.log("evaluate_base"),
    benchmark:
        P.benchmark("evaluate_base")
    script:
        "../scripts/evaluate_base.py"
