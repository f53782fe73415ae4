import os

os.environ.pop("HF_HUB_OFFLINE", None)  # the one job that may use the network (before anything imports huggingface_hub)

from laq.download import fetch  # noqa: E402
from laq.workflow import job  # noqa: E402

with job(snakemake) as log:
    fetched = fetch(snakemake.params.config, log.info)
    log.info("download: %d fetched, everything this config needs is on this machine", len(fetched))
