rule table:
    """One CSV per (dataset, model, spec): a row per subset with every variant's accuracies (joined from the evaluation files)."""
    input:
        subsets=expand(P.subset, subset=SUBSET_IDS),
        finetuned=P.finetuned_eval,
        quantized=P.quant_eval,
        base_logits=P.base_logits,
        agnostic_logits=P.agnostic_logits,
        base=P.base,
        agnostic=P.quant_agnostic,
    output:
        report(P.table, category="Tables", caption="../report/table.rst"),
    params:
        extra=lambda wc: {
            "spec": wc.spec,
            "model": config["model"]["name"],
            "dataset": config["dataset"]["name"],
            "seed": config["seed"],
            "config_hash": study_hash(wc.spec),
        },
    resources:
        **LIGHT,
    log:
        P.log("table", "spec"),
    script:
        "../scripts/table.py"


localrules: table
