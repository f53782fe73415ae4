from laq.data.store import load_split
from laq.io import provenance, read_json
from laq.models.checkpoint import save_checkpoint
from laq.stages import make_base_model
from laq.workflow import job, resolve_device

with job(snakemake) as log:
    p, inp = snakemake.params, snakemake.input
    model, meta = make_base_model(
        p.model, load_split(inp.train), read_json(inp.classes)["names"], seed=p.seed, device=resolve_device(p.device), threads=p.threads,
        precision=p.precision,
    )
    meta["provenance"] = provenance({"model": p.model, "seed": p.seed}, {"train": inp.train})
    save_checkpoint(snakemake.output.model, model, meta)
