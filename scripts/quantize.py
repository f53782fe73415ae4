from laq.data.store import load_split
from laq.io import provenance, read_json, write_json
from laq.models.checkpoint import load_checkpoint
from laq.quant import save_quantized, write_layer_table
from laq.stages import quantize_checkpoint
from laq.workflow import calibration_images, job, resolve_device, trusted_hub

with job(snakemake) as log:
    inp, out, p = snakemake.input, snakemake.output, snakemake.params
    model, meta = load_checkpoint(inp.model, trusted_hub=trusted_hub(snakemake))
    manifest = read_json(inp.subset) if "subset" in inp.keys() else None
    key = manifest["id"] if manifest else "all"
    calib = calibration_images(load_split(inp.train), manifest and manifest["classes"], p.calibration_images, p.seed, key)
    log.info("quantizing %s with spec %s on %d calibration images (%s)", inp.model, p.spec, len(calib), key)
    result = quantize_checkpoint(model, meta, calib, p.spec, batch_size=p.batch_size, device=resolve_device(p.device), seed=p.seed)
    write_layer_table(out.layers, result)
    save_quantized(out.model, result, {"spec": p.spec["name"]})
    meta.update(
        quantization={"spec": p.spec, "calibration": key, "n_calibration": len(calib), **result.size_report()},
        provenance=provenance({"spec": p.spec, "seed": p.seed}, {"model": inp.model, "train": inp.train}),
    )
    write_json(out.meta, meta)
