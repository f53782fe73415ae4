rule table:
    """One CSV per (dataset, model, spec): a row per subset and calibration draw with every variant's accuracies."""
    input:
        subsets=per_seed(P.subset, subset=SUBSET_IDS),
        finetuned=P.finetuned_eval,
        quantized=P.quant_eval,
        base_logits=P.base_logits,
        base=P.base,
    output:
        report(
            P.table,
            category="8 Tables",
            labels={"seed": "{seed}", "spec": "{spec}", "item": "accuracy table"},
            caption="../report/table.rst",
        ),
    log:
        P.log("table", "seed", "spec"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        conditions=CONDITIONS,
        extra=lambda wc: {
            "spec": wc.spec,
            "model": config["model"]["name"],
            "dataset": config["dataset"]["name"],
            "seed": study_seed(wc),
            "config_hash": study_hash(wc.spec, wc.seed),
        },
    script:
        "../scripts/table.py"


rule statistics:
    """The paired gains of one spec (label-aware vs agnostic and vs mismatched, both modes): mean,
    hierarchical-bootstrap CI, Wilcoxon p, draw SD, and McNemar per subset and draw."""
    input:
        table=P.table,
        correct=P.quant_correct,
    output:
        gains=report(
            P.gains,
            category="3 Label-aware gain",
            subcategory="{spec}",
            labels={"seed": "{seed}", "spec": "{spec}", "item": "paired tests"},
            caption="../report/gains.rst",
        ),
        mcnemar=report(
            P.mcnemar,
            category="3 Label-aware gain",
            subcategory="{spec}",
            labels={"seed": "{seed}", "spec": "{spec}", "item": "McNemar tests"},
            caption="../report/mcnemar.rst",
        ),
        decomposition=report(
            P.decomposition,
            category="3 Label-aware gain",
            subcategory="{spec}",
            labels={"seed": "{seed}", "spec": "{spec}", "item": "decomposition"},
            caption="../report/decomposition.rst",
        ),
    log:
        P.log("statistics", "seed", "spec"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        seed=study_seed,
    script:
        "../scripts/statistics.py"


localrules:
    table,
    statistics,
