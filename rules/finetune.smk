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
    log:
        P.log("finetune", "seed", "subset"),
    benchmark:
        P.benchmark("finetune", "seed", "subset")
    conda:
        "../envs/laq.yaml"
    threads: 1
    resources:
        **heavy("finetune", 1, gpu=True),
    params:
        finetune=config["finetune"],
        seed=study_seed,
        device=config["device"],
        precision=config.get("precision", "fp32"),
        threads=1,  # pinned: the fine-tuned weights depend on it
    script:
        "../scripts/finetune.py"
