from laq.data.store import load_split
from laq.evaluate import predict_logits
from laq.io import provenance, write_json
from laq.models.checkpoint import load_checkpoint
from laq.stages import base_metrics
from laq.tables import save_logits
from laq.workflow import job, preprocess_for, resolve_device, trusted_hub

with job(snakemake) as log:
    inp, out = snakemake.input, snakemake.output
    model, meta = load_checkpoint(inp.model, trusted_hub=trusted_hub(snakemake))
    test = load_split(inp.test)
    logits = predict_logits(model, test.images, preprocess_for(meta), batch_size=snakemake.params.batch_size, device=resolve_device(snakemake.params.device),
                            precision=snakemake.params.precision)
    metrics = base_metrics(logits, test.labels, meta["classes"])
    log.info("base model: top-1 %.2f%%, top-5 %.2f%% on %d test images", metrics["top1"], metrics["top5"], len(test))
    save_logits(out.logits, logits, test.labels)
    write_json(out.metrics, {**metrics, "model": meta["arch"], "provenance": provenance(dict(snakemake.params.items()), {"model": inp.model, "test": inp.test})})
