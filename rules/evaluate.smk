rule evaluate:
    """top-1/top-5 (all / pick sub) of every quantized model of one spec (all subsets, variants and draws),
    and each model's per-image correctness for the paired tests."""
    input:
        models=quantized_models,
        meta=lambda wc: [sidecar(p) for p in quantized_models(wc)],
        subsets=per_seed(P.subset, subset=SUBSET_IDS),
        test=P.test,
    output:
        metrics=P.quant_eval,
        correct=P.quant_correct,
    log:
        P.log("evaluate", "seed", "spec"),
    benchmark:
        P.benchmark("evaluate", "seed", "spec")
    conda:
        "../envs/laq.yaml"
    threads: 1
    resources:
        **heavy("evaluate", 1, gpu=True),
    params:
        batch_size=config["evaluation"]["batch_size"],
        draws=DRAWS,
        conditions=CONDITIONS,
        device=config["device"],
        precision=config.get("precision", "fp32"),
    script:
        "../scripts/evaluate.py"


rule evaluate_finetuned:
    """top-1/top-5 (all / pick sub) of every subset's fine-tuned model on the subset's test images."""
    input:
        models=per_seed(P.finetuned, subset=SUBSET_IDS),
        meta=per_seed(sidecar(P.finetuned), subset=SUBSET_IDS),
        subsets=per_seed(P.subset, subset=SUBSET_IDS),
        test=P.test,
    output:
        P.finetuned_eval,
    log:
        P.log("evaluate_finetuned", "seed"),
    benchmark:
        P.benchmark("evaluate_finetuned", "seed")
    conda:
        "../envs/laq.yaml"
    threads: 1
    resources:
        **heavy("evaluate_finetuned", 1, gpu=True),
    params:
        batch_size=config["evaluation"]["batch_size"],
        device=config["device"],
        precision=config.get("precision", "fp32"),
    script:
        "../scripts/evaluate_finetuned.py"
