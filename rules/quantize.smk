# One job per (spec, subset) quantizes every variant of laq.design (label-aware, label-agnostic,
# mismatched classes, fine-tuned) from every calibration draw: a job costs ~3 s of start-up and a
# quantization of the small default model well under one, while a cluster still gets specs x subsets jobs.


rule quantize:
    """Every quantized variant of one subset under one spec, from every calibration draw."""
    input:
        base=P.base,
        base_meta=sidecar(P.base),
        finetuned=P.finetuned,
        finetuned_meta=sidecar(P.finetuned),
        subset=P.subset,
        train=P.train,
        classes=P.classes,
    output:
        models=[P.quantized(v, d) for v, d in QUANT_RUNS],
        meta=[sidecar(P.quantized(v, d)) for v, d in QUANT_RUNS],
        layers=[layer_table(P.quantized(v, d)) for v, d in QUANT_RUNS],
    log:
        P.log("quantize", "seed", "spec", "subset"),
    benchmark:
        P.benchmark("quantize", "seed", "spec", "subset")
    conda:
        "../envs/laq.yaml"
    threads: 1
    resources:
        **heavy("quantize", 1, gpu=True),
    params:
        spec=lambda wc: SPECS[wc.spec],
        calibration_images=lambda wc: needs.calibration(config, SPECS[wc.spec])["calibration_images"],
        calibration_mode=lambda wc: needs.calibration(config, SPECS[wc.spec])["calibration_mode"],
        draws=DRAWS,
        conditions=CONDITIONS,
        batch_size=config["quantization"]["batch_size"],
        seed=study_seed,
        device=config["device"],
    script:
        "../scripts/quantize.py"
