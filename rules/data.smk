rule prepare_data:
    """The dataset as prepared splits (safetensors) and class names (JSON)."""
    output:
        train=P.train,
        test=P.test,
        classes=P.classes,
    params:
        dataset=config["dataset"],
        seed=config["seed"],
    threads: config["threads"]
    resources:
        **heavy(config["threads"]),
    log:
        P.log("prepare_data"),
    benchmark:
        P.benchmark("prepare_data")
    script:
        "../scripts/prepare_data.py"
