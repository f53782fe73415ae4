from laq.data.store import load_split
from laq.evaluate import weight_sparsity
from laq.io import provenance, read_json, write_json
from laq.stages import evaluate_on_subset, load_quantized_checkpoint
from laq.workflow import job, resolve_device

with job(snakemake) as log:
    inp, p = snakemake.input, snakemake.params
    manifest, test = read_json(inp.subset), load_split(inp.test)
    out = {"subset": manifest["id"], "provenance": provenance(dict(p.items()), {"aware": inp.aware, "finetuned": inp.finetuned})}
    for variant, path in (("quant_aware", inp.aware), ("finetuned_quant", inp.finetuned)):
        model, meta = load_quantized_checkpoint(path)
        out[variant] = evaluate_on_subset(model, meta, test, manifest["classes"], batch_size=p.batch_size, device=resolve_device(p.device))
        if variant == "quant_aware":
            q = meta["quantization"]
            out.update(sparsity=weight_sparsity(model), size_bytes=q["size_bytes"], compression=q["compression"],
                       method=q["spec"]["method"], bits=str(q["spec"]["bits"]))
        log.info("%s %s: %s", manifest["id"], variant, out[variant])
    write_json(snakemake.output[0], out)
