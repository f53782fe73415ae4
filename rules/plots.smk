rule plot_accuracy:
    """The headline figure: top-1 vs median inter-class distance per variant, with a*log(b*x)+c fits, and its statistics."""
    input:
        P.table,
    output:
        figure=report(
            P.accuracy_figure,
            category="2 Accuracy vs distance",
            subcategory="{spec}",
            labels={"seed": "{seed}", "spec": "{spec}", "top-1": "{mode}", "item": "figure"},
            caption="../report/accuracy_vs_distance.rst",
        ),
        figure_svg=svg(P.accuracy_figure),
        statistics=report(
            P.statistics,
            category="2 Accuracy vs distance",
            subcategory="{spec}",
            labels={"seed": "{seed}", "spec": "{spec}", "top-1": "{mode}", "item": "statistics"},
            caption="../report/statistics.rst",
        ),
    log:
        P.log("plot_accuracy", "seed", "spec", "mode"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        rc=config["plots"].get("rc", {}),
        seed=study_seed,
        series=SERIES,  # the caption names the run's variants
    script:
        "../scripts/plot_accuracy.py"


rule plot_spec:
    """Quantization drop and label-aware gains per subset, for one spec."""
    input:
        table=P.table,
        gains=P.gains,
    output:
        drop=report(
            P.result_figure("quant_drop"),
            category="4 Quantization cost",
            labels={"seed": "{seed}", "spec": "{spec}", "item": "figure"},
            caption="../report/quant_drop.rst",
        ),
        gain=report(
            P.result_figure("aware_gain"),
            category="3 Label-aware gain",
            subcategory="{spec}",
            labels={"seed": "{seed}", "spec": "{spec}", "item": "figure"},
            caption="../report/aware_gain.rst",
        ),
        svgs=[svg(P.result_figure(k)) for k in ("quant_drop", "aware_gain")],
    log:
        P.log("plot_spec", "seed", "spec"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        rc=config["plots"].get("rc", {}),
    script:
        "../scripts/plot_spec.py"


rule plot_bits:
    """Accuracy across quantization specs (bits), mean and CI over subsets."""
    input:
        per_seed(P.table, spec=SPEC_NAMES),
    output:
        report(
            P.bits_figure,
            category="5 Bits vs accuracy",
            labels={"seed": "{seed}", "item": "figure"},
            caption="../report/bits_vs_accuracy.rst",
        ),
        svg(P.bits_figure),
    log:
        P.log("plot_bits", "seed"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        rc=config["plots"].get("rc", {}),
        specs=SPEC_NAMES,
    script:
        "../scripts/plot_bits.py"


localrules:
    plot_accuracy,
    plot_spec,
    plot_bits,


rule plot_decomposition:
    """The all-classes gains of one spec split into within-subset accuracy and out-of-subset predictions avoided."""
    input:
        table=P.table,
        decomposition=P.decomposition,
    output:
        figure=report(
            P.result_figure("decomposition"),
            category="3 Label-aware gain",
            subcategory="{spec}",
            labels={"seed": "{seed}", "spec": "{spec}", "item": "decomposition figure"},
            caption="../report/decomposition_figure.rst",
        ),
        figure_svg=svg(P.result_figure("decomposition")),
    log:
        P.log("plot_decomposition", "seed", "spec"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        rc=config["plots"].get("rc", {}),
    script:
        "../scripts/plot_decomposition.py"


localrules:
    plot_decomposition,


rule dose_response:
    """Every spec's gains per dose (bits, calibration images, subset size) and the figure of gain against each dose swept."""
    input:
        per_seed(P.table, spec=SPEC_NAMES),
    output:
        table=report(
            P.dose_response,
            category="3 Label-aware gain",
            subcategory="dose-response",
            labels={"seed": "{seed}", "item": "dose-response table"},
            caption="../report/dose_response_table.rst",
        ),
        figure=report(
            P.dose_figure,
            category="3 Label-aware gain",
            subcategory="dose-response",
            labels={"seed": "{seed}", "item": "dose-response figure"},
            caption="../report/dose_response.rst",
        ),
        figure_svg=svg(P.dose_figure),
    log:
        P.log("dose_response", "seed"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        rc=config["plots"].get("rc", {}),
        specs=SPEC_NAMES,
        seed=study_seed,
    script:
        "../scripts/dose_response.py"


localrules:
    dose_response,
