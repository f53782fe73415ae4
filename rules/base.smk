rule train_base:
    """The original model: from model.source, trained on the full training set when model.train.epochs > 0."""
    input:
        unpack(base_inputs),
    output:
        model=P.base,
        meta=sidecar(P.base),
    log:
        P.log("train_base"),
    benchmark:
        P.benchmark("train_base")
    conda:
        "../envs/laq.yaml"
    threads: config["threads"]
    resources:
        **heavy(config["threads"], time_scale=2),
    params:
        model=config["model"],
        seed=config["seed"],
        device=config["device"],
        precision=config.get("precision", "fp32"),
        threads=config["threads"],  # pinned, not --cores: the trained weights depend on it
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
    log:
        P.log("evaluate_base"),
    benchmark:
        P.benchmark("evaluate_base")
    conda:
        "../envs/laq.yaml"
    threads: config["threads"]
    resources:
        **heavy(config["threads"]),
    params:
        batch_size=config["evaluation"]["batch_size"],
        device=config["device"],
        precision=config.get("precision", "fp32"),
    script:
        "../scripts/evaluate_base.py"
