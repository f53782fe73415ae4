# The comparison with the seed study, when config `reference` names one of its logs (presets/seed-replay.yaml).


rule seed_comparison:
    """This run's accuracies next to the seed study's logged ones, subset by subset (CSV and figure)."""
    input:
        table=lambda wc: P.table.format(seed=wc.seed, spec=config["reference"]["spec"]),
        log=config["reference"]["seed_log"] if config.get("reference") else [],
        classes=P.classes,
    output:
        table=report(
            P.seed_comparison,
            category="7 Seed comparison",
            labels={"seed": "{seed}", "item": "table"},
            caption="../report/seed_comparison.rst",
        ),
        figure=report(
            P.seed_figure,
            category="7 Seed comparison",
            labels={"seed": "{seed}", "item": "figure"},
            caption="../report/seed_comparison.rst",
        ),
        svg=svg(P.seed_figure),
    log:
        P.log("seed_comparison", "seed"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        rc=config["plots"].get("rc", {}),
        spec=config["reference"]["spec"] if config.get("reference") else None,
    script:
        "../scripts/seed_comparison.py"


localrules:
    seed_comparison,
