rule findings:
    """What the run found, in sentences generated from the statistics (Markdown, and RST for the report's front page)."""
    input:
        tables=per_seed(P.table, spec=SPEC_NAMES),
        gains=per_seed(P.gains, spec=SPEC_NAMES),
        decompositions=per_seed(P.decomposition, spec=SPEC_NAMES),
        dose=P.dose_response,
        statistics=per_seed(P.statistics, spec=SPEC_NAMES, mode=["all"]),
        base_metrics=P.base_metrics,
    output:
        markdown=P.findings,
        rst=report(
            P.findings_rst,
            category="1 Findings",
            labels={"seed": "{seed}", "item": "findings"},
            caption="../report/findings.rst",
        ),
    log:
        P.log("findings", "seed"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        specs=SPEC_NAMES,
        model=config["model"]["name"],
        dataset=config["dataset"]["name"],
        calibration_images=config["quantization"]["calibration_images"],
        seed=study_seed,
    script:
        "../scripts/findings.py"


localrules:
    findings,


rule pool_seeds:
    """With several study seeds: every spec's gains per seed and pooled over them (seed as a random effect),
    the pooled findings and the table of gains per seed (Markdown, as the README shows it)."""
    input:
        tables=expand(P.table, spec=SPEC_NAMES, seed=SEEDS),
        base_metrics=expand(P.base_metrics, seed=SEEDS),
    output:
        gains=expand(P.pooled_gains, spec=SPEC_NAMES),
        markdown=P.pooled_findings,
        rst=report(
            P.pooled_findings_rst,
            category="1 Findings",
            labels={"seed": "pooled", "item": "findings"},
            caption="../report/findings.rst",
        ),
        seed_table=P.seed_table,
    log:
        P.log("pool_seeds"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        specs=SPEC_NAMES,
        seeds=SEEDS,
        model=config["model"]["name"],
        dataset=config["dataset"]["name"],
        seed=config["seed"],
    script:
        "../scripts/pool_seeds.py"


localrules:
    pool_seeds,
