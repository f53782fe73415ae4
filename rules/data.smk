from laq.config import data_fingerprint

# imagefolder: a digest of every image's path, size and mtime (laq.data.imagefolder), so adding, removing
# or editing an image re-runs prepare_data; other datasets are generated or checked by torchvision.
DATA_FINGERPRINT = data_fingerprint(config["dataset"])


rule prepare_data:
    """The dataset as prepared splits (safetensors) and class names (JSON)."""
    output:
        train=P.train,
        test=P.test,
        classes=P.classes,
    log:
        P.log("prepare_data"),
    benchmark:
        P.benchmark("prepare_data")
    conda:
        "../envs/laq.yaml"
    threads: config["threads"]
    resources:
        **heavy("prepare_data", config["threads"]),
    params:
        **({"fingerprint": DATA_FINGERPRINT} if DATA_FINGERPRINT else {}),
        dataset=needs.dataset(config),
        seed=config["seed"],
    script:
        "../scripts/prepare_data.py"
