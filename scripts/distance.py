import numpy as np

from laq.io import atomic_path, load_array, read_json
from laq.similarity import distance_matrix, load_matrix
from laq.workflow import job

with job(snakemake) as log:
    p, inp, out = snakemake.params.similarity, snakemake.input, snakemake.output
    names = read_json(inp.classes)["names"]
    if "matrix" in inp.keys():
        kl, points, labels = load_matrix(inp.matrix, len(names)), np.zeros((0, 2)), np.zeros(0, np.int64)
    else:
        e = load_array(inp.embeddings, ("features", "labels"))
        kl, points, labels = distance_matrix(
            e["features"], e["labels"], p["method"], seed=snakemake.params.seed, umap=p.get("umap", {}),
            pca_dim=p.get("pca_dim", 10), knn_k=p.get("knn_k", 5), max_per_class=p.get("max_per_class"), num_classes=len(names),
            distance=p.get("distance", "kl"),
        )
        points = np.zeros((0, 2)) if points is None else points
    iu = np.triu_indices(len(kl), 1)
    log.info("distance matrix %s: median %.3f, max %.3f", kl.shape, np.median(kl[iu]), kl[iu].max())
    with atomic_path(out.matrix) as tmp, open(tmp, "wb") as f:
        np.save(f, kl)
    with atomic_path(out.points) as tmp, open(tmp, "wb") as f:
        np.savez(f, points=points, labels=labels)
