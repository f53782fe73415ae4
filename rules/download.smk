rule download:
    """Fetch the dataset and every weight this config needs into their caches (a local rule: run it once where
    there is internet, e.g. the login node: snakemake --cores 1 download --configfile <preset>); compute jobs never download.
    """
    log:
        P.log("download"),
    conda:
        "../envs/laq.yaml"
    params:
        config=section("dataset", "model", "similarity"),
    script:
        "../scripts/download.py"


localrules:
    download,
