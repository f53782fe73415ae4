rule embed:
    """Penultimate-layer features of every training image (npz: features float32 [N,D], labels int64 [N])."""
    input:
        unpack(embed_inputs),
    output:
        P.embeddings,
    log:
        P.log("embed", "seed"),
    benchmark:
        P.benchmark("embed", "seed")
    conda:
        "../envs/laq.yaml"
    threads: config["threads"]
    resources:
        **heavy("embed", config["threads"], gpu=True),
    params:
        embedder=needs.embedder(config),
        batch_size=config["evaluation"]["batch_size"],
        device=config["device"],
    script:
        "../scripts/embed.py"


rule distance:
    """Class-distance matrix (CxC .npy; similarity.distance between class Gaussians) and the 2-D points it was fitted on."""
    input:
        unpack(distance_inputs),
    output:
        matrix=P.distance,
        points=P.points2d,
    log:
        P.log("distance", "seed"),
    benchmark:
        P.benchmark("distance", "seed")
    conda:
        "../envs/laq.yaml"
    threads: config["threads"]
    resources:
        **heavy("distance", config["threads"]),
    params:
        similarity=needs.similarity(config),
        seed=study_seed,
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
        [
            report(
                f,
                category="6 Class similarity",
                labels={"seed": "{seed}", "figure": f.rsplit("_", 1)[1][:-4]},
                caption=f"../report/similarity_{f.rsplit('_', 1)[1][:-4]}.rst",
            )
            for f in similarity_figures()
        ],
        [svg(f) for f in similarity_figures()],
    log:
        P.log("plot_similarity", "seed"),
    conda:
        "../envs/laq.yaml"
    resources:
        **LIGHT,
    params:
        rc=config["plots"].get("rc", {}),
        method=needs.similarity(config).get("method"),
        # a user's matrix_file is labelled as the seed's (symmetric KL)
        distance="kl" if config["similarity"].get("matrix_file") else config["similarity"].get("distance", "kl"),
    script:
        "../scripts/plot_similarity.py"
