def embed_inputs(wildcards):
    return {"train": P.train, "model": P.base} if config["similarity"]["embedder"] == "base" else {"train": P.train}


def distance_inputs(wildcards):
    if config["similarity"].get("matrix_file"):
        return {"matrix": config["similarity"]["matrix_file"], "classes": P.classes}
    return {"embeddings": P.embeddings, "classes": P.classes}


def similarity_figures():
    kinds = ["heatmap", "pairs", "histogram"]
    if not config["similarity"].get("matrix_file") and config["similarity"]["method"] != "knn":
        kinds.append("embedding")
    return [P.similarity_figure(k) for k in kinds]


rule embed:
    """Penultimate-layer features of every training image (npz: features float32 [N,D], labels int64 [N])."""
    input:
        unpack(embed_inputs),
    output:
        P.embeddings,
    params:
        embedder=config["similarity"]["embedder"],
        batch_size=config["evaluation"]["batch_size"],
        device=config["device"],
    threads: config["threads"]
    resources:
        **heavy(config["threads"]),
    log:
        P.log("embed"),
    benchmark:
        P.benchmark("embed")
    script:
        "../scripts/embed.py"


rule distance:
    """Class-distance matrix (symmetric KL, CxC .npy) and the 2-D points it was fitted on."""
    input:
        unpack(distance_inputs),
    output:
        matrix=P.distance,
        points=P.points2d,
    params:
        similarity={k: v for k, v in config["similarity"].items() if k not in ("embedder",)},
        seed=config["seed"],
    threads: config["threads"]
    resources:
        **heavy(config["threads"]),
    log:
        P.log("distance"),
    benchmark:
        P.benchmark("distance")
    script:
        "../scripts/distance.py"


rule plot_similarity:
    """Heatmap, closest/farthest pairs, 2-D embedding and histogram of the class distances."""
    input:
        matrix=P.distance,
        points=P.points2d,
        classes=P.classes,
        train=P.train,
    output:
        [report(f, category="Class similarity", caption=f"../report/similarity_{f.rsplit('_', 1)[1][:-4]}.rst") for f in similarity_figures()],
        [svg(f) for f in similarity_figures()],
    params:
        rc=config["plots"].get("rc", {}),
        method=config["similarity"]["method"],
    resources:
        **LIGHT,
    log:
        P.log("plot_similarity"),
    script:
        "../scripts/plot_similarity.py"
