import numpy as np

from laq.data.store import load_split
from laq.embed import penultimate_features
from laq.stages import embedder_model
from laq.workflow import job, preprocess_for, resolve_device, trusted_hub
from laq.io import atomic_path

with job(snakemake) as log:
    train = load_split(snakemake.input.train)
    p = snakemake.params
    e = p.embedder  # weights and preprocess only for an ImageNet embedder (laq.params.embedder)
    model, meta = embedder_model(e["embedder"], snakemake.input.get("model"), trusted_hub(snakemake), weights=e.get("weights", "DEFAULT"),
                                 preprocess=e.get("preprocess", "resize"))
    feats = penultimate_features(model, train.images, preprocess=preprocess_for(meta), batch_size=snakemake.params.batch_size, device=resolve_device(snakemake.params.device))
    log.info("embedded %d images into %d dimensions with %s", *feats.shape, meta["arch"])
    with atomic_path(snakemake.output[0]) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, features=feats, labels=train.labels)
