from pathlib import Path

from laq.data.store import load_split
from laq.io import load_array, read_json
from laq.plots import similarity as plots
from laq.plots.style import apply_style
from laq.similarity import DISTANCE_LABELS, load_matrix
from laq.workflow import job

with job(snakemake) as log:
    apply_style(snakemake.params.rc)
    inp = snakemake.input
    names = read_json(inp.classes)["names"]
    kl = load_matrix(inp.matrix, len(names), produced=True)
    label = DISTANCE_LABELS[snakemake.params.distance]
    for path in (p for p in snakemake.output if p.endswith(".png")):
        kind = Path(path).stem.rsplit("_", 1)[1]
        if kind == "heatmap":
            plots.plot_heatmap(kl, names, path, label=label)
        elif kind == "pairs":
            train = load_split(inp.train)
            plots.plot_pairs(kl, names, train.images, train.labels, path)
        elif kind == "embedding":
            pts = load_array(inp.points, ("points", "labels"))
            axis = "PC" if snakemake.params.method == "pca_gaussian" else "UMAP"
            plots.plot_embedding(pts["points"], pts["labels"], names, path, axis_name=axis)
        elif kind == "histogram":
            plots.plot_histogram(kl, path, label=label)
        log.info("wrote %s", path)
