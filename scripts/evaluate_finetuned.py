from laq.data.store import load_split
from laq.io import provenance, read_json, write_json
from laq.models.checkpoint import load_checkpoint
from laq.stages import evaluate_on_subset
from laq.workflow import job, resolve_device

with job(snakemake) as log:
    inp = snakemake.input
    model, meta = load_checkpoint(inp.model)
    manifest = read_json(inp.subset)
    metrics = evaluate_on_subset(model, meta, load_split(inp.test), manifest["classes"],
                                 batch_size=snakemake.params.batch_size, device=resolve_device(snakemake.params.device))
    log.info("%s fine-tuned: %s", manifest["id"], metrics)
    write_json(snakemake.output[0], {"subset": manifest["id"], "metrics": metrics, "provenance": provenance(dict(snakemake.params.items()), {"model": inp.model})})
