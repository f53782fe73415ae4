rule finetune:
    """The base model fine-tuned on one subset's training images (all outputs kept)."""
    input:
        model=P.base,
        meta=sidecar(P.base),
        subset=P.subset,
        train=P.train,
    output:
        model=P.finetuned,
        meta=sidecar(P.finetuned),
    params:
        finetune=config["finetune"],
        seed=config["seed"],
        device=config["device"],
    threads: 1
    resources:
        **heavy(1),
    log:
        P.log("finetune", "subset"),
    benchmark:
        P.benchmark("finetune", "subset")
    script:
        "../scripts/finetune.py"


rule evaluate_finetuned:
    """top-1/top-5 (all / pick sub) of a fine-tuned model on its subset's test images."""
    input:
        model=P.finetuned,
        meta=sidecar(P.finetuned),
        subset=P.subset,
        test=P.test,
    output:
        P.finetuned_eval,
    params:
        batch_size=config["evaluation"]["batch_size"],
        device=config["device"],
    threads: 1
    resources:
        **heavy(1),
    log:
        P.log("evaluate_finetuned", "subset"),
    script:
        "../scripts/evaluate_finetuned.py"
