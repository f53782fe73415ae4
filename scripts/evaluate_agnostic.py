from laq.data.store import load_split
from laq.evaluate import predict_logits
from laq.stages import load_quantized_checkpoint
from laq.tables import save_logits
from laq.workflow import job, preprocess_for, resolve_device, trusted_hub

with job(snakemake) as log:
    model, meta = load_quantized_checkpoint(snakemake.input.model, trusted_hub(snakemake))
    test = load_split(snakemake.input.test)
    logits = predict_logits(model, test.images, preprocess_for(meta), batch_size=snakemake.params.batch_size, device=resolve_device(snakemake.params.device))
    save_logits(snakemake.output[0], logits, test.labels)
