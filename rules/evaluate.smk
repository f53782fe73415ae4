rule evaluate_agnostic:
    """Test logits of the label-agnostic quantized model, once per spec (subsets slice them)."""
    input:
        model=P.quant_agnostic,
        meta=sidecar(P.quant_agnostic),
        test=P.test,
    output:
        P.agnostic_logits,
    params:
        batch_size=config["evaluation"]["batch_size"],
        device=config["device"],
    threads: config["threads"]
    resources:
        **heavy(config["threads"]),
    log:
        P.log("evaluate_agnostic", "spec"),
    script:
        "../scripts/evaluate_agnostic.py"


rule evaluate:
    """top-1/top-5 (all / pick sub), sparsity and size of every subset's label-aware and fine-tuned quantized models."""
    input:
        aware=aware_models,
        finetuned=finetuned_quant_models,
        meta=lambda wc: [sidecar(p) for p in aware_models(wc) + finetuned_quant_models(wc)],
        subsets=expand(P.subset, subset=SUBSET_IDS),
        test=P.test,
    output:
        P.quant_eval,
    params:
        batch_size=config["evaluation"]["batch_size"],
        device=config["device"],
    threads: 1
    resources:
        **heavy(1),
    log:
        P.log("evaluate", "spec"),
    benchmark:
        P.benchmark("evaluate", "spec")
    script:
        "../scripts/evaluate.py"


rule evaluate_finetuned:
    """top-1/top-5 (all / pick sub) of every subset's fine-tuned model on the subset's test images."""
    input:
        models=expand(P.finetuned, subset=SUBSET_IDS),
        meta=expand(sidecar(P.finetuned), subset=SUBSET_IDS),
        subsets=expand(P.subset, subset=SUBSET_IDS),
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
        P.log("evaluate_finetuned"),
    benchmark:
        P.benchmark("evaluate_finetuned")
    script:
        "../scripts/evaluate_finetuned.py"
