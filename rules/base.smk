rule train_base:
    """The original model: from model.source, trained on the full training set when model.train.epochs > 0."""
    input:
        unpack(base_inputs),
    output:
        model=P.base,
        meta=sidecar(P.base),
    log:
        P.log("train_base", "seed"),
    benchmark:
        P.benchmark("train_base", "seed")
    conda:
        "../envs/laq.yaml"
    threads: config["threads"]
    resources:
        **heavy("train_base", config["threads"], gpu=config["model"]["train"].get("epochs", 0) > 0),  # epochs 0: loads only
    params:
        model=needs.model(config),
        seed=study_seed,
        device=config["device"],
        precision=config.get("precision", "fp32"),
        # pinned, not --cores: the trained weights depend on it (nothing to pin without training)
        threads=config["threads"] if needs.model(config)["train"]["epochs"] else None,
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
        metrics=report(
            P.base_metrics,
            category="8 Tables",
            labels={"seed": "{seed}", "spec": "-", "item": "original model metrics"},
            caption="../report/base_metrics.rst",
        ),
    log:
        P.log("evaluate_base", "seed"),
    benchmark:
        P.benchmark("evaluate_base", "seed")
    conda:
        "../envs/laq.yaml"
    threads: config["threads"]
    resources:
        **heavy("evaluate_base", config["threads"], gpu=True),
    params:
        batch_size=config["evaluation"]["batch_size"],
        device=config["device"],
        precision=config.get("precision", "fp32"),
    script:
        "../scripts/evaluate_base.py"
