from laq.data.store import load_split
from laq.io import provenance, read_json, write_json
from laq.stages import evaluate_models
from laq.workflow import job, resolve_device, trusted_hub

with job(snakemake) as log:
    inp, p = snakemake.input, snakemake.params
    results = evaluate_models({"finetuned": inp.models}, [read_json(s) for s in inp.subsets], load_split(inp.test),
                              quantized=False, batch_size=p.batch_size, device=resolve_device(p.device), trusted_hub=trusted_hub(snakemake))
    write_json(snakemake.output[0], {"subsets": results, "provenance": provenance(dict(p.items()), {"test": inp.test})})
