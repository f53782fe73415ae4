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
    """top-1/top-5 (all / pick sub), sparsity and size of the label-aware and fine-tuned quantized models."""
    input:
        aware=P.quant_aware,
        aware_meta=sidecar(P.quant_aware),
        finetuned=P.quant_finetuned,
        finetuned_meta=sidecar(P.quant_finetuned),
        subset=P.subset,
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
        P.log("evaluate", "spec", "subset"),
    benchmark:
        P.benchmark("evaluate", "spec", "subset")
    script:
        "../scripts/evaluate.py"
