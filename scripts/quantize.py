from laq.data.store import load_split
from laq.design import quantized_runs
from laq.io import provenance, read_json, sha256_file
from laq.models.checkpoint import load_checkpoint
from laq.stages import quantize_subset
from laq.workflow import job, resolve_device, trusted_hub

with job(snakemake) as log:
    inp, p = snakemake.input, snakemake.params
    manifest, runs = read_json(inp.subset), quantized_runs(p.draws, p.conditions)
    cfg = {"spec": p.spec, "seed": p.seed, "calibration_images": p.calibration_images, "draws": p.draws,
           "calibration_mode": p.calibration_mode, "conditions": p.conditions}
    common = provenance(cfg, {"train": inp.train, "subset": inp.subset})
    prov = {m: {**common, "inputs": {**common["inputs"], "model": sha256_file(inp[m])}} for m in ("base", "finetuned")}
    log.info("%s, spec %s: %d quantized models, %d calibration images per draw%s", manifest["id"], p.spec["name"], len(runs),
             p.calibration_images, " (density-matched: as many per class, from every class)" if "density" in p.conditions else "")
    hub = trusted_hub(snakemake)
    quantize_subset(load_checkpoint(inp.base, trusted_hub=hub), load_checkpoint(inp.finetuned, trusted_hub=hub), load_split(inp.train), manifest, p.spec,
                    dict(zip(runs, snakemake.output.models)), num_classes=len(read_json(inp.classes)["names"]),
                    n_images=p.calibration_images, seed=p.seed, batch_size=p.batch_size, device=resolve_device(p.device),
                    provenance_of=prov, calibration_mode=p.calibration_mode, sources={"base": inp.base, "finetuned": inp.finetuned})
