from laq.data.store import load_split
from laq.io import provenance, read_json
from laq.models.checkpoint import load_checkpoint, save_checkpoint
from laq.stages import finetune, training_record
from laq.seeding import derive_seed
from laq.workflow import job, resolve_device, trusted_hub

with job(snakemake) as log:
    inp, p = snakemake.input, snakemake.params
    model, meta = load_checkpoint(inp.model, trusted_hub=trusted_hub(snakemake))
    manifest = read_json(inp.subset)
    device = resolve_device(p.device)
    history = finetune(model, meta, load_split(inp.train), manifest["classes"], p.finetune,
                       seed=derive_seed(p.seed, "finetune", manifest["id"]), device=device, threads=p.threads, precision=p.precision)
    meta.update(history=history, finetuned_on=manifest["id"], compute=training_record(device, p.precision, p.threads),
                provenance=provenance({"finetune": p.finetune, "seed": p.seed}, {"base": inp.model, "subset": inp.subset}))
    save_checkpoint(snakemake.output.model, model.cpu(), meta)
