# Three quantized models per spec: the base model with the subset's calibration images (label-aware),
# the fine-tuned model with the same images, and the base model with images of all classes (label-agnostic,
# one per spec, shared by every subset).

QUANT_COMMON = dict(
    params=dict(
        spec=lambda wc: SPECS[wc.spec],
        calibration_images=config["quantization"]["calibration_images"],
        batch_size=config["quantization"]["batch_size"],
        seed=config["seed"],
        device=config["device"],
    ),
)


rule quantize_aware:
    """Base model quantized with calibration images of the subset's classes (label-aware)."""
    input:
        model=P.base,
        meta=sidecar(P.base),
        subset=P.subset,
        train=P.train,
    output:
        model=P.quant_aware,
        meta=sidecar(P.quant_aware),
        layers=layer_table(P.quant_aware),
    params:
        **QUANT_COMMON["params"],
    threads: 1
    resources:
        **heavy(1),
    log:
        P.log("quantize_aware", "spec", "subset"),
    benchmark:
        P.benchmark("quantize_aware", "spec", "subset")
    script:
        "../scripts/quantize.py"


rule quantize_finetuned:
    """Fine-tuned model quantized with the same subset calibration images."""
    input:
        model=P.finetuned,
        meta=sidecar(P.finetuned),
        subset=P.subset,
        train=P.train,
    output:
        model=P.quant_finetuned,
        meta=sidecar(P.quant_finetuned),
        layers=layer_table(P.quant_finetuned),
    params:
        **QUANT_COMMON["params"],
    threads: 1
    resources:
        **heavy(1),
    log:
        P.log("quantize_finetuned", "spec", "subset"),
    benchmark:
        P.benchmark("quantize_finetuned", "spec", "subset")
    script:
        "../scripts/quantize.py"


rule quantize_agnostic:
    """Base model quantized with calibration images drawn from all classes (label-agnostic control)."""
    input:
        model=P.base,
        meta=sidecar(P.base),
        train=P.train,
    output:
        model=P.quant_agnostic,
        meta=sidecar(P.quant_agnostic),
        layers=layer_table(P.quant_agnostic),
    params:
        **QUANT_COMMON["params"],
    threads: config["threads"]
    resources:
        **heavy(config["threads"]),
    log:
        P.log("quantize_agnostic", "spec"),
    benchmark:
        P.benchmark("quantize_agnostic", "spec")
    script:
        "../scripts/quantize.py"
