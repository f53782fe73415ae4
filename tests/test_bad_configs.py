"""A corpus of broken configs: each must stop `snakemake -n` before any job, with one line naming the key."""

from concurrent.futures import ThreadPoolExecutor

import yaml

from conftest import SUMMARY, run_snakemake

SPEC = {"name": "g4", "method": "gpfq", "bits": 4}


def spec(**kw):
    return {"quantization": {"specs": [{**SPEC, **kw}]}}


# (case id, config override, text the one-line message must contain)
CORPUS = [
    ("bits-0", spec(bits=0), "bits"),
    ("bits-1", spec(bits=1), "bits"),
    ("bits-9", spec(bits=9), "bits"),
    ("bits-16", spec(bits=16), "bits"),
    ("bits-word", spec(bits="fast"), "bits"),
    ("bits-list-with-1", spec(bits=[4, 1]), "bits"),
    ("method-unknown", spec(method="awq"), "gpfq, sgpfq"),
    ("scalar-negative", spec(scalar=-1), "scalar"),
    ("percentile-above-1", spec(percentile=1.5), "percentile"),
    ("spec-name-underscore", spec(name="g_4"), "name"),
    ("spec-unknown-key", spec(bitz=4), "bitz"),
    ("specs-empty", {"quantization": {"specs": []}}, "specs"),
    ("duplicate-spec-names", {"quantization": {"specs": [SPEC, SPEC]}}, "duplicate names g4"),
    ("calibration-zero", {"quantization": {"calibration_images": 0}}, "calibration_images"),
    ("epochs-negative", {"finetune": {"epochs": -1}}, "finetune.epochs"),
    ("finetune-lr-zero", {"finetune": {"lr": 0}}, "finetune.lr"),
    ("finetune-unknown-key", {"finetune": {"lr_decay": 0.5}}, "lr_decay"),
    ("subset-size-1", {"subsets": {"size": 1}}, "subsets.size"),
    ("subset-size-over-classes", {"subsets": {"size": 101}}, "subsets.size"),
    ("subset-size-over-num-classes", {"dataset": {"num_classes": 10}, "subsets": {"size": 20}}, "subsets.size"),
    ("no-subsets", {"subsets": {"count": {"similar": 0, "dissimilar": 0, "random": 0}}}, "subsets.count"),
    ("strategy-unknown", {"subsets": {"count": {"closest": 3}}}, "closest"),
    ("subsets-file-missing", {"subsets": {"file": "/nonexistent/subsets.tsv"}}, "subsets.file"),
    ("model-source-unknown", {"model": {"source": "hub:foo"}}, "model.source"),
    ("model-file-missing", {"model": {"source": "file:/nonexistent/m.safetensors"}}, "model.source"),
    ("model-depth-not-6n+2", {"model": {"depth": 10}}, "model.depth"),
    ("dataset-unknown", {"dataset": {"name": "mnist"}}, "dataset.name"),
    ("imagefolder-without-root", {"dataset": {"name": "imagefolder", "root": None}}, "dataset.root"),
    ("imagefolder-root-missing", {"dataset": {"name": "imagefolder", "root": "/nonexistent/images"}}, "dataset.root"),
    ("cifar-no-download-no-root", {"dataset": {"name": "cifar100", "root": "/nonexistent/cifar", "download": False}}, "dataset.root"),
    ("num-classes-too-many", {"dataset": {"num_classes": 200}}, "dataset.num_classes"),
    ("similarity-method-unknown", {"similarity": {"method": "tsne"}}, "similarity.method"),
    ("matrix-file-missing", {"similarity": {"matrix_file": "/nonexistent/kl.npy"}}, "similarity.matrix_file"),
    ("seed-negative", {"seed": -3}, "seed"),
    ("seed-wrong-type", {"seed": "zero"}, "seed"),
    ("device-unknown", {"device": "tpu"}, "device"),
    ("unknown-top-level-key", {"epochs": 5}, "unknown key epochs"),
]


def _run(case, tmp_path):
    name, override, _ = case
    work = tmp_path / name
    work.mkdir()
    cfg = work / "bad.yaml"
    cfg.write_text(yaml.safe_dump(override))
    return run_snakemake(work, "-n", "--configfile", str(cfg), timeout=120, check=False), work


def test_every_bad_config_is_rejected_before_any_job(tmp_path):
    assert len(CORPUS) >= 25
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: _run(c, tmp_path), CORPUS))
    failures = []
    for (name, _, expect), (proc, work) in zip(CORPUS, results):
        err = proc.stderr.strip()
        lines = [l for l in err.splitlines() if l.strip()]
        ok = (
            proc.returncode != 0
            and "Traceback" not in err
            and len(lines) == 1
            and lines[0].startswith("config error:")
            and expect in lines[0]
            and not (work / "results").exists()
        )
        if not ok:
            failures.append(f"{name}: rc={proc.returncode} stderr={err[-500:]!r}")
    SUMMARY["bad configs rejected with a one-line message"] = f"{len(CORPUS) - len(failures)}/{len(CORPUS)}"
    assert not failures, "\n".join(failures)
