from laq.data.store import load_split
from laq.io import provenance, read_json, write_json
from laq.stages import evaluate_checkpoints
from laq.workflow import job, resolve_device, trusted_hub

with job(snakemake) as log:
    inp, p = snakemake.input, snakemake.params
    manifests = [read_json(s) for s in inp.subsets]
    checkpoints = {m["id"]: {"finetuned": [path]} for m, path in zip(manifests, inp.models)}
    results, _ = evaluate_checkpoints(checkpoints, manifests, load_split(inp.test), quantized=False,
                                      batch_size=p.batch_size, device=resolve_device(p.device), precision=p.precision, trusted_hub=trusted_hub(snakemake))
    write_json(snakemake.output[0], {"subsets": results, "provenance": provenance({"batch_size": p.batch_size}, {"test": inp.test})})
