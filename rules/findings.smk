rule findings:
    """What the run found, in sentences generated from the statistics (Markdown, and RST for the report's front page)."""
    input:
        tables=expand(P.table, spec=SPEC_NAMES),
        gains=expand(P.gains, spec=SPEC_NAMES),
        decompositions=expand(P.decomposition, spec=SPEC_NAMES),
        dose=P.dose_response,
        statistics=expand(P.statistics, spec=SPEC_NAMES, mode=["all"]),
        base_metrics=P.base_metrics,
    output:
        markdown=P.findings,
        rst=report(
            P.findings_rst,
            category="1 Findings",
            labels={"item": "findings"},
            caption="../report/findings.rst",
        ),
    log:
        P.log("findings"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        specs=SPEC_NAMES,
        model=config["model"]["name"],
        dataset=config["dataset"]["name"],
        calibration_images=config["quantization"]["calibration_images"],
    script:
        "../scripts/findings.py"


localrules:
    findings,
